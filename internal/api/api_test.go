package api_test

// Integration tests of the native API: each test starts the real server
// (app.Start: DuckDB in a temporary data folder, a random port) and talks
// HTTP to it with net/http, as a sensor, a script or the UI would.

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/config"
	"github.com/seshatsec/seshat/internal/synth"
)

const adminKey = "test-admin-key-0123456789"

// ---------------------------------------------------------------------------
// Harness

type testServer struct {
	URL    string
	client *http.Client
}

// lockedBuffer collects the server's log; it is printed when a test fails.
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

// startServer starts a server on a random port with a fresh data folder and
// the known bootstrap admin key; mutate adjusts the configuration first.
func startServer(t *testing.T, mutate func(*config.Config)) *testServer {
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
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Start(context.Background(), cfg, log)
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
	return &testServer{
		URL:    "http://" + a.Addr.String(),
		client: &http.Client{Timeout: 2 * time.Minute},
	}
}

// answer is a response, body read.
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

// call sends a request. key, when not empty, goes as a Bearer token; header
// holds name/value pairs (an "Authorization" there replaces the key).
func (s *testServer) call(t *testing.T, method, path, key string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
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

func (s *testServer) get(t *testing.T, path, key string) answer {
	t.Helper()
	return s.call(t, http.MethodGet, path, key, nil)
}

// wantError checks an error answer: the status, a JSON body with a
// non-empty message, and that the message contains each of contains.
func wantError(t *testing.T, a answer, status int, contains ...string) string {
	t.Helper()
	if a.Status != status {
		t.Errorf("status: got %s, want %d", a, status)
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json (body %q)", ct, a.Body)
	}
	var e map[string]any
	if err := json.Unmarshal(a.Body, &e); err != nil {
		t.Errorf("error body is not JSON: %v: %q", err, a.Body)
		return ""
	}
	msg, _ := e["message"].(string)
	if strings.TrimSpace(msg) == "" {
		t.Errorf("error body has no message: %q", a.Body)
	}
	for _, c := range contains {
		if !strings.Contains(msg, c) {
			t.Errorf("error message %q does not contain %q", msg, c)
		}
	}
	return msg
}

func decode(t *testing.T, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("cannot decode %s: %v", a, err)
	}
}

// uploadAnswer is the answer of POST /api/v1/sessions.
type uploadAnswer struct {
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	Errors   []struct {
		Index   int    `json:"index"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"errors"`
}

// counts is the part of an upload answer the issue specifies.
type counts struct {
	Received, Accepted int
	Rejected           map[string]int
}

func (u uploadAnswer) counts() counts { return counts{u.Received, u.Accepted, u.Rejected} }

// upload posts an NDJSON body and expects 200.
func (s *testServer) upload(t *testing.T, key string, body []byte, header ...string) uploadAnswer {
	t.Helper()
	if len(header) == 0 {
		header = []string{"Content-Type", "application/x-ndjson"}
	}
	a := s.call(t, http.MethodPost, "/api/v1/sessions", key, bytes.NewReader(body), header...)
	if a.Status != http.StatusOK {
		t.Fatalf("upload: got %s, want 200", a)
	}
	var u uploadAnswer
	decode(t, a, &u)
	return u
}

// uploadAll uploads and expects every document accepted.
func (s *testServer) uploadAll(t *testing.T, key string, body []byte) {
	t.Helper()
	n := bytes.Count(bytes.TrimSpace(body), []byte("\n")) + 1
	u := s.upload(t, key, body)
	if u.Received != n || u.Accepted != n {
		t.Fatalf("upload: got %+v, want %d received and accepted", u, n)
	}
}

// page is the answer of GET /api/v1/sessions.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
	Total      *int64           `json:"total"`
	TookMs     *float64         `json:"took_ms"`
}

func (p page) ids() []string {
	out := make([]string, 0, len(p.Items))
	for _, it := range p.Items {
		id, _ := it["id"].(string)
		out = append(out, id)
	}
	return out
}

func (s *testServer) search(t *testing.T, key string, q url.Values) page {
	t.Helper()
	a := s.get(t, "/api/v1/sessions?"+q.Encode(), key)
	if a.Status != http.StatusOK {
		t.Fatalf("search %s: got %s, want 200", q.Encode(), a)
	}
	var p page
	decode(t, a, &p)
	return p
}

// total is count=true's total for a query ("" for everything).
func (s *testServer) total(t *testing.T, key, q string) int64 {
	t.Helper()
	v := url.Values{"count": {"true"}, "limit": {"1"}}
	if q != "" {
		v.Set("q", q)
	}
	p := s.search(t, key, v)
	if p.Total == nil {
		t.Fatalf("count=true answered without total")
	}
	return *p.Total
}

