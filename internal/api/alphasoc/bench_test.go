package alphasoc_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/config"
)

// ipBody is a body of n ip events as nfr writes them, plus the fields
// other shippers add (host, application, action, duration).
func ipBody(seed uint64, n int, start time.Time) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	var b bytes.Buffer
	b.Grow(n * 260)
	apps := []string{"http", "tls", "ssh", "dns", "smb"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"ts":"%s","srcIP":"10.%d.%d.%d","srcPort":%d,"srcHost":"host-%d.corp.example","destIP":"%d.%d.%d.%d","destPort":%d,"proto":"tcp","bytesIn":%d,"bytesOut":%d,"app":"%s","action":"allowed","duration":%.3f,"ja3":""}`+"\n",
			start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano),
			r.IntN(4), r.IntN(256), r.IntN(256), 1024+r.IntN(64000), r.IntN(5000),
			1+r.IntN(223), r.IntN(256), r.IntN(256), r.IntN(256), []int{443, 80, 22, 53, 445}[r.IntN(5)],
			r.IntN(1<<20), r.IntN(1<<16), apps[r.IntN(len(apps))], r.Float64()*100)
	}
	return b.Bytes()
}

// BenchmarkEventsIP measures POST /v1/events/ip end to end (HTTP, gzip,
// decoding, validation, sessions and raw events committed durably) with 4
// concurrent clients sending gzip bodies of about 40 000 events (just under
// the 10 MB uncompressed limit). It reports accepted events per second.
//
//	go test ./internal/api/alphasoc -run '^$' -bench EventsIP -benchtime 20x
func BenchmarkEventsIP(b *testing.B) {
	s := startServer(b, func(c *config.Config) {
		c.API.RateLimit.RequestsPerSecond = 0
		c.DuckDB.MemoryLimit = "1GB"
	})
	const perBody = 40_000
	start := time.Now().Add(-time.Hour)
	bodies := make([][]byte, 4)
	for i := range bodies {
		plain := ipBody(uint64(i+1), perBody, start)
		if len(plain) > 10<<20 {
			b.Fatalf("body of %d bytes is over the 10 MB limit", len(plain))
		}
		bodies[i] = gzipped(plain)
	}
	url := s.URL + "/v1/events/ip"
	client := &http.Client{Timeout: 5 * time.Minute}
	work := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Content-Encoding", "gzip")
				req.SetBasicAuth(adminKey, "")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(fmt.Sprintf(`"accepted":%d`, perBody))) {
					b.Errorf("status %d: %.300s", resp.StatusCode, body)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N*perBody)/b.Elapsed().Seconds(), "events/s")
}
