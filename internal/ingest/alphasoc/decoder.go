// Package alphasoc decodes telemetry in AlphaSOC's event format, the bodies
// of the REST API v1 endpoints /v1/events/{dns,ip,http,tls,lease} as
// AlphaSOC's Network Flight Recorder (nfr) and other shippers send them,
// into Seshat sessions.
//
// An event is a session document in AlphaSOC's vocabulary: its names are
// aliases in the field registry (srcIP is source.ip, destPort is
// destination.port, query is dns.queryHost, ...), so each event is
// normalized and then validated by the same rules as a native upload
// (ingest.SessionDecoder). What the adapter adds:
//
//   - Every event becomes a network session (session.type "network") whose
//     protocol list holds the transport where known and the event's
//     protocol: dns, http, tls, or dhcp for lease events. http and tls
//     events are TCP, lease events UDP; dns and ip events take their
//     transport from proto.
//   - Bytes: AlphaSOC counts bytes from the source endpoint's point of
//     view, so bytesOut (sent by the source) is source.bytes and bytesIn
//     (received by the source) is destination.bytes.
//   - Times: ts is firstPacket. An ip event's duration (seconds, fractional)
//     and a lease event's duration (whole seconds, the lease's length) give
//     lastPacket = ts + duration; otherwise lastPacket is ts. On lease events
//     duration is lease.duration, elsewhere session.duration.
//   - validFrom and validTo are times (RFC 3339 or epoch), kept as epoch
//     milliseconds in cert.notBefore and cert.notAfter; they are not held to
//     the future-skew limit, certificates are valid for years.
//   - Absent values: nfr encodes unknown values as zero values, so empty
//     strings, ports and HTTP status 0, and the zero time 0001-01-01 are
//     treated as absent rather than stored or rejected.
//   - Required fields (else the event is rejected as "missing required
//     field"): ts and a source endpoint (srcIP, srcHost or srcID) on every
//     event; query on dns, destIP on ip, url on http, one of certHash, ja3,
//     ja3s, issuer or subject on tls, srcIP on lease.
//
// Each accepted event also keeps its raw text, so the event as sent stays
// available beside the session it became or joined.
//
// Join rule (Joiner): a dns, http or tls event whose 5-tuple matches an ip
// session stored in the last Window (default 5 minutes), and whose ts falls
// in that session's [firstPacket, lastPacket + Window], joins it: it makes
// no session of its own, and its raw event is kept under the ip session's
// id (its fields are visible through the session's events, not merged into
// the session's row). Events without a destination match on source address,
// source port and transport; the transport defaults to tcp for http and
// tls and to udp, then tcp, for dns. Only ip-then-application is joined.
package alphasoc

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// Type is an AlphaSOC event type, the last part of /v1/events/{type}.
type Type string

// The event types of the AlphaSOC REST API v1.
const (
	DNS   Type = "dns"
	IP    Type = "ip"
	HTTP  Type = "http"
	TLS   Type = "tls"
	Lease Type = "lease"
)

// Types lists every event type.
var Types = []Type{DNS, IP, HTTP, TLS, Lease}

