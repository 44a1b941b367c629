package sensor

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// packet is what the flow table needs from one frame. The decoder fills it
// in place so that reading a file allocates nothing per packet.
type packet struct {
	ts     int64 // capture time, ns since 1970
	frame  int   // captured frame length, link layer included (Arkime's byte count)
	hasMAC bool
	srcMAC [6]byte
	dstMAC [6]byte
	vlans  [4]uint16
	nvlan  int

	hasIP    bool
	v6       bool
	src, dst [16]byte // IPv4 addresses in the first 4 bytes
	ttl      uint8
	proto    uint8
	fragment bool // a non-first IPv4 fragment: no transport header

	hasPorts     bool
	sport, dport uint16
	tcpFlags     uint8 // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20
	icmpType     uint8
	icmpCode     uint8
	payload      []byte // transport payload (TCP/UDP), aliasing the frame
}

// TCP flag bits as on the wire.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
	flagURG = 0x20
)

// Decode errors; the flow table counts them, they never stop a read.
var (
	errNotIP       = errors.New("no IP layer")
	errUnsupported = errors.New("unsupported link type")
	errTruncated   = errors.New("truncated header")
)

// decoder walks a frame's layers with gopacket's layer types, reused from
// packet to packet. It drives the layers itself instead of using
// gopacket.DecodingLayerParser because it must see every layer as it goes
// (both tags of QinQ, the outer Ethernet addresses of a tunnel) and handle a
// few encapsulations gopacket has no DecodingLayer for (MPLS, PPP in GRE,
// raw IP of either version).
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	lo    layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	gre   layers.GRE
}

// layerRawIP is a pseudo layer type: an IP header of either version.
var layerRawIP = gopacket.RegisterLayerType(19901, gopacket.LayerTypeMetadata{Name: "SeshatRawIP"})

// layerMPLS is a pseudo layer type for an MPLS label stack.
var layerMPLS = gopacket.RegisterLayerType(19902, gopacket.LayerTypeMetadata{Name: "SeshatMPLS"})

// layerPPP is a pseudo layer type for PPP as carried in GRE.
var layerPPP = gopacket.RegisterLayerType(19903, gopacket.LayerTypeMetadata{Name: "SeshatPPP"})

// firstLayer is the layer a frame of link type lt starts with.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case 276: // LINKTYPE_LINUX_SLL2
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeRaw, 12, 14, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return layerRawIP, true
	}
	return 0, false
}

// maxLayers bounds the layers walked in one frame, so that nested
// encapsulations crafted to loop cannot stall the reader.
const maxLayers = 16

