// Package ingest decodes what sources send into normalized session rows:
// Seshat session documents (JSON, as Arkime and GreyNoise write them) here;
// telemetry formats (AlphaSOC events, Zeek, Suricata EVE) beside it. Every
// decoder validates at the edge and reports each rejected document under a
// reason, keeping the rest.
package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// Limits bound what one document may hold.
type Limits struct {
	MaxStringBytes int           `yaml:"max_string_bytes"` // longest string value
	MaxFields      int           `yaml:"max_fields"`       // most fields in one document
	MaxDocBytes    int           `yaml:"max_doc_bytes"`    // largest document
	FutureSkew     time.Duration `yaml:"future_skew"`      // how far past now a timestamp may be
}

// DefaultLimits are the limits when nothing is configured.
func DefaultLimits() Limits {
	return Limits{MaxStringBytes: 8192, MaxFields: 1000, MaxDocBytes: 1 << 20, FutureSkew: time.Hour}
}

// Rejection reasons, the keys of an upload answer's "rejected" object.
const (
	ReasonMalformed   = "malformed JSON"
	ReasonNotObject   = "not a JSON object"
	ReasonNoTime      = "missing firstPacket"
	ReasonBadTime     = "invalid timestamp"
	ReasonFuture      = "timestamp too far in the future"
	ReasonBadIP       = "invalid IP address"
	ReasonRange       = "value out of range"
	ReasonType        = "wrong type"
	ReasonLong        = "string too long"
	ReasonFieldName   = "invalid field name"
	ReasonTooMany     = "too many fields"
	ReasonTooLarge    = "document too large"
	ReasonBadID       = "invalid id"
	ReasonTimeReverse = "lastPacket before firstPacket"
)

// DocError is why one document was rejected.
type DocError struct {
	Index  int    `json:"index"`  // 0-based position of the document in the body
	Offset int    `json:"offset"` // byte offset of the document in the (decompressed) body
	Reason string `json:"reason"`
	Detail string `json:"message"`
}

func (e *DocError) Error() string { return e.Detail }

// Result counts what a body held.
type Result struct {
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	// Errors details the first rejected documents (at most MaxErrors).
	Errors []DocError `json:"errors,omitempty"`
	// Stopped is set when decoding could not continue past a point (JSON
	// that cannot be re-synchronised); nothing after Offset was read.
	Stopped *DocError `json:"stopped,omitempty"`
}

// MaxDiscoveredPerBody bounds the unknown field names one body can add to
// field discovery, so a body of random keys cannot grow memory without
// bound; values of further unknown fields are still kept in the documents.
const MaxDiscoveredPerBody = 1000

// MaxErrors bounds the detailed errors one answer carries.
const MaxErrors = 10

func (r *Result) reject(e *DocError) {
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	r.Rejected[e.Reason]++
	if len(r.Errors) < MaxErrors {
		r.Errors = append(r.Errors, *e)
	}
}

// SessionDecoder turns session documents into rows for one tenant. It is
// not safe for concurrent use; make one per request.
type SessionDecoder struct {
	reg    *model.Registry
	limits Limits
	tenant string
	now    func() time.Time
	parser fastjson.Parser
	ncols  int
	// Indexes in Row.Cols of the columns that document-level rules set.
	firstIdx, lastIdx, transportIdx, typeIdx, protocolIdx int
	name                                                  []byte   // reused buffer for dotted names of nested fields
	st                                                    docState // reused work area for the document being decoded
	// Slabs that rows' Cols and Attrs are carved from: one allocation per
	// few hundred rows instead of several per row (decoding is the hottest
	// path of an upload).
	colSlab  []any
	attrSlab []byte
	// futureLimit is the latest acceptable time (epoch ms), fixed per body.
	futureLimit int64
	// Discovered collects unknown field names and their inferred types.
	Discovered map[string]model.Type
}

