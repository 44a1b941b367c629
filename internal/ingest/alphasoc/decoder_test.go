package alphasoc

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
)

// decoded is what a body turned into.
type decoded struct {
	res    ingest.Result
	events []Event
	fields []map[string]any // each session by canonical name
}

func decodeBody(t testing.TB, typ Type, body string) decoded {
	t.Helper()
	dec := NewDecoder(model.Default, ingest.DefaultLimits(), "acme", typ)
	var out decoded
	res, err := dec.Decode([]byte(body), func(ev *Event) error {
		e := *ev
		e.Raw = append([]byte(nil), ev.Raw...)
		out.events = append(out.events, e)
		out.fields = append(out.fields, sessionFields(t, e))
		return nil
	})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	out.res = res
	checkInvariants(t, typ, body, out)
	return out
}

// sessionFields lays a row out by canonical field name, as the store would
// read it back: columns first, then the attribute document.
func sessionFields(t testing.TB, ev Event) map[string]any {
	t.Helper()
	m := map[string]any{"id": ev.Row.ID}
	for i, f := range model.Default.Columns() {
		if v := ev.Row.Cols[i]; v != nil {
			if a, ok := v.(netip.Addr); ok {
				v = a.String()
			}
			m[f.Name] = v
		}
	}
	if ev.Row.Attrs != nil {
		var attrs map[string]any
		if err := json.Unmarshal(ev.Row.Attrs, &attrs); err != nil {
			t.Fatalf("attrs are not JSON: %v: %s", err, ev.Row.Attrs)
		}
		for k, v := range attrs {
			m[k] = v
		}
	}
	return m
}

