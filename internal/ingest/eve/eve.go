// Package eve decodes Suricata EVE JSON logs (one event per line, plain or
// gzip'd) into session rows and alerts, streaming and in constant memory.
//
// # What an event becomes
//
// The flow, netflow, dns, http, tls, ssh and dhcp events each become one
// session row; events are not merged. Every event about one flow carries
// the flow's flow_id, kept in eve.flow_id, and its community_id when
// Suricata computes one, kept in network.community_id (shared with Zeek's
// records of the same flow), so queries gather a flow's events by either.
//
//   - flow: the whole bidirectional flow. flow.start and flow.end are
//     firstPacket and lastPacket; pkts_toserver/pkts_toclient are
//     source.packets/destination.packets; bytes_toserver/bytes_toclient are
//     source.bytes/destination.bytes. Suricata counts whole packets as
//     captured, link-layer header included, which is how Arkime counts
//     source.bytes too (Zeek's IP-level counts are smaller). state, reason
//     and alerted are eve.flow_state, eve.flow_reason, eve.flow_alerted;
//     app_proto names the protocol.
//   - netflow: one direction of a flow (Suricata logs the reply direction
//     as a second record with the addresses swapped): pkts and bytes are
//     source.packets and source.bytes, min_ttl/max_ttl srcTTL.
//   - dns: query names to dns.queryHost (and dns.host), types to dns.qt,
//     rcode to dns.status, flags to dns.headerFlags; answers (v1, v2
//     detailed or grouped, v3) to dns.answers.* with their addresses in
//     dns.ip and names in dns.host. The addresses are those of the flow
//     (client first) as Suricata 5 and later log them.
//   - http: hostname, url (http.uri is host and url, as Arkime writes it),
//     method, status, user agent, referrer, content type and header names
//     to http.*.
//   - tls: version, ja3/ja3s/ja4 to tls.*; sni to http.host, where Arkime
//     files it; the server certificate's subject and issuer (split into CN,
//     O, OU), serial, SHA-1 fingerprint (cert.hash) and validity to cert.*.
//   - ssh: the client and server banners, rebuilt as SSH-<proto>-<software>,
//     to ssh.version; hassh hashes to ssh.hassh and ssh.hasshServer.
//   - dhcp: message type, client MAC, host name, requested and assigned
//     addresses, lease time and vendor class to dhcp.* and lease.duration.
//
// alert events become Alert values (signature, category, severity, ...),
// emitted beside the rows and linked to their flow by flow_id (and
// community_id). Other event types (stats, fileinfo, anomaly, ...) are
// rejected with the reason "unsupported event type".
//
// Keys that no table here names are kept as discovered fields named
// eve.<dotted path> (eve.tcp.tcp_flags, eve.http.length); blobs Suricata can
// log (packets, payloads, bodies, certificates) are dropped. A value that
// does not fit its field rejects the event, as in a session document,
// except for an HTTP status, kept as eve.http.status instead.
package eve

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Rejection reasons of this package, besides ingest's.
const (
	ReasonUnsupported = "unsupported event type"
	ReasonAlert       = "invalid alert"
	ReasonRead        = "read error"
)

// Result counts what a log held; Alerts counts the accepted alerts.
type Result = ingest.StreamResult

// Alert is a Suricata alert: which rule fired on which flow. It is linked to
// the sessions of its flow by FlowID (eve.flow_id) and CommunityID
// (network.community_id).
type Alert struct {
	Tenant      string     `json:"tenant"`
	Timestamp   int64      `json:"timestamp"` // epoch ms
	FlowID      int64      `json:"flow_id,omitempty"`
	CommunityID string     `json:"community_id,omitempty"`
	SrcIP       netip.Addr `json:"src_ip"`
	SrcPort     int        `json:"src_port"`
	DstIP       netip.Addr `json:"dest_ip"`
	DstPort     int        `json:"dest_port"`
	Transport   string     `json:"transport,omitempty"` // network.transport's vocabulary
	AppProto    string     `json:"app_proto,omitempty"`
	Sensor      string     `json:"sensor,omitempty"` // EVE "host": the sensor name, when configured
	// The rule: generator, signature id and revision, its message and
	// classification.
	GID         int64  `json:"gid,omitempty"`
	SignatureID int64  `json:"signature_id"`
	Rev         int64  `json:"rev,omitempty"`
	Signature   string `json:"signature"`
	Category    string `json:"category,omitempty"`
	// Severity is Suricata's: 1 is the highest, 3 (or 4) the lowest; see
	// Level for Seshat's scale.
	Severity int `json:"severity"`
	// Action is what Suricata did: allowed, or blocked in IPS mode.
	Action   string              `json:"action,omitempty"`
	Metadata map[string][]string `json:"metadata,omitempty"`
}

