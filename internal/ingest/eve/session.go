package eve

import (
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// action says what an EVE key becomes in a session.
type action uint8

const (
	actUnknown     action = iota // kept as the discovered field eve.<path>
	actIgnore                    // dropped: bookkeeping or a blob
	actField                     // set (lists: appended) on the spec's fields
	actUnique                    // appended to the spec's list fields unless already there
	actTime                      // timestamp, flow.start, flow.end (arg)
	actCounter                   // a flow counter: set on the field and summed into totals
	actTransport                 // proto: network.transport
	actAppProto                  // app_proto: protocol
	actDNSFlag                   // dns.qr/aa/tc/rd/ra/z: the flag's name in dns.headerFlags when set
	actDNSAnswers                // dns.answers: the answer records
	actDNSGrouped                // dns.grouped: answer data by record type
	actDNSQueries                // dns.queries (DNS log v3)
	actRData                     // dns.rdata: the answer of a v1 answer event
	actOpcode                    // dns.opcode: by name
	actURL                       // http.url: http.uri with the host, and http.path
	actHostname                  // http.hostname: http.host, and the host of http.uri
	actHTTPVersion               // http.protocol: HTTP/1.1 is 1.1
	actHeaders                   // http.request_headers/response_headers: the header names
	actTLSVersion                // tls.version by Arkime's names (TLS 1.2 is TLSv1.2)
	actDN                        // tls.subject/issuerdn: raw on the fields, split into cert.<arg>CN/ON/OU
	actCertTime                  // tls.notbefore/notafter: cert.notBefore/notAfter in epoch ms
	actCert                      // a certificate property: set, and the session has a certificate
	actSSH                       // ssh.<side>.proto_version/software_version: rebuilt into a banner
	actHexID                     // dhcp.id: dhcp.id in hex
	actUpper                     // values in upper case (DHCP message types)
)

// counter slots of actCounter, summed into network.* totals.
const (
	slotPktsToServer = iota
	slotPktsToClient
	slotBytesToServer
	slotBytesToClient
	numSlots
)

// spec is what to do with one dotted path of an event.
type spec struct {
	act    action
	fields []*model.Field
	arg    string
	slot   int
	soft   bool // a value that does not fit the field is kept as eve.<path> instead of rejecting the event
}

type def struct {
	path   string
	act    action
	fields []string
	arg    string
	soft   bool
}

func c(path string, act action, fields ...string) def {
	return def{path: path, act: act, fields: fields}
}
func arg(d def, a string) def { d.arg = a; return d }

// defs maps EVE keys (by dotted path) to session fields.
var defs = []def{
	// Common to every event.
	arg(c("timestamp", actTime), "ts"),
	c("event_type", actIgnore), // eve.event_type is set from it
	c("flow_id", actField, "eve.flow_id"),
	c("src_ip", actField, "source.ip"),
	c("src_port", actField, "source.port"),
	c("dest_ip", actField, "destination.ip"),
	c("dest_port", actField, "destination.port"),
	c("proto", actTransport),
	c("app_proto", actAppProto),
	c("community_id", actField, "network.community_id"),
	c("host", actField, "node"), // the sensor-name of suricata.yaml
	c("vlan", actUnique, "network.vlan.id"),
	c("ether.src_mac", actUnique, "source.mac"),
	c("ether.dest_mac", actUnique, "destination.mac"),
	c("ether.src_macs", actUnique, "source.mac"), // flow events of Suricata 7 list every address seen
	c("ether.dest_macs", actUnique, "destination.mac"),
	c("packet", actIgnore), // base64 packets and payloads: not session metadata
	c("payload", actIgnore),
	c("payload_printable", actIgnore),
	c("stream", actIgnore),
	c("files", actIgnore), // file-info of a transaction: the fileinfo event's business

	// flow
	arg(c("flow.start", actTime), "start"),
	arg(c("flow.end", actTime), "end"),
	arg(c("flow.pkts_toserver", actCounter, "source.packets"), "pkts_toserver"),
	arg(c("flow.pkts_toclient", actCounter, "destination.packets"), "pkts_toclient"),
	arg(c("flow.bytes_toserver", actCounter, "source.bytes"), "bytes_toserver"),
	arg(c("flow.bytes_toclient", actCounter, "destination.bytes"), "bytes_toclient"),
	c("flow.state", actField, "eve.flow_state"),
	c("flow.reason", actField, "eve.flow_reason"),
	c("flow.alerted", actField, "eve.flow_alerted"),

	// netflow: one direction
	arg(c("netflow.start", actTime), "start"),
	arg(c("netflow.end", actTime), "end"),
	arg(c("netflow.pkts", actCounter, "source.packets"), "pkts_toserver"),
	arg(c("netflow.bytes", actCounter, "source.bytes"), "bytes_toserver"),
	c("netflow.min_ttl", actUnique, "srcTTL"),
	c("netflow.max_ttl", actUnique, "srcTTL"),

	// dns
	c("dns.rrname", actUnique, "dns.queryHost", "dns.host"),
	c("dns.rrtype", actUnique, "dns.qt"),
	c("dns.rcode", actUnique, "dns.status"),
	c("dns.opcode", actOpcode, "dns.opcode"),
	arg(c("dns.qr", actDNSFlag, "dns.headerFlags"), "QR"),
	arg(c("dns.aa", actDNSFlag, "dns.headerFlags"), "AA"),
	arg(c("dns.tc", actDNSFlag, "dns.headerFlags"), "TC"),
	arg(c("dns.rd", actDNSFlag, "dns.headerFlags"), "RD"),
	arg(c("dns.ra", actDNSFlag, "dns.headerFlags"), "RA"),
	arg(c("dns.z", actDNSFlag, "dns.headerFlags"), "Z"),
	c("dns.answers", actDNSAnswers),
	c("dns.grouped", actDNSGrouped),
	c("dns.queries", actDNSQueries),
	c("dns.rdata", actRData),
	c("dns.ttl", actField, "dns.answers.ttl"),

	// http
	c("http.hostname", actHostname, "http.host"),
	c("http.url", actURL),
	c("http.http_method", actUnique, "http.method"),
	{path: "http.status", act: actUnique, fields: []string{"http.statuscode"}, soft: true},
	c("http.http_user_agent", actUnique, "http.useragent"),
	c("http.http_refer", actUnique, "http.request-referer"),
	c("http.http_content_type", actUnique, "http.response-content-type"),
	c("http.protocol", actHTTPVersion, "http.clientVersion"),
	c("http.request_headers", actHeaders, "http.requestHeader"),
	c("http.response_headers", actHeaders, "http.responseHeader"),
	c("http.http_request_body", actIgnore),
	c("http.http_response_body", actIgnore),
	c("http.http_request_body_printable", actIgnore),
	c("http.http_response_body_printable", actIgnore),

	// tls
	c("tls.version", actTLSVersion, "tls.version"),
	// Arkime files the TLS server name (SNI) under host.http.
	c("tls.sni", actUnique, "http.host"),
	arg(c("tls.subject", actDN, "tls.server.subject"), "subject"),
	arg(c("tls.issuerdn", actDN, "tls.server.issuer"), "issuer"),
	c("tls.serial", actCert, "cert.serial"),
	c("tls.fingerprint", actCert, "cert.hash"),
	arg(c("tls.notbefore", actCertTime, "cert.notBefore"), "before"),
	arg(c("tls.notafter", actCertTime, "cert.notAfter"), "after"),
	c("tls.ja3.hash", actUnique, "tls.ja3"),
	c("tls.ja3.string", actUnique, "tls.ja3string"),
	c("tls.ja3s.hash", actUnique, "tls.ja3s"),
	c("tls.ja3s.string", actUnique, "tls.ja3sstring"),
	c("tls.ja4", actUnique, "tls.ja4"),
	c("tls.certificate", actIgnore),
	c("tls.chain", actIgnore),

	// ssh
	arg(c("ssh.client.proto_version", actSSH), "client.proto"),
	arg(c("ssh.client.software_version", actSSH), "client.software"),
	arg(c("ssh.server.proto_version", actSSH), "server.proto"),
	arg(c("ssh.server.software_version", actSSH), "server.software"),
	c("ssh.client.hassh.hash", actUnique, "ssh.hassh"),
	c("ssh.server.hassh.hash", actUnique, "ssh.hasshServer"),

	// dhcp
	c("dhcp.id", actHexID, "dhcp.id"),
	c("dhcp.client_mac", actUnique, "dhcp.mac"),
	c("dhcp.dhcp_type", actUpper, "dhcp.type"),
	c("dhcp.hostname", actUnique, "dhcp.host"),
	c("dhcp.requested_ip", actUnique, "dhcp.requestIp"),
	c("dhcp.assigned_ip", actField, "dhcp.assignedIp"),
	c("dhcp.lease_time", actField, "lease.duration"),
	c("dhcp.vendor_class_identifier", actUnique, "dhcp.classId"),
}

func buildSpecs(rb *ingest.RowBuilder) map[string]*spec {
	slots := map[string]int{"pkts_toserver": slotPktsToServer, "pkts_toclient": slotPktsToClient,
		"bytes_toserver": slotBytesToServer, "bytes_toclient": slotBytesToClient}
	out := make(map[string]*spec, len(defs))
	for _, d := range defs {
		s := &spec{act: d.act, arg: d.arg, soft: d.soft}
		for _, name := range d.fields {
			s.fields = append(s.fields, rb.Field(name))
		}
		if d.act == actCounter {
			s.slot = slots[d.arg]
		}
		out[d.path] = s
	}
	return out
}

// fields are the registry fields the decoder sets itself.
type fields struct {
	first, last, duration, transport, protocol, eventType, certCnt    *model.Field
	netBytes, netPackets, httpURI, httpPath, sshVersion               *model.Field
	validDays, validSeconds, remainingDays, remainingSeconds          *model.Field
	ansName, ansType, ansTTL, ansIP, ansCNAME, ansNS, ansMX, ansTXT   *model.Field
	ansHTTPS, dnsIP, dnsHost, nsHost, mxHost, queryHost, qt, headerFl *model.Field
}

func resolveFields(rb *ingest.RowBuilder) fields {
	f := rb.Field
	return fields{
		first: f("firstPacket"), last: f("lastPacket"), duration: f("session.duration"), transport: f("network.transport"),
		protocol: f("protocol"), eventType: f("eve.event_type"), certCnt: f("certCnt"),
		netBytes: f("network.bytes"), netPackets: f("network.packets"), httpURI: f("http.uri"), httpPath: f("http.path"),
		sshVersion: f("ssh.version"),
		validDays:  f("cert.validDays"), validSeconds: f("cert.validSeconds"),
		remainingDays: f("cert.remainingDays"), remainingSeconds: f("cert.remainingSeconds"),
		ansName: f("dns.answers.name"), ansType: f("dns.answers.type"), ansTTL: f("dns.answers.ttl"), ansIP: f("dns.answers.ip"),
		ansCNAME: f("dns.answers.cname"), ansNS: f("dns.answers.nameserver"), ansMX: f("dns.answers.mx"), ansTXT: f("dns.answers.txt"),
		ansHTTPS: f("dns.answers.https"), dnsIP: f("dns.ip"), dnsHost: f("dns.host"), nsHost: f("dns.nameserverHost"),
		mxHost: f("dns.mailserverHost"), queryHost: f("dns.queryHost"), qt: f("dns.qt"), headerFl: f("dns.headerFlags"),
	}
}

// record holds what an event said that is combined at its end.
type record struct {
	typ                 string
	ts, start, end      int64
	hasTS, hasStart     bool
	hasEnd              bool
	transport, appProto string
	counters            [numSlots]int64
	hasCount            [numSlots]bool
	hostname, url       string
	hasURL              bool
	notBefore, notAfter int64
	hasNB, hasNA        bool
	cert                bool
	ssh                 map[string]string
	rdata               string
}

// session builds the row of a flow, netflow, dns, http, tls, ssh or dhcp
// event.
func (d *Decoder) session(obj *fastjson.Object, typ string) (store.Row, *ingest.DocError) {
	d.rb.Reset()
	ssh := d.rec.ssh
	clear(ssh)
	d.rec = record{typ: typ, ssh: ssh}
	if derr := d.walk(obj, 0, 0); derr != nil {
		return store.Row{}, derr
	}
	return d.finish()
}

const maxDepth = 12

// walk visits the keys of an object whose dotted path is d.name[:prefix].
func (d *Decoder) walk(obj *fastjson.Object, prefix, depth int) *ingest.DocError {
	if depth > maxDepth {
		return reject(ingest.ReasonTooMany, "objects nested deeper than %d", maxDepth)
	}
	var derr *ingest.DocError
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if derr != nil {
			return
		}
		d.name = d.name[:prefix]
		if prefix > 0 {
			d.name = append(d.name, '.')
		}
		d.name = append(d.name, k...)
		if sp := d.specs[string(d.name)]; sp != nil {
			derr = d.apply(sp, v)
			return
		}
		switch v.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeObject:
			o, _ := v.Object()
			derr = d.walk(o, len(d.name), depth+1)
		default:
			derr = d.discovered(string(d.name), v)
		}
	})
	return derr
}

