// Package synth makes synthetic session documents for benchmarks and tests:
// realistic shapes and sizes (about 500 bytes each), deterministic for a
// seed, spread over addresses, ports and an hour-long time window.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

var (
	protocols = []string{"dns", "http", "tls", "ssh", "smtp", "ntp"}
	hosts     = []string{"example.com", "www.example.org", "cdn.example.net", "api.example.io", "mail.example.com", "updates.example.dev"}
	agents    = []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1"}
	ports     = []int{53, 80, 443, 22, 25, 123, 8080, 3389, 445, 993}
)

// Generator yields documents.
type Generator struct {
	r     *rand.Rand
	start int64 // epoch ms of the first session
	i     int
	// SourceIPs bounds how many distinct source addresses appear.
	SourceIPs int
}

// New makes a generator whose sessions start at startMs.
func New(seed uint64, startMs int64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), start: startMs, SourceIPs: 65536}
}

// Next appends one NDJSON line (a session document and '\n') to b.
func (g *Generator) Next(b []byte) []byte {
	r := g.r
	g.i++
	first := g.start + int64(g.i)*7 + int64(r.IntN(1000))
	last := first + int64(r.IntN(60_000))
	src := r.IntN(g.SourceIPs)
	port := ports[r.IntN(len(ports))]
	proto := protocols[r.IntN(len(protocols))]
	transport := "tcp"
	if proto == "dns" || proto == "ntp" {
		transport = "udp"
	}
	b = append(b, `{"firstPacket":`...)
	b = strconv.AppendInt(b, first, 10)
	b = append(b, `,"lastPacket":`...)
	b = strconv.AppendInt(b, last, 10)
	b = fmt.Appendf(b, `,"source":{"ip":"10.%d.%d.%d","port":%d,"bytes":%d,"packets":%d,"mac":["00:16:3e:%02x:%02x:%02x"]}`,
		src>>16&255, src>>8&255, src&255, 1024+r.IntN(64000), 60+r.IntN(100000), 1+r.IntN(200), r.IntN(256), r.IntN(256), r.IntN(256))
	b = fmt.Appendf(b, `,"destination":{"ip":"192.0.%d.%d","port":%d,"bytes":%d,"packets":%d}`,
		r.IntN(256), r.IntN(256), port, 60+r.IntN(1000000), 1+r.IntN(800))
	b = fmt.Appendf(b, `,"network":{"transport":"%s","community_id":"1:%012x%016x="}`, transport, r.Uint64()&0xffffffffffff, r.Uint64())
	b = fmt.Appendf(b, `,"protocol":["%s","%s"],"node":"sensor-%d"`, transport, proto, r.IntN(4))
	if transport == "tcp" {
		n := 1 + r.IntN(60)
		b = fmt.Appendf(b, `,"tcpflags":{"syn":1,"syn-ack":1,"ack":%d,"psh":%d,"fin":%d,"rst":%d,"urg":0}`, n, n/2, r.IntN(3), r.IntN(2))
	}
	host := hosts[r.IntN(len(hosts))]
	switch proto {
	case "http":
		b = fmt.Appendf(b, `,"http":{"host":["%s"],"method":["GET"],"uri":["%s/index-%d.html"],"statuscode":[200],"useragent":["%s"]}`, host, host, r.IntN(1000), agents[r.IntN(len(agents))])
	case "dns":
		b = fmt.Appendf(b, `,"dns":{"queryHost":["%s"],"qt":["A"],"status":["NOERROR"]}`, host)
	case "tls":
		b = fmt.Appendf(b, `,"tls":{"version":["TLSv1.3"],"cipher":["TLS_AES_128_GCM_SHA256"],"ja3":["%032x"]}`, r.Uint64())
	default:
		b = fmt.Appendf(b, `,"tags":["synthetic","batch-%d"]`, r.IntN(10))
	}
	return append(b, "}\n"...)
}

// NDJSON returns n documents.
func (g *Generator) NDJSON(n int) []byte {
	b := make([]byte, 0, n*520)
	for i := 0; i < n; i++ {
		b = g.Next(b)
	}
	return b
}
