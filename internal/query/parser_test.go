package query

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeResolver maps aliases and canonical names to canonical names.
type fakeResolver map[string]string

func (r fakeResolver) Resolve(name string) (string, bool) {
	c, ok := r[name]
	return c, ok
}

func (r fakeResolver) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var testFields = func() fakeResolver {
	r := fakeResolver{
		"ip.src":    "source.ip",
		"ip.dst":    "destination.ip",
		"port.src":  "source.port",
		"port.dst":  "destination.port",
		"host.http": "http.host",
	}
	for _, canonical := range []string{
		"source.ip", "destination.ip", "source.port", "destination.port",
		"http.host", "http.uri", "tags", "protocols", "a", "b", "c", "x",
	} {
		r[canonical] = canonical
	}
	return r
}()

// ignorePos makes cmp treat every Pos as equal, for the "identical tree,
// positions aside" comparisons.
var ignorePos = cmp.Comparer(func(Pos, Pos) bool { return true })

// AST constructors with zero positions, for expectations compared with
// ignorePos.
func cmpx(field string, op CmpOp, v Value) *Comparison {
	return &Comparison{Field: field, Op: op, Value: v}
}
func and(l, r Expr) *BinaryExpr { return &BinaryExpr{Op: OpAnd, Left: l, Right: r} }
func or(l, r Expr) *BinaryExpr  { return &BinaryExpr{Op: OpOr, Left: l, Right: r} }
func not(x Expr) *NotExpr       { return &NotExpr{X: x} }

func sBare(s string) Scalar   { return Scalar{Kind: ValBare, Text: s} }
func sQuoted(s string) Scalar { return Scalar{Kind: ValQuoted, Text: s} }
func sRegex(s string) Scalar  { return Scalar{Kind: ValRegex, Text: s} }