// keyInfo is a key as the API shows it.
type keyInfo struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Role      string `json:"role"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Key       string `json:"key"`
}

// createKey makes a key with the given admin key and expects 201.
func (s *testServer) createKey(t *testing.T, admin, role, tenant, name string) keyInfo {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"role": role, "tenant": tenant, "name": name})
	a := s.call(t, http.MethodPost, "/api/v1/keys", admin, bytes.NewReader(body), "Content-Type", "application/json")
	if a.Status != http.StatusCreated {
		t.Fatalf("create %s key for %q: got %s, want 201", role, tenant, a)
	}
	var k keyInfo
	decode(t, a, &k)
	if k.ID == "" || k.Key == "" {
		t.Fatalf("created key lacks id or secret: %s", a)
	}
	return k
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rawDeflated(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sorted(ids []string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

// t0 is 2024-03-01T00:00:00Z, the start of the fixture sessions.
const t0 = int64(1709251200000)

// fixture is six sessions whose every field a test below relies on.
// Intervals: s1 [00:00:00, 00:00:10], s2 [00:01, 00:02], s3 [00:05:00,
// 00:05:01], s4 [00:10, 00:20], s5 [00:15:00, 00:15:05], s6 [00:30] (no
// lastPacket). Times come in every accepted form.
const fixture = `{"id":"s1","firstPacket":"2024-03-01T00:00:00Z","lastPacket":"2024-03-01T00:00:10Z","source":{"ip":"10.0.0.1","port":40001,"bytes":100},"destination":{"ip":"192.168.1.10","port":443,"bytes":1000},"network":{"transport":"tcp"},"protocol":["tcp","tls"],"node":"sensor-a","tags":["red"]}
{"id":"s2","firstPacket":"2024-03-01T00:01:00Z","lastPacket":"2024-03-01T00:02:00Z","source":{"ip":"10.0.0.2","port":40002,"bytes":200},"destination":{"ip":"192.168.1.20","port":80,"bytes":2000},"network":{"transport":"tcp"},"protocol":["tcp","http"],"http":{"host":["www.example.com"]},"node":"sensor-a","tags":["red","blue"]}
{"id":"s3","firstPacket":1709251500,"lastPacket":1709251501,"source":{"ip":"10.1.5.5","port":40003,"bytes":300},"destination":{"ip":"8.8.8.8","port":53,"bytes":64},"ipProtocol":17,"protocol":["udp","dns"],"node":"sensor-b"}
{"id":"s4","firstPacket":1709251800000,"lastPacket":1709252400000,"source":{"ip":"172.16.0.1","port":40004,"bytes":600},"destination":{"ip":"192.168.1.10","port":8080,"bytes":10},"network":{"transport":"tcp"},"protocol":["tcp","http"],"http":{"host":["api.example.org"]},"node":"sensor-b"}
{"id":"s5","firstPacket":"2024-03-01T00:15:00Z","lastPacket":"2024-03-01T00:15:05Z","source":{"ip":"2001:db8::1","port":40005,"bytes":700},"destination":{"ip":"2001:db8::2","port":443,"bytes":5000},"network":{"transport":"tcp"},"protocol":["tcp","tls"],"node":"sensor-c","tags":["blue"]}
{"id":"s6","firstPacket":"2024-03-01T00:30:00Z","source":{"ip":"10.0.0.1","port":40006,"bytes":50},"destination":{"ip":"192.168.1.10","port":22,"bytes":20},"network":{"transport":"tcp"},"protocol":["tcp","ssh"]}
`

// fixtureServer is a server holding the fixture in the default tenant.
func fixtureServer(t *testing.T) *testServer {
	t.Helper()
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, []byte(fixture))
	return s
}

// ---------------------------------------------------------------------------
// POST /api/v1/sessions

func TestUploadFormatsAndEncodings(t *testing.T) {
	s := startServer(t, nil)
	docs := []string{
		`{"firstPacket":1709251200000,"source":{"ip":"10.9.0.1","port":1},"destination":{"ip":"10.9.0.2","port":80}}`,
		`{"firstPacket":"2024-03-01T00:00:01Z","source":{"ip":"10.9.0.1","port":2},"destination":{"ip":"10.9.0.2","port":80}}`,
		`{"firstPacket":1709251202,"source":{"ip":"10.9.0.1","port":3},"destination":{"ip":"10.9.0.2","port":80}}`,
	}
	ndjson := []byte(strings.Join(docs, "\n") + "\n")
	crlf := []byte(strings.Join(docs, "\r\n"))
	array := []byte("[\n" + strings.Join(docs, ",\n") + "\n]")
	concat := []byte(strings.Join(docs, ""))
	spaced := []byte(strings.Join(docs, "  "))
	tests := []struct {
		name, contentType, encoding string
		body                        []byte
	}{
		{"ndjson", "application/x-ndjson", "", ndjson},
		{"ndjson without final newline, CRLF", "application/x-ndjson", "", crlf},
		{"ndjson with charset", "application/x-ndjson; charset=utf-8", "", ndjson},
		{"ndjson as text/plain", "text/plain", "", ndjson},
		{"ndjson identity", "application/x-ndjson", "identity", ndjson},
		{"json array", "application/json", "", array},
		{"concatenated objects", "application/json", "", concat},
		{"objects separated by spaces", "application/json", "", spaced},
		{"ndjson gzip", "application/x-ndjson", "gzip", gzipped(t, ndjson)},
		{"array gzip", "application/json", "gzip", gzipped(t, array)},
		{"concatenated gzip", "application/json", "gzip", gzipped(t, concat)},
		{"ndjson deflate (zlib)", "application/x-ndjson", "deflate", zlibbed(t, ndjson)},
		{"array deflate (zlib)", "application/json", "deflate", zlibbed(t, array)},
		{"ndjson raw deflate", "application/x-ndjson", "deflate", rawDeflated(t, ndjson)},
	}
	want := counts{Received: 3, Accepted: 3, Rejected: map[string]int{}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Content-Type", tc.contentType}
			if tc.encoding != "" {
				hdr = append(hdr, "Content-Encoding", tc.encoding)
			}
			u := s.upload(t, adminKey, tc.body, hdr...)
			if diff := cmp.Diff(want, u.counts(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			// The answer is exactly {"received","accepted","rejected"} (plus
			// optional detail); rejected is an object even when empty.
			var raw map[string]json.RawMessage
			a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, bytes.NewReader(tc.body), hdr...)
			decode(t, a, &raw)
			if string(raw["rejected"]) != "{}" {
				t.Errorf(`"rejected" is %s, want {}`, raw["rejected"])
			}
		})
	}
	// Every accepted document is stored: two uploads per case.
	if got, want := s.total(t, adminKey, ""), int64(2*3*len(tests)); got != want {
		t.Errorf("stored %d sessions, want %d", got, want)
	}
	if got := s.total(t, adminKey, "port.src == 2"); got != int64(2*len(tests)) {
		t.Errorf("port.src == 2 matches %d sessions, want %d", got, 2*len(tests))
	}
}

func TestUploadUnsupportedMediaType(t *testing.T) {
	s := startServer(t, nil)
	doc := []byte(`{"firstPacket":1709251200000}` + "\n")
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"no content type", nil, "content type"},
		{"xml", []string{"Content-Type", "application/xml"}, "application/xml"},
		{"form", []string{"Content-Type", "application/x-www-form-urlencoded"}, "content type"},
		{"malformed content type", []string{"Content-Type", "application/json; ="}, "content type"},
		{"brotli", []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "br"}, "br"},
		{"compress", []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "compress"}, "compress"},
		{"zstd", []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "zstd"}, "Content-Encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/sessions", bytes.NewReader(doc))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			if len(tc.header) == 0 {
				req.Header["Content-Type"] = nil
			}
			resp, err := s.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, answer{resp.StatusCode, resp.Header, b}, http.StatusUnsupportedMediaType, tc.want)
		})
	}
	if got := s.total(t, adminKey, ""); got != 0 {
		t.Errorf("%d sessions stored from refused bodies, want 0", got)
	}
}

// zeroReader yields n '0' bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	for i := range p {
		p[i] = '0'
	}
	z.n -= int64(len(p))
	return len(p), nil
}

// onlyReader hides a reader's other methods, so the client cannot learn the
// length and sends the body chunked.
type onlyReader struct{ io.Reader }

func TestUploadSizeLimits(t *testing.T) {
	s := startServer(t, nil)
	const limit = 10 << 20
	doc := `{"id":"fits","firstPacket":1709251200000}`

	t.Run("body of exactly 10 MB is accepted", func(t *testing.T) {
		body := append([]byte(doc), bytes.Repeat([]byte("\n"), limit-len(doc))...)
		u := s.upload(t, adminKey, body)
		if diff := cmp.Diff(counts{1, 1, map[string]int{}}, u.counts(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("answer (-want +got):\n%s", diff)
		}
	})
	t.Run("body over 10 MB with Content-Length is 413", func(t *testing.T) {
		body := append([]byte(doc), bytes.Repeat([]byte("\n"), limit+1-len(doc))...)
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, bytes.NewReader(body), "Content-Type", "application/x-ndjson")
		wantError(t, a, http.StatusRequestEntityTooLarge, "exceeds")
	})
	t.Run("chunked body over 10 MB is 413", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(doc+"\n"), &zeroReader{limit})
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, onlyReader{body}, "Content-Type", "application/x-ndjson")
		wantError(t, a, http.StatusRequestEntityTooLarge, "exceeds")
	})
	t.Run("gzip bomb is 413", func(t *testing.T) {
		// A valid-looking document whose string holds 101 MB of zeros: about
		// 100 KB compressed, built as a stream so the test never holds it.
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		io.WriteString(zw, `{"id":"bomb","firstPacket":1709251200000,"padding":"`)
		if _, err := io.Copy(zw, &zeroReader{101 << 20}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(zw, "\"}\n")
		zw.Close()
		if buf.Len() > 1<<20 {
			t.Fatalf("bomb is %d bytes compressed; the test wants a small one", buf.Len())
		}
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, &buf,
			"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
		wantError(t, a, http.StatusRequestEntityTooLarge, "decompressed")
	})
	t.Run("deflate bomb is 413", func(t *testing.T) {
		var buf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
		io.Copy(zw, &zeroReader{101 << 20})
		zw.Close()
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, &buf,
			"Content-Type", "application/x-ndjson", "Content-Encoding", "deflate")
		wantError(t, a, http.StatusRequestEntityTooLarge, "decompressed")
	})
	// Only the document of the accepted body is stored.
	p := s.search(t, adminKey, url.Values{"count": {"true"}})
	if diff := cmp.Diff([]string{"fits"}, p.ids()); diff != "" {
		t.Errorf("stored sessions (-want +got):\n%s", diff)
	}
}

