package query

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/seshatsec/seshat/internal/model"
)

// Compile turns a parsed expression into an SQL condition with bound
// arguments, for the sessions table of any engine. Field names are resolved
// against reg (the tenant's registry, discovered fields included); values are
// interpreted by field type: addresses, CIDR, partial addresses, ip:port and
// address ranges on ip fields; numbers and lo-hi ranges on integers; RFC 3339
// or epoch seconds/milliseconds on times; exact text, * and ? wildcards and
// /regex/ on strings. A value that does not fit its field is an *Error with
// the value's position.
func Compile(e Expr, reg *model.Registry, d Dialect) (string, []any, error) {
	c := &compiler{reg: reg, d: d}
	sql, err := c.expr(e)
	if err != nil {
		return "", nil, err
	}
	return sql, c.args, nil
}

type compiler struct {
	reg  *model.Registry
	d    Dialect
	args []any
}

func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return "?"
}

func (c *compiler) expr(e Expr) (string, error) {
	switch x := e.(type) {
	case *BinaryExpr:
		l, err := c.expr(x.Left)
		if err != nil {
			return "", err
		}
		r, err := c.expr(x.Right)
		if err != nil {
			return "", err
		}
		op := " AND "
		if x.Op == OpOr {
			op = " OR "
		}
		return "(" + l + op + r + ")", nil
	case *NotExpr:
		inner, err := c.expr(x.X)
		if err != nil {
			return "", err
		}
		// A missing field makes a comparison NULL; "not" of it must be true,
		// as Arkime's must_not is.
		return "(NOT COALESCE(" + inner + ", FALSE))", nil
	case *Comparison:
		return c.comparison(x)
	default:
		return "", &Error{Pos: e.Pos(), Msg: fmt.Sprintf("cannot compile %T", e)}
	}
}

// safeKey is the character set of field names that may appear in SQL text
// as attribute keys. Registry names all fit; discovered names are checked at
// ingest against the same pattern.
var safeKey = regexp.MustCompile(`^[A-Za-z0-9_@][A-Za-z0-9_.@:-]{0,127}$`)

// SafeFieldName reports whether name may be stored as an attribute key.
func SafeFieldName(name string) bool { return safeKey.MatchString(name) }

