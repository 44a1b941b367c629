package query

import (
	"errors"
	"testing"
)

// fuzzSeeds covers every syntactic form, valid and invalid, so that the
// fuzzer starts from inputs that reach every branch of the lexer and parser.
var fuzzSeeds = []string{
	// Value forms.
	`ip.src == 10.0.0.1`,
	`port.dst == 80-90`,
	`ip.dst == 10.0.0.0/8`,
	`ip.src == 10.1`,
	`ip.dst == 10.0.0.1:443`,
	`host.http == *.example.com`,
	`host.http == fo*o?`,
	`x >= 2024-01-01T00:00:00Z`,
	`x > -5`,
	`x <= 1.5`,
	`host.http == "quoted \"x\""`,
	`x == "a\\b\n\t\*c"`,
	`x == ""`,
	`host.http == /^ab.*c$/`,
	`x == /a\/b\d\\/`,
	`port.dst == [80,443]`,
	`x != [ a , "b c" , /d/ ]`,
	`tags == ]a,b[`,
	`http.uri == EXISTS!`,
	`x != EXISTS!`,
	`x == EXISTS`,
	`x == a/b/`,
	`x == héllo`,
	// Operators and whitespace.
	`ip.src==10.0.0.1`,
	`x!=1`, `x<1`, `x<=1`, `x>1`, `port.dst >= 80`,
	" \t\n x \r\n==\v\f 1 \n",
	// Structure.
	`a==1 || b==2 && c==3`,
	`a==1 && (b==2 && c==3)`,
	`a==1 || (b==2 || c==3)`,
	`((a==1 || (b==2)) && (c==3 || (x==4 && a==5)))`,
	`!a==1`, `!(a==1)`, `!!a==1`, `!(a==1 && b==2) || c==3`,
	`a==1&&b==2||c==[1,2]&&x==EXISTS!`,
	// Errors.
	``, `(a==1`, `a==1)`, `()`, `a==1 b==2`, `a==1 & b==2`, `a==1 | b==2`,
	`a ==`, `ip.src 10.0.0.1`, `x = 1`, `ip.scr == 1`, `x == "abc`, `x == /abc`,
	`x == []`, `x == ][`, `x == [a, b`, `x == [a,]`, `x == [a, EXISTS!]`,
	`x < EXISTS!`, `!=1`, `x == !a`, `"a" == 1`, `x "1`, `x === 1`,
}

// FuzzParse checks that Parse never panics, that every error is a *Error
// with an in-range position, and that every successful parse round-trips
// through its canonical text. It runs each input twice: with the test
// resolver, and with a nil resolver so that arbitrary field names get past
// name checking and exercise the rest of the grammar.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range []FieldResolver{testFields, nil} {
			e, err := Parse(in, r)
			if err != nil {
				var perr *Error
				if !errors.As(err, &perr) {
					t.Fatalf("Parse(%q) returned %T, not *Error: %v", in, err, err)
				}
				if perr.Pos < 0 || int(perr.Pos) > max(len(in), MaxQueryLength) {
					t.Fatalf("Parse(%q) error position %d out of range", in, perr.Pos)
				}
				if e != nil {
					t.Fatalf("Parse(%q) returned both a tree and an error", in)
				}
				continue
			}
			checkPositions(t, in, e)
			// Canonical text can be longer than the input (spaces around
			// operators, canonical field names, escapes), so an input just
			// under the limit may render past it; the round-trip promise
			// only covers text Parse is willing to read.
			if len(e.String()) > MaxQueryLength {
				continue
			}
			checkRoundTrip(t, e, r)
		}
	})
}
