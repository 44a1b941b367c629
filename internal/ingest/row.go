package ingest

import (
	"crypto/rand"
	"encoding/base64"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// RowBuilder assembles one session row from values given field by field.
// It applies the checks SessionDecoder applies to the fields of a document
// (types, ranges, string lengths, addresses, no times past now plus the
// allowed skew, safe names for unknown fields) and, in Finish, the same
// document rules (firstPacket required, lastPacket not before it,
// session.type "network" unless set, an id made up when none is given).
// Decoders of other formats (Zeek logs, Suricata EVE) build their rows with
// it, so that a session means the same whatever it was read from.
//
// Use: Start once per stream, then per record Reset, Set/SetText/Add...,
// Finish. Strings given to the builder may alias a buffer the caller reuses
// (a line of the input): it copies the ones it keeps. A RowBuilder is not
// safe for concurrent use.
type RowBuilder struct {
	reg         *model.Registry
	limits      Limits
	tenant      string
	ncols       int
	firstIdx    int
	lastIdx     int
	transIdx    int
	typeIdx     int
	ipProto     *model.Field
	idField     *model.Field
	transField  *model.Field
	futureLimit int64

	row     store.Row
	day     int64  // the day of dayID, in days since 1970
	dayID   string // NewID's date prefix for day
	random  []byte // random bytes not used yet, for ids
	attrs   []attrValue
	lists   []listValue   // list fields of the current row, boxed in Finish
	unknown []model.Field // discovered fields of the current row
	// discovered collects unknown field names and their inferred types
	// over every row finished so far.
	discovered map[string]model.Type
}

// attrValue is one field of the attribute document, in the form the store
// keeps: string, int64, float64, bool, netip.Addr, []string or []int64.
type attrValue struct {
	f    *model.Field // nil for discovered fields
	name string
	val  any
}

// MaxDiscovered bounds the distinct unknown field names one RowBuilder
// keeps for field discovery.
const MaxDiscovered = 4096

// listValue is a list field being built, kept typed until Finish so that
// appending does not box a new slice each time.
type listValue struct {
	f    *model.Field
	strs []string // string and address lists (addresses in text form)
	ints []int64  // integer lists
}

// NewRowBuilder makes a builder of rows for tenant. Zero limits take their
// defaults from DefaultLimits.
func NewRowBuilder(reg *model.Registry, limits Limits, tenant string) *RowBuilder {
	def := DefaultLimits()
	if limits.MaxStringBytes <= 0 {
		limits.MaxStringBytes = def.MaxStringBytes
	}
	if limits.MaxFields <= 0 {
		limits.MaxFields = def.MaxFields
	}
	if limits.MaxDocBytes <= 0 {
		limits.MaxDocBytes = def.MaxDocBytes
	}
	if limits.FutureSkew <= 0 {
		limits.FutureSkew = def.FutureSkew
	}
	col := func(name string) int {
		f, ok := reg.Lookup(name)
		if !ok || f.ColumnIndex() < 0 {
			panic("ingest: the registry has no column for " + name) // a programming error
		}
		return f.ColumnIndex()
	}
	b := &RowBuilder{reg: reg, limits: limits, tenant: tenant, ncols: len(reg.Columns()),
		firstIdx: col("firstPacket"), lastIdx: col("lastPacket"), transIdx: col("network.transport"), typeIdx: col("session.type"),
		discovered: map[string]model.Type{}}
	b.ipProto, _ = reg.Lookup("ipProtocol")
	b.idField, _ = reg.Lookup("id")
	b.transField, _ = reg.Lookup("network.transport")
	b.Start(time.Now())
	b.Reset()
	return b
}

// Limits are the limits the builder applies (defaults filled in).
func (b *RowBuilder) Limits() Limits { return b.limits }

// Start fixes the latest acceptable time at now plus the allowed skew; call
// it when a stream begins (a long import keeps one limit throughout, as one
// upload does).
func (b *RowBuilder) Start(now time.Time) {
	b.futureLimit = now.Add(b.limits.FutureSkew).UnixMilli()
}

// Reset begins a new row, dropping whatever the current one holds.
func (b *RowBuilder) Reset() {
	if b.row.Cols == nil {
		b.row.Cols = make([]any, b.ncols)
	} else {
		clear(b.row.Cols) // the previous row was rejected: reuse its columns
	}
	b.row.Tenant, b.row.ID, b.row.Attrs = b.tenant, "", nil
	clear(b.attrs) // drop references to the previous row's values
	b.attrs = b.attrs[:0]
	clear(b.lists)
	b.lists = b.lists[:0]
	b.unknown = b.unknown[:0]
}

// Field finds a field by name or alias; it panics when the registry does not
// know the name, which is a programming error in a decoder's tables.
func (b *RowBuilder) Field(name string) *model.Field {
	f, ok := b.reg.Lookup(name)
	if !ok {
		panic("ingest: the registry has no field " + name)
	}
	return f
}

// Lookup finds a field by name or alias.
func (b *RowBuilder) Lookup(name string) (*model.Field, bool) { return b.reg.Lookup(name) }

// Value is the current value of f in the row being built, or nil.
func (b *RowBuilder) Value(f *model.Field) any {
	if f.Type.IsList() {
		l := b.list(f, false)
		switch {
		case l == nil:
			return nil
		case f.Type.Elem() == model.TypeInt:
			return l.ints
		}
		return l.strs
	}
	if i := f.ColumnIndex(); i >= 0 {
		return b.row.Cols[i]
	}
	if f == b.idField {
		if b.row.ID == "" {
			return nil
		}
		return b.row.ID
	}
	for i := range b.attrs {
		if b.attrs[i].f == f {
			return b.attrs[i].val
		}
	}
	return nil
}

// Set sets f to v: a string, int64 (times in epoch milliseconds), float64,
// bool or netip.Addr; for list fields a single element is appended and a
// []string, []int64 or []netip.Addr appends all of its elements. Values are
// checked against the field as SessionDecoder checks them.
func (b *RowBuilder) Set(f *model.Field, v any) *DocError {
	if f.Type.IsList() {
		return b.add(f, v, false)
	}
	x, derr := b.scalar(f, f.Type, v)
	if derr != nil {
		return derr
	}
	return b.put(f, x)
}

// Add appends v (one element or a slice of them) to the list field f.
func (b *RowBuilder) Add(f *model.Field, v any) *DocError { return b.add(f, v, false) }

// AddUnique appends the elements of v to the list field f that it does not
// already hold (host names, protocols: sets rather than sequences).
func (b *RowBuilder) AddUnique(f *model.Field, v any) *DocError { return b.add(f, v, true) }

// SetText sets f from its text form: decimal integers (a float with no
// fraction is an integer), floats, T/F or true/false, IP addresses, times as
// epoch seconds (with a fraction) or milliseconds or RFC 3339. For list
// fields the text is one element, appended.
func (b *RowBuilder) SetText(f *model.Field, s string) *DocError {
	if f.Type.IsList() {
		return b.AddText(f, s, false)
	}
	// Typed paths, so that a value is converted and boxed once: this runs
	// for most columns of every record of an import.
	switch f.Type {
	case model.TypeString:
		x, derr := b.checkString(f, s)
		if derr != nil {
			return derr
		}
		return b.put(f, x)
	case model.TypeInt:
		n, derr := parseInt(f, s)
		if derr == nil {
			n, derr = checkInt(f, n)
		}
		if derr != nil {
			return derr
		}
		return b.put(f, n)
	case model.TypeIP:
		a, derr := parseIP(f, s)
		if derr != nil {
			return derr
		}
		return b.put(f, a)
	case model.TypeTime:
		ms, err := query.ParseTime(s)
		if err != nil {
			return reject(ReasonBadTime, "%s: %q: %v", f.Name, truncate(s), err)
		}
		ms, derr := b.checkTime(f, ms)
		if derr != nil {
			return derr
		}
		return b.put(f, ms)
	}
	x, derr := b.parse(f, f.Type, s)
	if derr != nil {
		return derr
	}
	return b.Set(f, x)
}

// AddText appends one element, given in its text form (see SetText), to the
// list field f; with unique, only when f does not hold it already.
func (b *RowBuilder) AddText(f *model.Field, s string, unique bool) *DocError {
	switch f.Type.Elem() {
	case model.TypeString:
		return b.addString(f, s, unique)
	case model.TypeInt:
		n, derr := parseInt(f, s)
		if derr != nil {
			return derr
		}
		return b.addInt(f, n, unique)
	case model.TypeIP:
		a, derr := parseIP(f, s)
		if derr != nil {
			return derr
		}
		return b.addString(f, a.String(), unique)
	}
	x, derr := b.parse(f, f.Type.Elem(), s)
	if derr != nil {
		return derr
	}
	return b.add(f, x, unique)
}

// SetDiscovered keeps a value under a name the registry may not know, as
// SessionDecoder keeps unknown fields: the name must be safe, the type is
// inferred from v (string, int64, float64, bool, netip.Addr, []string,
// []int64) and recorded for field discovery. A name the registry does know
// is set through its field instead (strings parsed by SetText).
func (b *RowBuilder) SetDiscovered(name string, v any) *DocError {
	if f, ok := b.reg.Lookup(name); ok {
		if s, isText := v.(string); isText && f.Type.Elem() != model.TypeString {
			return b.SetText(f, s)
		}
		return b.Set(f, v)
	}
	if !query.SafeFieldName(name) {
		return reject(ReasonFieldName, "field name %q: use letters, digits, '_', '.', '@', ':' or '-' (at most 128)", truncate(name))
	}
	if _, seen := b.discovered[name]; !seen && len(b.discovered)+len(b.unknown) >= MaxDiscovered {
		// A stream inventing names without end must not grow memory
		// without end: an import runs for gigabytes.
		return reject(ReasonTooMany, "%s: more than %d distinct unknown fields", truncate(name), MaxDiscovered)
	}
	var t model.Type
	switch x := v.(type) {
	case string:
		s, derr := b.text(name, x)
		if derr != nil {
			return derr
		}
		v, t = s, model.TypeString
	case int64:
		t = model.TypeInt
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return reject(ReasonType, "%s: expected a number", name)
		}
		t = model.TypeFloat
	case bool:
		t = model.TypeBool
	case netip.Addr:
		if !x.IsValid() {
			return reject(ReasonBadIP, "%s: not an IP address", name)
		}
		v, t = x.Unmap().WithZone("").String(), model.TypeString
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			var derr *DocError
			if out[i], derr = b.text(name, s); derr != nil {
				return derr
			}
		}
		v, t = out, model.TypeStrings
	case []int64:
		v, t = append([]int64(nil), x...), model.TypeInts
	default:
		return reject(ReasonType, "%s: unsupported value %T", name, v)
	}
	for i := range b.attrs {
		if b.attrs[i].f == nil && b.attrs[i].name == name {
			b.attrs[i].val = v
			return nil
		}
	}
	if len(b.attrs)+len(b.lists) >= b.limits.MaxFields {
		return reject(ReasonTooMany, "more than %d fields", b.limits.MaxFields)
	}
	b.attrs = append(b.attrs, attrValue{name: name, val: v})
	b.unknown = append(b.unknown, model.Field{Name: name, Type: t})
	return nil
}