func (c *compiler) comparison(cmp *Comparison) (string, error) {
	f, ok := c.reg.Lookup(cmp.Field)
	if !ok {
		return "", &Error{Pos: cmp.FieldPos, Msg: fmt.Sprintf("unknown field %q", cmp.Field)}
	}
	if f.Column == "" && !SafeFieldName(f.Name) {
		return "", &Error{Pos: cmp.FieldPos, Msg: fmt.Sprintf("field %q cannot be queried", f.Name)}
	}
	v := cmp.Value
	if v.List == nil && v.Kind == ValExists {
		p := c.exists(f)
		if cmp.Op == OpNe {
			return "(NOT " + p + ")", nil
		}
		return p, nil
	}
	if v.List != nil && cmp.Op != OpEq && cmp.Op != OpNe {
		return "", &Error{Pos: cmp.OpPos, Msg: fmt.Sprintf("a list of values needs == or !=, not %s", cmp.Op)}
	}
	op := cmp.Op
	if op == OpNe {
		op = OpEq // negated below, so that a missing field counts as "not equal"
	}
	items := v.List
	if items == nil {
		items = []Scalar{v.Scalar}
	}
	parts := make([]string, 0, len(items))
	for _, s := range items {
		if s.Kind == ValExists {
			return "", &Error{Pos: s.Pos, Msg: "EXISTS! cannot be part of a list"}
		}
		p, err := c.scalar(f, op, s)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	joiner := " OR "
	if v.All {
		joiner = " AND "
	}
	sql := parts[0]
	if len(parts) > 1 {
		sql = "(" + strings.Join(parts, joiner) + ")"
	}
	if cmp.Op == OpNe {
		return "(NOT COALESCE(" + sql + ", FALSE))", nil
	}
	return sql, nil
}

// exists is true when the session has the field.
func (c *compiler) exists(f *model.Field) string {
	switch {
	case f.Column == "":
		return "COALESCE(" + c.d.AttrExists(f.Name) + ", FALSE)"
	case f.Type == model.TypeIP:
		return "(" + f.Column + "_hi IS NOT NULL)"
	case f.Type.IsList():
		return "(" + f.Column + " IS NOT NULL AND " + c.d.ListLen(f.Column) + " > 0)"
	default:
		return "(" + f.Column + " IS NOT NULL)"
	}
}

var sqlOps = map[CmpOp]string{OpEq: "=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

// scalar compiles one value against one field with ==, <, <=, > or >=.
func (c *compiler) scalar(f *model.Field, op CmpOp, s Scalar) (string, error) {
	elem := f.Type.Elem()
	if f.Column != "" && elem == model.TypeIP && !f.Type.IsList() {
		return c.ipColumn(f, op, s)
	}
	// The SQL expression holding the value (or each element of a list).
	var target string
	numeric := elem == model.TypeInt || elem == model.TypeTime || elem == model.TypeFloat
	switch {
	case f.Column != "":
		target = f.Column
	case f.Type.IsList() && numeric:
		target = c.d.AttrNumbers(f.Name)
	case f.Type.IsList():
		target = c.d.AttrTexts(f.Name)
	case numeric:
		target = c.d.AttrNumber(f.Name)
	default:
		target = c.d.AttrText(f.Name)
	}
	build := func(x string) (string, error) {
		switch elem {
		case model.TypeInt, model.TypeTime, model.TypeFloat:
			return c.number(f, x, op, s)
		case model.TypeIP:
			return c.ipText(f, x, op, s)
		case model.TypeBool:
			return c.boolean(x, op, s)
		default:
			return c.text(x, op, s)
		}
	}
	if !f.Type.IsList() {
		return build(target)
	}
	// Any element matching is a match, as in Arkime. Errors surface before
	// the lambda is built, so build once outside to validate.
	var perr error
	sql := c.d.AnyElement(target, func(e string) string {
		p, err := build(e)
		if err != nil {
			perr = err
		}
		return p
	})
	if perr != nil {
		return "", perr
	}
	return sql, nil
}

func (c *compiler) text(target string, op CmpOp, s Scalar) (string, error) {
	switch {
	case s.Kind == ValRegex:
		if op != OpEq {
			return "", &Error{Pos: s.Pos, Msg: "a /regex/ needs == or !="}
		}
		if _, err := regexp.Compile(s.Text); err != nil {
			return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("invalid regular expression: %v", err)}
		}
		return c.d.Regex(target), c.bindLast(s.Text)
	case s.Kind == ValBare && strings.ContainsAny(s.Text, "*?"):
		if op != OpEq {
			return "", &Error{Pos: s.Pos, Msg: "a wildcard needs == or !="}
		}
		return c.d.Like(target), c.bindLast(likePattern(s.Text))
	default:
		return "(" + target + " " + sqlOps[op] + " " + c.bind(s.Text) + ")", nil
	}
}

// bindLast binds v and returns a nil error, so callers can return
// (sql-built-with-a-placeholder, c.bindLast(v)) in one statement.
func (c *compiler) bindLast(v any) error {
	c.bind(v)
	return nil
}

// likePattern turns Arkime wildcards into a LIKE pattern: * is any run, ? is
// one character, and LIKE's own % and _ (and the escape) match literally.
func likePattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (c *compiler) boolean(target string, op CmpOp, s Scalar) (string, error) {
	if op != OpEq || s.Kind == ValRegex {
		return "", &Error{Pos: s.Pos, Msg: "a boolean field takes == or != with true or false"}
	}
	switch strings.ToLower(s.Text) {
	case "true", "1":
		return "(" + target + " = " + c.bind("true") + ")", nil
	case "false", "0":
		return "(" + target + " = " + c.bind("false") + ")", nil
	}
	return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not a boolean: use true or false", s.Text)}
}

// rangeRe matches "lo-hi" with integers on both sides (negative allowed).
var rangeRe = regexp.MustCompile(`^(-?[0-9]+)-(-?[0-9]+)$`)

func (c *compiler) number(f *model.Field, target string, op CmpOp, s Scalar) (string, error) {
	if s.Kind == ValRegex || (s.Kind == ValBare && strings.ContainsAny(s.Text, "*?")) {
		return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("field %s holds %s values: wildcards and regular expressions do not apply", f.Name, f.Type.Elem())}
	}
	parse := func(text string) (any, error) {
		switch f.Type.Elem() {
		case model.TypeTime:
			ms, err := ParseTime(text)
			if err != nil {
				return nil, &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not a time for %s: %v", text, f.Name, err)}
			}
			return ms, nil
		case model.TypeFloat:
			x, err := strconv.ParseFloat(text, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not a number for %s", text, f.Name)}
			}
			return x, nil
		default:
			x, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return nil, &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not an integer for %s (use lo-hi for a range)", text, f.Name)}
			}
			return x, nil
		}
	}
	if s.Kind == ValBare && f.Type.Elem() == model.TypeInt {
		if m := rangeRe.FindStringSubmatch(s.Text); m != nil {
			if op != OpEq {
				return "", &Error{Pos: s.Pos, Msg: "a range needs == or !="}
			}
			lo, err1 := strconv.ParseInt(m[1], 10, 64)
			hi, err2 := strconv.ParseInt(m[2], 10, 64)
			if err1 != nil || err2 != nil || lo > hi {
				return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not a valid range: expected lo-hi with lo <= hi", s.Text)}
			}
			return "(" + target + " BETWEEN " + c.bind(lo) + " AND " + c.bind(hi) + ")", nil
		}
	}
	v, err := parse(s.Text)
	if err != nil {
		return "", err
	}
	return "(" + target + " " + sqlOps[op] + " " + c.bind(v) + ")", nil
}

