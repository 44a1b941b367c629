package eve

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/ingest/ingesttest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// dump prints what each fixture decodes to, every field, to help write
// expected.json (which lists the fields worth checking, by hand).
var dump = flag.Bool("dump", false, "print the decoded rows and alerts of every fixture")

var testNow = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func newTestDecoder() *Decoder {
	return NewDecoder(Config{Tenant: "acme", Now: func() time.Time { return testNow }})
}

type decoded struct {
	res    Result
	rows   []store.Row
	alerts []*Alert
	err    error
}

// decode runs Decode with a deadline and checks what holds for any input.
func decode(t testing.TB, d *Decoder, input []byte) decoded {
	t.Helper()
	done := make(chan decoded, 1)
	go func() {
		var out decoded
		out.res, out.err = d.Decode(bytes.NewReader(input), func(r Record) error {
			if r.Alert != nil {
				out.alerts = append(out.alerts, r.Alert)
			} else {
				out.rows = append(out.rows, r.Row)
			}
			return nil
		})
		done <- out
	}()
	select {
	case out := <-done:
		checkInvariants(t, out)
		return out
	case <-time.After(10 * time.Second):
		t.Fatalf("Decode(%.80q) did not return within 10s", input)
		return decoded{}
	}
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func checkInvariants(t testing.TB, out decoded) {
	t.Helper()
	res := out.res
	sum := 0
	for _, n := range res.Rejected {
		sum += n
	}
	if res.Accepted+sum != res.Received {
		t.Errorf("accepted %d + rejected %d != received %d", res.Accepted, sum, res.Received)
	}
	if res.Accepted != len(out.rows)+len(out.alerts) || res.Alerts != len(out.alerts) {
		t.Errorf("accepted %d (alerts %d), emitted %d rows and %d alerts", res.Accepted, res.Alerts, len(out.rows), len(out.alerts))
	}
	if len(res.Errors) > ingest.MaxErrors || (sum > 0 && len(res.Errors) == 0) {
		t.Errorf("%d detailed errors for %d rejections", len(res.Errors), sum)
	}
	if (out.err != nil) != (res.Stopped != nil) {
		t.Errorf("error %v but stopped %+v", out.err, res.Stopped)
	}
	cols := model.Default.Columns()
	first, _ := model.Default.Lookup("firstPacket")
	last, _ := model.Default.Lookup("lastPacket")
	for _, r := range out.rows {
		if r.Tenant != "acme" || !idRe.MatchString(r.ID) || len(r.Cols) != len(cols) {
			t.Fatalf("bad row: tenant %q id %q %d columns", r.Tenant, r.ID, len(r.Cols))
		}
		f, ok := r.Cols[first.ColumnIndex()].(int64)
		if !ok {
			t.Errorf("row %s: firstPacket %v", r.ID, r.Cols[first.ColumnIndex()])
		}
		if l, ok := r.Cols[last.ColumnIndex()].(int64); !ok || l < f {
			t.Errorf("row %s: lastPacket %v before firstPacket %d", r.ID, r.Cols[last.ColumnIndex()], f)
		}
		for i, fl := range cols {
			ingesttest.CheckColType(t, r.ID, fl, r.Cols[i])
		}
		if r.Attrs != nil && !json.Valid(r.Attrs) {
			t.Errorf("row %s: attributes are not valid JSON: %s", r.ID, r.Attrs)
		}
	}
	for _, a := range out.alerts {
		if a.Tenant != "acme" || a.Timestamp <= 0 || a.SignatureID == 0 {
			t.Errorf("bad alert %+v", a)
		}
		if _, err := json.Marshal(a); err != nil {
			t.Errorf("alert does not marshal: %v", err)
		}
	}
}

func jsonRoundTrip(t testing.TB, v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type golden struct {
	Result struct {
		Received int            `json:"received"`
		Accepted int            `json:"accepted"`
		Alerts   int            `json:"alerts"`
		Rejected map[string]int `json:"rejected"`
	} `json:"result"`
	Rows   []map[string]any `json:"rows"`
	Alerts []map[string]any `json:"alerts"`
}

// project keeps the keys of want from got, so fixtures list only the
// fields worth checking (null: must be absent).
func project(want, got map[string]any) map[string]any {
	sel := map[string]any{}
	for k := range want {
		sel[k] = got[k]
	}
	return sel
}

// TestGolden decodes every fixture, plain and gzip'd, and compares the rows
// and alerts with testdata/<case>/expected.json.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/expected.json")
	if err != nil || len(files) < 8 {
		t.Fatalf("fixtures: %v, %v", files, err)
	}
	for _, exp := range files {
		dir := filepath.Dir(exp)
		var want golden
		b, err := os.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		if want.Result.Rejected == nil {
			want.Result.Rejected = map[string]int{}
		}
		for _, gz := range []bool{false, true} {
			name := filepath.Base(dir)
			if gz {
				name += "/gzip"
			}
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join(dir, "input.json"))
				if err != nil {
					t.Fatal(err)
				}
				if gz {
					var buf bytes.Buffer
					zw := gzip.NewWriter(&buf)
					zw.Write(raw)
					zw.Close()
					raw = buf.Bytes()
				}
				out := decode(t, newTestDecoder(), raw)
				if out.err != nil {
					t.Fatalf("Decode: %v", out.err)
				}
				got := want.Result
				got.Received, got.Accepted, got.Alerts, got.Rejected = out.res.Received, out.res.Accepted, out.res.Alerts, out.res.Rejected
				if d := cmp.Diff(want.Result, got); d != "" {
					t.Errorf("result (-want +got):\n%s\nerrors: %+v", d, out.res.Errors)
				}
				if *dump && !gz {
					for _, r := range out.rows {
						b, _ := json.MarshalIndent(ingesttest.RowFields(t, r), "", "  ")
						fmt.Printf("%s row:\n%s\n", name, b)
					}
					for _, a := range out.alerts {
						b, _ := json.MarshalIndent(a, "", "  ")
						fmt.Printf("%s alert:\n%s\n", name, b)
					}
				}
				if len(out.rows) != len(want.Rows) || len(out.alerts) != len(want.Alerts) {
					t.Fatalf("%d rows and %d alerts, want %d and %d", len(out.rows), len(out.alerts), len(want.Rows), len(want.Alerts))
				}
				for i, r := range out.rows {
					if d := cmp.Diff(want.Rows[i], project(want.Rows[i], ingesttest.RowFields(t, r))); d != "" {
						t.Errorf("row %d (-want +got):\n%s", i, d)
					}
				}
				for i, a := range out.alerts {
					if d := cmp.Diff(want.Alerts[i], project(want.Alerts[i], jsonRoundTrip(t, a))); d != "" {
						t.Errorf("alert %d (-want +got):\n%s", i, d)
					}
				}
			})
		}
	}
}