// texts is a value's text form, as a list (a scalar is a list of one):
// numbers as written, true/false, nested structures as their JSON text.
func (d *Decoder) texts(v *fastjson.Value) []string {
	if v.Type() == fastjson.TypeArray {
		items, _ := v.Array()
		out := make([]string, 0, len(items))
		for _, it := range items {
			if it.Type() != fastjson.TypeNull {
				out = append(out, d.text(it))
			}
		}
		return out
	}
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	return []string{d.text(v)}
}

func (d *Decoder) text(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	d.numBuf = v.MarshalTo(d.numBuf[:0])
	return string(d.numBuf)
}

// apply decodes one key of a session event.
func (d *Decoder) apply(sp *spec, v *fastjson.Value) *ingest.DocError {
	rec, rb := &d.rec, d.rb
	switch sp.act {
	case actIgnore:
		return nil
	case actField, actUnique:
		vals := d.texts(v)
		for _, f := range sp.fields {
			for _, s := range vals {
				var derr *ingest.DocError
				if f.Type.IsList() {
					derr = rb.AddText(f, s, sp.act == actUnique)
				} else {
					derr = rb.SetText(f, s)
				}
				if derr != nil {
					if sp.soft {
						return d.discovered(string(d.name), v)
					}
					return derr
				}
			}
		}
		return nil
	case actTime:
		ms, derr := parseTime(string(d.name), d.text(v))
		if derr != nil {
			return derr
		}
		switch sp.arg {
		case "ts":
			rec.ts, rec.hasTS = ms, true
		case "start":
			rec.start, rec.hasStart = ms, true
		case "end":
			rec.end, rec.hasEnd = ms, true
		}
		return nil
	case actCounter:
		n, err := v.Int64()
		if err != nil {
			return reject(ingest.ReasonType, "%s: expected an integer", d.name)
		}
		if derr := rb.Set(sp.fields[0], n); derr != nil {
			return derr
		}
		rec.counters[sp.slot], rec.hasCount[sp.slot] = n, true
		return nil
	case actTransport:
		rec.transport = ingest.TransportFromName(d.text(v))
		return nil
	case actAppProto:
		rec.appProto = strings.ToLower(d.text(v))
		return nil
	case actDNSFlag:
		if v.Type() == fastjson.TypeTrue {
			return rb.AddUnique(sp.fields[0], sp.arg)
		}
		return nil
	case actDNSAnswers:
		items, err := v.Array()
		if err != nil {
			return d.discovered(string(d.name), v)
		}
		for _, it := range items {
			if it.Type() != fastjson.TypeObject {
				continue
			}
			if derr := d.answer(it); derr != nil {
				return derr
			}
		}
		return nil
	case actDNSGrouped:
		o, err := v.Object()
		if err != nil {
			return d.discovered(string(d.name), v)
		}
		var derr *ingest.DocError
		o.Visit(func(k []byte, list *fastjson.Value) {
			for _, s := range d.texts(list) {
				if derr == nil {
					derr = d.rdata(string(k), s)
				}
			}
		})
		return derr
	case actDNSQueries:
		items, _ := v.Array()
		for _, it := range items {
			if it.Type() != fastjson.TypeObject {
				continue
			}
			if name := it.Get("rrname"); name != nil {
				s := d.text(name)
				if derr := rb.AddUnique(d.f.queryHost, s); derr != nil {
					return derr
				}
				if derr := rb.AddUnique(d.f.dnsHost, s); derr != nil {
					return derr
				}
			}
			if t := it.Get("rrtype"); t != nil {
				if derr := rb.AddUnique(d.f.qt, d.text(t)); derr != nil {
					return derr
				}
			}
		}
		return nil
	case actRData:
		rec.rdata = d.text(v)
		return nil
	case actOpcode:
		return rb.AddUnique(sp.fields[0], opcodeName(d.text(v)))
	case actHostname:
		rec.hostname = d.text(v)
		return rb.AddUnique(sp.fields[0], rec.hostname)
	case actURL:
		rec.url, rec.hasURL = d.text(v), true
		return nil
	case actHTTPVersion:
		return rb.AddUnique(sp.fields[0], strings.TrimPrefix(d.text(v), "HTTP/"))
	case actHeaders:
		items, _ := v.Array()
		for _, it := range items {
			if name := it.Get("name"); name != nil {
				if derr := rb.AddUnique(sp.fields[0], strings.ToLower(d.text(name))); derr != nil {
					return derr
				}
			}
		}
		return nil
	case actTLSVersion:
		return rb.AddUnique(sp.fields[0], ingest.TLSVersionName(d.text(v)))
	case actDN:
		rec.cert = true
		return d.dn(sp, d.text(v))
	case actCertTime:
		ms, derr := parseTime(string(d.name), d.text(v))
		if derr != nil {
			return derr
		}
		if sp.arg == "before" {
			rec.notBefore, rec.hasNB = ms, true
		} else {
			rec.notAfter, rec.hasNA = ms, true
		}
		rec.cert = true
		return rb.Add(sp.fields[0], ms)
	case actCert:
		rec.cert = true
		return rb.AddUnique(sp.fields[0], d.text(v))
	case actSSH:
		if rec.ssh == nil {
			rec.ssh = map[string]string{}
		}
		rec.ssh[sp.arg] = d.text(v)
		return nil
	case actHexID:
		n, err := strconv.ParseUint(d.text(v), 10, 64)
		if err != nil {
			return reject(ingest.ReasonType, "%s: expected an integer", d.name)
		}
		return rb.AddUnique(sp.fields[0], strconv.FormatUint(n, 16))
	case actUpper:
		for _, s := range d.texts(v) {
			if derr := rb.AddUnique(sp.fields[0], strings.ToUpper(s)); derr != nil {
				return derr
			}
		}
		return nil
	}
	return d.discovered(string(d.name), v)
}

