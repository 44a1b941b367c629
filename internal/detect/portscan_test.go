package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

const scanT0 = int64(1709251200000)

func scanDetector(t *testing.T, cfg PortScanConfig) *Detector {
	t.Helper()
	d, err := New(Config{PortScan: cfg}, model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// flow is one session row of tenant from src to dst:port at ms.
func flow(tenant, src, dst string, port int64, transport string, ms int64) store.Row {
	r := store.Row{Tenant: tenant, ID: fmt.Sprintf("%s-%s-%s-%d-%d", tenant, src, dst, port, ms), Cols: make([]any, len(model.Default.Columns()))}
	r.Cols[col("source.ip")] = netip.MustParseAddr(src)
	r.Cols[col("destination.ip")] = netip.MustParseAddr(dst)
	if transport != "icmp" {
		r.Cols[col("destination.port")] = port
	}
	r.Cols[col("network.transport")] = transport
	r.Cols[col("firstPacket")] = ms
	return r
}

func scanned(r store.Row) bool {
	th, _ := r.Cols[col("threats")].([]string)
	return slices.Contains(th, "port_scan")
}

func countScanned(rows []store.Row) int {
	n := 0
	for _, r := range rows {
		if scanned(r) {
			n++
		}
	}
	return n
}

func checkScanAlerts(t *testing.T, alerts []store.Alert, want int, flag string) {
	t.Helper()
	if len(alerts) != want {
		t.Fatalf("got %d alerts, want %d: %+v", len(alerts), want, alerts)
	}
	for _, a := range alerts {
		if !slices.Equal(a.Threats, []string{"port_scan"}) || a.Severity != Lookup("port_scan").SessionSeverity() || a.EventType != "ip" {
			t.Errorf("alert %+v", a)
		}
		if flag != "" && !strings.Contains(string(a.Body), `"flags":["`+flag+`"]`) {
			t.Errorf("alert body lacks flag %s: %s", flag, a.Body)
		}
	}
}

func TestPortScanVertical(t *testing.T) {
	d := scanDetector(t, PortScanConfig{})
	var rows []store.Row
	for i := range 100 { // 100 ports of one host within 10 s
		rows = append(rows, flow("t", "10.0.0.66", "192.0.2.10", int64(1000+i), "tcp", scanT0+int64(i)*100))
	}
	alerts := d.Detect(rows[:50])
	alerts = append(alerts, d.Detect(rows[50:])...) // state carries across batches
	checkScanAlerts(t, alerts, 1, flagVertical)
	for i, r := range rows {
		if want := i >= 24; scanned(r) != want {
			t.Errorf("row %d: scanned %v, want %v", i, scanned(r), want)
		}
	}
	r := rows[24]
	if r.Cols[col("classification")] != "suspicious" || r.Cols[col("severity")] != Lookup("port_scan").SessionSeverity() ||
		r.Cols[col("risk.score")] != Lookup("port_scan").RiskScore() {
		t.Errorf("triage: %v %v %v", r.Cols[col("classification")], r.Cols[col("severity")], r.Cols[col("risk.score")])
	}
	if alerts[0].SessionID != rows[24].ID {
		t.Errorf("alert on %s, want the crossing row %s", alerts[0].SessionID, rows[24].ID)
	}
}

func TestPortScanHorizontal(t *testing.T) {
	d := scanDetector(t, PortScanConfig{})
	var rows []store.Row
	for i := range 100 { // one port on 100 hosts
		rows = append(rows, flow("t", "10.0.0.77", fmt.Sprintf("192.0.2.%d", i+1), 445, "tcp", scanT0+int64(i)*100))
	}
	alerts := d.Detect(rows)
	checkScanAlerts(t, alerts, 1, flagHorizontal)
	if n := countScanned(rows); n != 76 {
		t.Errorf("%d rows marked, want 76", n)
	}
	// A later window of the same scan raises one more alert.
	var later []store.Row
	for i := range 100 {
		later = append(later, flow("t", "10.0.0.77", fmt.Sprintf("198.51.100.%d", i+1), 445, "tcp", scanT0+10*60_000+int64(i)*100))
	}
	checkScanAlerts(t, d.Detect(later), 1, flagHorizontal)
}

func TestPortScanICMPSweep(t *testing.T) {
	d := scanDetector(t, PortScanConfig{})
	var rows []store.Row
	for i := range 60 {
		rows = append(rows, flow("t", "10.0.0.88", fmt.Sprintf("192.0.2.%d", i+1), 0, "icmp", scanT0+int64(i)*100))
	}
	checkScanAlerts(t, d.Detect(rows), 1, flagICMPSweep)
	if n := countScanned(rows); n != 36 {
		t.Errorf("%d rows marked, want 36", n)
	}
}

func TestPortScanBelowThreshold(t *testing.T) {
	d := scanDetector(t, PortScanConfig{})
	var rows []store.Row
	for i := range 24 { // 24 ports of one host, 24 hosts on 443: under 25
		rows = append(rows, flow("t", "10.0.0.5", "192.0.2.1", int64(2000+i), "tcp", scanT0+int64(i)*1000))
		rows = append(rows, flow("t", "10.0.0.5", fmt.Sprintf("198.51.100.%d", i+1), 443, "tcp", scanT0+int64(i)*1000))
		rows = append(rows, flow("t", "10.0.0.5", fmt.Sprintf("203.0.113.%d", i+1), 0, "icmp", scanT0+int64(i)*1000))
	}
	// Many connections to few services, repeated: not a scan.
	for i := range 500 {
		rows = append(rows, flow("t", "10.0.0.6", fmt.Sprintf("192.0.2.%d", i%5+1), []int64{53, 80, 443}[i%3], "tcp", scanT0+int64(i)*50))
	}
	// 40 ports of one host, but spread over 40 minutes (one a minute).
	for i := range 40 {
		rows = append(rows, flow("t", "10.0.0.7", "192.0.2.9", int64(3000+i), "tcp", scanT0+int64(i)*61_000))
	}
	// TCP and UDP on the same 12 port numbers: 24 distinct services.
	for i := range 12 {
		rows = append(rows, flow("t", "10.0.0.8", "192.0.2.2", int64(100+i), "tcp", scanT0+int64(i)))
		rows = append(rows, flow("t", "10.0.0.8", "192.0.2.2", int64(100+i), "udp", scanT0+int64(i)))
	}
	if alerts := d.Detect(rows); len(alerts) != 0 {
		t.Errorf("got %d alerts: %+v", len(alerts), alerts)
	}
	if n := countScanned(rows); n != 0 {
		t.Errorf("%d rows marked", n)
	}
}

func TestPortScanTenants(t *testing.T) {
	d := scanDetector(t, PortScanConfig{})
	var rows []store.Row
	// 40 ports of one host from one address, alternating two tenants:
	// 20 each, under the threshold in each.
	for i := range 40 {
		rows = append(rows, flow([]string{"a", "b"}[i%2], "10.0.0.9", "192.0.2.3", int64(1+i), "tcp", scanT0+int64(i)*10))
	}
	if alerts := d.Detect(rows); len(alerts) != 0 || countScanned(rows) != 0 {
		t.Errorf("tenants share state: %d alerts, %d rows marked", len(alerts), countScanned(rows))
	}
	if d.scan.sources("a") != 1 || d.scan.sources("b") != 1 {
		t.Errorf("sources a %d b %d", d.scan.sources("a"), d.scan.sources("b"))
	}
	// Then tenant a alone goes on to cross it; b is untouched.
	var more []store.Row
	for i := range 10 {
		more = append(more, flow("a", "10.0.0.9", "192.0.2.3", int64(100+i), "tcp", scanT0+1000+int64(i)))
	}
	alerts := d.Detect(more)
	checkScanAlerts(t, alerts, 1, flagVertical)
	if alerts[0].Tenant != "a" {
		t.Errorf("alert tenant %q", alerts[0].Tenant)
	}
}

func TestPortScanBounded(t *testing.T) {
	d := scanDetector(t, PortScanConfig{MaxSources: 1000, MaxValues: 100})
	// 5 000 sources, one flow each: the cap keeps the most recent 1 000.
	var rows []store.Row
	for i := range 5000 {
		rows = append(rows, flow("t", fmt.Sprintf("10.1.%d.%d", i/256, i%256), "192.0.2.1", 443, "tcp", scanT0+int64(i)))
	}
	if alerts := d.Detect(rows); len(alerts) != 0 {
		t.Errorf("%d alerts", len(alerts))
	}
	if n := d.scan.sources("t"); n != 1000 {
		t.Errorf("%d sources tracked, want 1000", n)
	}
	tn := d.scan.tenants["t"]
	if _, ok := tn.srcs[netip.MustParseAddr("10.1.0.0")]; ok {
		t.Error("the least recently seen source was kept")
	}
	if _, ok := tn.srcs[netip.MustParseAddr("10.1.19.135")]; !ok { // 4999
		t.Error("the most recent source was forgotten")
	}
	// The recency list agrees with the map.
	n := 0
	for s := tn.head; s != nil; s = s.next {
		n++
	}
	if n != 1000 {
		t.Errorf("list holds %d", n)
	}

	// One busy source reaching thousands of distinct hosts and ports: its
	// values stay under the cap, and each set under its threshold.
	var busy []store.Row
	for i := range 20_000 {
		busy = append(busy, flow("t", "10.2.0.1", fmt.Sprintf("172.16.%d.%d", i/256%256, i%256), int64(1+i%20), "tcp", scanT0+int64(i)*10))
	}
	d.Detect(busy)
	s := tn.srcs[netip.MustParseAddr("10.2.0.1")]
	held := len(s.icmp.vals)
	for _, v := range s.vert {
		held += len(v.vals)
		if len(v.vals) > d.scan.cfg.Ports {
			t.Errorf("vertical set of %d", len(v.vals))
		}
	}
	for _, h := range s.horiz {
		held += len(h.vals)
		if len(h.vals) > d.scan.cfg.Hosts {
			t.Errorf("horizontal set of %d", len(h.vals))
		}
	}
	if held != s.n || s.n > d.scan.cfg.MaxValues {
		t.Errorf("source holds %d values (counted %d), cap %d", held, s.n, d.scan.cfg.MaxValues)
	}
	// The busy source's rows run 200 s of session time past the others,
	// which saw nothing in the last window and are forgotten.
	if n := d.scan.sources("t"); n != 1 {
		t.Errorf("%d sources after the others went idle for a window, want 1", n)
	}
	n = 0
	for s := tn.head; s != nil; s = s.next {
		n++
	}
	if n != 1 {
		t.Errorf("recency list holds %d after expiry, want 1", n)
	}
}

func TestPortScanDisabled(t *testing.T) {
	d := scanDetector(t, PortScanConfig{Disabled: true})
	var rows []store.Row
	for i := range 100 {
		rows = append(rows, flow("t", "10.0.0.66", "192.0.2.10", int64(1000+i), "tcp", scanT0+int64(i)*100))
	}
	if alerts := d.Detect(rows); len(alerts) != 0 || countScanned(rows) != 0 {
		t.Errorf("disabled: %d alerts", len(alerts))
	}
}
