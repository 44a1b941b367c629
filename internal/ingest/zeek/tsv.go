package zeek

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/store"
)

// tsvState is what the headers of a Zeek ASCII log said so far.
type tsvState struct {
	sep, setSep, empty, unset []byte
	path                      string
	fields, types             []string
	fieldsLine                int
	planned                   bool
	plan                      []colPlan
	log                       *logSpec // nil: a log this package does not import
	unsupported               string   // why log is nil
}

// colPlan is how one column of the current schema is decoded.
type colPlan struct {
	sp     *spec
	isList bool
	kind   kind
}

func (st *tsvState) reset() {
	*st = tsvState{sep: []byte{'\t'}, setSep: []byte{','}, empty: []byte("(empty)"), unset: []byte{'-'}}
}

// header reads one # line. It returns an error only for headers that make
// the rest of the log unreadable.
func (st *tsvState) header(line []byte, n int) *ingest.LineError {
	fail := func(format string, args ...any) *ingest.LineError {
		return &ingest.LineError{Line: n, Reason: ReasonUnreadable, Detail: fmt.Sprintf(format, args...)}
	}
	if rest, ok := bytes.CutPrefix(line, []byte("#separator")); ok {
		// The one header written before the separator is known: its value
		// follows a space, in escaped form (\x09).
		sep := unescapeBytes(bytes.TrimLeft(rest, " \t"))
		if len(sep) == 0 {
			return fail("#separator: cannot read a separator from %q", truncate(string(rest)))
		}
		st.sep = sep
		return nil
	}
	key, rest, found := bytes.Cut(line, st.sep)
	switch string(key) {
	case "#set_separator":
		if v := unescapeBytes(rest); len(v) > 0 {
			st.setSep = v
		} else {
			return fail("#set_separator: cannot read a separator from %q", truncate(string(rest)))
		}
	case "#empty_field":
		st.empty = unescapeBytes(rest)
	case "#unset_field":
		st.unset = unescapeBytes(rest)
	case "#path":
		st.path = string(rest)
		st.planned = false
	case "#fields":
		if !found || len(rest) == 0 {
			return fail("#fields names no columns")
		}
		names := strings.Split(string(rest), string(st.sep))
		seen := make(map[string]bool, len(names))
		for i, name := range names {
			if name == "" {
				return fail("#fields: column %d has no name", i+1)
			}
			if seen[name] {
				return fail("#fields: column %q is named twice", truncate(name))
			}
			seen[name] = true
		}
		st.fields, st.types, st.fieldsLine, st.planned = names, nil, n, false
	case "#types":
		if st.fields == nil {
			return fail("#types before any #fields header")
		}
		types := strings.Split(string(rest), string(st.sep))
		if !found || len(types) != len(st.fields) {
			if !found {
				types = nil
			}
			return fail("#types lists %d types for the %d columns of #fields (line %d)", len(types), len(st.fields), st.fieldsLine)
		}
		st.types, st.planned = types, false
	default:
		if !found && (bytes.HasPrefix(line, []byte("#fields")) || bytes.HasPrefix(line, []byte("#types"))) {
			name := key
			if i := bytes.IndexAny(key, " \t"); i >= 0 {
				name = key[:i]
			}
			return fail("%s: columns are not separated by the #separator %q", name, st.sep)
		}
		// #open, #close and comments say nothing about the records.
	}
	return nil
}

// makePlan resolves the current schema's columns.
func (d *Decoder) makePlan() {
	st := &d.tsv
	st.planned = true
	st.plan = st.plan[:0]
	st.log, st.unsupported = nil, ""
	if st.path != "" {
		st.log = d.specs[st.path]
		if st.log == nil {
			st.unsupported = fmt.Sprintf("Zeek log %q is not one this import reads (conn, dns, http, ssl, x509, dhcp, ssh)", truncate(st.path))
			return
		}
	} else {
		st.log = detectLog(d.specs, func(yield func(string)) {
			for _, f := range st.fields {
				yield(f)
			}
		})
		if st.log == nil {
			st.unsupported = "no #path header, and the columns are not those of a conn, dns, http, ssl, x509, dhcp or ssh log"
			return
		}
	}
	for i, name := range st.fields {
		p := colPlan{kind: kindString}
		if st.types != nil {
			p.isList, p.kind = zeekType(st.types[i])
		}
		if sp := st.log.cols[name]; sp != nil {
			p.sp = sp
		} else {
			p.sp = &spec{act: actUnknown, attr: "zeek." + st.log.name + "." + name}
		}
		st.plan = append(st.plan, p)
	}
}