// decode fills p from one frame. p.ts and p.frame are the caller's.
func (d *decoder) decode(data []byte, lt layers.LinkType, p *packet) error {
	typ, ok := firstLayer(lt)
	if !ok {
		return errUnsupported
	}
	p.hasMAC, p.nvlan, p.hasIP, p.hasPorts, p.fragment = false, 0, false, false, false
	p.tcpFlags, p.icmpType, p.icmpCode, p.payload = 0, 0, 0, nil
	df := gopacket.NilDecodeFeedback
	for range maxLayers {
		switch typ {
		case layers.LayerTypeEthernet:
			if err := d.eth.DecodeFromBytes(data, df); err != nil {
				return err
			}
			// The innermost Ethernet header wins, as in Arkime: behind a
			// tunnel (VXLAN, ERSPAN) it names the hosts of the session.
			if len(d.eth.SrcMAC) == 6 {
				p.hasMAC = true
				copy(p.srcMAC[:], d.eth.SrcMAC)
				copy(p.dstMAC[:], d.eth.DstMAC)
			}
			typ, data = d.eth.NextLayerType(), d.eth.Payload
		case layers.LayerTypeDot1Q:
			if err := d.dot1q.DecodeFromBytes(data, df); err != nil {
				return err
			}
			if p.nvlan < len(p.vlans) {
				p.vlans[p.nvlan] = d.dot1q.VLANIdentifier
				p.nvlan++
			}
			typ, data = d.dot1q.NextLayerType(), d.dot1q.Payload
		case layers.LayerTypeLinuxSLL:
			if err := d.sll.DecodeFromBytes(data, df); err != nil {
				return err
			}
			typ, data = d.sll.NextLayerType(), d.sll.Payload
		case layers.LayerTypeLinuxSLL2:
			if err := d.sll2.DecodeFromBytes(data, df); err != nil {
				return err
			}
			typ, data = d.sll2.NextLayerType(), d.sll2.Payload
		case layers.LayerTypeLoopback:
			if err := d.lo.DecodeFromBytes(data, df); err != nil {
				return err
			}
			typ, data = d.lo.NextLayerType(), d.lo.Payload
		case layerRawIP:
			if len(data) == 0 {
				return errTruncated
			}
			switch data[0] >> 4 {
			case 4:
				typ = layers.LayerTypeIPv4
			case 6:
				typ = layers.LayerTypeIPv6
			default:
				return errNotIP
			}
		case layerMPLS:
			// Labels until the bottom of stack, then guess the payload by
			// its version nibble, as Arkime does: MPLS does not say.
			for {
				if len(data) < 4 {
					return errTruncated
				}
				bos := data[2]&1 == 1
				data = data[4:]
				if bos {
					break
				}
			}
			typ = layerRawIP
		case layerPPP:
			if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
				data = data[2:]
			}
			if len(data) < 2 {
				return errTruncated
			}
			switch binary.BigEndian.Uint16(data) {
			case 0x0021:
				typ = layers.LayerTypeIPv4
			case 0x0057:
				typ = layers.LayerTypeIPv6
			default:
				return errNotIP
			}
			data = data[2:]
		case layers.LayerTypeIPv4:
			if err := d.ip4.DecodeFromBytes(data, df); err != nil {
				return err
			}
			p.hasIP, p.v6 = true, false
			p.src, p.dst = [16]byte{}, [16]byte{}
			copy(p.src[:4], d.ip4.SrcIP.To4())
			copy(p.dst[:4], d.ip4.DstIP.To4())
			p.ttl, p.proto = d.ip4.TTL, uint8(d.ip4.Protocol)
			// Arkime counts the whole IP payload as data for protocols
			// without a transport it decodes (ICMP, ESP, SCTP, ...).
			p.hasPorts, p.payload = false, d.ip4.Payload
			if d.ip4.FragOffset != 0 {
				p.fragment = true
				return nil
			}
			data = d.ip4.Payload
			typ = ipNext(p.proto)
		case layers.LayerTypeIPv6:
			if err := d.ip6.DecodeFromBytes(data, df); err != nil {
				return err
			}
			p.hasIP, p.v6 = true, true
			copy(p.src[:], d.ip6.SrcIP.To16())
			copy(p.dst[:], d.ip6.DstIP.To16())
			p.ttl = d.ip6.HopLimit
			p.hasPorts, p.payload = false, nil
			nh, rest, frag := skipIPv6Ext(uint8(d.ip6.NextHeader), d.ip6.Payload)
			if d.ip6.HopByHop != nil { // gopacket consumed the hop-by-hop header
				nh, rest, frag = skipIPv6Ext(uint8(d.ip6.HopByHop.NextHeader), d.ip6.Payload)
			}
			p.proto, p.payload = nh, rest
			if frag {
				p.fragment = true
				return nil
			}
			data = rest
			typ = ipNext(nh)
		case layers.LayerTypeTCP:
			if err := d.tcp.DecodeFromBytes(data, df); err != nil {
				return err
			}
			p.hasPorts = true
			p.sport, p.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			if len(data) > 13 {
				p.tcpFlags = data[13] & 0x3f
			}
			p.payload = d.tcp.Payload
			return nil
		case layers.LayerTypeUDP:
			if err := d.udp.DecodeFromBytes(data, df); err != nil {
				return err
			}
			p.hasPorts = true
			p.sport, p.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.payload = d.udp.Payload
			// VXLAN and GTP-U: decapsulate and let the inner packet make
			// the session, as Arkime does.
			if p.dport == 4789 && len(p.payload) >= 8+14 && p.payload[0]&0x08 != 0 {
				typ, data = layers.LayerTypeEthernet, p.payload[8:]
				continue
			}
			if (p.dport == 2152 || p.sport == 2152) && len(p.payload) > 8 {
				if inner, ok := gtpU(p.payload); ok {
					typ, data = layerRawIP, inner
					continue
				}
			}
			return nil
		case layers.LayerTypeSCTP:
			if len(data) < 12 {
				return errTruncated
			}
			p.hasPorts = true
			p.sport, p.dport = binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
			return nil
		case layers.LayerTypeICMPv4, layers.LayerTypeICMPv6:
			if len(data) >= 2 {
				p.icmpType, p.icmpCode = data[0], data[1]
			}
			return nil
		case layers.LayerTypeGRE:
			if err := d.gre.DecodeFromBytes(data, df); err != nil {
				return nil // keep the outer GRE session, as Arkime does
			}
			switch d.gre.Protocol {
			case layers.EthernetTypeIPv4:
				typ = layers.LayerTypeIPv4
			case layers.EthernetTypeIPv6:
				typ = layers.LayerTypeIPv6
			case layers.EthernetTypeTransparentEthernetBridging:
				typ = layers.LayerTypeEthernet
			case layers.EthernetTypeERSPAN: // type II: an 8-byte header, then Ethernet
				if len(d.gre.Payload) < 8 {
					return nil
				}
				typ, data = layers.LayerTypeEthernet, d.gre.Payload[8:]
				continue
			case 0x880b: // PPP
				typ = layerPPP
			default:
				return nil
			}
			data = d.gre.Payload
		case layers.LayerTypeMPLS:
			typ = layerMPLS
		default:
			if p.hasIP {
				return nil
			}
			return errNotIP
		}
	}
	if p.hasIP {
		return nil
	}
	return errNotIP
}

