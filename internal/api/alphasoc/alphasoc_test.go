package alphasoc_test

// Integration tests of the AlphaSOC v1 dialect: each test starts the real
// server (app.Start: DuckDB in a temporary data folder, a random port) and
// talks HTTP to it the way AlphaSOC's clients do.

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

const adminKey = "test-admin-key-0123456789"

// ---------------------------------------------------------------------------
// Harness

type testServer struct {
	URL    string
	client *http.Client
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(t testing.TB, mutate func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.AdminKey = adminKey
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	cfg.ShutdownTimeout = 20 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &lockedBuffer{}
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{URL: "http://" + a.Addr.String(), client: &http.Client{Timeout: 2 * time.Minute}}
}

type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) String() string {
	b := a.Body
	if len(b) > 2000 {
		b = b[:2000]
	}
	return fmt.Sprintf("%d %s", a.Status, b)
}

// call sends a request with key as the Basic-auth user name and an empty
// password, as AlphaSOC's clients do (no key: no Authorization); header
// holds name/value pairs.
func (s *testServer) call(t testing.TB, method, path, key string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func decode(t testing.TB, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("cannot decode %s: %v", a, err)
	}
}

// wantMessage checks an error answer: the status and a JSON body that is
// {"message": "..."} (what nfr decodes), containing each of contains.
func wantMessage(t testing.TB, a answer, status int, contains ...string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("status: got %s, want %d", a, status)
	}
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(a.Body, &e); err != nil || strings.TrimSpace(e.Message) == "" {
		t.Errorf("error body is not {\"message\"}: %q (%v)", a.Body, err)
		return
	}
	for _, c := range contains {
		if !strings.Contains(e.Message, c) {
			t.Errorf("message %q does not contain %q", e.Message, c)
		}
	}
}

// eventsAnswer is the answer of POST /v1/events/*.
type eventsAnswer struct {
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	Stopped  *struct {
		Offset  int    `json:"offset"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"stopped"`
}

// counts is the part of the answer AlphaSOC specifies.
type counts struct {
	Received, Accepted int
	Rejected           map[string]int
}

func (e eventsAnswer) counts() counts { return counts{e.Received, e.Accepted, e.Rejected} }

func (s *testServer) post(t testing.TB, typ, key string, body []byte, header ...string) eventsAnswer {
	t.Helper()
	a := s.call(t, http.MethodPost, "/v1/events/"+typ, key, bytes.NewReader(body), header...)
	if a.Status != http.StatusOK {
		t.Fatalf("POST /v1/events/%s: got %s, want 200", typ, a)
	}
	var e eventsAnswer
	decode(t, a, &e)
	if e.Rejected == nil {
		t.Fatalf("rejected is not an object: %s", a)
	}
	return e
}

type keyInfo struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func (s *testServer) createKey(t testing.TB, role, tenant string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"role": role, "tenant": tenant, "name": role})
	a := s.call(t, http.MethodPost, "/api/v1/keys", adminKey, bytes.NewReader(body), "Content-Type", "application/json")
	if a.Status != http.StatusCreated {
		t.Fatalf("create %s key: got %s", role, a)
	}
	var k keyInfo
	decode(t, a, &k)
	return k.Key
}

// sessions searches with the native API.
func (s *testServer) sessions(t testing.TB, key, q string) []map[string]any {
	t.Helper()
	a := s.call(t, http.MethodGet, "/api/v1/sessions?"+url.Values{"q": {q}, "limit": {"1000"}}.Encode(), key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("search %q: got %s", q, a)
	}
	var p struct {
		Items []map[string]any `json:"items"`
	}
	decode(t, a, &p)
	return p.Items
}

// eventItem is one entry of GET /api/v1/sessions/{id}/events.
type eventItem struct {
	Type  string          `json:"type"`
	Ts    string          `json:"ts"`
	Event json.RawMessage `json:"event"`
}

