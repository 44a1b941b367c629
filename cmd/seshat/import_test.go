package main

// Tests of `seshat import`: the cobra command run in the test process
// against a server started in-process (or offline into a data folder).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/client"
	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

// runImportCmd runs `seshat import args...` in-process.
func runImportCmd(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := importCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// summaryRow is one file's line of the summary table.
type summaryRow struct {
	format                              string
	received, accepted, alerts, rejects int
	status                              string
}

func parseSummary(t testing.TB, out string) map[string]summaryRow {
	t.Helper()
	rows := map[string]summaryRow{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 7 || f[0] == "FILE" {
			continue
		}
		n := func(s string) int {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("summary line %q: %v", line, err)
			}
			return v
		}
		rows[f[0]] = summaryRow{format: f[1], received: n(f[2]), accepted: n(f[3]), alerts: n(f[4]), rejects: n(f[5]), status: f[6]}
	}
	return rows
}

func count(t testing.TB, c *client.Client, q string) int64 {
	t.Helper()
	res, err := c.Search(context.Background(), client.SearchParams{Query: q, Count: true, Limit: 1})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return *res.Total
}

func gzipFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// expectedResult reads the counts a fixture's expected.json gives.
func expectedResult(t testing.TB, path string) summaryRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Result struct {
			Received, Accepted, Alerts int
			Rejected                   map[string]int
		}
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	r := summaryRow{received: e.Result.Received, accepted: e.Result.Accepted, alerts: e.Result.Alerts}
	for _, n := range e.Result.Rejected {
		r.rejects += n
	}
	return r
}

const sessionNDJSON = `{"id":"imp-s1","firstPacket":"2024-03-01T00:00:00Z","source":{"ip":"10.9.0.1","port":40001},"destination":{"ip":"192.0.2.70","port":443},"network":{"transport":"tcp"}}
{"id":"imp-s2","firstPacket":"2024-03-01T00:01:00Z","source":{"ip":"10.9.0.1","port":40002},"destination":{"ip":"192.0.2.71","port":80},"network":{"transport":"tcp"}}
`

const alphasocNDJSON = `{"ts":"2024-03-01T00:00:00Z","srcIP":"10.8.0.1","srcPort":5353,"query":"imported.example.com","qtype":"A"}
{"ts":"2024-03-01T00:00:01Z","srcIP":"10.8.0.2","query":"other.example.com","qtype":"AAAA"}
`

