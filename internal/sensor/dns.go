package sensor

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DNS is a session's DNS detail, flattened to the registry's dns.* fields:
// every value list is the union over the session's DNS transactions
// (Arkime writes one object per transaction; the store keeps lists).
type DNS struct {
	Host           []string    `json:"host,omitempty"`
	QueryHost      []string    `json:"queryHost,omitempty"`
	QT             []string    `json:"qt,omitempty"`
	QC             []string    `json:"qc,omitempty"`
	Status         []string    `json:"status,omitempty"`
	Opcode         []string    `json:"opcode,omitempty"`
	HeaderFlags    []string    `json:"headerFlags,omitempty"`
	IP             []string    `json:"ip,omitempty"`
	NameserverHost []string    `json:"nameserverHost,omitempty"`
	NameserverIP   []string    `json:"nameserverIp,omitempty"`
	MailserverHost []string    `json:"mailserverHost,omitempty"`
	MailserverIP   []string    `json:"mailserverIp,omitempty"`
	AnswersCnt     []int       `json:"answersCnt,omitempty"`
	Answers        *DNSAnswers `json:"answers,omitempty"`
}

// DNSAnswers lists the resource records of the responses (answer,
// authority and additional sections, OPT excepted), one value per record
// for name, type, class and ttl, and one per record of the matching type
// for the others.
type DNSAnswers struct {
	Name       []string `json:"name,omitempty"`
	Type       []string `json:"type,omitempty"`
	Class      []string `json:"class,omitempty"`
	TTL        []int64  `json:"ttl,omitempty"`
	IP         []string `json:"ip,omitempty"`
	CNAME      []string `json:"cname,omitempty"`
	Nameserver []string `json:"nameserver,omitempty"`
	MX         []string `json:"mx,omitempty"`
	Priority   []int    `json:"priority,omitempty"`
	TXT        []string `json:"txt,omitempty"`
	HTTPS      []string `json:"https,omitempty"`
}

// Bounds on what one flow keeps, so that a DNS flow's memory stays bounded.
const (
	maxDNSEntries = 16
	maxDNSAnswers = 64
)

// dnsAnswer is one resource record as Arkime reports it.
type dnsAnswer struct {
	name, typ, class string
	ttl              uint32
	section          int // 0 answer, 1 authority, 2 additional
	ip               string
	cname, ns, mx    string
	priority         int
	hasPriority      bool
	txt, https       string
}

// dnsEntry is one transaction: a query and its response, matched by ID
// and question.
type dnsEntry struct {
	id                   uint16
	host, qt, qc, opcode string
	status               string
	response             bool
	flags                []string
	answers              []dnsAnswer
	nanswers             int
}

// dnsState is a flow's DNS transactions.
type dnsState struct {
	entries []dnsEntry
}

// isDNSPort tells whether a UDP or TCP port pair carries DNS (or mDNS).
func isDNSPort(sport, dport uint16) bool {
	return sport == 53 || dport == 53 || sport == 5353 || dport == 5353
}

// dnsPayload parses the DNS messages of one packet's payload into f. Over
// TCP every length-prefixed message wholly inside the segment is parsed;
// messages split across segments are not reassembled.
func (t *table) dnsPayload(f *flow, proto uint8, payload []byte) {
	if proto == 17 {
		t.dnsMessage(f, payload)
		return
	}
	for len(payload) >= 2+12 {
		n := int(binary.BigEndian.Uint16(payload))
		if n < 12 || n > len(payload)-2 {
			return
		}
		t.dnsMessage(f, payload[2:2+n])
		payload = payload[2+n:]
	}
}

var dnsOpcodes = [...]string{0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}

