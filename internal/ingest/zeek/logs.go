package zeek

import (
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
)

// action says what a Zeek column becomes in a session.
type action uint8

const (
	actUnknown    action = iota // kept as the discovered field zeek.<log>.<column>
	actIgnore                   // dropped (_path, _write_ts: bookkeeping of the log itself)
	actField                    // set (lists: appended) on the spec's fields
	actUnique                   // appended to the spec's list fields unless already there
	actTS                       // ts: firstPacket
	actDuration                 // duration: lastPacket = ts + duration, and session.duration
	actProto                    // proto: network.transport
	actService                  // service: zeek.service as written, protocol by Arkime's names
	actCounter                  // a conn counter: set on the field and summed into totals
	actDNSAnswers               // answers: zeek.answers, addresses in dns.ip, names in dns.host
	actDNSTTL                   // TTLs: dns.answers.ttl in whole seconds
	actDNSFlag                  // AA, TC, RD, RA: the flag's name in dns.headerFlags when set
	actDNSClass                 // qclass_name: dns.qc by its short name (C_INTERNET is IN)
	actHTTPHost                 // host: http.host, and the host part of http.uri
	actHTTPURI                  // uri: http.uri (with the host) and http.path
	actTLSVersion               // version: tls.version by Arkime's names (TLSv12 is TLSv1.2)
	actDN                       // subject/issuer DNs: cert.<arg>CN/ON/OU, and the raw DN on the spec's fields
	actCertTime                 // certificate validity times: cert.notBefore/notAfter in epoch ms
	actSeconds                  // an interval in whole seconds (lease_time)
	actHexID                    // trans_id: dhcp.id in hex
	actUpper                    // values in upper case (DHCP message types)
)

// counter slots of actCounter, summed into network.* totals on conn rows.
const (
	slotOrigBytes = iota
	slotRespBytes
	slotOrigIPBytes
	slotRespIPBytes
	slotOrigPkts
	slotRespPkts
	numSlots
)

// colDef is one row of the mapping tables below.
type colDef struct {
	col    string
	act    action
	fields []string
	arg    string // action argument: counter slot name, DN kind, flag name, ...
	soft   bool   // a value that does not fit the field is kept as zeek.<log>.<column> instead of rejecting the record
}

func c(col string, act action, fields ...string) colDef {
	return colDef{col: col, act: act, fields: fields}
}

// soft marks an application-layer column: an odd value (a status code of 0,
// a malformed address in a header) should not cost the whole record.
func soft(d colDef) colDef { d.soft = true; return d }

func arg(d colDef, a string) colDef { d.arg = a; return d }

// commonCols are the columns every log may have: the connection id of its
// records, the time, and what Zeek packages and log shippers commonly add.
var commonCols = []colDef{
	c("ts", actTS),
	c("uid", actField, "zeek.uid"),
	c("id.orig_h", actField, "source.ip"),
	c("id.orig_p", actField, "source.port"),
	c("id.resp_h", actField, "destination.ip"),
	c("id.resp_p", actField, "destination.port"),
	c("proto", actProto),
	c("community_id", actField, "network.community_id"), // zeek/community-id package
	c("orig_l2_addr", actUnique, "source.mac"),          // policy/protocols/conn/mac-logging
	c("resp_l2_addr", actUnique, "destination.mac"),
	c("vlan", actUnique, "network.vlan.id"), // policy/protocols/conn/vlan-logging
	c("inner_vlan", actUnique, "network.vlan.id"),
	c("_system_name", actField, "node"), // json-streaming-logs and Corelight: the sensor
	c("_path", actIgnore),
	c("_write_ts", actIgnore),
}

// logDef describes one supported Zeek log.
type logDef struct {
	name string
	// proto is the protocol (Arkime's name) every record of the log is
	// about; transport is the transport when the log has no proto column
	// and the protocol has only one.
	proto, transport string
	cols             []colDef
	// marks are columns only this log has, used to recognise a log without
	// a #path header or _path key.
	marks []string
}