// ParseTime reads RFC 3339 or epoch seconds or milliseconds (numbers below
// 10^11 are seconds: that is the year 5138 in seconds, 1973 in ms) and
// returns epoch milliseconds.
func ParseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative epoch time")
		}
		if n < 100_000_000_000 {
			if n > math.MaxInt64/1000 {
				return 0, fmt.Errorf("out of range")
			}
			return n * 1000, nil
		}
		return n, nil
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) && x >= 0 && x < 1e15 {
		if x < 1e11 {
			return int64(x * 1000), nil
		}
		return int64(x), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("expected RFC 3339 or epoch seconds/milliseconds")
	}
	return t.UnixMilli(), nil
}

// ipBounds interprets an address value: a single address, CIDR, a partial
// IPv4 address (10.1 is 10.1.0.0/16), or lo-hi. port is -1 unless the value
// was ip:port.
func ipBounds(text string) (lo, hi netip.Addr, port int, err error) {
	port = -1
	if ap, e := netip.ParseAddrPort(text); e == nil {
		return ap.Addr().Unmap(), ap.Addr().Unmap(), int(ap.Port()), nil
	}
	if p, e := netip.ParsePrefix(text); e == nil {
		p = p.Masked()
		return p.Addr().Unmap(), lastInPrefix(p).Unmap(), -1, nil
	}
	if a, e := netip.ParseAddr(text); e == nil {
		return a.Unmap(), a.Unmap(), -1, nil
	}
	if i := strings.IndexByte(text, '-'); i > 0 {
		a, e1 := netip.ParseAddr(text[:i])
		b, e2 := netip.ParseAddr(text[i+1:])
		if e1 == nil && e2 == nil && a.Unmap().Compare(b.Unmap()) <= 0 && a.Unmap().Is4() == b.Unmap().Is4() {
			return a.Unmap(), b.Unmap(), -1, nil
		}
	}
	// Partial IPv4: one to three octets, with or without a trailing dot.
	trimmed := strings.TrimSuffix(text, ".")
	octets := strings.Split(trimmed, ".")
	if len(octets) >= 1 && len(octets) <= 3 {
		var b [4]byte
		ok := true
		for i, o := range octets {
			n, e := strconv.Atoi(o)
			if e != nil || n < 0 || n > 255 || o == "" || (len(o) > 1 && o[0] == '0') {
				ok = false
				break
			}
			b[i] = byte(n)
		}
		if ok {
			p := netip.PrefixFrom(netip.AddrFrom4(b), 8*len(octets))
			return p.Addr(), lastInPrefix(p), -1, nil
		}
	}
	return netip.Addr{}, netip.Addr{}, -1, fmt.Errorf("expected an address, CIDR (10.0.0.0/8), partial address (10.1), ip:port or lo-hi range")
}

