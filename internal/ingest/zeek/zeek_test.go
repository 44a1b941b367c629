package zeek

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/ingest/ingesttest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// dump prints the rows each fixture decodes to, every field, to help write
// expected.json (which lists the fields worth checking, by hand).
var dump = flag.Bool("dump", false, "print the decoded rows of every fixture")

var testNow = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func newTestDecoder() *Decoder {
	return NewDecoder(Config{Tenant: "acme", Now: func() time.Time { return testNow }})
}

type decoded struct {
	res  Result
	rows []store.Row
	err  error
}

// decode runs Decode with a deadline and checks what holds for any input.
func decode(t testing.TB, d *Decoder, input []byte) decoded {
	t.Helper()
	done := make(chan decoded, 1)
	go func() {
		var out decoded
		out.res, out.err = d.Decode(bytes.NewReader(input), func(r store.Row) error { out.rows = append(out.rows, r); return nil })
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

// checkInvariants holds whatever the input: every record is accounted for,
// and every row is one the store can take.
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
	if res.Accepted != len(out.rows) {
		t.Errorf("accepted %d, emitted %d rows", res.Accepted, len(out.rows))
	}
	if len(res.Errors) > ingest.MaxErrors || (sum > 0 && len(res.Errors) == 0) {
		t.Errorf("%d detailed errors for %d rejections", len(res.Errors), sum)
	}
	if (out.err != nil) != (res.Stopped != nil) {
		t.Errorf("error %v but stopped %+v", out.err, res.Stopped)
	}
	cols := model.Default.Columns()
	for _, r := range out.rows {
		if r.Tenant != "acme" || !idRe.MatchString(r.ID) || len(r.Cols) != len(cols) {
			t.Fatalf("bad row: tenant %q id %q %d columns", r.Tenant, r.ID, len(r.Cols))
		}
		first, ok := r.Cols[cols[2].ColumnIndex()].(int64)
		if cols[2].Name != "firstPacket" || !ok {
			t.Errorf("row %s: firstPacket %v", r.ID, r.Cols[2])
		}
		if last, ok := r.Cols[cols[3].ColumnIndex()].(int64); !ok || last < first {
			t.Errorf("row %s: lastPacket %v before firstPacket %d", r.ID, r.Cols[3], first)
		}
		for i, f := range cols {
			ingesttest.CheckColType(t, r.ID, f, r.Cols[i])
		}
		if r.Attrs != nil && !json.Valid(r.Attrs) {
			t.Errorf("row %s: attributes are not valid JSON: %s", r.ID, r.Attrs)
		}
	}
}

// golden is a fixture's expected.json: the result, and for each row the
// fields worth checking (null: the field must be absent).
type golden struct {
	Result struct {
		Received int            `json:"received"`
		Accepted int            `json:"accepted"`
		Rejected map[string]int `json:"rejected"`
	} `json:"result"`
	Rows []map[string]any `json:"rows"`
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden decodes every fixture, in Zeek's TSV and JSON forms and
// gzip'd, and compares the rows with testdata/<case>/expected.json.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/expected.json")
	if err != nil || len(dirs) < 7 {
		t.Fatalf("fixtures: %v, %v", dirs, err)
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		var want golden
		b, err := os.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		var byFormat [][]store.Row
		for _, input := range []string{"input.log", "input.json", "input.log.gz"} {
			name := filepath.Base(dir) + "/" + input
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(input, ".gz")))
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(input, ".gz") {
					raw = gzipped(t, raw)
				}
				out := decode(t, newTestDecoder(), raw)
				if out.err != nil {
					t.Fatalf("Decode: %v", out.err)
				}
				gotRes := want.Result
				gotRes.Received, gotRes.Accepted, gotRes.Rejected = out.res.Received, out.res.Accepted, out.res.Rejected
				if want.Result.Rejected == nil {
					want.Result.Rejected = map[string]int{}
				}
				if d := cmp.Diff(want.Result, gotRes); d != "" {
					t.Errorf("result (-want +got):\n%s\nerrors: %+v", d, out.res.Errors)
				}
				if *dump {
					for _, r := range out.rows {
						b, _ := json.MarshalIndent(ingesttest.RowFields(t, r), "", "  ")
						fmt.Printf("%s:\n%s\n", name, b)
					}
				}
				if len(out.rows) != len(want.Rows) {
					t.Fatalf("%d rows, want %d", len(out.rows), len(want.Rows))
				}
				for i, r := range out.rows {
					got := ingesttest.RowFields(t, r)
					sel := map[string]any{}
					for k := range want.Rows[i] {
						sel[k] = got[k]
					}
					if d := cmp.Diff(want.Rows[i], sel); d != "" {
						t.Errorf("row %d (-want +got):\n%s", i, d)
					}
				}
				byFormat = append(byFormat, out.rows)
			})
		}
		// The same records in either format make the same sessions.
		if len(byFormat) == 3 {
			for f := 1; f < 3; f++ {
				for i := range byFormat[0] {
					a, b := ingesttest.RowFields(t, byFormat[0][i]), ingesttest.RowFields(t, byFormat[f][i])
					delete(a, "id")
					delete(b, "id")
					if d := cmp.Diff(a, b); d != "" {
						t.Errorf("%s: row %d differs between formats (-tsv +other):\n%s", dir, i, d)
					}
				}
			}
		}
	}
}

