package zeek

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/seshatsec/seshat/internal/store"
)

// benchConn is a conn.log of n records in the fixture's TSV layout.
func benchConn(b *testing.B, n int, asJSON bool) []byte {
	name := "testdata/conn/input.log"
	if asJSON {
		name = "testdata/conn/input.json"
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	var header, records [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte{'\n'}) {
		if l[0] == '#' {
			if !bytes.HasPrefix(l, []byte("#close")) {
				header = append(header, l)
			}
		} else {
			records = append(records, l)
		}
	}
	var buf bytes.Buffer
	for _, h := range header {
		buf.Write(h)
		buf.WriteByte('\n')
	}
	for i := 0; i < n; i++ {
		r := records[i%len(records)]
		// Vary the uid so rows are not all alike.
		r = bytes.Replace(r, []byte("CHhAvVGS1DHFjwGM9"), []byte(fmt.Sprintf("C%016d", i)), 1)
		buf.Write(r)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkConnTSV measures decoding a Zeek conn.log; the issue asks an
// import of at least 200 000 records/s end to end.
func BenchmarkConnTSV(b *testing.B) { benchDecode(b, false) }

// BenchmarkConnJSON is the same records as Zeek JSON.
func BenchmarkConnJSON(b *testing.B) { benchDecode(b, true) }

func benchDecode(b *testing.B, asJSON bool) {
	const n = 100_000
	input := benchConn(b, n, asJSON)
	d := newTestDecoder()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := d.Decode(bytes.NewReader(input), func(store.Row) error { return nil })
		if err != nil || res.Accepted != n {
			b.Fatalf("accepted %d of %d: %v %+v", res.Accepted, n, err, res.Errors)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
