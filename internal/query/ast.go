package query

import "strings"

// Pos is a 0-based byte offset into the query text.
type Pos int

// Expr is a node of the expression tree: *BinaryExpr, *NotExpr or
// *Comparison. Parentheses only group and have no node of their own.
type Expr interface {
	// Pos returns the offset of the first byte of the expression (for a
	// parenthesised group, the first byte inside the parentheses).
	Pos() Pos
	// String renders canonical text that parses back to an identical tree,
	// positions aside.
	String() string
	exprNode()
}

// BoolOp is a boolean connective joining two expressions.
type BoolOp int

// The boolean connectives. OpAnd binds tighter than OpOr.
const (
	OpAnd BoolOp = iota + 1 // &&
	OpOr                    // ||
)

// String returns the operator as written in a query: "&&" or "||".
func (op BoolOp) String() string {
	switch op {
	case OpAnd:
		return "&&"
	case OpOr:
		return "||"
	}
	return "BoolOp(?)"
}

// precedence orders the connectives; higher binds tighter.
func (op BoolOp) precedence() int {
	if op == OpAnd {
		return 2
	}
	return 1
}

// BinaryExpr is Left && Right or Left || Right.
type BinaryExpr struct {
	Op          BoolOp
	Left, Right Expr
	OpPos       Pos // position of the "&&" or "||"
}

// NotExpr is !X.
type NotExpr struct {
	X      Expr
	NotPos Pos // position of the "!"
}

// CmpOp is a comparison operator between a field and a value.
type CmpOp int

// The comparison operators.
const (
	OpEq CmpOp = iota + 1 // ==
	OpNe                  // !=
	OpLt                  // <
	OpLe                  // <=
	OpGt                  // >
	OpGe                  // >=
)

// String returns the operator as written in a query, e.g. "==" or ">=".
func (op CmpOp) String() string {
	switch op {
	case OpEq:
		return "=="
	case OpNe:
		return "!="
	case OpLt:
		return "<"
	case OpLe:
		return "<="
	case OpGt:
		return ">"
	case OpGe:
		return ">="
	}
	return "CmpOp(?)"
}

// Comparison is "field OP value", the only leaf of the tree.
type Comparison struct {
	Field    string // canonical field name, as returned by the resolver
	FieldPos Pos    // position of the field name as written
	Op       CmpOp
	OpPos    Pos
	Value    Value
}

// ValueKind says how a scalar value was written.
type ValueKind int

// The scalar kinds.
const (
	ValBare   ValueKind = iota + 1 // an unquoted word such as 10.0.0.0/8 or *.example.com
	ValQuoted                      // a "double-quoted" string
	ValRegex                       // a /regex/
	ValExists                      // EXISTS!
)

// String returns a lower-case name for the kind, for messages and debugging.
func (k ValueKind) String() string {
	switch k {
	case ValBare:
		return "bare"
	case ValQuoted:
		return "quoted"
	case ValRegex:
		return "regex"
	case ValExists:
		return "exists"
	}
	return "ValueKind(?)"
}

// Scalar is a single value or list item.
//
// Text depends on Kind: for ValBare the word verbatim (wildcards and
// backslashes included); for ValQuoted the text with escapes resolved; for
// ValRegex the body between the slashes with \/ turned into / and every other
// escape kept verbatim; for ValExists the literal "EXISTS!".
type Scalar struct {
	Kind ValueKind
	Text string
	Pos  Pos // position of the first byte, including an opening quote or slash
}

// Value is the right-hand side of a comparison: either a single Scalar or a
// list of them.
type Value struct {
	Scalar          // used when List == nil
	List   []Scalar // non-nil (and non-empty) for [a,b] and ]a,b[
	All    bool     // true for ]a,b[ (all of), false for [a,b] (any of)
	Pos    Pos      // position of the value's first byte ("[" or "]" for a list)
}

// existsText is how EXISTS! is written and stored.
const existsText = "EXISTS!"

func (*BinaryExpr) exprNode() {}
func (*NotExpr) exprNode()    {}
func (*Comparison) exprNode() {}

// Pos returns the position of the left operand's first byte.
func (b *BinaryExpr) Pos() Pos { return b.Left.Pos() }

// Pos returns the position of the "!".
func (n *NotExpr) Pos() Pos { return n.NotPos }

// Pos returns the position of the field name.
func (c *Comparison) Pos() Pos { return c.FieldPos }

