// Command seshat-bench measures Seshat the way the core issue states its
// targets: bulk upload over HTTP (gzip NDJSON, ~500 B documents, concurrent
// clients) against a real "seshat serve" process, compared with DuckDB's own
// COPY of the same documents; then, with N sessions stored, the latency of
// "one source IP's 50 newest sessions" and of "top-20 destination.port".
// It prints figures; it never fails on a number. `make bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/synth"
)

const adminKey = "bench-admin-key-0123456789abcdef"

func main() {
	var (
		binary   = flag.String("seshat", "", "path to the seshat binary (built from ./cmd/seshat when empty)")
		total    = flag.Int("sessions", 2_000_000, "sessions to upload")
		clients  = flag.Int("clients", 4, "concurrent upload clients")
		perBody  = flag.Int("batch", 10_000, "documents per request")
		queries  = flag.Int("queries", 50, "repetitions of each query")
		copyRows = flag.Int("copy-rows", 1_000_000, "documents for the DuckDB COPY comparison (0 skips it)")
		keep     = flag.String("data", "", "data folder to use (a fresh temporary one when empty)")
		skipLoad = flag.Bool("skip-upload", false, "only run the queries against an existing -data folder")
		memLimit = flag.String("memory-limit", "768MB", "DuckDB memory_limit for the server")
	)
	flag.Parse()
	if err := run(*binary, *total, *clients, *perBody, *queries, *copyRows, *keep, *skipLoad, *memLimit); err != nil {
		fmt.Fprintln(os.Stderr, "seshat-bench:", err)
		os.Exit(1)
	}
}