// NewSessionDecoder makes a decoder for tenant's documents.
func NewSessionDecoder(reg *model.Registry, limits Limits, tenant string) *SessionDecoder {
	col := func(name string) int {
		f, ok := reg.Lookup(name)
		if !ok || f.ColumnIndex() < 0 {
			panic("ingest: the registry has no column for " + name) // a programming error
		}
		return f.ColumnIndex()
	}
	return &SessionDecoder{reg: reg, limits: limits, tenant: tenant, now: time.Now, ncols: len(reg.Columns()),
		firstIdx: col("firstPacket"), lastIdx: col("lastPacket"), transportIdx: col("network.transport"), typeIdx: col("session.type"), protocolIdx: col("protocol"),
		Discovered: map[string]model.Type{}}
}

// DiscoveredFields lists the unknown fields seen so far.
func (d *SessionDecoder) DiscoveredFields() []model.Field {
	out := make([]model.Field, 0, len(d.Discovered))
	for n, t := range d.Discovered {
		out = append(out, model.Field{Name: n, Type: t, Discovered: true})
	}
	return out
}

// Decode reads every document of body (NDJSON, a JSON array, or objects one
// after another) and calls emit with each valid row. Invalid documents are
// counted in the result; a document that is not even JSON ends decoding
// unless the body is newline-delimited, in which case decoding resumes on
// the next line.
func (d *SessionDecoder) Decode(body []byte, emit func(store.Row) error) (Result, error) {
	return d.DecodeDocs(body, func(doc Doc) (*DocError, error) {
		row, derr := d.row(doc.Value)
		if derr != nil {
			return derr, nil
		}
		return nil, emit(row)
	})
}

// docState is the work area for one document.
type docState struct {
	row     store.Row
	attrs   []byte
	nfields int
	hasTime bool
	ipProto int64
	unknown []model.Field // fields the registry does not know, recorded once the document is accepted
}

func reject(reason, format string, args ...any) *DocError {
	return &DocError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func (d *SessionDecoder) row(v *fastjson.Value) (store.Row, *DocError) {
	obj, err := v.Object()
	if err != nil {
		return store.Row{}, reject(ReasonNotObject, "expected a JSON object, found %s", v.Type())
	}
	if len(d.colSlab) < d.ncols {
		d.colSlab = make([]any, 256*d.ncols)
	}
	st := &d.st
	*st = docState{row: store.Row{Tenant: d.tenant, Cols: d.colSlab[:d.ncols:d.ncols]}, ipProto: -1,
		attrs: append(st.attrs[:0], '{'), unknown: st.unknown[:0]}
	d.colSlab = d.colSlab[d.ncols:]
	var derr *DocError
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if derr == nil {
			d.name = append(d.name[:0], k...)
			derr = d.field(st, val, 0)
		}
	})
	if derr != nil {
		return store.Row{}, derr
	}
	if derr := d.finish(st); derr != nil {
		return store.Row{}, derr
	}
	for _, f := range st.unknown {
		if _, seen := d.Discovered[f.Name]; !seen && len(d.Discovered) < MaxDiscoveredPerBody {
			d.Discovered[f.Name] = f.Type
		}
	}
	return st.row, nil
}

const maxDepth = 16

// field handles one key of the document, whose full name is in d.name;
// nested objects flatten to dotted names ({"source":{"ip":..}} is
// "source.ip"). The name is built in a reused buffer and looked up without
// allocating: this runs for every field of every uploaded document.
func (d *SessionDecoder) field(st *docState, v *fastjson.Value, depth int) *DocError {
	if v.Type() == fastjson.TypeObject {
		if depth >= maxDepth {
			return reject(ReasonTooMany, "%s: objects nested deeper than %d", d.name, maxDepth)
		}
		o, _ := v.Object()
		var derr *DocError
		prefix := len(d.name)
		o.Visit(func(k []byte, sub *fastjson.Value) {
			if derr == nil {
				d.name = append(append(d.name[:prefix], '.'), k...)
				derr = d.field(st, sub, depth+1)
			}
		})
		d.name = d.name[:prefix]
		return derr
	}
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	st.nfields++
	if st.nfields > d.limits.MaxFields {
		return reject(ReasonTooMany, "more than %d fields", d.limits.MaxFields)
	}
	f, known := d.reg.LookupBytes(d.name)
	if !known {
		return d.unknown(st, string(d.name), v)
	}
	val, derr := d.convert(f, v)
	if derr != nil {
		return derr
	}
	switch f.Name {
	case "id":
		id := val.(string)
		if !validID(id) {
			return reject(ReasonBadID, "id %q: use 1-64 letters, digits, '-', '_', '.' or ':'", truncate(id))
		}
		st.row.ID = id
		return nil
	case "firstPacket":
		st.hasTime = true
	case "ipProtocol":
		st.ipProto = val.(int64)
	}
	if i := f.ColumnIndex(); i >= 0 {
		st.row.Cols[i] = val
		return nil
	}
	st.attrs = appendAttr(st.attrs, f.Name, val)
	return nil
}