func bare(s string) Value     { return Value{Scalar: sBare(s)} }
func quoted(s string) Value   { return Value{Scalar: sQuoted(s)} }
func regex(s string) Value    { return Value{Scalar: sRegex(s)} }
func exists() Value           { return Value{Scalar: Scalar{Kind: ValExists, Text: "EXISTS!"}} }
func anyOf(s ...Scalar) Value { return Value{List: s} }
func allOf(s ...Scalar) Value { return Value{List: s, All: true} }
func eq(f, v string) Expr     { return cmpx(f, OpEq, bare(v)) }
func mustParse(t *testing.T, in string, r FieldResolver) Expr {
	t.Helper()
	e, err := Parse(in, r)
	if err != nil {
		t.Fatalf("Parse(%q): %v", in, err)
	}
	return e
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Expr
		str  string // canonical String() of the result
	}{
		// Every value form.
		{"ip", `ip.src == 10.0.0.1`, cmpx("source.ip", OpEq, bare("10.0.0.1")), `source.ip == 10.0.0.1`},
		{"range", `port.dst == 80-90`, cmpx("destination.port", OpEq, bare("80-90")), `destination.port == 80-90`},
		{"cidr", `ip.dst == 10.0.0.0/8`, cmpx("destination.ip", OpEq, bare("10.0.0.0/8")), `destination.ip == 10.0.0.0/8`},
		{"partial ip", `ip.src == 10.1`, cmpx("source.ip", OpEq, bare("10.1")), `source.ip == 10.1`},
		{"ip:port", `ip.dst == 10.0.0.1:443`, cmpx("destination.ip", OpEq, bare("10.0.0.1:443")), `destination.ip == 10.0.0.1:443`},
		{"wildcard", `host.http == *.example.com`, cmpx("http.host", OpEq, bare("*.example.com")), `http.host == *.example.com`},
		{"wildcard ?", `host.http == fo*o?`, cmpx("http.host", OpEq, bare("fo*o?")), `http.host == fo*o?`},
		{"timestamp", `x >= 2024-01-01T00:00:00Z`, cmpx("x", OpGe, bare("2024-01-01T00:00:00Z")), `x >= 2024-01-01T00:00:00Z`},
		{"negative", `x > -5`, cmpx("x", OpGt, bare("-5")), `x > -5`},
		{"fraction", `x <= 1.5`, cmpx("x", OpLe, bare("1.5")), `x <= 1.5`},
		{"quoted with escaped quote", `host.http == "quoted \"x\""`, cmpx("http.host", OpEq, quoted(`quoted "x"`)), `http.host == "quoted \"x\""`},
		{"quoted escapes", `x == "a\\b\n\t\*c"`, cmpx("x", OpEq, quoted("a\\b\n\t*c")), `x == "a\\b\n\t*c"`},
		{"quoted specials", `x == "a b(c)[d],e&&f||g!h=i<j>k"`, cmpx("x", OpEq, quoted("a b(c)[d],e&&f||g!h=i<j>k")), `x == "a b(c)[d],e&&f||g!h=i<j>k"`},
		{"quoted empty", `x == ""`, cmpx("x", OpEq, quoted("")), `x == ""`},
		{"quoted raw newline", "x == \"a\nb\"", cmpx("x", OpEq, quoted("a\nb")), `x == "a\nb"`},
		{"regex", `host.http == /^ab.*c$/`, cmpx("http.host", OpEq, regex(`^ab.*c$`)), `http.host == /^ab.*c$/`},
		{"regex escapes", `x == /a\/b\d\\/`, cmpx("x", OpEq, regex(`a/b\d\\`)), `x == /a\/b\d\\/`},
		{"regex with spaces", `x == /a b/`, cmpx("x", OpEq, regex(`a b`)), `x == /a b/`},
		{"any of", `port.dst == [80,443]`, cmpx("destination.port", OpEq, anyOf(sBare("80"), sBare("443"))), `destination.port == [80, 443]`},
		{"any of one", `port.dst == [80]`, cmpx("destination.port", OpEq, anyOf(sBare("80"))), `destination.port == [80]`},
		{"any of mixed", `x != [ a , "b c" , /d/ ]`, cmpx("x", OpNe, anyOf(sBare("a"), sQuoted("b c"), sRegex("d"))), `x != [a, "b c", /d/]`},
		{"all of", `tags == ]a,b[`, cmpx("tags", OpEq, allOf(sBare("a"), sBare("b"))), `tags == ]a, b[`},
		{"all of spaced", `tags == ] a , b [`, cmpx("tags", OpEq, allOf(sBare("a"), sBare("b"))), `tags == ]a, b[`},
		{"exists", `http.uri == EXISTS!`, cmpx("http.uri", OpEq, exists()), `http.uri == EXISTS!`},
		{"not exists", `x != EXISTS!`, cmpx("x", OpNe, exists()), `x != EXISTS!`},
		{"exists compact", `x!=EXISTS!`, cmpx("x", OpNe, exists()), `x != EXISTS!`},
		{"EXISTS without bang is bare", `x == EXISTS`, cmpx("x", OpEq, bare("EXISTS")), `x == EXISTS`},
		{"exists is case-sensitive", `x == exists`, cmpx("x", OpEq, bare("exists")), `x == exists`},
		{"bare containing EXISTS", `x == EXISTSx`, cmpx("x", OpEq, bare("EXISTSx")), `x == EXISTSx`},
		{"slash inside bare", `x == a/b/`, cmpx("x", OpEq, bare("a/b/")), `x == a/b/`},
		{"backslash in bare", `x == a\*b`, cmpx("x", OpEq, bare(`a\*b`)), `x == a\*b`},
		{"utf-8 bare", `x == héllo`, cmpx("x", OpEq, bare("héllo")), `x == héllo`},

		// Every operator, with and without whitespace.
		{"eq compact", `ip.src==10.0.0.1`, cmpx("source.ip", OpEq, bare("10.0.0.1")), `source.ip == 10.0.0.1`},
		{"ne", `x!=1`, cmpx("x", OpNe, bare("1")), `x != 1`},
		{"lt", `x<1`, cmpx("x", OpLt, bare("1")), `x < 1`},
		{"le", `x<=1`, cmpx("x", OpLe, bare("1")), `x <= 1`},
		{"gt", `x>1`, cmpx("x", OpGt, bare("1")), `x > 1`},
		{"ge spaced", `port.dst >= 80`, cmpx("destination.port", OpGe, bare("80")), `destination.port >= 80`},
		{"lots of whitespace", " \t\n x \r\n==\v\f 1 \n", eq("x", "1"), `x == 1`},

		// Precedence and associativity.
		{"and binds tighter", `a==1 || b==2 && c==3`, or(eq("a", "1"), and(eq("b", "2"), eq("c", "3"))), `a == 1 || b == 2 && c == 3`},
		{"and binds tighter left", `a==1 && b==2 || c==3`, or(and(eq("a", "1"), eq("b", "2")), eq("c", "3")), `a == 1 && b == 2 || c == 3`},
		{"and left assoc", `a==1 && b==2 && c==3`, and(and(eq("a", "1"), eq("b", "2")), eq("c", "3")), `a == 1 && b == 2 && c == 3`},
		{"or left assoc", `a==1||b==2||c==3`, or(or(eq("a", "1"), eq("b", "2")), eq("c", "3")), `a == 1 || b == 2 || c == 3`},
		{"parens override", `(a==1 || b==2) && c==3`, and(or(eq("a", "1"), eq("b", "2")), eq("c", "3")), `(a == 1 || b == 2) && c == 3`},
		{"right-nested and keeps parens", `a==1 && (b==2 && c==3)`, and(eq("a", "1"), and(eq("b", "2"), eq("c", "3"))), `a == 1 && (b == 2 && c == 3)`},
		{"right-nested or keeps parens", `a==1 || (b==2 || c==3)`, or(eq("a", "1"), or(eq("b", "2"), eq("c", "3"))), `a == 1 || (b == 2 || c == 3)`},
		{"redundant parens dropped", `((a==1)) || (b==2 && c==3)`, or(eq("a", "1"), and(eq("b", "2"), eq("c", "3"))), `a == 1 || b == 2 && c == 3`},
		{"nested parens", `((a==1 || (b==2)) && (c==3 || (x==4 && a==5)))`,
			and(or(eq("a", "1"), eq("b", "2")), or(eq("c", "3"), and(eq("x", "4"), eq("a", "5")))),
			`(a == 1 || b == 2) && (c == 3 || x == 4 && a == 5)`},

		// "!" binds tightest.
		{"not comparison", `!a==1`, not(eq("a", "1")), `!a == 1`},
		{"not parens", `!(a==1)`, not(eq("a", "1")), `!a == 1`},
		{"not binds tighter than and", `!a==1 && b==2`, and(not(eq("a", "1")), eq("b", "2")), `!a == 1 && b == 2`},
		{"not of group", `!(a==1 && b==2)`, not(and(eq("a", "1"), eq("b", "2"))), `!(a == 1 && b == 2)`},
		{"not of or", `! ( a==1 || b==2 ) || c==3`, or(not(or(eq("a", "1"), eq("b", "2"))), eq("c", "3")), `!(a == 1 || b == 2) || c == 3`},
		{"double not", `!!a==1`, not(not(eq("a", "1"))), `!!a == 1`},
		{"not spaced", `! ! a == 1`, not(not(eq("a", "1"))), `!!a == 1`},
		{"not on right", `a==1 && !b!=2`, and(eq("a", "1"), not(cmpx("b", OpNe, bare("2")))), `a == 1 && !b != 2`},

		// Field names.
		{"canonical name", `source.ip == 1`, cmpx("source.ip", OpEq, bare("1")), `source.ip == 1`},
		{"compact and/or", `a==1&&b==2||c==[1,2]&&x==EXISTS!`,
			or(and(eq("a", "1"), eq("b", "2")), and(cmpx("c", OpEq, anyOf(sBare("1"), sBare("2"))), cmpx("x", OpEq, exists()))),
			`a == 1 && b == 2 || c == [1, 2] && x == EXISTS!`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.in, testFields)
			if diff := cmp.Diff(tt.want, got, ignorePos); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.str)
			}
			checkPositions(t, tt.in, got)
			checkRoundTrip(t, got, testFields)
		})
	}
}