func lastInPrefix(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			if i*8+bit >= bits {
				b[i] |= 0x80 >> bit
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ipColumn compiles a value against an address stored as two 64-bit halves.
func (c *compiler) ipColumn(f *model.Field, op CmpOp, s Scalar) (string, error) {
	if s.Kind != ValBare && s.Kind != ValQuoted {
		return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("field %s holds addresses: wildcards and regular expressions do not apply", f.Name)}
	}
	lo, hi, port, err := ipBounds(s.Text)
	if err != nil {
		return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not an address for %s: %v", s.Text, f.Name, err)}
	}
	H, L := f.Column+"_hi", f.Column+"_lo"
	loH, loL := model.IPParts(lo)
	hiH, hiL := model.IPParts(hi)
	if op != OpEq {
		if lo != hi || port >= 0 {
			return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%s needs a single address", op)}
		}
		// Lexicographic comparison on (hi, lo).
		strict := map[CmpOp]string{OpLt: "<", OpLe: "<", OpGt: ">", OpGe: ">"}[op]
		last := sqlOps[op]
		return "(" + H + " " + strict + " " + c.bind(loH) + " OR (" + H + " = " + c.bind(loH) + " AND " + L + " " + last + " " + c.bind(loL) + "))", nil
	}
	var sql string
	switch {
	case lo == hi:
		sql = "(" + H + " = " + c.bind(loH) + " AND " + L + " = " + c.bind(loL) + ")"
	case loH == hiH:
		sql = "(" + H + " = " + c.bind(loH) + " AND " + L + " BETWEEN " + c.bind(loL) + " AND " + c.bind(hiL) + ")"
	default:
		sql = "((" + H + " > " + c.bind(loH) + " OR (" + H + " = " + c.bind(loH) + " AND " + L + " >= " + c.bind(loL) + ")) AND (" +
			H + " < " + c.bind(hiH) + " OR (" + H + " = " + c.bind(hiH) + " AND " + L + " <= " + c.bind(hiL) + ")))"
	}
	if port >= 0 {
		pf, ok := c.reg.Lookup(strings.TrimSuffix(f.Name, ".ip") + ".port")
		if !ok || pf.Column == "" {
			return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("field %s has no port to match ip:port against", f.Name)}
		}
		sql = "(" + sql + " AND " + pf.Column + " = " + c.bind(int64(port)) + ")"
	}
	return sql, nil
}

// ipText compiles an address value against addresses kept as text (in the
// attribute document): exact addresses, and CIDR or partial addresses on
// octet boundaries as prefixes.
func (c *compiler) ipText(f *model.Field, target string, op CmpOp, s Scalar) (string, error) {
	if s.Kind == ValRegex || strings.ContainsAny(s.Text, "*?") {
		return c.text(target, op, s)
	}
	if op != OpEq {
		return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%s on %s needs an address stored in a column; use == or !=", op, f.Name)}
	}
	lo, hi, port, err := ipBounds(s.Text)
	if err != nil || port >= 0 {
		return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%q is not an address for %s", s.Text, f.Name)}
	}
	if lo == hi {
		return "(" + target + " = " + c.bind(lo.String()) + ")", nil
	}
	if lo.Is4() {
		l, h := lo.As4(), hi.As4()
		var prefix []string
		for i := 0; i < 4; i++ {
			if l[i] == h[i] {
				prefix = append(prefix, strconv.Itoa(int(l[i])))
				continue
			}
			if l[i] == 0 && h[i] == 255 && allOctets(l[i:], 0) && allOctets(h[i:], 255) {
				return c.d.Like(target), c.bindLast(strings.Join(prefix, ".") + ".%")
			}
			break
		}
	}
	return "", &Error{Pos: s.Pos, Msg: fmt.Sprintf("%s keeps addresses as text: only whole addresses and prefixes on octet boundaries (/8, /16, /24) can be matched", f.Name)}
}

func allOctets(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}
