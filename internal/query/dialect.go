package query

// Dialect is what differs between the SQL engines the compiler targets
// (DuckDB embedded, ClickHouse for scale-out). Everything else the compiler
// emits is SQL both understand: comparisons, BETWEEN, IN, AND/OR/NOT,
// COALESCE, LIKE with a bound pattern. Values are always bound ("?");
// attribute keys are field names checked against the registry and a strict
// character set, never user values.
type Dialect interface {
	// AttrText is the string value of a key of the attrs JSON object, NULL
	// when absent.
	AttrText(key string) string
	// AttrNumber is the numeric (double) value of a key, NULL when absent or
	// not a number.
	AttrNumber(key string) string
	// AttrTexts is the list of string elements of a key holding an array.
	AttrTexts(key string) string
	// AttrNumbers is the list of numeric elements of a key holding an array.
	AttrNumbers(key string) string
	// AttrExists is true when the key is present.
	AttrExists(key string) string
	// Like is true when expr matches the bound LIKE pattern, whose escape
	// character is backslash.
	Like(expr string) string
	// Regex is true when expr matches the bound regular expression (RE2).
	Regex(expr string) string
	// AnyElement is true when pred holds for an element of list; pred gets
	// the SQL name of the element.
	AnyElement(list string, pred func(elem string) string) string
	// ListLen is the number of elements of list.
	ListLen(list string) string
	// Unnest turns a list into one row per element (for counts).
	Unnest(list string) string
}