func TestDiscoveredFields(t *testing.T) {
	d := newTestDecoder()
	raw, err := os.ReadFile("testdata/dns/input.log")
	if err != nil {
		t.Fatal(err)
	}
	if out := decode(t, d, raw); out.err != nil {
		t.Fatal(out.err)
	}
	got := map[string]model.Type{}
	for _, f := range d.DiscoveredFields() {
		if !f.Discovered {
			t.Errorf("%s not marked discovered", f.Name)
		}
		got[f.Name] = f.Type
	}
	want := map[string]model.Type{
		"zeek.dns.trans_id": model.TypeInt, "zeek.dns.rtt": model.TypeFloat, "zeek.dns.qclass": model.TypeInt,
		"zeek.dns.qtype": model.TypeInt, "zeek.dns.rcode": model.TypeInt, "zeek.dns.Z": model.TypeInt,
		"zeek.dns.rejected": model.TypeBool,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("discovered fields (-want +got):\n%s", d)
	}
	for name := range got {
		if _, known := model.Default.Lookup(name); known {
			t.Errorf("%s is a registry field, not a discovered one", name)
		}
	}
}

const connHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\n"

func connLine(ts, src string) string {
	return ts + "\tCabc\t" + src + "\t1234\t10.0.0.2\t80\ttcp\thttp\t1.5\t10\t20\n"
}

