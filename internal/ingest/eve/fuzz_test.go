package eve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/ingest"
)

// FuzzEVE feeds arbitrary EVE logs to the decoder. Whatever the input,
// Decode must return, account for every event, emit only rows the store can
// take and well-formed alerts (checkInvariants), and decode the same input
// the same way twice.
//
//	go test ./internal/ingest/eve -run '^$' -fuzz FuzzEVE -fuzztime 15s
func FuzzEVE(f *testing.F) {
	files, err := filepath.Glob("testdata/*/input.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("seeds: %v %v", files, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"timestamp":"2024-03-01T10:00:00+0000","event_type":"flow","flow":{"start":"2024-03-01T10:00:00+0000","end":"2024-03-01T09:00:00+0000","pkts_toserver":1e30}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"dns","dns":{"answers":[{"rrtype":"A","rdata":"x"},1,null],"grouped":{"MX":[1,{"a":2}]},"queries":"x"}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert","alert":{"signature_id":1.5,"severity":-1,"metadata":{"a":[[1]]}}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"tls","tls":{"subject":"CN=a\\,b, O=","notbefore":"x"}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"http","http":{"status":"abc","url":"?","request_headers":[{"name":5},"x"]}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"ssh","ssh":{"client":{"proto_version":2,"software_version":null}}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"dhcp","dhcp":{"id":-1,"dhcp_type":["ack"]}}`,
		`{"timestamp":"2024-03-01T10:00:00Z","event_type":"netflow","a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":1}}}}}}}}}}}}}}`,
		"{\"timestamp\":\"2024-03-01T10:00:00Z\",\"event_type\":\"flow\",\"host\":\"\xff\xfe\"}",
		`{"event_type":1}`,
		"\x1f\x8b\x08\x00",
		"[]\n{}\n\"x\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		l := ingest.DefaultLimits()
		l.MaxStringBytes = 256
		l.MaxFields = 48
		cfg := Config{Tenant: "acme", Limits: l, MaxLineBytes: 2048, Now: func() time.Time { return testNow }}
		out := decode(t, NewDecoder(cfg), input)
		again := decode(t, NewDecoder(cfg), input)
		if out.res.Received != again.res.Received || out.res.Accepted != again.res.Accepted || out.res.Alerts != again.res.Alerts {
			t.Fatalf("two decodes differ: %+v vs %+v", out.res, again.res)
		}
		if lines := bytes.Count(input, []byte{'\n'}) + 1; out.res.Received > lines {
			t.Fatalf("received %d events from %d lines", out.res.Received, lines)
		}
	})
}
