package sensor

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// seedFrames adds the first frames of a few Arkime pcaps, with their link
// types, to a fuzz corpus.
func seedFrames(f *testing.F) {
	for _, name := range []string{"http-simple-get", "dns-udp", "v6", "gre-sample", "vxlan", "dot1ad", "gtp-u", "mpls-basic", "sctp-www", "wireshark-esp", "mqtt_synthetic", "gtp-iphone"} {
		raw, err := os.ReadFile(filepath.Join("testdata/arkime", name+".pcap"))
		if err != nil {
			f.Fatal(err)
		}
		r, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			f.Fatal(err)
		}
		for range 3 {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			f.Add(uint16(r.LinkType()), data)
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, lt uint16, frame []byte) {
		s := New(Config{MaxFlows: 4}, func(*Session) error { return nil })
		ts := time.Unix(1700000000, 0)
		// Twice, so that the flow table sees an existing flow too.
		s.Packet(frame, layers.LinkType(lt), ts)
		s.Packet(frame, layers.LinkType(lt), ts.Add(time.Second))
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzReadPcap(f *testing.F) {
	for _, name := range []string{"http-simple-get", "dns-udp", "bigendian", "adb", "ssl-selfsign"} {
		raw, err := os.ReadFile(filepath.Join("testdata/arkime", name+".pcap"))
		if err != nil {
			f.Fatal(err)
		}
		if len(raw) > 4096 {
			raw = raw[:4096]
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(Config{MaxFlows: 16}, func(*Session) error { return nil })
		_ = s.Read(bytes.NewReader(data)) // errors are expected; panics and stalls are not
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkReadPcap reads every Arkime pcap, concatenated in memory, and
// reports packets per second (flow fields only: no application decoding).
func BenchmarkReadPcap(b *testing.B) {
	pcaps, _ := filepath.Glob("testdata/arkime/*.pcap")
	var files [][]byte
	var packets int64
	for _, p := range pcaps {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, raw)
		s := New(Config{}, func(*Session) error { return nil })
		s.Read(bytes.NewReader(raw))
		packets += s.Stats().Packets
	}
	b.ResetTimer()
	for b.Loop() {
		s := New(Config{}, func(*Session) error { return nil })
		for _, raw := range files {
			if err := s.Read(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
		}
		s.Flush()
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
