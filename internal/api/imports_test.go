package api_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// importAnswer is the answer of POST /api/v1/import.
type importAnswer struct {
	Format   string         `json:"format"`
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Alerts   int            `json:"alerts"`
	Rejected map[string]int `json:"rejected"`
	Stopped  *struct {
		Line    int    `json:"line"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"stopped"`
}

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "ingest"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportEndpoint(t *testing.T) {
	s := startServer(t, nil)
	conn := readFixture(t, "zeek", "testdata", "conn", "input.log")
	post := func(query string, body []byte, header ...string) answer {
		t.Helper()
		return s.call(t, http.MethodPost, "/api/v1/import"+query, adminKey, bytes.NewReader(body), header...)
	}
	ok := func(a answer) importAnswer {
		t.Helper()
		if a.Status != http.StatusOK {
			t.Fatalf("got %s, want 200", a)
		}
		var r importAnswer
		decode(t, a, &r)
		return r
	}
	// Plain with no content type (detected), gzip, deflate, and ?format=.
	for name, a := range map[string]answer{
		"plain":   post("", conn),
		"gzip":    post("", gzipped(t, conn), "Content-Type", "text/plain", "Content-Encoding", "gzip"),
		"deflate": post("?format=zeek-tsv", zlibbed(t, conn), "Content-Type", "text/plain", "Content-Encoding", "deflate"),
	} {
		if r := ok(a); r.Format != "zeek-tsv" || r.Received != 4 || r.Accepted != 4 || len(r.Rejected) != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if n := s.total(t, adminKey, "zeek.uid == CHhAvVGS1DHFjwGM9"); n != 3 {
		t.Errorf("zeek.uid == CHhAvVGS1DHFjwGM9: %d, want 3", n)
	}
	// EVE with alerts: counted, kept as events.
	r := ok(post("", readFixture(t, "eve", "testdata", "alert", "input.json"), "Content-Type", "application/x-ndjson"))
	if r.Format != "eve" || r.Alerts != 2 || r.Accepted != 2 || r.Rejected["unsupported event type"] != 2 {
		t.Errorf("eve: %+v", r)
	}
	// AlphaSOC events: the type is inferred from the first event, or named.
	asoc := []byte(`{"ts":"2024-03-01T00:00:00Z","srcIP":"10.8.0.1","destIP":"192.0.2.1","destPort":443,"proto":"tcp","bytesIn":10,"bytesOut":20}` + "\n")
	if r := ok(post("", asoc)); r.Format != "alphasoc" || r.Accepted != 1 {
		t.Errorf("alphasoc: %+v", r)
	}
	if r := ok(post("?format=alphasoc&type=dns", asoc)); r.Accepted != 0 || r.Rejected["missing required field"] != 1 {
		t.Errorf("alphasoc as dns: %+v", r)
	}
	// A broken header stops decoding: 200 with where and why.
	r = ok(post("", []byte("#separator \\x09\n#fields\tts\tuid\n#types\ttime\n1.0\tC\n")))
	if r.Stopped == nil || r.Stopped.Line != 3 || r.Accepted != 0 {
		t.Errorf("broken header: %+v", r)
	}
	wantError(t, post("", []byte("hello\n")), http.StatusBadRequest, "unrecognised format")
	wantError(t, post("?format=csv", conn), http.StatusBadRequest, "unknown format")
	wantError(t, post("?format=alphasoc", []byte(`{"ts":1,"foo":2}`+"\n")), http.StatusBadRequest, "AlphaSOC event type")
	wantError(t, post("", conn, "Content-Type", "image/png"), http.StatusUnsupportedMediaType)
	viewer := s.createKey(t, adminKey, "viewer", "", "v")
	wantError(t, s.call(t, http.MethodPost, "/api/v1/import", viewer.Key, bytes.NewReader(conn)), http.StatusForbidden)
}
