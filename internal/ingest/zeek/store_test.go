package zeek_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/ingest/eve"
	"github.com/seshatsec/seshat/internal/ingest/zeek"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

// TestRowsGoIntoTheStore writes every Zeek and EVE fixture into the embedded
// store and queries them back by the fields the decoders set: the rows are
// ones the store takes, and the links the packages document (zeek.uid
// across logs, zeek.fingerprint from ssl to x509, eve.flow_id and
// community_id across sensors) work as queries.
func TestRowsGoIntoTheStore(t *testing.T) {
	ctx := context.Background()
	db, err := duckdb.Open(ctx, t.TempDir(), duckdb.DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }

	zd := zeek.NewDecoder(zeek.Config{Tenant: "acme", Now: now})
	zeekLogs, _ := filepath.Glob("testdata/*/input.log")
	for _, name := range zeekLogs {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var rows []store.Row
		if _, err := zd.Decode(bytes.NewReader(raw), func(r store.Row) error { rows = append(rows, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := db.Append(ctx, rows, zd.DiscoveredFields()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	ed := eve.NewDecoder(eve.Config{Tenant: "acme", Now: now})
	eveLogs, _ := filepath.Glob("../eve/testdata/*/input.json")
	for _, name := range eveLogs {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var rows []store.Row
		if _, err := ed.Decode(bytes.NewReader(raw), func(r eve.Record) error {
			if r.Alert == nil {
				rows = append(rows, r.Row)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Append(ctx, rows, ed.DiscoveredFields()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	tests := []struct {
		expr string
		want int
	}{
		{`zeek.uid == CHhAvVGS1DHFjwGM9`, 2},  // its conn and ssl records
		{`zeek.uid == CjhGID4nQcgTWjvg4c`, 2}, // two HTTP requests on one connection
		{`zeek.log == conn && bytes.src > 2000`, 1},
		{`zeek.fingerprint == d2bb1f1a3c5e2e7cf2a40a6a9f1d0e4e6b1d5f0f8a7c3b2e1d9c8b7a6f5e4d3c`, 1},
		{`zeek.cert_chain_fps == d2bb1f1a3c5e2e7cf2a40a6a9f1d0e4e6b1d5f0f8a7c3b2e1d9c8b7a6f5e4d3c`, 1},
		{`host.http == www.example.com`, 5}, // Zeek http (2) and ssl SNI (1), EVE http (2)
		{`dns.query.host == www.example.com`, 3},
		{`eve.flow_id == 1183848367127393`, 4},                 // the flow, its two netflow records, its tls event
		{`communityId == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="`, 3}, // Zeek conn, EVE flow and tls
		{`zeek.dns.trans_id == 38201`, 1},
		{`tls.ja3 == 773906b0efdefa24a7f2b8eb6985bf37`, 2},
		{`ip.dns == 93.184.216.34`, 2},
		{`cert.subject.cn == www.example.org`, 2}, // the x509 record and the EVE tls event
	}
	for _, tc := range tests {
		reg := model.Default.With(append(zd.DiscoveredFields(), ed.DiscoveredFields()...))
		expr, err := query.Parse(tc.expr, reg)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		res, err := db.Search(ctx, store.SearchRequest{Tenant: "acme", Registry: reg, Filter: expr, Limit: 100, Count: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if int(*res.Total) != tc.want {
			t.Errorf("%s: %d sessions, want %d", tc.expr, *res.Total, tc.want)
		}
	}
}