// convert checks a value against its field's type and returns it in the
// form the store keeps: string, int64 (integers, times in ms), float64,
// bool, netip.Addr, []string, []int64.
func (d *SessionDecoder) convert(f *model.Field, v *fastjson.Value) (any, *DocError) {
	if f.Type.IsList() {
		var items []*fastjson.Value
		if v.Type() == fastjson.TypeArray {
			items, _ = v.Array()
		} else {
			items = []*fastjson.Value{v} // a single value is a list of one
		}
		switch f.Type.Elem() {
		case model.TypeInt:
			out := make([]int64, 0, len(items))
			for _, it := range items {
				x, derr := d.scalar(f, model.TypeInt, it)
				if derr != nil {
					return nil, derr
				}
				out = append(out, x.(int64))
			}
			return out, nil
		default:
			out := make([]string, 0, len(items))
			for _, it := range items {
				x, derr := d.scalar(f, f.Type.Elem(), it)
				if derr != nil {
					return nil, derr
				}
				if a, ok := x.(netip.Addr); ok {
					out = append(out, a.String())
				} else {
					out = append(out, x.(string))
				}
			}
			return out, nil
		}
	}
	return d.scalar(f, f.Type, v)
}

func (d *SessionDecoder) scalar(f *model.Field, t model.Type, v *fastjson.Value) (any, *DocError) {
	switch t {
	case model.TypeString:
		var s string
		switch v.Type() {
		case fastjson.TypeString:
			b, _ := v.StringBytes()
			s = string(b)
		case fastjson.TypeNumber:
			s = string(v.MarshalTo(nil)) // ids and codes sent as numbers stay readable
		default:
			return nil, reject(ReasonType, "%s: expected a string, found %s", f.Name, v.Type())
		}
		if len(s) > d.limits.MaxStringBytes {
			return nil, reject(ReasonLong, "%s: string of %d bytes exceeds the limit of %d", f.Name, len(s), d.limits.MaxStringBytes)
		}
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		if f.Name == "network.transport" {
			s = strings.ToLower(s)
		}
		return s, nil
	case model.TypeInt:
		n, derr := intValue(f, v)
		if derr != nil {
			return nil, derr
		}
		if f.Bounded() && (n < f.Min || n > f.Max) {
			return nil, reject(ReasonRange, "%s: %d is out of range %d-%d", f.Name, n, f.Min, f.Max)
		}
		return n, nil
	case model.TypeFloat:
		switch v.Type() {
		case fastjson.TypeNumber:
			x, err := v.Float64()
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, reject(ReasonType, "%s: expected a number", f.Name)
			}
			return x, nil
		case fastjson.TypeString:
			b, _ := v.StringBytes()
			x, err := strconv.ParseFloat(string(b), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, reject(ReasonType, "%s: expected a number, found %q", f.Name, truncate(string(b)))
			}
			return x, nil
		}
		return nil, reject(ReasonType, "%s: expected a number, found %s", f.Name, v.Type())
	case model.TypeBool:
		switch v.Type() {
		case fastjson.TypeTrue:
			return true, nil
		case fastjson.TypeFalse:
			return false, nil
		}
		return nil, reject(ReasonType, "%s: expected true or false, found %s", f.Name, v.Type())
	case model.TypeIP:
		if v.Type() != fastjson.TypeString {
			return nil, reject(ReasonType, "%s: expected an IP address string, found %s", f.Name, v.Type())
		}
		b, _ := v.StringBytes()
		a, err := netip.ParseAddr(string(b))
		if err != nil {
			return nil, reject(ReasonBadIP, "%s: %q is not an IP address", f.Name, truncate(string(b)))
		}
		return a.Unmap().WithZone(""), nil
	case model.TypeTime:
		ms, derr := d.timeValue(f, v)
		if derr != nil {
			return nil, derr
		}
		return ms, nil
	}
	return nil, reject(ReasonType, "%s: unsupported type %s", f.Name, t)
}

