package zeek

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/ingest"
)

// fuzzDecode decodes arbitrary input and checks what must hold whatever it
// is: Decode returns, every record is accounted for, rows are ones the store
// can take (checkInvariants), and decoding is deterministic.
func fuzzDecode(t *testing.T, input []byte) {
	l := ingest.DefaultLimits()
	l.MaxStringBytes = 256
	l.MaxFields = 48
	cfg := Config{Tenant: "acme", Limits: l, MaxLineBytes: 2048, Now: func() time.Time { return testNow }}
	out := decode(t, NewDecoder(cfg), input)
	again := decode(t, NewDecoder(cfg), input)
	if out.res.Received != again.res.Received || out.res.Accepted != again.res.Accepted || len(out.res.Rejected) != len(again.res.Rejected) {
		t.Fatalf("two decodes differ: %+v vs %+v", out.res, again.res)
	}
	if lines := bytes.Count(input, []byte{'\n'}) + 1; out.res.Received > lines {
		t.Fatalf("received %d records from %d lines", out.res.Received, lines)
	}
}

func seedFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("seeds %s: %v %v", pattern, files, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzZeekTSV feeds arbitrary Zeek ASCII logs to the decoder.
//
//	go test ./internal/ingest/zeek -run '^$' -fuzz FuzzZeekTSV -fuzztime 15s
func FuzzZeekTSV(f *testing.F) {
	seedFiles(f, "testdata/*/input.log")
	for _, s := range []string{
		connHeader + connLine("1709287200.0", "10.0.0.1"),
		connHeader + "1709287200.0\tC\t-\t-\t(empty)\t-\t-\t-\t-\t-\t-\n",
		connHeader + "\\x\t\\x4\t\\\\\t\\x2c\t\t\t\t\t\t\t\n",
		"#separator ,\n#fields,ts,uid\n#types,time,set[string]\n1.5,a\\x2cb\n",
		"#separator \\x7c\\x7c\n#set_separator\t;\n#fields||ts||uids\n1||a;b\n",
		"#separator \\x09\n#fields\tts\n#types\ttime\tstring\n",
		"#fields\tts\tuid\n1709287200\tC1\n#fields\tts\n1709287201\n",
		"1709287200\tC1\n",
		"#separator \\xZZ\n",
		"#unset_field\t\n#empty_field\t\n#fields\tts\tuid\n1709287200\t\n",
		"\x1f\x8b\x08\x00\x00\x00\x00\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(fuzzDecode)
}

// FuzzZeekJSON feeds arbitrary Zeek JSON logs to the decoder.
//
//	go test ./internal/ingest/zeek -run '^$' -fuzz FuzzZeekJSON -fuzztime 15s
func FuzzZeekJSON(f *testing.F) {
	seedFiles(f, "testdata/*/input.json")
	for _, s := range []string{
		`{"_path":"conn","ts":1709287200.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"::1","id.resp_p":2,"duration":1e999}`,
		`{"_path":"dns","ts":"2024-03-01T10:00:00Z","answers":[1,"a",null,{"x":1},[2]],"TTLs":[-1]}`,
		`{"ts":1,"id":{"orig_h":"10.0.0.1","resp_h":"10.0.0.2"},"conn_state":"SF"}`,
		`{"_path":"x509","ts":1,"certificate.subject":"CN=a\\,b,O=,=x","certificate.not_valid_before":1e300}`,
		`{"_path":"http","ts":1,"status_code":99999999999999999999,"uri":"?","host":""}`,
		`{"_path":"ssl","ts":-1}`,
		`[1,2]`,
		`{"_path":1}`,
		"{\"_path\":\"ssh\",\"ts\":1,\"client\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(fuzzDecode)
}
