package ingest

import (
	"bytes"
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/store"
)

// Doc is one framed and parsed document of a body, handed to decoders of
// formats that are session documents under another vocabulary (AlphaSOC
// events): they normalize the value and turn it into a row with Row, so
// every format is validated by the same rules.
type Doc struct {
	Index  int    // 0-based position in the body
	Offset int    // byte offset in the (decompressed) body
	Raw    []byte // the document's text as sent, a slice of the body
	// Value is the parsed document; it is valid only during the callback
	// (the parser reuses its memory) and may be modified in place.
	Value *fastjson.Value
}

// DecodeDocs frames body exactly as Decode does (NDJSON, a JSON array or
// objects one after another; resynchronising on the next line after
// malformed JSON when the body is newline-delimited) and calls fn with each
// document that parses. fn returns a *DocError to reject the document under
// its reason, or an error to stop decoding (a failed write); otherwise the
// document counts as accepted.
func (d *SessionDecoder) DecodeDocs(body []byte, fn func(doc Doc) (*DocError, error)) (Result, error) {
	res := Result{Rejected: map[string]int{}}
	d.futureLimit = d.now().Add(d.limits.FutureSkew).UnixMilli()
	sc := newScanner(body)
	for index := 0; ; index++ {
		start, raw, err := sc.next()
		if err == errEnd {
			break
		}
		res.Received++
		if err != nil {
			e := &DocError{Index: index, Offset: start, Reason: ReasonMalformed, Detail: err.Error()}
			res.reject(e)
			if !sc.resync(start) {
				res.Stopped = e
				break
			}
			continue
		}
		if len(raw) > d.limits.MaxDocBytes {
			res.reject(&DocError{Index: index, Offset: start, Reason: ReasonTooLarge,
				Detail: fmt.Sprintf("document of %d bytes exceeds the limit of %d", len(raw), d.limits.MaxDocBytes)})
			continue
		}
		v, err := sc.parse(&d.parser, start, raw)
		if err != nil {
			res.reject(&DocError{Index: index, Offset: start, Reason: ReasonMalformed, Detail: "malformed JSON: " + err.Error()})
			continue
		}
		// parse may have re-framed a line that was not one document (a
		// pretty-printed object, two objects on a line): take what it read.
		raw = bytes.TrimRight(body[start:sc.pos], " \t\r\n")
		derr, err := fn(Doc{Index: index, Offset: start, Raw: raw, Value: v})
		if err != nil {
			return res, err
		}
		if derr != nil {
			derr.Index, derr.Offset = index, start
			res.reject(derr)
			continue
		}
		res.Accepted++
	}
	return res, nil
}

// Row validates one parsed session document into a row, as Decode does for
// each document of a body; it is meant for DecodeDocs callbacks. Unknown
// fields it meets are recorded for DiscoveredFields.
func (d *SessionDecoder) Row(v *fastjson.Value) (store.Row, *DocError) {
	return d.row(v)
}

// Reject makes a DocError for a reason, for decoders that add rules of
// their own.
func Reject(reason, format string, args ...any) *DocError {
	return reject(reason, format, args...)
}