// zeekType reads a #types entry: whether values are lists, and the kind of
// the values (or elements).
func zeekType(t string) (isList bool, k kind) {
	if i := strings.IndexByte(t, '['); i >= 0 && strings.HasSuffix(t, "]") {
		switch t[:i] {
		case "set", "vector", "table":
			isList, t = true, t[i+1:len(t)-1]
		}
	}
	switch t {
	case "count", "int", "port":
		return isList, kindInt
	case "double", "interval":
		return isList, kindFloat
	case "time":
		return isList, kindTime
	case "bool":
		return isList, kindBool
	}
	return isList, kindString
}

// tsvRecord decodes one data line under the current schema.
func (d *Decoder) tsvRecord(line []byte) (store.Row, *ingest.DocError) {
	st := &d.tsv
	if !st.planned {
		d.makePlan()
	}
	if st.log == nil {
		return store.Row{}, reject(ReasonUnsupported, "%s", st.unsupported)
	}
	d.cols = splitBytes(d.cols[:0], line, st.sep)
	if len(d.cols) != len(st.fields) {
		return store.Row{}, reject(ReasonColumns, "%d columns where #fields names %d", len(d.cols), len(st.fields))
	}
	d.begin(st.log)
	for i, raw := range d.cols {
		if bytes.Equal(raw, st.unset) || bytes.Equal(raw, st.empty) || len(raw) == 0 {
			continue // unset, or an empty set or string: nothing to keep
		}
		p := &st.plan[i]
		v := value{kind: p.kind}
		if p.isList {
			d.elems = d.elems[:0]
			d.setCols = splitBytes(d.setCols[:0], raw, st.setSep)
			for _, e := range d.setCols {
				d.elems = append(d.elems, unescape(e))
			}
			v.isList, v.list = true, d.elems
		} else {
			v.text = unescape(raw)
		}
		if derr := d.apply(p.sp, v); derr != nil {
			return store.Row{}, derr
		}
	}
	return d.finish()
}

// splitBytes appends the parts of b separated by sep to dst.
func splitBytes(dst [][]byte, b, sep []byte) [][]byte {
	if len(sep) == 1 {
		c := sep[0]
		for {
			i := bytes.IndexByte(b, c)
			if i < 0 {
				return append(dst, b)
			}
			dst = append(dst, b[:i])
			b = b[i+1:]
		}
	}
	for {
		i := bytes.Index(b, sep)
		if i < 0 {
			return append(dst, b)
		}
		dst = append(dst, b[:i])
		b = b[i+len(sep):]
	}
}

// unescape undoes Zeek's escaping of a value: \xHH is the byte HH and \\ a
// backslash (Zeek escapes separators, unprintable bytes and backslashes
// that way). A backslash before anything else is kept as it is: older Zeek
// versions wrote backslashes unescaped.
//
// A value with nothing to undo, nearly all of them, is returned as a view of
// the line, not a copy: it is valid while the record is decoded, and the
// row builder copies the strings it keeps.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return view(b)
	}
	return string(unescapeBytes(b))
}

// view is b as a string without copying; see unescape for when that is safe.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func unescapeBytes(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return append([]byte(nil), b...)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+3 < len(b) && (b[i+1] == 'x' || b[i+1] == 'X') {
			if h, ok := hexByte(b[i+2], b[i+3]); ok {
				out = append(out, h)
				i += 3
				continue
			}
		}
		if c == '\\' && i+1 < len(b) && b[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}

func hexByte(a, b byte) (byte, bool) {
	x, ok1 := hexDigit(a)
	y, ok2 := hexDigit(b)
	return x<<4 | y, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
