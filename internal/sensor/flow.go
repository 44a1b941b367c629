package sensor

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/seshatsec/seshat/internal/ingest"
)

// flowKey identifies a flow whichever way its packets go: the two
// endpoints are stored in a fixed order (the smaller address and port
// first), so that both directions find the same entry.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
	v6     bool
}

// Timeout classes: each has its own list of flows in last-seen order, so
// that expiring idle flows looks only at the fronts of the lists.
const (
	classTCP = iota
	classUDP
	classOther
	classClosing // TCP flows that saw FIN both ways or RST
	numClasses
)

// flow is one active session. Direction 0 is the source, 1 the destination.
type flow struct {
	key        flowKey
	srcIsA     bool
	first      int64 // ns
	last       int64 // ns
	pkts       [2]int64
	bytes      [2]int64
	data       [2]int64
	flags      TCPFlags
	finSeen    [2]bool
	macs       [2][][6]byte
	ttls       [2][]uint8
	vlans      []uint16
	cid        string
	dns        *dnsState
	hasPorts   bool
	class      int
	prev, next *flow
}

// flowList is an intrusive doubly linked list of flows, oldest first.
type flowList struct{ head, tail *flow }

func (l *flowList) pushBack(f *flow) {
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (l *flowList) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// table is the flow table: packets in, sessions out through emit.
type table struct {
	cfg     Config
	flows   map[flowKey]*flow
	lists   [numClasses]flowList
	timeout [numClasses]int64 // ns
	now     int64             // latest packet time seen, ns
	sweepAt int64
	emit    func(*Session) error
	err     error // the first error emit returned
	stats   *Stats
	dns     layers.DNS // reused for every DNS message
}

func newTable(cfg Config, stats *Stats, emit func(*Session) error) *table {
	t := &table{cfg: cfg, flows: make(map[flowKey]*flow), emit: emit, stats: stats}
	t.timeout[classTCP] = int64(cfg.TCPTimeout)
	t.timeout[classUDP] = int64(cfg.UDPTimeout)
	t.timeout[classOther] = int64(cfg.ICMPTimeout)
	t.timeout[classClosing] = int64(cfg.TCPClosingTimeout)
	return t
}

func classOf(proto uint8) int {
	switch proto {
	case 6:
		return classTCP
	case 17:
		return classUDP
	}
	return classOther
}

// add accounts one decoded packet.
func (t *table) add(p *packet) {
	if p.ts > t.now {
		t.now = p.ts
	}
	if t.now >= t.sweepAt {
		t.expire(t.now)
		t.sweepAt = t.now + int64(time.Second)
	}
	ports := p.hasPorts && !p.fragment
	var sport, dport uint16
	if ports {
		sport, dport = p.sport, p.dport
	}
	k := flowKey{proto: p.proto, v6: p.v6}
	fwd := true // the packet goes from key.a to key.b
	if c := compareEndpoint(p.src, sport, p.dst, dport); c <= 0 {
		k.a, k.pa, k.b, k.pb = p.src, sport, p.dst, dport
	} else {
		k.a, k.pa, k.b, k.pb = p.dst, dport, p.src, sport
		fwd = false
	}
	f := t.flows[k]
	if f != nil {
		idle := t.idle(f, p.ts)
		// A new SYN on a closing session starts the next session of the
		// same 5-tuple, as a reused port does.
		newSYN := f.class == classClosing && p.tcpFlags&(flagSYN|flagACK) == flagSYN
		if idle || newSYN {
			t.close(f)
			f = nil
		}
	}
	if f == nil {
		if t.cfg.MaxFlows > 0 && len(t.flows) >= t.cfg.MaxFlows {
			t.evictOldest()
		}
		f = &flow{key: k, first: p.ts, last: p.ts, class: classOf(p.proto), hasPorts: ports}
		// The source is the sender of the first packet, except that the
		// receiver of a first SYN-ACK is the side that opened the session.
		f.srcIsA = fwd
		if p.proto == 6 && p.tcpFlags&(flagSYN|flagACK) == flagSYN|flagACK {
			f.srcIsA = !fwd
		}
		f.cid = communityID(p)
		t.flows[k] = f
		t.lists[f.class].pushBack(f)
	} else {
		t.lists[f.class].remove(f)
		t.lists[f.class].pushBack(f)
	}
	dir := 0
	if fwd != f.srcIsA {
		dir = 1
	}
	// Arkime reports the times of the first and last packets in capture
	// order even when the capture's clock went backwards; a session's
	// lastPacket must not be before its firstPacket here, so the earliest
	// and latest times are kept instead.
	f.first, f.last = min(f.first, p.ts), max(f.last, p.ts)
	f.pkts[dir]++
	f.bytes[dir] += int64(p.frame)
	f.data[dir] += dataBytes(p)
	if p.hasMAC {
		f.macs[dir] = addMAC(f.macs[dir], p.srcMAC)
		f.macs[1-dir] = addMAC(f.macs[1-dir], p.dstMAC)
	}
	if !slices.Contains(f.ttls[dir], p.ttl) && len(f.ttls[dir]) < maxListValues {
		f.ttls[dir] = append(f.ttls[dir], p.ttl)
	}
	for _, v := range p.vlans[:p.nvlan] {
		if !slices.Contains(f.vlans, v) && len(f.vlans) < maxListValues {
			f.vlans = append(f.vlans, v)
		}
	}
	if p.proto == 6 && !p.fragment {
		t.tcp(f, p, dir)
	}
	if (p.proto == 17 || p.proto == 6) && ports && len(p.payload) > 0 && isDNSPort(sport, dport) {
		t.dnsPayload(f, p.proto, p.payload)
	}
}

// dataBytes is the payload a packet adds to client.bytes or server.bytes,
// counted as Arkime does: the TCP or UDP payload, the whole ICMP message,
// ESP and AH after their 8-byte header, SCTP after its 12-byte common
// header, and nothing for protocols it does not decode.
func dataBytes(p *packet) int64 {
	n := int64(len(p.payload))
	switch p.proto {
	case 6, 17, 1, 58:
		return n
	case 50, 51:
		return max(n-8, 0)
	case 132:
		return max(n-12, 0)
	}
	return 0
}

// maxListValues bounds the distinct MACs, TTLs and VLANs kept per flow, so
// that a flow's memory stays bounded whatever its packets carry.
const maxListValues = 8

// addMAC adds m to list unless it is there or the list is full.
func addMAC(list [][6]byte, m [6]byte) [][6]byte {
	if slices.Contains(list, m) || len(list) >= maxListValues {
		return list
	}
	return append(list, m)
}

// tcp counts flags as Arkime does and moves a finished session to the
// closing list, where it waits briefly for the last ACKs.
func (t *table) tcp(f *flow, p *packet, dir int) {
	fl := p.tcpFlags
	if fl&flagURG != 0 {
		f.flags.URG++
	}
	if fl&flagSYN != 0 {
		if fl&flagACK != 0 {
			f.flags.SYNACK++
		} else {
			f.flags.SYN++
		}
	}
	if fl&(flagSYN|flagFIN|flagRST|flagPSH|flagACK) == flagACK {
		f.flags.ACK++
	}
	if fl&flagPSH != 0 {
		f.flags.PSH++
	}
	if fl&flagRST != 0 {
		f.flags.RST++
	}
	if fl&flagFIN != 0 {
		f.flags.FIN++
		f.finSeen[dir] = true
	}
	if f.class != classClosing && (fl&flagRST != 0 || (f.finSeen[0] && f.finSeen[1])) {
		t.lists[f.class].remove(f)
		f.class = classClosing
		t.lists[f.class].pushBack(f)
	}
}

// compareEndpoint orders (address, port) pairs.
func compareEndpoint(a [16]byte, pa uint16, b [16]byte, pb uint16) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return 0
}