func intValue(f *model.Field, v *fastjson.Value) (int64, *DocError) {
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			// A float with no fraction (1.0) is an integer; anything else is not.
			x, ferr := v.Float64()
			if ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return 0, reject(ReasonType, "%s: expected an integer, found %s", f.Name, v.MarshalTo(nil))
			}
			n = int64(x)
		}
		return n, nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, reject(ReasonType, "%s: expected an integer, found %q", f.Name, truncate(string(b)))
		}
		return n, nil
	}
	return 0, reject(ReasonType, "%s: expected an integer, found %s", f.Name, v.Type())
}

// timeValue reads epoch seconds or milliseconds (number or numeric string)
// or RFC 3339, and refuses times past now plus the allowed skew.
func (d *SessionDecoder) timeValue(f *model.Field, v *fastjson.Value) (int64, *DocError) {
	var text string
	switch v.Type() {
	case fastjson.TypeNumber:
		text = string(v.MarshalTo(nil))
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		text = string(b)
	default:
		return 0, reject(ReasonType, "%s: expected a time (RFC 3339 or epoch seconds/milliseconds), found %s", f.Name, v.Type())
	}
	ms, err := query.ParseTime(text)
	if err != nil {
		return 0, reject(ReasonBadTime, "%s: %q: %v", f.Name, truncate(text), err)
	}
	if ms > d.futureLimit {
		return 0, reject(ReasonFuture, "%s: %s is more than %s in the future", f.Name, time.UnixMilli(ms).UTC().Format(time.RFC3339), d.limits.FutureSkew)
	}
	return ms, nil
}

// unknown keeps a field the registry does not know, inferring its type.
func (d *SessionDecoder) unknown(st *docState, name string, v *fastjson.Value) *DocError {
	if !query.SafeFieldName(name) {
		return reject(ReasonFieldName, "field name %q: use letters, digits, '_', '.', '@', ':' or '-' (at most 128)", truncate(name))
	}
	var t model.Type
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if len(b) > d.limits.MaxStringBytes {
			return reject(ReasonLong, "%s: string of %d bytes exceeds the limit of %d", name, len(b), d.limits.MaxStringBytes)
		}
		t = model.TypeString
	case fastjson.TypeNumber:
		t = model.TypeFloat
		if _, err := v.Int64(); err == nil {
			t = model.TypeInt
		}
	case fastjson.TypeTrue, fastjson.TypeFalse:
		t = model.TypeBool
	case fastjson.TypeArray:
		items, _ := v.Array()
		t = model.TypeStrings
		if len(items) > 0 && items[0].Type() == fastjson.TypeNumber {
			t = model.TypeInts
		}
		for _, it := range items {
			if it.Type() == fastjson.TypeString {
				b, _ := it.StringBytes()
				if len(b) > d.limits.MaxStringBytes {
					return reject(ReasonLong, "%s: string of %d bytes exceeds the limit of %d", name, len(b), d.limits.MaxStringBytes)
				}
			}
		}
	}
	st.unknown = append(st.unknown, model.Field{Name: name, Type: t})
	st.attrs = appendKey(st.attrs, name)
	var err error
	if st.attrs, err = appendJSON(st.attrs, v, 0); err != nil {
		return reject(ReasonType, "%s: %v", name, err)
	}
	return nil
}

