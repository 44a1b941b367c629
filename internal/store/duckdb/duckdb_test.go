package duckdb

import (
	"context"
	"testing"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
	"github.com/seshatsec/seshat/internal/synth"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), t.TempDir(), DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func decode(t testing.TB, tenant string, body []byte) ([]store.Row, []model.Field) {
	t.Helper()
	dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), tenant)
	var rows []store.Row
	res, err := dec.Decode(body, func(r store.Row) error { rows = append(rows, r); return nil })
	if err != nil || res.Accepted != res.Received {
		t.Fatalf("decode: %v %+v", err, res)
	}
	return rows, dec.DiscoveredFields()
}

func TestAppendSearchCountsRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	body := synth.New(1, 1_700_000_000_000).NDJSON(500)
	rows, disc := decode(t, "acme", body)
	if err := db.Append(ctx, rows, disc); err != nil {
		t.Fatal(err)
	}
	other, _ := decode(t, "other", synth.New(2, 1_700_000_000_000).NDJSON(100))
	if err := db.Append(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	res, err := db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: model.Default, Limit: 1000, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 500 || *res.Total != 500 || res.NextCursor != "" {
		t.Fatalf("got %d items, total %d, cursor %q", len(res.Items), *res.Total, res.NextCursor)
	}
	got, err := db.Get(ctx, "acme", rows[0].ID, model.Default)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["source.ip"] == nil || got.Fields["firstPacket"] == nil {
		t.Fatalf("missing fields: %v", got.Fields)
	}
	if _, err := db.Get(ctx, "other", rows[0].ID, model.Default); err != store.ErrNotFound {
		t.Fatalf("cross-tenant get: %v", err)
	}
	// Paging with a cursor visits every session once.
	seen := map[string]bool{}
	cur := ""
	for {
		page, err := db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: model.Default, Limit: 64, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Items {
			if seen[s.ID] {
				t.Fatalf("session %s seen twice", s.ID)
			}
			seen[s.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
	}
	if len(seen) != 500 {
		t.Fatalf("paged through %d sessions, want 500", len(seen))
	}
	expr, err := query.Parse(`port.dst == [80,443] && ip.src == 10.0.0.0/8 && protocols == http`, model.Default)
	if err != nil {
		t.Fatal(err)
	}
	res, err = db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: model.Default, Filter: expr, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Items {
		p := s.Fields["destination.port"].(int64)
		if p != 80 && p != 443 {
			t.Fatalf("port %d does not match", p)
		}
	}
	dp, _ := model.Default.Lookup("destination.port")
	pr, _ := model.Default.Lookup("protocol")
	counts, err := db.Counts(ctx, store.CountsRequest{Tenant: "acme", Registry: model.Default, Fields: []*model.Field{dp, pr}, Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, b := range counts[0].Buckets {
		sum += b.Count
	}
	if len(counts[0].Buckets) != 3 || sum+counts[0].Other+counts[0].Missing != 500 {
		t.Fatalf("counts do not add up: %+v", counts[0])
	}
}

func BenchmarkAppend(b *testing.B) {
	db := openTest(b)
	body := synth.New(1, 1_700_000_000_000).NDJSON(10_000)
	rows, _ := decode(b, "acme", body)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Append(context.Background(), rows, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDecode(b *testing.B) {
	body := synth.New(1, 1_700_000_000_000).NDJSON(10_000)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), "acme")
		dec.Decode(body, func(store.Row) error { return nil })
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "docs/s")
}

// TestJSONPathEscapesQuotes: names reach SQL text only after the registry
// or SafeFieldName checked them; the path literal escapes them anyway.
func TestJSONPathEscapesQuotes(t *testing.T) {
	if got, want := jsonPath(`a'b"c\`, ""), `'$."a''b\"c\\"'`; got != want {
		t.Errorf("jsonPath = %s, want %s", got, want)
	}
	if got, want := jsonPath("dns.queryHost", "[*]"), `'$."dns.queryHost"[*]'`; got != want {
		t.Errorf("jsonPath = %s, want %s", got, want)
	}
}
