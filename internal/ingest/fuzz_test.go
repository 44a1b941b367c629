package ingest

import (
	"strings"
	"testing"

	"github.com/seshatsec/seshat/internal/synth"
)

// FuzzDecode feeds arbitrary bodies to the session decoder. Whatever the
// body, the decoder must return (no panic, no endless loop), account for
// every document it counted, and emit only rows that the store can take:
// tenant, id and firstPacket set, typed columns, attributes as valid JSON
// (checkInvariants).
//
//	go test ./internal/ingest -run '^$' -fuzz FuzzDecode -fuzztime 20s
func FuzzDecode(f *testing.F) {
	seeds := []string{
		doc("a"),
		doc("a") + "\n" + doc("b") + "\n",
		"[" + doc("a") + "," + doc("b") + "]",
		doc("a") + doc("b"),
		`{"firstPacket":"2023-11-14T22:13:20Z","source":{"ip":"10.0.0.1","port":1234},"destination":{"ip":"2001:db8::1","port":443},"protocol":["tcp","tls"],"tags":"x"}`,
		`{"firstPacket":1700000000,"srcIP":"::ffff:1.2.3.4","destPort":"53","query":"example.com","qtype":["A"],"bytesIn":1.0}`,
		`{"firstPacket":1700000000,"custom":{"a":[1,2,{"b":null}],"s":"x\"y\\z\n","f":-1.5e-7,"t":true}}`,
		`{"firstPacket":1700000000,"custom.u":"\u00e9\u4e2d\ud83d\ude00"}`,
		`{"firstPacket":1700000000,"source.bytes":123456789012345678901234567890,"custom.big":1e999,"custom.neg":-0}`,
		`{"firstPacket":99999999999999999999}`,
		`{"firstPacket":1e20}`,
		`{"firstPacket":1700000000,"lastPacket":1600000000}`,
		`{"firstPacket":1700000000,"source.ip":"999.1.1.1"}`,
		`{"_id":"x y","firstPacket":1}`,
		"{\"firstPacket\":1700000000,\"user.name\":\"a\xff\xfeb\"}",
		strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40),
		strings.Repeat("[", 50) + strings.Repeat("]", 50),
		`{"firstPacket":1700000000,` + strings.Repeat(`"x":`, 1) + `[` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `]}`,
		"not json at all",
		"{\n\"firstPacket\":\n1700000000\n}\n",
		"{\"firstPacket\":1700000000\n{\"firstPacket\":1700000001}\n",
		"[{\"firstPacket\":1700000000}",
		"[{\"firstPacket\":1700000000}] trailing",
		`"\"}{"`,
		"\x00\x01\x02{}",
		"{}{}{}[]",
		string(synth.New(7, 1_700_000_000_000).NDJSON(3)),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l := DefaultLimits()
		l.MaxDocBytes = 1 << 16
		l.MaxFields = 64
		l.MaxStringBytes = 512
		out := decode(t, newDecoder(l), string(body)) // checks the invariants
		// Decoding is deterministic apart from generated ids.
		again := decode(t, newDecoder(l), string(body))
		if again.res.Received != out.res.Received || again.res.Accepted != out.res.Accepted || len(again.res.Rejected) != len(out.res.Rejected) {
			t.Fatalf("two decodes differ: %+v vs %+v", out.res, again.res)
		}
		if out.res.Received > len(body)+1 {
			t.Fatalf("received %d documents from %d bytes", out.res.Received, len(body))
		}
	})
}