func TestUploadTruncatedGzipKeepsCompleteDocuments(t *testing.T) {
	s := startServer(t, nil)
	// body is five short documents, then a long one; boundary is how many
	// compressed bytes hold exactly the five.
	body := func(prefix string) (full []byte, boundary int, plain []byte) {
		var head bytes.Buffer
		for i := 0; i < 5; i++ {
			fmt.Fprintf(&head, `{"id":"%s%d","firstPacket":%d,"destination":{"port":%d}}`+"\n", prefix, i, t0+int64(i)*1000, 1000+i)
		}
		// A long last document, so that a cut inside its compressed form breaks it.
		var tail bytes.Buffer
		fmt.Fprintf(&tail, `{"id":"%s-tail","firstPacket":1709251299000,"note":"`, prefix)
		for i := 0; i < 400; i++ {
			fmt.Fprintf(&tail, "%x", i*7919)
		}
		tail.WriteString("\"}\n")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(head.Bytes())
		zw.Flush() // everything so far is decodable from the first buf.Len() bytes
		boundary = buf.Len()
		zw.Write(tail.Bytes())
		zw.Close()
		return buf.Bytes(), boundary, head.Bytes()
	}

	t.Run("cut at a document boundary", func(t *testing.T) {
		full, boundary, _ := body("b")
		u := s.upload(t, adminKey, full[:boundary], "Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
		want := counts{Received: 6, Accepted: 5, Rejected: map[string]int{"truncated body": 1}}
		if diff := cmp.Diff(want, u.counts()); diff != "" {
			t.Errorf("answer (-want +got):\n%s", diff)
		}
	})
	t.Run("cut inside a document", func(t *testing.T) {
		full, boundary, _ := body("i")
		u := s.upload(t, adminKey, full[:boundary+20], "Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
		if u.Accepted != 5 {
			t.Errorf("accepted %d, want the 5 complete documents: %+v", u.Accepted, u)
		}
		if u.Rejected["truncated body"] == 0 {
			t.Errorf("rejected %v does not report the truncated body", u.Rejected)
		}
		sum := u.Accepted
		for _, n := range u.Rejected {
			sum += n
		}
		if sum != u.Received {
			t.Errorf("received %d != accepted + rejected %d (%+v)", u.Received, sum, u)
		}
	})
	t.Run("nothing decodable is 400", func(t *testing.T) {
		full, _, _ := body("n")
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, bytes.NewReader(full[:5]),
			"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
		wantError(t, a, http.StatusBadRequest)
	})
	t.Run("gzip header on a plain body is 400", func(t *testing.T) {
		_, _, plain := body("p")
		a := s.call(t, http.MethodPost, "/api/v1/sessions", adminKey, bytes.NewReader(plain),
			"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
		wantError(t, a, http.StatusBadRequest, "gzip")
	})
	// The complete documents were stored; the broken tails and refused bodies never.
	p := s.search(t, adminKey, url.Values{"limit": {"100"}, "order": {"id:asc"}})
	want := []string{"b0", "b1", "b2", "b3", "b4", "i0", "i1", "i2", "i3", "i4"}
	if diff := cmp.Diff(want, p.ids()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

func TestUploadMalformedJSONKeepsTheRest(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name string
		body string
		want counts
		ids  []string // stored by this case
	}{
		{
			name: "bad value mid-ndjson",
			body: `{"id":"m1","firstPacket":1709251200000}` + "\n" +
				`{"id":"m-bad","firstPacket": oops}` + "\n" +
				`{"id":"m2","firstPacket":1709251201000}` + "\n",
			want: counts{3, 2, map[string]int{"malformed JSON": 1}},
			ids:  []string{"m1", "m2"},
		},
		{
			name: "unclosed brace mid-ndjson does not swallow the next lines",
			body: `{"id":"u1","firstPacket":1709251200000}` + "\n" +
				`{"id":"u-bad","firstPacket":1709251200000,` + "\n" +
				`{"id":"u2","firstPacket":1709251201000}` + "\n" +
				`{"id":"u3","firstPacket":1709251202000}` + "\n",
			want: counts{4, 3, map[string]int{"malformed JSON": 1}},
			ids:  []string{"u1", "u2", "u3"},
		},
		{
			name: "stray closing brace and garbage lines",
			body: `{"id":"g1","firstPacket":1709251200000}` + "\n" +
				"}\n" +
				"not-json\n" +
				`{"id":"g2","firstPacket":1709251201000}` + "\n",
			want: counts{4, 2, map[string]int{"malformed JSON": 2}},
			ids:  []string{"g1", "g2"},
		},
		{
			// In NDJSON a line is one document, however many words it has.
			name: "a garbage line of several words is one document",
			body: `{"id":"w1","firstPacket":1709251200000}` + "\n" +
				"this is not json\n" +
				`{"id":"w2","firstPacket":1709251201000}` + "\n",
			want: counts{3, 2, map[string]int{"malformed JSON": 1}},
			ids:  []string{"w1", "w2"},
		},
		{
			name: "a document that is not an object",
			body: `{"id":"n1","firstPacket":1709251200000}` + "\n" + `[1,2]` + "\n" + `"str"` + "\n" + `{"id":"n2","firstPacket":1709251201000}` + "\n",
			want: counts{4, 2, map[string]int{"not a JSON object": 2}},
			ids:  []string{"n1", "n2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := s.upload(t, adminKey, []byte(tc.body))
			if diff := cmp.Diff(tc.want, u.counts()); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if len(u.Errors) == 0 {
				t.Errorf("no error detail in %+v", u)
			}
			for _, e := range u.Errors {
				if e.Reason == "" || e.Message == "" {
					t.Errorf("error detail without reason or message: %+v", e)
				}
			}
			prefix := tc.ids[0][:1]
			p := s.search(t, adminKey, url.Values{"q": {"id == " + prefix + "*"}, "order": {"id:asc"}})
			if diff := cmp.Diff(tc.ids, p.ids()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUploadValidation(t *testing.T) {
	s := startServer(t, nil)
	future := time.Now().Add(2 * time.Hour).UnixMilli()
	nearFuture := time.Now().Add(10 * time.Minute).UnixMilli()
	long := strings.Repeat("x", 9000)
	lines := []string{
		`{"id":"v-ok","firstPacket":1709251200000,"source":{"ip":"10.0.0.1","port":1234},"destination":{"ip":"::ffff:10.0.0.2","port":443}}`,
		`{"id":"v-unknown","firstPacket":1709251200000,"custom":{"label":"abc","score":7,"ratio":0.5,"ok":true,"list":["x","y"]},"vendor_field":"zzz"}`,
		fmt.Sprintf(`{"id":"v-near-future","firstPacket":%d}`, nearFuture),
		`{"id":"v-type","firstPacket":1709251200000,"source":{"port":true}}`,
		`{"id":"v-type-2","firstPacket":1709251200000,"destination":{"port":"https"}}`,
		`{"id":"v-type-3","firstPacket":1709251200000,"protocol":[{"a":1}]}`,
		`{"id":"v-ip","firstPacket":1709251200000,"source":{"ip":"999.1.1.1"}}`,
		`{"id":"v-ip-2","firstPacket":1709251200000,"destination":{"ip":"not-an-ip"}}`,
		`{"id":"v-port","firstPacket":1709251200000,"destination":{"port":70000}}`,
		`{"id":"v-port-2","firstPacket":1709251200000,"source":{"port":-1}}`,
		`{"id":"v-severity","firstPacket":1709251200000,"severity":9}`,
		fmt.Sprintf(`{"id":"v-future","firstPacket":%d}`, future),
		fmt.Sprintf(`{"id":"v-future-2","firstPacket":1709251200000,"lastPacket":%d}`, future),
		`{"id":"v-badtime","firstPacket":"yesterday"}`,
		`{"id":"v-notime","source":{"ip":"10.0.0.1"}}`,
		`{"id":"v-long","firstPacket":1709251200000,"node":"` + long + `"}`,
		`{"id":"v-long-2","firstPacket":1709251200000,"vendor_note":"` + long + `"}`,
		`{"id":"v-fieldname","firstPacket":1709251200000,"we'ird":1}`,
		`{"id":"v-reverse","firstPacket":1709251200000,"lastPacket":1709251100000}`,
		`{"id":"bad id with spaces","firstPacket":1709251200000}`,
		`{"id":"v-ghost","ghost_field":1,"firstPacket":"not a time"}`,
	}
	u := s.upload(t, adminKey, []byte(strings.Join(lines, "\n")))
	want := counts{
		Received: len(lines),
		Accepted: 3,
		Rejected: map[string]int{
			"wrong type":                      3,
			"invalid IP address":              2,
			"value out of range":              3,
			"timestamp too far in the future": 2,
			"invalid timestamp":               2,
			"missing firstPacket":             1,
			"string too long":                 2,
			"invalid field name":              1,
			"lastPacket before firstPacket":   1,
			"invalid id":                      1,
		},
	}
	if diff := cmp.Diff(want, u.counts()); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if len(u.Errors) == 0 {
		t.Fatalf("no error detail")
	}
	for _, e := range u.Errors {
		if e.Reason == "" || e.Message == "" || e.Index < 1 || e.Index >= len(lines) {
			t.Errorf("bad error detail: %+v", e)
		}
	}

	// The valid documents were kept, the others were not.
	p := s.search(t, adminKey, url.Values{"order": {"id:asc"}, "count": {"true"}})
	if diff := cmp.Diff([]string{"v-near-future", "v-ok", "v-unknown"}, p.ids()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	// An IPv4-mapped address is stored as IPv4.
	a := s.get(t, "/api/v1/sessions/v-ok", adminKey)
	var doc map[string]any
	decode(t, a, &doc)
	if got := fmt.Sprint(doc["destination"].(map[string]any)["ip"]); got != "10.0.0.2" {
		t.Errorf("destination.ip stored as %q, want 10.0.0.2", got)
	}

	// Unknown fields are kept, listed by field discovery and queryable.
	a = s.get(t, "/api/v1/fields", adminKey)
	if a.Status != http.StatusOK {
		t.Fatalf("fields: %s", a)
	}
	var fields struct {
		Fields []struct {
			Name        string `json:"name"`
			Type        string `json:"type"`
			Description string `json:"description"`
			Group       string `json:"group"`
			Discovered  bool   `json:"discovered"`
		} `json:"fields"`
	}
	decode(t, a, &fields)
	discovered := map[string]string{}
	for _, f := range fields.Fields {
		if f.Discovered {
			discovered[f.Name] = f.Type
		}
	}
	for name, typ := range map[string]string{
		"custom.label": "string", "custom.score": "integer", "custom.ratio": "float",
		"custom.ok": "boolean", "custom.list": "string[]", "vendor_field": "string",
	} {
		if got, ok := discovered[name]; !ok {
			t.Errorf("field %s is not listed as discovered (discovered: %v)", name, discovered)
		} else if got != typ {
			t.Errorf("discovered field %s has type %q, want %q", name, got, typ)
		}
	}
	// A field seen only in a rejected document is not kept, so not listed.
	if _, ok := discovered["ghost_field"]; ok {
		t.Errorf("ghost_field, sent only in a rejected document, is listed as discovered")
	}
	for _, q := range []string{
		"custom.label == abc",
		"custom.label == ab*",
		"custom.score == 7",
		"custom.score > 5",
		"custom.ratio < 1",
		"custom.ok == true",
		"custom.list == y",
		"vendor_field == EXISTS!",
		"custom.label == abc && ip.src != EXISTS!",
	} {
		p := s.search(t, adminKey, url.Values{"q": {q}})
		if diff := cmp.Diff([]string{"v-unknown"}, p.ids()); diff != "" {
			t.Errorf("q=%s (-want +got):\n%s", q, diff)
		}
	}
	p = s.search(t, adminKey, url.Values{"q": {"custom.score > 7"}})
	if len(p.Items) != 0 {
		t.Errorf("custom.score > 7 matched %v, want nothing", p.ids())
	}
	// The discovered document renders its unknown fields back.
	a = s.get(t, "/api/v1/sessions/v-unknown", adminKey)
	decode(t, a, &doc)
	wantCustom := map[string]any{"label": "abc", "score": float64(7), "ratio": 0.5, "ok": true, "list": []any{"x", "y"}}
	if diff := cmp.Diff(wantCustom, doc["custom"]); diff != "" {
		t.Errorf("custom fields as read back (-want +got):\n%s", diff)
	}
}

func TestSQLLookingValuesAreJustValues(t *testing.T) {
	s := fixtureServer(t)
	injections := []string{
		`host.http == "x'; DROP TABLE sessions; --"`,
		`node == "a' OR '1'='1"`,
		`node == "sensor-a'--"`,
		`host.http == "*'; DELETE FROM sessions; --*"`,
		`host.http == /x'; DROP TABLE sessions; --/`,
		`tags == ["red'); DROP TABLE api_keys; --", "x"]`,
		`node == "\"; SELECT 1; --"`,
		`custom' OR 1=1 == 1`, // not a field name: a 400, not SQL
	}
	for _, q := range injections {
		a := s.get(t, "/api/v1/sessions?"+url.Values{"q": {q}, "count": {"true"}}.Encode(), adminKey)
		if strings.HasPrefix(q, "custom'") {
			wantError(t, a, http.StatusBadRequest, "position")
			continue
		}
		if a.Status != http.StatusOK {
			t.Errorf("q=%s: got %s, want 200", q, a)
			continue
		}
		var p page
		decode(t, a, &p)
		if len(p.Items) != 0 || p.Total == nil || *p.Total != 0 {
			t.Errorf("q=%s matched %v (total %v), want nothing", q, p.ids(), p.Total)
		}
		// The same values through counts.
		a = s.get(t, "/api/v1/sessions/counts?"+url.Values{"q": {q}, "field": {"node"}}.Encode(), adminKey)
		if a.Status != http.StatusOK {
			t.Errorf("counts q=%s: got %s, want 200", q, a)
		}
	}
	// Stored values that look like SQL come back verbatim.
	s.uploadAll(t, adminKey, []byte(`{"id":"sqlish","firstPacket":1709251200000,"node":"x'; DROP TABLE sessions; --","http":{"host":["o'reilly.example"]}}`))
	for _, q := range []string{`node == "x'; DROP TABLE sessions; --"`, `host.http == "o'reilly.example"`, `host.http == o'reilly*`} {
		p := s.search(t, adminKey, url.Values{"q": {q}})
		if diff := cmp.Diff([]string{"sqlish"}, p.ids()); diff != "" {
			t.Errorf("q=%s (-want +got):\n%s", q, diff)
		}
	}
	// The tables are intact and still take writes.
	if got := s.total(t, adminKey, ""); got != 7 {
		t.Errorf("total after injection attempts: %d, want 7", got)
	}
	s.uploadAll(t, adminKey, []byte(`{"id":"after","firstPacket":1709251200000}`))
	if got := s.total(t, adminKey, ""); got != 8 {
		t.Errorf("total after a new upload: %d, want 8", got)
	}
	if a := s.get(t, "/api/v1/keys", adminKey); a.Status != http.StatusOK {
		t.Errorf("keys after injection attempts: %s", a)
	}
}

// ---------------------------------------------------------------------------
// GET /api/v1/sessions

func TestSearchQueryValueForms(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		q    string
		want []string
	}{
		{"ip.src == 10.0.0.1", []string{"s1", "s6"}},
		{"source.ip == 10.0.0.0/8", []string{"s1", "s2", "s3", "s6"}},
		{"ip.src == 10.0", []string{"s1", "s2", "s6"}},
		{"ip.src == 10.0.0.1-10.0.0.2", []string{"s1", "s2", "s6"}},
		{"ip.src == 2001:db8::/32", []string{"s5"}},
		{"ip.src == [10.1.5.5, 172.16.0.1]", []string{"s3", "s4"}},
		{"ip.dst == 192.168.1.10:443", []string{"s1"}},
		{"ip.dst == 192.168.1.10", []string{"s1", "s4", "s6"}},
		{"ip.dst == [8.8.8.8, 2001:db8::2]", []string{"s3", "s5"}},
		{"ip.src != 10.0.0.0/8", []string{"s4", "s5"}},
		{"port.dst == 443", []string{"s1", "s5"}},
		{"port.dst == [80, 443]", []string{"s1", "s2", "s5"}},
		{"port.dst == 50-100", []string{"s2", "s3"}},
		{"port.dst >= 443", []string{"s1", "s4", "s5"}},
		{"port.dst < 80", []string{"s3", "s6"}},
		{"port.dst != 443", []string{"s2", "s3", "s4", "s6"}},
		{"!(port.dst == 443)", []string{"s2", "s3", "s4", "s6"}},
		{"!port.dst == 443", []string{"s2", "s3", "s4", "s6"}},
		{"host.http == *.example.com", []string{"s2"}},
		{"host.http == *example*", []string{"s2", "s4"}},
		{"host.http == api.example.or?", []string{"s4"}},
		{`host.http == /^api\./`, []string{"s4"}},
		{`host.http == /example\.(com|org)$/`, []string{"s2", "s4"}},
		{"host.http == EXISTS!", []string{"s2", "s4"}},
		{"host.http != EXISTS!", []string{"s1", "s3", "s5", "s6"}},
		{"tags == EXISTS!", []string{"s1", "s2", "s5"}},
		{"tags != EXISTS!", []string{"s3", "s4", "s6"}},
		{"node == EXISTS!", []string{"s1", "s2", "s3", "s4", "s5"}},
		{"node == sensor-?", []string{"s1", "s2", "s3", "s4", "s5"}},
		{`node == "sensor-b"`, []string{"s3", "s4"}},
		{"node != sensor-a", []string{"s3", "s4", "s5", "s6"}},
		{"tags == red", []string{"s1", "s2"}},
		{"tags == [red, blue]", []string{"s1", "s2", "s5"}},
		{"tags == ]red, blue[", []string{"s2"}},
		{"protocol == ]tcp, http[", []string{"s2", "s4"}},
		{"protocols == [dns, ssh]", []string{"s3", "s6"}},
		{"ip.protocol == udp", []string{"s3"}},
		{"bytes.src >= 300 && bytes.src < 700", []string{"s3", "s4"}},
		{"starttime >= 2024-03-01T00:10:00Z", []string{"s4", "s5", "s6"}},
		{`firstPacket < "2024-03-01T00:01:00Z"`, []string{"s1"}},
		{"ip.src == 10.0.0.1 && port.dst == 443", []string{"s1"}},
		// && binds tighter than ||.
		{"port.dst == 443 || port.dst == 53 && node == sensor-a", []string{"s1", "s5"}},
		{"(port.dst == 443 || port.dst == 53) && node == sensor-b", []string{"s3"}},
		{"!(node == sensor-a || node == sensor-b)", []string{"s5", "s6"}},
		{"classification == EXISTS!", []string{}},
		{"ip.src == 10.2.0.0/16", []string{}},
		{"id == s1 || _id == s2", []string{"s1", "s2"}},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			p := s.search(t, adminKey, url.Values{"q": {tc.q}, "count": {"true"}})
			if diff := cmp.Diff(tc.want, sorted(p.ids())); diff != "" {
				t.Errorf("q=%s (-want +got):\n%s", tc.q, diff)
			}
			if p.Total == nil || *p.Total != int64(len(tc.want)) {
				t.Errorf("total %v, want %d", p.Total, len(tc.want))
			}
		})
	}
}

func TestSearchIPv6(t *testing.T) {
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, []byte(
		`{"id":"v6-a","firstPacket":1709251200000,"source":{"ip":"fe80::1","port":1},"destination":{"ip":"ff02::fb","port":5353}}`+"\n"+
			`{"id":"v6-b","firstPacket":1709251201000,"source":{"ip":"fe80::2","port":2},"destination":{"ip":"2001:db8::1","port":443}}`+"\n"+
			`{"id":"v6-c","firstPacket":1709251202000,"source":{"ip":"2001:db8::ffff:ffff:ffff:ffff","port":3},"destination":{"ip":"2001:db8::1","port":443}}`+"\n"+
			`{"id":"v4-d","firstPacket":1709251203000,"source":{"ip":"10.0.0.1","port":4},"destination":{"ip":"10.0.0.2","port":443}}`))
	tests := []struct {
		q    string
		want []string
	}{
		{"ip.src == fe80::1", []string{"v6-a"}},
		{"ip.src == fe80::/10", []string{"v6-a", "v6-b"}},
		{"ip.src == 2001:db8::/64", []string{"v6-c"}},
		{"ip.src == 2001:db8::/32", []string{"v6-c"}},
		{"ip.src == 2001:db8::ffff:ffff:ffff:ffff", []string{"v6-c"}},
		{"ip.src >= fe80::", []string{"v6-a", "v6-b"}},
		{"ip.src == [fe80::2, 10.0.0.1]", []string{"v4-d", "v6-b"}},
		{"ip.dst == ff00::/8", []string{"v6-a"}},
		{"ip.dst == 2001:db8::1 && port.dst == 443", []string{"v6-b", "v6-c"}},
		{"ip.src == ::/0", []string{"v4-d", "v6-a", "v6-b", "v6-c"}},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			a := s.get(t, "/api/v1/sessions?"+url.Values{"q": {tc.q}}.Encode(), adminKey)
			if a.Status != http.StatusOK {
				t.Fatalf("got %s, want 200", a)
			}
			var p page
			decode(t, a, &p)
			if diff := cmp.Diff(tc.want, sorted(p.ids())); diff != "" {
				t.Errorf("q=%s (-want +got):\n%s", tc.q, diff)
			}
		})
	}
	// Paging ordered by address carries IPv6 halves in the cursor.
	var got []string
	v := url.Values{"order": {"ip.src:asc"}, "limit": {"1"}}
	for i := 0; i < 6; i++ {
		a := s.get(t, "/api/v1/sessions?"+v.Encode(), adminKey)
		if a.Status != http.StatusOK {
			t.Fatalf("page %d ordered by ip.src: got %s, want 200", i, a)
		}
		var p page
		decode(t, a, &p)
		got = append(got, p.ids()...)
		if p.NextCursor == "" {
			break
		}
		v.Set("cursor", p.NextCursor)
	}
	if diff := cmp.Diff([]string{"v4-d", "v6-c", "v6-a", "v6-b"}, got); diff != "" {
		t.Errorf("paged by ip.src (-want +got):\n%s", diff)
	}
}

func TestSearchBadQueryGivesPosition(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		q       string
		pos     int // -1: any position
		contain string
	}{
		{"port.dst == 80 &&", 17, ""},
		{"port.dst ==", 11, ""},
		{"(port.dst == 80", -1, ""},
		{"port.dst == 80)", 14, ""},
		{"ip.srcc == 10.0.0.1", 0, "ip.src"},
		{"port.dst == 80 && nosuchfield == 1", 18, "unknown field"},
		{"port.dst == abc", 12, ""},
		{"ip.src == 300.1.1.1.1", 10, ""},
		{`host.http == "unterminated`, 13, ""},
		{"host.http == /[/", 13, ""},
		{"port.dst == 1-", -1, ""},
		{"port.dst >= [80, 443]", -1, ""},
		{"port.dst < EXISTS!", -1, ""},
		{"port.dst == 80 port.src == 1", -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			for _, path := range []string{"/api/v1/sessions?", "/api/v1/sessions/counts?field=node&"} {
				a := s.get(t, path+url.Values{"q": {tc.q}}.Encode(), adminKey)
				msg := wantError(t, a, http.StatusBadRequest, "at position", tc.contain)
				if tc.pos >= 0 && !strings.Contains(msg, fmt.Sprintf("at position %d", tc.pos)) {
					t.Errorf("%s: message %q does not give position %d", path, msg, tc.pos)
				}
			}
		})
	}
}

func TestSearchTimeRangeOverlap(t *testing.T) {
	s := fixtureServer(t)
	sec := func(d string) string { // RFC 3339 at 2024-03-01 + d
		dd, _ := time.ParseDuration(d)
		return time.UnixMilli(t0).Add(dd).UTC().Format(time.RFC3339)
	}
	tests := []struct {
		name, start, end string
		want             []string
	}{
		{"inside one session", sec("5s"), sec("7s"), []string{"s1"}},
		{"range inside a long session", sec("12m"), sec("13m"), []string{"s4"}},
		{"bounds are inclusive", sec("10s"), sec("1m"), []string{"s1", "s2"}},
		{"start only", sec("15m3s"), "", []string{"s4", "s5", "s6"}},
		{"end only", "", sec("1m"), []string{"s1", "s2"}},
		{"epoch seconds", strconv.FormatInt(t0/1000+300, 10), strconv.FormatInt(t0/1000+301, 10), []string{"s3"}},
		{"epoch milliseconds", strconv.FormatInt(t0+900_000, 10), strconv.FormatInt(t0+900_001, 10), []string{"s4", "s5"}},
		{"session without lastPacket", sec("30m"), sec("31m"), []string{"s6"}},
		{"gap between sessions", sec("21m"), sec("29m"), []string{}},
		{"everything", sec("-1h"), sec("1h"), []string{"s1", "s2", "s3", "s4", "s5", "s6"}},
		{"RFC 3339 with offset", "2024-03-01T01:05:00+01:00", "2024-03-01T01:05:00+01:00", []string{"s3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"count": {"true"}}
			if tc.start != "" {
				v.Set("start", tc.start)
			}
			if tc.end != "" {
				v.Set("end", tc.end)
			}
			p := s.search(t, adminKey, v)
			if diff := cmp.Diff(tc.want, sorted(p.ids())); diff != "" {
				t.Errorf("start=%s end=%s (-want +got):\n%s", tc.start, tc.end, diff)
			}
			// counts honour the same range.
			var c struct {
				Fields []struct {
					Buckets []struct{ Count int64 } `json:"buckets"`
					Other   int64                   `json:"other"`
					Missing int64                   `json:"missing"`
				} `json:"fields"`
			}
			a := s.get(t, "/api/v1/sessions/counts?field=destination.port&"+v.Encode(), adminKey)
			decode(t, a, &c)
			var n int64
			for _, b := range c.Fields[0].Buckets {
				n += b.Count
			}
			if n+c.Fields[0].Other+c.Fields[0].Missing != int64(len(tc.want)) {
				t.Errorf("counts over the range add up to %d, want %d: %s", n+c.Fields[0].Other+c.Fields[0].Missing, len(tc.want), a)
			}
		})
	}
	for _, bad := range []url.Values{
		{"start": {sec("1m")}, "end": {sec("0s")}},
		{"start": {"yesterday"}},
		{"end": {"2024-13-01T00:00:00Z"}},
		{"start": {"-5"}},
	} {
		wantError(t, s.get(t, "/api/v1/sessions?"+bad.Encode(), adminKey), http.StatusBadRequest)
	}
}

func TestSearchOrder(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		order []string
		want  []string
	}{
		{nil, []string{"s6", "s5", "s4", "s3", "s2", "s1"}}, // newest first
		{[]string{"firstPacket:asc"}, []string{"s1", "s2", "s3", "s4", "s5", "s6"}},
		{[]string{"starttime"}, []string{"s1", "s2", "s3", "s4", "s5", "s6"}},
		{[]string{"firstPacket:desc"}, []string{"s6", "s5", "s4", "s3", "s2", "s1"}},
		{[]string{"lastPacket:DESC"}, []string{"s6", "s4", "s5", "s3", "s2", "s1"}},
		{[]string{"destination.port:asc,firstPacket:desc"}, []string{"s6", "s3", "s2", "s5", "s1", "s4"}},
		{[]string{"destination.port:asc", "firstPacket:asc"}, []string{"s6", "s3", "s2", "s1", "s5", "s4"}},
		{[]string{"node:asc,source.bytes:desc"}, []string{"s2", "s1", "s4", "s3", "s5", "s6"}}, // s6 has no node: missing values sort last
		{[]string{"ip.src:desc"}, []string{"s5", "s4", "s3", "s2", "s6", "s1"}},
		{[]string{"ip.src:asc,port.src:asc"}, []string{"s1", "s6", "s2", "s3", "s4", "s5"}},
		{[]string{"id:desc"}, []string{"s6", "s5", "s4", "s3", "s2", "s1"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.order, "+"), func(t *testing.T) {
			p := s.search(t, adminKey, url.Values{"order": tc.order})
			if diff := cmp.Diff(tc.want, p.ids()); diff != "" {
				t.Errorf("order=%v (-want +got):\n%s", tc.order, diff)
			}
			// Paging one at a time gives the same sequence.
			var got []string
			v := url.Values{"order": tc.order, "limit": {"1"}}
			for i := 0; i < 10; i++ {
				p := s.search(t, adminKey, v)
				got = append(got, p.ids()...)
				if p.NextCursor == "" {
					break
				}
				v.Set("cursor", p.NextCursor)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("paged order=%v (-want +got):\n%s", tc.order, diff)
			}
		})
	}
	for _, bad := range []string{"protocol:asc", "nosuch:asc", "firstPacket:sideways", "tags"} {
		wantError(t, s.get(t, "/api/v1/sessions?"+url.Values{"order": {bad}}.Encode(), adminKey), http.StatusBadRequest)
	}
}

func TestSearchLimits(t *testing.T) {
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, synth.New(1, t0).NDJSON(150))

	p := s.search(t, adminKey, url.Values{})
	if len(p.Items) != 100 || p.NextCursor == "" {
		t.Errorf("default page: %d items, next_cursor %q; want 100 and a cursor", len(p.Items), p.NextCursor)
	}
	if p.TookMs == nil || *p.TookMs < 0 {
		t.Errorf("took_ms missing or negative: %v", p.TookMs)
	}
	if p.Total != nil {
		t.Errorf("total %d given without count=true", *p.Total)
	}
	p = s.search(t, adminKey, url.Values{"limit": {"10000"}, "count": {"true"}})
	if len(p.Items) != 150 || p.NextCursor != "" || p.Total == nil || *p.Total != 150 {
		t.Errorf("limit=10000: %d items, next_cursor %q, total %v; want 150, none, 150", len(p.Items), p.NextCursor, p.Total)
	}
	p = s.search(t, adminKey, url.Values{"limit": {"150"}})
	if len(p.Items) != 150 || p.NextCursor != "" {
		t.Errorf("limit=150 of 150: %d items, next_cursor %q; want 150 and no cursor", len(p.Items), p.NextCursor)
	}
	p = s.search(t, adminKey, url.Values{"limit": {"7"}, "count": {"1"}, "q": {"port.dst == 443"}})
	if len(p.Items) != 7 || p.Total == nil || *p.Total < 7 {
		t.Errorf("limit=7 with count: %d items, total %v", len(p.Items), p.Total)
	}
	if p.Total != nil {
		// The total counts every match, not the page.
		all := s.search(t, adminKey, url.Values{"limit": {"10000"}, "q": {"port.dst == 443"}})
		if int64(len(all.Items)) != *p.Total {
			t.Errorf("total %d, but %d sessions match", *p.Total, len(all.Items))
		}
	}
	for _, bad := range []string{"10001", "0", "-1", "abc", "1.5"} {
		wantError(t, s.get(t, "/api/v1/sessions?limit="+bad, adminKey), http.StatusBadRequest, "limit")
	}
}

