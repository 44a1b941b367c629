package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// benchIndicators makes n indicators: 40% addresses (a few CIDRs), 40%
// domains, 20% JA3 hashes.
func benchIndicators(n int) []Indicator {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]Indicator, 0, n)
	for i := range n {
		switch i % 5 {
		case 0, 1:
			a := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			v := a.String()
			if i%1000 == 0 {
				v = netip.PrefixFrom(a, 24).Masked().String()
			}
			out = append(out, Indicator{Value: v, Kind: KindIP, Threat: "c2_communication", Source: "bench"})
		case 2, 3:
			out = append(out, Indicator{Value: fmt.Sprintf("d%x.example%d.com", r.Uint64(), i%97), Kind: KindDomain, Threat: "dynamic_dns", Source: "bench"})
		default:
			out = append(out, Indicator{Value: fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), Kind: KindJA3, Threat: "malicious_ja3", Source: "bench"})
		}
	}
	return out
}

// benchBody is NDJSON sessions of the kinds a sensor sends: flows, DNS,
// HTTP and TLS, with about one in a hundred hitting an indicator.
func benchBody(n int, hits []Indicator) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	for i := range n {
		dst := fmt.Sprintf("93.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256))
		host := fmt.Sprintf("www.site%d.org", r.IntN(100000))
		if i%100 == 0 {
			h := hits[r.IntN(len(hits))]
			switch h.Kind {
			case KindIP:
				if p, err := parsePrefix(h.Value); err == nil {
					dst = p.Addr().String()
				}
			case KindDomain:
				host = "x." + h.Value
			}
		}
		fmt.Fprintf(&b, `{"firstPacket":%d,"lastPacket":%d,"source":{"ip":"10.%d.%d.%d","port":%d,"bytes":%d},"destination":{"ip":%q,"port":443,"bytes":%d},"network":{"transport":"tcp"}`,
			1709251200000+int64(i), 1709251201000+int64(i), r.IntN(256), r.IntN(256), r.IntN(256), 1024+r.IntN(60000), r.IntN(5000), dst, r.IntN(50000))
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `,"dns":{"queryHost":[%q]}`, host)
		case 1:
			fmt.Fprintf(&b, `,"http":{"host":[%q],"uri":["%s/index.html"],"useragent":["Mozilla/5.0"]}`, host, host)
		default:
			fmt.Fprintf(&b, `,"tls":{"ja3":["%016x%016x"]}`, r.Uint64(), r.Uint64())
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// BenchmarkDetect decodes uploads as the native API does, without and with
// the detector holding a million indicators, and reports rows/s of each.
// The cost of storing (DuckDB's appender and commit) comes on top of both,
// so the detector's share of a whole ingest is smaller than here.
func BenchmarkDetect(b *testing.B) {
	inds := benchIndicators(1_000_000)
	start := time.Now()
	ix := Build(inds)
	built := time.Since(start)
	const rows = 20_000
	body := benchBody(rows, inds)
	det, err := New(Config{}, model.Default, nil)
	if err != nil {
		b.Fatal(err)
	}
	det.SetIndex(ix)
	b.Logf("%d indicators indexed in %v", ix.Len(), built)
	for _, detect := range []bool{false, true} {
		name := "decode"
		if detect {
			name = "decode+detect"
		}
		b.Run(name, func(b *testing.B) {
			alerts := 0
			batch := make([]store.Row, 0, rows)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), "bench")
				batch = batch[:0]
				if _, err := dec.Decode(body, func(r store.Row) error { batch = append(batch, r); return nil }); err != nil {
					b.Fatal(err)
				}
				if detect {
					alerts += len(det.Detect(batch))
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			if detect {
				b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
			}
		})
	}
	// The detector alone over decoded rows: its cost per row, steadier on a
	// shared machine than the difference of the two runs above.
	b.Run("detect", func(b *testing.B) {
		dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), "bench")
		var batch []store.Row
		if _, err := dec.Decode(body, func(r store.Row) error { batch = append(batch, r); return nil }); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			det.Detect(batch)
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