// Finish applies the document rules and returns the row; the builder then
// holds an empty row.
func (b *RowBuilder) Finish() (store.Row, *DocError) {
	firstV := b.row.Cols[b.firstIdx]
	if firstV == nil {
		return store.Row{}, reject(ReasonNoTime, "firstPacket is required")
	}
	first := firstV.(int64)
	if b.row.Cols[b.lastIdx] == nil {
		b.row.Cols[b.lastIdx] = first
	} else if last := b.row.Cols[b.lastIdx].(int64); last < first {
		return store.Row{}, reject(ReasonTimeReverse, "lastPacket %d is before firstPacket %d", last, first)
	}
	for i := range b.lists {
		l := &b.lists[i]
		var v any = l.strs
		if l.f.Type.Elem() == model.TypeInt {
			v = l.ints
		}
		if c := l.f.ColumnIndex(); c >= 0 {
			b.row.Cols[c] = v
		} else {
			b.attrs = append(b.attrs, attrValue{f: l.f, name: l.f.Name, val: v})
		}
	}
	if b.row.Cols[b.transIdx] == nil && b.ipProto != nil {
		if p, ok := b.Value(b.ipProto).(int64); ok {
			b.row.Cols[b.transIdx] = TransportName(p)
		}
	}
	if b.row.Cols[b.typeIdx] == nil {
		b.row.Cols[b.typeIdx] = "network"
	}
	if b.row.ID == "" {
		b.row.ID = b.newID(first)
	}
	if len(b.attrs) > 0 {
		n := 2
		for i := range b.attrs {
			n += len(b.attrs[i].name) + 16
			if s, ok := b.attrs[i].val.(string); ok {
				n += len(s)
			}
		}
		attrs := append(make([]byte, 0, n), '{')
		for i := range b.attrs {
			attrs = appendAttr(attrs, b.attrs[i].name, b.attrs[i].val)
		}
		b.row.Attrs = append(attrs, '}')
	}
	for _, f := range b.unknown {
		if _, seen := b.discovered[f.Name]; !seen {
			b.discovered[f.Name] = f.Type
		}
	}
	row := b.row
	b.row = store.Row{} // handed over: the builder starts an empty row of its own
	b.Reset()
	return row, nil
}