var logDefs = []logDef{
	{name: "conn", cols: []colDef{
		c("service", actService),
		c("duration", actDuration),
		arg(c("orig_bytes", actCounter, "client.bytes"), "orig_bytes"),
		arg(c("resp_bytes", actCounter, "server.bytes"), "resp_bytes"),
		arg(c("orig_ip_bytes", actCounter, "source.bytes"), "orig_ip_bytes"),
		arg(c("resp_ip_bytes", actCounter, "destination.bytes"), "resp_ip_bytes"),
		arg(c("orig_pkts", actCounter, "source.packets"), "orig_pkts"),
		arg(c("resp_pkts", actCounter, "destination.packets"), "resp_pkts"),
		c("conn_state", actField, "zeek.conn_state"),
		c("history", actField, "zeek.history"),
		c("local_orig", actField, "zeek.local_orig"),
		c("local_resp", actField, "zeek.local_resp"),
		c("missed_bytes", actField, "zeek.missed_bytes"),
		c("tunnel_parents", actField, "zeek.tunnel_parents"),
		c("ip_proto", actField, "ipProtocol"), // Zeek 7
	}, marks: []string{"conn_state", "orig_ip_bytes", "resp_ip_bytes", "history", "missed_bytes"}},

	{name: "dns", proto: "dns", cols: []colDef{
		c("query", actUnique, "dns.queryHost", "dns.host"),
		c("qclass_name", actDNSClass, "dns.qc"),
		c("qtype_name", actUnique, "dns.qt"),
		c("rcode_name", actUnique, "dns.status"),
		c("answers", actDNSAnswers),
		c("TTLs", actDNSTTL, "dns.answers.ttl"),
		arg(c("AA", actDNSFlag, "dns.headerFlags"), "AA"),
		arg(c("TC", actDNSFlag, "dns.headerFlags"), "TC"),
		arg(c("RD", actDNSFlag, "dns.headerFlags"), "RD"),
		arg(c("RA", actDNSFlag, "dns.headerFlags"), "RA"),
	}, marks: []string{"qtype_name", "rcode_name", "qclass_name", "TTLs", "trans_id", "rtt"}},

	{name: "http", proto: "http", transport: "tcp", cols: []colDef{
		c("host", actHTTPHost, "http.host"),
		c("uri", actHTTPURI),
		c("method", actUnique, "http.method"),
		soft(c("status_code", actUnique, "http.statuscode")),
		c("user_agent", actUnique, "http.useragent"),
		c("referrer", actUnique, "http.request-referer"),
		c("version", actUnique, "http.clientVersion"),
		c("username", actUnique, "http.user"),
		c("orig_mime_types", actUnique, "http.bodyMagic"),
		c("resp_mime_types", actUnique, "http.bodyMagic"),
	}, marks: []string{"trans_depth", "status_code", "user_agent", "request_body_len", "response_body_len", "resp_mime_types"}},

	{name: "ssl", proto: "tls", cols: []colDef{
		c("version", actTLSVersion, "tls.version"),
		c("cipher", actUnique, "tls.cipher"),
		// Arkime files the TLS server name (SNI) under host.http, so one
		// host filter finds a site over HTTP and over HTTPS.
		c("server_name", actUnique, "http.host"),
		c("ja3", actUnique, "tls.ja3"), // salesforce/ja3 package
		c("ja3s", actUnique, "tls.ja3s"),
		c("ja4", actUnique, "tls.ja4"), // FoxIO ja4 package
		c("session_id", actUnique, "tls.srcSessionId"),
		arg(c("subject", actDN, "tls.server.subject"), "subject"), // Zeek before 4.2 logged the server certificate here
		arg(c("issuer", actDN, "tls.server.issuer"), "issuer"),
		arg(c("issuer_subject", actDN, "tls.server.issuer"), "issuer"),
		arg(c("not_valid_before", actCertTime, "cert.notBefore"), "before"),
		arg(c("not_valid_after", actCertTime, "cert.notAfter"), "after"),
		c("cert_chain_fuids", actField, "zeek.cert_chain_fuids"),
		c("client_cert_chain_fuids", actField, "zeek.client_cert_chain_fuids"),
		c("cert_chain_fps", actField, "zeek.cert_chain_fps"),
		c("client_cert_chain_fps", actField, "zeek.client_cert_chain_fps"),
	}, marks: []string{"cipher", "server_name", "cert_chain_fuids", "cert_chain_fps", "ssl_history", "resumed", "established", "next_protocol"}},

	// x509 records describe certificates, not connections: no addresses,
	// no uid. They become sessions of their own, found from an ssl record
	// through zeek.fuid (listed in zeek.cert_chain_fuids) or
	// zeek.fingerprint (listed in zeek.cert_chain_fps).
	{name: "x509", cols: []colDef{
		c("id", actField, "zeek.fuid"),
		c("fingerprint", actField, "zeek.fingerprint"),
		c("certificate.serial", actUnique, "cert.serial"),
		arg(c("certificate.subject", actDN), "subject"),
		arg(c("certificate.issuer", actDN), "issuer"),
		arg(c("certificate.not_valid_before", actCertTime, "cert.notBefore"), "before"),
		arg(c("certificate.not_valid_after", actCertTime, "cert.notAfter"), "after"),
		c("certificate.key_alg", actUnique, "cert.publicAlgorithm"),
		c("certificate.curve", actUnique, "cert.curve"),
		c("san.dns", actUnique, "cert.alt"),
	}, marks: []string{"certificate.serial", "certificate.subject", "certificate.version", "san.dns", "basic_constraints.ca"}},

	{name: "dhcp", proto: "dhcp", transport: "udp", cols: []colDef{
		c("uids", actField, "zeek.uid"),
		c("client_addr", actField, "source.ip"),
		c("server_addr", actField, "destination.ip"),
		c("client_port", actField, "source.port"),
		c("server_port", actField, "destination.port"),
		c("mac", actUnique, "dhcp.mac", "source.mac"),
		c("host_name", actUnique, "dhcp.host"),
		c("client_fqdn", actUnique, "dhcp.host"),
		soft(c("requested_addr", actUnique, "dhcp.requestIp")),
		c("assigned_addr", actField, "dhcp.assignedIp"),
		c("assigned_ip", actField, "dhcp.assignedIp"), // Zeek before 2.6
		c("lease_time", actSeconds, "lease.duration"),
		c("msg_types", actUpper, "dhcp.type"),
		c("duration", actDuration),
		c("trans_id", actHexID, "dhcp.id"), // Zeek before 2.6
	}, marks: []string{"uids", "msg_types", "assigned_addr", "lease_time", "client_fqdn", "assigned_ip"}},

	{name: "ssh", proto: "ssh", transport: "tcp", cols: []colDef{
		c("client", actUnique, "ssh.version"),
		c("server", actUnique, "ssh.version"),
		c("hassh", actUnique, "ssh.hassh"), // salesforce/hassh package
		c("hasshServer", actUnique, "ssh.hasshServer"),
	}, marks: []string{"auth_success", "auth_attempts", "host_key", "kex_alg", "hassh", "host_key_alg"}},
}

