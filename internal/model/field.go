// Package model holds Seshat's domain types and the field registry: the one
// table that names every session field once, with its type, description,
// storage column and its aliases in each API dialect. The query compiler, the
// stores' column mapping, field discovery and every dialect read this table;
// none keeps a list of its own.
package model

import (
	"fmt"
	"sort"
	"strings"
)

// Type is the value type of a field.
type Type string

// Field types. Multi-valued fields ("string[]") hold lists; a comparison on
// them matches when any element matches, as in Arkime.
const (
	TypeString  Type = "string"
	TypeInt     Type = "integer"
	TypeFloat   Type = "float"
	TypeBool    Type = "boolean"
	TypeIP      Type = "ip"
	TypeTime    Type = "time" // stored as epoch milliseconds, rendered RFC 3339 UTC
	TypeStrings Type = "string[]"
	TypeInts    Type = "integer[]"
	TypeIPs     Type = "ip[]"
	TypeObject  Type = "object" // only for discovered fields whose values are JSON objects
)

// IsList reports whether values of the type are lists.
func (t Type) IsList() bool { return strings.HasSuffix(string(t), "[]") }

// Elem is the element type of a list type, or the type itself.
func (t Type) Elem() Type { return Type(strings.TrimSuffix(string(t), "[]")) }

// Dialect names an API vocabulary whose field names are aliases.
type Dialect string

// The dialects whose names the registry knows.
const (
	Arkime    Dialect = "arkime"    // Arkime expression names: ip.src, port.dst, host.http
	AlphaSOC  Dialect = "alphasoc"  // AlphaSOC event fields: srcIP, destPort, bytesIn
	GreyNoise Dialect = "greynoise" // GreyNoise v3 session fields
	SPS       Dialect = "sps"       // One Identity SPS audit body paths: client.ip, server.port
	Fudo      Dialect = "fudo"      // Fudo PAM v2 names: source_ip, destination_port
	Incydr    Dialect = "incydr"    // Incydr session names: actorId, beginTime
)

// Field describes one session field.
type Field struct {
	Name        string               // canonical dotted name, e.g. "source.ip"
	Type        Type                 // value type
	Group       string               // for display: general, source, destination, dns, http, ...
	Description string               // one sentence for the field discovery endpoint
	Aliases     map[Dialect][]string // names of the same field in other vocabularies
	// Column is the dedicated column of the sessions table that stores the
	// field; empty means the field lives in the session's attribute document.
	// Columns are kept for the fields that queries filter, sort and group on
	// most (the flow 5-tuple, times, counters, triage); the rest stay in the
	// document so the table stays narrow and appends stay fast.
	Column string
	// Min and Max bound integer values (ports, severity, score) when Max > Min.
	Min, Max int64
	// Discovered marks a field that a source sent and the registry did not
	// know; such fields are kept and listed by field discovery.
	Discovered bool

	colIndex int // position in Registry.Columns(), or -1; set by NewRegistry
}

// ColumnIndex is the field's position among the registry's column fields
// (the order of store.Row.Cols), or -1 for fields in the attribute document.
func (f *Field) ColumnIndex() int {
	if f.Column == "" {
		return -1
	}
	return f.colIndex
}

// Bounded reports whether integer values of the field have a valid range.
func (f *Field) Bounded() bool { return f.Max > f.Min }

// Registry is an immutable index over a list of fields.
type Registry struct {
	fields  []*Field
	byName  map[string]*Field             // canonical names and every alias
	byAlias map[Dialect]map[string]*Field // per-dialect alias lookup
	columns []*Field
}

// NewRegistry indexes fields. It fails when a name or alias is used twice
// for different fields, so a lookup is never ambiguous.
func NewRegistry(fields []Field) (*Registry, error) {
	r := &Registry{byName: map[string]*Field{}, byAlias: map[Dialect]map[string]*Field{}}
	claim := func(name string, f *Field) error {
		if prev, ok := r.byName[name]; ok && prev != f {
			return fmt.Errorf("cannot register %q for %s: already names %s", name, f.Name, prev.Name)
		}
		r.byName[name] = f
		return nil
	}
	for i := range fields {
		f := &fields[i]
		if f.Name == "" || f.Type == "" {
			return nil, fmt.Errorf("cannot register field %d: name and type are required", i)
		}
		r.fields = append(r.fields, f)
		if err := claim(f.Name, f); err != nil {
			return nil, err
		}
		if f.Column != "" {
			f.colIndex = len(r.columns)
			r.columns = append(r.columns, f)
		}
	}
	// Aliases second, so an alias never shadows another field's canonical name.
	for _, f := range r.fields {
		for d, names := range f.Aliases {
			if r.byAlias[d] == nil {
				r.byAlias[d] = map[string]*Field{}
			}
			for _, n := range names {
				r.byAlias[d][n] = f
				if err := claim(n, f); err != nil {
					return nil, err
				}
			}
		}
	}
	return r, nil
}

// Lookup finds a field by canonical name or any alias.
func (r *Registry) Lookup(name string) (*Field, bool) {
	f, ok := r.byName[name]
	return f, ok
}

// LookupBytes is Lookup for a name held in a byte slice; it does not
// allocate (the hot path of decoding uploads).
func (r *Registry) LookupBytes(name []byte) (*Field, bool) {
	f, ok := r.byName[string(name)]
	return f, ok
}

// LookupIn finds a field by its name in one dialect, falling back to the
// canonical name.
func (r *Registry) LookupIn(d Dialect, name string) (*Field, bool) {
	if f, ok := r.byAlias[d][name]; ok {
		return f, true
	}
	f, ok := r.byName[name]
	if ok && f.Name != name {
		return nil, false // an alias of another dialect
	}
	return f, ok
}

// AliasIn is the field's first name in dialect d, or its canonical name.
func (f *Field) AliasIn(d Dialect) string {
	if names := f.Aliases[d]; len(names) > 0 {
		return names[0]
	}
	return f.Name
}

// Fields lists every field in registry order.
func (r *Registry) Fields() []*Field { return r.fields }

// Columns lists the fields stored in dedicated columns, in registry order.
func (r *Registry) Columns() []*Field { return r.columns }

// Names lists every accepted name (canonical and aliases), sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resolve maps a name as written to its canonical name; it makes the
// registry a query.FieldResolver.
func (r *Registry) Resolve(name string) (string, bool) {
	f, ok := r.byName[name]
	if !ok {
		return "", false
	}
	return f.Name, true
}

// With returns a registry that also knows the given discovered fields
// (names not already known). The receiver is unchanged.
func (r *Registry) With(discovered []Field) *Registry {
	if len(discovered) == 0 {
		return r
	}
	n := &Registry{
		fields:  append([]*Field(nil), r.fields...),
		byName:  make(map[string]*Field, len(r.byName)+len(discovered)),
		byAlias: r.byAlias,
		columns: r.columns,
	}
	for k, v := range r.byName {
		n.byName[k] = v
	}
	for i := range discovered {
		f := discovered[i]
		if _, ok := n.byName[f.Name]; ok {
			continue
		}
		f.Discovered = true
		n.fields = append(n.fields, &f)
		n.byName[f.Name] = &f
	}
	return n
}
