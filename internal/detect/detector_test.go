package detect

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

func col(name string) int {
	f, _ := model.Default.Lookup(name)
	return f.ColumnIndex()
}

func row(src, dst string, attrs string) store.Row {
	r := store.Row{Tenant: "t", ID: "s", Cols: make([]any, len(model.Default.Columns()))}
	r.Cols[col("source.ip")] = netip.MustParseAddr(src)
	r.Cols[col("destination.ip")] = netip.MustParseAddr(dst)
	r.Cols[col("destination.port")] = int64(443)
	r.Cols[col("firstPacket")] = int64(1709251200000)
	if attrs != "" {
		r.Attrs = []byte(attrs)
	}
	return r
}

func TestDetectSetsTriage(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "c2.txt")
	if err := os.WriteFile(feed, []byte("203.0.113.7\nevil.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Intel: []string{dir}}, model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := []store.Row{
		row("10.0.0.1", "203.0.113.7", `{"dns.queryHost":["a.EVIL.example"],"x":1}`),
		row("10.0.0.1", "192.0.2.1", `{"http.host":"fine.example"}`),
		row("10.0.0.1", "192.0.2.1", `{"tls.ja3":["e7d705a3286e19ea42f587b344ee6865"]}`),
	}
	rows[0].Cols[col("threats")] = []string{"earlier"}
	rows[0].Cols[col("severity")] = int64(1)
	alerts := d.Detect(rows)
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	r := rows[0]
	if got := r.Cols[col("threats")].([]string); !slices.Equal(got, []string{"earlier", "c2_communication"}) {
		t.Errorf("threats %v", got)
	}
	if r.Cols[col("classification")] != "malicious" || r.Cols[col("severity")] != int64(4) || r.Cols[col("risk.score")] != int64(100) {
		t.Errorf("triage: class %v severity %v risk %v", r.Cols[col("classification")], r.Cols[col("severity")], r.Cols[col("risk.score")])
	}
	if a := alerts[0]; a.EventType != "dns" || a.SessionID != "s" || !slices.Equal(a.Threats, []string{"c2_communication"}) || a.Ts != 1709251200000 {
		t.Errorf("alert %+v", a)
	}
	if rows[1].Cols[col("threats")] != nil || rows[1].Cols[col("classification")] != nil {
		t.Errorf("clean row changed: %v", rows[1].Cols)
	}

	// A reload sees the new feed; the old index served until the swap.
	if err := os.WriteFile(feed, []byte("192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Detect([]store.Row{row("10.0.0.1", "192.0.2.1", "")})); n != 1 {
		t.Errorf("after reload: %d alerts", n)
	}
	if err := os.Remove(feed); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if d.Index().Len() != 0 {
		t.Errorf("empty folder: index holds %d", d.Index().Len())
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Error("reload of a missing folder: no error")
	}
}
