package sensor

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

// icmpPeer maps ICMP types that come in request/response pairs to the other
// half, per the Community ID v1 spec; types not listed are one-way.
var icmp4Peer = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
var icmp6Peer = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 139: 140, 140: 139, 144: 145, 145: 144}

// communityID is the Community ID v1 of a flow (seed 0) as seen in packet p:
// "1:" and the base64 SHA-1 of the ordered addresses, protocol and ports
// (https://github.com/corelight/community-id-spec).
func communityID(p *packet) string {
	alen := 4
	if p.v6 {
		alen = 16
	}
	saddr, daddr := p.src[:alen], p.dst[:alen]
	sport, dport := p.sport, p.dport
	ports := p.hasPorts
	oneWay := false
	switch p.proto {
	case 1, 58:
		peers := icmp4Peer
		if p.proto == 58 {
			peers = icmp6Peer
		}
		ports = true
		sport = uint16(p.icmpType)
		if peer, ok := peers[p.icmpType]; ok {
			dport = uint16(peer)
		} else {
			dport = uint16(p.icmpCode)
			oneWay = true
		}
	case 6, 17, 132:
		// A non-first fragment has no ports: hash without them.
	default:
		// Arkime hashes zero ports for protocols without them (ESP, AH,
		// GRE, ...); the spec leaves them out. Arkime's value is the one
		// Seshat's users compare with, so it is kept.
		ports, sport, dport = true, 0, 0
	}
	if !oneWay {
		c := bytes.Compare(saddr, daddr)
		if c > 0 || (c == 0 && ports && sport > dport) {
			saddr, daddr = daddr, saddr
			sport, dport = dport, sport
		}
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	b := append(buf[:0], 0, 0) // seed 0
	b = append(b, saddr...)
	b = append(b, daddr...)
	b = append(b, p.proto, 0)
	if ports {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	sum := sha1.Sum(b)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}