// TestBadInput covers what the issue asks of bad Zeek input: missing or odd
// headers stop with a clear message and a line number; bad records are
// rejected with their reason and line, the others kept.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		accepted int
		rejected map[string]int
		errLine  int    // line of the first detailed error, 0 for none
		errMsg   string // substring of its message
		stopped  string // substring of the stop error; "" when decoding must finish
	}{
		{
			name:    "no #fields header",
			input:   "#separator \\x09\n#path\tconn\n" + connLine("1709287200.0", "10.0.0.1"),
			stopped: "line 3: a data line before any #fields header",
		},
		{
			name:    "#types count mismatch",
			input:   "#separator \\x09\n#fields\tts\tuid\n#types\ttime\n",
			stopped: "line 3: #types lists 1 types for the 2 columns of #fields (line 2)",
		},
		{
			name:    "#fields separated by spaces",
			input:   "#separator \\x09\n#fields ts uid id.orig_h\n",
			stopped: "line 2: #fields: columns are not separated by the #separator",
		},
		{
			name:    "unreadable separator",
			input:   "#separator \n",
			stopped: "line 1: #separator: cannot read a separator",
		},
		{
			name:     "stop keeps the records before",
			input:    connHeader + connLine("1709287200.0", "10.0.0.1") + "#types\ttime\n" + connLine("1709287201.0", "10.0.0.1"),
			accepted: 1,
			stopped:  "line 9: #types lists 1 types for the 11 columns of #fields (line 6)",
		},
		{
			name:     "wrong number of columns",
			input:    connHeader + connLine("1709287200.0", "10.0.0.1") + "1709287201.0\tCabc\t10.0.0.1\n" + connLine("1709287202.0", "10.0.0.3"),
			accepted: 2, rejected: map[string]int{ReasonColumns: 1},
			errLine: 9, errMsg: "3 columns where #fields names 11",
		},
		{
			name:     "bad address and bad time",
			input:    connHeader + connLine("1709287200.0", "10.0.0.999") + connLine("yesterday", "10.0.0.1") + connLine("1709287200.0", "10.0.0.1"),
			accepted: 1, rejected: map[string]int{ingest.ReasonBadIP: 1, ingest.ReasonBadTime: 1},
			errLine: 8, errMsg: `"10.0.0.999" is not an IP address`,
		},
		{
			name:     "time in the future",
			input:    connHeader + connLine("1900000000.0", "10.0.0.1"),
			rejected: map[string]int{ingest.ReasonFuture: 1},
			errLine:  8, errMsg: "in the future",
		},
		{
			name: "unknown columns are kept",
			input: strings.Replace(strings.Replace(connHeader, "\tresp_bytes\n", "\tresp_bytes\tmy_score\tmy_tags\n", 1),
				"\tcount\n", "\tcount\tdouble\tset[string]\n", 1) + strings.Replace(connLine("1709287200.0", "10.0.0.1"), "\n", "\t0.75\ta,b\n", 1),
			accepted: 1,
		},
		{
			name:     "unsafe discovered name",
			input:    `{"_path":"conn","ts":1709287200,"uid":"C1","id.orig_h":"10.0.0.1","bad key!":1}` + "\n",
			rejected: map[string]int{ingest.ReasonFieldName: 1},
			errLine:  1, errMsg: `field name "zeek.conn.bad key!"`,
		},
		{
			name:     "unsupported log",
			input:    "#separator \\x09\n#path\tfiles\n#fields\tts\tfuid\n#types\ttime\tstring\n1709287200.0\tFabc\n",
			rejected: map[string]int{ReasonUnsupported: 1},
			errLine:  5, errMsg: `Zeek log "files" is not one this import reads`,
		},
		{
			name:     "unrecognisable JSON record",
			input:    `{"ts":1709287200,"foo":"bar"}` + "\n" + `{"_path":"weird","ts":1709287200}` + "\n",
			rejected: map[string]int{ReasonUnsupported: 2},
			errLine:  1, errMsg: "no _path",
		},
		{
			name:     "malformed JSON line in the middle",
			input:    `{"_path":"conn","ts":1709287200,"uid":"C1"}` + "\n" + `{"_path":"conn","ts":` + "\n" + `{"_path":"conn","ts":1709287201,"uid":"C2"}` + "\n",
			accepted: 2, rejected: map[string]int{ingest.ReasonMalformed: 1},
			errLine: 2, errMsg: "malformed JSON",
		},
		{
			name:     "missing ts",
			input:    `{"_path":"conn","uid":"C1","id.orig_h":"10.0.0.1"}` + "\n",
			rejected: map[string]int{ingest.ReasonNoTime: 1},
			errLine:  1, errMsg: "ts is missing",
		},
		{
			name:     "line too long",
			input:    connHeader + connLine("1709287200.0", "10.0.0.1") + "1709287200.0\t" + strings.Repeat("x", 5000) + "\n" + connLine("1709287200.0", "10.0.0.1"),
			accepted: 2, rejected: map[string]int{ingest.ReasonLineTooLong: 1},
			errLine: 9, errMsg: "longer than 4096 bytes",
		},
		{
			name:     "schema changes mid-file",
			input:    connHeader + connLine("1709287200.0", "10.0.0.1") + "#close\tx\n" + "#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n1709287201.0\tC2\t10.0.0.9\n",
			accepted: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Config{Tenant: "acme", Now: func() time.Time { return testNow }, MaxLineBytes: 4096})
			out := decode(t, d, []byte(tc.input))
			if tc.stopped != "" {
				if out.err == nil || !strings.Contains(out.err.Error(), tc.stopped) {
					t.Fatalf("error %v, want one containing %q", out.err, tc.stopped)
				}
				if !strings.HasPrefix(out.err.Error(), "cannot decode Zeek log: ") {
					t.Errorf("error %q does not say what failed", out.err)
				}
				var le *ingest.LineError
				if !errors.As(out.err, &le) || le.Line == 0 {
					t.Errorf("error %v is not a LineError with a line", out.err)
				}
			} else if out.err != nil {
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
				e := out.res.Errors[0]
				if e.Line != tc.errLine || !strings.Contains(e.Detail, tc.errMsg) {
					t.Errorf("first error %+v, want line %d containing %q", e, tc.errLine, tc.errMsg)
				}
			}
		})
	}
}

