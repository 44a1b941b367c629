package query

import "fmt"

// MaxQueryLength is the longest query, in bytes, that Parse accepts.
const MaxQueryLength = 8192

// MaxNestingDepth is how many "(" and "!" Parse allows to be open at once.
// The parser recurses once per level, so the cap keeps hostile input from
// exhausting the stack; no sane query comes close.
const MaxNestingDepth = 100

// FieldResolver maps a name as written (canonical or any alias) to its
// canonical name.
//
// Canonical names must resolve to themselves and consist only of bare-word
// bytes, because String renders canonical names and Parse must accept that
// text again.
type FieldResolver interface {
	Resolve(name string) (canonical string, ok bool)
	Names() []string // every accepted name, used to suggest the closest one
}

// Parse parses an Arkime expression. Field names are mapped to canonical
// names with fields; a nil fields accepts every name verbatim (useful for
// tooling that only needs the syntax). Every error returned is an *Error.
func Parse(input string, fields FieldResolver) (Expr, error) {
	if len(input) > MaxQueryLength {
		return nil, errorf(MaxQueryLength, "query is too long: expected at most %d bytes, found %d", MaxQueryLength, len(input))
	}
	p := &parser{lx: lexer{src: input}, fields: fields}
	if err := p.advance(modeGeneral); err != nil {
		return nil, err
	}
	if p.cur.kind == tokEOF {
		return nil, errorf(p.cur.pos, "empty query: expected an expression, found end of query")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.cur.kind != tokEOF {
		return nil, p.afterExprError(-1)
	}
	return e, nil
}

// parser is a recursive-descent parser with one token of lookahead (cur).
// Each production consumes cur and asks the lexer for the next token in the
// mode that the grammar dictates for the position that follows.
type parser struct {
	lx     lexer
	fields FieldResolver
	cur    token
	depth  int // open "(" and "!" on the current path
}

// advance replaces cur with the next token, read in the given mode.
func (p *parser) advance(mode lexMode) error {
	t, err := p.lx.next(mode)
	if err != nil {
		return err
	}
	p.cur = t
	return nil
}

func (p *parser) describe(t token) string { return describe(p.lx.src, t) }

// parseOr parses and { "||" and }. Looping instead of recursing makes ||
// left-associative and keeps long chains off the stack.
func (p *parser) parseOr() (Expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.cur.kind == tokOr {
		opPos := p.cur.pos
		if err := p.advance(modeGeneral); err != nil {
			return nil, err
		}
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &BinaryExpr{Op: OpOr, Left: left, Right: right, OpPos: opPos}
	}
	return left, nil
}

// parseAnd parses unary { "&&" unary }, left-associative like parseOr.
func (p *parser) parseAnd() (Expr, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.cur.kind == tokAnd {
		opPos := p.cur.pos
		if err := p.advance(modeGeneral); err != nil {
			return nil, err
		}
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &BinaryExpr{Op: OpAnd, Left: left, Right: right, OpPos: opPos}
	}
	return left, nil
}

// parseUnary parses "!" unary | "(" expr ")" | comparison.
func (p *parser) parseUnary() (Expr, error) {
	switch t := p.cur; t.kind {
	case tokNot:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		if err := p.advance(modeGeneral); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &NotExpr{X: x, NotPos: t.pos}, nil

	case tokLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		if err := p.advance(modeGeneral); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.cur.kind != tokRParen {
			return nil, p.afterExprError(t.pos)
		}
		if err := p.advance(modeGeneral); err != nil {
			return nil, err
		}
		p.depth--
		return x, nil

	case tokBare:
		return p.parseComparison()
	}
	return nil, errorf(p.cur.pos, `expected a field name, "(" or "!", found %s`, p.describe(p.cur))
}

// enter records one more level of nesting for the "(" or "!" token t.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxNestingDepth {
		return errorf(t.pos, `expression is nested too deeply: expected at most %d levels of "(" and "!", found more`, MaxNestingDepth)
	}
	return nil
}

// afterExprError reports the token that ended a complete expression without
// being what may follow it: "&&", "||", and either end of query (at top
// level, openParen < 0) or ")" (inside the group opened at openParen).
func (p *parser) afterExprError(openParen Pos) error {
	t := p.cur
	if openParen < 0 && t.kind == tokRParen {
		return errorf(t.pos, `unexpected ")" with no matching "(": expected "&&", "||" or end of query`)
	}
	if openParen >= 0 && t.kind == tokEOF {
		return errorf(t.pos, `unbalanced parenthesis: "(" at position %d is never closed`, openParen)
	}
	want := `"&&", "||" or end of query`
	if openParen >= 0 {
		want = fmt.Sprintf(`"&&", "||" or ")" to close "(" at position %d`, openParen)
	}
	msg := fmt.Sprintf("expected %s, found %s", want, p.describe(t))
	if t.kind == tokIllegal && (t.text == "&" || t.text == "|") {
		msg += fmt.Sprintf(" (did you mean %q?)", t.text+t.text)
	}
	return &Error{Pos: t.pos, Msg: msg}
}

