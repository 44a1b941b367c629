package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
)

// stubDialect renders each construct as a recognisable function call, so
// the shared builder can be checked without an engine.
type stubDialect struct{}

func (stubDialect) AttrText(k string) string    { return "attr_text('" + k + "')" }
func (stubDialect) AttrNumber(k string) string  { return "attr_number('" + k + "')" }
func (stubDialect) AttrTexts(k string) string   { return "attr_texts('" + k + "')" }
func (stubDialect) AttrNumbers(k string) string { return "attr_numbers('" + k + "')" }
func (stubDialect) AttrExists(k string) string  { return "attr_exists('" + k + "')" }
func (stubDialect) Like(e string) string        { return "like(" + e + ", ?)" }
func (stubDialect) Regex(e string) string       { return "regex(" + e + ", ?)" }
func (stubDialect) AnyElement(l string, p func(string) string) string {
	return "any(" + l + ", x -> " + p("x") + ")"
}
func (stubDialect) ListLen(l string) string { return "len(" + l + ")" }
func (stubDialect) Unnest(l string) string  { return "unnest(" + l + ")" }

var sqlb = SQL{D: stubDialect{}}

func field(t *testing.T, name string) *model.Field {
	t.Helper()
	f, ok := model.Default.Lookup(name)
	if !ok {
		t.Fatalf("no field %s", name)
	}
	return f
}

func TestCursorRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		order []Order
		vals  []any // trailing sort-key values of the last row
		want  []any // as decoded for binding
	}{
		{name: "default order", order: nil, vals: []any{int64(1700000000000), "id-1"}, want: []any{int64(1700000000000), "id-1"}},
		{name: "time asc", order: []Order{{Field: field(t, "firstPacket")}}, vals: []any{int64(math.MinInt64 + 1), "x"}, want: []any{int64(math.MinInt64 + 1), "x"}},
		{name: "ip desc with high bits", order: []Order{{Field: field(t, "source.ip"), Desc: true}},
			vals: []any{uint64(0xfe80000000000000), uint64(math.MaxUint64), "z"}, want: []any{uint64(0xfe80000000000000), uint64(math.MaxUint64), "z"}},
		{name: "several keys", order: []Order{{Field: field(t, "user.name")}, {Field: field(t, "destination.port"), Desc: true}, {Field: field(t, "destination.ip")}},
			vals: []any{"al'ice \"quoted\"", int64(443), uint64(0), uint64(0xffff0a000001), "id:with/odd+chars"},
			want: []any{"al'ice \"quoted\"", int64(443), uint64(0), uint64(0xffff0a000001), "id:with/odd+chars"}},
		{name: "null ip key", order: []Order{{Field: field(t, "source.ip")}}, vals: []any{nil, nil, "row-without-ip"}, want: []any{nil, nil, "row-without-ip"}},
		{name: "unicode string key", order: []Order{{Field: field(t, "node")}}, vals: []any{"sensör-1 ☃", ""}, want: []any{"sensör-1 ☃", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur, err := NextCursor(tc.order, model.Default, tc.vals)
			if err != nil {
				t.Fatal(err)
			}
			if cur == "" || strings.ContainsAny(cur, "+/=") {
				t.Fatalf("cursor %q is not URL-safe", cur)
			}
			order := tc.order
			if len(order) == 0 {
				order = DefaultOrder(model.Default)
			}
			keys, sig, err := sortKeys(order)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeCursor(cur, sig, keys)
			if err != nil {
				t.Fatalf("decodeCursor: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("decoded keys (-want +got):\n%s", d)
			}
			// Through Search: the keys are bound after the filter's args,
			// never spliced into the SQL.
			req := SearchRequest{Tenant: "acme", Registry: model.Default, Order: tc.order, Limit: 10, Cursor: cur}
			page, args, _, _, err := sqlb.Search(req)
			if err != nil {
				t.Fatal(err)
			}
			if args[0] != "acme" {
				t.Fatalf("first argument %v, want the tenant", args[0])
			}
			if strings.Count(page, "?") != len(args) {
				t.Fatalf("%d placeholders for %d args: %s", strings.Count(page, "?"), len(args), page)
			}
			// The keyset condition binds the keys in order: (k1 after v1) OR
			// (k1 = v1 AND k2 after v2) OR ...
			// A NULL key binds nothing (it is matched with IS NULL).
			var wantArgs []any
			for i := range tc.want {
				if tc.want[i] == nil {
					continue
				}
				for _, v := range tc.want[:i+1] {
					if v != nil {
						wantArgs = append(wantArgs, v)
					}
				}
			}
			if d := cmp.Diff(wantArgs, args[1:]); d != "" {
				t.Fatalf("keyset args (-want +got):\n%s", d)
			}
			for _, v := range tc.want {
				if s, ok := v.(string); ok && len(s) >= 3 && strings.Contains(page, s) {
					t.Fatalf("cursor value %q spliced into SQL: %s", s, page)
				}
			}
			if !strings.HasSuffix(page, " LIMIT 11") {
				t.Fatalf("page query does not fetch limit+1: %s", page)
			}
		})
	}
}

