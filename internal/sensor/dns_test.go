package sensor

import (
	"encoding/binary"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// dnsFrame builds an Ethernet/IPv4 frame carrying msg over UDP, or over TCP
// with its 2-byte length prefix.
func dnsFrame(t *testing.T, tcp, reply bool, msg *layers.DNS) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := msg.SerializeTo(buf, opts); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte(nil), buf.Bytes()...)
	cli, srv := net.IP{192, 0, 2, 10}, net.IP{192, 0, 2, 53}
	var cport, sport uint16 = 40000, 53
	src, dst, sp, dp := cli, srv, cport, sport
	if reply {
		src, dst, sp, dp = srv, cli, sport, cport
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{0, 1, 2, 3, 4, 6}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src, DstIP: dst, Protocol: layers.IPProtocolUDP}
	var l4 gopacket.SerializableLayer
	if tcp {
		ip.Protocol = layers.IPProtocolTCP
		seg := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), ACK: true, PSH: true, Window: 1024}
		seg.SetNetworkLayerForChecksum(ip)
		l4 = seg
		payload = append(binary.BigEndian.AppendUint16(nil, uint16(len(payload))), payload...)
	} else {
		u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
		u.SetNetworkLayerForChecksum(ip)
		l4 = u
	}
	out := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(out, opts, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDNSSession(t *testing.T) {
	q := layers.DNSQuestion{Name: []byte("www.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}
	query := &layers.DNS{ID: 7, RD: true, Questions: []layers.DNSQuestion{q}}
	resp := &layers.DNS{ID: 7, QR: true, RD: true, RA: true, ResponseCode: layers.DNSResponseCodeNoErr,
		Questions: []layers.DNSQuestion{q},
		Answers: []layers.DNSResourceRecord{
			{Name: []byte("www.example.com"), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 60, CNAME: []byte("example.com")},
			{Name: []byte("example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: net.IP{198, 51, 100, 1}},
		},
		Authorities: []layers.DNSResourceRecord{
			{Name: []byte("example.com"), Type: layers.DNSTypeNS, Class: layers.DNSClassIN, TTL: 3600, NS: []byte("ns1.example.net")},
			{Name: []byte("example.com"), Type: layers.DNSTypeMX, Class: layers.DNSClassIN, TTL: 3600, MX: layers.DNSMX{Preference: 10, Name: []byte("mx.example.net")}},
			{Name: []byte("example.com"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TTL: 5, TXTs: [][]byte{[]byte("v=spf1 "), []byte("-all")}},
		},
		Additionals: []layers.DNSResourceRecord{
			{Name: []byte("ns1.example.net"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN, TTL: 3600, IP: net.ParseIP("2001:db8::53")},
			{Name: []byte("mx.example.net"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 3600, IP: net.IP{198, 51, 100, 25}},
		},
	}
	want := &DNS{
		Host: []string{"www.example.com", "example.com"}, QueryHost: []string{"www.example.com"},
		QT: []string{"A"}, QC: []string{"IN"}, Status: []string{"NOERROR"}, Opcode: []string{"QUERY"},
		HeaderFlags: []string{"RA", "RD"}, IP: []string{"198.51.100.1"},
		NameserverHost: []string{"ns1.example.net"}, NameserverIP: []string{"2001:db8::53"},
		MailserverHost: []string{"mx.example.net"}, MailserverIP: []string{"198.51.100.25"},
		AnswersCnt: []int{7},
		Answers: &DNSAnswers{
			Name:       []string{"www.example.com", "example.com", "example.com", "example.com", "example.com", "ns1.example.net", "mx.example.net"},
			Type:       []string{"CNAME", "A", "NS", "MX", "TXT", "AAAA", "A"},
			Class:      []string{"IN", "IN", "IN", "IN", "IN", "IN", "IN"},
			TTL:        []int64{60, 300, 3600, 3600, 5, 3600, 3600},
			IP:         []string{"198.51.100.1", "2001:db8::53", "198.51.100.25"},
			CNAME:      []string{"example.com"},
			Nameserver: []string{"ns1.example.net"},
			MX:         []string{"mx.example.net"},
			Priority:   []int{10},
			TXT:        []string{"v=spf1 -all"},
		},
	}
	for _, tcp := range []bool{false, true} {
		var got []*Session
		s := New(Config{}, func(s *Session) error { got = append(got, s); return nil })
		ts := time.Unix(1700000000, 0)
		// The query twice (a retransmission), then the response.
		for i, fr := range [][]byte{dnsFrame(t, tcp, false, query), dnsFrame(t, tcp, false, query), dnsFrame(t, tcp, true, resp)} {
			if err := s.Packet(fr, layers.LinkTypeEthernet, ts.Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		s.Flush()
		if len(got) != 1 {
			t.Fatalf("tcp %v: %d sessions", tcp, len(got))
		}
		g := got[0]
		tr := "udp"
		if tcp {
			tr = "tcp"
		}
		if !reflect.DeepEqual(g.Protocol, []string{"dns", tr}) {
			t.Errorf("tcp %v: protocol %v", tcp, g.Protocol)
		}
		if !reflect.DeepEqual(g.DNS, want) {
			t.Errorf("tcp %v: dns\n got %+v %+v\nwant %+v %+v", tcp, g.DNS, g.DNS.Answers, want, want.Answers)
		}
	}
}

// A query with no response, and garbage on port 53, make no dns detail
// beyond what was seen.
func TestDNSQueryOnlyAndGarbage(t *testing.T) {
	q := &layers.DNS{ID: 1, OpCode: layers.DNSOpCodeNotify, Questions: []layers.DNSQuestion{{Name: []byte("zone.test"), Type: layers.DNSTypeSOA, Class: layers.DNSClassIN}}}
	var got []*Session
	s := New(Config{}, func(s *Session) error { got = append(got, s); return nil })
	s.Packet(dnsFrame(t, false, false, q), layers.LinkTypeEthernet, time.Unix(1700000000, 0))
	s.Flush()
	want := &DNS{Host: []string{"zone.test"}, QueryHost: []string{"zone.test"}, QT: []string{"SOA"}, QC: []string{"IN"}, Opcode: []string{"NOTIFY"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0].DNS, want) {
		t.Fatalf("got %+v", got[0].DNS)
	}
	fr := dnsFrame(t, false, false, q)
	fr = fr[:len(fr)-3] // the question cut short: not DNS
	fr[14+2], fr[14+3] = 0, byte(len(fr)-14)
	binary.BigEndian.PutUint16(fr[14+20+4:], uint16(len(fr)-14-20))
	got = nil
	s = New(Config{}, func(s *Session) error { got = append(got, s); return nil })
	s.Packet(fr, layers.LinkTypeEthernet, time.Unix(1700000000, 0))
	s.Flush()
	if len(got) != 1 || got[0].DNS != nil || len(got[0].Protocol) != 1 {
		t.Fatalf("garbage: %d sessions, %+v %v", len(got), got[0].DNS, got[0].Protocol)
	}
}
