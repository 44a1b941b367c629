package synth

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestDocumentsAreValidJSONOfTheAdvertisedSize(t *testing.T) {
	b := New(1, 1_700_000_000_000).NDJSON(1000)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) != 1000 {
		t.Fatalf("got %d lines, want 1000", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
	}
	if avg := len(b) / 1000; avg < 400 || avg > 600 {
		t.Errorf("average document size %d bytes, want about 500", avg)
	}
}
