// Package sensor turns packets into sessions, the way Arkime's capture does:
// it reads pcap and pcapng files (gzip'd or not), decodes each frame's link,
// network and transport layers with gopacket, and keeps a bounded flow table
// that emits one Session per flow when the flow ends (FIN both ways or RST,
// an idle timeout measured in packet time, eviction, or the end of input).
// DNS messages on port 53 or 5353 (UDP, and TCP when a message is whole in
// one segment) fill the session's dns fields (dns.go).
//
// Sessions are emitted as session documents (Session) with the registry's
// canonical field names rather than as store rows: the same value can be
// printed as NDJSON, uploaded to a server, or turned into rows by
// ingest.SessionDecoder, which validates it exactly like an upload.
package sensor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Config tunes the flow table. Zero fields take DefaultConfig's values.
type Config struct {
	// Idle timeouts, measured on packet time; Arkime's defaults.
	TCPTimeout  time.Duration
	UDPTimeout  time.Duration
	ICMPTimeout time.Duration // also used for every other IP protocol
	// TCPClosingTimeout is how long a TCP session that saw FIN both ways or
	// RST waits for its last ACKs before it is emitted (Arkime: 5 s).
	TCPClosingTimeout time.Duration
	// MaxFlows caps the active flows; at the cap the least recently seen
	// flow is emitted early and counted in Stats.Evicted.
	MaxFlows int
	// Node names the sensor in every session (the node field).
	Node string
}

// DefaultConfig is the configuration when nothing is set.
func DefaultConfig() Config {
	return Config{
		TCPTimeout:        480 * time.Second,
		UDPTimeout:        60 * time.Second,
		ICMPTimeout:       60 * time.Second,
		TCPClosingTimeout: 5 * time.Second,
		MaxFlows:          1 << 20,
	}
}

// Stats counts what a sensor has read.
type Stats struct {
	Packets      int64 // frames read
	Bytes        int64 // captured frame bytes read
	NotIP        int64 // frames with no IP layer (ARP, LLDP, ...), not sessions
	DecodeErrors int64 // frames whose headers could not be decoded
	Sessions     int64 // sessions emitted
	Evicted      int64 // sessions emitted early because of MaxFlows
}

// Sensor reads packets and emits sessions. It is not safe for concurrent
// use; run one per input stream.
type Sensor struct {
	cfg   Config
	dec   decoder
	pkt   packet
	tab   *table
	stats Stats
}

// New makes a sensor that calls emit with every finished session. The
// session is the caller's to keep. An error from emit stops the read that
// caused it and is returned by it.
func New(cfg Config, emit func(*Session) error) *Sensor {
	def := DefaultConfig()
	if cfg.TCPTimeout <= 0 {
		cfg.TCPTimeout = def.TCPTimeout
	}
	if cfg.UDPTimeout <= 0 {
		cfg.UDPTimeout = def.UDPTimeout
	}
	if cfg.ICMPTimeout <= 0 {
		cfg.ICMPTimeout = def.ICMPTimeout
	}
	if cfg.TCPClosingTimeout <= 0 {
		cfg.TCPClosingTimeout = def.TCPClosingTimeout
	}
	if cfg.MaxFlows == 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	s := &Sensor{cfg: cfg}
	s.tab = newTable(cfg, &s.stats, emit)
	return s
}

// Stats returns the counts so far.
func (s *Sensor) Stats() Stats { return s.stats }

// ActiveFlows is the number of flows in the table.
func (s *Sensor) ActiveFlows() int { return len(s.tab.flows) }

// Packet accounts one frame of link type lt captured at ts with captured
// length len(data). It never keeps data.
func (s *Sensor) Packet(data []byte, lt layers.LinkType, ts time.Time) error {
	s.stats.Packets++
	s.stats.Bytes += int64(len(data))
	p := &s.pkt
	if err := s.dec.decode(data, lt, p); err != nil {
		if errors.Is(err, errNotIP) {
			s.stats.NotIP++
		} else {
			s.stats.DecodeErrors++
		}
		return nil
	}
	p.ts = ts.UnixNano()
	p.frame = len(data)
	s.tab.add(p)
	return s.tab.err
}

// Flush emits every active session, as at the end of input.
func (s *Sensor) Flush() error {
	s.tab.flush()
	return s.tab.err
}

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadFile reads a pcap or pcapng file, gzip'd or not, without flushing
// the flow table (sessions may continue in the next file); call Flush at
// the end of all input.
func (s *Sensor) ReadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read capture: %w", err)
	}
	defer f.Close()
	if err := s.Read(f); err != nil {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	return nil
}

// Read reads one pcap or pcapng stream, gzip'd or not, up to its end or its
// first unreadable record; the packets before a damaged record count.
func (s *Sensor) Read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("cannot read the file header: %w", err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("cannot decompress: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
		if magic, err = br.Peek(4); err != nil {
			return fmt.Errorf("cannot read the file header: %w", err)
		}
	}
	var (
		pr      packetReader
		linkOf  func(ci gopacket.CaptureInfo) layers.LinkType
		ngIface []layers.LinkType
	)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			return fmt.Errorf("cannot read the pcapng header: %w", err)
		}
		pr = ng
		linkOf = func(ci gopacket.CaptureInfo) layers.LinkType {
			// Interfaces can be declared between packets: look them up
			// again when a packet names one not seen yet.
			if ci.InterfaceIndex >= len(ngIface) {
				ngIface = ngIface[:0]
				for i := range ng.NInterfaces() {
					iface, _ := ng.Interface(i)
					ngIface = append(ngIface, iface.LinkType)
				}
			}
			if ci.InterfaceIndex >= 0 && ci.InterfaceIndex < len(ngIface) {
				return ngIface[ci.InterfaceIndex]
			}
			return ng.LinkType()
		}
	} else {
		pc, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("cannot read the pcap header: %w", err)
		}
		pr = pc
		lt := pc.LinkType()
		linkOf = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	}
	for n := int64(1); ; n++ {
		data, ci, err := pr.ZeroCopyReadPacketData()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read packet %d: %w", n, err)
		}
		if err := s.Packet(data, linkOf(ci), ci.Timestamp); err != nil {
			return err
		}
	}
}
