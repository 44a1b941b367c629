package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/config"
	"github.com/seshatsec/seshat/internal/synth"
)

// BenchmarkUpload measures the whole upload path in-process (HTTP, gzip,
// decoding, validation, group commit) with 4 concurrent clients; it exists
// to be profiled (-cpuprofile). cmd/seshat-bench measures the real binary.
func BenchmarkUpload(b *testing.B) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = b.TempDir()
	cfg.AdminKey = "bench-admin-key-0123456789abcdef"
	cfg.API.RateLimit.RequestsPerSecond = 0
	if v := os.Getenv("SESHAT_BENCH_LANES"); v != "" {
		cfg.DuckDB.WriterLanes, _ = strconv.Atoi(v)
	}
	a, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Stop()
	const perBody = 10_000
	gen := synth.New(1, time.Now().Add(-time.Hour).UnixMilli())
	bodies := make([][]byte, 8)
	for i := range bodies {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(gen.NDJSON(perBody))
		zw.Close()
		bodies[i] = buf.Bytes()
	}
	url := "http://" + a.Addr.String() + "/api/v1/sessions"
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Content-Encoding", "gzip")
				req.SetBasicAuth(cfg.AdminKey, "")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N*perBody)/b.Elapsed().Seconds(), "sessions/s")
}
