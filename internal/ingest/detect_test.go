package ingest

import (
	"bytes"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func gz(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestDetect(t *testing.T) {
	zeekTSV, err := os.ReadFile("zeek/testdata/conn/input.log")
	if err != nil {
		t.Fatal(err)
	}
	zeekJSON, _ := os.ReadFile("zeek/testdata/conn/input.json") // no _path: recognised by its keys
	zeekDNS, _ := os.ReadFile("zeek/testdata/dns/input.json")
	eve, _ := os.ReadFile("eve/testdata/dns/input.json")
	eveAlerts, _ := os.ReadFile("eve/testdata/alert/input.json")
	tests := []struct {
		name string
		head string
		want Format
	}{
		{"zeek tsv", string(zeekTSV), FormatZeekTSV},
		{"zeek tsv without #separator", "#fields\tts\tuid\n1\tC\n", FormatZeekTSV},
		{"zeek tsv cut short", string(zeekTSV[:20]), FormatZeekTSV},
		{"zeek json", string(zeekJSON), FormatZeekJSON},
		{"zeek json with _path", string(zeekDNS), FormatZeekJSON},
		{"zeek x509 json", `{"ts":1709287200.25,"fingerprint":"ab","certificate.version":3,"certificate.serial":"0F"}`, FormatZeekJSON},
		{"zeek json cut mid-object", string(zeekDNS[:60]), FormatZeekJSON},
		{"eve", string(eve), FormatEVE},
		{"eve alert first", string(eveAlerts), FormatEVE},
		{"eve stats", `{"timestamp":"2024-03-01T10:01:00.000000+0000","event_type":"stats","stats":{"uptime":60}}`, FormatEVE},
		{"alphasoc dns", `{"ts":"2024-03-01T10:00:00Z","srcIP":"10.0.0.1","query":"example.com","qtype":"A"}` + "\n", FormatAlphaSOC},
		{"alphasoc ip", `{"ts":"2024-03-01T10:00:00Z","srcIP":"10.0.0.1","srcPort":1,"destIP":"10.0.0.2","destPort":443,"proto":"tcp","bytesIn":1,"bytesOut":2}`, FormatAlphaSOC},
		{"session", `{"firstPacket":1700000000,"srcIP":"10.0.0.1","destPort":53}`, FormatSessionJSON},
		{"session nested", `{"source":{"ip":"10.0.0.1"},"destination":{"port":443},"firstPacket":"2023-11-14T22:13:20Z"}`, FormatSessionJSON},
		{"session array", ` [ {"_id":"a","firstPacket":1700000000}]`, FormatSessionJSON},
		{"session by registry names", `{"ip.src":"10.0.0.1","starttime":1700000000}`, FormatSessionJSON},
		{"byte order mark", "\xef\xbb\xbf" + `{"event_type":"flow","timestamp":"2024-03-01T10:00:00Z"}`, FormatEVE},
		{"nested keys do not count", `{"x":{"event_type":"flow","timestamp":1}}`, FormatUnknown},
		{"key in a value does not count", `{"note":"\"event_type\": \"timestamp\":"}`, FormatUnknown},
		{"gzip zeek tsv", gz(t, string(zeekTSV)), FormatZeekTSV},
		{"gzip eve cut short", gz(t, string(eve))[:300], FormatEVE},
		{"gzip garbage", "\x1f\x8b\x08\x00garbage", FormatUnknown},
		{"empty", "", FormatUnknown},
		{"whitespace", " \n\t", FormatUnknown},
		{"csv", "ts,src,dst\n1,2,3\n", FormatUnknown},
		{"comment", "# just a comment\n", FormatUnknown},
		{"unknown json", `{"a":1,"b":2}`, FormatUnknown},
		{"scalar json", `42`, FormatUnknown},
		{"array of scalars", `[1,2]`, FormatUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect([]byte(tc.head)); got != tc.want {
				t.Errorf("Detect = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{`{"event_type":"flow","timestamp":1}`, "#separator \\x09\n", `[{"firstPacket":1}]`, "\x1f\x8b", `{"a":"\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		switch Detect(head) {
		case FormatUnknown, FormatZeekTSV, FormatZeekJSON, FormatEVE, FormatAlphaSOC, FormatSessionJSON:
		default:
			t.Fatal("Detect returned a format it does not define")
		}
	})
}