func TestSearchCursorVisitsEachSessionOnce(t *testing.T) {
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, synth.New(2, t0).NDJSON(300))
	// Sessions that tie on every sort key but the id.
	var ties bytes.Buffer
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&ties, `{"id":"tie-%02d","firstPacket":%d,"destination":{"port":443},"source":{"ip":"10.200.0.1"}}`+"\n", i, t0+600_000)
	}
	s.uploadAll(t, adminKey, ties.Bytes())

	all := s.search(t, adminKey, url.Values{"limit": {"10000"}, "count": {"true"}})
	if len(all.Items) != 325 {
		t.Fatalf("%d sessions stored, want 325", len(all.Items))
	}
	initial := map[string]bool{}
	for _, id := range all.ids() {
		initial[id] = true
	}

	orders := [][]string{
		nil,
		{"firstPacket:asc"},
		{"destination.port:asc", "source.ip:desc"},
		{"node:desc,destination.bytes:asc"},
	}
	gen := synth.New(99, t0-3_600_000) // new sessions before, among and after the others
	for i, order := range orders {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			seen := map[string]int{}
			v := url.Values{"limit": {"37"}, "order": order}
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				p := s.search(t, adminKey, v)
				for _, id := range p.ids() {
					seen[id]++
				}
				if p.NextCursor == "" {
					break
				}
				v.Set("cursor", p.NextCursor)
				if i%2 == 0 {
					// New sessions arrive between pages.
					var b []byte
					for j := 0; j < 4; j++ {
						b = gen.Next(b) // older than every other session
					}
					b = fmt.Appendf(b, `{"firstPacket":%d,"destination":{"port":443},"source":{"ip":"10.200.0.1"}}`+"\n", t0+600_000) // among the ties
					b = fmt.Appendf(b, `{"firstPacket":%d,"destination":{"port":1}}`+"\n", t0+36_000_000)                             // newest of all
					s.uploadAll(t, adminKey, b)
				}
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("session %s visited %d times", id, n)
				}
			}
			for id := range initial {
				if seen[id] == 0 {
					t.Errorf("session %s never visited", id)
				}
			}
		})
	}
	// A cursor is bound to its order and cannot be forged.
	p := s.search(t, adminKey, url.Values{"limit": {"5"}})
	wantError(t, s.get(t, "/api/v1/sessions?"+url.Values{"cursor": {p.NextCursor}, "order": {"firstPacket:asc"}}.Encode(), adminKey), http.StatusBadRequest, "cursor")
	wantError(t, s.get(t, "/api/v1/sessions?cursor=not-a-cursor", adminKey), http.StatusBadRequest, "cursor")
	wantError(t, s.get(t, "/api/v1/sessions?cursor=eyJvIjoiZmlyc3RQYWNrZXQ6ZGVzYyJ9", adminKey), http.StatusBadRequest, "cursor")
}