func TestImportFixtures(t *testing.T) {
	base := inProcessServer(t)
	dir := t.TempDir()
	var files []string
	want := map[string]summaryRow{}
	for _, log := range []string{"conn", "dns", "http", "ssl", "x509", "dhcp", "ssh"} {
		exp := expectedResult(t, filepath.Join("..", "..", "internal", "ingest", "zeek", "testdata", log, "expected.json"))
		for _, in := range []string{"input.log", "input.json"} {
			p := filepath.Join("..", "..", "internal", "ingest", "zeek", "testdata", log, in)
			files = append(files, p)
			want[p] = exp
			if log == "conn" || log == "ssl" {
				gz := filepath.Join(dir, log+"-"+in+".gz")
				gzipFile(t, p, gz)
				files = append(files, gz)
				want[gz] = exp
			}
		}
	}
	for _, ev := range []string{"flow", "netflow", "dns", "http", "tls", "ssh", "dhcp"} {
		p := filepath.Join("..", "..", "internal", "ingest", "eve", "testdata", ev, "input.json")
		files = append(files, p)
		want[p] = expectedResult(t, filepath.Join("..", "..", "internal", "ingest", "eve", "testdata", ev, "expected.json"))
	}
	sess := filepath.Join(dir, "sessions.ndjson")
	asoc := filepath.Join(dir, "dns-events.json")
	os.WriteFile(sess, []byte(sessionNDJSON), 0o600)
	os.WriteFile(asoc, []byte(alphasocNDJSON), 0o600)
	files = append(files, sess, asoc)
	want[sess] = summaryRow{received: 2, accepted: 2}
	want[asoc] = summaryRow{received: 2, accepted: 2}

	out, errOut, err := runImportCmd(t, append([]string{"--server", base, "--key", binAdminKey}, files...)...)
	if err != nil {
		t.Fatalf("import: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	got := parseSummary(t, out)
	for _, f := range files {
		g, w := got[f], want[f]
		if g.received != w.received || g.accepted != w.accepted || g.alerts != w.alerts || g.rejects != w.rejects || g.status != "ok" {
			t.Errorf("%s: got %+v, want %+v", f, g, w)
		}
	}
	if got[sess].format != "session-json" || got[asoc].format != "alphasoc" || got[files[0]].format != "zeek-tsv" {
		t.Errorf("formats: %+v", got)
	}
	if !strings.Contains(errOut, "imported ") {
		t.Errorf("no progress line per file on a non-terminal stderr:\n%s", errOut)
	}

	c := client.New(base, binAdminKey)
	// The conn record: TSV, JSON and both gzip'd copies.
	if n := count(t, c, "zeek.uid == CHhAvVGS1DHFjwGM9"); n < 4 {
		t.Errorf("zeek.uid == CHhAvVGS1DHFjwGM9: %d sessions, want 4 or more", n)
	}
	if n := count(t, c, "ip.src == 10.9.0.1"); n != 2 {
		t.Errorf("session NDJSON: ip.src == 10.9.0.1: %d sessions, want 2", n)
	}
	if n := count(t, c, "dns.queryHost == imported.example.com"); n != 1 {
		t.Errorf("AlphaSOC: %d sessions, want 1", n)
	}
	if n := count(t, c, "eve.flow_id == EXISTS!"); n == 0 {
		t.Errorf("no EVE sessions")
	}
}

func TestImportEVEAlerts(t *testing.T) {
	base := inProcessServer(t)
	dir := t.TempDir()
	alerts := filepath.Join("..", "..", "internal", "ingest", "eve", "testdata", "alert", "input.json")
	flow := filepath.Join("..", "..", "internal", "ingest", "eve", "testdata", "flow", "input.json")
	// One file holding a flow record and an alert of the same flow: the
	// alert joins the flow's session. The fixture's alerts (of flows not
	// in the chunk) get sessions of their own.
	flowLine := `{"timestamp":"2024-03-01T12:00:05.000000+0000","flow_id":777001,"event_type":"flow","src_ip":"10.7.0.1","src_port":40000,"dest_ip":"192.0.2.9","dest_port":443,"proto":"TCP","flow":{"pkts_toserver":3,"pkts_toclient":2,"bytes_toserver":300,"bytes_toclient":200,"start":"2024-03-01T12:00:00.000000+0000","end":"2024-03-01T12:00:05.000000+0000","state":"closed","reason":"timeout","alerted":true}}`
	alertLine := `{"timestamp":"2024-03-01T12:00:01.000000+0000","flow_id":777001,"event_type":"alert","src_ip":"10.7.0.1","src_port":40000,"dest_ip":"192.0.2.9","dest_port":443,"proto":"TCP","alert":{"signature_id":9000001,"signature":"TEST joined alert","category":"Test","severity":1}}`
	joined := filepath.Join(dir, "joined.json")
	os.WriteFile(joined, []byte(alertLine+"\n"+flowLine+"\n"), 0o600)
	out, errOut, err := runImportCmd(t, "--server", base, "--key", binAdminKey, alerts, flow, joined)
	if err == nil || !strings.Contains(err.Error(), "2 records rejected") {
		t.Fatalf("import: err %v, want 2 records rejected (the fixture's stats events)\n%s\n%s", err, out, errOut)
	}
	got := parseSummary(t, out)
	if g := got[alerts]; g.received != 4 || g.accepted != 2 || g.alerts != 2 || g.rejects != 2 || g.status != "rejections" {
		t.Errorf("alert fixture: %+v", g)
	}
	if g := got[joined]; g.received != 2 || g.accepted != 2 || g.alerts != 1 {
		t.Errorf("joined: %+v", g)
	}
	if !strings.Contains(out, "rejected 2: unsupported event type") {
		t.Errorf("no rejection reason in the summary:\n%s", out)
	}
	c := client.New(base, binAdminKey)
	// The joined alert made no session of its own: the flow's session holds it.
	if n := count(t, c, "eve.flow_id == 777001"); n != 1 {
		t.Fatalf("eve.flow_id == 777001: %d sessions, want 1", n)
	}
	items := sessionEvents(t, base, c, "eve.flow_id == 777001")
	if len(items) != 1 || items[0].Type != "alert" || !strings.Contains(string(items[0].Event), "TEST joined alert") {
		t.Errorf("events of the flow: %+v", items)
	}
	// The fixture's first alert, whose flow is not in the file, has a
	// session made for its 5-tuple.
	items = sessionEvents(t, base, c, "eve.flow_id == 1540326016539711 && eve.event_type == alert")
	if len(items) != 1 || !strings.Contains(string(items[0].Event), `"signature_id":2013028`) {
		t.Errorf("events of the alert's own session: %+v", items)
	}
}

type eventItem struct {
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event"`
}

// sessionEvents lists the events of the one session q matches.
func sessionEvents(t testing.TB, base string, c *client.Client, q string) []eventItem {
	t.Helper()
	res, err := c.Search(context.Background(), client.SearchParams{Query: q, Limit: 2})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("search %q: %v, %d items", q, err, len(res.Items))
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/sessions/"+fmt.Sprint(res.Items[0]["id"])+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+binAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Items []eventItem }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %d %v", resp.StatusCode, err)
	}
	return out.Items
}

const connHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-03-01-10-00-00\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"

// writeConnLog writes a Zeek TSV conn.log of n records (gzip'd when the
// name ends in .gz); bad, when positive, is a record line made invalid.
func writeConnLog(t testing.TB, path string, n, bad int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = zw
	}
	bw := bytes.NewBuffer(make([]byte, 0, 1<<20))
	bw.WriteString(connHeader)
	ts := int64(1709287200)
	for i := 1; i <= n; i++ {
		if i == bad {
			fmt.Fprintf(bw, "%d.000000\tCbad%d\tnot-an-ip\t1\t10.0.0.1\t80\ttcp\t-\t1.0\t1\t1\tSF\tT\tF\t0\tSh\t1\t1\t1\t1\t-\n", ts, i)
		} else {
			fmt.Fprintf(bw, "%d.%06d\tC%016x\t10.%d.%d.%d\t%d\t192.0.2.%d\t443\ttcp\tssl\t%d.250000\t%d\t%d\tSF\tT\tF\t0\tShADadFf\t%d\t%d\t%d\t%d\t-\n",
				ts+int64(i/1000), i%1000000, i, (i>>16)&255, (i>>8)&255, i&255, 1024+i%60000, i%250, i%300, 100+i%5000, 2000+i%90000, 5+i%40, 400+i%6000, 6+i%50, 3000+i%95000)
		}
		if bw.Len() > 900<<10 {
			w.Write(bw.Bytes())
			bw.Reset()
		}
	}
	w.Write(bw.Bytes())
	if zw != nil {
		zw.Close()
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	return fi.Size()
}

func TestImportLargeZeekTSVInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 200 000 records; runs without -short (testing.Short)")
	}
	base := inProcessServer(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "conn.log")
	gz := filepath.Join(dir, "conn2.log.gz")
	writeConnLog(t, plain, 200_000, 0)
	writeConnLog(t, gz, 50_000, 0)
	// 2 MB chunks: about 15 for the plain file, each starting with the
	// header lines sent again.
	out, errOut, err := runImportCmd(t, "--server", base, "--key", binAdminKey, "--chunk-size", strconv.Itoa(2<<20), plain, gz)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out, errOut)
	}
	got := parseSummary(t, out)
	if g := got[plain]; g.received != 200_000 || g.accepted != 200_000 || g.rejects != 0 {
		t.Errorf("plain: %+v", g)
	}
	if g := got[gz]; g.received != 50_000 || g.accepted != 50_000 {
		t.Errorf("gzip: %+v", g)
	}
	if !strings.Contains(out, "total  ") {
		t.Errorf("no total line:\n%s", out)
	}
	c := client.New(base, binAdminKey)
	if n := count(t, c, "zeek.log == conn"); n != 250_000 {
		t.Errorf("stored %d conn sessions, want 250000", n)
	}
	if n := count(t, c, fmt.Sprintf("zeek.uid == C%016x", 49_999)); n != 2 {
		t.Errorf("a record in both files: %d sessions, want 2", n)
	}
}

