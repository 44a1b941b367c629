package query

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a syntax or field-name error. Every error returned by Parse is an
// *Error.
//
// Pos is where the problem was detected: the offending token, the field for
// an unknown field, the opening quote, slash or bracket for an unterminated
// string, regex or empty list, the operator for EXISTS! used with an
// ordering operator, and the end of the query for a "(" that is never closed
// (the message then names the position of the "(").
type Error struct {
	Pos Pos    // 0-based byte offset the error refers to
	Msg string // what was expected and what was found
}

// Error returns the message prefixed with its position, e.g.
// `at position 12: expected a value after "==", found end of query`.
func (e *Error) Error() string {
	return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg)
}

func errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// maxSnippet bounds how much of the query a message quotes, so that an error
// on an 8 KiB bare word stays readable.
const maxSnippet = 40

// snippet quotes s for a message, shortened to maxSnippet bytes on a rune
// boundary.
func snippet(s string) string {
	if len(s) <= maxSnippet {
		return strconv.Quote(s)
	}
	cut := maxSnippet
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// describe names a token for the "found ..." half of a message.
func describe(src string, t token) string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokQuoted:
		return "a quoted string"
	case tokRegex:
		return "a regex"
	}
	return snippet(src[t.pos:t.end])
}

// unknownField builds the error for a field name the resolver rejected,
// suggesting the closest accepted name when there is a plausible one.
func unknownField(name string, pos Pos, fields FieldResolver) *Error {
	if best, ok := closestName(name, fields.Names()); ok {
		return errorf(pos, "unknown field %s; did you mean %s?", snippet(name), strconv.Quote(best))
	}
	return errorf(pos, "unknown field %s", snippet(name))
}

// closestName returns the candidate with the smallest case-insensitive
// Levenshtein distance to name, if that distance is at most max(2, len/3)
// (len in runes). Ties go to the lexically smallest candidate so that the
// suggestion does not depend on the order of Names().
func closestName(name string, candidates []string) (string, bool) {
	target := []rune(strings.ToLower(name))
	limit := max(2, len(target)/3)
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestDist, found := "", limit+1, false
	for _, c := range sorted {
		cr := []rune(strings.ToLower(c))
		// The length difference is a lower bound on the distance; skipping
		// on it keeps a huge mistyped "field" from costing len*len work.
		if d := len(cr) - len(target); d >= bestDist || -d >= bestDist {
			continue
		}
		if d := levenshtein(target, cr); d < bestDist {
			best, bestDist, found = c, d, true
		}
	}
	return best, found
}

// levenshtein returns the edit distance (insertions, deletions,
// substitutions) between a and b, using two rows of memory.
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
