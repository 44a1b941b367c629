package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
)

// InvalidError is a request the store refuses (bad cursor, unsortable
// field); the API answers it with 400.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// SQL builds the statements every engine runs against the sessions table;
// only the Dialect differs.
type SQL struct {
	D query.Dialect
}

// Projection is which stored columns a read needs: reading fewer columns
// matters on a columnar store, above all the wide attribute document.
type Projection struct {
	Cols  []*model.Field // column fields, in registry order; always includes id
	Attrs bool           // whether the attribute document is read
}

// FullProjection reads everything.
func FullProjection(reg *model.Registry) Projection {
	return Projection{Cols: reg.Columns(), Attrs: true}
}

// ProjectionFor reads what the named canonical fields need (everything when
// none are named).
func ProjectionFor(reg *model.Registry, fields []string) Projection {
	if len(fields) == 0 {
		return FullProjection(reg)
	}
	want := map[string]bool{"id": true}
	p := Projection{}
	for _, name := range fields {
		want[name] = true
		if f, ok := reg.Lookup(name); !ok || f.Column == "" {
			p.Attrs = true
		}
	}
	for _, f := range reg.Columns() {
		if want[f.Name] {
			p.Cols = append(p.Cols, f)
		}
	}
	return p
}

// SQL is the projection's column list, in the order Decode expects.
func (p Projection) SQL() string {
	cols := make([]string, 0, len(p.Cols)+4)
	for _, f := range p.Cols {
		if f.Type == model.TypeIP {
			cols = append(cols, f.Column+"_hi", f.Column+"_lo")
			continue
		}
		cols = append(cols, f.Column)
	}
	if p.Attrs {
		cols = append(cols, "attrs")
	}
	return strings.Join(cols, ", ")
}

// ScanCount is how many values a row of the projection has.
func (p Projection) ScanCount() int {
	n := len(p.Cols)
	for _, f := range p.Cols {
		if f.Type == model.TypeIP {
			n++
		}
	}
	if p.Attrs {
		n++
	}
	return n
}

// Decode turns scanned values of a projection row into a Session.
// Numbers in the attribute document keep their precision (json.Number).
func (p Projection) Decode(vals []any) (Session, error) {
	s := Session{Fields: make(map[string]any, 24)}
	i := 0
	for _, f := range p.Cols {
		v := vals[i]
		i++
		if f.Type == model.TypeIP {
			lo := vals[i]
			i++
			if v == nil || lo == nil {
				continue
			}
			s.Fields[f.Name] = model.IPFromParts(toUint64(v), toUint64(lo)).String()
			continue
		}
		if v == nil {
			continue
		}
		switch x := v.(type) {
		case []any:
			if len(x) == 0 {
				continue
			}
			out := make([]string, 0, len(x))
			for _, e := range x {
				if str, ok := e.(string); ok {
					out = append(out, str)
				}
			}
			v = out
		case []string:
			if len(x) == 0 {
				continue
			}
		}
		if f.Name == "id" {
			s.ID, _ = v.(string)
		}
		s.Fields[f.Name] = v
	}
	if !p.Attrs {
		return s, nil
	}
	if raw, ok := vals[i].(string); ok && raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var attrs map[string]any
		if err := dec.Decode(&attrs); err != nil {
			return s, fmt.Errorf("cannot decode stored attributes of session %s: %w", s.ID, err)
		}
		for k, v := range attrs {
			s.Fields[k] = v
		}
	}
	return s, nil
}

func toUint64(v any) uint64 {
	switch x := v.(type) {
	case uint64:
		return x
	case int64:
		return uint64(x)
	case uint32:
		return uint64(x)
	}
	return 0
}

// where builds the tenant, time range and filter conditions shared by
// searches and counts.
func (q SQL) where(tenant string, reg *model.Registry, filter query.Expr, r TimeRange) (string, []any, error) {
	conds := []string{"tenant = ?"}
	args := []any{tenant}
	if r.Start != 0 {
		conds = append(conds, "COALESCE(last_packet, first_packet) >= ?")
		args = append(args, r.Start)
	}
	if r.End != 0 {
		conds = append(conds, "first_packet <= ?")
		args = append(args, r.End)
	}
	if filter != nil {
		sql, fargs, err := query.Compile(filter, reg, q.D)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, sql)
		args = append(args, fargs...)
	}
	return strings.Join(conds, " AND "), args, nil
}

// sortKey is one column of the keyset. Keys are plain columns (no
// expressions) so DuckDB's top-N late materialization applies: it finds the
// page on the narrow sort columns and reads the wide ones for that page
// only. NULLs sort last in both directions.
type sortKey struct {
	col  string
	desc bool
	kind byte // 'i' int64, 'u' uint64, 's' string
}