var dnsRcodes = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMPL", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// dnsMessage parses one DNS message into f; a message that does not parse
// is ignored.
func (t *table) dnsMessage(f *flow, msg []byte) {
	if len(msg) < 12 {
		return
	}
	d := &t.dns
	if err := d.DecodeFromBytes(msg, gopacket.NilDecodeFeedback); err != nil || len(d.Questions) == 0 {
		return
	}
	if f.dns == nil {
		f.dns = &dnsState{}
	}
	q := d.Questions[0]
	host, qt, qc := dnsName(q.Name), dnsTypeName(q.Type), dnsClassName(q.Class)
	st := f.dns
	var e *dnsEntry
	for i := range st.entries {
		x := &st.entries[i]
		if x.id == d.ID && x.host == host && x.qt == qt && x.qc == qc && (!x.response || !d.QR) {
			e = x
			break
		}
	}
	if e == nil {
		if len(st.entries) >= maxDNSEntries {
			return
		}
		opcode := ""
		if int(d.OpCode) < len(dnsOpcodes) {
			opcode = dnsOpcodes[d.OpCode]
		}
		if opcode == "" {
			opcode = strconv.Itoa(int(d.OpCode))
		}
		st.entries = append(st.entries, dnsEntry{id: d.ID, host: host, qt: qt, qc: qc, opcode: opcode})
		e = &st.entries[len(st.entries)-1]
	} else if !d.QR {
		return // a retransmitted query
	}
	if !d.QR {
		return
	}
	e.flags = dnsFlags(msg) // Arkime reports the response's flags only
	e.response = true
	rc := int(msg[3] & 0x0f)
	if rc < len(dnsRcodes) {
		e.status = dnsRcodes[rc]
	} else {
		e.status = strconv.Itoa(rc)
	}
	e.answers = e.answers[:0]
	e.nanswers = 0
	for sec, rrs := range [][]layers.DNSResourceRecord{d.Answers, d.Authorities, d.Additionals} {
		for i := range rrs {
			rr := &rrs[i]
			if skipDNSType(rr.Type) {
				continue
			}
			e.nanswers++
			if len(e.answers) >= maxDNSAnswers {
				continue
			}
			e.answers = append(e.answers, dnsRecord(rr, sec))
		}
	}
}

// dnsRecord is rr as Arkime reports it.
func dnsRecord(rr *layers.DNSResourceRecord, sec int) dnsAnswer {
	a := dnsAnswer{name: dnsName(rr.Name), typ: dnsTypeName(rr.Type), class: dnsClassName(rr.Class), ttl: rr.TTL, section: sec}
	switch rr.Type {
	case layers.DNSTypeA, layers.DNSTypeAAAA:
		if ip, ok := netip.AddrFromSlice(rr.IP); ok {
			a.ip = ip.Unmap().String()
		}
	case layers.DNSTypeCNAME:
		a.cname = dnsName(rr.CNAME)
	case layers.DNSTypeNS:
		a.ns = dnsName(rr.NS)
	case layers.DNSTypeMX:
		a.mx, a.priority, a.hasPriority = dnsName(rr.MX.Name), int(rr.MX.Preference), true
	case layers.DNSTypeTXT:
		var b strings.Builder
		for _, s := range rr.TXTs {
			b.Write(s)
		}
		a.txt = b.String()
	case layers.DNSTypeHTTPS:
		a.https = httpsString(&rr.SVCB)
	}
	return a
}

// httpsString formats an HTTPS record's data as Arkime does: "HTTPS",
// the priority, the target and the parameters in presentation format.
func httpsString(s *layers.DNSSVCB) string {
	var b strings.Builder
	b.WriteString("HTTPS ")
	b.WriteString(strconv.Itoa(int(s.Priority)))
	b.WriteByte(' ')
	b.WriteString(dnsName(s.Target))
	if len(s.Target) == 0 {
		b.WriteByte('.')
	}
	for _, p := range s.Params {
		b.WriteByte(' ')
		v := p.Value
		switch p.Key {
		case 1: // alpn
			b.WriteString("alpn=")
			for i := 0; len(v) > 0; i++ {
				n := int(v[0])
				if n > len(v)-1 {
					break
				}
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(v[1 : 1+n])
				v = v[1+n:]
			}
		case 2:
			b.WriteString("no-default-alpn")
		case 3:
			b.WriteString("port=")
			if len(v) >= 2 {
				b.WriteString(strconv.Itoa(int(binary.BigEndian.Uint16(v))))
			}
		case 4, 6:
			size, name := 4, "ipv4hint="
			if p.Key == 6 {
				size, name = 16, "ipv6hint="
			}
			b.WriteString(name)
			for i := 0; i+size <= len(v); i += size {
				if i > 0 {
					b.WriteByte(',')
				}
				ip, _ := netip.AddrFromSlice(v[i : i+size])
				b.WriteString(ip.String())
			}
		case 5:
			b.WriteString("ech=")
			b.WriteString(base64.StdEncoding.EncodeToString(v))
		default:
			b.WriteString("key")
			b.WriteString(strconv.Itoa(int(p.Key)))
			if len(v) > 0 {
				b.WriteByte('=')
				b.WriteString(strconv.Quote(string(v)))
			}
		}
	}
	return b.String()
}