// checkInvariants holds for any body: every event is accounted for, and
// every accepted one is a session the store can take.
func checkInvariants(t testing.TB, typ Type, body string, out decoded) {
	t.Helper()
	res := out.res
	rejected := 0
	for _, n := range res.Rejected {
		rejected += n
	}
	if res.Accepted != len(out.events) || res.Accepted+rejected != res.Received {
		t.Fatalf("counts do not add up: %+v, %d events", res, len(out.events))
	}
	for i, ev := range out.events {
		f := out.fields[i]
		if ev.Row.Tenant != "acme" || ev.Row.ID == "" || ev.Type != typ {
			t.Fatalf("event %d: tenant %q id %q type %q", i, ev.Row.Tenant, ev.Row.ID, ev.Type)
		}
		if f["session.type"] != "network" {
			t.Fatalf("event %d: session.type %v", i, f["session.type"])
		}
		first, ok1 := f["firstPacket"].(int64)
		last, ok2 := f["lastPacket"].(int64)
		if !ok1 || !ok2 || last < first || first != ev.First || last != ev.Last {
			t.Fatalf("event %d: firstPacket %v lastPacket %v (event %d-%d)", i, f["firstPacket"], f["lastPacket"], ev.First, ev.Last)
		}
		if p := typ.protocol(); p != "" {
			protos, _ := f["protocol"].([]string)
			if !contains(protos, p) {
				t.Fatalf("event %d: protocol %v lacks %q", i, protos, p)
			}
		}
		if !utf8.Valid(ev.Raw) || len(ev.Raw) == 0 || len(ev.Raw) > len(body)+len(body)*2 {
			t.Fatalf("event %d: raw %q", i, ev.Raw)
		}
		if ev.Row.Attrs != nil && !json.Valid(ev.Row.Attrs) {
			t.Fatalf("event %d: attrs are not JSON: %s", i, ev.Row.Attrs)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const ts = "2024-03-01T12:00:00.123456789Z" // how nfr writes times (Go's time.Time)

var tsMs = time.Date(2024, 3, 1, 12, 0, 0, 123_000_000, time.UTC).UnixMilli()

func TestDecodeEvents(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		body string
		want map[string]any // fields to compare (others ignored); nil means rejected
		flow Flow
	}{
		{"ip as nfr sends it", IP,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"proto":"tcp","bytesIn":5000,"bytesOut":300,"ja3":""}`,
			map[string]any{"firstPacket": tsMs, "lastPacket": tsMs, "source.ip": "10.0.0.1", "source.port": int64(40000),
				"destination.ip": "93.184.216.34", "destination.port": int64(443), "network.transport": "tcp",
				"protocol": []string{"tcp"}, "source.bytes": int64(300), "destination.bytes": int64(5000), "tls.ja3": nil},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, Dst: netip.MustParseAddr("93.184.216.34"), DstPort: 443, Transport: "tcp"}},
		{"ip with duration, app, action and a protocol number", IP,
			`{"ts":1709294400,"srcIP":"10.0.0.1","srcPort":5353,"destIP":"10.0.0.53","destPort":53,"proto":17,"duration":1.5,"app":"dns","action":"allowed","ja3":"abc"}`,
			map[string]any{"firstPacket": int64(1709294400000), "lastPacket": int64(1709294401500), "network.transport": "udp",
				"protocol": []string{"udp"}, "session.duration": 1.5, "network.application": "dns", "event.action": "allowed",
				"tls.ja3": []any{"abc"}},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 5353, Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53, Transport: "udp"}},
		{"dns as nfr sends it", DNS,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","query":"example.com","qtype":"A"}`,
			map[string]any{"firstPacket": tsMs, "lastPacket": tsMs, "protocol": []string{"dns"}, "network.transport": nil,
				"dns.queryHost": []any{"example.com"}, "dns.qt": []any{"A"}},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: -1, DstPort: -1}},
		{"dns with the whole header", DNS,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":5353,"srcHost":"pc-1","srcMac":"00:11:22:33:44:55","srcUser":"alice","srcID":"agent-7","query":"example.com","qtype":"AAAA"}`,
			map[string]any{"source.host": "pc-1", "source.mac": []any{"00:11:22:33:44:55"}, "user.name": "alice", "source.id": "agent-7",
				"source.port": int64(5353)},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 5353, DstPort: -1}},
		{"http as nfr sends it: zero values are absent", HTTP,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":0,"url":"http://example.com/a?b=c","method":"GET","status":0,"action":"","bytesIn":0,"bytesOut":120,"contentType":"","referrer":"","userAgent":"curl/8"}`,
			map[string]any{"protocol": []string{"tcp", "http"}, "network.transport": "tcp", "http.uri": []any{"http://example.com/a?b=c"},
				"http.method": []any{"GET"}, "http.statuscode": nil, "event.action": nil, "source.port": nil,
				"destination.bytes": int64(0), "source.bytes": int64(120), "http.useragent": []any{"curl/8"}, "http.response-content-type": nil},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: -1, DstPort: -1, Transport: "tcp"}},
		{"http with a status", HTTP,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":41000,"url":"/","status":404,"contentType":"text/html","referrer":"http://a/"}`,
			map[string]any{"http.statuscode": []any{float64(404)}, "http.response-content-type": []any{"text/html"},
				"http.request-referer": []any{"http://a/"}},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 41000, DstPort: -1, Transport: "tcp"}},
		{"tls as nfr sends it: the zero validFrom is absent, validTo may be years ahead", TLS,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","srcPort":40000,"destIP":"93.184.216.34","destPort":443,"certHash":"ab:cd","issuer":"CN=CA","subject":"CN=example.com","validFrom":"0001-01-01T00:00:00Z","validTo":"2099-01-01T00:00:00Z","ja3":"j3","ja3s":"j3s"}`,
			map[string]any{"protocol": []string{"tcp", "tls"}, "cert.hash": []any{"ab:cd"}, "tls.server.issuer": "CN=CA",
				"tls.server.subject": "CN=example.com", "cert.notBefore": nil,
				"cert.notAfter": []any{float64(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())},
				"tls.ja3":       []any{"j3"}, "tls.ja3s": []any{"j3s"}},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, Dst: netip.MustParseAddr("93.184.216.34"), DstPort: 443, Transport: "tcp"}},
		{"lease: duration is the lease's length", Lease,
			`{"ts":"` + ts + `","srcIP":"10.0.0.7","srcMac":"00:11:22:33:44:55","srcHost":"printer","type":"ack","termination":false,"duration":3600}`,
			map[string]any{"protocol": []string{"udp", "dhcp"}, "network.transport": "udp", "lease.type": "ack",
				"lease.termination": false, "lease.duration": float64(3600), "session.duration": nil,
				"firstPacket": tsMs, "lastPacket": tsMs + 3_600_000},
			Flow{Src: netip.MustParseAddr("10.0.0.7"), SrcPort: -1, DstPort: -1, Transport: "udp"}},
		{"unknown fields are kept", DNS,
			`{"ts":"` + ts + `","srcIP":"10.0.0.1","query":"a.example","custom":{"x":1}}`,
			map[string]any{"custom.x": float64(1)},
			Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: -1, DstPort: -1}},
		{"a source named by host only", DNS,
			`{"ts":"` + ts + `","srcHost":"pc-1","query":"a.example"}`,
			map[string]any{"source.host": "pc-1", "source.ip": nil},
			Flow{SrcPort: -1, DstPort: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decodeBody(t, tt.typ, tt.body)
			if out.res.Accepted != 1 {
				t.Fatalf("not accepted: %+v", out.res)
			}
			got := map[string]any{}
			for k := range tt.want {
				got[k] = out.fields[0][k]
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("session (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.flow, out.events[0].Flow, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("flow (-want +got):\n%s", d)
			}
			if string(out.events[0].Raw) != tt.body {
				t.Errorf("raw %s, want the body", out.events[0].Raw)
			}
		})
	}
}