func (s *testServer) events(t testing.TB, key, id string) []eventItem {
	t.Helper()
	a := s.call(t, http.MethodGet, "/api/v1/sessions/"+url.PathEscape(id)+"/events", key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("events of %s: got %s", id, a)
	}
	var p struct {
		Items []eventItem `json:"items"`
	}
	decode(t, a, &p)
	return p.Items
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func rawDeflated(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// zeroReader yields n zero bytes.
type zeroReader struct{ n int }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	clear(p[:k])
	z.n -= k
	return k, nil
}

// ---------------------------------------------------------------------------
// Events

const ts = "2024-03-01T12:00:00Z"

// validEvents are two valid events of each type.
var validEvents = map[string]string{
	"dns": `{"ts":"` + ts + `","srcIP":"10.0.0.1","query":"example.com","qtype":"A"}` + "\n" +
		`{"ts":"` + ts + `","srcIP":"10.0.0.2","srcPort":5353,"query":"example.org","qtype":"AAAA"}`,
	"ip": `{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"proto":"tcp","bytesIn":5000,"bytesOut":300}` + "\n" +
		`{"ts":"` + ts + `","srcIP":"10.0.0.2","srcPort":40001,"destIP":"93.184.216.34","destPort":80,"proto":"tcp","duration":2.5,"app":"http","action":"allowed"}`,
	"http": `{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":40002,"url":"http://example.com/","method":"GET","status":200,"userAgent":"curl/8"}` + "\n" +
		`{"ts":"` + ts + `","srcIP":"10.0.0.2","url":"http://example.org/x","method":"POST","status":0,"contentType":""}`,
	"tls": `{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":40003,"destIP":"93.184.216.34","destPort":443,"certHash":"ab:cd","issuer":"CN=CA","subject":"CN=example.com","validFrom":"2024-01-01T00:00:00Z","validTo":"2099-01-01T00:00:00Z"}` + "\n" +
		`{"ts":"` + ts + `","srcIP":"10.0.0.2","ja3":"e7d705a3286e19ea42f587b344ee6865","validFrom":"0001-01-01T00:00:00Z"}`,
	"lease": `{"ts":"` + ts + `","srcIP":"10.0.0.7","srcMac":"00:11:22:33:44:55","srcHost":"printer","type":"ack","duration":3600}` + "\n" +
		`{"ts":"` + ts + `","srcIP":"10.0.0.8","termination":true}`,
}

// invalidEvent is one event of each type, invalid in its own way.
var invalidEvent = map[string]struct{ body, reason string }{
	"dns":   {`{"ts":"` + ts + `","srcIP":"10.0.0.1"}`, "missing required field"},
	"ip":    {`{"ts":"` + ts + `","srcIP":"10.0.0.300","destIP":"10.0.0.1"}`, "invalid IP address"},
	"http":  {`{"ts":"not a time","srcIP":"10.0.0.1","url":"/"}`, "invalid timestamp"},
	"tls":   {`{"ts":"` + ts + `","srcIP":"10.0.0.1","destIP":"10.0.0.2","destPort":"https","ja3":"x"}`, "wrong type"},
	"lease": {`{"ts":"` + ts + `","srcIP":"10.0.0.1","termination":"yes"}`, "wrong type"},
}

func TestEventsEveryTypeAndEncoding(t *testing.T) {
	s := startServer(t, nil)
	encodings := []struct {
		name, header string
		encode       func([]byte) []byte
	}{
		{"plain", "", func(b []byte) []byte { return b }},
		{"gzip", "gzip", gzipped},
		{"deflate (zlib)", "deflate", zlibbed},
		{"deflate (raw)", "deflate", rawDeflated},
	}
	stored := map[string]int{}
	for _, typ := range []string{"dns", "ip", "http", "tls", "lease"} {
		for _, enc := range encodings {
			t.Run(typ+"/"+enc.name, func(t *testing.T) {
				inv := invalidEvent[typ]
				lines := strings.Split(validEvents[typ], "\n")
				body := []byte(lines[0] + "\n" + inv.body + "\n" + lines[1] + "\n")
				header := []string{"Content-Type", "application/json"}
				if enc.header != "" {
					header = append(header, "Content-Encoding", enc.header)
				}
				got := s.post(t, typ, adminKey, enc.encode(body), header...)
				want := counts{3, 2, map[string]int{inv.reason: 1}}
				if d := cmp.Diff(want, got.counts()); d != "" {
					t.Errorf("answer (-want +got):\n%s", d)
				}
				stored[typ] += 2
			})
		}
	}
	// Every accepted event is a stored network session with its protocol.
	queries := map[string]string{"dns": "protocol == dns", "http": "protocol == http", "tls": "protocol == tls",
		"lease": "protocol == dhcp", "ip": "protocol == tcp && port.src == [40000,40001]"}
	for typ, n := range stored {
		items := s.sessions(t, adminKey, queries[typ])
		if len(items) != n {
			t.Errorf("%s: %d sessions for %q, want %d", typ, len(items), queries[typ], n)
		}
		for _, it := range items {
			if it["session"].(map[string]any)["type"] != "network" {
				t.Errorf("%s: session.type %v", typ, it["session"])
			}
		}
	}
	// Bytes follow the source's point of view: bytesOut is what the source sent.
	items := s.sessions(t, adminKey, "ip.src == 10.0.0.1 && port.src == 40000")
	if len(items) != len(encodings) {
		t.Fatalf("%d ip sessions of 10.0.0.1:40000, want %d", len(items), len(encodings))
	}
	src, dst := items[0]["source"].(map[string]any), items[0]["destination"].(map[string]any)
	if src["bytes"] != float64(300) || dst["bytes"] != float64(5000) {
		t.Errorf("source.bytes %v destination.bytes %v, want 300 and 5000", src["bytes"], dst["bytes"])
	}
}

func TestEventsContentTypes(t *testing.T) {
	s := startServer(t, nil)
	body := []byte(validEvents["dns"])
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/x-ndjson", "application/ndjson",
		"application/x-www-form-urlencoded"} { // what curl --data-binary sends
		t.Run("content type "+ct, func(t *testing.T) {
			var header []string
			if ct != "" {
				header = []string{"Content-Type", ct}
			}
			got := s.post(t, "dns", adminKey, body, header...)
			if got.Accepted != 2 {
				t.Errorf("got %+v", got)
			}
		})
	}
	t.Run("another content type is 415", func(t *testing.T) {
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, bytes.NewReader(body), "Content-Type", "text/html")
		wantMessage(t, a, http.StatusUnsupportedMediaType, "content type")
	})
	t.Run("another encoding is 415", func(t *testing.T) {
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, bytes.NewReader(body), "Content-Encoding", "br")
		wantMessage(t, a, http.StatusUnsupportedMediaType, "br")
	})
	t.Run("unknown event type is 404", func(t *testing.T) {
		a := s.call(t, http.MethodPost, "/v1/events/smtp", adminKey, bytes.NewReader(body))
		wantMessage(t, a, http.StatusNotFound, "smtp", "dns, ip, http, tls or lease")
		a = s.call(t, http.MethodPost, "/v1/events/dns/extra", adminKey, bytes.NewReader(body))
		wantMessage(t, a, http.StatusNotFound)
	})
	t.Run("a body that is not JSON at all is 400", func(t *testing.T) {
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, strings.NewReader("{not json"))
		wantMessage(t, a, http.StatusBadRequest)
	})
	t.Run("an empty body accepts nothing", func(t *testing.T) {
		if d := cmp.Diff(counts{0, 0, map[string]int{}}, s.post(t, "dns", adminKey, nil).counts()); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
}

func TestEventsSizeLimits(t *testing.T) {
	s := startServer(t, nil)
	const limit = 10 << 20
	event := validEvents["dns"][:strings.IndexByte(validEvents["dns"], '\n')]

	t.Run("10 MB uncompressed is accepted", func(t *testing.T) {
		body := append([]byte(event), bytes.Repeat([]byte("\n"), limit-len(event))...)
		if got := s.post(t, "dns", adminKey, gzipped(body), "Content-Encoding", "gzip"); got.Accepted != 1 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("over 10 MB uncompressed is 413", func(t *testing.T) {
		body := append([]byte(event), bytes.Repeat([]byte("\n"), limit+1-len(event))...)
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, bytes.NewReader(body), "Content-Type", "application/json")
		wantMessage(t, a, http.StatusRequestEntityTooLarge, "exceeds")
	})
	t.Run("a small gzip body over 10 MB once decompressed is 413", func(t *testing.T) {
		// The limit is on the uncompressed size, whatever the compressed one.
		body := append([]byte(event), bytes.Repeat([]byte("\n"), limit+1-len(event))...)
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, bytes.NewReader(gzipped(body)), "Content-Encoding", "gzip")
		wantMessage(t, a, http.StatusRequestEntityTooLarge, "decompressed")
	})
	t.Run("gzip bomb is 413", func(t *testing.T) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		io.WriteString(zw, `{"ts":1709294400,"srcIP":"10.0.0.1","query":"`)
		io.Copy(zw, &zeroReader{1 << 30})
		io.WriteString(zw, "\"}\n")
		zw.Close()
		if buf.Len() > 2<<20 {
			t.Fatalf("bomb is %d bytes compressed", buf.Len())
		}
		a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, &buf, "Content-Encoding", "gzip")
		wantMessage(t, a, http.StatusRequestEntityTooLarge, "decompressed")
	})
	if n := len(s.sessions(t, adminKey, "protocol == dns")); n != 1 {
		t.Errorf("%d sessions stored, want only the accepted one", n)
	}
}