// spec is a colDef resolved against a registry.
type spec struct {
	act    action
	fields []*model.Field
	slot   int
	arg    string
	soft   bool
	attr   string // zeek.<log>.<column>: where unknown and soft values go
}

type logSpec struct {
	name, proto, transport string
	cols                   map[string]*spec
	marks                  []string
}

// buildSpecs resolves the tables against the builder's registry.
func buildSpecs(rb *ingest.RowBuilder) map[string]*logSpec {
	slots := map[string]int{"orig_bytes": slotOrigBytes, "resp_bytes": slotRespBytes, "orig_ip_bytes": slotOrigIPBytes,
		"resp_ip_bytes": slotRespIPBytes, "orig_pkts": slotOrigPkts, "resp_pkts": slotRespPkts}
	out := map[string]*logSpec{}
	for _, ld := range logDefs {
		ls := &logSpec{name: ld.name, proto: ld.proto, transport: ld.transport, cols: map[string]*spec{}, marks: ld.marks}
		for _, defs := range [][]colDef{commonCols, ld.cols} {
			for _, d := range defs {
				s := &spec{act: d.act, arg: d.arg, soft: d.soft, attr: "zeek." + ld.name + "." + d.col}
				for _, name := range d.fields {
					s.fields = append(s.fields, rb.Field(name))
				}
				if d.act == actCounter {
					s.slot = slots[d.arg]
				}
				ls.cols[d.col] = s
			}
		}
		out[ld.name] = ls
	}
	return out
}

// detectLog recognises a log from its column names when no #path header or
// _path key names it: the log with most of its marks among the columns;
// nil when none matches. cols calls its argument with each column name.
func detectLog(specs map[string]*logSpec, cols func(yield func(col string))) *logSpec {
	var hits [16]int
	cols(func(col string) {
		for _, i := range markOf[col] {
			hits[i]++
		}
	})
	var best *logSpec
	bestN := 0
	for i, ld := range logDefs {
		if hits[i] > bestN {
			best, bestN = specs[ld.name], hits[i]
		}
	}
	return best
}

// markOf maps a mark column to the logs (indexes in logDefs) it marks.
var markOf = func() map[string][]int {
	m := map[string][]int{}
	for i, ld := range logDefs {
		for _, c := range ld.marks {
			m[c] = append(m[c], i)
		}
	}
	return m
}()