func sortKeys(order []Order) ([]sortKey, string, error) {
	var keys []sortKey
	var sig []string
	for _, o := range order {
		f := o.Field
		dir := "asc"
		if o.Desc {
			dir = "desc"
		}
		sig = append(sig, f.Name+":"+dir)
		if f.Column == "" || f.Type.IsList() {
			return nil, "", &InvalidError{Msg: fmt.Sprintf("cannot order by %s: only single-valued fields stored in columns can be sorted", f.Name)}
		}
		switch f.Type {
		case model.TypeIP:
			keys = append(keys,
				sortKey{col: f.Column + "_hi", desc: o.Desc, kind: 'u'},
				sortKey{col: f.Column + "_lo", desc: o.Desc, kind: 'u'})
		case model.TypeInt, model.TypeTime:
			keys = append(keys, sortKey{col: f.Column, desc: o.Desc, kind: 'i'})
		default:
			keys = append(keys, sortKey{col: f.Column, desc: o.Desc, kind: 's'})
		}
	}
	// The id breaks ties, so the order is total and pages never overlap.
	last := len(order) == 0 || order[len(order)-1].Desc
	keys = append(keys, sortKey{col: "id", desc: last, kind: 's'})
	return keys, strings.Join(sig, ","), nil
}

type cursor struct {
	Order string    `json:"o"`
	Keys  []*string `json:"k"` // nil for NULL
}

// DefaultOrder is newest first.
func DefaultOrder(reg *model.Registry) []Order {
	f, _ := reg.Lookup("firstPacket")
	return []Order{{Field: f, Desc: true}}
}

// Search builds the page query and, when asked, the count query.
func (q SQL) Search(req SearchRequest) (pageSQL string, pageArgs []any, countSQL string, countArgs []any, err error) {
	order := req.Order
	if len(order) == 0 {
		order = DefaultOrder(req.Registry)
	}
	keys, sig, err := sortKeys(order)
	if err != nil {
		return "", nil, "", nil, err
	}
	where, args, err := q.where(req.Tenant, req.Registry, req.Filter, req.Range)
	if err != nil {
		return "", nil, "", nil, err
	}
	if req.Count {
		countSQL = "SELECT count(*) FROM sessions WHERE " + where
		countArgs = append([]any(nil), args...)
	}
	if req.Cursor != "" {
		c, err := decodeCursor(req.Cursor, sig, keys)
		if err != nil {
			return "", nil, "", nil, err
		}
		cond, cargs := keysetAfter(keys, c)
		where += " AND " + cond
		args = append(args, cargs...)
	}
	var ob, sel []string
	for _, k := range keys {
		d := " ASC NULLS LAST"
		if k.desc {
			d = " DESC NULLS LAST"
		}
		ob = append(ob, k.col+d)
		sel = append(sel, k.col)
	}
	pageSQL = "SELECT " + ProjectionFor(req.Registry, req.Fields).SQL() + ", " + strings.Join(sel, ", ") +
		" FROM sessions WHERE " + where + " ORDER BY " + strings.Join(ob, ", ") + " LIMIT " + strconv.Itoa(req.Limit+1)
	return pageSQL, args, countSQL, countArgs, nil
}

