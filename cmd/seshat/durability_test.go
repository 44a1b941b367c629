package main

// Tests of the real binary: it is built once, started on a temporary data
// folder, killed or stopped, and started again on the same folder.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/synth"
)

// testVersion is stamped into the test binary with -ldflags.
const testVersion = "v0.0.0-test+durability"

const binAdminKey = "bin-admin-key-0123456789abcdef"

var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "seshat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// seshatBinary builds the command once per test run and returns its path.
func seshatBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the seshat binary (a cgo link of DuckDB); runs without -short (testing.Short)")
	}
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(binDir, "seshat")
		cmd := exec.Command(goBin, "build", "-ldflags", "-X main.version="+testVersion, "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cleanEnv is the test's environment without SESHAT_* variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESHAT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running "seshat serve" process.
type server struct {
	cmd    *exec.Cmd
	URL    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

var listening = regexp.MustCompile(`seshat listening on (http://\S+)`)

// startServe runs "seshat serve" on dataDir (a random port) and waits until
// /healthz answers.
func startServe(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	bin := seshatBinary(t)
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data", dataDir)
	s.cmd.Env = cleanEnv(append([]string{"SESHAT_MEMORY_LIMIT=1GB", "SESHAT_THREADS=2"}, env...)...)
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start seshat serve: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("seshat stdout:\n%s\nseshat stderr:\n%s", s.stdout, s.stderr)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for s.URL == "" {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.URL = m[1]
			break
		}
		select {
		case <-s.done:
			t.Fatalf("seshat serve exited early (%v):\n%s\n%s", s.err, s.stdout, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("seshat serve did not report its address:\n%s\n%s", s.stdout, s.stderr)
		}
	}
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200 (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-s.done
}

// terminate sends SIGTERM and returns the exit code and how long it took.
func (s *server) terminate(t *testing.T, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("seshat did not exit within %v of SIGTERM", limit)
	}
	return s.cmd.ProcessState.ExitCode(), time.Since(start)
}

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// uploadResult is the answer to an upload.
type uploadResult struct {
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
}

// postGzip uploads a gzip'd NDJSON body.
func postGzip(ctx context.Context, base, key string, ndjson []byte) (uploadResult, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(ndjson)
	zw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/sessions", &buf)
	if err != nil {
		return uploadResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := httpClient.Do(req)
	if err != nil {
		return uploadResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return uploadResult{}, fmt.Errorf("upload: %d %s", resp.StatusCode, b)
	}
	var r uploadResult
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("upload answer %q: %v", b, err)
	}
	return r, nil
}

// getJSON reads a GET answer into v and fails on anything but 200.
func getJSON(t *testing.T, base, key, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// storedIDs pages through every session of the key's tenant.
func storedIDs(t *testing.T, base, key string) (ids []string, total int64) {
	t.Helper()
	v := url.Values{"fields": {"id"}, "limit": {"10000"}, "count": {"true"}}
	for {
		var p struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
			Total      *int64 `json:"total"`
		}
		getJSON(t, base, key, "/api/v1/sessions?"+v.Encode(), &p)
		if p.Total == nil {
			t.Fatal("count=true answered without total")
		}
		total = *p.Total
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		if p.NextCursor == "" {
			sort.Strings(ids)
			return ids, total
		}
		v.Set("cursor", p.NextCursor)
	}
}

// docs makes n synthetic session documents with ids prefix-00000 on.
func docs(seed uint64, prefix string, from, n int) ([]byte, []string) {
	g := synth.New(seed, 1_709_251_200_000)
	var out []byte
	var ids []string
	for i := from; i < from+n; i++ {
		line := g.Next(nil)
		id := fmt.Sprintf("%s-%05d", prefix, i)
		ids = append(ids, id)
		out = append(out, `{"id":"`+id+`",`...)
		out = append(out, line[1:]...)
	}
	return out, ids
}

// uploadConcurrently sends batches at once and returns the ids of those
// acknowledged.
func uploadConcurrently(t *testing.T, base, key string, batches [][]byte, ids [][]string) []string {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(batches))
	for i := range batches {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := postGzip(context.Background(), base, key, batches[i])
			if err == nil && (r.Accepted != len(ids[i]) || r.Received != len(ids[i])) {
				err = fmt.Errorf("batch %d: %+v, want all %d accepted", i, r, len(ids[i]))
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	var acked []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("batch %d: %v", i, err)
			continue
		}
		acked = append(acked, ids[i]...)
	}
	sort.Strings(acked)
	return acked
}

func TestAcknowledgedSessionsSurviveSIGKILL(t *testing.T) {
	data := t.TempDir()
	env := "SESHAT_ADMIN_KEY=" + binAdminKey
	s := startServe(t, data, env)

	const perBatch, batches = 5000, 4
	var bodies [][]byte
	var ids [][]string
	for i := 0; i < batches; i++ {
		b, id := docs(uint64(i+1), "kill", i*perBatch, perBatch)
		bodies = append(bodies, b)
		ids = append(ids, id)
	}
	acked := uploadConcurrently(t, s.URL, binAdminKey, bodies, ids)
	if len(acked) != perBatch*batches {
		t.Fatalf("%d sessions acknowledged, want %d", len(acked), perBatch*batches)
	}
	s.kill(t) // right after the last acknowledgement: no time for a checkpoint

	s = startServe(t, data, env)
	got, total := storedIDs(t, s.URL, binAdminKey)
	if total != int64(len(acked)) {
		t.Errorf("after SIGKILL and restart count=true gives %d, want %d", total, len(acked))
	}
	if diff := cmp.Diff(acked, got); diff != "" {
		t.Errorf("sessions after restart (-acknowledged +stored):\n%s", diff)
	}

	// Once more, on a data folder that already went through a crash.
	more, moreIDs := docs(9, "again", 0, 1000)
	acked2 := uploadConcurrently(t, s.URL, binAdminKey, [][]byte{more}, [][]string{moreIDs})
	s.kill(t)
	s = startServe(t, data, env)
	got, total = storedIDs(t, s.URL, binAdminKey)
	want := append(append([]string{}, acked...), acked2...)
	sort.Strings(want)
	if total != int64(len(want)) || !cmp.Equal(want, got) {
		t.Errorf("after a second SIGKILL: %d stored (total %d), want %d", len(got), total, len(want))
	}
}

func TestSIGTERMFlushesAndExitsZero(t *testing.T) {
	data := t.TempDir()
	// No SESHAT_ADMIN_KEY: the first start makes and prints a key.
	s := startServe(t, data)
	m := regexp.MustCompile(`new admin API key[^:]*: (seshat_\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("first start printed no admin key:\n%s", s.stdout)
	}
	key := m[1]

	first, firstIDs := docs(1, "term", 0, 5000)
	acked := uploadConcurrently(t, s.URL, key, [][]byte{first}, [][]string{firstIDs})

	// A second upload races the signal: if it is acknowledged it must
	// survive; if it is refused it may or may not be there, but whole.
	second, secondIDs := docs(2, "race", 0, 5000)
	type outcome struct {
		r   uploadResult
		err error
	}
	raced := make(chan outcome, 1)
	go func() {
		r, err := postGzip(context.Background(), s.URL, key, second)
		raced <- outcome{r, err}
	}()
	time.Sleep(30 * time.Millisecond)
	code, took := s.terminate(t, 30*time.Second)
	if code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	t.Logf("stopped %v after SIGTERM", took)
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no 'stopped' log line after SIGTERM")
	}
	race := <-raced

	s = startServe(t, data)
	if strings.Contains(s.stdout.String(), "new admin API key") {
		t.Errorf("a restart on the same data printed a new admin key:\n%s", s.stdout)
	}
	got, total := storedIDs(t, s.URL, key) // the printed key still works
	want := acked
	switch {
	case race.err == nil && race.r.Accepted == len(secondIDs):
		want = append(append([]string{}, acked...), secondIDs...)
		sort.Strings(want)
	case race.err == nil:
		t.Errorf("raced upload partly accepted: %+v", race.r)
	default:
		t.Logf("raced upload refused: %v", race.err)
		if len(got) == len(acked)+len(secondIDs) {
			want = append(append([]string{}, acked...), secondIDs...)
			sort.Strings(want)
		}
	}
	if total != int64(len(want)) {
		t.Errorf("after SIGTERM and restart count=true gives %d, want %d", total, len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions after restart (-want +got):\n%s", diff)
	}
}