// TestAlertLinksToItsFlow checks the link the issue asks for: an alert and
// the session of its flow share the flow id.
func TestAlertLinksToItsFlow(t *testing.T) {
	flow, _ := os.ReadFile("testdata/flow/input.json")
	alerts, _ := os.ReadFile("testdata/alert/input.json")
	out := decode(t, newTestDecoder(), append(append([]byte{}, flow...), alerts...))
	if len(out.alerts) != 2 {
		t.Fatalf("%d alerts", len(out.alerts))
	}
	a := out.alerts[1] // the DNS alert, on the second flow
	var linked []store.Row
	for _, r := range out.rows {
		if ingesttest.RowFields(t, r)["eve.flow_id"] == float64(a.FlowID) {
			linked = append(linked, r)
		}
	}
	if len(linked) != 1 {
		t.Fatalf("alert on flow %d: %d sessions carry that flow id", a.FlowID, len(linked))
	}
	if got := ingesttest.RowFields(t, linked[0]); got["eve.flow_alerted"] != true || got["destination.port"] != float64(53) {
		t.Errorf("linked session %v", got)
	}
}

func TestBadInput(t *testing.T) {
	flowLine := `{"timestamp":"2024-03-01T10:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60,"start":"2024-03-01T10:00:00.000000+0000","end":"2024-03-01T10:00:01.000000+0000"}}`
	tests := []struct {
		name     string
		input    string
		accepted int
		rejected map[string]int
		errLine  int
		errMsg   string
	}{
		{"malformed line in the middle", flowLine + "\n{\"timestamp\":\n" + flowLine + "\n", 2, map[string]int{ingest.ReasonMalformed: 1}, 2, "malformed JSON"},
		{"not an object", "[1,2]\n" + flowLine + "\n", 1, map[string]int{ingest.ReasonNotObject: 1}, 1, "expected a JSON object"},
		{"no event type", `{"timestamp":"2024-03-01T10:00:00Z"}` + "\n", 0, map[string]int{ReasonUnsupported: 1}, 1, "no event_type"},
		{"unknown event type", `{"timestamp":"2024-03-01T10:00:00Z","event_type":"fileinfo"}` + "\n", 0, map[string]int{ReasonUnsupported: 1}, 1, `event_type "fileinfo" is not imported`},
		{"bad address", strings.Replace(flowLine, "10.0.0.2", "10.0.0.256", 1) + "\n", 0, map[string]int{ingest.ReasonBadIP: 1}, 1, `"10.0.0.256" is not an IP address`},
		{"bad port", strings.Replace(flowLine, `"dest_port":80`, `"dest_port":70000`, 1) + "\n", 0, map[string]int{ingest.ReasonRange: 1}, 1, "out of range"},
		{"bad time", strings.Replace(flowLine, `"start":"2024-03-01T10:00:00.000000+0000"`, `"start":"yesterday"`, 1) + "\n", 0, map[string]int{ingest.ReasonBadTime: 1}, 1, `flow.start: "yesterday" is not a time`},
		{"no time", `{"event_type":"dns","src_ip":"10.0.0.1","dns":{"rrname":"a.example"}}` + "\n", 0, map[string]int{ingest.ReasonNoTime: 1}, 1, "timestamp is missing"},
		{"future", strings.ReplaceAll(flowLine, "2024-03-01", "2030-03-01") + "\n", 0, map[string]int{ingest.ReasonFuture: 1}, 1, "in the future"},
		{"end before start", strings.Replace(flowLine, `"end":"2024-03-01T10:00:01`, `"end":"2024-03-01T09:00:01`, 1) + "\n", 0, map[string]int{ingest.ReasonTimeReverse: 1}, 1, "before firstPacket"},
		{"counter of the wrong type", strings.Replace(flowLine, `"pkts_toserver":1`, `"pkts_toserver":"many"`, 1) + "\n", 0, map[string]int{ingest.ReasonType: 1}, 1, "flow.pkts_toserver: expected an integer"},
		{"alert without rule", `{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert","alert":{"signature":"x"}}` + "\n", 0, map[string]int{ReasonAlert: 1}, 1, "signature_id is missing"},
		{"alert without alert object", `{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert"}` + "\n", 0, map[string]int{ReasonAlert: 1}, 1, "without an alert object"},
		{"alert with a bad address", `{"timestamp":"2024-03-01T10:00:00Z","event_type":"alert","src_ip":"x","alert":{"signature_id":1}}` + "\n", 0, map[string]int{ingest.ReasonBadIP: 1}, 1, `src_ip: "x"`},
		{"alert in the future", `{"timestamp":"2030-03-01T10:00:00Z","event_type":"alert","alert":{"signature_id":1}}` + "\n", 0, map[string]int{ingest.ReasonFuture: 1}, 1, "in the future"},
		{"line too long", flowLine + "\n" + `{"event_type":"flow","x":"` + strings.Repeat("y", 5000) + `"}` + "\n" + flowLine + "\n", 2, map[string]int{ingest.ReasonLineTooLong: 1}, 2, "longer than 4096 bytes"},
		{"odd http status kept aside", `{"timestamp":"2024-03-01T10:00:00Z","event_type":"http","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","http":{"status":999,"hostname":"a"}}` + "\n", 1, nil, 0, ""},
		{"blank lines", "\n\n" + flowLine + "\n\n", 1, nil, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Config{Tenant: "acme", Now: func() time.Time { return testNow }, MaxLineBytes: 4096})
			out := decode(t, d, []byte(tc.input))
			if out.err != nil {
				t.Fatalf("Decode: %v", out.err)
			}
			if out.res.Accepted != tc.accepted {
				t.Errorf("accepted %d, want %d (errors %+v)", out.res.Accepted, tc.accepted, out.res.Errors)
			}
			if tc.rejected == nil {
				tc.rejected = map[string]int{}
			}
			if d := cmp.Diff(tc.rejected, out.res.Rejected); d != "" {
				t.Errorf("rejected (-want +got):\n%s", d)
			}
			if tc.errLine != 0 {
				if len(out.res.Errors) == 0 {
					t.Fatal("no detailed error")
				}
				if e := out.res.Errors[0]; e.Line != tc.errLine || !strings.Contains(e.Detail, tc.errMsg) {
					t.Errorf("first error %+v, want line %d containing %q", e, tc.errLine, tc.errMsg)
				}
			}
		})
	}
}