// ParseType recognises an event type by name.
func ParseType(s string) (Type, bool) {
	for _, t := range Types {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

// protocol is the name the event's protocol has in the protocol list.
func (t Type) protocol() string {
	switch t {
	case DNS, HTTP, TLS:
		return string(t)
	case Lease:
		return "dhcp"
	}
	return ""
}

// transport is the transport an event of the type always uses, or "".
func (t Type) transport() string {
	switch t {
	case HTTP, TLS:
		return "tcp"
	case Lease:
		return "udp"
	}
	return ""
}

// ReasonMissing is the rejection reason of events without a field their
// type needs.
const ReasonMissing = "missing required field"

// Flow is the 5-tuple an event carries; absent parts are the zero address,
// port -1 and transport "".
type Flow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort int64
	Transport        string
}

// Event is one accepted event: the session it becomes and the raw event.
type Event struct {
	Type Type
	Row  store.Row // the session, its ID set
	// Raw is the event as sent (a slice of the body; valid UTF-8).
	Raw   []byte
	First int64 // ts, epoch ms
	Last  int64 // lastPacket, epoch ms
	Flow  Flow
}

// Decoder turns a body of events of one type into sessions for one
// tenant. It is not safe for concurrent use; make one per request.
type Decoder struct {
	typ   Type
	sess  *ingest.SessionDecoder
	arena fastjson.Arena
	ev    Event
	// Indexes in Row.Cols of the columns the adapter reads or sets.
	typeIdx, protoIdx, transportIdx, firstIdx, lastIdx, srcIPIdx, srcPortIdx, dstIPIdx, dstPortIdx int
}

// NewDecoder makes a decoder for tenant's events of type t.
func NewDecoder(reg *model.Registry, limits ingest.Limits, tenant string, t Type) *Decoder {
	col := func(name string) int {
		f, ok := reg.Lookup(name)
		if !ok || f.ColumnIndex() < 0 {
			panic("alphasoc: the registry has no column for " + name) // a programming error
		}
		return f.ColumnIndex()
	}
	return &Decoder{typ: t, sess: ingest.NewSessionDecoder(reg, limits, tenant),
		typeIdx: col("session.type"), protoIdx: col("protocol"), transportIdx: col("network.transport"),
		firstIdx: col("firstPacket"), lastIdx: col("lastPacket"),
		srcIPIdx: col("source.ip"), srcPortIdx: col("source.port"), dstIPIdx: col("destination.ip"), dstPortIdx: col("destination.port")}
}

// Type is the type of the events the decoder reads.
func (d *Decoder) Type() Type { return d.typ }

// DiscoveredFields lists the fields events carried that the registry does
// not know.
func (d *Decoder) DiscoveredFields() []model.Field { return d.sess.DiscoveredFields() }

// Decode reads every event of body (objects one after another or
// newline-delimited) and calls emit with each valid one; the *Event is
// reused, emit must copy what it keeps. Invalid events are counted in the
// result by reason; an error from emit stops decoding and is returned.
func (d *Decoder) Decode(body []byte, emit func(*Event) error) (ingest.Result, error) {
	return d.sess.DecodeDocs(body, func(doc ingest.Doc) (*ingest.DocError, error) {
		if derr := d.event(doc); derr != nil {
			return derr, nil
		}
		return nil, emit(&d.ev)
	})
}

// seen flags for the fields the rules need.
const (
	hasTs = 1 << iota
	hasSrcIP
	hasSrcOther // srcHost or srcID
	hasQuery
	hasDestIP
	hasURL
	hasTLSInfo // certHash, ja3, ja3s, issuer or subject
)

// event normalizes one event into d.ev.
func (d *Decoder) event(doc ingest.Doc) *ingest.DocError {
	obj, err := doc.Value.Object()
	if err != nil {
		return ingest.Reject(ingest.ReasonNotObject, "expected a JSON object, found %s", doc.Value.Type())
	}
	d.arena.Reset()
	var (
		seen     int
		absent   [16]string // keys whose zero values mean "unknown"
		nabsent  int
		replace  [4]replacement
		nreplace int
		duration = -1.0
		derr     *ingest.DocError
	)
	drop := func(k string) {
		if nabsent < len(absent) {
			absent[nabsent] = k
			nabsent++
		}
	}
	obj.Visit(func(k []byte, v *fastjson.Value) {
		t := v.Type()
		// name is the constant spelling of a known key: looking it up with
		// string(k) does not allocate, keeping a copy of k would.
		name, known := fieldNames[string(k)]
		if derr != nil || t == fastjson.TypeNull || !known {
			return // unknown keys are left to the session rules
		}
		switch t {
		case fastjson.TypeString:
			if b, _ := v.StringBytes(); len(b) == 0 {
				drop(name)
				return
			}
		case fastjson.TypeObject:
			derr = ingest.Reject(ingest.ReasonType, "%s: expected a value, found an object", name)
			return
		}
		switch name {
		case "ts":
			seen |= hasTs
		case "srcIP":
			seen |= hasSrcIP
		case "srcHost", "srcID":
			seen |= hasSrcOther
		case "query":
			seen |= hasQuery
		case "destIP":
			seen |= hasDestIP
		case "url":
			seen |= hasURL
		case "certHash", "ja3", "ja3s", "issuer", "subject":
			seen |= hasTLSInfo
		case "srcPort", "destPort", "status":
			if n, err := v.Int64(); t == fastjson.TypeNumber && err == nil && n == 0 {
				drop(name)
			}
		case "proto":
			// A protocol number names the transport the way ipProtocol does.
			var n int64
			var perr error
			if t == fastjson.TypeNumber {
				n, perr = v.Int64()
			} else if b, err := v.StringBytes(); err == nil {
				n, perr = strconv.ParseInt(string(b), 10, 64)
			} else {
				perr = err
			}
			if perr == nil && n >= 0 && n <= 255 && nreplace < len(replace) {
				replace[nreplace].key, replace[nreplace].v = name, d.arena.NewString(ingest.TransportName(n))
				nreplace++
			}
		case "validFrom", "validTo":
			ms, zero, e := certTime(name, v)
			switch {
			case e != nil:
				derr = e
			case zero:
				drop(name)
			case nreplace < len(replace):
				replace[nreplace].key, replace[nreplace].v = name, d.arena.NewNumberString(strconv.FormatInt(ms, 10))
				nreplace++
			}
		case "duration":
			x, err := v.Float64()
			if t != fastjson.TypeNumber || err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				derr = ingest.Reject(ingest.ReasonType, "duration: expected a number of seconds, found %s", v.MarshalTo(nil))
				return
			}
			if x < 0 || x > 1e10 {
				derr = ingest.Reject(ingest.ReasonRange, "duration: %g seconds is out of range 0-1e10", x)
				return
			}
			duration = x
		}
	})
	if derr != nil {
		return derr
	}
	if derr := d.required(seen); derr != nil {
		return derr
	}
	null := d.arena.NewNull()
	for _, k := range absent[:nabsent] {
		obj.Set(k, null)
	}
	for _, r := range replace[:nreplace] {
		obj.Set(r.key, r.v)
	}
	if d.typ == Lease {
		// On lease events duration is the lease's length, not the
		// connection's (the registry's bare alias).
		if v := obj.Get("duration"); v != nil {
			obj.Set("duration", null)
			obj.Set("lease.duration", v)
		}
	}
	row, derr := d.sess.Row(doc.Value)
	if derr != nil {
		return derr
	}
	return d.finish(doc.Raw, row, duration)
}

