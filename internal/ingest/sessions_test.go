package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/seshatsec/seshat/internal/ingest/ingesttest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// testNow is the decoder's clock in these tests.
var testNow = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

const t0 = 1700000000000 // a firstPacket well in the past (2023-11-14)

var addrComparer = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func newDecoder(limits Limits) *SessionDecoder {
	d := NewSessionDecoder(model.Default, limits, "acme")
	d.now = func() time.Time { return testNow }
	return d
}

type decoded struct {
	res  Result
	rows []store.Row
	err  error
}

// decode runs Decode with a deadline, so a decoder that stops making
// progress fails the test instead of hanging it.
func decode(t testing.TB, d *SessionDecoder, body string) decoded {
	t.Helper()
	done := make(chan decoded, 1)
	go func() {
		var out decoded
		out.res, out.err = d.Decode([]byte(body), func(r store.Row) error { out.rows = append(out.rows, r); return nil })
		done <- out
	}()
	select {
	case out := <-done:
		checkInvariants(t, body, out)
		return out
	case <-time.After(5 * time.Second):
		t.Fatalf("Decode(%.80q) did not return within 5s (no progress on the body)", body)
		return decoded{}
	}
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// checkInvariants holds for any body.
func checkInvariants(t testing.TB, body string, out decoded) {
	t.Helper()
	res := out.res
	sum := 0
	for _, n := range res.Rejected {
		sum += n
	}
	if res.Accepted+sum != res.Received {
		t.Errorf("body %.80q: accepted %d + rejected %d != received %d", body, res.Accepted, sum, res.Received)
	}
	if out.err == nil && res.Accepted != len(out.rows) {
		t.Errorf("body %.80q: accepted %d but emitted %d rows", body, res.Accepted, len(out.rows))
	}
	if len(res.Errors) > MaxErrors || (sum > 0 && len(res.Errors) == 0) {
		t.Errorf("body %.80q: %d detailed errors for %d rejections", body, len(res.Errors), sum)
	}
	fp := colIndex("firstPacket")
	lp := colIndex("lastPacket")
	for _, r := range out.rows {
		if r.Tenant != "acme" {
			t.Errorf("row tenant %q", r.Tenant)
		}
		if !idRe.MatchString(r.ID) {
			t.Errorf("row id %q is not a valid id", r.ID)
		}
		if len(r.Cols) != len(model.Default.Columns()) {
			t.Fatalf("row has %d columns, want %d", len(r.Cols), len(model.Default.Columns()))
		}
		first, ok := r.Cols[fp].(int64)
		if !ok {
			t.Errorf("row %s: firstPacket %T %v", r.ID, r.Cols[fp], r.Cols[fp])
		}
		if last, ok := r.Cols[lp].(int64); !ok || last < first {
			t.Errorf("row %s: lastPacket %v before firstPacket %d", r.ID, r.Cols[lp], first)
		}
		if r.Cols[colIndex("id")] != nil {
			t.Errorf("row %s: the id column value is set in Cols (%v); the id is Row.ID", r.ID, r.Cols[colIndex("id")])
		}
		if r.Attrs != nil && !json.Valid(r.Attrs) {
			t.Errorf("row %s: attributes are not valid JSON: %s", r.ID, r.Attrs)
		}
		for i, f := range model.Default.Columns() {
			ingesttest.CheckColType(t, r.ID, f, r.Cols[i])
		}
	}
}

func colIndex(name string) int {
	for i, f := range model.Default.Columns() {
		if f.Name == name {
			return i
		}
	}
	panic("no column " + name)
}

func col(r store.Row, name string) any { return r.Cols[colIndex(name)] }

func rowIDs(rows []store.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func doc(id string, extra ...string) string {
	s := fmt.Sprintf(`{"_id":%q,"firstPacket":%d`, id, t0)
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

func TestDecodeFraming(t *testing.T) {
	a, b, c := doc("a"), doc("b", `"source.ip":"10.0.0.1"`), doc("c", `"tags":["x"]`)
	tests := []struct {
		name     string
		body     string
		ids      []string
		received int
		rejected map[string]int
		stopped  bool
	}{
		{name: "empty", body: "", received: 0},
		{name: "whitespace", body: " \n\t\r\n ", received: 0},
		{name: "ndjson", body: a + "\n" + b + "\n" + c + "\n", ids: ids("a", "b", "c"), received: 3},
		{name: "ndjson without final newline", body: a + "\n" + b, ids: ids("a", "b"), received: 2},
		{name: "ndjson crlf and blank lines", body: a + "\r\n\r\n" + b + "\r\n\n", ids: ids("a", "b"), received: 2},
		{name: "single object", body: a, ids: ids("a"), received: 1},
		{name: "array", body: "[" + a + "," + b + "," + c + "]", ids: ids("a", "b", "c"), received: 3},
		{name: "array pretty", body: "[\n  " + a + ",\n  " + b + "\n]\n", ids: ids("a", "b"), received: 2},
		{name: "empty array", body: "[ ]", received: 0},
		{name: "concatenated", body: a + b + c, ids: ids("a", "b", "c"), received: 3},
		{name: "concatenated with spaces", body: a + " " + b + "\t" + c, ids: ids("a", "b", "c"), received: 3},
		{name: "pretty printed objects", body: "{\n \"_id\": \"a\",\n \"firstPacket\": 1700000000\n}\n{\n \"_id\": \"b\",\n \"firstPacket\": 1700000000\n}\n", ids: ids("a", "b"), received: 2},
		{name: "braces inside strings", body: doc("a", `"user.name":"}{]["`, `"custom.x":"\"}"`) + "\n" + b, ids: ids("a", "b"), received: 2},
		{name: "bad balanced doc in the middle", body: a + `{"firstPacket":}` + c, ids: ids("a", "c"), received: 3,
			rejected: map[string]int{ReasonMalformed: 1}},
		{name: "resync after an unclosed line", body: a + "\n{\"_id\":\"x\",\"firstPacket\":\n" + c + "\n", ids: ids("a", "c"), received: 3,
			rejected: map[string]int{ReasonMalformed: 1}},
		{name: "resync after an unclosed list", body: a + "\n{\"x\":[1}\n" + c + "\n", ids: ids("a", "c"), received: 3,
			rejected: map[string]int{ReasonMalformed: 1}},
		{name: "resync after a garbage line", body: "garbage here\n" + a + "\n", ids: ids("a"), received: 2,
			rejected: map[string]int{ReasonMalformed: 1}},
		{name: "scalars in ndjson", body: "42\n\"str\"\nnull\ntrue\n" + a + "\n", ids: ids("a"), received: 5,
			rejected: map[string]int{ReasonNotObject: 4}},
		{name: "array of scalars and objects", body: "[1, \"x\", " + a + ", [2], null]", ids: ids("a"), received: 5,
			rejected: map[string]int{ReasonNotObject: 4}},
		{name: "bad element inside an array", body: "[" + a + ", {\"firstPacket\": }, " + c + "]", ids: ids("a", "c"), received: 3,
			rejected: map[string]int{ReasonMalformed: 1}},
		{name: "unterminated array", body: "[" + a + "," + b, ids: ids("a", "b"), received: 3,
			rejected: map[string]int{ReasonMalformed: 1}, stopped: true},
		{name: "unterminated object without newlines", body: a + `{"_id":"x","firstPacket":`, ids: ids("a"), received: 2,
			rejected: map[string]int{ReasonMalformed: 1}, stopped: true},
		{name: "data after the array", body: "[" + a + "] " + b, ids: ids("a"), received: 2,
			rejected: map[string]int{ReasonMalformed: 1}, stopped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := decode(t, newDecoder(DefaultLimits()), tc.body)
			if out.err != nil {
				t.Fatal(out.err)
			}
			if d := cmp.Diff(tc.ids, rowIDs(out.rows), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("accepted ids (-want +got):\n%s", d)
			}
			if out.res.Received != tc.received {
				t.Errorf("received %d, want %d", out.res.Received, tc.received)
			}
			if d := cmp.Diff(tc.rejected, out.res.Rejected, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("rejected (-want +got):\n%s\nerrors: %+v", d, out.res.Errors)
			}
			if (out.res.Stopped != nil) != tc.stopped {
				t.Errorf("stopped = %+v, want %v", out.res.Stopped, tc.stopped)
			}
			if tc.stopped && out.res.Stopped.Reason != ReasonMalformed {
				t.Errorf("stopped reason %q", out.res.Stopped.Reason)
			}
		})
	}
}

// TestDecodeCommaSeparatedObjects: a comma or bracket where a document
// should start must be reported and skipped, not loop forever. Each body is
// one case; the first that hangs ends the test (its goroutine keeps
// spinning until the test binary exits).
func TestDecodeCommaSeparatedObjects(t *testing.T) {
	a, b := doc("a"), doc("b")
	for _, tc := range []struct {
		body     string
		accepted int
	}{
		{",", 0},
		{"]", 0},
		{a + "," + b, 2},
		{a + ",\n" + b + ",\n", 2},
		{a + "\n]\n" + b + "\n", 2},
		{a + "\x18\x18" + b + ",", 1}, // found by FuzzDecode: junk, then a comma; the document before it is kept
	} {
		out := decode(t, newDecoder(DefaultLimits()), tc.body)
		if out.res.Accepted != tc.accepted {
			t.Errorf("body %q: accepted %d, want %d: %+v", tc.body, out.res.Accepted, tc.accepted, out.res)
		}
	}
}

// TestDecodeMalformedMessages: the message of a malformed line says what is
// wrong once.
func TestDecodeMalformedMessages(t *testing.T) {
	for _, body := range []string{
		"garbage here\n" + doc("a") + "\n",
		"{\"x\":[1}\n" + doc("a") + "\n",
		"{\"firstPacket\":1700000000,}\n",
		"{\"firstPacket\":1700000000,}",
	} {
		out := decode(t, newDecoder(DefaultLimits()), body)
		if len(out.res.Errors) != 1 {
			t.Fatalf("%q: errors %+v", body, out.res.Errors)
		}
		msg := out.res.Errors[0].Detail
		if !strings.HasPrefix(msg, "malformed JSON: ") || strings.Count(msg, "malformed JSON") != 1 {
			t.Errorf("%q: message %q", body, msg)
		}
	}
}

func TestDecodeErrorPositions(t *testing.T) {
	lines := []string{doc("a"), `{"_id":"b"}`, doc("c"), `{"firstPacket":"soon"}`, doc("e")}
	body := strings.Join(lines, "\n") + "\n"
	out := decode(t, newDecoder(DefaultLimits()), body)
	want := []DocError{
		{Index: 1, Offset: len(lines[0]) + 1, Reason: ReasonNoTime},
		{Index: 3, Offset: len(lines[0]) + len(lines[1]) + len(lines[2]) + 3, Reason: ReasonBadTime},
	}
	if d := cmp.Diff(want, out.res.Errors, cmpopts.IgnoreFields(DocError{}, "Detail")); d != "" {
		t.Fatalf("errors (-want +got):\n%s", d)
	}
	for _, e := range out.res.Errors {
		if !strings.HasPrefix(body[e.Offset:], "{") {
			t.Errorf("offset %d does not point at a document", e.Offset)
		}
		if e.Error() != e.Detail || e.Detail == "" {
			t.Errorf("Error() %q, Detail %q", e.Error(), e.Detail)
		}
	}
	// The detailed list is bounded; the counts are not.
	var many strings.Builder
	for i := 0; i < 3*MaxErrors; i++ {
		many.WriteString(`{"_id":"x"}` + "\n")
	}
	many.WriteString(doc("ok") + "\n")
	out = decode(t, newDecoder(DefaultLimits()), many.String())
	if len(out.res.Errors) != MaxErrors || out.res.Rejected[ReasonNoTime] != 3*MaxErrors || out.res.Accepted != 1 {
		t.Fatalf("errors %d, rejected %v, accepted %d", len(out.res.Errors), out.res.Rejected, out.res.Accepted)
	}
	if out.res.Errors[MaxErrors-1].Index != MaxErrors-1 {
		t.Fatalf("detailed errors are not the first ones: %+v", out.res.Errors[MaxErrors-1])
	}
}

func TestDecodeRejections(t *testing.T) {
	future := testNow.Add(time.Hour + time.Second).UTC().Format(time.RFC3339)
	long := strings.Repeat("x", 9000)
	deep := strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)
	tests := []struct {
		name   string
		body   string
		limits func(*Limits)
		reason string
		msg    string // substring of the detail
	}{
		{name: "malformed", body: `{"firstPacket":1700000000,}`, reason: ReasonMalformed, msg: "malformed JSON"},
		{name: "malformed literal", body: `{"firstPacket":1700000000,"x":tru}`, reason: ReasonMalformed, msg: "malformed JSON"},
		{name: "not an object", body: `"hello"`, reason: ReasonNotObject, msg: "expected a JSON object, found string"},
		{name: "not an object (number)", body: `[12]`, reason: ReasonNotObject, msg: "found number"},
		{name: "no firstPacket", body: `{"_id":"a","source.ip":"1.2.3.4"}`, reason: ReasonNoTime, msg: "firstPacket is required"},
		{name: "null firstPacket", body: `{"firstPacket":null}`, reason: ReasonNoTime, msg: "firstPacket is required"},
		{name: "bad time", body: `{"firstPacket":"yesterday"}`, reason: ReasonBadTime, msg: `firstPacket: "yesterday"`},
		{name: "negative time", body: `{"firstPacket":-1}`, reason: ReasonBadTime, msg: "negative"},
		{name: "time of wrong type", body: `{"firstPacket":true}`, reason: ReasonType, msg: "firstPacket: expected a time"},
		{name: "bad lastPacket", body: `{"firstPacket":1700000000,"lastPacket":"2024-02-30T00:00:00Z"}`, reason: ReasonBadTime, msg: "lastPacket"},
		{name: "future", body: `{"firstPacket":"` + future + `"}`, reason: ReasonFuture, msg: "more than 1h0m0s in the future"},
		{name: "future lastPacket", body: `{"firstPacket":1700000000,"lastPacket":"` + future + `"}`, reason: ReasonFuture, msg: "lastPacket"},
		{name: "future with a smaller skew", body: `{"firstPacket":"2024-01-01T12:00:02Z"}`, limits: func(l *Limits) { l.FutureSkew = time.Second },
			reason: ReasonFuture, msg: "in the future"},
		{name: "bad ip", body: `{"firstPacket":1700000000,"source.ip":"10.0.0.256"}`, reason: ReasonBadIP, msg: `source.ip: "10.0.0.256" is not an IP address`},
		{name: "bad ip by alias", body: `{"firstPacket":1700000000,"srcIP":"nope"}`, reason: ReasonBadIP, msg: `source.ip: "nope"`},
		{name: "bad ip in a cidr", body: `{"firstPacket":1700000000,"destination":{"ip":"10.0.0.0/8"}}`, reason: ReasonBadIP, msg: "destination.ip"},
		{name: "bad ip in a list", body: `{"firstPacket":1700000000,"dns.ip":["1.2.3.4","1.2.3"]}`, reason: ReasonBadIP, msg: "dns.ip"},
		{name: "ip of wrong type", body: `{"firstPacket":1700000000,"source.ip":167772161}`, reason: ReasonType, msg: "expected an IP address string, found number"},
		{name: "port out of range", body: `{"firstPacket":1700000000,"source":{"port":70000}}`, reason: ReasonRange, msg: "source.port: 70000 is out of range 0-65535"},
		{name: "negative port", body: `{"firstPacket":1700000000,"port.dst":-1}`, reason: ReasonRange, msg: "destination.port: -1 is out of range"},
		{name: "severity out of range", body: `{"firstPacket":1700000000,"severity":5}`, reason: ReasonRange, msg: "severity: 5 is out of range 0-4"},
		{name: "risk out of range", body: `{"firstPacket":1700000000,"risk.score":101}`, reason: ReasonRange, msg: "risk.score: 101 is out of range 0-100"},
		{name: "status code out of range in a list", body: `{"firstPacket":1700000000,"http.statuscode":[200,99]}`, reason: ReasonRange, msg: "http.statuscode"},
		{name: "port as text", body: `{"firstPacket":1700000000,"source.port":"abc"}`, reason: ReasonType, msg: `source.port: expected an integer, found "abc"`},
		{name: "port as fraction", body: `{"firstPacket":1700000000,"source.port":80.5}`, reason: ReasonType, msg: "expected an integer, found 80.5"},
		{name: "port as object list", body: `{"firstPacket":1700000000,"source.port":[80]}`, reason: ReasonType, msg: "expected an integer, found array"},
		{name: "huge integer", body: `{"firstPacket":1700000000,"source.bytes":123456789012345678901234567890}`, reason: ReasonType, msg: "source.bytes"},
		{name: "bool of wrong type", body: `{"firstPacket":1700000000,"pam.active":"yes"}`, reason: ReasonType, msg: "pam.active: expected true or false"},
		{name: "string of wrong type", body: `{"firstPacket":1700000000,"user.name":true}`, reason: ReasonType, msg: "user.name: expected a string, found true"},
		{name: "string list of objects", body: `{"firstPacket":1700000000,"tags":[{"a":1}]}`, reason: ReasonType, msg: "tags: expected a string, found object"},
		{name: "float of wrong type", body: `{"firstPacket":1700000000,"session.duration":"fast"}`, reason: ReasonType, msg: `session.duration: expected a number, found "fast"`},
		{name: "string too long", body: `{"firstPacket":1700000000,"user.name":"` + long + `"}`, reason: ReasonLong, msg: "user.name: string of 9000 bytes exceeds the limit of 8192"},
		{name: "list element too long", body: `{"firstPacket":1700000000,"http.host":["a","` + long + `"]}`, reason: ReasonLong, msg: "http.host"},
		{name: "unknown string too long", body: `{"firstPacket":1700000000,"custom.s":"` + long + `"}`, reason: ReasonLong, msg: "custom.s"},
		{name: "unknown list element too long", body: `{"firstPacket":1700000000,"custom.l":["` + long + `"]}`, reason: ReasonLong, msg: "custom.l"},
		{name: "small string limit", body: `{"firstPacket":1700000000,"user.name":"abcdef"}`, limits: func(l *Limits) { l.MaxStringBytes = 5 },
			reason: ReasonLong, msg: "exceeds the limit of 5"},
		{name: "field name with a space", body: `{"firstPacket":1700000000,"bad name":1}`, reason: ReasonFieldName, msg: `field name "bad name"`},
		{name: "field name with a quote", body: `{"firstPacket":1700000000,"a'b":1}`, reason: ReasonFieldName, msg: "field name"},
		{name: "nested field name with a quote", body: `{"firstPacket":1700000000,"custom":{"x\"y":1}}`, reason: ReasonFieldName, msg: "field name"},
		{name: "field name too long", body: `{"firstPacket":1700000000,"` + strings.Repeat("f", 200) + `":1}`, reason: ReasonFieldName, msg: "field name"},
		{name: "empty field name", body: `{"firstPacket":1700000000,"":1}`, reason: ReasonFieldName, msg: "field name"},
		{name: "too many fields", body: `{"firstPacket":1700000000,"a":1,"b":2,"c":3}`, limits: func(l *Limits) { l.MaxFields = 3 },
			reason: ReasonTooMany, msg: "more than 3 fields"},
		{name: "too deep", body: `{"firstPacket":1700000000,"x":` + deep + `}`, reason: ReasonTooMany, msg: "nested deeper than 16"},
		{name: "too large", body: `{"firstPacket":1700000000,"user.name":"` + strings.Repeat("y", 100) + `"}`, limits: func(l *Limits) { l.MaxDocBytes = 64 },
			reason: ReasonTooLarge, msg: "exceeds the limit of 64"},
		{name: "id with a space", body: `{"_id":"has space","firstPacket":1700000000}`, reason: ReasonBadID, msg: `id "has space"`},
		{name: "id too long", body: `{"_id":"` + strings.Repeat("i", 65) + `","firstPacket":1700000000}`, reason: ReasonBadID, msg: "1-64"},
		{name: "empty id", body: `{"_id":"","firstPacket":1700000000}`, reason: ReasonBadID, msg: "id"},
		{name: "id with a quote", body: `{"id":"a'b","firstPacket":1700000000}`, reason: ReasonBadID, msg: "id"},
		{name: "time reversed", body: `{"firstPacket":1700000001,"lastPacket":1700000000}`, reason: ReasonTimeReverse, msg: "lastPacket 1700000000000 is before firstPacket 1700000001000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := DefaultLimits()
			if tc.limits != nil {
				tc.limits(&l)
			}
			out := decode(t, newDecoder(l), tc.body+"\n")
			if out.res.Received != 1 || out.res.Accepted != 0 {
				t.Fatalf("received %d accepted %d, want 1 and 0; rows %v", out.res.Received, out.res.Accepted, rowIDs(out.rows))
			}
			if d := cmp.Diff(map[string]int{tc.reason: 1}, out.res.Rejected); d != "" {
				t.Fatalf("rejected (-want +got):\n%s\n%+v", d, out.res.Errors)
			}
			e := out.res.Errors[0]
			wantOffset := 0
			if strings.HasPrefix(tc.body, "[") {
				wantOffset = 1 // the document inside the array
			}
			if e.Reason != tc.reason || e.Index != 0 || e.Offset != wantOffset {
				t.Errorf("error %+v", e)
			}
			if !strings.Contains(e.Detail, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Detail, tc.msg)
			}
			if len(e.Detail) > 400 {
				t.Errorf("message of %d bytes", len(e.Detail))
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	d := newDecoder(DefaultLimits())
	body := strings.Join([]string{
		// nested and dotted names give the same row
		`{"_id":"nested","firstPacket":1700000000,"source":{"ip":"10.0.0.1","port":1234,"bytes":10},"destination":{"ip":"2001:db8::1","port":443},"http":{"host":["a.example"]},"dns":{"qt":"A"}}`,
		`{"_id":"dotted","firstPacket":1700000000,"source.ip":"10.0.0.1","source.port":1234,"source.bytes":10,"destination.ip":"2001:db8::1","destination.port":443,"http.host":["a.example"],"dns.qt":["A"]}`,
		`{"_id":"mixed","firstPacket":1700000000,"source":{"ip":"10.0.0.1","port":1234},"source.bytes":10,"destination.ip":"2001:db8::1","destination":{"port":443},"http.host":"a.example","dns":{"qt":["A"]}}`,
		// AlphaSOC names
		`{"_id":"alphasoc","ts":"2023-11-14T22:13:20Z","srcIP":"10.0.0.1","srcPort":1234,"bytesOut":10,"destIP":"2001:db8::1","destPort":443,"query":"a.example","qtype":"A","proto":"TCP","bytesIn":20}`,
		// Arkime, SPS and Fudo names
		`{"_id":"arkime","starttime":1700000000000,"ip.src":"10.0.0.1","port.src":1234,"ip.dst":"2001:db8::1","port.dst":443,"host.http":"a.example","protocols":"tcp","ipProtocol":6}`,
		`{"_id":"sps","start_time":"1700000000","client":{"ip":"10.0.0.1","port":1234},"server":{"ip":"2001:db8::1","port":443}}`,
		`{"session_id":"fudo","start":1700000000000,"source_ip":"10.0.0.1","source_port":"1234","destination_ip":"2001:db8::1","destination_port":443.0,"user_name":"root"}`,
		// value conversions
		`{"_id":"conv","firstPacket":1700000000.5,"source.ip":"::ffff:10.0.0.1","destination.ip":"fe80::1%eth0","user.name":12345,"network.transport":"UDP","severity":"3","tags":"single","network.vlan.id":7,"http.statuscode":200,"dns.ip":"::ffff:1.2.3.4","pam.active":false,"session.duration":"2.5","custom.n":null,"user.id":null}`,
		"{\"_id\":\"bad-utf8\",\"firstPacket\":1700000000,\"user.name\":\"a\xffb\"}",
		`{"firstPacket":"2023-11-14T22:13:20.123+01:00","ipProtocol":17,"lastPacket":1700000000000}`,
	}, "\n")
	out := decode(t, d, body)
	if out.res.Accepted != 10 {
		t.Fatalf("accepted %d of 10: %+v", out.res.Accepted, out.res)
	}
	rows := map[string]store.Row{}
	for _, r := range out.rows {
		rows[r.ID] = r
	}
	// Nested, dotted and mixed spellings are the same session.
	for _, id := range []string{"dotted", "mixed"} {
		if diff := cmp.Diff(rows["nested"].Cols, rows[id].Cols, addrComparer); diff != "" {
			t.Errorf("%s columns differ from nested (-nested +%s):\n%s", id, id, diff)
		}
		if string(rows["nested"].Attrs) != string(rows[id].Attrs) {
			t.Errorf("%s attrs %s, nested %s", id, rows[id].Attrs, rows["nested"].Attrs)
		}
	}
	if got := string(rows["nested"].Attrs); got != `{"http.host":["a.example"],"dns.qt":["A"]}` {
		t.Errorf("nested attrs %s", got)
	}
	n := rows["nested"]
	want := map[string]any{
		"firstPacket": int64(t0), "lastPacket": int64(t0), "source.ip": netip.MustParseAddr("10.0.0.1"), "source.port": int64(1234),
		"source.bytes": int64(10), "destination.ip": netip.MustParseAddr("2001:db8::1"), "destination.port": int64(443),
		"session.type": "network",
	}
	checkCols(t, n, want)

	// Every dialect's names land in the same columns.
	for _, id := range []string{"alphasoc", "arkime", "sps", "fudo"} {
		r, ok := rows[id]
		if !ok {
			t.Errorf("no row %s", id)
			continue
		}
		checkCols(t, r, map[string]any{
			"firstPacket": int64(t0), "source.ip": netip.MustParseAddr("10.0.0.1"), "source.port": int64(1234),
			"destination.ip": netip.MustParseAddr("2001:db8::1"), "destination.port": int64(443),
		})
	}
	checkCols(t, rows["alphasoc"], map[string]any{"source.bytes": int64(10), "destination.bytes": int64(20), "network.transport": "tcp"})
	if got := string(rows["alphasoc"].Attrs); got != `{"dns.queryHost":["a.example"],"dns.qt":["A"]}` {
		t.Errorf("alphasoc attrs %s", got)
	}
	checkCols(t, rows["arkime"], map[string]any{"protocol": []string{"tcp"}, "network.transport": "tcp"})
	checkCols(t, rows["fudo"], map[string]any{"user.name": "root"})

	c := rows["conv"]
	checkCols(t, c, map[string]any{
		"firstPacket": int64(t0 + 500), "source.ip": netip.MustParseAddr("10.0.0.1"), "destination.ip": netip.MustParseAddr("fe80::1"),
		"user.name": "12345", "network.transport": "udp", "severity": int64(3), "tags": []string{"single"},
	})
	var attrs map[string]any
	if err := json.Unmarshal(c.Attrs, &attrs); err != nil {
		t.Fatalf("conv attrs %s: %v", c.Attrs, err)
	}
	if diff := cmp.Diff(map[string]any{
		"network.vlan.id": []any{7.0}, "http.statuscode": []any{200.0}, "dns.ip": []any{"1.2.3.4"},
		"pam.active": false, "session.duration": 2.5,
	}, attrs); diff != "" {
		t.Errorf("conv attrs (-want +got):\n%s", diff)
	}
	if _, seen := d.Discovered["custom.n"]; seen {
		t.Error("a null unknown field was discovered")
	}
	if got := col(rows["bad-utf8"], "user.name"); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8 kept as %q", got)
	}

	// The generated id, the derived transport and the times of the last row.
	var gen store.Row
	for _, r := range out.rows {
		if _, known := rows[r.ID]; known && strings.HasPrefix(r.ID, "231114-") {
			gen = r
		}
	}
	if gen.ID == "" {
		t.Fatalf("no generated id of the form 231114-...: %v", rowIDs(out.rows))
	}
	checkCols(t, gen, map[string]any{"firstPacket": int64(1699996400123), "lastPacket": int64(t0), "network.transport": "udp"})
	if gen.Attrs == nil || !strings.Contains(string(gen.Attrs), `"ipProtocol":17`) {
		t.Errorf("ipProtocol not kept: %s", gen.Attrs)
	}
	if NewID(t0) == NewID(t0) {
		t.Error("NewID repeats")
	}
}

func checkCols(t *testing.T, r store.Row, want map[string]any) {
	t.Helper()
	for name, w := range want {
		if d := cmp.Diff(w, col(r, name), addrComparer); d != "" {
			t.Errorf("row %s: %s (-want +got):\n%s", r.ID, name, d)
		}
	}
}

func TestDecodeUnknownFields(t *testing.T) {
	d := newDecoder(DefaultLimits())
	body := doc("u",
		`"custom.s":"text"`, `"custom.i":42`, `"custom.f":4.5`, `"custom.big":1e300`, `"custom.b":true`,
		`"custom.ss":["a","b"]`, `"custom.is":[1,2]`, `"custom.empty":[]`,
		`"custom":{"nested":{"deep":"v"}}`, `"custom.neg":-7`, `"custom.esc":"quote \" and \\ and \n"`)
	body += "\n" + doc("v", `"custom.i":"now text"`, `"custom.new":false`)
	out := decode(t, d, body)
	if out.res.Accepted != 2 {
		t.Fatalf("%+v", out.res)
	}
	wantTypes := map[string]model.Type{
		"custom.s": model.TypeString, "custom.i": model.TypeInt, "custom.f": model.TypeFloat, "custom.big": model.TypeFloat,
		"custom.b": model.TypeBool, "custom.ss": model.TypeStrings, "custom.is": model.TypeInts, "custom.empty": model.TypeStrings,
		"custom.nested.deep": model.TypeString, "custom.neg": model.TypeInt, "custom.esc": model.TypeString,
		"custom.new": model.TypeBool,
	}
	if diff := cmp.Diff(wantTypes, d.Discovered); diff != "" {
		t.Errorf("discovered types (-want +got):\n%s", diff)
	}
	fields := d.DiscoveredFields()
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	if len(fields) != len(wantTypes) {
		t.Fatalf("DiscoveredFields: %v", fields)
	}
	for _, f := range fields {
		if !f.Discovered || f.Type != wantTypes[f.Name] {
			t.Errorf("discovered field %+v", f)
		}
	}
	var attrs map[string]any
	if err := json.Unmarshal(out.rows[0].Attrs, &attrs); err != nil {
		t.Fatalf("attrs %s: %v", out.rows[0].Attrs, err)
	}
	want := map[string]any{
		"custom.s": "text", "custom.i": 42.0, "custom.f": 4.5, "custom.big": 1e300, "custom.b": true,
		"custom.ss": []any{"a", "b"}, "custom.is": []any{1.0, 2.0}, "custom.empty": []any{},
		"custom.nested.deep": "v", "custom.neg": -7.0, "custom.esc": "quote \" and \\ and \n",
	}
	if d := cmp.Diff(want, attrs); d != "" {
		t.Errorf("unknown fields kept (-want +got):\n%s", d)
	}
}

// TestDecodeUnknownValuesStayValidJSON: unknown fields are copied into the
// attribute document; the copy must be JSON whatever fastjson accepted (it
// takes nan, inf and 1.2.3 as numbers and re-quotes strings the Go way).
func TestDecodeUnknownValuesStayValidJSON(t *testing.T) {
	for _, v := range []string{
		`1.2.3`, `nan`, `-inf`, `1e`, `--1`, `+1`, `.5`, `01`,
		`"bell \u0007"`, `"nul \u0000"`, `"quote \" and \u0001"`, `"vt \u000b"`,
		"\"raw \x01 control\"", "\"quote \\\" and bad utf8 \xff\"",
		`["a", "\u0007"]`, `[1, nan]`,
	} {
		d := newDecoder(DefaultLimits())
		var rows []store.Row
		res, err := d.Decode([]byte(`{"firstPacket":1700000000,"custom.v":`+v+`}`), func(r store.Row) error { rows = append(rows, r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted == 0 {
			continue // rejecting the value is fine
		}
		if !json.Valid(rows[0].Attrs) {
			t.Errorf("custom.v = %s accepted and stored as invalid JSON: %s", v, rows[0].Attrs)
		}
	}
}

func TestDecodeFutureSkew(t *testing.T) {
	d := newDecoder(DefaultLimits()) // skew 1h, now 2024-01-01T12:00:00Z
	limit := testNow.Add(time.Hour)
	body := strings.Join([]string{
		fmt.Sprintf(`{"_id":"at","firstPacket":%d}`, limit.UnixMilli()),
		fmt.Sprintf(`{"_id":"after","firstPacket":%d}`, limit.UnixMilli()+1),
		fmt.Sprintf(`{"_id":"secs","firstPacket":%d}`, limit.Unix()),
		fmt.Sprintf(`{"_id":"secs-after","firstPacket":%d}`, limit.Unix()+1),
		`{"_id":"rfc","firstPacket":"2024-01-01T12:59:59Z","lastPacket":"2024-01-01T13:00:00Z"}`,
		`{"_id":"rfc-after","firstPacket":"2024-01-01T12:59:59Z","lastPacket":"2024-01-01T13:00:00.001Z"}`,
		`{"_id":"zone","firstPacket":"2024-01-01T13:30:00+01:00"}`,
	}, "\n")
	out := decode(t, d, body)
	if got := rowIDs(out.rows); !cmp.Equal(got, []string{"at", "secs", "rfc", "zone"}) {
		t.Errorf("accepted %v", got)
	}
	if out.res.Rejected[ReasonFuture] != 3 {
		t.Errorf("rejected %v", out.res.Rejected)
	}
	// The clock moves: the same document is fine an hour later.
	d.now = func() time.Time { return testNow.Add(time.Hour) }
	out = decode(t, d, fmt.Sprintf(`{"_id":"after","firstPacket":%d}`, limit.UnixMilli()+1))
	if out.res.Accepted != 1 {
		t.Errorf("with a later clock: %+v", out.res)
	}
	// A zero skew refuses anything after now.
	l := DefaultLimits()
	l.FutureSkew = 0
	d = newDecoder(l)
	out = decode(t, d, fmt.Sprintf("{\"firstPacket\":%d}\n{\"firstPacket\":%d}", testNow.UnixMilli(), testNow.UnixMilli()+1))
	if out.res.Accepted != 1 || out.res.Rejected[ReasonFuture] != 1 {
		t.Errorf("zero skew: %+v", out.res)
	}
}

func TestDecodeEmitError(t *testing.T) {
	d := newDecoder(DefaultLimits())
	stop := errors.New("disk full")
	n := 0
	res, err := d.Decode([]byte(doc("a")+"\n"+doc("b")+"\n"+doc("c")+"\n"), func(store.Row) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want %v", err, stop)
	}
	if n != 2 || res.Accepted != 1 {
		t.Fatalf("emit called %d times, accepted %d", n, res.Accepted)
	}
}

func TestDecoderReuse(t *testing.T) {
	// One decoder decodes several bodies; fastjson's parser reuses memory,
	// which must not leak into rows already emitted.
	d := newDecoder(DefaultLimits())
	first := decode(t, d, doc("a", `"user.name":"alice"`, `"custom.x":"one"`))
	second := decode(t, d, doc("b", `"user.name":"bobby"`, `"custom.x":"two"`))
	if col(first.rows[0], "user.name") != "alice" || string(first.rows[0].Attrs) != `{"custom.x":"one"}` {
		t.Fatalf("first row changed: %v %s", col(first.rows[0], "user.name"), first.rows[0].Attrs)
	}
	if col(second.rows[0], "user.name") != "bobby" {
		t.Fatal("second row wrong")
	}
}

func TestTransportName(t *testing.T) {
	for p, want := range map[int64]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp", 47: "gre", 50: "esp", 51: "ah", 99: "99"} {
		if got := TransportName(p); got != want {
			t.Errorf("TransportName(%d) = %q, want %q", p, got, want)
		}
	}
}

func ids(s ...string) []string { return s }

// TestDiscoveredNamesPerBodyAreBounded: a body of random keys cannot grow
// field discovery without bound; the documents themselves are all kept.
func TestDiscoveredNamesPerBodyAreBounded(t *testing.T) {
	var b strings.Builder
	n := MaxDiscoveredPerBody + 500
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"firstPacket\":1700000000000,\"random.k%d\":%d}\n", i, i)
	}
	dec := newDecoder(DefaultLimits())
	out := decode(t, dec, b.String())
	if out.res.Accepted != n {
		t.Fatalf("accepted %d of %d", out.res.Accepted, n)
	}
	if got := len(dec.DiscoveredFields()); got != MaxDiscoveredPerBody {
		t.Fatalf("discovered %d names, want the cap %d", got, MaxDiscoveredPerBody)
	}
}

// TestTransportFromProtocolList: Arkime documents name the transport only in
// the protocol list; network.transport is filled from it.
func TestTransportFromProtocolList(t *testing.T) {
	out := decode(t, newDecoder(DefaultLimits()), `{"firstPacket":1700000000000,"protocol":["http","tcp"]}`+"\n"+
		`{"firstPacket":1700000000000,"protocol":["dns"]}`+"\n")
	if len(out.rows) != 2 {
		t.Fatalf("got %d rows", len(out.rows))
	}
	f, _ := model.Default.Lookup("network.transport")
	if got := out.rows[0].Cols[f.ColumnIndex()]; got != "tcp" {
		t.Errorf("transport %v, want tcp", got)
	}
	if got := out.rows[1].Cols[f.ColumnIndex()]; got != nil {
		t.Errorf("transport %v, want none", got)
	}
}