// appendJSON writes a value as strict JSON. fastjson accepts number text
// that JSON does not (nan, 1.2.3, 01, +1) and quotes some strings the Go
// way, so values are re-encoded rather than copied: one bad value must not
// make a stored document unreadable to the store's JSON functions.
func appendJSON(b []byte, v *fastjson.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	switch v.Type() {
	case fastjson.TypeString:
		sb, _ := v.StringBytes()
		return appendString(b, strings.ToValidUTF8(string(sb), "\uFFFD")), nil
	case fastjson.TypeNumber:
		raw := string(v.MarshalTo(nil))
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil && (raw == "0" || (raw[0] != '0' && raw[0] != '+' && !strings.HasPrefix(raw, "-0"))) {
			return strconv.AppendInt(b, n, 10), nil
		}
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("%q is not a valid JSON number", truncate(raw))
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case fastjson.TypeTrue:
		return append(b, "true"...), nil
	case fastjson.TypeFalse:
		return append(b, "false"...), nil
	case fastjson.TypeNull:
		return append(b, "null"...), nil
	case fastjson.TypeArray:
		items, _ := v.Array()
		b = append(b, '[')
		for i, it := range items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, it, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case fastjson.TypeObject:
		o, _ := v.Object()
		b = append(b, '{')
		first := true
		var err error
		o.Visit(func(k []byte, it *fastjson.Value) {
			if err != nil {
				return
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, strings.ToValidUTF8(string(k), "\uFFFD"))
			b = append(b, ':')
			b, err = appendJSON(b, it, depth+1)
		})
		if err != nil {
			return b, err
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("unsupported JSON value")
}

// finish applies document-level rules once every field is read.
func (d *SessionDecoder) finish(st *docState) *DocError {
	if !st.hasTime {
		return reject(ReasonNoTime, "firstPacket is required (RFC 3339 or epoch seconds/milliseconds)")
	}
	first := st.row.Cols[d.firstIdx].(int64)
	li := d.lastIdx
	if st.row.Cols[li] == nil {
		st.row.Cols[li] = first
	} else if last := st.row.Cols[li].(int64); last < first {
		return reject(ReasonTimeReverse, "lastPacket %d is before firstPacket %d", last, first)
	}
	ti := d.transportIdx
	if st.row.Cols[ti] == nil && st.ipProto >= 0 {
		st.row.Cols[ti] = TransportName(st.ipProto)
	}
	if st.row.Cols[ti] == nil {
		// Arkime lists the transport among the detected protocols.
		if protos, ok := st.row.Cols[d.protocolIdx].([]string); ok {
			for _, p := range protos {
				if transports[p] {
					st.row.Cols[ti] = p
					break
				}
			}
		}
	}
	si := d.typeIdx
	if st.row.Cols[si] == nil {
		st.row.Cols[si] = "network"
	}
	if st.row.ID == "" {
		st.row.ID = NewID(first)
	}
	if len(st.attrs) > 1 {
		st.attrs = append(st.attrs, '}')
		n := len(st.attrs)
		if len(d.attrSlab) < n {
			d.attrSlab = make([]byte, max(64<<10, n))
		}
		st.row.Attrs = d.attrSlab[:n:n]
		copy(st.row.Attrs, st.attrs)
		d.attrSlab = d.attrSlab[n:]
	}
	return nil
}

// transports are the protocol-list entries that name a transport.
var transports = map[string]bool{"tcp": true, "udp": true, "icmp": true, "icmpv6": true, "sctp": true}

// TransportName names an IP protocol number the way network.transport does.
func TransportName(p int64) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	}
	return strconv.FormatInt(p, 10)
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// NewID makes a session id as Arkime does: the start day, then random bits
// (96 of them, so collisions are not a concern at any realistic volume).
func NewID(firstMs int64) string {
	var b [12]byte
	rand.Read(b[:])
	return time.UnixMilli(firstMs).UTC().Format("060102") + "-" + base64.RawURLEncoding.EncodeToString(b[:])
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func appendKey(b []byte, k string) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...) // safe names need no escaping
	return append(b, '"', ':')
}