// replacement is a value an event's key gets before validation.
type replacement struct {
	key string
	v   *fastjson.Value
}

// fieldNames are the AlphaSOC names whose zero values may be dropped and
// whose values must not be objects; other keys are left to the session
// rules (which accept any registry name and keep unknown fields).
var fieldNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"ts", "srcIP", "srcPort", "srcHost", "srcMac", "srcUser", "srcID", // every type
		"query", "qtype", // dns
		"destIP", "destPort", "proto", "bytesIn", "bytesOut", "app", "action", "duration", "ja3", // ip
		"url", "method", "status", "contentType", "referrer", "userAgent", // http
		"certHash", "issuer", "subject", "validFrom", "validTo", "ja3s", // tls
		"type", "termination", // lease
	} {
		m[n] = n
	}
	return m
}()

// certTime reads a certificate validity time; zero reports Go's zero time,
// which nfr sends for an unknown one.
func certTime(key string, v *fastjson.Value) (ms int64, zero bool, derr *ingest.DocError) {
	var text string
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		text = string(b)
	case fastjson.TypeNumber:
		text = string(v.MarshalTo(nil))
	default:
		return 0, false, ingest.Reject(ingest.ReasonType, "%s: expected a time, found %s", key, v.Type())
	}
	if len(text) >= 10 && text[:10] == "0001-01-01" {
		return 0, true, nil
	}
	ms, err := query.ParseTime(text)
	if err != nil {
		return 0, false, ingest.Reject(ingest.ReasonBadTime, "%s: %q: %v", key, shorten(text), err)
	}
	return ms, false, nil
}

func (d *Decoder) required(seen int) *ingest.DocError {
	need := func(flag int, what string) *ingest.DocError {
		if seen&flag == 0 {
			return ingest.Reject(ReasonMissing, "%s events need %s", d.typ, what)
		}
		return nil
	}
	if derr := need(hasTs, "ts"); derr != nil {
		return derr
	}
	if derr := need(hasSrcIP|hasSrcOther, "a source: srcIP, srcHost or srcID"); derr != nil {
		return derr
	}
	switch d.typ {
	case DNS:
		return need(hasQuery, "query")
	case IP:
		return need(hasDestIP, "destIP")
	case HTTP:
		return need(hasURL, "url")
	case TLS:
		return need(hasTLSInfo, "one of certHash, ja3, ja3s, issuer or subject")
	case Lease:
		return need(hasSrcIP, "srcIP")
	}
	return nil
}

// finish applies the event-level rules to a validated row.
func (d *Decoder) finish(raw []byte, row store.Row, duration float64) *ingest.DocError {
	first := row.Cols[d.firstIdx].(int64)
	last := row.Cols[d.lastIdx].(int64)
	if duration >= 0 && (d.typ == IP || d.typ == Lease) {
		last = first + int64(math.Round(duration*1000))
		row.Cols[d.lastIdx] = last
	}
	row.Cols[d.typeIdx] = "network"
	transport, _ := row.Cols[d.transportIdx].(string)
	if transport == "" {
		transport = d.typ.transport()
	}
	protos, _ := row.Cols[d.protoIdx].([]string)
	protos = addProto(addProto(protos, transport), d.typ.protocol())
	if transport != "" {
		row.Cols[d.transportIdx] = transport
	}
	if len(protos) > 0 {
		row.Cols[d.protoIdx] = protos
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	fl := Flow{SrcPort: -1, DstPort: -1, Transport: transport}
	fl.Src, _ = row.Cols[d.srcIPIdx].(netip.Addr)
	fl.Dst, _ = row.Cols[d.dstIPIdx].(netip.Addr)
	if p, ok := row.Cols[d.srcPortIdx].(int64); ok {
		fl.SrcPort = p
	}
	if p, ok := row.Cols[d.dstPortIdx].(int64); ok {
		fl.DstPort = p
	}
	d.ev = Event{Type: d.typ, Row: row, Raw: raw, First: first, Last: last, Flow: fl}
	return nil
}

func addProto(list []string, p string) []string {
	if p == "" {
		return list
	}
	for _, q := range list {
		if q == p {
			return list
		}
	}
	return append(list, p)
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
