package sensor

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// toPcapng rewrites a pcap file as pcapng, so that tests cover both
// readers with the same packets.
func toPcapng(t testing.TB, raw []byte) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriter(&out, r.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