func TestOddHTTPStatusIsKept(t *testing.T) {
	out := decode(t, newTestDecoder(), []byte(`{"timestamp":"2024-03-01T10:00:00Z","event_type":"http","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","http":{"status":999,"hostname":"a"}}`+"\n"))
	if len(out.rows) != 1 {
		t.Fatalf("rows %d: %+v", len(out.rows), out.res.Errors)
	}
	got := ingesttest.RowFields(t, out.rows[0])
	if got["eve.http.status"] != float64(999) || got["http.statuscode"] != nil || got["http.host"] == nil {
		t.Errorf("row %v", got)
	}
}

func TestTruncatedGzip(t *testing.T) {
	var big bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&big, `{"timestamp":"2024-03-01T10:00:00.%06d+0000","flow_id":%d,"event_type":"flow","src_ip":"10.0.0.1","src_port":%d,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60}}`+"\n", i, i+1, i%60000+1)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(big.Bytes())
	zw.Close()
	gz := buf.Bytes()
	out := decode(t, newTestDecoder(), gz[:len(gz)/2])
	if out.err == nil || !strings.Contains(out.err.Error(), "unexpected EOF") || !strings.HasPrefix(out.err.Error(), "cannot decode EVE log: ") {
		t.Fatalf("error %v, want an unexpected EOF", out.err)
	}
	if out.res.Accepted < 100 {
		t.Fatalf("accepted %d: the events before the cut must be kept", out.res.Accepted)
	}
}