func TestEventsTruncatedGzip(t *testing.T) {
	s := startServer(t, nil)
	var plain bytes.Buffer
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&plain, `{"ts":1709294400,"srcIP":"10.0.%d.%d","query":"host-%d.example.com","qtype":"A"}`+"\n", i/250, i%250, i)
	}
	full := gzipped(plain.Bytes())
	cut := full[:len(full)*2/3]
	got := s.post(t, "dns", adminKey, cut, "Content-Encoding", "gzip")
	if got.Accepted == 0 || got.Accepted >= 200 || got.Received != got.Accepted+1 || got.Rejected["truncated body"] != 1 || len(got.Rejected) != 1 {
		t.Fatalf("got %+v, want the complete events before the cut accepted and one truncated", got)
	}
	if got.Stopped == nil || !strings.Contains(got.Stopped.Message, "truncated") {
		t.Errorf("stopped %+v, want where and why", got.Stopped)
	}
	if n := len(s.sessions(t, adminKey, "protocol == dns")); n != got.Accepted {
		t.Errorf("%d sessions stored, %d accepted", n, got.Accepted)
	}
}

func TestEventsInvalidJSONMidStream(t *testing.T) {
	s := startServer(t, nil)
	ev := func(q string) string { return `{"ts":1709294400,"srcIP":"10.0.0.1","query":"` + q + `"}` }
	body := ev("a") + ev("b") + `{"ts":1709294400,"srcIP":` + ev("c") + ev("d")
	got := s.post(t, "dns", adminKey, []byte(body))
	if d := cmp.Diff(counts{3, 2, map[string]int{"malformed JSON": 1}}, got.counts()); d != "" {
		t.Errorf("answer (-want +got):\n%s", d)
	}
	if got.Stopped == nil || got.Stopped.Offset != 2*len(ev("a")) {
		t.Errorf("stopped %+v, want offset %d", got.Stopped, 2*len(ev("a")))
	}
	if n := len(s.sessions(t, adminKey, "protocol == dns")); n != 2 {
		t.Errorf("%d sessions stored, want the 2 before the bad JSON", n)
	}
}