func TestSearchFieldsProjection(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		fields []string
		q      string
		want   []map[string]any
	}{
		{[]string{"source.ip,port.dst"}, "id == s1", []map[string]any{{"id": "s1", "source": map[string]any{"ip": "10.0.0.1"}, "destination": map[string]any{"port": float64(443)}}}},
		{[]string{"ip.src", "destination.port"}, "id == s1", []map[string]any{{"id": "s1", "source": map[string]any{"ip": "10.0.0.1"}, "destination": map[string]any{"port": float64(443)}}}},
		{[]string{"host.http"}, "id == [s2, s3]", []map[string]any{{"id": "s3"}, {"id": "s2", "http": map[string]any{"host": []any{"www.example.com"}}}}},
		{[]string{"id"}, "id == s5", []map[string]any{{"id": "s5"}}},
		{[]string{"firstPacket,tags"}, "id == s1", []map[string]any{{"id": "s1", "firstPacket": "2024-03-01T00:00:00.000Z", "tags": []any{"red"}}}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.fields, "+"), func(t *testing.T) {
			p := s.search(t, adminKey, url.Values{"fields": tc.fields, "q": {tc.q}})
			if diff := cmp.Diff(tc.want, p.Items); diff != "" {
				t.Errorf("fields=%v (-want +got):\n%s", tc.fields, diff)
			}
		})
	}
	// Without a projection every item has an id and all its fields.
	p := s.search(t, adminKey, url.Values{})
	for _, it := range p.Items {
		if id, _ := it["id"].(string); id == "" {
			t.Errorf("item without id: %v", it)
		}
		if _, ok := it["firstPacket"]; !ok {
			t.Errorf("item %v lacks firstPacket", it["id"])
		}
	}
	wantError(t, s.get(t, "/api/v1/sessions?fields=nosuchfield", adminKey), http.StatusBadRequest, "nosuchfield")
}