func TestEmitError(t *testing.T) {
	raw, _ := os.ReadFile("testdata/flow/input.json")
	boom := errors.New("store is closed")
	res, err := newTestDecoder().Decode(bytes.NewReader(raw), func(Record) error { return boom })
	if !errors.Is(err, boom) || res.Accepted != 0 {
		t.Fatalf("err %v accepted %d", err, res.Accepted)
	}
}

func TestAlertLevel(t *testing.T) {
	for sev, want := range map[int]int{1: 3, 2: 2, 3: 1, 4: 0, 0: 0} {
		a := Alert{Severity: sev}
		if got := a.Level(); got != want {
			t.Errorf("severity %d: level %d, want %d", sev, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"2024-03-01T10:00:00.123456+0000", 1709287200123},
		{"2024-03-01T11:00:00.123456+0100", 1709287200123},
		{"2024-03-01T10:00:00.123456Z", 1709287200123},
		{"2024-03-01T10:00:00+00:00", 1709287200000},
		{"2024-03-01T10:00:00", 1709287200000},
	}
	for _, tc := range tests {
		got, derr := parseTime("t", tc.in)
		if derr != nil || got != tc.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", tc.in, got, derr, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "1709287200", "1969-12-31T23:59:59Z"} {
		if _, derr := parseTime("t", bad); derr == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}