// newID is NewID with the date prefix kept from one row to the next and the
// random bits read in blocks: an import makes millions of ids.
func (b *RowBuilder) newID(firstMs int64) string {
	day := firstMs / 86_400_000
	if b.dayID == "" || day != b.day {
		b.day, b.dayID = day, time.UnixMilli(firstMs).UTC().Format("060102")+"-"
	}
	if len(b.random) < 12 {
		b.random = make([]byte, 12*256)
		rand.Read(b.random)
	}
	var id [6 + 1 + 16]byte
	n := copy(id[:], b.dayID)
	base64.RawURLEncoding.Encode(id[n:], b.random[:12])
	b.random = b.random[12:]
	return string(id[:n+16])
}

// DiscoveredFields lists the unknown fields of the rows finished so far,
// sorted by name.
func (b *RowBuilder) DiscoveredFields() []model.Field {
	out := make([]model.Field, 0, len(b.discovered))
	for n, t := range b.discovered {
		out = append(out, model.Field{Name: n, Type: t, Discovered: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// put stores a checked scalar value.
func (b *RowBuilder) put(f *model.Field, x any) *DocError {
	if f == b.idField {
		id, _ := x.(string)
		if !validID(id) {
			return reject(ReasonBadID, "id %q: use 1-64 letters, digits, '-', '_', '.' or ':'", truncate(id))
		}
		b.row.ID = id
		return nil
	}
	if i := f.ColumnIndex(); i >= 0 {
		b.row.Cols[i] = x
		return nil
	}
	for i := range b.attrs {
		if b.attrs[i].f == f {
			b.attrs[i].val = x
			return nil
		}
	}
	if len(b.attrs)+len(b.lists) >= b.limits.MaxFields {
		return reject(ReasonTooMany, "more than %d fields", b.limits.MaxFields)
	}
	b.attrs = append(b.attrs, attrValue{f: f, name: f.Name, val: x})
	return nil
}

// add appends elements to a list field: []int64 for integer lists, []string
// for the others (addresses in their text form, as the store keeps them).
func (b *RowBuilder) add(f *model.Field, v any, unique bool) *DocError {
	if !f.Type.IsList() {
		return reject(ReasonType, "%s: not a list field", f.Name)
	}
	switch x := v.(type) {
	case []string:
		for _, s := range x {
			if derr := b.addOne(f, s, unique); derr != nil {
				return derr
			}
		}
	case []int64:
		for _, n := range x {
			if derr := b.addOne(f, n, unique); derr != nil {
				return derr
			}
		}
	case []netip.Addr:
		for _, a := range x {
			if derr := b.addOne(f, a, unique); derr != nil {
				return derr
			}
		}
	default:
		return b.addOne(f, v, unique)
	}
	return nil
}

// addOne checks one element and appends it.
func (b *RowBuilder) addOne(f *model.Field, v any, unique bool) *DocError {
	switch x := v.(type) {
	case string:
		if f.Type.Elem() == model.TypeString {
			return b.addString(f, x, unique)
		}
	case int64:
		if f.Type.Elem() == model.TypeInt {
			return b.addInt(f, x, unique)
		}
	}
	c, derr := b.scalar(f, f.Type.Elem(), v)
	if derr != nil {
		return derr
	}
	switch x := c.(type) {
	case int64:
		return b.addInt(f, x, unique)
	case netip.Addr:
		return b.addString(f, x.String(), unique)
	case string:
		return b.addString(f, x, unique)
	}
	return reject(ReasonType, "%s: unsupported list element %T", f.Name, c)
}

func (b *RowBuilder) addString(f *model.Field, s string, unique bool) *DocError {
	l := b.list(f, false)
	if unique && l != nil && containsString(l.strs, s) {
		return nil // before copying: a repeated value costs nothing
	}
	x, derr := b.text(f.Name, s)
	if derr != nil {
		return derr
	}
	if l == nil {
		if l = b.list(f, true); l == nil {
			return reject(ReasonTooMany, "more than %d fields", b.limits.MaxFields)
		}
	}
	l.strs = append(l.strs, x)
	return nil
}

func (b *RowBuilder) addInt(f *model.Field, n int64, unique bool) *DocError {
	n, derr := checkInt(f, n)
	if derr != nil {
		return derr
	}
	l := b.list(f, true)
	if l == nil {
		return reject(ReasonTooMany, "more than %d fields", b.limits.MaxFields)
	}
	if !unique || !containsInt(l.ints, n) {
		l.ints = append(l.ints, n)
	}
	return nil
}

// list finds the list being built for f; with create, it starts one (nil
// when the row already has as many fields as it may).
func (b *RowBuilder) list(f *model.Field, create bool) *listValue {
	for i := range b.lists {
		if b.lists[i].f == f {
			return &b.lists[i]
		}
	}
	if !create || len(b.attrs)+len(b.lists) >= b.limits.MaxFields {
		return nil
	}
	b.lists = append(b.lists, listValue{f: f})
	return &b.lists[len(b.lists)-1]
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsInt(list []int64, n int64) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// scalar checks one value against type t of field f and returns it in the
// form the store keeps.
func (b *RowBuilder) scalar(f *model.Field, t model.Type, v any) (any, *DocError) {
	switch t {
	case model.TypeString:
		switch x := v.(type) {
		case string:
			return b.checkString(f, x)
		case int64:
			return strconv.FormatInt(x, 10), nil // ids and codes sent as numbers stay readable
		}
		return nil, reject(ReasonType, "%s: expected a string, found %T", f.Name, v)
	case model.TypeInt:
		switch x := v.(type) {
		case int64:
			if _, derr := checkInt(f, x); derr != nil {
				return nil, derr
			}
			return v, nil // already boxed: not again
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return nil, reject(ReasonType, "%s: expected an integer, found %v", f.Name, x)
			}
			return checkInt(f, int64(x))
		}
		return nil, reject(ReasonType, "%s: expected an integer, found %T", f.Name, v)
	case model.TypeFloat:
		var x float64
		switch y := v.(type) {
		case float64:
			if math.IsNaN(y) || math.IsInf(y, 0) {
				return nil, reject(ReasonType, "%s: expected a number", f.Name)
			}
			return v, nil
		case int64:
			x = float64(y)
		default:
			return nil, reject(ReasonType, "%s: expected a number, found %T", f.Name, v)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, reject(ReasonType, "%s: expected a number", f.Name)
		}
		return x, nil
	case model.TypeBool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
		return nil, reject(ReasonType, "%s: expected true or false, found %T", f.Name, v)
	case model.TypeIP:
		switch x := v.(type) {
		case netip.Addr:
			if !x.IsValid() {
				return nil, reject(ReasonBadIP, "%s: not an IP address", f.Name)
			}
			return x.Unmap().WithZone(""), nil
		case string:
			return parseIP(f, x)
		}
		return nil, reject(ReasonType, "%s: expected an IP address, found %T", f.Name, v)
	case model.TypeTime:
		switch x := v.(type) {
		case int64:
			if _, derr := b.checkTime(f, x); derr != nil {
				return nil, derr
			}
			return v, nil
		case time.Time:
			return b.checkTime(f, x.UnixMilli())
		}
		return nil, reject(ReasonType, "%s: expected a time, found %T", f.Name, v)
	}
	return nil, reject(ReasonType, "%s: unsupported type %s", f.Name, t)
}

// checkString checks a string value and returns the copy to keep.
func (b *RowBuilder) checkString(f *model.Field, s string) (string, *DocError) {
	s, derr := b.text(f.Name, s)
	if derr != nil {
		return "", derr
	}
	if f == b.transField {
		s = strings.ToLower(s)
	}
	return s, nil
}

func checkInt(f *model.Field, n int64) (int64, *DocError) {
	if f.Bounded() && (n < f.Min || n > f.Max) {
		return 0, reject(ReasonRange, "%s: %d is out of range %d-%d", f.Name, n, f.Min, f.Max)
	}
	return n, nil
}

func (b *RowBuilder) checkTime(f *model.Field, ms int64) (int64, *DocError) {
	if ms < 0 {
		return 0, reject(ReasonBadTime, "%s: %d is before 1970", f.Name, ms)
	}
	if ms > b.futureLimit {
		return 0, reject(ReasonFuture, "%s: %s is more than %s in the future", f.Name, time.UnixMilli(ms).UTC().Format(time.RFC3339), b.limits.FutureSkew)
	}
	return ms, nil
}

func parseInt(f *model.Field, s string) (int64, *DocError) {
	if n, ok := atoi(s); ok {
		return n, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
		return int64(x), nil
	}
	return 0, reject(ReasonType, "%s: expected an integer, found %q", f.Name, truncate(s))
}

// atoi reads a short unsigned decimal, the common case, without the
// generality of strconv.
func atoi(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseIP(f *model.Field, s string) (netip.Addr, *DocError) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, reject(ReasonBadIP, "%s: %q is not an IP address", f.Name, truncate(s))
	}
	return a.Unmap().WithZone(""), nil
}

// parse reads the text form of a value of type t.
func (b *RowBuilder) parse(f *model.Field, t model.Type, s string) (any, *DocError) {
	switch t {
	case model.TypeString:
		return s, nil
	case model.TypeInt:
		n, derr := parseInt(f, s)
		if derr != nil {
			return nil, derr
		}
		return n, nil
	case model.TypeFloat:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, reject(ReasonType, "%s: expected a number, found %q", f.Name, truncate(s))
		}
		return x, nil
	case model.TypeBool:
		switch s {
		case "T", "true", "TRUE", "True":
			return true, nil
		case "F", "false", "FALSE", "False":
			return false, nil
		}
		return nil, reject(ReasonType, "%s: expected T or F, found %q", f.Name, truncate(s))
	case model.TypeIP:
		return s, nil // checked by scalar
	case model.TypeTime:
		ms, err := query.ParseTime(s)
		if err != nil {
			return nil, reject(ReasonBadTime, "%s: %q: %v", f.Name, truncate(s), err)
		}
		return ms, nil
	}
	return nil, reject(ReasonType, "%s: unsupported type %s", f.Name, t)
}

// text checks a string value (length limit, valid UTF-8) and returns a copy
// of it that the row may keep.
func (b *RowBuilder) text(name, s string) (string, *DocError) {
	if len(s) > b.limits.MaxStringBytes {
		return "", reject(ReasonLong, "%s: string of %d bytes exceeds the limit of %d", name, len(s), b.limits.MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD"), nil // a new string already
	}
	return strings.Clone(s), nil
}