func TestUnknownColumnsKeepTheirTypes(t *testing.T) {
	input := strings.Replace(strings.Replace(connHeader, "\tresp_bytes\n", "\tresp_bytes\tmy_score\tmy_tags\tmy_ports\n", 1),
		"\tcount\n", "\tcount\tdouble\tset[string]\tvector[count]\n", 1) +
		strings.Replace(connLine("1709287200.0", "10.0.0.1"), "\n", "\t0.75\ta,b\\x2cc\t80,443\n", 1)
	out := decode(t, newTestDecoder(), []byte(input))
	if len(out.rows) != 1 {
		t.Fatalf("rows %d, errors %+v", len(out.rows), out.res.Errors)
	}
	got := ingesttest.RowFields(t, out.rows[0])
	want := map[string]any{"zeek.conn.my_score": 0.75, "zeek.conn.my_tags": []any{"a", "b,c"}, "zeek.conn.my_ports": []any{80.0, 443.0}}
	for k, v := range want {
		if d := cmp.Diff(v, got[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
}

func TestTruncatedGzip(t *testing.T) {
	// Many records, so that the cut falls well after the first ones.
	var big bytes.Buffer
	big.WriteString(connHeader)
	for i := 0; i < 2000; i++ {
		big.WriteString(connLine("1709287200.0", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)))
	}
	gz := gzipped(t, big.Bytes())
	out := decode(t, newTestDecoder(), gz[:len(gz)/2])
	if out.err == nil || !strings.Contains(out.err.Error(), "unexpected EOF") {
		t.Fatalf("error %v, want an unexpected EOF", out.err)
	}
	if out.res.Accepted < 100 || out.res.Stopped == nil || out.res.Stopped.Line <= out.res.Accepted {
		t.Fatalf("accepted %d, stopped %+v: the records before the cut must be kept", out.res.Accepted, out.res.Stopped)
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\x09b`, "a\tb"},
		{`\x2c\x2C`, ",,"},
		{`back\\slash`, `back\slash`},
		{`C:\temp`, `C:\temp`}, // older Zeek left backslashes alone
		{`bad\xZZ`, `bad\xZZ`},
		{`trail\x4`, `trail\x4`},
		{`\xe2\x82\xac`, "€"},
	}
	for _, tc := range tests {
		if got := unescape([]byte(tc.in)); got != tc.want {
			t.Errorf("unescape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecoderReuse(t *testing.T) {
	d := newTestDecoder()
	raw, _ := os.ReadFile("testdata/conn/input.log")
	first := decode(t, d, raw)
	// A second stream starts with a clean schema: a JSON log after a TSV one.
	rawJSON, _ := os.ReadFile("testdata/dns/input.json")
	second := decode(t, d, rawJSON)
	if first.res.Accepted != 4 || second.res.Accepted != 3 {
		t.Fatalf("accepted %d then %d", first.res.Accepted, second.res.Accepted)
	}
	third := decode(t, d, []byte("1709287200.0\tC1\n"))
	if third.err == nil {
		t.Fatal("the TSV schema of an earlier stream leaked into the next")
	}
}

func TestEmitError(t *testing.T) {
	raw, _ := os.ReadFile("testdata/conn/input.log")
	boom := errors.New("store is closed")
	n := 0
	res, err := newTestDecoder().Decode(bytes.NewReader(raw), func(store.Row) error {
		n++
		if n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || res.Accepted != 1 {
		t.Fatalf("err %v accepted %d", err, res.Accepted)
	}
}

// TestRowsInOrder checks the decoder streams: rows come out as records go
// in, without waiting for the end of the input.
func TestRowsInOrder(t *testing.T) {
	pr, pw := io.Pipe()
	d := newTestDecoder()
	rows := make(chan store.Row)
	go func() {
		d.Decode(pr, func(r store.Row) error { rows <- r; return nil })
		close(rows)
	}()
	go func() {
		pw.Write([]byte(connHeader + connLine("1709287200.0", "10.0.0.1")))
		// The writer stays open: the first row must arrive anyway.
	}()
	select {
	case r := <-rows:
		if fmt.Sprint(r.Cols[model.Default.Columns()[4].ColumnIndex()]) != "10.0.0.1" {
			t.Fatalf("first row %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no row before the end of the input")
	}
	pw.Close()
	for range rows {
	}
}

func TestSortedDiscovered(t *testing.T) {
	d := newTestDecoder()
	raw, _ := os.ReadFile("testdata/x509/input.log")
	decode(t, d, raw)
	names := []string{}
	for _, f := range d.DiscoveredFields() {
		names = append(names, f.Name)
	}
	if !sort.StringsAreSorted(names) || len(names) == 0 {
		t.Fatalf("discovered %v", names)
	}
}

// TestRowsOwnTheirStrings decodes with a reader that hands over one byte at
// a time, so the line buffer is refilled and shifted under every line: rows
// must not keep views of it (values are read as views of the line and
// copied when kept).
func TestRowsOwnTheirStrings(t *testing.T) {
	for _, name := range []string{"testdata/http/input.log", "testdata/x509/input.json", "testdata/dns/input.log"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []store.Row
		d := newTestDecoder()
		if _, err := d.Decode(bytes.NewReader(raw), func(r store.Row) error { want = append(want, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(iotest.OneByteReader(bytes.NewReader(raw)), func(r store.Row) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
		}
		for i := range got {
			a, b := ingesttest.RowFields(t, want[i]), ingesttest.RowFields(t, got[i])
			delete(a, "id")
			delete(b, "id")
			if d := cmp.Diff(a, b); d != "" {
				t.Errorf("%s row %d (-whole input +byte by byte):\n%s", name, i, d)
			}
		}
	}
}