func TestCursorRejected(t *testing.T) {
	order := []Order{{Field: field(t, "destination.port"), Desc: true}}
	good, err := NextCursor(order, model.Default, []any{int64(443), "abc"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	flip := []byte(good)
	flip[len(flip)/2] ^= 0x01
	tests := []struct {
		name   string
		cursor string
		order  []Order
	}{
		{"not base64", "!!!not-base64!!!", order},
		{"padded base64", base64.URLEncoding.EncodeToString(raw) + "==", order},
		{"flipped byte", string(flip), order},
		{"truncated", good[:len(good)-4], order},
		{"not json", base64.RawURLEncoding.EncodeToString([]byte("hello")), order},
		{"json array", enc([]string{"a"}), order},
		{"other order", good, []Order{{Field: field(t, "destination.port")}}},
		{"other field", good, []Order{{Field: field(t, "source.port"), Desc: true}}},
		{"default order", good, nil},
		{"missing key", enc(map[string]any{"o": "destination.port:desc", "k": []string{"443"}}), order},
		{"extra key", enc(map[string]any{"o": "destination.port:desc", "k": []string{"443", "abc", "x"}}), order},
		{"non-numeric int", enc(map[string]any{"o": "destination.port:desc", "k": []string{"4x3", "abc"}}), order},
		{"int overflow", enc(map[string]any{"o": "destination.port:desc", "k": []string{"99999999999999999999", "abc"}}), order},
		{"sql in a key", enc(map[string]any{"o": "destination.port:desc", "k": []string{"1; DROP TABLE sessions", "abc"}}), order},
		{"negative uint", enc(map[string]any{"o": "source.ip:asc", "k": []string{"-1", "0", "abc"}}), []Order{{Field: field(t, "source.ip")}}},
		{"huge cursor", base64.RawURLEncoding.EncodeToString([]byte(`{"o":"destination.port:desc","k":["443","` + strings.Repeat("a", 5000) + `"]}`)), order},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, _, err := sqlb.Search(SearchRequest{Tenant: "acme", Registry: model.Default, Order: tc.order, Limit: 10, Cursor: tc.cursor})
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Search with cursor %q: err %v (%T), want *InvalidError", tc.cursor, err, err)
			}
			if !strings.Contains(inv.Error(), "cursor") {
				t.Fatalf("message %q does not mention the cursor", inv.Error())
			}
		})
	}
	// The untampered cursor is fine with its own order.
	if _, _, _, _, err := sqlb.Search(SearchRequest{Tenant: "acme", Registry: model.Default, Order: order, Limit: 10, Cursor: good}); err != nil {
		t.Fatal(err)
	}
	// A cursor with the wrong number of key values cannot even be built.
	if _, err := NextCursor(order, model.Default, []any{int64(1)}); err == nil {
		t.Fatal("NextCursor accepted too few key values")
	}
}

func TestOrderByUnsortableField(t *testing.T) {
	reg := model.Default.With([]model.Field{{Name: "custom.level", Type: model.TypeInt}})
	for _, name := range []string{"tags", "protocol", "threats", "http.host", "dns.qt", "session.duration", "pam.account", "custom.level"} {
		f, _ := reg.Lookup(name)
		order := []Order{{Field: f}}
		_, _, _, _, err := sqlb.Search(SearchRequest{Tenant: "acme", Registry: reg, Order: order, Limit: 10})
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("order by %s: %v, want *InvalidError", name, err)
			continue
		}
		if !strings.Contains(inv.Msg, name) {
			t.Errorf("order by %s: message %q does not name the field", name, inv.Msg)
		}
		if _, err := NextCursor(order, reg, []any{"x", "y"}); !errors.As(err, &inv) {
			t.Errorf("NextCursor ordered by %s: %v", name, err)
		}
	}
	// Sortable ones: each column of a single value.
	for _, f := range model.Default.Columns() {
		if f.Type.IsList() {
			continue
		}
		if _, _, _, _, err := sqlb.Search(SearchRequest{Tenant: "acme", Registry: model.Default, Order: []Order{{Field: f, Desc: true}}, Limit: 1}); err != nil {
			t.Errorf("order by %s: %v", f.Name, err)
		}
	}
}