// answer keeps one DNS answer record: its name, type and TTL in the
// per-answer lists, its data by type.
func (d *Decoder) answer(a *fastjson.Value) *ingest.DocError {
	rb, f := d.rb, &d.f
	typ := ""
	if t := a.Get("rrtype"); t != nil {
		typ = d.text(t)
	}
	if name := a.Get("rrname"); name != nil {
		if derr := rb.Add(f.ansName, d.text(name)); derr != nil {
			return derr
		}
	}
	if typ != "" {
		if derr := rb.Add(f.ansType, typ); derr != nil {
			return derr
		}
	}
	if ttl := a.Get("ttl"); ttl != nil {
		n, err := ttl.Int64()
		if err != nil {
			return reject(ingest.ReasonType, "dns.answers.ttl: expected an integer")
		}
		if derr := rb.Add(f.ansTTL, n); derr != nil {
			return derr
		}
	}
	if rd := a.Get("rdata"); rd != nil && rd.Type() == fastjson.TypeString {
		return d.rdata(typ, d.text(rd))
	}
	return nil
}

// rdata files the data of an answer by its record type.
func (d *Decoder) rdata(typ, s string) *ingest.DocError {
	rb, f := d.rb, &d.f
	both := func(list, set *model.Field) *ingest.DocError {
		if derr := rb.Add(list, s); derr != nil {
			return derr
		}
		return rb.AddUnique(set, s)
	}
	switch strings.ToUpper(typ) {
	case "A", "AAAA":
		if _, err := netip.ParseAddr(s); err != nil {
			return reject(ingest.ReasonBadIP, "dns.answers.ip: %q is not an IP address", truncate(s))
		}
		return both(f.ansIP, f.dnsIP)
	case "CNAME":
		return both(f.ansCNAME, f.dnsHost)
	case "NS":
		return both(f.ansNS, f.nsHost)
	case "MX":
		return both(f.ansMX, f.mxHost)
	case "TXT":
		return rb.Add(f.ansTXT, s)
	case "HTTPS", "SVCB":
		return rb.Add(f.ansHTTPS, s)
	case "PTR":
		return rb.AddUnique(f.dnsHost, s)
	case "":
		if ip, err := netip.ParseAddr(s); err == nil {
			return rb.AddUnique(f.dnsIP, ip)
		}
		if ingest.LooksLikeHost(s) {
			return rb.AddUnique(f.dnsHost, s)
		}
	}
	return nil
}

