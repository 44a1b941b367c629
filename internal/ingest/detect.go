package ingest

import (
	"bytes"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/model"
)

// Format names an input format Seshat can import.
type Format string

// The formats Detect recognises.
const (
	FormatUnknown     Format = ""
	FormatZeekTSV     Format = "zeek-tsv"     // Zeek ASCII logs: #separator/#fields/#types headers, tab-separated values
	FormatZeekJSON    Format = "zeek-json"    // Zeek JSON logs: one object per line, id.orig_h style keys
	FormatEVE         Format = "eve"          // Suricata EVE JSON: one object per line with event_type
	FormatAlphaSOC    Format = "alphasoc"     // AlphaSOC v1 telemetry events: srcIP, query, destIP, ...
	FormatSessionJSON Format = "session-json" // Seshat session documents (Arkime/GreyNoise style)
)

// detectInflate bounds how much of a gzip'd head Detect inflates.
const detectInflate = 64 << 10

// Detect recognises the format of an input from its first bytes (a few
// kilobytes are plenty; a head cut in the middle of a line is fine). Gzip'd
// input is recognised through its content. It looks at the first record
// only: Zeek TSV starts with its # headers; JSON formats are told apart by
// the keys of their first object (event_type for EVE; _path, uid, id.orig_h
// for Zeek; firstPacket or other registry names for session documents;
// srcIP without firstPacket for AlphaSOC events).
func Detect(head []byte) Format {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return FormatUnknown
		}
		// A head cut mid-stream ends in an unexpected EOF: what was
		// inflated before it is what we need.
		head, _ = io.ReadAll(io.LimitReader(zr, detectInflate))
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 {
		return FormatUnknown
	}
	switch head[0] {
	case '#':
		line, _, _ := bytes.Cut(head, []byte{'\n'})
		for _, h := range []string{"#separator", "#set_separator", "#fields", "#path", "#types", "#empty_field", "#unset_field", "#open"} {
			if bytes.HasPrefix(line, []byte(h)) {
				return FormatZeekTSV
			}
		}
		return FormatUnknown
	case '[':
		head = bytes.TrimLeft(head[1:], " \t\r\n")
		if len(head) == 0 || head[0] != '{' {
			return FormatUnknown
		}
	case '{':
	default:
		return FormatUnknown
	}
	keys := topKeys(head)
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case len(keys) == 0:
		return FormatUnknown
	case has("event_type") && (has("timestamp") || has("src_ip") || has("flow_id")):
		return FormatEVE
	case has("_path") || has("uid") || has("uids") || has("id.orig_h") || has("id.resp_h") || has("_write_ts") ||
		has("certificate.serial") || has("certificate.subject"):
		return FormatZeekJSON
	case has("firstPacket") || has("starttime") || has("source") || has("source.ip") || has("_id"):
		return FormatSessionJSON
	case has("srcIP"):
		return FormatAlphaSOC
	}
	for k := range keys {
		if _, ok := model.Default.Lookup(k); ok {
			return FormatSessionJSON
		}
	}
	return FormatUnknown
}

// topKeys lists the keys of the JSON object b starts with, as far as b
// goes: it tolerates an object cut short, which a head often is.
func topKeys(b []byte) map[string]struct{} {
	keys := map[string]struct{}{}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return keys
			}
		case '"':
			j := i + 1
			var sb strings.Builder
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' && j+1 < len(b) {
					j++
				}
				sb.WriteByte(b[j])
				j++
			}
			if j >= len(b) {
				return keys
			}
			k := j + 1
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
				k++
			}
			if depth == 1 && k < len(b) && b[k] == ':' {
				keys[sb.String()] = struct{}{}
			}
			i = j
		}
	}
	return keys
}