// gtpU returns the packet a GTP-U (v1) G-PDU carries.
func gtpU(b []byte) ([]byte, bool) {
	if b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
		return nil, false
	}
	n := 8
	if b[0]&0x07 != 0 { // sequence number, N-PDU number, next extension type
		n = 12
		if len(b) < n {
			return nil, false
		}
		// Extension headers, each a length in 4-byte units, ending with
		// the next type 0.
		for next := b[11]; next != 0; {
			if len(b) < n+1 || b[n] == 0 {
				return nil, false
			}
			l := int(b[n]) * 4
			if len(b) < n+l {
				return nil, false
			}
			next = b[n+l-1]
			n += l
		}
	}
	if len(b) <= n {
		return nil, false
	}
	return b[n:], true
}

// ipNext is the layer after an IP header carrying protocol proto.
func ipNext(proto uint8) gopacket.LayerType {
	switch proto {
	case 6:
		return layers.LayerTypeTCP
	case 17:
		return layers.LayerTypeUDP
	case 1:
		return layers.LayerTypeICMPv4
	case 58:
		return layers.LayerTypeICMPv6
	case 132:
		return layers.LayerTypeSCTP
	case 47:
		return layers.LayerTypeGRE
	case 4:
		return layers.LayerTypeIPv4
	case 41:
		return layers.LayerTypeIPv6
	case 137:
		return layerMPLS
	}
	return gopacket.LayerTypeZero
}

// skipIPv6Ext skips IPv6 extension headers, returning the upper-layer
// protocol, its bytes, and whether the packet is a non-first fragment.
func skipIPv6Ext(nh uint8, data []byte) (uint8, []byte, bool) {
	for range 8 {
		switch nh {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(data) < 8 {
				return nh, nil, false
			}
			n := (int(data[1]) + 1) * 8
			if n > len(data) {
				return nh, nil, false
			}
			nh, data = data[0], data[n:]
		case 44: // fragment
			if len(data) < 8 {
				return nh, nil, false
			}
			off := binary.BigEndian.Uint16(data[2:]) &^ 7
			nh, data = data[0], data[8:]
			if off != 0 {
				return nh, nil, true
			}
		default:
			return nh, data, false
		}
	}
	return nh, data, false
}