// ---------------------------------------------------------------------------
// GET /api/v1/sessions/{id} and /counts

func TestGetSession(t *testing.T) {
	s := fixtureServer(t)
	a := s.get(t, "/api/v1/sessions/s1", adminKey)
	if a.Status != http.StatusOK {
		t.Fatalf("get s1: %s", a)
	}
	var got map[string]any
	decode(t, a, &got)
	want := map[string]any{
		"id":          "s1",
		"session":     map[string]any{"type": "network"},
		"firstPacket": "2024-03-01T00:00:00.000Z",
		"lastPacket":  "2024-03-01T00:00:10.000Z",
		"source":      map[string]any{"ip": "10.0.0.1", "port": float64(40001), "bytes": float64(100)},
		"destination": map[string]any{"ip": "192.168.1.10", "port": float64(443), "bytes": float64(1000)},
		"network":     map[string]any{"transport": "tcp"},
		"protocol":    []any{"tcp", "tls"},
		"node":        "sensor-a",
		"tags":        []any{"red"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session s1 (-want +got):\n%s", diff)
	}
	// ipProtocol alone gives network.transport; a missing lastPacket is firstPacket.
	decode(t, s.get(t, "/api/v1/sessions/s3", adminKey), &got)
	if tr := got["network"].(map[string]any)["transport"]; tr != "udp" {
		t.Errorf("s3 transport %v, want udp", tr)
	}
	decode(t, s.get(t, "/api/v1/sessions/s6", adminKey), &got)
	if got["lastPacket"] != "2024-03-01T00:30:00.000Z" {
		t.Errorf("s6 lastPacket %v, want its firstPacket", got["lastPacket"])
	}

	for _, id := range []string{"nope", "s1x", "S1", "%27%20OR%201%3D1"} {
		wantError(t, s.get(t, "/api/v1/sessions/"+id, adminKey), http.StatusNotFound)
	}
	// Another tenant's session is as unknown as a missing one.
	other := s.createKey(t, adminKey, "analyst", "other", "")
	wantError(t, s.get(t, "/api/v1/sessions/s1", other.Key), http.StatusNotFound)
}

type fieldCounts struct {
	Field   string `json:"field"`
	Buckets []struct {
		Value any   `json:"value"`
		Count int64 `json:"count"`
	} `json:"buckets"`
	Other   int64 `json:"other"`
	Missing int64 `json:"missing"`
}

type bucket = struct {
	Value any   `json:"value"`
	Count int64 `json:"count"`
}

func TestCounts(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		name  string
		query string
		want  []fieldCounts
	}{
		{"top port", "field=destination.port&size=2", []fieldCounts{
			{Field: "destination.port", Buckets: []bucket{{float64(443), 2}, {float64(22), 1}}, Other: 3},
		}},
		{"alias and default size", "field=port.dst", []fieldCounts{
			{Field: "destination.port", Buckets: []bucket{{float64(443), 2}, {float64(22), 1}, {float64(53), 1}, {float64(80), 1}, {float64(8080), 1}}},
		}},
		{"missing values", "field=node", []fieldCounts{
			{Field: "node", Buckets: []bucket{{"sensor-a", 2}, {"sensor-b", 2}, {"sensor-c", 1}}, Missing: 1},
		}},
		{"ip field", "field=ip.src&size=1", []fieldCounts{
			{Field: "source.ip", Buckets: []bucket{{"10.0.0.1", 2}}, Other: 4},
		}},
		{"list field counts occurrences", "field=protocol&size=2", []fieldCounts{
			{Field: "protocol", Buckets: []bucket{{"tcp", 5}, {"http", 2}}, Other: 5},
		}},
		{"list field with missing", "field=tags", []fieldCounts{
			{Field: "tags", Buckets: []bucket{{"blue", 2}, {"red", 2}}, Missing: 3},
		}},
		{"attribute list field", "field=host.http", []fieldCounts{
			{Field: "http.host", Buckets: []bucket{{"api.example.org", 1}, {"www.example.com", 1}}, Missing: 4},
		}},
		{"several field params", "field=destination.port&field=node&size=1", []fieldCounts{
			{Field: "destination.port", Buckets: []bucket{{float64(443), 2}}, Other: 4},
			{Field: "node", Buckets: []bucket{{"sensor-a", 2}}, Other: 3, Missing: 1},
		}},
		{"comma-separated fields", "field=node,protocol&size=1", []fieldCounts{
			{Field: "node", Buckets: []bucket{{"sensor-a", 2}}, Other: 3, Missing: 1},
			{Field: "protocol", Buckets: []bucket{{"tcp", 5}}, Other: 7},
		}},
		{"with a query", "field=destination.port&q=" + url.QueryEscape("node == sensor-a"), []fieldCounts{
			{Field: "destination.port", Buckets: []bucket{{float64(80), 1}, {float64(443), 1}}},
		}},
		{"query matching nothing", "field=node&q=" + url.QueryEscape("port.dst == 1"), []fieldCounts{
			{Field: "node", Buckets: []bucket{}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := s.get(t, "/api/v1/sessions/counts?"+tc.query, adminKey)
			if a.Status != http.StatusOK {
				t.Fatalf("counts: %s", a)
			}
			var got struct {
				Fields []fieldCounts `json:"fields"`
				TookMs *float64      `json:"took_ms"`
			}
			decode(t, a, &got)
			if diff := cmp.Diff(tc.want, got.Fields, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("counts %s (-want +got):\n%s", tc.query, diff)
			}
			if got.TookMs == nil {
				t.Errorf("no took_ms in %s", a)
			}
		})
	}
	// For single-valued fields, buckets + other + missing is every session.
	for _, f := range []string{"destination.port", "source.ip", "destination.ip", "node", "network.transport", "lastPacket", "source.bytes"} {
		for _, size := range []string{"1", "3", "1000"} {
			var got struct{ Fields []fieldCounts }
			decode(t, s.get(t, "/api/v1/sessions/counts?field="+f+"&size="+size, adminKey), &got)
			sum := got.Fields[0].Other + got.Fields[0].Missing
			for _, b := range got.Fields[0].Buckets {
				sum += b.Count
			}
			if sum != 6 {
				t.Errorf("%s size %s: buckets+other+missing = %d, want 6", f, size, sum)
			}
		}
	}
	for _, bad := range []string{"", "field=nosuch", "field=node&size=0", "field=node&size=1001", "field=node&size=x"} {
		wantError(t, s.get(t, "/api/v1/sessions/counts?"+bad, adminKey), http.StatusBadRequest)
	}
}

// ---------------------------------------------------------------------------
// Keys, authentication and roles

func TestKeys(t *testing.T) {
	s := startServer(t, nil)

	// The bootstrap admin makes keys for a tenant that does not exist yet.
	viewer := s.createKey(t, adminKey, "viewer", "acme", "dashboards")
	if !strings.HasPrefix(viewer.Key, auth.KeyPrefix) || viewer.Tenant != "acme" || viewer.Role != "viewer" || viewer.Name != "dashboards" {
		t.Errorf("created key: %+v", viewer)
	}
	if _, err := time.Parse(time.RFC3339, viewer.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", viewer.CreatedAt, err)
	}
	acmeAdmin := s.createKey(t, adminKey, "admin", "acme", "acme admin")
	if a := s.get(t, "/api/v1/sessions", viewer.Key); a.Status != http.StatusOK {
		t.Errorf("new viewer key cannot read: %s", a)
	}

	// Listing never shows a secret.
	list := func(key string) ([]keyInfo, answer) {
		t.Helper()
		a := s.get(t, "/api/v1/keys", key)
		if a.Status != http.StatusOK {
			t.Fatalf("list keys: %s", a)
		}
		var out struct{ Keys []keyInfo }
		decode(t, a, &out)
		return out.Keys, a
	}
	keys, a := list(adminKey)
	for _, secret := range []string{viewer.Key, acmeAdmin.Key, adminKey} {
		if bytes.Contains(a.Body, []byte(secret)) {
			t.Errorf("key list shows a secret: %s", a.Body)
		}
	}
	if bytes.Contains(a.Body, []byte(`"key"`)) || bytes.Contains(a.Body, []byte(`"hash"`)) {
		t.Errorf("key list has a key or hash property: %s", a.Body)
	}
	ids := map[string]keyInfo{}
	for _, k := range keys {
		ids[k.ID] = k
	}
	if len(keys) != 3 || ids[viewer.ID].Tenant != "acme" || ids[acmeAdmin.ID].Role != "admin" {
		t.Errorf("bootstrap admin lists %+v, want its own key and the two acme keys", keys)
	}

	// An admin of acme sees and manages only acme.
	keys, _ = list(acmeAdmin.Key)
	var got []string
	for _, k := range keys {
		got = append(got, k.ID)
		if k.Tenant != "acme" {
			t.Errorf("acme admin lists a key of tenant %q", k.Tenant)
		}
	}
	if diff := cmp.Diff(sorted([]string{viewer.ID, acmeAdmin.ID}), sorted(got)); diff != "" {
		t.Errorf("acme admin's key list (-want +got):\n%s", diff)
	}
	own := s.createKey(t, acmeAdmin.Key, "sensor", "", "pcap box")
	if own.Tenant != "acme" {
		t.Errorf("key made by the acme admin without a tenant is in %q, want acme", own.Tenant)
	}
	s.createKey(t, acmeAdmin.Key, "analyst", "acme", "")
	for _, tenant := range []string{"default", "globex"} {
		body := fmt.Sprintf(`{"role":"viewer","tenant":%q}`, tenant)
		wantError(t, s.call(t, http.MethodPost, "/api/v1/keys", acmeAdmin.Key, strings.NewReader(body)), http.StatusForbidden, "tenant")
	}
	// ... and cannot revoke another tenant's key (not even learn it exists).
	_, bootstrapID := func() (string, string) {
		keys, _ := list(adminKey)
		for _, k := range keys {
			if k.Tenant == "default" {
				return k.Tenant, k.ID
			}
		}
		t.Fatal("no default-tenant key listed")
		return "", ""
	}()
	wantError(t, s.call(t, http.MethodDelete, "/api/v1/keys/"+bootstrapID, acmeAdmin.Key, nil), http.StatusNotFound)
	if a := s.get(t, "/api/v1/keys", adminKey); a.Status != http.StatusOK {
		t.Errorf("bootstrap key no longer works after a foreign revoke attempt: %s", a)
	}

	// Bad requests.
	for _, body := range []string{
		`{"role":"root"}`,
		`{"role":"viewer","tenant":"Not A Tenant"}`,
		`{"role":"viewer","extra":1}`,
		`{"role":`,
		``,
		`{"role":"viewer","name":"` + strings.Repeat("n", 300) + `"}`,
	} {
		a := s.call(t, http.MethodPost, "/api/v1/keys", adminKey, strings.NewReader(body))
		wantError(t, a, http.StatusBadRequest)
	}

	// Revoking: 200, then the key gets 401, and a second revoke is 404.
	a = s.call(t, http.MethodDelete, "/api/v1/keys/"+viewer.ID, acmeAdmin.Key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("revoke: %s", a)
	}
	wantError(t, s.get(t, "/api/v1/sessions", viewer.Key), http.StatusUnauthorized)
	wantError(t, s.call(t, http.MethodDelete, "/api/v1/keys/"+viewer.ID, adminKey, nil), http.StatusNotFound)
	wantError(t, s.call(t, http.MethodDelete, "/api/v1/keys/k_0000000000000000", adminKey, nil), http.StatusNotFound)
	keys, _ = list(adminKey)
	for _, k := range keys {
		if k.ID == viewer.ID {
			t.Errorf("revoked key still listed")
		}
	}
	// The bootstrap admin revokes any tenant's key.
	a = s.call(t, http.MethodDelete, "/api/v1/keys/"+own.ID, adminKey, nil)
	if a.Status != http.StatusOK {
		t.Errorf("bootstrap revoke of an acme key: %s", a)
	}
	wantError(t, s.call(t, http.MethodPost, "/api/v1/sessions", own.Key, strings.NewReader(`{"firstPacket":1709251200000}`), "Content-Type", "application/x-ndjson"), http.StatusUnauthorized)
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func TestAuthentication(t *testing.T) {
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, []byte(`{"id":"a1","firstPacket":1709251200000,"node":"n"}`))
	doc := `{"firstPacket":1709251200000}`

	for _, path := range []string{"/healthz", "/readyz"} {
		for _, authz := range []string{"", "Bearer wrong-key-000000000000000"} {
			a := s.call(t, http.MethodGet, path, "", nil, "Authorization", authz)
			if a.Status != http.StatusOK {
				t.Errorf("%s with Authorization %q: %s, want 200", path, authz, a)
			}
		}
	}

	endpoints := []struct {
		method, path, body string
		ok                 int
	}{
		{"GET", "/api/v1/sessions", "", 200},
		{"POST", "/api/v1/sessions", doc, 200},
		{"GET", "/api/v1/sessions/a1", "", 200},
		{"GET", "/api/v1/sessions/counts?field=node", "", 200},
		{"GET", "/api/v1/fields", "", 200},
		{"GET", "/api/v1/keys", "", 200},
		{"POST", "/api/v1/keys", `{"role":"viewer"}`, 201},
		{"DELETE", "/api/v1/keys/k_0000000000000000", "", 404},
		{"GET", "/metrics", "", 200},
	}
	bad := []struct{ name, authz string }{
		{"no key", ""},
		{"wrong bearer", "Bearer wrong-key-000000000000000"},
		{"empty bearer", "Bearer "},
		{"basic with a password", basic(adminKey, "secret")},
		{"basic with the key as password", basic("", adminKey)},
		{"basic with a wrong key", basic("wrong-key-000000000000000", "")},
		{"unknown scheme", "Token " + adminKey},
		{"bare key", adminKey},
		{"overlong key", "Bearer " + strings.Repeat("k", 5000)},
	}
	good := []struct{ name, authz string }{
		{"bearer", "Bearer " + adminKey},
		{"basic with empty password", basic(adminKey, "")},
	}
	for _, ep := range endpoints {
		for _, b := range bad {
			t.Run(ep.method+" "+ep.path+" "+b.name, func(t *testing.T) {
				a := s.call(t, ep.method, ep.path, "", strings.NewReader(ep.body), "Authorization", b.authz, "Content-Type", "application/x-ndjson")
				wantError(t, a, http.StatusUnauthorized)
				if a.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			})
		}
		for _, g := range good {
			t.Run(ep.method+" "+ep.path+" "+g.name, func(t *testing.T) {
				ct := "application/x-ndjson"
				if strings.Contains(ep.path, "keys") {
					ct = "application/json"
				}
				a := s.call(t, ep.method, ep.path, "", strings.NewReader(ep.body), "Authorization", g.authz, "Content-Type", ct)
				if a.Status != ep.ok {
					t.Errorf("got %s, want %d", a, ep.ok)
				}
			})
		}
	}
	// Nothing was written by the refused uploads: one fixture session plus
	// one per good upload.
	if got := s.total(t, adminKey, ""); got != 1+int64(len(good)) {
		t.Errorf("%d sessions stored, want %d", got, 1+len(good))
	}
}

func TestRoles(t *testing.T) {
	s := startServer(t, nil)
	keys := map[string]string{}
	for _, role := range []string{"admin", "analyst", "sensor", "viewer"} {
		keys[role] = s.createKey(t, adminKey, role, "acme", role).Key
	}
	s.uploadAll(t, keys["analyst"], []byte(`{"id":"r1","firstPacket":1709251200000,"node":"n"}`))

	type ep struct{ method, path, body string }
	var (
		upload   = ep{"POST", "/api/v1/sessions", `{"firstPacket":1709251200000}`}
		search   = ep{"GET", "/api/v1/sessions", ""}
		getOne   = ep{"GET", "/api/v1/sessions/r1", ""}
		count    = ep{"GET", "/api/v1/sessions/counts?field=node", ""}
		fields   = ep{"GET", "/api/v1/fields", ""}
		metrics  = ep{"GET", "/metrics", ""}
		listKeys = ep{"GET", "/api/v1/keys", ""}
		makeKey  = ep{"POST", "/api/v1/keys", `{"role":"viewer"}`}
		dropKey  = ep{"DELETE", "/api/v1/keys/k_0000000000000000", ""}
	)
	tests := []struct {
		role string
		want map[ep]int
	}{
		{"admin", map[ep]int{upload: 200, search: 200, getOne: 200, count: 200, fields: 200, metrics: 200, listKeys: 200, makeKey: 201, dropKey: 404}},
		{"analyst", map[ep]int{upload: 200, search: 200, getOne: 200, count: 200, fields: 200, metrics: 200, listKeys: 403, makeKey: 403, dropKey: 403}},
		{"sensor", map[ep]int{upload: 200, search: 403, getOne: 403, count: 403, fields: 403, metrics: 403, listKeys: 403, makeKey: 403, dropKey: 403}},
		{"viewer", map[ep]int{upload: 403, search: 200, getOne: 200, count: 200, fields: 200, metrics: 200, listKeys: 403, makeKey: 403, dropKey: 403}},
	}
	uploads := 0
	for _, tc := range tests {
		for e, want := range tc.want {
			t.Run(tc.role+" "+e.method+" "+e.path, func(t *testing.T) {
				ct := "application/x-ndjson"
				if strings.Contains(e.path, "keys") {
					ct = "application/json"
				}
				a := s.call(t, e.method, e.path, keys[tc.role], strings.NewReader(e.body), "Content-Type", ct)
				switch {
				case want >= 400:
					msg := wantError(t, a, want)
					if want == 403 && !strings.Contains(msg, tc.role) {
						t.Errorf("403 message %q does not name the role", msg)
					}
				case a.Status != want:
					t.Errorf("got %s, want %d", a, want)
				}
				if e == upload && a.Status == 200 {
					uploads++
				}
			})
		}
	}
	// The viewer's refused upload stored nothing.
	if got := s.total(t, keys["viewer"], ""); got != int64(1+uploads) {
		t.Errorf("acme holds %d sessions, want %d", got, 1+uploads)
	}
}

func TestMetrics(t *testing.T) {
	s := startServer(t, nil)
	s.uploadAll(t, adminKey, []byte(`{"firstPacket":1709251200000}`+"\n"+`{"firstPacket":1709251201000}`))
	s.upload(t, adminKey, []byte(`{"firstPacket":"bad"}`))
	wantError(t, s.get(t, "/metrics", ""), http.StatusUnauthorized)
	a := s.get(t, "/metrics", adminKey)
	if a.Status != http.StatusOK {
		t.Fatalf("metrics: %s", a)
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") && !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("metrics Content-Type %q", ct)
	}
	body := string(a.Body)
	for _, want := range []string{
		"# TYPE seshat_http_requests_total counter",
		`seshat_http_requests_total{code="200",route="POST /api/v1/sessions"}`,
		"# TYPE seshat_http_request_seconds histogram",
		`seshat_ingest_documents_total{outcome="accepted"} 2`,
		`seshat_ingest_documents_total{outcome="rejected"} 1`,
		"seshat_store_rows_written_total 2",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// ---------------------------------------------------------------------------
// Tenants

func TestTenantIsolation(t *testing.T) {
	s := startServer(t, nil)
	alpha := s.createKey(t, adminKey, "analyst", "alpha", "")
	beta := s.createKey(t, adminKey, "analyst", "beta", "")
	alphaAdmin := s.createKey(t, adminKey, "admin", "alpha", "")
	s.uploadAll(t, alpha.Key, []byte(
		`{"id":"a1","firstPacket":1709251200000,"destination":{"port":443},"node":"alpha-sensor","alpha_only":{"secret":"a"}}`+"\n"+
			`{"id":"a2","firstPacket":1709251201000,"destination":{"port":443},"node":"alpha-sensor"}`+"\n"+
			`{"id":"dup","firstPacket":1709251202000,"destination":{"port":22},"node":"alpha-sensor"}`))
	s.uploadAll(t, beta.Key, []byte(
		`{"id":"b1","firstPacket":1709251200000,"destination":{"port":443},"node":"beta-sensor","beta_only":{"secret":"b"}}`+"\n"+
			`{"id":"dup","firstPacket":1709251203000,"destination":{"port":25},"node":"beta-sensor"}`))

	type view struct {
		key       string
		ids       []string
		node      string
		own       string // a discovered field of this tenant
		foreign   string // the other tenant's discovered field
		foreignID string
	}
	views := map[string]view{
		"alpha": {alpha.Key, []string{"a1", "a2", "dup"}, "alpha-sensor", "alpha_only.secret", "beta_only.secret", "b1"},
		"beta":  {beta.Key, []string{"b1", "dup"}, "beta-sensor", "beta_only.secret", "alpha_only.secret", "a1"},
	}
	for name, v := range views {
		t.Run(name, func(t *testing.T) {
			p := s.search(t, v.key, url.Values{"count": {"true"}, "limit": {"10000"}})
			if diff := cmp.Diff(v.ids, sorted(p.ids())); diff != "" {
				t.Errorf("search (-want +got):\n%s", diff)
			}
			if p.Total == nil || *p.Total != int64(len(v.ids)) {
				t.Errorf("total %v, want %d", p.Total, len(v.ids))
			}
			// A query that would match the other tenant's sessions.
			p = s.search(t, v.key, url.Values{"q": {"node == *-sensor || id == [a1, b1]"}, "count": {"true"}})
			for _, it := range p.Items {
				if n := it["node"]; n != v.node {
					t.Errorf("sees a session of node %v", n)
				}
			}
			var c struct{ Fields []fieldCounts }
			decode(t, s.get(t, "/api/v1/sessions/counts?field=node&field=id&size=100", v.key), &c)
			if diff := cmp.Diff([]bucket{{v.node, int64(len(v.ids))}}, c.Fields[0].Buckets); diff != "" {
				t.Errorf("node counts (-want +got):\n%s", diff)
			}
			if len(c.Fields[1].Buckets) != len(v.ids) || c.Fields[1].Other != 0 || c.Fields[1].Missing != 0 {
				t.Errorf("id counts: %+v", c.Fields[1])
			}
			wantError(t, s.get(t, "/api/v1/sessions/"+v.foreignID, v.key), http.StatusNotFound)
			// Its own copy of a shared id.
			var doc map[string]any
			decode(t, s.get(t, "/api/v1/sessions/dup", v.key), &doc)
			if doc["node"] != v.node {
				t.Errorf("session dup is %v, want this tenant's (node %s)", doc, v.node)
			}
			// Field discovery lists its own fields only.
			var f struct {
				Fields []struct {
					Name       string
					Discovered bool
				}
			}
			decode(t, s.get(t, "/api/v1/fields", v.key), &f)
			var disc []string
			for _, x := range f.Fields {
				if x.Discovered {
					disc = append(disc, x.Name)
				}
			}
			if diff := cmp.Diff([]string{v.own}, disc); diff != "" {
				t.Errorf("discovered fields (-want +got):\n%s", diff)
			}
			wantError(t, s.get(t, "/api/v1/sessions?"+url.Values{"q": {v.foreign + " == EXISTS!"}}.Encode(), v.key), http.StatusBadRequest, "unknown field")
			wantError(t, s.get(t, "/api/v1/sessions/counts?field="+v.foreign, v.key), http.StatusBadRequest)
		})
	}
	// The default tenant (the bootstrap admin's) sees none of them.
	if got := s.total(t, adminKey, ""); got != 0 {
		t.Errorf("bootstrap admin's tenant sees %d sessions, want 0", got)
	}
	// Neither changes the other's keys.
	wantError(t, s.call(t, http.MethodDelete, "/api/v1/keys/"+beta.ID, alphaAdmin.Key, nil), http.StatusNotFound)
	if a := s.get(t, "/api/v1/sessions", beta.Key); a.Status != http.StatusOK {
		t.Errorf("beta key stopped working after alpha's revoke attempt: %s", a)
	}
}

// ---------------------------------------------------------------------------
// Rate limit and errors

func TestRateLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.API.RateLimit = auth.RateConfig{RequestsPerSecond: 1, Burst: 2}
	})
	limited := s.createKey(t, adminKey, "viewer", "", "limited").Key
	start := time.Now()
	var got []answer
	for i := 0; i < 3; i++ {
		got = append(got, s.get(t, "/api/v1/fields", limited))
	}
	elapsed := time.Since(start)
	for i := 0; i < 2; i++ {
		if got[i].Status != http.StatusOK {
			t.Errorf("request %d: %d, want 200", i+1, got[i].Status)
		}
	}
	if got[2].Status != http.StatusTooManyRequests && elapsed > 900*time.Millisecond {
		t.Skipf("three requests took %v, too slow for a 1/s limit to show", elapsed)
	}
	wantError(t, got[2], http.StatusTooManyRequests, "rate limit")
	ra, err := strconv.Atoi(got[2].Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds", got[2].Header.Get("Retry-After"))
	}
	// The limit is per key and does not apply to health checks.
	if a := s.get(t, "/api/v1/fields", adminKey); a.Status != http.StatusOK {
		t.Errorf("another key is limited too: %s", a)
	}
	for i := 0; i < 5; i++ {
		if a := s.get(t, "/healthz", ""); a.Status != http.StatusOK {
			t.Errorf("healthz limited: %s", a)
		}
	}
	// Tokens come back.
	time.Sleep(time.Duration(ra) * time.Second)
	if a := s.get(t, "/api/v1/fields", limited); a.Status != http.StatusOK {
		t.Errorf("after Retry-After: %s", a)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	s := fixtureServer(t)
	tests := []struct {
		method, path, body string
		key                string
		want               int
	}{
		{"GET", "/nope", "", adminKey, 404},
		{"GET", "/api/v1/nope", "", "", 404},
		{"PUT", "/api/v1/sessions", "{}", adminKey, 0}, // 404 or 405
		{"DELETE", "/api/v1/sessions/s1", "", adminKey, 0},
		{"GET", "/api/v1/sessions", "", "", 401},
		{"GET", "/api/v1/sessions?q=%28", "", adminKey, 400},
		{"GET", "/api/v1/sessions?limit=x", "", adminKey, 400},
		{"GET", "/api/v1/sessions?cursor=x", "", adminKey, 400},
		{"GET", "/api/v1/sessions/nope", "", adminKey, 404},
		{"GET", "/api/v1/sessions/counts", "", adminKey, 400},
		{"POST", "/api/v1/sessions", "{", adminKey, 415},
		{"POST", "/api/v1/keys", "{", adminKey, 400},
		{"DELETE", "/api/v1/keys/nope", "", adminKey, 404},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := s.call(t, tc.method, tc.path, tc.key, strings.NewReader(tc.body))
			want := tc.want
			if want == 0 {
				if a.Status != 404 && a.Status != 405 {
					t.Errorf("got %s, want 404 or 405", a)
				}
				want = a.Status
			}
			wantError(t, a, want)
		})
	}
	// A body that cannot be read at all.
	a := s.call(t, "POST", "/api/v1/sessions", adminKey, strings.NewReader(`{"firstPacket":1709251200000`), "Content-Type", "application/x-ndjson")
	wantError(t, a, http.StatusBadRequest)
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	s := fixtureServer(t)
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/api/v1/sessions", nil)
	req.SetBasicAuth(adminKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /api/v1/sessions: %d, want 405", resp.StatusCode)
	}
	if got := resp.Header.Get("Allow"); got != "POST, GET" {
		t.Errorf("Allow = %q, want \"POST, GET\"", got)
	}
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m["message"] == "" {
		t.Errorf("body is not {\"message\"}: %v %v", m, err)
	}
}
