// Package ingesttest holds test helpers shared by the decoders' tests
// (session documents, Zeek, EVE): checks that a decoded row holds what the
// store expects, and a row in the shape of a fixture's expected.json.
package ingesttest

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// CheckColType fails t when a column value of row id does not have the Go
// type store.Row promises for its field (or lies outside the field's range).
func CheckColType(t testing.TB, id string, f *model.Field, v any) {
	t.Helper()
	if v == nil {
		return
	}
	ok := false
	switch f.Type {
	case model.TypeString:
		_, ok = v.(string)
	case model.TypeInt, model.TypeTime:
		var n int64
		n, ok = v.(int64)
		if ok && f.Bounded() && (n < f.Min || n > f.Max) {
			t.Errorf("row %s: %s = %d outside %d-%d", id, f.Name, n, f.Min, f.Max)
		}
	case model.TypeIP:
		var a netip.Addr
		a, ok = v.(netip.Addr)
		ok = ok && a.IsValid() && a.Zone() == "" && !a.Is4In6()
	case model.TypeStrings:
		_, ok = v.([]string)
	}
	if !ok {
		t.Errorf("row %s: column %s (%s) holds %T %v", id, f.Name, f.Type, v, v)
	}
}

// RowFields is a row as field name -> value, in JSON's types (numbers are
// float64), so it compares with values read from expected.json; a field
// that is both a column and an attribute fails t.
func RowFields(t testing.TB, r store.Row) map[string]any {
	t.Helper()
	m := map[string]any{}
	for i, f := range model.Default.Columns() {
		if v := r.Cols[i]; v != nil {
			if a, ok := v.(netip.Addr); ok {
				v = a.String()
			}
			m[f.Name] = v
		}
	}
	if r.Attrs != nil {
		var attrs map[string]any
		if err := json.Unmarshal(r.Attrs, &attrs); err != nil {
			t.Fatalf("attributes %s: %v", r.Attrs, err)
		}
		for k, v := range attrs {
			if _, dup := m[k]; dup {
				t.Errorf("field %s is both a column and an attribute", k)
			}
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