// dn keeps a distinguished name raw and split into cert.<kind>CN/ON/OU.
func (d *Decoder) dn(sp *spec, dn string) *ingest.DocError {
	return d.rb.SetCertDN(sp.fields, sp.arg, dn)
}

// discovered keeps a key no table names as eve.<path>, typed by its JSON
// value.
func (d *Decoder) discovered(path string, v *fastjson.Value) *ingest.DocError {
	name := "eve." + path
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return d.rb.SetDiscovered(name, string(b))
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return d.rb.SetDiscovered(name, n)
		}
		x, err := v.Float64()
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return reject(ingest.ReasonType, "%s: %q is not a number", name, truncate(string(v.MarshalTo(nil))))
		}
		return d.rb.SetDiscovered(name, x)
	case fastjson.TypeTrue:
		return d.rb.SetDiscovered(name, true)
	case fastjson.TypeFalse:
		return d.rb.SetDiscovered(name, false)
	case fastjson.TypeArray:
		items, _ := v.Array()
		if len(items) == 0 {
			return nil
		}
		ints := make([]int64, 0, len(items))
		for _, it := range items {
			n, err := it.Int64()
			if it.Type() != fastjson.TypeNumber || err != nil {
				ints = nil
				break
			}
			ints = append(ints, n)
		}
		if ints != nil {
			return d.rb.SetDiscovered(name, ints)
		}
		return d.rb.SetDiscovered(name, d.texts(v))
	case fastjson.TypeObject:
		return d.rb.SetDiscovered(name, string(v.MarshalTo(nil)))
	}
	return nil
}