// ---------------------------------------------------------------------------
// nfr

// The shapes nfr (AlphaSOC's Network Flight Recorder) encodes: Go structs
// with time.Time and net.IP fields, written with json.Encoder one per line.
type nfrIPEntry struct {
	Timestamp time.Time `json:"ts"`
	SrcIP     net.IP    `json:"srcIP"`
	SrcPort   int       `json:"srcPort"`
	DstIP     net.IP    `json:"destIP"`
	DstPort   int       `json:"destPort"`
	Protocol  string    `json:"proto"`
	BytesIn   int       `json:"bytesIn"`
	BytesOut  int       `json:"bytesOut"`
	Ja3       string    `json:"ja3"`
}

type nfrStatus struct {
	Registered bool `json:"registered"`
	Expired    bool `json:"expired"`
	Messages   []struct {
		Level int    `json:"level"`
		Body  string `json:"body"`
	} `json:"messages"`
}

// nfrDo sends a request the way nfr's client does and decodes the answer
// the way it does: 200 into v, anything else into {"message"}.
func nfrDo(t *testing.T, client *http.Client, method, u, key string, body []byte, v any) (status int, message string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.SetBasicAuth(key, "")
	req.Header.Set("User-Agent", "AlphaSOC NFR/1.10.0")
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Message == "" {
			t.Fatalf("%s %s: %d body is not {\"message\"}: %v", method, u, resp.StatusCode, err)
		}
		return resp.StatusCode, e.Message
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: cannot decode: %v", method, u, err)
	}
	return resp.StatusCode, ""
}