func TestImportBadInput(t *testing.T) {
	base := inProcessServer(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.log")
	os.WriteFile(broken, []byte("#separator \\x09\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\n1709287200.0\tCx\t10.0.0.1\n"), 0o600)
	unknown := filepath.Join(dir, "notes.txt")
	os.WriteFile(unknown, []byte("hello, this is not a log\n"), 0o600)
	badLine := filepath.Join(dir, "badline.log")
	writeConnLog(t, badLine, 3000, 2500)

	out, errOut, err := runImportCmd(t, "--server", base, "--key", binAdminKey, "--chunk-size", "16384", broken, unknown, badLine)
	if err == nil {
		t.Fatalf("import of bad input succeeded:\n%s", out)
	}
	if !strings.Contains(errOut, "cannot import "+unknown+": unrecognised format") {
		t.Errorf("no clear message for the unknown format:\n%s", errOut)
	}
	if !strings.Contains(out, broken+": stopped at line 3: ") {
		t.Errorf("no clear message for the broken header:\n%s", out)
	}
	got := parseSummary(t, out)
	if g := got[broken]; g.status != "stopped" || g.accepted != 0 {
		t.Errorf("broken: %+v", g)
	}
	if g := got[unknown]; g.status != "failed" {
		t.Errorf("unknown: %+v", g)
	}
	// The bad record is reported with its line in the file (the header is 8
	// lines), though it sits in a later chunk.
	if g := got[badLine]; g.received != 3000 || g.accepted != 2999 || g.rejects != 1 {
		t.Errorf("badline: %+v", g)
	}
	if !strings.Contains(out, fmt.Sprintf("%s:%d: ", badLine, 2500+8)) {
		t.Errorf("the bad record's file line is not reported:\n%s", out)
	}

	// No key, and a wrong format name.
	if _, _, err := runImportCmd(t, "--server", base, "--key", "", badLine); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Errorf("no key: %v", err)
	}
	if _, _, err := runImportCmd(t, "--server", base, "--key", binAdminKey, "--format", "csv", badLine); err == nil || !strings.Contains(err.Error(), "unknown --format") {
		t.Errorf("bad --format: %v", err)
	}
}

func TestImportOffline(t *testing.T) {
	data := t.TempDir()
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log.gz")
	writeConnLog(t, conn, 20_000, 0)
	eveFlow := filepath.Join("..", "..", "internal", "ingest", "eve", "testdata", "flow", "input.json")
	out, errOut, err := runImportCmd(t, "--data", data, "--chunk-size", "500000", conn, eveFlow)
	if err != nil {
		t.Fatalf("offline import: %v\n%s\n%s", err, out, errOut)
	}
	if g := parseSummary(t, out)[conn]; g.accepted != 20_000 {
		t.Errorf("offline: %+v", g)
	}
	if _, _, err := runImportCmd(t, "--data", data, "--server", "http://127.0.0.1:1", conn); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("--data with --server: %v", err)
	}

	// A server on the folder sees what was imported.
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = data
	cfg.AdminKey = binAdminKey
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	defer a.Stop()
	c := client.New("http://"+a.Addr.String(), binAdminKey)
	if n := count(t, c, "zeek.log == conn"); n != 20_000 {
		t.Errorf("after the offline import: %d conn sessions, want 20000", n)
	}
	if n := count(t, c, "eve.event_type == flow"); n != 3 {
		t.Errorf("after the offline import: %d EVE flows, want 3", n)
	}
}

// BenchmarkImportZeekConn imports a generated conn.log of 500 000 records
// into a server in the test process, as `seshat import` does.
func BenchmarkImportZeekConn(b *testing.B) {
	const records = 500_000
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = b.TempDir()
	cfg.AdminKey = binAdminKey
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatalf("app.Start: %v", err)
	}
	defer a.Stop()
	path := filepath.Join(b.TempDir(), "conn.log")
	size := writeConnLog(b, path, records, 0)
	base := "http://" + a.Addr.String()
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		out, errOut, err := runImportCmd(b, "--server", base, "--key", binAdminKey, path)
		if err != nil {
			b.Fatalf("import: %v\n%s\n%s", err, out, errOut)
		}
	}
	b.ReportMetric(float64(records*b.N)/time.Since(start).Seconds(), "records/s")
}