// dnsFlags names the header flags set in msg, sorted.
func dnsFlags(msg []byte) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(msg[2]&0x04 != 0, "AA")
	add(msg[3]&0x20 != 0, "AD")
	add(msg[3]&0x10 != 0, "CD")
	add(msg[3]&0x80 != 0, "RA")
	add(msg[2]&0x01 != 0, "RD")
	add(msg[2]&0x02 != 0, "TC")
	add(msg[3]&0x40 != 0, "Z")
	return out
}

// skipDNSType tells whether records of type t are left out of the
// answers, as Arkime leaves them: OPT, and the DNSSEC records.
func skipDNSType(t layers.DNSType) bool {
	switch t {
	case layers.DNSTypeOPT, 43, 46, 47, 48, 50, 51: // DS, RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM
		return true
	}
	return false
}

// rootName is name as Arkime writes it, "<root>" for the root.
func rootName(name string) string {
	if name == "" {
		return "<root>"
	}
	return name
}

// dnsName is a name as text, without the root's trailing dot.
func dnsName(b []byte) string { return strings.TrimSuffix(string(b), ".") }

func dnsTypeName(t layers.DNSType) string {
	switch t {
	case 251:
		return "IXFR"
	case 252:
		return "AXFR"
	case 255:
		return "ANY"
	case 257:
		return "CAA"
	}
	if s := t.String(); s != "Unknown" {
		return s
	}
	return strconv.Itoa(int(t))
}

func dnsClassName(c layers.DNSClass) string {
	switch c {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		return "ANY"
	}
	return strconv.Itoa(int(c))
}

// addUnique appends v to list unless it is empty or already there.
func addUnique(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// doc flattens the transactions into the session's dns fields.
func (st *dnsState) doc() *DNS {
	d := &DNS{}
	var ans DNSAnswers
	for i := range st.entries {
		e := &st.entries[i]
		d.QueryHost = addUnique(d.QueryHost, rootName(e.host))
		d.Host = addUnique(d.Host, e.host)
		d.QT = addUnique(d.QT, e.qt)
		d.QC = addUnique(d.QC, e.qc)
		d.Opcode = addUnique(d.Opcode, e.opcode)
		d.Status = addUnique(d.Status, e.status)
		for _, fl := range e.flags {
			d.HeaderFlags = addUnique(d.HeaderFlags, fl)
		}
		if e.response {
			d.AnswersCnt = append(d.AnswersCnt, e.nanswers)
		}
		hosts := []string{e.host}
		var ns, mx []string
		for _, a := range e.answers {
			hosts = addUnique(hosts, a.cname)
			ns = addUnique(ns, a.ns)
			mx = addUnique(mx, a.mx)
		}
		for _, a := range e.answers {
			ans.Name = append(ans.Name, rootName(a.name))
			ans.Type = append(ans.Type, a.typ)
			ans.Class = append(ans.Class, a.class)
			ans.TTL = append(ans.TTL, int64(a.ttl))
			if a.ip != "" {
				ans.IP = append(ans.IP, a.ip)
				// As Arkime: an address is the host's, a name server's or
				// a mail server's by the name it is given for.
				if slices.Contains(hosts, a.name) {
					d.IP = addUnique(d.IP, a.ip)
				}
				if slices.Contains(ns, a.name) {
					d.NameserverIP = addUnique(d.NameserverIP, a.ip)
				}
				if slices.Contains(mx, a.name) {
					d.MailserverIP = addUnique(d.MailserverIP, a.ip)
				}
			}
			if a.cname != "" {
				ans.CNAME = append(ans.CNAME, a.cname)
				d.Host = addUnique(d.Host, a.cname)
			}
			if a.ns != "" {
				ans.Nameserver = append(ans.Nameserver, a.ns)
				d.NameserverHost = addUnique(d.NameserverHost, a.ns)
			}
			if a.mx != "" {
				ans.MX = append(ans.MX, a.mx)
				d.MailserverHost = addUnique(d.MailserverHost, a.mx)
			}
			if a.hasPriority {
				ans.Priority = append(ans.Priority, a.priority)
			}
			if a.txt != "" {
				ans.TXT = append(ans.TXT, a.txt)
			}
			if a.https != "" {
				ans.HTTPS = append(ans.HTTPS, a.https)
			}
		}
	}
	if len(ans.Name) > 0 {
		d.Answers = &ans
	}
	return d
}
