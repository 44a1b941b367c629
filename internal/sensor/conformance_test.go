package sensor

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/arkime/CONFORMANCE.md and DIFFERENCES.md")

// arkimeSession is the part of an Arkime session body the conformance test
// compares.
type arkimeSession struct {
	FirstPacket int64 `json:"firstPacket"`
	LastPacket  int64 `json:"lastPacket"`
	IPProtocol  int   `json:"ipProtocol"`
	Source      struct {
		IP      string   `json:"ip"`
		Port    int      `json:"port"`
		Bytes   int64    `json:"bytes"`
		Packets int64    `json:"packets"`
		MAC     []string `json:"mac"`
	} `json:"source"`
	Destination struct {
		IP      string   `json:"ip"`
		Port    int      `json:"port"`
		Bytes   int64    `json:"bytes"`
		Packets int64    `json:"packets"`
		MAC     []string `json:"mac"`
	} `json:"destination"`
	Client struct {
		Bytes *int64 `json:"bytes"`
	} `json:"client"`
	Server struct {
		Bytes *int64 `json:"bytes"`
	} `json:"server"`
	Network struct {
		CommunityID string `json:"community_id"`
		VLAN        struct {
			ID []int `json:"id"`
		} `json:"vlan"`
	} `json:"network"`
	TCPFlags *TCPFlags       `json:"tcpflags"`
	SrcTTL   intList         `json:"srcTTL"`
	DstTTL   intList         `json:"dstTTL"`
	Protocol []string        `json:"protocol"`
	DNS      json.RawMessage `json:"dns"`
}

// intList reads a list of numbers that Arkime sometimes writes as strings.
type intList []int

func (l *intList) UnmarshalJSON(b []byte) error {
	var raw []json.Number
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, n := range raw {
		v, err := n.Int64()
		if err != nil {
			return err
		}
		*l = append(*l, int(v))
	}
	return nil
}

// conformanceFields are the compared fields, in report order.
var conformanceFields = []string{
	"session", "direction", "source.packets", "source.bytes", "destination.packets", "destination.bytes",
	"client.bytes", "server.bytes", "firstPacket", "lastPacket", "network.community_id",
	"tcpflags", "srcTTL", "dstTTL", "source.mac", "destination.mac", "network.vlan.id",
	"protocol.dns", "dns.queryHost", "dns.qt", "dns.qc", "dns.opcode", "dns.status", "dns.headerFlags",
	"dns.host", "dns.ip", "dns.nameserverHost", "dns.nameserverIp", "dns.mailserverHost", "dns.mailserverIp",
	"dns.answersCnt", "dns.answers.name", "dns.answers.type", "dns.answers.class", "dns.answers.ttl",
	"dns.answers.ip", "dns.answers.cname", "dns.answers.nameserver", "dns.answers.mx", "dns.answers.priority",
	"dns.answers.txt", "dns.answers.https",
}

// conformanceFloor is the match rate (per cent) each field reached when the
// test was last tuned: a regression floor, not a goal.
var conformanceFloor = map[string]float64{
	"session": 95.6, "direction": 100, "source.packets": 96.5, "source.bytes": 96.5, "destination.packets": 98.1,
	"destination.bytes": 98.1, "client.bytes": 94.6, "server.bytes": 96.5, "firstPacket": 98.9, "lastPacket": 96.2,
	"network.community_id": 99.4, "tcpflags": 97.3, "srcTTL": 99.7, "dstTTL": 99.5, "source.mac": 99.1,
	"destination.mac": 99.4, "network.vlan.id": 88,
	"protocol.dns": 100, "dns.queryHost": 100, "dns.qt": 100, "dns.qc": 100, "dns.opcode": 100, "dns.status": 100,
	"dns.headerFlags": 100, "dns.host": 100, "dns.ip": 100, "dns.nameserverHost": 100, "dns.nameserverIp": 100,
	"dns.mailserverHost": 100, "dns.mailserverIp": 100, "dns.answersCnt": 100, "dns.answers.name": 100,
	"dns.answers.type": 100, "dns.answers.class": 100, "dns.answers.ttl": 100, "dns.answers.ip": 100,
	"dns.answers.cname": 100, "dns.answers.nameserver": 100, "dns.answers.mx": 100, "dns.answers.priority": 100,
	"dns.answers.https": 100,
}

