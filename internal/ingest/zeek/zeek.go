// Package zeek decodes Zeek logs (conn, dns, http, ssl, x509, dhcp, ssh)
// into session rows, streaming and in constant memory. Both of Zeek's log
// formats are read, plain or gzip'd (recognised by the magic bytes):
//
//   - ASCII (TSV): #separator, #set_separator, #empty_field, #unset_field,
//     #path, #fields and #types headers, then one record per line; "-" is
//     unset, "(empty)" an empty set or string, sets are joined by the set
//     separator and bytes Zeek escaped are \xHH. Header blocks may repeat
//     (logs joined with cat); each new #fields starts a new schema.
//   - JSON: one object per line; ts as epoch seconds or ISO 8601; _path
//     names the log, else the log is recognised from its columns.
//
// # What a record becomes
//
// Every record becomes one session row; records are not merged. The records
// that Zeek writes about one connection (its conn record, and its dns, http,
// ssl and ssh records) share the connection's uid, kept in zeek.uid, so a
// query on zeek.uid gathers them; merging them into one session is left to
// the store, which sees every log, rather than to one decode call, which
// sees one file and would have to hold rows back to merge them.
//
// Each record keeps the 5-tuple and time of its connection (ts is
// firstPacket) and the fields of its log, by the registry's Arkime names:
//
//   - conn: duration gives lastPacket and session.duration; proto is
//     network.transport; service (ssl,http) is zeek.service as written and
//     protocol by Arkime's names (tcp, tls, http). Byte counters keep Zeek's
//     meaning: orig_bytes/resp_bytes are payload bytes (client.bytes,
//     server.bytes, summed in totDataBytes); orig_ip_bytes/resp_ip_bytes
//     are IP-level bytes, IP headers included but not link-layer headers,
//     and go to source.bytes/destination.bytes (summed in network.bytes),
//     which Arkime counts as whole frames: Zeek's figures are smaller by the
//     link-layer header of every packet. orig_pkts/resp_pkts are
//     source.packets/destination.packets. uid, conn_state, history,
//     local_orig, local_resp, missed_bytes and tunnel_parents are kept as
//     zeek.*.
//   - dns: query is dns.queryHost (and dns.host), qtype_name dns.qt,
//     qclass_name dns.qc, rcode_name dns.status, AA/TC/RD/RA
//     dns.headerFlags; answers are kept as written in zeek.answers, the
//     addresses among them in dns.ip and the names in dns.host; TTLs are
//     dns.answers.ttl.
//   - http: host, method, status_code, user_agent, referrer, version,
//     username and MIME types to http.*; http.uri is host and uri, as
//     Arkime writes it, and http.path the uri without its query.
//   - ssl: version (TLSv12 is TLSv1.2), cipher, ja3/ja3s/ja4 when the
//     packages log them, to tls.*; server_name (SNI) to http.host, where
//     Arkime files it; the certificate chain ids to zeek.cert_chain_*.
//   - x509: a certificate, not a connection: it becomes a session without
//     addresses, with cert.* fields (subject and issuer split into CN, O,
//     OU), identified by zeek.fuid (its id, Zeek before 4.2) or
//     zeek.fingerprint (Zeek 4.2 and later), which the ssl records of the
//     connections that carried it list in zeek.cert_chain_fuids or
//     zeek.cert_chain_fps.
//   - dhcp: client_addr/server_addr are source.ip/destination.ip (a DHCP
//     exchange is broadcast: uids lists every connection of it); mac, host
//     names, requested address, message types and lease time to dhcp.*,
//     lease.duration; assigned_addr to dhcp.assignedIp.
//   - ssh: client and server banners to ssh.version, hassh/hasshServer to
//     ssh.*.
//
// Columns that no table here names are kept as discovered fields named
// zeek.<log>.<column>, typed from #types (or the JSON value). A value that
// does not fit its field rejects the record, as it would in a session
// document, except in a few application columns (an HTTP status code,
// a requested DHCP address) where it is kept as zeek.<log>.<column> instead.
//
// # Errors
//
// A record that cannot be decoded (wrong number of columns, a bad address,
// a line longer than the limit, a log this package does not import) is
// rejected with its reason and line number and the rest are kept. Headers
// that make the rest unreadable (data before #fields, #types not matching
// #fields, an unreadable #separator) and read errors (a truncated gzip
// stream) stop decoding: Decode returns an error and Result.Stopped says
// where; the rows emitted before stay good.
package zeek

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Rejection reasons of this package, besides ingest's.
const (
	ReasonColumns     = "wrong number of columns"
	ReasonUnsupported = "unsupported Zeek log"
	ReasonUnreadable  = "unreadable header"
	ReasonRead        = "read error"
)

// Result counts what a log held.
type Result = ingest.StreamResult

// Config configures a Decoder.
type Config = ingest.StreamConfig