// appendAttr writes a converted value into the attribute document.
func appendAttr(b []byte, k string, v any) []byte {
	b = appendKey(b, k)
	switch x := v.(type) {
	case string:
		return appendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case netip.Addr:
		return appendString(b, x.String())
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case []int64:
		b = append(b, '[')
		for i, n := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, n, 10)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string (s is valid UTF-8).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// scanner finds the extent of each top-level JSON value in a body, so each
// document is parsed on its own and one bad document does not cost the rest.
type scanner struct {
	b      []byte
	pos    int
	inList bool // inside a top-level [ ... ]
	lined  bool // the body looks newline-delimited: resync on the next line
	byLine bool // frame documents by line first (NDJSON fast path)
}

var errEnd = errors.New("end of input")

func newScanner(b []byte) *scanner {
	s := &scanner{b: b}
	s.skipSpace()
	if s.pos < len(b) && b[s.pos] == '[' {
		s.inList = true
		s.pos++
	}
	s.lined = bytes.IndexByte(b, '\n') >= 0
	s.byLine = s.lined && !s.inList
	return s
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// next returns the next document's offset and bytes.
func (s *scanner) next() (int, []byte, error) {
	s.skipSpace()
	if s.inList {
		if s.pos < len(s.b) && s.b[s.pos] == ',' {
			s.pos++
			s.skipSpace()
		}
		if s.pos < len(s.b) && s.b[s.pos] == ']' {
			s.pos++
			s.inList = false
			s.skipSpace()
			if s.pos < len(s.b) {
				return s.pos, nil, fmt.Errorf("unexpected data after the closing ] at offset %d", s.pos)
			}
			return s.pos, nil, errEnd
		}
	}
	if s.pos >= len(s.b) {
		if s.inList {
			return s.pos, nil, fmt.Errorf("unterminated JSON array: missing ]")
		}
		return s.pos, nil, errEnd
	}
	if !s.inList && s.b[s.pos] == ',' {
		// Objects separated by commas without brackets: take the comma as
		// a separator, as a JSON array's would be.
		s.pos++
		return s.next()
	}
	start := s.pos
	c := s.b[s.pos]
	if s.byLine {
		end := bytes.IndexByte(s.b[start:], '\n')
		if end < 0 {
			end = len(s.b)
		} else {
			end += start
		}
		s.pos = end
		return start, bytes.TrimRight(s.b[start:end], " \t\r"), nil
	}
	if c != '{' && c != '[' {
		// A scalar: take it to the next delimiter so the parser reports it.
		end := start
		for end < len(s.b) && !bytes.ContainsRune([]byte(" \t\r\n,]"), rune(s.b[end])) {
			end++
		}
		if end == start {
			// A delimiter where a document should start: report it and move
			// past it, so decoding always advances.
			s.pos = start + 1
			return start, nil, fmt.Errorf("unexpected %q at offset %d where a document should start", c, start)
		}
		s.pos = end
		return start, s.b[start:end], nil
	}
	depth, inStr, esc := 0, false, false
	for i := start; i < len(s.b); i++ {
		ch := s.b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
			}
			continue
		}
		switch ch {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.pos = i + 1
				return start, s.b[start : i+1], nil
			}
			if depth < 0 {
				s.pos = i + 1
				return start, nil, fmt.Errorf("unbalanced %q at offset %d", ch, i)
			}
		}
	}
	s.pos = len(s.b)
	return start, nil, fmt.Errorf("unterminated JSON value starting at offset %d", start)
}

// parse parses one document. For newline-delimited bodies the scanner
// framed it as a whole line (found with memchr, far cheaper than matching
// braces); when that line is not one JSON value (pretty-printed or
// concatenated objects), it falls back to brace matching from the start.
func (s *scanner) parse(p *fastjson.Parser, start int, doc []byte) (*fastjson.Value, error) {
	v, err := p.ParseBytes(doc)
	if err == nil || !s.byLine {
		return v, err
	}
	lineEnd := s.pos
	if doc[0] != '{' && doc[0] != '[' {
		return nil, err // a line that is not even the start of a document
	}
	s.byLine = false
	s.pos = start
	_, doc, serr := s.next()
	s.byLine = true
	if serr != nil {
		// Not a multi-line document either: the line itself is the bad
		// document, and decoding goes on after it.
		s.pos = lineEnd
		return nil, err
	}
	return p.ParseBytes(doc)
}

// resync moves past a malformed document when the body is newline-delimited:
// decoding restarts on the line after the one where the bad document began
// (an unclosed brace must not swallow the lines after it). It reports false
// when decoding cannot safely continue.
func (s *scanner) resync(start int) bool {
	if !s.lined || s.inList {
		return false
	}
	nl := bytes.IndexByte(s.b[start:], '\n')
	if nl < 0 {
		s.pos = len(s.b)
		return false
	}
	s.pos = start + nl + 1
	return true
}
