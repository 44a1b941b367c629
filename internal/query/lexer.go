package query

import "strings"

// tokenKind classifies a token.
type tokenKind int

const (
	tokEOF      tokenKind = iota
	tokIllegal            // a byte that starts no token: a lone "&", "|" or "="
	tokLParen             // (
	tokRParen             // )
	tokLBracket           // [
	tokRBracket           // ]
	tokComma              // ,
	tokNot                // !
	tokAnd                // &&
	tokOr                 // ||
	tokCmp                // == != < <= > >=
	tokBare               // a bare word
	tokQuoted             // "..."
	tokRegex              // /.../ (value mode only)
	tokExists             // EXISTS! (value mode only)
)

// token is one lexeme. src[pos:end] is exactly what was written.
type token struct {
	kind tokenKind
	pos  Pos
	end  Pos
	text string // bare word, unescaped quoted text or regex body
	op   CmpOp  // for tokCmp
}

// lexMode selects how the few context-sensitive bytes are read. Arkime's
// language cannot be tokenised without context: "!" is NOT at the start of an
// expression but part of "!=" after a field, "/" starts a regex only where a
// value is expected, and "EXISTS!" swallows a bang only there too. The parser
// always knows which of these positions it is in, so it tells the lexer.
type lexMode int

const (
	// modeGeneral is used at expression starts, after values and inside
	// list punctuation: "!" is always NOT and "/" is a bare byte.
	modeGeneral lexMode = iota
	// modeOperator is used right after a field name: "!=" is an operator.
	modeOperator
	// modeValue is used after an operator and for list items: "/" starts a
	// regex, EXISTS! is a keyword and unterminated strings are errors.
	modeValue
)

// lexer is an on-demand scanner over the query text; the parser pulls one
// token at a time, passing the mode for the position it is at.
type lexer struct {
	src string
	pos int
}

// isSpace reports whether c is ASCII whitespace. Only ASCII is considered so
// that the lexer can work byte by byte; other bytes belong to bare words.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// isBareByte reports whether c can appear in a bare word.
func isBareByte(c byte) bool {
	if isSpace(c) {
		return false
	}
	switch c {
	case '(', ')', '[', ']', ',', '"', '&', '|', '!', '=', '<', '>':
		return false
	}
	return true
}

// next scans the token at the current position, skipping leading whitespace.
// The only error it returns is an unterminated quoted string or regex in
// value mode; in other modes a stray quote is returned as a tokQuoted so that
// the parser can report what it expected instead.
func (l *lexer) next(mode lexMode) (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: Pos(start), end: Pos(start)}, nil
	}
	// peek reports whether the byte after the current one is c.
	peek := func(c byte) bool { return start+1 < len(l.src) && l.src[start+1] == c }
	simple := func(kind tokenKind, n int) (token, error) {
		l.pos = start + n
		return token{kind: kind, pos: Pos(start), end: Pos(l.pos), text: l.src[start:l.pos]}, nil
	}
	cmp := func(op CmpOp, n int) (token, error) {
		t, _ := simple(tokCmp, n)
		t.op = op
		return t, nil
	}

	switch c := l.src[start]; c {
	case '(':
		return simple(tokLParen, 1)
	case ')':
		return simple(tokRParen, 1)
	case '[':
		return simple(tokLBracket, 1)
	case ']':
		return simple(tokRBracket, 1)
	case ',':
		return simple(tokComma, 1)
	case '&':
		if peek('&') {
			return simple(tokAnd, 2)
		}
		return simple(tokIllegal, 1)
	case '|':
		if peek('|') {
			return simple(tokOr, 2)
		}
		return simple(tokIllegal, 1)
	case '!':
		if mode == modeOperator && peek('=') {
			return cmp(OpNe, 2)
		}
		return simple(tokNot, 1)
	case '=':
		if peek('=') {
			return cmp(OpEq, 2)
		}
		return simple(tokIllegal, 1)
	case '<':
		if peek('=') {
			return cmp(OpLe, 2)
		}
		return cmp(OpLt, 1)
	case '>':
		if peek('=') {
			return cmp(OpGe, 2)
		}
		return cmp(OpGt, 1)
	case '"':
		text, end, ok := scanQuoted(l.src, start)
		if !ok && mode == modeValue {
			return token{}, errorf(Pos(start), "unterminated quoted string: expected a closing \", found end of query")
		}
		l.pos = end
		return token{kind: tokQuoted, pos: Pos(start), end: Pos(end), text: text}, nil
	case '/':
		if mode == modeValue {
			text, end, ok := scanRegex(l.src, start)
			if !ok {
				return token{}, errorf(Pos(start), "unterminated regex: expected a closing \"/\", found end of query")
			}
			l.pos = end
			return token{kind: tokRegex, pos: Pos(start), end: Pos(end), text: text}, nil
		}
	}

	// Everything else is a bare word: a maximal run of bare bytes. The switch
	// above returned for every non-bare byte, so the run is never empty.
	end := start
	for end < len(l.src) && isBareByte(l.src[end]) {
		end++
	}
	l.pos = end
	word := l.src[start:end]
	// EXISTS! is the one bare word that includes a non-bare byte, and only
	// where a value is expected: in field position "EXISTS!=1" must still
	// read as the field EXISTS and the operator !=.
	if mode == modeValue && word == "EXISTS" && end < len(l.src) && l.src[end] == '!' {
		l.pos = end + 1
		return token{kind: tokExists, pos: Pos(start), end: Pos(l.pos), text: existsText}, nil
	}
	return token{kind: tokBare, pos: Pos(start), end: Pos(end), text: word}, nil
}

// scanQuoted reads the quoted string whose opening quote is at src[start].
// It returns the unescaped text and the offset just past the closing quote,
// or ok=false (and end=len(src)) when the string is never closed.
func scanQuoted(src string, start int) (text string, end int, ok bool) {
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 >= len(src) {
				return "", len(src), false
			}
			i++
			switch e := src[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				// \" and \\ fall in here too: a backslash before any other
				// byte yields that byte, so users never need to know which
				// escapes are "valid".
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", len(src), false
}

// scanRegex reads the regex whose opening slash is at src[start]. It returns
// the body with \/ unescaped (every other escape is left for the regex
// engine) and the offset just past the closing slash, or ok=false when the
// regex is never closed.
func scanRegex(src string, start int) (text string, end int, ok bool) {
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		switch c := src[i]; c {
		case '/':
			return b.String(), i + 1, true
		case '\\':
			if i+1 >= len(src) {
				return "", len(src), false
			}
			i++
			if src[i] != '/' {
				b.WriteByte('\\')
			}
			b.WriteByte(src[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", len(src), false
}