// finish combines what the event said and builds its row.
func (d *Decoder) finish() (store.Row, *ingest.DocError) {
	rec, rb, f := &d.rec, d.rb, &d.f
	first, last := rec.ts, rec.ts
	switch {
	case rec.hasStart:
		first = rec.start
		if rec.hasEnd {
			last = rec.end
		} else {
			last = first
		}
	case !rec.hasTS:
		return store.Row{}, reject(ingest.ReasonNoTime, "timestamp is missing")
	}
	if derr := rb.Set(f.first, first); derr != nil {
		return store.Row{}, derr
	}
	if derr := rb.Set(f.last, last); derr != nil {
		return store.Row{}, derr
	}
	if rec.hasStart && rec.hasEnd && last >= first {
		if derr := rb.Set(f.duration, float64(last-first)/1000); derr != nil {
			return store.Row{}, derr
		}
	}
	if rec.transport != "" {
		if derr := rb.Set(f.transport, rec.transport); derr != nil {
			return store.Row{}, derr
		}
		if derr := rb.AddUnique(f.protocol, rec.transport); derr != nil {
			return store.Row{}, derr
		}
	}
	if p := protocolName(rec.appProto, rec.typ); p != "" {
		if derr := rb.AddUnique(f.protocol, p); derr != nil {
			return store.Row{}, derr
		}
	}
	sum := func(fl *model.Field, a, b int) *ingest.DocError {
		if !rec.hasCount[a] || !rec.hasCount[b] {
			return nil
		}
		return rb.Set(fl, rec.counters[a]+rec.counters[b])
	}
	if derr := sum(f.netPackets, slotPktsToServer, slotPktsToClient); derr != nil {
		return store.Row{}, derr
	}
	if derr := sum(f.netBytes, slotBytesToServer, slotBytesToClient); derr != nil {
		return store.Row{}, derr
	}
	if rec.hasURL {
		uri := rec.url
		if rec.hostname != "" && strings.HasPrefix(uri, "/") {
			uri = rec.hostname + uri // Arkime's http.uri: host and path
		}
		if derr := rb.AddUnique(f.httpURI, uri); derr != nil {
			return store.Row{}, derr
		}
		if path, _, _ := strings.Cut(rec.url, "?"); path != "" {
			if derr := rb.AddUnique(f.httpPath, path); derr != nil {
				return store.Row{}, derr
			}
		}
	}
	if rec.rdata != "" {
		typ, _ := rb.Value(f.qt).([]string)
		t := ""
		if len(typ) == 1 {
			t = typ[0]
		}
		if derr := d.rdata(t, rec.rdata); derr != nil {
			return store.Row{}, derr
		}
	}
	for _, side := range []string{"client", "server"} {
		if banner := sshBanner(rec.ssh[side+".proto"], rec.ssh[side+".software"]); banner != "" {
			if derr := rb.AddUnique(f.sshVersion, banner); derr != nil {
				return store.Row{}, derr
			}
		}
	}
	if rec.cert {
		if derr := rb.Set(f.certCnt, int64(1)); derr != nil {
			return store.Row{}, derr
		}
		if rec.hasNB && rec.hasNA && rec.notAfter >= rec.notBefore {
			valid := (rec.notAfter - rec.notBefore) / 1000
			remaining := (rec.notAfter - first) / 1000
			for _, fv := range []struct {
				f *model.Field
				v int64
			}{{f.validSeconds, valid}, {f.validDays, valid / 86400}, {f.remainingSeconds, remaining}, {f.remainingDays, remaining / 86400}} {
				if derr := rb.Add(fv.f, fv.v); derr != nil {
					return store.Row{}, derr
				}
			}
		}
	}
	if derr := rb.Set(f.eventType, rec.typ); derr != nil {
		return store.Row{}, derr
	}
	return rb.Finish()
}

// protocolName is the protocol an event names: app_proto by Arkime's names
// (failed means detection failed: none), else the event type's own.
func protocolName(appProto, typ string) string {
	switch appProto {
	case "", "failed", "unknown":
		switch typ {
		case "dns", "http", "tls", "ssh", "dhcp":
			return typ
		}
		return ""
	}
	if i := strings.IndexByte(appProto, '/'); i >= 0 { // "http/2"-style names
		appProto = appProto[:i]
	}
	return appProto
}

// sshBanner rebuilds an SSH identification string from its parts.
func sshBanner(proto, software string) string {
	switch {
	case software == "":
		return ""
	case proto == "":
		return software
	}
	return "SSH-" + proto + "-" + software
}

// opcodeName names a DNS opcode as Arkime does.
func opcodeName(s string) string {
	switch s {
	case "0":
		return "QUERY"
	case "1":
		return "IQUERY"
	case "2":
		return "STATUS"
	case "4":
		return "NOTIFY"
	case "5":
		return "UPDATE"
	}
	return s
}