// Decoder turns Zeek logs into session rows for one tenant. It is not safe
// for concurrent use; it may decode several streams one after another.
type Decoder struct {
	cfg     Config
	maxLine int
	rb      *ingest.RowBuilder
	specs   map[string]*logSpec
	parser  fastjson.Parser
	f       fields
	rec     record
	tsv     tsvState
	cols    [][]byte // reused: the columns of a TSV line
	setCols [][]byte // reused: the elements of a TSV set
	elems   []string // reused: the elements of a set
	numBuf  []byte   // reused: JSON number text
}

// fields are the registry fields the decoder sets itself.
type fields struct {
	first, last, duration, transport, protocol, service, log, certCnt *model.Field
	httpURI, httpPath, netBytes, netPackets, totData                  *model.Field
	validDays, validSeconds, remainingDays, remainingSeconds          *model.Field
	answers, dnsIP, dnsHost                                           *model.Field
}

// NewDecoder makes a decoder.
func NewDecoder(cfg Config) *Decoder {
	if cfg.Registry == nil {
		cfg.Registry = model.Default
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rb := ingest.NewRowBuilder(cfg.Registry, cfg.Limits, cfg.Tenant)
	d := &Decoder{cfg: cfg, rb: rb, specs: buildSpecs(rb), maxLine: cfg.MaxLineBytes}
	if d.maxLine <= 0 {
		d.maxLine = rb.Limits().MaxDocBytes
	}
	d.f = fields{
		first: rb.Field("firstPacket"), last: rb.Field("lastPacket"), duration: rb.Field("session.duration"),
		transport: rb.Field("network.transport"), protocol: rb.Field("protocol"), service: rb.Field("zeek.service"),
		log: rb.Field("zeek.log"), certCnt: rb.Field("certCnt"),
		httpURI: rb.Field("http.uri"), httpPath: rb.Field("http.path"),
		netBytes: rb.Field("network.bytes"), netPackets: rb.Field("network.packets"), totData: rb.Field("totDataBytes"),
		validDays: rb.Field("cert.validDays"), validSeconds: rb.Field("cert.validSeconds"),
		remainingDays: rb.Field("cert.remainingDays"), remainingSeconds: rb.Field("cert.remainingSeconds"),
		answers: rb.Field("zeek.answers"), dnsIP: rb.Field("dns.ip"), dnsHost: rb.Field("dns.host"),
	}
	return d
}

// DiscoveredFields lists the fields the decoded logs had that the registry
// does not know (zeek.<log>.<column>), for field discovery.
func (d *Decoder) DiscoveredFields() []model.Field { return d.rb.DiscoveredFields() }

// Decode reads a Zeek log, TSV or JSON, plain or gzip'd, and calls emit
// with each row. The error is non-nil when decoding stopped early (see the
// package documentation) or emit failed; the result counts what was read up
// to there.
func (d *Decoder) Decode(r io.Reader, emit func(store.Row) error) (Result, error) {
	res := Result{Rejected: map[string]int{}}
	src, err := ingest.Decompress(r)
	if err != nil {
		res.Stopped = &ingest.LineError{Line: 0, Reason: ReasonRead, Detail: err.Error()}
		return res, fmt.Errorf("cannot decode Zeek log: %w", err)
	}
	lr := ingest.NewLineReader(src, d.maxLine)
	d.rb.Start(d.cfg.Now())
	d.tsv.reset()
	for {
		line, tooLong, err := lr.Next()
		if err == io.EOF {
			return res, nil
		}
		n := lr.Line()
		if err != nil {
			res.Stopped = &ingest.LineError{Line: n + 1, Reason: ReasonRead, Detail: err.Error()}
			return res, fmt.Errorf("cannot decode Zeek log: line %d: %w", n+1, err)
		}
		if tooLong {
			res.Received++
			res.Reject(n, &ingest.DocError{Reason: ingest.ReasonLineTooLong,
				Detail: fmt.Sprintf("line %d is longer than %d bytes", n, d.maxLine)})
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '#' {
			if lerr := d.tsv.header(line, n); lerr != nil {
				res.Stopped = lerr
				return res, fmt.Errorf("cannot decode Zeek log: %w", lerr)
			}
			continue
		}
		var row store.Row
		var derr *ingest.DocError
		if line[0] == '{' {
			res.Received++
			row, derr = d.jsonRecord(line)
		} else {
			if d.tsv.fields == nil {
				lerr := &ingest.LineError{Line: n, Reason: ReasonUnreadable,
					Detail: "a data line before any #fields header: the columns cannot be told apart"}
				res.Stopped = lerr
				return res, fmt.Errorf("cannot decode Zeek log: %w", lerr)
			}
			res.Received++
			row, derr = d.tsvRecord(line)
		}
		if derr != nil {
			res.Reject(n, derr)
			continue
		}
		if err := emit(row); err != nil {
			return res, err
		}
		res.Accepted++
	}
}

func reject(reason, format string, args ...any) *ingest.DocError {
	return &ingest.DocError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