// expire closes every flow idle for longer than its class's timeout at now.
func (t *table) expire(now int64) {
	for c := range t.lists {
		for f := t.lists[c].head; f != nil && t.idle(f, now); f = t.lists[c].head {
			t.close(f)
		}
	}
}

// idle tells whether f has been idle past its timeout at now. Like Arkime
// it compares whole seconds, so that a packet exactly a timeout apart (to
// the second) still belongs to the session.
func (t *table) idle(f *flow, now int64) bool {
	const sec = int64(time.Second)
	return now/sec > f.last/sec+t.timeout[f.class]/sec
}

// evictOldest closes the least recently seen flow to make room.
func (t *table) evictOldest() {
	var oldest *flow
	for c := range t.lists {
		if h := t.lists[c].head; h != nil && (oldest == nil || h.last < oldest.last) {
			oldest = h
		}
	}
	if oldest != nil {
		t.stats.Evicted++
		t.close(oldest)
	}
}

// flush closes every flow, oldest first.
func (t *table) flush() {
	for len(t.flows) > 0 {
		t.evictOldestNoCount()
	}
}

func (t *table) evictOldestNoCount() {
	var oldest *flow
	for c := range t.lists {
		if h := t.lists[c].head; h != nil && (oldest == nil || h.last < oldest.last) {
			oldest = h
		}
	}
	t.close(oldest)
}

