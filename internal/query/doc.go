// Package query implements the syntax half of Arkime's expression language:
// a hand-written lexer and recursive-descent parser that turn a query such as
//
//	ip.src == 10.0.0.0/8 && (port.dst == [80, 443] || host.http == *.example.com)
//
// into an abstract syntax tree (Expr). Turning that tree into SQL is a
// separate step that lives next to this code; this file set only knows about
// syntax and field names.
//
// # Grammar
//
//	expr       := or
//	or         := and { "||" and }            left-associative
//	and        := unary { "&&" unary }        left-associative
//	unary      := "!" unary | "(" expr ")" | comparison
//	comparison := field op value
//	op         := "==" | "!=" | "<" | "<=" | ">" | ">="
//	value      := bare | quoted | regex | "EXISTS!" | "[" items "]" | "]" items "["
//	items      := item { "," item }
//	item       := bare | quoted | regex
//
// "!" binds tightest, then "&&", then "||". Whitespace is optional around
// every token that is not a bare word, so "ip.src==10.0.0.1" and
// "port.dst >= 80" both parse.
//
// # Tokens
//
// A bare word is a run of bytes that are neither ASCII whitespace nor one of
// ( ) [ ] , " & | ! = < >. That deliberately covers ranges (80-90), CIDRs
// (10.0.0.0/8), partial IPs (10.1), ip:port pairs (10.0.0.1:443), wildcards
// (fo*o?), timestamps (2024-01-01T00:00:00Z) and signed or fractional
// numbers (-5, 1.5). Bare text is kept verbatim, wildcard characters and
// backslashes included; interpreting it is the compiler's job. Bytes are
// handled one at a time, so non-ASCII UTF-8 (and even invalid UTF-8) is simply
// part of a bare word.
//
// Field names are bare words in field position; they are mapped to canonical
// names by a FieldResolver, and an unknown name is reported together with
// the closest accepted name.
//
// A quoted string is delimited by double quotes. Inside it \" is a quote,
// \\ a backslash, \n a newline and \t a tab; a backslash before any other
// byte X yields X (so "a\*b" is the text a*b).
//
// A regex is delimited by slashes and is only recognised in value position
// (after an operator or inside a list); elsewhere "/" is an ordinary bare
// byte. Inside a regex \/ stands for a slash and is stored unescaped; every
// other backslash escape (\d, \., \\ ...) is kept verbatim for the regex
// engine.
//
// EXISTS! (with the bang attached, case-sensitive) is recognised only in value
// position and only with == or !=. "[a, b]" matches any of the items and
// "]a, b[" all of them; a "]" starts a list only in value position.
//
// # Canonical text
//
// Every Expr renders, via String, to canonical text: single spaces around
// operators, lists as "[a, b]" / "]a, b[", quoted strings and regexes
// re-escaped, canonical field names, and parentheses only where the tree
// shape requires them. Parsing that text yields the same tree (positions
// aside), and rendering it again yields the same text.
package query