// TestParsePositions pins the exact positions recorded in the tree.
func TestParsePositions(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
	}{
		{`ip.src == 10.0.0.1`, &Comparison{Field: "source.ip", FieldPos: 0, Op: OpEq, OpPos: 7,
			Value: Value{Scalar: Scalar{Kind: ValBare, Text: "10.0.0.1", Pos: 10}, Pos: 10}}},
		{`  x>="q"`, &Comparison{Field: "x", FieldPos: 2, Op: OpGe, OpPos: 3,
			Value: Value{Scalar: Scalar{Kind: ValQuoted, Text: "q", Pos: 5}, Pos: 5}}},
		{`x==/r/`, &Comparison{Field: "x", FieldPos: 0, Op: OpEq, OpPos: 1,
			Value: Value{Scalar: Scalar{Kind: ValRegex, Text: "r", Pos: 3}, Pos: 3}}},
		{`x != EXISTS!`, &Comparison{Field: "x", FieldPos: 0, Op: OpNe, OpPos: 2,
			Value: Value{Scalar: Scalar{Kind: ValExists, Text: "EXISTS!", Pos: 5}, Pos: 5}}},
		{`tags == ]a, "b"[`, &Comparison{Field: "tags", FieldPos: 0, Op: OpEq, OpPos: 5,
			Value: Value{List: []Scalar{{Kind: ValBare, Text: "a", Pos: 9}, {Kind: ValQuoted, Text: "b", Pos: 12}}, All: true, Pos: 8}}},
		{`!(a==1 || b==2) && c==3`, &BinaryExpr{Op: OpAnd, OpPos: 16,
			Left: &NotExpr{NotPos: 0, X: &BinaryExpr{Op: OpOr, OpPos: 7,
				Left: &Comparison{Field: "a", FieldPos: 2, Op: OpEq, OpPos: 3,
					Value: Value{Scalar: Scalar{Kind: ValBare, Text: "1", Pos: 5}, Pos: 5}},
				Right: &Comparison{Field: "b", FieldPos: 10, Op: OpEq, OpPos: 11,
					Value: Value{Scalar: Scalar{Kind: ValBare, Text: "2", Pos: 13}, Pos: 13}}}},
			Right: &Comparison{Field: "c", FieldPos: 19, Op: OpEq, OpPos: 20,
				Value: Value{Scalar: Scalar{Kind: ValBare, Text: "3", Pos: 22}, Pos: 22}}}},
	}
	for _, tt := range tests {
		got := mustParse(t, tt.in, testFields)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	e := mustParse(t, `(a==1) || b==2`, testFields)
	if e.Pos() != 1 {
		t.Errorf("Pos() of a parenthesised left operand = %d, want 1 (inside the parenthesis)", e.Pos())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		pos  Pos
		msg  string
	}{
		{"empty", ``, 0, `empty query: expected an expression, found end of query`},
		{"blank", `   `, 3, `empty query: expected an expression, found end of query`},
		{"unclosed paren", `a==1 && (b==2`, 13, `unbalanced parenthesis: "(" at position 8 is never closed`},
		{"unclosed nested paren", `((a==1)`, 7, `unbalanced parenthesis: "(" at position 0 is never closed`},
		{"extra close paren", `a==1)`, 4, `unexpected ")" with no matching "(": expected "&&", "||" or end of query`},
		{"extra close paren after group", `(a==1)) && b==2`, 6, `unexpected ")" with no matching "(": expected "&&", "||" or end of query`},
		{"empty parens", `()`, 1, `expected a field name, "(" or "!", found ")"`},
		{"garbage in parens", `(a==1 b==2)`, 6, `expected "&&", "||" or ")" to close "(" at position 0, found "b"`},
		{"trailing garbage", `a==1 b==2`, 5, `expected "&&", "||" or end of query, found "b"`},
		{"trailing bang", `x == 1!`, 6, `expected "&&", "||" or end of query, found "!"`},
		{"trailing after exists", `x == EXISTS!!`, 12, `expected "&&", "||" or end of query, found "!"`},
		{"trailing after regex", `x == /a/i`, 8, `expected "&&", "||" or end of query, found "i"`},
		{"trailing operator", `a==1 ==`, 5, `expected "&&", "||" or end of query, found "=="`},
		{"lone amp", `a==1 & b==2`, 5, `expected "&&", "||" or end of query, found "&" (did you mean "&&"?)`},
		{"lone pipe", `a==1 | b==2`, 5, `expected "&&", "||" or end of query, found "|" (did you mean "||"?)`},
		{"missing operand after and", `a==1 &&`, 7, `expected a field name, "(" or "!", found end of query`},
		{"missing operand after or", `a==1 || || b==2`, 8, `expected a field name, "(" or "!", found "||"`},
		{"leading and", `&& a==1`, 0, `expected a field name, "(" or "!", found "&&"`},
		{"not at end", `!`, 1, `expected a field name, "(" or "!", found end of query`},
		{"not before ne", `!=1`, 1, `expected a field name, "(" or "!", found "="`},
		{"quoted field", `"a" == 1`, 0, `expected a field name, "(" or "!", found a quoted string`},
		{"unterminated quote in field position", `"a == 1`, 0, `expected a field name, "(" or "!", found a quoted string`},
		{"bracket in field position", `]a == 1`, 0, `expected a field name, "(" or "!", found "]"`},
		{"missing value", `a ==`, 4, `expected a value after "==", found end of query`},
		{"missing value before and", `ip.src == && b==1`, 10, `expected a value after "==", found "&&"`},
		{"missing value before paren", `(a <= )`, 6, `expected a value after "<=", found ")"`},
		{"bang as value", `x == !a`, 5, `expected a value after "==", found "!"`},
		{"triple equals", `x === 1`, 4, `expected a value after "==", found "="`},
		{"missing operator", `ip.src 10.0.0.1`, 7, `expected an operator (==, !=, <, <=, >, >=) after field "ip.src", found "10.0.0.1"`},
		{"missing operator at end", `x`, 1, `expected an operator (==, !=, <, <=, >, >=) after field "x", found end of query`},
		{"single equals", `x = 1`, 2, `expected an operator (==, !=, <, <=, >, >=) after field "x", found "="`},
		{"reversed operator", `x =< 1`, 2, `expected an operator (==, !=, <, <=, >, >=) after field "x", found "="`},
		{"bang not ne", `x !1`, 2, `expected an operator (==, !=, <, <=, >, >=) after field "x", found "!"`},
		{"quote as operator", `x "1`, 2, `expected an operator (==, !=, <, <=, >, >=) after field "x", found a quoted string`},
		{"unknown field with suggestion", `a==1 && ip.scr == 10.0.0.1`, 8, `unknown field "ip.scr"; did you mean "ip.src"?`},
		{"unknown field case", `IP.DST == 1`, 0, `unknown field "IP.DST"; did you mean "ip.dst"?`},
		{"unknown field canonical typo", `http.urii == 1`, 0, `unknown field "http.urii"; did you mean "http.uri"?`},
		{"unknown field no suggestion", `zzzzzzzz == 1`, 0, `unknown field "zzzzzzzz"`},
		{"unterminated quoted", `x == "abc`, 5, `unterminated quoted string: expected a closing ", found end of query`},
		{"unterminated quoted escape", `x == "abc\"`, 5, `unterminated quoted string: expected a closing ", found end of query`},
		{"unterminated quoted trailing backslash", `x == "abc\`, 5, `unterminated quoted string: expected a closing ", found end of query`},
		{"unterminated regex", `x == /abc`, 5, `unterminated regex: expected a closing "/", found end of query`},
		{"unterminated regex escape", `x == /abc\/`, 5, `unterminated regex: expected a closing "/", found end of query`},
		{"unterminated quoted in list", `x == [a, "b]`, 9, `unterminated quoted string: expected a closing ", found end of query`},
		{"empty list", `x == []`, 5, `empty list: expected at least one value between "[" and "]"`},
		{"empty list spaced", `x == [ ]`, 5, `empty list: expected at least one value between "[" and "]"`},
		{"empty all-of list", `x == ][`, 5, `empty list: expected at least one value between "]" and "["`},
		{"unterminated list", `x == [a, b`, 10, `unterminated list: expected "," or "]" to close the list opened at position 5, found end of query`},
		{"unterminated all-of list", `x == ]a`, 7, `unterminated list: expected "," or "[" to close the list opened at position 5, found end of query`},
		{"list missing comma", `x == [a b]`, 8, `expected "," or "]" in the list opened at position 5, found "b"`},
		{"all-of closed wrongly", `x == ]a, b]`, 10, `expected "," or "[" in the list opened at position 5, found "]"`},
		{"list trailing comma", `x == [a,]`, 8, `expected a list item (a bare word, a quoted string or a regex), found "]"`},
		{"list leading comma", `x == [,a]`, 6, `expected a list item (a bare word, a quoted string or a regex), found ","`},
		{"list at end", `x == [`, 6, `expected a list item (a bare word, a quoted string or a regex), found end of query`},
		{"nested list", `x == [[a]]`, 6, `expected a list item (a bare word, a quoted string or a regex), found "["`},
		{"exists in list", `x == [a, EXISTS!]`, 9, `EXISTS! cannot be used inside a list: expected a bare word, a quoted string or a regex`},
		{"exists with lt", `x < EXISTS!`, 2, `EXISTS! only works with == or !=, found "<"`},
		{"exists with ge", `http.uri >= EXISTS!`, 9, `EXISTS! only works with == or !=, found ">="`},
		{"long garbage is shortened", `x == 1 ` + strings.Repeat("y", 100), 7, `expected "&&", "||" or end of query, found "` + strings.Repeat("y", 40) + `"...`},
		{"too long", strings.Repeat(" ", MaxQueryLength-5) + "x == 1", MaxQueryLength, `query is too long: expected at most 8192 bytes, found 8193`},
		{"too deep parens", strings.Repeat("(", MaxNestingDepth+1) + "x==1" + strings.Repeat(")", MaxNestingDepth+1), MaxNestingDepth,
			`expression is nested too deeply: expected at most 100 levels of "(" and "!", found more`},
		{"too deep nots", strings.Repeat("!", MaxNestingDepth+1) + "x==1", MaxNestingDepth,
			`expression is nested too deeply: expected at most 100 levels of "(" and "!", found more`},
		{"too deep mixed", strings.Repeat("!(", 51) + "x==1" + strings.Repeat(")", 51), 2 * 50,
			`expression is nested too deeply: expected at most 100 levels of "(" and "!", found more`},
		{"far too deep", strings.Repeat("(", MaxQueryLength), MaxNestingDepth,
			`expression is nested too deeply: expected at most 100 levels of "(" and "!", found more`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in, testFields)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, e)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T is not a *Error: %v", tt.in, err, err)
			}
			want := &Error{Pos: tt.pos, Msg: tt.msg}
			if diff := cmp.Diff(want, perr); diff != "" {
				t.Errorf("Parse(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestNestingLimitAccepted(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("(", MaxNestingDepth) + "x==1" + strings.Repeat(")", MaxNestingDepth),
		strings.Repeat("!", MaxNestingDepth) + "x==1",
		// Depth is about what is open at once, not the total count.
		strings.Repeat("(x==1) && ", 200) + "x==1",
	} {
		e := mustParse(t, in, testFields)
		checkRoundTrip(t, e, testFields)
	}
}

func TestLongChains(t *testing.T) {
	// Chains are parsed by loops, so their length is only bounded by
	// MaxQueryLength, not by MaxNestingDepth.
	in := strings.Repeat("x==1||", (MaxQueryLength-4)/6) + "x==1"
	e := mustParse(t, in, testFields)
	n := 0
	Walk(e, func(Expr) bool { n++; return true })
	if want := 2*((MaxQueryLength-4)/6) + 1; n != want {
		t.Errorf("Walk visited %d nodes, want %d", n, want)
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse(`a==1 && ip.src ==`, testFields)
	const want = `at position 17: expected a value after "==", found end of query`
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %v, want %q", err, want)
	}
}

func TestNilResolverAcceptsAnyField(t *testing.T) {
	e := mustParse(t, `Whatever.Field-1@x:y == 1 && ip.scr == 2`, nil)
	if diff := cmp.Diff([]string{"Whatever.Field-1@x:y", "ip.scr"}, Fields(e)); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
	checkPositions(t, `Whatever.Field-1@x:y == 1 && ip.scr == 2`, e)
	checkRoundTrip(t, e, nil)
}

func TestWalk(t *testing.T) {
	e := mustParse(t, `!(a==1 || b==2) && c==3`, testFields)
	var got []string
	Walk(e, func(n Expr) bool {
		switch n := n.(type) {
		case *BinaryExpr:
			got = append(got, n.Op.String())
		case *NotExpr:
			got = append(got, "!")
			return false // prune: a and b must not be visited
		case *Comparison:
			got = append(got, n.Field)
		}
		return true
	})
	if diff := cmp.Diff([]string{"&&", "!", "c"}, got); diff != "" {
		t.Errorf("Walk order mismatch (-want +got):\n%s", diff)
	}
	Walk(nil, func(Expr) bool { t.Error("fn called for nil"); return true })
}

func TestFields(t *testing.T) {
	e := mustParse(t, `ip.src == 1 || (source.ip == 2 && port.dst == 3) || !ip.src == 4 && tags == EXISTS!`, testFields)
	want := []string{"source.ip", "destination.port", "tags"}
	if diff := cmp.Diff(want, Fields(e)); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
}

func TestStringers(t *testing.T) {
	got := []string{
		OpAnd.String(), OpOr.String(),
		OpEq.String(), OpNe.String(), OpLt.String(), OpLe.String(), OpGt.String(), OpGe.String(),
		ValBare.String(), ValQuoted.String(), ValRegex.String(), ValExists.String(),
		Value{List: []Scalar{sQuoted(`a"b`), sRegex("c/d"), sBare("e")}}.String(),
		Value{List: []Scalar{sBare("1")}, All: true}.String(),
		Scalar{Kind: ValExists}.String(),
	}
	want := []string{
		"&&", "||",
		"==", "!=", "<", "<=", ">", ">=",
		"bare", "quoted", "regex", "exists",
		`["a\"b", /c\/d/, e]`,
		`]1[`,
		`EXISTS!`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String() mismatch (-want +got):\n%s", diff)
	}
}

func TestClosestName(t *testing.T) {
	names := []string{"ip.src", "ip.dst", "port.src", "port.dst", "host.http", "protocols"}
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ip.scr", "ip.src", true},
		{"IP.SRC", "ip.src", true},
		{"prot.dst", "port.dst", true},
		{"protocol", "protocols", true},
		{"hots.http", "host.http", true},
		{"ip", "", false},         // distance 4 > 2
		{"ip.sr", "ip.src", true}, // distance 1, versus 2 to "ip.dst"
		{"xxxxxxxxx", "", false},  // nothing close
		{strings.Repeat("a", 5000), "", false},
	}
	for _, tt := range tests {
		got, ok := closestName(tt.in, names)
		if got != tt.want || ok != tt.ok {
			t.Errorf("closestName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	// Ties are broken lexically, whatever order Names() uses.
	if got, _ := closestName("ab", []string{"ac", "aa"}); got != "aa" {
		t.Errorf("tie: got %q, want %q", got, "aa")
	}
}

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"ip.scr", "ip.src", 2},
		{"héllo", "hello", 1},
	}
	for _, tt := range tests {
		if got := levenshtein([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// checkRoundTrip asserts the canonical-text property: e.String() parses back
// to the same tree (positions aside) and renders to the same text.
func checkRoundTrip(t *testing.T, e Expr, r FieldResolver) {
	t.Helper()
	s1 := e.String()
	e2, err := Parse(s1, r)
	if err != nil {
		t.Fatalf("re-parsing canonical text %q: %v", s1, err)
	}
	if diff := cmp.Diff(e, e2, ignorePos); diff != "" {
		t.Fatalf("re-parsing %q gave a different tree (-first +second):\n%s", s1, diff)
	}
	if s2 := e2.String(); s2 != s1 {
		t.Fatalf("String() not stable: %q then %q", s1, s2)
	}
	checkPositions(t, s1, e2)
}

// checkPositions asserts that every position in the tree points at the text
// it claims to, and that positions increase left to right.
func checkPositions(t *testing.T, in string, e Expr) {
	t.Helper()
	at := func(p Pos, prefix string, what string) {
		t.Helper()
		if p < 0 || int(p) > len(in) || !strings.HasPrefix(in[p:], prefix) {
			t.Fatalf("%s: position %d of %q does not start with %q", what, p, in, prefix)
		}
	}
	scalar := func(s Scalar) {
		t.Helper()
		switch s.Kind {
		case ValBare:
			at(s.Pos, s.Text, "bare value")
		case ValQuoted:
			at(s.Pos, `"`, "quoted value")
		case ValRegex:
			at(s.Pos, "/", "regex value")
		case ValExists:
			at(s.Pos, "EXISTS!", "EXISTS! value")
		default:
			t.Fatalf("scalar %+v has no kind", s)
		}
	}
	Walk(e, func(n Expr) bool {
		switch n := n.(type) {
		case *BinaryExpr:
			at(n.OpPos, n.Op.String(), "boolean operator")
			if !(n.Left.Pos() < n.OpPos && n.OpPos < n.Right.Pos()) {
				t.Fatalf("binary positions out of order in %q: %d %d %d", in, n.Left.Pos(), n.OpPos, n.Right.Pos())
			}
		case *NotExpr:
			at(n.NotPos, "!", "not")
			if n.NotPos >= n.X.Pos() {
				t.Fatalf("not position %d not before operand %d in %q", n.NotPos, n.X.Pos(), in)
			}
		case *Comparison:
			at(n.FieldPos, "", "field")
			if n.FieldPos >= Pos(len(in)) || !isBareByte(in[n.FieldPos]) {
				t.Fatalf("field position %d of %q is not a bare word", n.FieldPos, in)
			}
			at(n.OpPos, n.Op.String(), "comparison operator")
			if !(n.FieldPos < n.OpPos && n.OpPos < n.Value.Pos) {
				t.Fatalf("comparison positions out of order in %q", in)
			}
			v := n.Value
			if v.List == nil {
				if v.Pos != v.Scalar.Pos {
					t.Fatalf("value position %d differs from scalar position %d in %q", v.Pos, v.Scalar.Pos, in)
				}
				scalar(v.Scalar)
				break
			}
			if len(v.List) == 0 || v.Scalar != (Scalar{}) {
				t.Fatalf("malformed list value %+v", v)
			}
			open := "["
			if v.All {
				open = "]"
			}
			at(v.Pos, open, "list")
			prev := v.Pos
			for _, s := range v.List {
				if s.Kind == ValExists || s.Pos <= prev {
					t.Fatalf("bad list item %+v in %q", s, in)
				}
				prev = s.Pos
				scalar(s)
			}
		default:
			t.Fatalf("unexpected node %T", n)
		}
		return true
	})
}