// close removes f from the table and emits its session.
func (t *table) close(f *flow) {
	t.lists[f.class].remove(f)
	delete(t.flows, f.key)
	t.stats.Sessions++
	if t.err != nil {
		return
	}
	if err := t.emit(t.session(f)); err != nil {
		t.err = err
	}
}

// session builds f's session document.
func (t *table) session(f *flow) *Session {
	src, sport, dst, dport := f.key.a, f.key.pa, f.key.b, f.key.pb
	if !f.srcIsA {
		src, sport, dst, dport = dst, dport, src, sport
	}
	s := &Session{
		FirstPacket:  f.first / int64(time.Millisecond),
		LastPacket:   f.last / int64(time.Millisecond),
		IPProtocol:   int(f.key.proto),
		Source:       Endpoint{IP: addrString(src, f.key.v6), Bytes: f.bytes[0], Packets: f.pkts[0], MAC: macStrings(f.macs[0])},
		Destination:  Endpoint{IP: addrString(dst, f.key.v6), Bytes: f.bytes[1], Packets: f.pkts[1], MAC: macStrings(f.macs[1])},
		Client:       Data{Bytes: f.data[0]},
		Server:       Data{Bytes: f.data[1]},
		TotDataBytes: f.data[0] + f.data[1],
		SrcTTL:       ints(f.ttls[0]),
		DstTTL:       ints(f.ttls[1]),
		Node:         t.cfg.Node,
	}
	if f.hasPorts {
		sp, dp := int(sport), int(dport)
		s.Source.Port, s.Destination.Port = &sp, &dp
	}
	tr := transportName(f.key.proto)
	s.Network = Network{Transport: tr, CommunityID: f.cid, Bytes: f.bytes[0] + f.bytes[1], Packets: f.pkts[0] + f.pkts[1]}
	if len(f.vlans) > 0 {
		v := &VLAN{}
		for _, id := range f.vlans {
			v.ID = append(v.ID, int(id))
		}
		s.Network.VLAN = v
	}
	s.Protocol = []string{tr}
	if f.dns != nil {
		s.Protocol = []string{"dns", tr}
		s.DNS = f.dns.doc()
	}
	if f.key.proto == 6 {
		fl := f.flags
		s.TCPFlags = &fl
	}
	return s
}

// transportName names an IP protocol as network.transport does.
func transportName(p uint8) string { return ingest.TransportName(int64(p)) }

func addrString(a [16]byte, v6 bool) string {
	if v6 {
		return netip.AddrFrom16(a).String()
	}
	return netip.AddrFrom4([4]byte(a[:4])).String()
}

func macStrings(list [][6]byte) []string {
	out := make([]string, 0, len(list))
	for _, m := range list {
		out = append(out, fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]))
	}
	slices.Sort(out)
	return out
}

func ints(v []uint8) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