// String renders the expression in canonical form.
func (b *BinaryExpr) String() string { return render(b) }

// String renders the expression in canonical form.
func (n *NotExpr) String() string { return render(n) }

// String renders the comparison in canonical form: "field OP value".
func (c *Comparison) String() string { return render(c) }

// String renders the value in canonical form: the scalar, or its items
// joined by ", " inside "[...]" (any of) or "]...[" (all of).
func (v Value) String() string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

// String renders the scalar so that it lexes back to the same Kind and Text.
func (s Scalar) String() string {
	var b strings.Builder
	writeScalar(&b, s)
	return b.String()
}

// render writes through one builder so that long left-leaning chains of
// && / || cost linear rather than quadratic time.
func render(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch n := e.(type) {
	case *BinaryExpr:
		// The parser builds left-leaning trees, so a left operand only needs
		// parentheses when it binds more loosely (|| under &&), while a right
		// operand also needs them at equal precedence: a || (b || c) must not
		// come back as (a || b) || c.
		writeOperand(b, n.Left, needsParens(n.Left, n.Op.precedence()))
		b.WriteByte(' ')
		b.WriteString(n.Op.String())
		b.WriteByte(' ')
		writeOperand(b, n.Right, needsParens(n.Right, n.Op.precedence()+1))
	case *NotExpr:
		// "!" binds tighter than both connectives, so any binary operand
		// needs parentheses; comparisons and other negations do not.
		b.WriteByte('!')
		_, isBinary := n.X.(*BinaryExpr)
		writeOperand(b, n.X, isBinary)
	case *Comparison:
		b.WriteString(n.Field)
		b.WriteByte(' ')
		b.WriteString(n.Op.String())
		b.WriteByte(' ')
		writeValue(b, n.Value)
	default:
		// Only reachable with a hand-built tree containing a nil Expr.
		b.WriteString("<nil>")
	}
}

// needsParens reports whether e, used where an operand of at least
// precedence minPrec is required, must be parenthesised.
func needsParens(e Expr, minPrec int) bool {
	bin, ok := e.(*BinaryExpr)
	return ok && bin.Op.precedence() < minPrec
}

func writeOperand(b *strings.Builder, e Expr, parens bool) {
	if parens {
		b.WriteByte('(')
	}
	writeExpr(b, e)
	if parens {
		b.WriteByte(')')
	}
}

func writeValue(b *strings.Builder, v Value) {
	if v.List == nil {
		writeScalar(b, v.Scalar)
		return
	}
	open, closer := byte('['), byte(']')
	if v.All {
		open, closer = ']', '['
	}
	b.WriteByte(open)
	for i, s := range v.List {
		if i > 0 {
			b.WriteString(", ")
		}
		writeScalar(b, s)
	}
	b.WriteByte(closer)
}

func writeScalar(b *strings.Builder, s Scalar) {
	switch s.Kind {
	case ValQuoted:
		// Escape exactly what the lexer unescapes; everything else, control
		// bytes and invalid UTF-8 included, is stored and written raw.
		b.WriteByte('"')
		for i := 0; i < len(s.Text); i++ {
			switch c := s.Text[i]; c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	case ValRegex:
		// The lexer keeps every escape except \/ verbatim, so in Text a
		// backslash always starts a two-byte escape and any other slash
		// was written as \/.
		b.WriteByte('/')
		for i := 0; i < len(s.Text); i++ {
			switch c := s.Text[i]; c {
			case '\\':
				b.WriteByte(c)
				if i+1 < len(s.Text) {
					i++
					b.WriteByte(s.Text[i])
				}
			case '/':
				b.WriteString(`\/`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('/')
	case ValExists:
		b.WriteString(existsText)
	default:
		b.WriteString(s.Text)
	}
}

// Walk calls fn for e and then, if fn returned true, for each of e's
// children in source order (pre-order). A nil e is ignored.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch n := e.(type) {
	case *BinaryExpr:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case *NotExpr:
		Walk(n.X, fn)
	}
}

// Fields returns the distinct canonical field names used in e, in order of
// first appearance.
func Fields(e Expr) []string {
	var names []string
	seen := make(map[string]bool)
	Walk(e, func(n Expr) bool {
		if c, ok := n.(*Comparison); ok && !seen[c.Field] {
			seen[c.Field] = true
			names = append(names, c.Field)
		}
		return true
	})
	return names
}