func TestNfrReplay(t *testing.T) {
	s := startServer(t, nil)
	sensor := s.createKey(t, "sensor", "acme")
	nfr := &http.Client{Timeout: 3 * time.Second} // nfr gives up on the status call after 3 s

	// Start-up: the status call.
	var st nfrStatus
	if code, msg := nfrDo(t, nfr, http.MethodGet, s.URL+"/v1/account/status", sensor, nil, &st); code != 200 {
		t.Fatalf("status: %d %s", code, msg)
	}
	if !st.Registered || st.Expired || len(st.Messages) == 0 || st.Messages[0].Level != 1 {
		t.Errorf("status %+v: want registered, not expired, an info message", st)
	}

	// Then batches of ip events, newline-delimited, no Content-Encoding.
	start := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for batch := 0; batch < 3; batch++ {
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		for i := 0; i < 500; i++ {
			enc.Encode(&nfrIPEntry{Timestamp: start.Add(time.Duration(batch*500+i) * time.Millisecond),
				SrcIP: net.ParseIP("10.1.0.1"), SrcPort: 10000 + batch*500 + i, DstIP: net.ParseIP("192.0.2.10"), DstPort: 443,
				Protocol: "tcp", BytesIn: 1000 + i, BytesOut: 100 + i})
		}
		// nfr encodes a missing address as "" and a missing time as Go's zero time.
		enc.Encode(&nfrIPEntry{Timestamp: start, SrcIP: nil, DstIP: net.ParseIP("192.0.2.10"), Protocol: "udp"})
		var got struct {
			Received int            `json:"received"`
			Accepted int            `json:"accepted"`
			Rejected map[string]int `json:"rejected"`
		}
		if code, msg := nfrDo(t, nfr, http.MethodPost, s.URL+"/v1/events/ip", sensor, body.Bytes(), &got); code != 200 {
			t.Fatalf("batch %d: %d %s", batch, code, msg)
		}
		want := counts{501, 500, map[string]int{"missing required field": 1}}
		if d := cmp.Diff(want, counts(got)); d != "" {
			t.Errorf("batch %d (-want +got):\n%s", batch, d)
		}
	}

	// Failures nfr must be able to read.
	for _, tc := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"unknown key", http.MethodGet, "/v1/account/status", "not-a-key-0123456789", 401},
		{"unknown key on events", http.MethodPost, "/v1/events/ip", "not-a-key-0123456789", 401},
		{"unknown event type", http.MethodPost, "/v1/events/flows", sensor, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := nfrDo(t, nfr, tc.method, s.URL+tc.path, tc.key, []byte("{}\n"), &struct{}{})
			if code != tc.status || msg == "" {
				t.Errorf("got %d %q, want %d with a message", code, msg, tc.status)
			}
		})
	}

	admin := s.sessions(t, adminKey, "ip.src == 10.1.0.1")
	if len(admin) != 0 {
		t.Errorf("the admin's tenant sees %d of acme's sessions", len(admin))
	}
	analyst := s.createKey(t, "analyst", "acme")
	if n := len(s.sessions(t, analyst, "ip.src == 10.1.0.1 && port.dst == 443")); n != 1000 {
		t.Errorf("%d sessions of the first two batches' range, want 1000 (limit)", n)
	}
}

func TestRateLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.API.RateLimit.RequestsPerSecond = 1
		c.API.RateLimit.Burst = 1
	})
	if a := s.call(t, http.MethodGet, "/v1/account/status", adminKey, nil); a.Status != 200 {
		t.Fatalf("first call: %s", a)
	}
	a := s.call(t, http.MethodPost, "/v1/events/dns", adminKey, strings.NewReader(validEvents["dns"]))
	wantMessage(t, a, http.StatusTooManyRequests, "rate limit")
	if a.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
}

// ---------------------------------------------------------------------------
// Status, roles, tenants

func TestAccountStatusEndpointsSeenToday(t *testing.T) {
	s := startServer(t, nil)
	acme := s.createKey(t, "sensor", "acme")
	other := s.createKey(t, "sensor", "other")
	now := time.Now().UTC()
	today := now.Format(time.RFC3339Nano)
	yesterday := now.AddDate(0, 0, -1).Format(time.RFC3339Nano)

	status := func(key string) map[string]any {
		t.Helper()
		a := s.call(t, http.MethodGet, "/v1/account/status", key, nil, "User-Agent", "AlphaSOC NFR/1.10.0")
		if a.Status != 200 {
			t.Fatalf("status: %s", a)
		}
		var m map[string]any
		decode(t, a, &m)
		return m
	}
	first := status(acme)
	for _, k := range []string{"today", "registered", "expired", "expirationDate", "endpointsSeenToday", "messages"} {
		if _, ok := first[k]; !ok {
			t.Errorf("status lacks %q: %v", k, first)
		}
	}
	if first["endpointsSeenToday"] != float64(0) {
		t.Errorf("endpointsSeenToday %v before any event, want 0", first["endpointsSeenToday"])
	}
	if _, err := time.Parse(time.RFC3339, first["today"].(string)); err != nil {
		t.Errorf("today %v: %v", first["today"], err)
	}

	s.post(t, "ip", acme, []byte(
		`{"ts":"`+today+`","srcIP":"10.0.0.1","srcPort":1,"destIP":"192.0.2.1","destPort":80,"proto":"tcp"}`+"\n"+
			`{"ts":"`+today+`","srcIP":"10.0.0.1","srcPort":2,"destIP":"192.0.2.2","destPort":80,"proto":"tcp"}`+"\n"+ // same endpoint
			`{"ts":"`+today+`","srcIP":"2001:db8::1","srcPort":3,"destIP":"2001:db8::2","destPort":80,"proto":"tcp"}`+"\n"+
			`{"ts":"`+yesterday+`","srcIP":"10.0.0.9","srcPort":4,"destIP":"192.0.2.1","destPort":80,"proto":"tcp"}`+"\n")) // not today
	s.post(t, "dns", acme, []byte(
		`{"ts":"`+today+`","srcIP":"10.0.0.5","srcID":"agent-7","query":"a.example"}`+"\n"+
			`{"ts":"`+today+`","srcIP":"10.0.0.6","srcID":"agent-7","query":"b.example"}`+"\n"+ // agent-7 moved: one endpoint
			`{"ts":"`+today+`","srcHost":"laptop","query":"c.example"}`+"\n"))
	s.post(t, "dns", other, []byte(`{"ts":"`+today+`","srcIP":"10.0.0.99","query":"d.example"}`))

	if got := status(acme)["endpointsSeenToday"]; got != float64(4) {
		t.Errorf("acme endpointsSeenToday %v, want 4 (10.0.0.1, 2001:db8::1, agent-7, laptop)", got)
	}
	if got := status(other)["endpointsSeenToday"]; got != float64(1) {
		t.Errorf("other endpointsSeenToday %v, want 1", got)
	}
}