func run(binary string, total, clients, perBody, queries, copyRows int, dataDir string, skipLoad bool, memLimit string) error {
	tmp, err := os.MkdirTemp("", "seshat-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if binary == "" {
		binary = filepath.Join(tmp, "seshat")
		b := exec.Command("go", "build", "-o", binary, "./cmd/seshat")
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if err := b.Run(); err != nil {
			return fmt.Errorf("cannot build seshat: %w", err)
		}
	}
	if dataDir == "" {
		dataDir = filepath.Join(tmp, "data")
	}
	srv, base, err := startServer(binary, dataDir, memLimit)
	if err != nil {
		return err
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()

	fmt.Printf("machine: %d cores; server DuckDB memory_limit %s\n", numCPU(), memLimit)
	if !skipLoad {
		if err := uploadBench(srv.Process.Pid, base, total, clients, perBody); err != nil {
			return err
		}
		if copyRows > 0 {
			if err := copyBench(tmp, copyRows); err != nil {
				return err
			}
		}
	}
	return queryBench(base, queries)
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func startServer(binary, dataDir, memLimit string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary, "serve", "--listen", addr, "--data", dataDir)
	cmd.Env = append(os.Environ(), "SESHAT_ADMIN_KEY="+adminKey, "SESHAT_MEMORY_LIMIT="+memLimit, "SESHAT_RATE_LIMIT=0")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd, base, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, "", fmt.Errorf("server did not start")
}

// peakRSS reads the process's high-water resident set size in MB.
func peakRSS(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func uploadBench(pid int, base string, total, clients, perBody int) error {
	// Bodies are made before the clock starts: the benchmark measures the
	// server, not the generator. A pool of distinct bodies is cycled.
	const pool = 64
	gen := synth.New(42, time.Now().Add(-24*time.Hour).UnixMilli())
	bodies := make([][]byte, pool)
	var raw int
	for i := range bodies {
		doc := gen.NDJSON(perBody)
		raw += len(doc)
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(doc)
		zw.Close()
		bodies[i] = buf.Bytes()
	}
	fmt.Printf("upload: %d sessions, %d clients, %d documents (%.0f B avg, %.1f MB gzip'd) per request\n",
		total, clients, perBody, float64(raw)/float64(pool*perBody), float64(len(bodies[0]))/1e6)
	requests := total / perBody
	var next, accepted, retries atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(requests) {
					return
				}
				for {
					t0 := time.Now()
					req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/sessions", bytes.NewReader(bodies[i%pool]))
					req.Header.Set("Content-Type", "application/x-ndjson")
					req.Header.Set("Content-Encoding", "gzip")
					req.SetBasicAuth(adminKey, "")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
						retries.Add(1)
						time.Sleep(200 * time.Millisecond)
						continue
					}
					if resp.StatusCode != 200 {
						mu.Lock()
						firstErr = fmt.Errorf("upload: %d %s", resp.StatusCode, body)
						mu.Unlock()
						return
					}
					var n int
					fmt.Sscanf(string(body[bytes.Index(body, []byte(`"accepted":`))+11:]), "%d", &n)
					accepted.Add(int64(n))
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rate := float64(accepted.Load()) / el.Seconds()
	uploadRate = rate
	fmt.Printf("upload: %d sessions accepted and durable in %.1f s: %.0f sessions/s (%.1f MB/s of JSON); request p50 %v p99 %v; %d retries after 429\n",
		accepted.Load(), el.Seconds(), rate, rate*float64(raw)/float64(pool*perBody)/1e6,
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), retries.Load())
	fmt.Printf("upload: server peak RSS %.0f MB\n", peakRSS(pid))
	return nil
}

var uploadRate float64

// copyBench loads the same kind of documents with DuckDB's own COPY ... FROM
// 'file.ndjson' into a table of the same shape, as the reference point.
func copyBench(tmp string, n int) error {
	path := filepath.Join(tmp, "copy.ndjson")
	gen := synth.New(43, time.Now().Add(-24*time.Hour).UnixMilli())
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for done := 0; done < n; done += 10_000 {
		f.Write(gen.NDJSON(min(10_000, n-done)))
	}
	f.Close()
	db, err := sql.Open("duckdb", filepath.Join(tmp, "copy.duckdb"))
	if err != nil {
		return err
	}
	defer db.Close()
	// The nested documents map onto nested STRUCT columns as DuckDB infers
	// them; this is DuckDB's fastest path, with no validation of ours.
	if _, err := db.Exec(`CREATE TABLE sessions AS SELECT * FROM read_ndjson_auto(?) LIMIT 0`, path); err != nil {
		return fmt.Errorf("cannot create COPY table: %w", err)
	}
	start := time.Now()
	if _, err := db.Exec(`COPY sessions FROM '` + strings.ReplaceAll(path, "'", "''") + `' (FORMAT json)`); err != nil {
		return fmt.Errorf("COPY: %w", err)
	}
	el := time.Since(start)
	rate := float64(n) / el.Seconds()
	fmt.Printf("copy: DuckDB COPY sessions FROM 'file.ndjson' of %d documents: %.1f s, %.0f rows/s; Seshat's HTTP upload is %.2fx of it\n",
		n, el.Seconds(), rate, uploadRate/rate)
	return nil
}

func queryBench(base string, reps int) error {
	get := func(path string, q url.Values) (time.Duration, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, base+path+"?"+q.Encode(), nil)
		req.SetBasicAuth(adminKey, "")
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		return time.Since(t0), b, nil
	}
	_, b, err := get("/api/v1/sessions", url.Values{"count": {"true"}, "limit": {"1"}})
	if err != nil {
		return err
	}
	var total int64
	if i := bytes.Index(b, []byte(`"total":`)); i >= 0 {
		fmt.Sscanf(string(b[i+8:]), "%d", &total)
	}
	fmt.Printf("queries: %d sessions stored\n", total)
	cases := []struct {
		name string
		path string
		q    func(i int) url.Values
	}{
		{"one source IP's 50 newest sessions", "/api/v1/sessions", func(i int) url.Values {
			return url.Values{"q": {fmt.Sprintf("ip.src == 10.0.%d.%d", (i*37)%256, (i*91)%256)}, "limit": {"50"}, "order": {"firstPacket:desc"}}
		}},
		{"same, fields=id,firstPacket,ip.dst,port.dst", "/api/v1/sessions", func(i int) url.Values {
			return url.Values{"q": {fmt.Sprintf("ip.src == 10.0.%d.%d", (i*41)%256, (i*97)%256)}, "limit": {"50"}, "order": {"firstPacket:desc"},
				"fields": {"id,firstPacket,ip.dst,port.dst"}}
		}},
		{"top-20 destination.port over everything", "/api/v1/sessions/counts", func(int) url.Values {
			return url.Values{"field": {"destination.port"}, "size": {"20"}}
		}},
		{"CIDR /16 with port list, 100 newest", "/api/v1/sessions", func(i int) url.Values {
			return url.Values{"q": {fmt.Sprintf("ip.src == 10.0.%d.0/24 && port.dst == [80,443]", i%256)}, "limit": {"100"}}
		}},
	}
	for _, c := range cases {
		var lat []time.Duration
		get(c.path, c.q(0)) // warm
		for i := 0; i < reps; i++ {
			d, _, err := get(c.path, c.q(i))
			if err != nil {
				return err
			}
			lat = append(lat, d)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("query: %-42s p50 %6.1f ms  p90 %6.1f ms  max %6.1f ms  (%d runs)\n", c.name,
			ms(lat[len(lat)/2]), ms(lat[len(lat)*9/10]), ms(lat[len(lat)-1]), reps)
	}
	_ = context.Background
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