// parseComparison parses field op value; cur is the field's bare word.
func (p *parser) parseComparison() (Expr, error) {
	ft := p.cur
	field := ft.text
	if p.fields != nil {
		canonical, ok := p.fields.Resolve(field)
		if !ok {
			return nil, unknownField(field, ft.pos, p.fields)
		}
		field = canonical
	}

	if err := p.advance(modeOperator); err != nil {
		return nil, err
	}
	if p.cur.kind != tokCmp {
		return nil, errorf(p.cur.pos, "expected an operator (==, !=, <, <=, >, >=) after field %s, found %s",
			snippet(ft.text), p.describe(p.cur))
	}
	op, opPos := p.cur.op, p.cur.pos

	if err := p.advance(modeValue); err != nil {
		return nil, err
	}
	v, err := p.parseValue(op, opPos)
	if err != nil {
		return nil, err
	}
	return &Comparison{Field: field, FieldPos: ft.pos, Op: op, OpPos: opPos, Value: v}, nil
}

// parseValue parses the value after the operator op; cur was read in value
// mode.
func (p *parser) parseValue(op CmpOp, opPos Pos) (Value, error) {
	t := p.cur
	switch t.kind {
	case tokBare, tokQuoted, tokRegex:
		if err := p.advance(modeGeneral); err != nil {
			return Value{}, err
		}
		return Value{Scalar: scalarOf(t), Pos: t.pos}, nil

	case tokExists:
		// Ordering against "exists" is meaningless, so reject it here
		// rather than leave every consumer to check. The error points at
		// the operator because that is what needs changing.
		if op != OpEq && op != OpNe {
			return Value{}, errorf(opPos, "EXISTS! only works with == or !=, found %q", op.String())
		}
		if err := p.advance(modeGeneral); err != nil {
			return Value{}, err
		}
		return Value{Scalar: scalarOf(t), Pos: t.pos}, nil

	case tokLBracket, tokRBracket:
		return p.parseList()
	}
	return Value{}, errorf(t.pos, "expected a value after %q, found %s", op.String(), p.describe(t))
}

// parseList parses "[" items "]" (any of) or "]" items "[" (all of); cur is
// the opening bracket.
func (p *parser) parseList() (Value, error) {
	open := p.cur
	all := open.kind == tokRBracket
	closeKind, closeText := tokRBracket, "]"
	if all {
		closeKind, closeText = tokLBracket, "["
	}
	if err := p.advance(modeValue); err != nil {
		return Value{}, err
	}
	if p.cur.kind == closeKind {
		return Value{}, errorf(open.pos, "empty list: expected at least one value between %q and %q", open.text, closeText)
	}

	var items []Scalar
	for {
		// cur is an item, read in value mode.
		t := p.cur
		switch t.kind {
		case tokBare, tokQuoted, tokRegex:
			items = append(items, scalarOf(t))
		case tokExists:
			return Value{}, errorf(t.pos, "EXISTS! cannot be used inside a list: expected a bare word, a quoted string or a regex")
		default:
			return Value{}, errorf(t.pos, "expected a list item (a bare word, a quoted string or a regex), found %s", p.describe(t))
		}

		// After an item only "," or the closing bracket may follow.
		if err := p.advance(modeGeneral); err != nil {
			return Value{}, err
		}
		switch p.cur.kind {
		case tokComma:
			if err := p.advance(modeValue); err != nil {
				return Value{}, err
			}
		case closeKind:
			if err := p.advance(modeGeneral); err != nil {
				return Value{}, err
			}
			return Value{List: items, All: all, Pos: open.pos}, nil
		case tokEOF:
			return Value{}, errorf(p.cur.pos, `unterminated list: expected "," or %q to close the list opened at position %d, found end of query`,
				closeText, open.pos)
		default:
			return Value{}, errorf(p.cur.pos, `expected "," or %q in the list opened at position %d, found %s`,
				closeText, open.pos, p.describe(p.cur))
		}
	}
}

// scalarOf converts a value token to a Scalar.
func scalarOf(t token) Scalar {
	kind := ValBare
	switch t.kind {
	case tokQuoted:
		kind = ValQuoted
	case tokRegex:
		kind = ValRegex
	case tokExists:
		kind = ValExists
	}
	return Scalar{Kind: kind, Text: t.text, Pos: t.pos}
}