func TestRoles(t *testing.T) {
	s := startServer(t, nil)
	body := validEvents["dns"]
	s.post(t, "dns", adminKey, []byte(body))
	id := s.sessions(t, adminKey, "protocol == dns")[0]["id"].(string)
	for _, role := range []string{"admin", "analyst", "sensor", "viewer"} {
		key := adminKey
		if role != "admin" {
			key = s.createKey(t, role, "default")
		}
		want := map[string]int{
			"admin":   200,
			"analyst": 200,
			"sensor":  200,
			"viewer":  403,
		}[role]
		readWant := map[bool]int{true: 200, false: 403}[role != "sensor"]
		t.Run(role, func(t *testing.T) {
			if a := s.call(t, http.MethodGet, "/v1/account/status", key, nil); a.Status != 200 {
				t.Errorf("status: %s", a)
			}
			a := s.call(t, http.MethodPost, "/v1/events/dns", key, strings.NewReader(body))
			if a.Status != want {
				t.Errorf("post events: %s, want %d", a, want)
			}
			if want != 200 {
				wantMessage(t, a, want, role)
			}
			if a := s.call(t, http.MethodGet, "/api/v1/sessions/"+id+"/events", key, nil); a.Status != readWant {
				t.Errorf("read events: %s, want %d", a, readWant)
			}
			if a := s.call(t, http.MethodGet, "/api/v1/sessions", key, nil); a.Status != readWant {
				t.Errorf("search: %s, want %d", a, readWant)
			}
		})
	}
	t.Run("no key", func(t *testing.T) {
		wantMessage(t, s.call(t, http.MethodGet, "/v1/account/status", "", nil), http.StatusUnauthorized)
		wantMessage(t, s.call(t, http.MethodPost, "/v1/events/dns", "", strings.NewReader(body)), http.StatusUnauthorized)
	})
	t.Run("a password is not a key", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/account/status", nil)
		req.SetBasicAuth(adminKey, "secret")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", resp.StatusCode)
		}
	})
}

// ---------------------------------------------------------------------------
// Raw events and joins