func TestSearchSQL(t *testing.T) {
	e, err := query.Parse(`port.dst == 443 && host.http == "a'b"`, model.Default)
	if err != nil {
		t.Fatal(err)
	}
	req := SearchRequest{Tenant: "acme", Registry: model.Default, Filter: e, Range: TimeRange{Start: 1000, End: 2000}, Limit: 50, Count: true}
	page, args, count, cargs, err := sqlb.Search(req)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []any{"acme", int64(1000), int64(2000), int64(443), "a'b"}
	if d := cmp.Diff(wantArgs, args); d != "" {
		t.Fatalf("page args (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantArgs, cargs); d != "" {
		t.Fatalf("count args (-want +got):\n%s", d)
	}
	for _, frag := range []string{"tenant = ?", "COALESCE(last_packet, first_packet) >= ?", "first_packet <= ?", "dst_port = ?", "attr_texts('http.host')", "ORDER BY", "LIMIT 51"} {
		if !strings.Contains(page, frag) {
			t.Errorf("page SQL lacks %q: %s", frag, page)
		}
	}
	if !strings.HasPrefix(count, "SELECT count(*) FROM sessions WHERE tenant = ?") || strings.Contains(count, "LIMIT") {
		t.Errorf("count SQL: %s", count)
	}
	if strings.Contains(page, "a'b") {
		t.Errorf("value in SQL: %s", page)
	}
	// A filter that does not compile is a *query.Error, not an SQL error.
	bad, _ := query.Parse(`port.dst == abc`, model.Default)
	_, _, _, _, err = sqlb.Search(SearchRequest{Tenant: "acme", Registry: model.Default, Filter: bad, Limit: 1})
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Fatalf("bad filter: %v", err)
	}
	// Without a count there is no count query.
	_, _, count, _, _ = sqlb.Search(SearchRequest{Tenant: "acme", Registry: model.Default, Limit: 1})
	if count != "" {
		t.Fatalf("count query without Count: %s", count)
	}
}

func TestCountQueries(t *testing.T) {
	req := CountsRequest{Tenant: "acme", Registry: model.Default, Size: 7}
	for _, name := range []string{"destination.port", "source.ip", "protocol", "http.host", "user.name"} {
		f := field(t, name)
		top, targs, totals, totArgs, err := sqlb.CountQueries(req, f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(top, "LIMIT 7") || targs[0] != "acme" || totArgs[0] != "acme" {
			t.Errorf("%s: %s %v", name, top, targs)
		}
		if strings.Count(top, "?") != len(targs) || strings.Count(totals, "?") != len(totArgs) {
			t.Errorf("%s: placeholders do not match args:\n%s %v\n%s %v", name, top, targs, totals, totArgs)
		}
	}
}

func TestIPPartsRoundTrip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "10.0.0.1", "127.0.0.1", "192.168.255.255", "255.255.255.255",
		"::", "::1", "2001:db8::1", "fe80::1", "ff02::fb", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db8::8000:0:0:1", "::ffff:0:1", "::ffff:10.1.2.3", "64:ff9b::1.2.3.4",
	} {
		a := netip.MustParseAddr(s)
		hi, lo := model.IPParts(a)
		back := model.IPFromParts(hi, lo)
		if back != a.Unmap() {
			t.Errorf("%s -> (%#x, %#x) -> %s", s, hi, lo, back)
		}
	}
	// IPv4 is kept IPv4-mapped and comes back as IPv4.
	hi, lo := model.IPParts(netip.MustParseAddr("10.1.2.3"))
	if hi != 0 || lo != 0xffff0a010203 {
		t.Fatalf("10.1.2.3 -> (%#x, %#x)", hi, lo)
	}
	if h2, l2 := model.IPParts(netip.MustParseAddr("::ffff:10.1.2.3")); h2 != hi || l2 != lo {
		t.Fatal("mapped and plain IPv4 differ")
	}
	if a := model.IPFromParts(0, 0xffff0a010203); !a.Is4() || a.String() != "10.1.2.3" {
		t.Fatalf("IPFromParts gave %s", a)
	}
	hi, lo = model.IPParts(netip.MustParseAddr("2001:db8::1"))
	if hi != 0x20010db800000000 || lo != 1 {
		t.Fatalf("2001:db8::1 -> (%#x, %#x)", hi, lo)
	}
	// Order of (hi, lo) is address order, which range filters rely on.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var b1, b2 [16]byte
		for j := range b1 {
			b1[j], b2[j] = byte(r.IntN(256)), byte(r.IntN(256))
		}
		if i%3 == 0 { // share a prefix now and then
			copy(b2[:8], b1[:8])
		}
		a1, a2 := netip.AddrFrom16(b1), netip.AddrFrom16(b2)
		h1, l1 := model.IPParts(a1)
		h2, l2 := model.IPParts(a2)
		cmpParts := 0
		switch {
		case h1 < h2 || h1 == h2 && l1 < l2:
			cmpParts = -1
		case h1 > h2 || h1 == h2 && l1 > l2:
			cmpParts = 1
		}
		if cmpParts != a1.Compare(a2) {
			t.Fatalf("order of %s and %s: parts %d, addresses %d", a1, a2, cmpParts, a1.Compare(a2))
		}
		if model.IPFromParts(h1, l1) != a1.Unmap() {
			t.Fatalf("round trip of %s", a1)
		}
	}
	if a, err := ParseAddr("::ffff:1.2.3.4"); err != nil || !a.Is4() {
		t.Fatalf("ParseAddr: %v %v", a, err)
	}
	if _, err := ParseAddr("1.2.3"); err == nil {
		t.Fatal("ParseAddr accepted 1.2.3")
	}
}

