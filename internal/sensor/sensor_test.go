package sensor

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

func readAll(t testing.TB, data []byte) ([]*Session, error) {
	t.Helper()
	var got []*Session
	s := New(Config{}, func(s *Session) error { got = append(got, s); return nil })
	err := s.Read(bytes.NewReader(data))
	if ferr := s.Flush(); ferr != nil {
		t.Fatal(ferr)
	}
	return got, err
}

// Every session the sensor makes from the Arkime pcaps is a valid upload:
// the session decoder accepts it with no unknown field.
func TestSessionsDecode(t *testing.T) {
	pcaps, _ := filepath.Glob("testdata/arkime/*.pcap")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	n := 0
	for _, p := range pcaps {
		s := New(Config{Node: "test"}, func(s *Session) error { n++; return enc.Encode(s) })
		if err := s.ReadFile(p); err != nil {
			t.Fatal(err)
		}
		s.Flush()
	}
	dec := ingest.NewSessionDecoder(model.Default, ingest.DefaultLimits(), "default")
	res, err := dec.Decode(buf.Bytes(), func(store.Row) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != n || res.Accepted != n {
		t.Fatalf("received %d accepted %d of %d sessions: %v %v", res.Received, res.Accepted, n, res.Rejected, res.Errors)
	}
	if d := dec.DiscoveredFields(); len(d) > 0 {
		t.Errorf("fields the registry does not know: %v", d)
	}
}

func TestGzipAndPcapng(t *testing.T) {
	raw, err := os.ReadFile("testdata/arkime/http-simple-get.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readAll(t, raw)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	got, err := readAll(t, gz.Bytes())
	if err != nil || len(got) != len(want) || got[0].Network.Bytes != want[0].Network.Bytes {
		t.Fatalf("gzip'd: %d sessions, %v", len(got), err)
	}
	// Arkime's fixtures are all pcap: the pcapng case is built from one.
	ng := toPcapng(t, raw)
	got, err = readAll(t, ng)
	if err != nil || len(got) != len(want) || got[0].Network.Bytes != want[0].Network.Bytes || got[0].FirstPacket != want[0].FirstPacket {
		t.Fatalf("pcapng: %d sessions, %v", len(got), err)
	}
}

// A capture cut in the middle of a record yields the sessions of the
// packets before the cut and an error that says what happened.
func TestTruncatedPcap(t *testing.T) {
	raw, err := os.ReadFile("testdata/arkime/http-simple-get.pcap")
	if err != nil {
		t.Fatal(err)
	}
	// 24-byte file header, then records of 16 + 94 and 16 + 90 bytes:
	// cut inside the third record.
	cut := raw[:24+110+106+40]
	got, err := readAll(t, cut)
	if err == nil || !strings.Contains(err.Error(), "cannot read packet 3") {
		t.Fatalf("error %v, want one about packet 3", err)
	}
	if len(got) != 1 || got[0].Network.Packets != 2 {
		t.Fatalf("got %d sessions, want 1 with the 2 packets before the cut", len(got))
	}
}

func TestIdleTimeoutSplits(t *testing.T) {
	var got []*Session
	s := New(Config{UDPTimeout: 10 * time.Second}, func(s *Session) error { got = append(got, s); return nil })
	frame := udpFrame()
	t0 := time.Unix(1700000000, 0)
	for _, d := range []time.Duration{0, 5 * time.Second, 30 * time.Second} {
		if err := s.Packet(frame, layers.LinkTypeEthernet, t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	if len(got) != 2 || got[0].Source.Packets != 2 || got[1].Source.Packets != 1 {
		t.Fatalf("got %d sessions, want 2 (2 packets, then 1)", len(got))
	}
}

func TestMaxFlowsEvicts(t *testing.T) {
	var got []*Session
	s := New(Config{MaxFlows: 2}, func(s *Session) error { got = append(got, s); return nil })
	t0 := time.Unix(1700000000, 0)
	for i := range 5 {
		f := udpFrame()
		f[14+12+3] = byte(i) // a different source address per flow
		s.Packet(f, layers.LinkTypeEthernet, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if s.ActiveFlows() != 2 || s.Stats().Evicted != 3 {
		t.Fatalf("active %d evicted %d, want 2 and 3", s.ActiveFlows(), s.Stats().Evicted)
	}
	s.Flush()
	if len(got) != 5 {
		t.Fatalf("%d sessions, want 5", len(got))
	}
}

// udpFrame is an Ethernet/IPv4/UDP frame with 4 payload bytes.
func udpFrame() []byte {
	return []byte{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, // Ethernet
		0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
		0x30, 0x39, 0, 53, 0, 12, 0, 0, // UDP 12345 -> 53
		1, 2, 3, 4,
	}
}

func TestCommunityIDSpec(t *testing.T) {
	// From the spec's baseline: TCP 128.232.110.120:34855 -> 66.35.250.204:80.
	p := &packet{proto: 6, hasPorts: true, sport: 34855, dport: 80}
	copy(p.src[:], []byte{128, 232, 110, 120})
	copy(p.dst[:], []byte{66, 35, 250, 204})
	if got, want := communityID(p), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="; got != want {
		t.Errorf("community id %s, want %s", got, want)
	}
}