func TestSessionEventsAndJoins(t *testing.T) {
	s := startServer(t, nil)
	acme := s.createKey(t, "analyst", "acme")
	other := s.createKey(t, "analyst", "other")

	ipEv := `{"ts":"2024-03-01T12:00:00Z","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"proto":"tcp","bytesIn":5000,"bytesOut":300,"duration":10}`
	s.post(t, "ip", acme, []byte(ipEv+"\n"))
	sess := s.sessions(t, acme, "ip.src == 10.0.0.1 && port.src == 40000")
	if len(sess) != 1 {
		t.Fatalf("%d ip sessions, want 1", len(sess))
	}
	ipID := sess[0]["id"].(string)

	tlsEv := `{"ts":"2024-03-01T12:00:01Z","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"certHash":"ab:cd","ja3":"j"}`
	httpEv := `{"ts":"2024-03-01T12:00:02Z","srcIP":"10.0.0.1","srcPort":40000,"url":"https://example.com/","method":"GET"}`
	late := `{"ts":"2024-03-01T12:30:00Z","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"ja3":"late"}`
	otherFlow := `{"ts":"2024-03-01T12:00:01Z","srcIP":"10.0.0.1","srcPort":40001,"destIP":"93.184.216.34","destPort":443,"ja3":"other"}`
	if got := s.post(t, "tls", acme, []byte(tlsEv+"\n"+late+"\n"+otherFlow+"\n")); got.Accepted != 3 {
		t.Fatalf("tls: %+v", got)
	}
	if got := s.post(t, "http", acme, []byte(httpEv)); got.Accepted != 1 {
		t.Fatalf("http: %+v", got)
	}
	// Another tenant's identical flow does not join acme's session.
	s.post(t, "tls", other, []byte(tlsEv))

	// The tls and http events of the flow joined the ip session: no session
	// of their own; the late one and the other flow made theirs.
	if n := len(s.sessions(t, acme, "protocol == tls")); n != 2 {
		t.Errorf("%d tls sessions, want 2 (late, other flow)", n)
	}
	if n := len(s.sessions(t, acme, "protocol == http")); n != 0 {
		t.Errorf("%d http sessions, want 0 (joined)", n)
	}
	items := s.events(t, acme, ipID)
	type item struct{ Type, Ts, Event string }
	var got []item
	for _, it := range items {
		var compact bytes.Buffer
		json.Compact(&compact, it.Event)
		got = append(got, item{it.Type, it.Ts, compact.String()})
	}
	want := []item{
		{"ip", "2024-03-01T12:00:00.000Z", ipEv},
		{"tls", "2024-03-01T12:00:01.000Z", tlsEv},
		{"http", "2024-03-01T12:00:02.000Z", httpEv},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events of the ip session (-want +got):\n%s", d)
	}
	late1 := s.sessions(t, acme, "tls.ja3 == late")
	if len(late1) != 1 || len(s.events(t, acme, late1[0]["id"].(string))) != 1 {
		t.Errorf("the late tls event has no session of its own with its event")
	}

	// Tenant isolation: another tenant's key sees none of it.
	wantMessage(t, s.call(t, http.MethodGet, "/api/v1/sessions/"+ipID+"/events", other, nil), http.StatusNotFound)
	wantMessage(t, s.call(t, http.MethodGet, "/api/v1/sessions/no-such-session/events", acme, nil), http.StatusNotFound)
	if n := len(s.sessions(t, other, "protocol == tls")); n != 1 {
		t.Errorf("other: %d tls sessions, want its own 1", n)
	}
	wantMessage(t, s.call(t, http.MethodGet, "/api/v1/sessions/"+ipID+"/events?limit=0", acme, nil), http.StatusBadRequest, "limit")
	a := s.call(t, http.MethodGet, "/api/v1/sessions/"+ipID+"/events?limit=1", acme, nil)
	var one struct{ Items []eventItem }
	decode(t, a, &one)
	if len(one.Items) != 1 || one.Items[0].Type != "ip" {
		t.Errorf("limit=1 gave %s", a)
	}
}

func TestEventsConcurrentClients(t *testing.T) {
	s := startServer(t, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			for i := 0; i < 300; i++ {
				fmt.Fprintf(&body, `{"ts":1709294400,"srcIP":"10.2.%d.%d","srcPort":%d,"destIP":"192.0.2.1","destPort":443,"proto":"tcp"}`+"\n", c, i%250, 1000+i)
			}
			a := s.call(t, http.MethodPost, "/v1/events/ip", adminKey, bytes.NewReader(gzipped(body.Bytes())), "Content-Encoding", "gzip")
			var e eventsAnswer
			if a.Status != 200 || json.Unmarshal(a.Body, &e) != nil || e.Accepted != 300 {
				errs <- a.String()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("client: %s", e)
	}
	a := s.call(t, http.MethodGet, "/api/v1/sessions?count=true&limit=1&q="+url.QueryEscape("ip.src == 10.2.0.0/16"), adminKey, nil)
	var p struct {
		Total int `json:"total"`
	}
	decode(t, a, &p)
	if p.Total != 2400 {
		t.Errorf("%d sessions stored, want 2400", p.Total)
	}
}
