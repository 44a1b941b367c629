package importer

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/seshatsec/seshat/internal/ingest"
)

func TestSplitterZeekTSVResendsHeaders(t *testing.T) {
	header := "#separator \\x09\n#fields\tts\tuid\n#types\ttime\tstring\n"
	var in strings.Builder
	in.WriteString(header)
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&in, "%d.0\tC%03d\n", i, i)
	}
	// A second header block, as logs joined with cat have.
	header2 := "#close\t2024\n#separator \\x09\n#fields\tuid\tts\n#types\tstring\ttime\n"
	in.WriteString(header2)
	for i := 101; i <= 150; i++ {
		fmt.Fprintf(&in, "C%03d\t%d.0\n", i, i)
	}
	sp := NewSplitter(strings.NewReader(in.String()), ingest.FormatZeekTSV, 200)
	var data []string
	for n := 0; ; n++ {
		c, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Data) > 200+len(header2) {
			t.Errorf("chunk %d: %d bytes", n, len(c.Data))
		}
		lines := strings.Split(strings.TrimSuffix(string(c.Data), "\n"), "\n")
		if n > 0 && !strings.HasPrefix(lines[0], "#") {
			t.Fatalf("chunk %d does not start with the header: %q", n, lines[0])
		}
		for i, l := range lines {
			if l[0] == '#' {
				continue
			}
			data = append(data, l)
			// FileLine maps the chunk's line back to the input's.
			want := strings.Split(in.String(), "\n")[c.FileLine(i+1)-1]
			if l != want {
				t.Fatalf("chunk %d line %d: %q maps to file line %d: %q", n, i+1, l, c.FileLine(i+1), want)
			}
		}
		if bytes.Contains(c.Data, []byte("C120")) && !bytes.Contains(c.Data, []byte("#fields\tuid\tts")) {
			t.Errorf("a chunk of the second block lacks its header:\n%s", c.Data)
		}
	}
	if len(data) != 150 {
		t.Errorf("%d data lines, want 150", len(data))
	}
}

func TestSplitterTooLongLine(t *testing.T) {
	in := "{\"a\":1}\n" + "{\"b\":\"" + strings.Repeat("x", 500) + "\"}\n{\"c\":3}\n"
	sp := NewSplitter(strings.NewReader(in), ingest.FormatEVE, 100)
	var all []byte
	for {
		c, err := sp.Next()
		if err != nil {
			break
		}
		all = append(all, c.Data...)
	}
	if string(all) != "{\"a\":1}\n\n{\"c\":3}\n" || sp.TooLongCount != 1 || sp.TooLong[0] != 2 {
		t.Errorf("got %q, %d too long %v", all, sp.TooLongCount, sp.TooLong)
	}
}