type difference struct {
	file, session, field, want, got, reason string
}

type fieldCount struct{ match, total int }

func flowKeyString(proto int, a string, pa int, b string, pb int) string {
	x, y := fmt.Sprintf("%s:%d", a, pa), fmt.Sprintf("%s:%d", b, pb)
	if x > y {
		x, y = y, x
	}
	return fmt.Sprintf("%d %s %s", proto, x, y)
}

func port(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func TestArkimeConformance(t *testing.T) {
	pcaps, err := filepath.Glob("testdata/arkime/*.pcap")
	if err != nil || len(pcaps) == 0 {
		t.Fatalf("no pcaps: %v", err)
	}
	counts := map[string]*fieldCount{}
	for _, f := range conformanceFields {
		counts[f] = &fieldCount{}
	}
	var diffs []difference
	extra := 0
	for _, pcap := range pcaps {
		name := filepath.Base(pcap)
		raw, err := os.ReadFile(strings.TrimSuffix(pcap, ".pcap") + ".test")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Sessions []struct {
				Body arkimeSession `json:"body"`
			} `json:"sessions3"`
		}
		if err := json.Unmarshal(dropSET(t, raw), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []*Session
		s := New(Config{}, func(s *Session) error { got = append(got, s); return nil })
		if err := s.ReadFile(pcap); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		byKey := map[string][]*Session{}
		for _, g := range got {
			k := flowKeyString(g.IPProtocol, g.Source.IP, port(g.Source.Port), g.Destination.IP, port(g.Destination.Port))
			byKey[k] = append(byKey[k], g)
		}
		for _, list := range byKey {
			sort.Slice(list, func(i, j int) bool { return list[i].FirstPacket < list[j].FirstPacket })
		}
		wants := doc.Sessions
		sort.SliceStable(wants, func(i, j int) bool { return wants[i].Body.FirstPacket < wants[j].Body.FirstPacket })
		for _, w := range wants {
			e := w.Body
			id := fmt.Sprintf("%d %s:%d > %s:%d", e.IPProtocol, e.Source.IP, e.Source.Port, e.Destination.IP, e.Destination.Port)
			k := flowKeyString(e.IPProtocol, e.Source.IP, e.Source.Port, e.Destination.IP, e.Destination.Port)
			cmp := func(field string, want, have any) {
				c := counts[field]
				c.total++
				if reflect.DeepEqual(want, have) {
					c.match++
					return
				}
				diffs = append(diffs, difference{file: name, session: id, field: field,
					want: fmt.Sprint(want), got: fmt.Sprint(have), reason: reasonFor(name, e, field)})
			}
			list := byKey[k]
			if len(list) == 0 {
				cmp("session", "present", "missing")
				continue
			}
			g := list[0]
			byKey[k] = list[1:]
			cmp("session", "present", "present")
			compareDNS(t, e, g, cmp)
			dir := g.Source.IP == e.Source.IP && port(g.Source.Port) == e.Source.Port
			cmp("direction", fmt.Sprintf("%s:%d", e.Source.IP, e.Source.Port), fmt.Sprintf("%s:%d", g.Source.IP, port(g.Source.Port)))
			if !dir {
				continue // the per-direction counts would compare the wrong sides
			}
			cmp("source.packets", e.Source.Packets, g.Source.Packets)
			cmp("source.bytes", e.Source.Bytes, g.Source.Bytes)
			cmp("destination.packets", e.Destination.Packets, g.Destination.Packets)
			cmp("destination.bytes", e.Destination.Bytes, g.Destination.Bytes)
			if e.Client.Bytes != nil {
				cmp("client.bytes", *e.Client.Bytes, g.Client.Bytes)
			}
			if e.Server.Bytes != nil {
				cmp("server.bytes", *e.Server.Bytes, g.Server.Bytes)
			}
			cmp("firstPacket", e.FirstPacket, g.FirstPacket)
			cmp("lastPacket", e.LastPacket, g.LastPacket)
			if e.Network.CommunityID != "" {
				cmp("network.community_id", e.Network.CommunityID, g.Network.CommunityID)
			}
			if e.TCPFlags != nil {
				var have TCPFlags
				if g.TCPFlags != nil {
					have = *g.TCPFlags
				}
				cmp("tcpflags", *e.TCPFlags, have)
			}
			if len(e.SrcTTL) > 0 {
				cmp("srcTTL", sorted(e.SrcTTL), sorted(g.SrcTTL))
			}
			if len(e.DstTTL) > 0 {
				cmp("dstTTL", sorted(e.DstTTL), sorted(g.DstTTL))
			}
			if len(e.Source.MAC) > 0 {
				cmp("source.mac", e.Source.MAC, g.Source.MAC)
			}
			if len(e.Destination.MAC) > 0 {
				cmp("destination.mac", e.Destination.MAC, g.Destination.MAC)
			}
			if len(e.Network.VLAN.ID) > 0 {
				var have []int
				if g.Network.VLAN != nil {
					have = sorted(g.Network.VLAN.ID)
				}
				cmp("network.vlan.id", sorted(e.Network.VLAN.ID), have)
			}
		}
		for _, list := range byKey {
			extra += len(list)
		}
	}
	var table strings.Builder
	table.WriteString("| field | matched | compared | rate |\n| --- | ---: | ---: | ---: |\n")
	for _, f := range conformanceFields {
		c := counts[f]
		r := rate(c)
		fmt.Fprintf(&table, "| %s | %d | %d | %.1f %% |\n", f, c.match, c.total, r)
		t.Logf("%-22s %4d/%4d %6.1f %%", f, c.match, c.total, r)
		if r < conformanceFloor[f] {
			t.Errorf("%s: match rate %.1f %% fell below its floor %.1f %%", f, r, conformanceFloor[f])
		}
	}
	t.Logf("sessions the sensor made that Arkime did not: %d", extra)
	if *update {
		writeConformance(t, table.String(), extra, len(pcaps), diffs)
	}
}

// dropSET removes the values Arkime's tests write as "SET" (unstable
// values it does not compare), so that they are not compared here either.
func dropSET(t *testing.T, raw []byte) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if l, ok := e.([]any); e == "SET" || ok && slices.Contains(l, any("SET")) {
					delete(x, k)
				} else {
					x[k] = walk(e)
				}
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sorted(v []int) []int {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

func rate(c *fieldCount) float64 {
	if c.total == 0 {
		return 100
	}
	return 100 * float64(c.match) / float64(c.total)
}

// fileReasons explain the differences of one capture, by field ("" for
// every field of the file not listed).
var fileReasons = map[string]map[string]string{
	"80211http.pcap":             {"": "802.11 with radiotap headers: a link type the sensor does not decode"},
	"dns-flags0110.pcap":         {"": "deliberate: the capture's clock goes backwards; Arkime reports the first and last packets in file order (lastPacket before firstPacket), the sensor the earliest and latest times, as the store requires"},
	"dot1ad.pcap":                {"": "the same ICMP exchange is captured on two QinQ VLAN pairs; Arkime keeps one session per VLAN pair, the sensor's flow key has no VLAN so it makes one session"},
	"gre-erspan.pcap":            {"network.vlan.id": "the VLAN is in the ERSPAN header, which the sensor skips", "": "Arkime also made a session of the outer GRE packet it could not decapsulate"},
	"vxlan.pcap":                 {"": "Arkime also made a session (ports 0) of an outer VXLAN packet it could not decode; the sensor decapsulated it"},
	"wireshark-dhcp.pcap":        {"": "Arkime joins the DHCP server's broadcast reply to the client's request (a DHCP rule); the sensor keys by addresses and ports, so the reply is a session of its own"},
	"ospf.pcap":                  {"": "not yet explained: Arkime's IGMP and PIM sessions hold multicast packets of several senders and groups; the sensor keys other IP protocols by address pair"},
	"pim.pcap":                   {"": "not yet explained: Arkime's PIM session holds packets of several senders; the sensor keys other IP protocols by address pair"},
	"bacnet-stack-services.pcap": {"": "not yet explained: Arkime keeps these broadcast UDP sessions across gaps longer than the 60 s idle timeout"},
	"long-session.pcap":          {"": "not yet explained: Arkime's split of a TCP session idle for over 480 s differs from the sensor's by one packet"},
	"cloudshark-bgp-md5.pcap":    {"": "not yet explained: Arkime splits this BGP session (TCP MD5 signatures) in two"},
	"gtp-iphone.pcap":            {"": "not yet explained: GTP-U tunnel traffic; Arkime's split of SIP-over-UDP sessions and the Community ID of one ICMPv6 session differ"},
	"v6.pcap":                    {"": "not yet explained: Community ID of an ICMPv6 session whose first packet is a one-way type"},
	"CVE-2018-6794.pcap":         {"": "not yet explained: Arkime counts one packet more (an RST after the session closed) in the first session"},
}

// reasonFor explains a difference; "not yet explained" marks what still
// needs looking at.
func reasonFor(file string, e arkimeSession, field string) string {
	if e.IPProtocol == 0 {
		return "non-IP traffic: Arkime makes Ethernet-level sessions (by MAC and ethertype); the sensor makes sessions of IP traffic only"
	}
	if r, ok := fileReasons[file][field]; ok {
		return r
	}
	if (field == "client.bytes" || field == "server.bytes") && e.IPProtocol == 6 {
		return "TCP payload: Arkime counts the bytes its sequence tracking passes on (no retransmissions, nothing before the handshake or out of window); the sensor counts every segment's payload"
	}
	if r, ok := fileReasons[file][""]; ok {
		return r
	}
	return "not yet explained"
}

func writeConformance(t *testing.T, table string, extra, files int, diffs []difference) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Conformance with Arkime\n\nGenerated by `go test ./internal/sensor -run TestArkimeConformance -update`.\n\n"+
		"The sensor read the %d pcaps of Arkime's capture regression suite; each session Arkime wrote in the `.test` files "+
		"was matched to the sensor's by transport and the unordered pair of endpoints (in time order when a pair has several), "+
		"then field by field. Per-direction fields are compared only when the direction agrees. Fields Arkime did not write are not compared.\n\n",
		files)
	b.WriteString(table)
	fmt.Fprintf(&b, "\nSessions the sensor made that Arkime did not: %d.\n", extra)
	if err := os.WriteFile("testdata/arkime/CONFORMANCE.md", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.WriteString("# Differences from Arkime\n\nGenerated by `go test ./internal/sensor -run TestArkimeConformance -update`: every compared value that differs, with its reason.\n\n")
	b.WriteString("| file | session | field | Arkime | sensor | reason |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, d := range diffs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", d.file, d.session, d.field, d.want, d.got, d.reason)
	}
	if err := os.WriteFile("testdata/arkime/DIFFERENCES.md", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dnsCompared are the dns fields compared, as named in Arkime's objects.
var dnsCompared = []string{"queryHost", "qt", "qc", "opcode", "status", "headerFlags", "host", "ip",
	"nameserverHost", "nameserverIp", "mailserverHost", "mailserverIp", "answersCnt"}

var dnsAnswerCompared = []string{"name", "type", "class", "ttl", "ip", "cname", "nameserver", "mx", "priority", "txt", "https"}

// compareDNS compares the DNS values of a session both sides agree is the
// same. Arkime writes one object per transaction, the sensor the union of
// their values: Arkime's are flattened the same way (unique sorted values,
// and every answer's value sorted for the answers.* fields).
func compareDNS(t *testing.T, e arkimeSession, g *Session, cmp func(string, any, any)) {
	wantDNS, haveDNS := slices.Contains(e.Protocol, "dns"), slices.Contains(g.Protocol, "dns")
	if !wantDNS && !haveDNS {
		return
	}
	cmp("protocol.dns", wantDNS, haveDNS)
	var entries []map[string]any
	if len(e.DNS) > 0 {
		if err := json.Unmarshal(e.DNS, &entries); err != nil {
			var one map[string]any
			if err := json.Unmarshal(e.DNS, &one); err != nil {
				t.Fatalf("dns: %v", err)
			}
			entries = []map[string]any{one}
		}
	}
	want := map[string][]string{}
	for _, en := range entries {
		for _, f := range dnsCompared {
			want[f] = append(want[f], jsonStrings(en[f])...)
		}
		answers, _ := en["answers"].([]any)
		for _, a := range answers {
			m, _ := a.(map[string]any)
			for _, f := range dnsAnswerCompared {
				want["answers."+f] = append(want["answers."+f], jsonStrings(m[f])...)
			}
		}
	}
	have := map[string][]string{}
	if d := g.DNS; d != nil {
		for f, v := range map[string][]string{"queryHost": d.QueryHost, "qt": d.QT, "qc": d.QC, "opcode": d.Opcode,
			"status": d.Status, "headerFlags": d.HeaderFlags, "host": d.Host, "ip": d.IP, "nameserverHost": d.NameserverHost,
			"nameserverIp": d.NameserverIP, "mailserverHost": d.MailserverHost, "mailserverIp": d.MailserverIP} {
			have[f] = v
		}
		for _, n := range d.AnswersCnt {
			have["answersCnt"] = append(have["answersCnt"], fmt.Sprint(n))
		}
		if a := d.Answers; a != nil {
			for f, v := range map[string][]string{"name": a.Name, "type": a.Type, "class": a.Class, "ip": a.IP, "cname": a.CNAME,
				"nameserver": a.Nameserver, "mx": a.MX, "txt": a.TXT, "https": a.HTTPS} {
				have["answers."+f] = v
			}
			for _, n := range a.TTL {
				have["answers.ttl"] = append(have["answers.ttl"], fmt.Sprint(n))
			}
			for _, n := range a.Priority {
				have["answers.priority"] = append(have["answers.priority"], fmt.Sprint(n))
			}
		}
	}
	norm := func(f string, v []string) []string {
		out := make([]string, 0, len(v))
		for _, x := range v {
			if ip, err := netip.ParseAddr(x); err == nil && strings.HasSuffix(strings.ToLower(f), "ip") {
				x = ip.Unmap().String()
			}
			out = append(out, x)
		}
		slices.Sort(out)
		if !strings.HasPrefix(f, "answers") {
			out = slices.Compact(out)
		}
		if f == "answersCnt" {
			out = slices.Clone(v)
			slices.Sort(out)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	for _, f := range append(slices.Clone(dnsCompared), prefixed("answers.", dnsAnswerCompared)...) {
		w, h := norm(f, want[f]), norm(f, have[f])
		if w == nil && h == nil {
			continue
		}
		cmp("dns."+f, w, h)
	}
}

func prefixed(p string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = p + s
	}
	return out
}

// jsonStrings is a JSON value (a string, a number or a list of them) as
// strings.
func jsonStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	}
	return []string{fmt.Sprint(v)}
}
