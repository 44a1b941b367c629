package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineReader(t *testing.T) {
	in := "one\r\ntwo\n\n" + strings.Repeat("x", 100) + "\nlast"
	lr := NewLineReader(strings.NewReader(in), 64)
	type line struct {
		n       int
		text    string
		tooLong bool
	}
	var got []line
	for {
		b, long, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, line{lr.Line(), string(b), long})
	}
	want := []line{{1, "one", false}, {2, "two", false}, {3, "", false}, {4, "", true}, {5, "last", false}}
	if len(got) != len(want) {
		t.Fatalf("lines %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// EOF is sticky.
	if _, _, err := lr.Next(); err != io.EOF {
		t.Errorf("after EOF: %v", err)
	}
}

func TestLineReaderLongLineInALargeBuffer(t *testing.T) {
	// Decompress hands over a 64 KB bufio.Reader, which NewLineReader may
	// reuse as it is: the maximum must hold anyway.
	src, err := Decompress(strings.NewReader(strings.Repeat("y", 5000) + "\nok\n"))
	if err != nil {
		t.Fatal(err)
	}
	lr := NewLineReader(src, 1000)
	if _, long, err := lr.Next(); err != nil || !long {
		t.Fatalf("5000-byte line: long %v err %v", long, err)
	}
	if b, long, err := lr.Next(); err != nil || long || string(b) != "ok" || lr.Line() != 2 {
		t.Fatalf("next line %q long %v err %v line %d", b, long, err, lr.Line())
	}
}

func TestLineReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	lr := NewLineReader(io.MultiReader(strings.NewReader("a\npartial"), iotest.ErrReader(boom)), 64)
	if b, _, err := lr.Next(); err != nil || string(b) != "a" {
		t.Fatalf("first line %q %v", b, err)
	}
	if _, _, err := lr.Next(); !errors.Is(err, boom) {
		t.Fatalf("want the read error, the partial line dropped; got %v", err)
	}
	if lr.Line() != 1 {
		t.Errorf("line %d after the error, want 1", lr.Line())
	}
}

func TestDecompress(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"plain", "hello\n"},
		{"gzip", gz(t, "hello\n")},
		{"concatenated gzip members", gz(t, "hel") + gz(t, "lo\n")},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decompress(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			want := "hello\n"
			if tc.name == "empty" {
				want = ""
			}
			if string(b) != want {
				t.Errorf("read %q", b)
			}
		})
	}
	if _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0})); err == nil {
		t.Error("a broken gzip header was accepted")
	}
}
