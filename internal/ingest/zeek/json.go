package zeek

import (
	"bytes"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/store"
)

// maxDepth bounds nested objects in a JSON record (Zeek writes them flat;
// some shippers nest id.orig_h as {"id":{"orig_h":...}}).
const maxDepth = 8

// jsonRecord decodes one line of a Zeek JSON log.
func (d *Decoder) jsonRecord(line []byte) (store.Row, *ingest.DocError) {
	v, err := d.parser.ParseBytes(line)
	if err != nil {
		return store.Row{}, reject(ingest.ReasonMalformed, "malformed JSON: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return store.Row{}, reject(ingest.ReasonNotObject, "expected a JSON object, found %s", v.Type())
	}
	var ls *logSpec
	if p := obj.Get("_path"); p != nil && p.Type() == fastjson.TypeString {
		path, _ := p.StringBytes()
		if ls = d.specs[string(path)]; ls == nil {
			return store.Row{}, reject(ReasonUnsupported, "Zeek log %q is not one this import reads (conn, dns, http, ssl, x509, dhcp, ssh)", truncate(string(path)))
		}
	} else {
		ls = detectLog(d.specs, func(yield func(string)) {
			obj.Visit(func(k []byte, _ *fastjson.Value) { yield(view(k)) })
		})
		if ls == nil {
			return store.Row{}, reject(ReasonUnsupported, "no _path, and the keys are not those of a conn, dns, http, ssl, x509, dhcp or ssh log")
		}
	}
	d.begin(ls)
	if derr := d.jsonObject(obj, nil, 0); derr != nil {
		return store.Row{}, derr
	}
	return d.finish()
}

// jsonObject decodes the keys of an object; prefix is the dotted name of
// the object within the record (nil at the top).
func (d *Decoder) jsonObject(obj *fastjson.Object, prefix []byte, depth int) *ingest.DocError {
	if depth > maxDepth {
		return reject(ingest.ReasonTooMany, "objects nested deeper than %d", maxDepth)
	}
	var derr *ingest.DocError
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if derr != nil {
			return
		}
		name := k
		if prefix != nil {
			name = append(append(append([]byte(nil), prefix...), '.'), k...)
		}
		derr = d.jsonValue(name, val, depth)
	})
	return derr
}

func (d *Decoder) jsonValue(name []byte, val *fastjson.Value, depth int) *ingest.DocError {
	ls := d.rec.log
	var v value
	switch val.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
		o, _ := val.Object()
		return d.jsonObject(o, name, depth+1)
	case fastjson.TypeString:
		b, _ := val.StringBytes()
		if len(b) == 0 {
			return nil
		}
		v.text = view(b) // valid until the next line is parsed

	case fastjson.TypeNumber:
		v.text, v.kind = d.number(val)
	case fastjson.TypeTrue:
		v.text, v.kind = "T", kindBool
	case fastjson.TypeFalse:
		v.text, v.kind = "F", kindBool
	case fastjson.TypeArray:
		items, _ := val.Array()
		if len(items) == 0 {
			return nil
		}
		v.isList = true
		v.list = make([]string, 0, len(items))
		for i, it := range items {
			var text string
			var k kind
			switch it.Type() {
			case fastjson.TypeString:
				b, _ := it.StringBytes()
				text = string(b)
			case fastjson.TypeNumber:
				text, k = d.number(it)
			case fastjson.TypeTrue:
				text, k = "T", kindBool
			case fastjson.TypeFalse:
				text, k = "F", kindBool
			case fastjson.TypeNull:
				continue
			default:
				text = string(it.MarshalTo(nil)) // nested structure: kept as its JSON text
			}
			if i == 0 {
				v.kind = k
			}
			v.list = append(v.list, text)
		}
		if len(v.list) == 0 {
			return nil
		}
	}
	sp := ls.cols[string(name)]
	if sp == nil {
		sp = &spec{act: actUnknown, attr: "zeek." + ls.name + "." + string(name)}
	}
	return d.apply(sp, v)
}

// number is the text of a JSON number and whether it is an integer.
func (d *Decoder) number(v *fastjson.Value) (string, kind) {
	d.numBuf = v.MarshalTo(d.numBuf[:0])
	if bytes.ContainsAny(d.numBuf, ".eE") {
		return string(d.numBuf), kindFloat
	}
	return string(d.numBuf), kindInt
}