// Level maps Suricata's severity (1 high, 2 medium, 3 low, 4 very low) to
// Seshat's severity scale (0 informational to 4 critical): 1 is 3 (high),
// 2 is 2, 3 is 1, anything else 0. Suricata has no level above "high".
func (a *Alert) Level() int {
	switch a.Severity {
	case 1:
		return 3
	case 2:
		return 2
	case 3:
		return 1
	}
	return 0
}

// Record is what Decode emits: a session row, or an alert (Alert non-nil).
type Record struct {
	Row   store.Row
	Alert *Alert
}

// Config configures a Decoder.
type Config = ingest.StreamConfig

// Decoder turns EVE logs into rows and alerts for one tenant. It is not
// safe for concurrent use; it may decode several streams one after another.
type Decoder struct {
	cfg     Config
	maxLine int
	rb      *ingest.RowBuilder
	specs   map[string]*spec
	parser  fastjson.Parser
	f       fields
	rec     record
	name    []byte // reused: the dotted path of the current key
	numBuf  []byte
	now     int64 // future limit of the current stream, epoch ms
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
	d := &Decoder{cfg: cfg, rb: rb, maxLine: cfg.MaxLineBytes}
	if d.maxLine <= 0 {
		d.maxLine = rb.Limits().MaxDocBytes
	}
	d.specs = buildSpecs(rb)
	d.f = resolveFields(rb)
	return d
}

// DiscoveredFields lists the fields the decoded events had that the
// registry does not know (eve.<path>), for field discovery.
func (d *Decoder) DiscoveredFields() []model.Field { return d.rb.DiscoveredFields() }

// Decode reads an EVE log, plain or gzip'd, and calls emit with each row and
// alert. The error is non-nil when reading failed (a truncated gzip stream)
// or emit failed; the result counts what was read up to there.
func (d *Decoder) Decode(r io.Reader, emit func(Record) error) (Result, error) {
	res := Result{Rejected: map[string]int{}}
	src, err := ingest.Decompress(r)
	if err != nil {
		res.Stopped = &ingest.LineError{Line: 0, Reason: ReasonRead, Detail: err.Error()}
		return res, fmt.Errorf("cannot decode EVE log: %w", err)
	}
	lr := ingest.NewLineReader(src, d.maxLine)
	now := d.cfg.Now()
	d.rb.Start(now)
	d.now = now.Add(d.rb.Limits().FutureSkew).UnixMilli()
	for {
		line, tooLong, err := lr.Next()
		if err == io.EOF {
			return res, nil
		}
		n := lr.Line()
		if err != nil {
			res.Stopped = &ingest.LineError{Line: n + 1, Reason: ReasonRead, Detail: err.Error()}
			return res, fmt.Errorf("cannot decode EVE log: line %d: %w", n+1, err)
		}
		if !tooLong && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		res.Received++
		if tooLong {
			res.Reject(n, &ingest.DocError{Reason: ingest.ReasonLineTooLong,
				Detail: fmt.Sprintf("line %d is longer than %d bytes", n, d.maxLine)})
			continue
		}
		out, derr := d.event(line)
		if derr != nil {
			res.Reject(n, derr)
			continue
		}
		if err := emit(out); err != nil {
			return res, err
		}
		res.Accepted++
		if out.Alert != nil {
			res.Alerts++
		}
	}
}

// event decodes one line.
func (d *Decoder) event(line []byte) (Record, *ingest.DocError) {
	v, err := d.parser.ParseBytes(line)
	if err != nil {
		return Record{}, reject(ingest.ReasonMalformed, "malformed JSON: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return Record{}, reject(ingest.ReasonNotObject, "expected a JSON object, found %s", v.Type())
	}
	et := obj.Get("event_type")
	if et == nil || et.Type() != fastjson.TypeString {
		return Record{}, reject(ReasonUnsupported, "no event_type")
	}
	typ, _ := et.StringBytes()
	switch string(typ) {
	case "alert":
		a, derr := d.alert(v)
		if derr != nil {
			return Record{}, derr
		}
		return Record{Alert: a}, nil
	case "flow", "netflow", "dns", "http", "tls", "ssh", "dhcp":
		row, derr := d.session(obj, string(typ))
		if derr != nil {
			return Record{}, derr
		}
		return Record{Row: row}, nil
	}
	return Record{}, reject(ReasonUnsupported, "event_type %q is not imported (flow, netflow, dns, http, tls, ssh, dhcp, alert)", truncate(string(typ)))
}

func reject(reason, format string, args ...any) *ingest.DocError {
	return &ingest.DocError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseTime reads an EVE timestamp: 2017-04-07T22:24:37.251547+0100, with a
// zone written without a colon, with one, or none (UTC, as certificate
// validity times are written).
func parseTime(name, s string) (int64, *ingest.DocError) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1970 {
				break
			}
			return t.UnixMilli(), nil
		}
	}
	return 0, reject(ingest.ReasonBadTime, "%s: %q is not a time", name, truncate(s))
}
