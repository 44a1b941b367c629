package alphasoc

import (
	"strings"
	"testing"
)

// FuzzDecodeEvents feeds arbitrary bodies to the event decoder of every
// type. Whatever the body, decoding must return (no panic, no endless
// loop), account for every event it counted and emit only sessions the
// store can take, with valid UTF-8 raw events (checkInvariants).
//
//	go test ./internal/ingest/alphasoc -run '^$' -fuzz FuzzDecodeEvents -fuzztime 20s
func FuzzDecodeEvents(f *testing.F) {
	seeds := []string{
		`{"ts":"2024-03-01T12:00:00.123456789Z","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"proto":"tcp","bytesIn":5000,"bytesOut":300,"ja3":""}` + "\n",
		`{"ts":1709294400,"srcIP":"10.0.0.1","query":"example.com","qtype":"A"}{"ts":1709294401,"srcIP":"::1","query":"b"}`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","srcPort":0,"url":"http://a/","method":"GET","status":0,"action":"","bytesIn":0,"bytesOut":1,"contentType":"","referrer":"","userAgent":"x"}`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","certHash":"ab","validFrom":"0001-01-01T00:00:00Z","validTo":"2099-01-01T00:00:00Z","ja3s":"x"}`,
		`{"ts":1709294400,"srcIP":"10.0.0.7","srcMac":"00:11:22:33:44:55","type":"ack","termination":true,"duration":3600}`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","proto":17,"duration":1e9}`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","proto":"300","duration":-0}`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","duration":1e400}`,
		`{"ts":"yesterday","srcIP":"10.0.0.300","query":""}`,
		`{"ts":1709294400,"srcIP":{"a":1},"query":[1,2]}`,
		"{\"ts\":1709294400,\"srcHost\":\"a\xffb\",\"query\":\"q\"}",
		`{"ts":1709294400,"srcIP":"10.0.0.1","query":"a"` + "\n" + `{"ts":1709294400,"srcIP":"10.0.0.1","query":"b"}`,
		`[{"ts":1709294400,"srcIP":"10.0.0.1","query":"a"}]`,
		`{"ts":1709294400,"srcIP":"10.0.0.1","query":"a","ts":"x","validTo":0,"validFrom":null,"status":"0"}`,
		strings.Repeat(`{"ts":1709294400,"srcIP":"10.0.0.1","url":"u","status":0,"srcPort":0,"destPort":0,"ja3":"","ja3s":"","issuer":"","subject":"","app":"","action":"","method":"","referrer":"","userAgent":"","contentType":"","srcMac":"","srcUser":"","qtype":""}`, 2),
		"not json",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range Types {
			out := decodeBody(t, typ, string(body)) // checks the invariants
			if out.res.Received > len(body)+1 {
				t.Fatalf("%s: received %d events from %d bytes", typ, out.res.Received, len(body))
			}
		}
	})
}