// keysetAfter is the condition "row comes after the cursor" in the page's
// order, NULLs last: (k1 after v1) OR (k1 = v1 AND k2 after v2) OR ...,
// where "after v" is "beyond v, or NULL" and nothing comes after a NULL
// except through later keys.
func keysetAfter(keys []sortKey, vals []any) (string, []any) {
	var ors []string
	var args []any
	for i := range keys {
		if vals[i] == nil {
			continue // no row is after NULL on this key alone
		}
		var ands []string
		var a []any
		for j := 0; j < i; j++ {
			if vals[j] == nil {
				ands = append(ands, keys[j].col+" IS NULL")
				continue
			}
			ands = append(ands, keys[j].col+" = ?")
			a = append(a, vals[j])
		}
		op := " > ?"
		if keys[i].desc {
			op = " < ?"
		}
		ands = append(ands, "("+keys[i].col+op+" OR "+keys[i].col+" IS NULL)")
		a = append(a, vals[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		args = append(args, a...)
	}
	if len(ors) == 0 {
		return "FALSE", nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// NextCursor encodes the sort keys of the last row of a page. keyVals are the
// trailing values of the row, after the projection's ones.
func NextCursor(order []Order, reg *model.Registry, keyVals []any) (string, error) {
	if len(order) == 0 {
		order = DefaultOrder(reg)
	}
	keys, sig, err := sortKeys(order)
	if err != nil {
		return "", err
	}
	if len(keyVals) != len(keys) {
		return "", errors.New("cannot build cursor: key count mismatch")
	}
	c := cursor{Order: sig}
	for i, k := range keys {
		var v string
		switch {
		case keyVals[i] == nil:
			c.Keys = append(c.Keys, nil)
			continue
		case k.kind == 'u':
			v = strconv.FormatUint(toUint64(keyVals[i]), 10)
		case k.kind == 'i':
			n, _ := keyVals[i].(int64)
			v = strconv.FormatInt(n, 10)
		default:
			v, _ = keyVals[i].(string)
		}
		c.Keys = append(c.Keys, &v)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeCursor(s, sig string, keys []sortKey) ([]any, error) {
	bad := &InvalidError{Msg: "invalid cursor: pass next_cursor from the previous page unchanged, with the same order"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Order != sig || len(c.Keys) != len(keys) {
		return nil, bad
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		if c.Keys[i] == nil {
			if k.col == "id" {
				return nil, bad // ids are never NULL
			}
			continue
		}
		switch k.kind {
		case 'u':
			n, err := strconv.ParseUint(*c.Keys[i], 10, 64)
			if err != nil {
				return nil, bad
			}
			vals[i] = n
		case 'i':
			n, err := strconv.ParseInt(*c.Keys[i], 10, 64)
			if err != nil {
				return nil, bad
			}
			vals[i] = n
		default:
			vals[i] = *c.Keys[i]
		}
	}
	return vals, nil
}

// CountQueries builds, for one field, the top-values query (rows of value
// parts then count) and the totals query (rows counted, values counted).
func (q SQL) CountQueries(req CountsRequest, f *model.Field) (top string, topArgs []any, totals string, totalArgs []any, err error) {
	if f.Column == "" && !query.SafeFieldName(f.Name) {
		return "", nil, "", nil, &InvalidError{Msg: fmt.Sprintf("field %q cannot be counted", f.Name)}
	}
	where, args, err := q.where(req.Tenant, req.Registry, req.Filter, req.Range)
	if err != nil {
		return "", nil, "", nil, err
	}
	size := strconv.Itoa(req.Size)
	switch {
	case f.Column != "" && f.Type == model.TypeIP:
		h, l := f.Column+"_hi", f.Column+"_lo"
		top = "SELECT " + h + ", " + l + ", count(*) AS n FROM sessions WHERE " + where + " AND " + h + " IS NOT NULL GROUP BY " + h + ", " + l + " ORDER BY n DESC, " + h + ", " + l + " LIMIT " + size
		totals = "SELECT count(*), count(" + h + ") FROM sessions WHERE " + where
	case f.Type.IsList():
		list := f.Column
		if list == "" {
			list = q.D.AttrTexts(f.Name)
		}
		inner := "SELECT " + q.D.Unnest(list) + " AS v FROM sessions WHERE " + where
		top = "SELECT v, count(*) AS n FROM (" + inner + ") AS t WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT " + size
		// Values counted over occurrences; sessions without any element are missing.
		totals = "SELECT (SELECT count(*) FROM sessions WHERE " + where + " AND COALESCE(" + q.D.ListLen(list) + ", 0) = 0), (SELECT count(*) FROM (" + inner + ") AS t WHERE v IS NOT NULL)"
		totalArgs = append(append([]any(nil), args...), args...)
		return top, args, totals, totalArgs, nil
	default:
		expr := f.Column
		if expr == "" {
			expr = q.D.AttrText(f.Name)
		}
		top = "SELECT " + expr + " AS v, count(*) AS n FROM sessions WHERE " + where + " AND " + expr + " IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT " + size
		totals = "SELECT count(*), count(" + expr + ") FROM sessions WHERE " + where
	}
	return top, args, totals, args, nil
}

// BucketValue renders a grouped value for output by field type.
func BucketValue(f *model.Field, parts []any) any {
	if f.Column != "" && f.Type == model.TypeIP && len(parts) == 2 {
		return model.IPFromParts(toUint64(parts[0]), toUint64(parts[1])).String()
	}
	v := parts[0]
	if s, ok := v.(string); ok && f.Column == "" {
		switch f.Type.Elem() {
		case model.TypeInt, model.TypeTime:
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		case model.TypeFloat:
			if x, err := strconv.ParseFloat(s, 64); err == nil {
				return x
			}
		}
	}
	return v
}

// ParseAddr is netip.ParseAddr with IPv4-mapped addresses unmapped.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	return a.Unmap(), nil
}