func TestDecodeRow(t *testing.T) {
	reg := model.Default
	vals := make([]any, FullProjection(reg).ScanCount())
	i := 0
	hi, lo := model.IPParts(netip.MustParseAddr("2001:db8::1"))
	for _, f := range reg.Columns() {
		switch {
		case f.Name == "id":
			vals[i] = "s1"
		case f.Name == "source.ip":
			vals[i], vals[i+1] = hi, lo
		case f.Name == "protocol":
			vals[i] = []any{"tcp", "http"}
		case f.Name == "tags":
			vals[i] = []any{} // empty lists are left out
		case f.Name == "destination.port":
			vals[i] = int64(443)
		}
		i++
		if f.Type == model.TypeIP {
			i++
		}
	}
	vals[i] = `{"http.host":["a.example"],"custom.big":12345678901234567890}`
	s, err := FullProjection(reg).Decode(vals)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "s1", "source.ip": "2001:db8::1", "protocol": []string{"tcp", "http"}, "destination.port": int64(443),
		"http.host": []any{"a.example"}, "custom.big": json.Number("12345678901234567890"),
	}
	if d := cmp.Diff(want, s.Fields); d != "" || s.ID != "s1" {
		t.Fatalf("DecodeRow (-want +got):\n%s id %q", d, s.ID)
	}
	vals[i] = `{"broken":`
	if _, err := FullProjection(reg).Decode(vals); err == nil {
		t.Fatal("DecodeRow accepted broken attributes")
	}
}

// TestProjectionForReadsOnlyWhatFieldsNeed: a search for a few column
// fields must not read the wide attribute document or other columns.
func TestProjectionForReadsOnlyWhatFieldsNeed(t *testing.T) {
	reg := model.Default
	p := ProjectionFor(reg, []string{"firstPacket", "destination.ip"})
	if got, want := p.SQL(), "id, first_packet, dst_ip_hi, dst_ip_lo"; got != want {
		t.Errorf("SQL() = %q, want %q", got, want)
	}
	if p.Attrs || p.ScanCount() != 4 {
		t.Errorf("Attrs %v, ScanCount %d; want false, 4", p.Attrs, p.ScanCount())
	}
	if p := ProjectionFor(reg, []string{"http.host"}); !p.Attrs || p.SQL() != "id, attrs" {
		t.Errorf("an attribute field: SQL() = %q, Attrs %v", p.SQL(), p.Attrs)
	}
	if p := ProjectionFor(reg, nil); !p.Attrs || len(p.Cols) != len(reg.Columns()) {
		t.Errorf("no fields must read everything")
	}
}