func TestDecodeEventsRejects(t *testing.T) {
	tests := []struct {
		name, body string
		typ        Type
		reason     string
		detail     string
	}{
		{"bad ts", `{"ts":"yesterday","srcIP":"10.0.0.1","query":"a"}`, DNS, ingest.ReasonBadTime, "firstPacket"},
		{"ts in the future", `{"ts":"2999-01-01T00:00:00Z","srcIP":"10.0.0.1","query":"a"}`, DNS, ingest.ReasonFuture, ""},
		{"no ts", `{"srcIP":"10.0.0.1","query":"a"}`, DNS, ReasonMissing, "dns events need ts"},
		{"bad srcIP", `{"ts":1709294400,"srcIP":"10.0.0.300","query":"a"}`, DNS, ingest.ReasonBadIP, "10.0.0.300"},
		{"bad destIP", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"x"}`, IP, ingest.ReasonBadIP, ""},
		{"srcIP of the wrong type", `{"ts":1709294400,"srcIP":12,"query":"a"}`, DNS, ingest.ReasonType, ""},
		{"srcIP as an object", `{"ts":1709294400,"srcIP":{"v4":"10.0.0.1"},"query":"a"}`, DNS, ingest.ReasonType, "srcIP"},
		{"port of the wrong type", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","destPort":"https"}`, IP, ingest.ReasonType, ""},
		{"port out of range", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","destPort":70000}`, IP, ingest.ReasonRange, ""},
		{"bytes of the wrong type", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","bytesIn":"many"}`, IP, ingest.ReasonType, ""},
		{"negative duration", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","duration":-1}`, IP, ingest.ReasonRange, "duration"},
		{"duration as a string", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2","duration":"1s"}`, IP, ingest.ReasonType, "duration"},
		{"termination not a boolean", `{"ts":1709294400,"srcIP":"10.0.0.1","termination":"yes"}`, Lease, ingest.ReasonType, ""},
		{"bad validTo", `{"ts":1709294400,"srcIP":"10.0.0.1","certHash":"x","validTo":"soon"}`, TLS, ingest.ReasonBadTime, "validTo"},
		{"status out of range", `{"ts":1709294400,"srcIP":"10.0.0.1","url":"/","status":1000}`, HTTP, ingest.ReasonRange, ""},
		{"no source", `{"ts":1709294400,"query":"a"}`, DNS, ReasonMissing, "srcIP, srcHost or srcID"},
		{"dns without query", `{"ts":1709294400,"srcIP":"10.0.0.1","query":""}`, DNS, ReasonMissing, "query"},
		{"ip without destIP", `{"ts":1709294400,"srcIP":"10.0.0.1","destPort":443}`, IP, ReasonMissing, "destIP"},
		{"http without url", `{"ts":1709294400,"srcIP":"10.0.0.1","method":"GET"}`, HTTP, ReasonMissing, "url"},
		{"tls without anything TLS", `{"ts":1709294400,"srcIP":"10.0.0.1","destIP":"10.0.0.2"}`, TLS, ReasonMissing, "certHash"},
		{"lease without srcIP", `{"ts":1709294400,"srcMac":"00:11:22:33:44:55","srcHost":"x"}`, Lease, ReasonMissing, "srcIP"},
		{"not an object", `42`, DNS, ingest.ReasonNotObject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decodeBody(t, tt.typ, tt.body)
			if out.res.Received != 1 || out.res.Accepted != 0 || out.res.Rejected[tt.reason] != 1 {
				t.Fatalf("got %+v, want one rejected as %q", out.res, tt.reason)
			}
			if !strings.Contains(out.res.Errors[0].Detail, tt.detail) {
				t.Errorf("detail %q does not mention %q", out.res.Errors[0].Detail, tt.detail)
			}
		})
	}
}

func TestDecodeEventsFraming(t *testing.T) {
	ok := func(q string) string { return `{"ts":1709294400,"srcIP":"10.0.0.1","query":"` + q + `"}` }
	bad := `{"ts":1709294400,"srcIP":"10.0.0.300","query":"x"}`
	tests := []struct {
		name     string
		body     string
		received int
		accepted []string // queries, in order
		stopped  bool
	}{
		{"newline-delimited", ok("a") + "\n" + ok("b") + "\n", 2, []string{"a", "b"}, false},
		{"concatenated", ok("a") + ok("b") + ok("c"), 3, []string{"a", "b", "c"}, false},
		{"CRLF and blank lines", ok("a") + "\r\n\r\n" + ok("b") + "\r\n", 2, []string{"a", "b"}, false},
		{"invalid events mixed with valid ones", ok("a") + "\n" + bad + "\n" + ok("b") + "\n", 3, []string{"a", "b"}, false},
		{"invalid JSON line: the next line goes on", ok("a") + "\n{\"ts\":\n" + ok("b") + "\n", 3, []string{"a", "b"}, false},
		{"invalid JSON mid-stream of concatenated objects: stop there", ok("a") + ok("b") + `{"ts":1,` + ok("c"), 3, []string{"a", "b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decodeBody(t, DNS, tt.body)
			var got []string
			for _, f := range out.fields {
				got = append(got, f["dns.queryHost"].([]any)[0].(string))
			}
			if out.res.Received != tt.received || !cmp.Equal(got, tt.accepted) || (out.res.Stopped != nil) != tt.stopped {
				t.Fatalf("got %+v accepted %v, want received %d accepted %v stopped %v", out.res, got, tt.received, tt.accepted, tt.stopped)
			}
			if tt.stopped {
				// The answer says where: the offset of the third object.
				if want := 2 * len(ok("a")); out.res.Stopped.Offset != want {
					t.Errorf("stopped at offset %d, want %d", out.res.Stopped.Offset, want)
				}
			}
		})
	}
}

func TestDecodeEventsInvalidUTF8IsRepaired(t *testing.T) {
	out := decodeBody(t, DNS, "{\"ts\":1709294400,\"srcIP\":\"10.0.0.1\",\"query\":\"a\xffb\"}")
	if out.res.Accepted != 1 {
		t.Fatalf("%+v", out.res)
	}
	if !strings.Contains(string(out.events[0].Raw), "a\uFFFDb") {
		t.Errorf("raw %q", out.events[0].Raw)
	}
}

// BenchmarkDecodeIP measures decoding alone: nfr-shaped ip events into
// sessions (no store), in events per second of one core.
func BenchmarkDecodeIP(b *testing.B) {
	var body strings.Builder
	start := time.Now().Add(-time.Hour)
	const n = 10_000
	for i := 0; i < n; i++ {
		body.WriteString(`{"ts":"` + start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano) +
			`","srcIP":"10.1.2.3","srcPort":` + strconv.Itoa(1024+i) + `,"srcHost":"host-1.corp.example","destIP":"93.184.216.34","destPort":443,"proto":"tcp","bytesIn":123456,"bytesOut":2345,"app":"http","action":"allowed","duration":12.345,"ja3":""}` + "\n")
	}
	raw := []byte(body.String())
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dec := NewDecoder(model.Default, ingest.DefaultLimits(), "acme", IP)
		res, err := dec.Decode(raw, func(*Event) error { return nil })
		if err != nil || res.Accepted != n {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
