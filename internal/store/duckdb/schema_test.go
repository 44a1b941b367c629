package duckdb

import (
	"context"
	"database/sql"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// expectedColumns is the sessions table as the registry describes it:
// tenant, then every column field (an address as two halves), then attrs.
func expectedColumns(reg *model.Registry) (names, types []string) {
	names = []string{"tenant"}
	types = []string{"VARCHAR"}
	for _, f := range reg.Columns() {
		switch {
		case f.Type == model.TypeIP:
			names = append(names, f.Column+"_hi", f.Column+"_lo")
			types = append(types, "UBIGINT", "UBIGINT")
		case f.Type.IsList():
			names = append(names, f.Column)
			types = append(types, "VARCHAR[]")
		case f.Type == model.TypeInt || f.Type == model.TypeTime:
			names = append(names, f.Column)
			types = append(types, "BIGINT")
		default:
			names = append(names, f.Column)
			types = append(types, "VARCHAR")
		}
	}
	return append(names, "attrs"), append(types, "VARCHAR")
}

func sessionColumns(t *testing.T, db *sql.DB) (names, types []string) {
	t.Helper()
	rows, err := db.Query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'sessions' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
		types = append(types, ty)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names, types
}

func TestSessionsTableMatchesRegistry(t *testing.T) {
	db := openTest(t)
	gotNames, gotTypes := sessionColumns(t, db.read)
	wantNames, wantTypes := expectedColumns(model.Default)
	if wantNames[1] != "id" {
		t.Fatalf("the registry's first column is %q, the table's second column must be id", wantNames[1])
	}
	if d := cmp.Diff(wantNames, gotNames); d != "" {
		t.Fatalf("sessions columns differ from the registry (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantTypes, gotTypes); d != "" {
		t.Fatalf("sessions column types differ (-want +got):\n%s", d)
	}
	// The select list and the scan count agree with the table.
	sel := strings.Split(store.FullProjection(model.Default).SQL(), ", ")
	if d := cmp.Diff(gotNames[1:], sel); d != "" {
		t.Fatalf("SelectList differs from the table after tenant (-table +select):\n%s", d)
	}
	if store.FullProjection(model.Default).ScanCount() != len(sel) {
		t.Fatalf("ScanCount %d, select list has %d columns", store.FullProjection(model.Default).ScanCount(), len(sel))
	}
	// The appender's row layout has one value per table column.
	r := store.Row{Tenant: "t", ID: "x", Cols: make([]any, len(model.Default.Columns()))}
	if n := len(appendRowValues(nil, model.Default.Columns(), &r, []byte("t"))); n != len(gotNames) {
		t.Fatalf("appendRowValues lays out %d values for %d columns", n, len(gotNames))
	}
	for _, tbl := range []string{"tenants", "api_keys", "discovered_fields", "schema_migrations"} {
		var n int
		if err := db.read.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name = ?`, tbl).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", tbl, n, err)
		}
	}
}

func migrationVersions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestReopenKeepsDataAndDoesNotRemigrate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, disc := decode(t, "acme", []byte(`{"_id":"one","firstPacket":1700000000000,"source":{"ip":"10.0.0.1","port":1234},"destination":{"ip":"2001:db8::1","port":443},"protocol":["tcp","tls"],"custom.field":"kept"}
{"_id":"two","firstPacket":1700000001000,"user.name":"alice","http.host":["example.com"]}
`))
	if err := db.Append(ctx, rows, disc); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(ctx, store.Key{ID: "k1", Tenant: "acme", Role: "admin", Name: "n", Hash: "h1", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	var appliedAt1 string
	if err := db.read.QueryRow(`SELECT CAST(applied_at AS VARCHAR) FROM schema_migrations WHERE version = 1`).Scan(&appliedAt1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	for round := 0; round < 2; round++ {
		db, err = Open(ctx, dir, DefaultConfig(), model.Default, nil)
		if err != nil {
			t.Fatalf("reopen %d: %v", round, err)
		}
		want := make([]int, len(migrations))
		for i := range want {
			want[i] = i + 1
		}
		if d := cmp.Diff(want, migrationVersions(t, db.read)); d != "" {
			t.Fatalf("schema_migrations after reopen (-want +got):\n%s", d)
		}
		var appliedAt string
		if err := db.read.QueryRow(`SELECT CAST(applied_at AS VARCHAR) FROM schema_migrations WHERE version = 1`).Scan(&appliedAt); err != nil {
			t.Fatal(err)
		}
		if appliedAt != appliedAt1 {
			t.Fatalf("migration 1 re-applied: applied_at %s, was %s", appliedAt, appliedAt1)
		}
		res, err := db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: model.Default, Limit: 10, Count: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range res.Items {
			ids = append(ids, s.ID)
		}
		sort.Strings(ids)
		if d := cmp.Diff([]string{"one", "two"}, ids); d != "" || *res.Total != 2 {
			t.Fatalf("sessions after reopen %d (-want +got):\n%s total %d", round, d, *res.Total)
		}
		s, err := db.Get(ctx, "acme", "one", model.Default)
		if err != nil {
			t.Fatal(err)
		}
		if s.Fields["destination.ip"] != "2001:db8::1" || s.Fields["source.ip"] != "10.0.0.1" || s.Fields["custom.field"] != "kept" {
			t.Fatalf("session one after reopen: %v", s.Fields)
		}
		keys, err := db.Keys(ctx)
		if err != nil || len(keys) != 1 || keys[0].ID != "k1" {
			t.Fatalf("keys after reopen: %v %v", keys, err)
		}
		if ok, err := db.TenantExists(ctx, "acme"); !ok || err != nil {
			t.Fatalf("tenant after reopen: %v %v", ok, err)
		}
		disc, err := db.Discovered(ctx, "acme")
		if err != nil || len(disc) != 1 || disc[0].Name != "custom.field" {
			t.Fatalf("discovered after reopen: %v %v", disc, err)
		}
		// Writes still work after a reopen.
		more, _ := decode(t, "acme", []byte(`{"firstPacket":1700000002000}`))
		if err := db.Append(ctx, more, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := db.Exec(ctx, `DELETE FROM sessions WHERE id = ?`, more[0].ID); err != nil || n != 1 {
			t.Fatalf("delete through the writer: %d rows, %v", n, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Pretend a newer binary migrated the folder.
	raw, err := sql.Open("duckdb", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	future := len(migrations) + 1
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, future); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, dir, DefaultConfig(), model.Default, nil)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a data folder with a newer schema")
	}
	msg := err.Error()
	for _, want := range []string{"newer", strconv.Itoa(future), strconv.Itoa(len(migrations))} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	// The refusal released the folder: it can be opened again (and is still
	// refused, not half-migrated).
	raw, err = sql.Open("duckdb", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var maxV int
	if err := raw.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&maxV); err != nil {
		t.Fatalf("folder not usable after a refused open: %v", err)
	}
	if maxV != future {
		t.Fatalf("schema version %d after refused open, want %d", maxV, future)
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	_, err := Open(context.Background(), t.TempDir(), Config{MemoryLimit: "lots of memory"}, model.Default, nil)
	if err == nil {
		t.Fatal("Open accepted memory_limit 'lots of memory'")
	}
}

// TestIPOrderAndCursorWithHighBits pages by source.ip over addresses whose
// 64-bit halves have the top bit set (fe80::/10, ff00::/8), which need
// unsigned handling in the columns, the binding and the cursor.
func TestIPOrderAndCursorWithHighBits(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	addrs := []string{"ff02::fb", "10.0.0.1", "fe80::1", "2001:db8::1", "::1", "192.168.1.1", "fe80::ffff:ffff:ffff:ffff", "0.0.0.0"}
	var body strings.Builder
	for i, a := range addrs {
		body.WriteString(`{"_id":"s` + string(rune('a'+i)) + `","firstPacket":1700000000000,"source.ip":"` + a + `"}` + "\n")
	}
	body.WriteString(`{"_id":"noip","firstPacket":1700000000000}` + "\n")
	rows, _ := decode(t, "acme", []byte(body.String()))
	if err := db.Append(ctx, rows, nil); err != nil {
		t.Fatal(err)
	}
	sorted := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		sorted = append(sorted, netip.MustParseAddr(a))
	}
	// Stored order: IPv4 as IPv4-mapped IPv6.
	sort.Slice(sorted, func(i, j int) bool {
		return netip.AddrFrom16(sorted[i].As16()).Less(netip.AddrFrom16(sorted[j].As16()))
	})
	f, _ := model.Default.Lookup("source.ip")
	for _, desc := range []bool{false, true} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			res, err := db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: model.Default,
				Order: []store.Order{{Field: f, Desc: desc}}, Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatalf("desc=%v page %d: %v", desc, pages, err)
			}
			for _, s := range res.Items {
				ip, _ := s.Fields["source.ip"].(string)
				if ip == "" {
					ip = "-"
				}
				got = append(got, ip)
			}
			if res.NextCursor == "" {
				break
			}
			cursor = res.NextCursor
		}
		var want []string
		for _, a := range sorted {
			want = append(want, a.String())
		}
		if desc {
			for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
				want[i], want[j] = want[j], want[i]
			}
		}
		want = append(want, "-") // a missing address sorts last in both directions
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("order by source.ip desc=%v (-want +got):\n%s", desc, d)
		}
	}
}
