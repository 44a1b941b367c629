// Package detect finds threats in sessions as they are stored: it matches
// them against threat-intelligence feeds (intel.go), sets the session's
// triage fields (threats, classification, risk.score, severity) and raises
// alerts. Heuristics run alongside: port_scan (portscan.go) flags a source
// reaching 25 distinct ports of one host, 25 distinct hosts on one port or
// 25 distinct hosts by ICMP within 60 s of session time (PortScanConfig
// changes these), with state per tenant capped at 50 000 sources and forgotten after a window of inactivity. It wraps the store (Store), so that every ingest path — native
// uploads, AlphaSOC events, imports — gets detection without knowing.
package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Config says where the feeds are.
type Config struct {
	// Intel lists feed files or folders (walked recursively).
	Intel []string
	// PortScan sets the port_scan heuristic (portscan.go), on by default.
	PortScan PortScanConfig
}

// Detector matches rows against the loaded intel. The index is swapped
// whole on reload, so matching never waits for a load.
type Detector struct {
	cfg Config
	log *slog.Logger
	idx atomic.Pointer[Index]

	srcIP, dstIP, dstPort, srcPort, first, last, transport int
	threats, class, risk, severity                         int

	parsers sync.Pool // *fastjson.Parser

	scan *portScanner // nil when disabled
}

// attrKinds are the attribute fields matched, with the kind of indicator
// each is compared to.
var attrKinds = map[string]Kind{
	"dns.queryHost": KindDomain, "dns.host": KindDomain, "http.host": KindDomain, "quic.host": KindDomain,
	"http.uri": KindURL, "http.useragent": KindUserAgent,
	"tls.ja3": KindJA3, "tls.ja3s": KindJA3, "tls.ja4": KindJA4,
	"cert.hash": KindCertHash, "http.md5": KindFileHash, "http.sha256": KindFileHash,
}

// New makes a detector over reg's columns and loads cfg's feeds.
func New(cfg Config, reg *model.Registry, log *slog.Logger) (*Detector, error) {
	if log == nil {
		log = slog.Default()
	}
	d := &Detector{cfg: cfg, log: log}
	for _, c := range []struct {
		name string
		dst  *int
	}{{"source.ip", &d.srcIP}, {"destination.ip", &d.dstIP}, {"destination.port", &d.dstPort}, {"source.port", &d.srcPort},
		{"firstPacket", &d.first}, {"lastPacket", &d.last}, {"network.transport", &d.transport},
		{"threats", &d.threats}, {"classification", &d.class}, {"risk.score", &d.risk}, {"severity", &d.severity}} {
		f, ok := reg.Lookup(c.name)
		if !ok || f.ColumnIndex() < 0 {
			return nil, fmt.Errorf("cannot make the detector: the registry has no column %q", c.name)
		}
		*c.dst = f.ColumnIndex()
	}
	if !cfg.PortScan.Disabled {
		d.scan = newPortScanner(cfg.PortScan)
	}
	if err := d.Reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// Reload reads the configured feeds again and swaps the new index in; on
// error the old index stays.
func (d *Detector) Reload() error {
	start := time.Now()
	inds, err := LoadPaths(d.cfg.Intel)
	if err != nil {
		return err
	}
	ix := Build(inds)
	d.idx.Store(ix)
	if len(d.cfg.Intel) > 0 {
		d.log.Info("threat intelligence loaded", "indicators", ix.Len(), "paths", d.cfg.Intel, "took", time.Since(start).String())
	}
	return nil
}

// SetIndex swaps in an index built elsewhere (tests, benchmarks).
func (d *Detector) SetIndex(ix *Index) { d.idx.Store(ix) }

// Index is the index in use.
func (d *Detector) Index() *Index { return d.idx.Load() }

// Detect matches rows, sets the triage columns of those that match and
// returns one alert per matching row (without Seq), then runs the
// heuristics (port_scan: one alert per scanning source and window).
func (d *Detector) Detect(rows []store.Row) []store.Alert {
	alerts := d.matchIntel(rows)
	if d.scan != nil {
		alerts = d.scanRows(rows, alerts)
	}
	return alerts
}

// matchIntel matches rows against the intel index.
func (d *Detector) matchIntel(rows []store.Row) []store.Alert {
	ix := d.idx.Load()
	if ix.Len() == 0 {
		return nil
	}
	attrsToo := ix.Len() > ix.ips.Size()+len(ix.ipport) // anything besides addresses
	var (
		alerts []store.Alert
		hits   []Hit
		p      *fastjson.Parser
	)
	if attrsToo {
		if v := d.parsers.Get(); v != nil {
			p = v.(*fastjson.Parser)
		} else {
			p = new(fastjson.Parser)
		}
		defer d.parsers.Put(p)
	}
	for i := range rows {
		r := &rows[i]
		hits = hits[:0]
		src, _ := r.Cols[d.srcIP].(netip.Addr)
		dst, _ := r.Cols[d.dstIP].(netip.Addr)
		hits = ix.MatchIP(hits, src)
		hits = ix.MatchIP(hits, dst)
		if port, ok := r.Cols[d.dstPort].(int64); ok && port >= 0 && port <= 65535 {
			hits = ix.MatchIPPort(hits, dst, uint16(port))
		}
		var domain string
		if attrsToo && len(r.Attrs) > 0 {
			if v, err := p.ParseBytes(r.Attrs); err == nil {
				o, _ := v.Object()
				// One pass over the document's keys: most are not matched.
				o.Visit(func(key []byte, f *fastjson.Value) {
					kind, ok := attrKinds[string(key)]
					if !ok {
						return
					}
					each(f, func(s string) {
						n := len(hits)
						if kind == KindDomain {
							hits = ix.MatchDomain(hits, s)
						} else {
							hits = ix.MatchExact(hits, kind, s)
						}
						if len(hits) > n && kind == KindDomain && domain == "" {
							domain = strings.Clone(s)
						}
					})
				})
			}
		}
		if len(hits) == 0 {
			continue
		}
		alerts = append(alerts, d.apply(r, hits, domain))
	}
	return alerts
}

// each calls fn with a string value or each string of an array. The
// strings alias the parser's memory (no copy per value on the hot path):
// fn must copy what it keeps (hits do).
func each(v *fastjson.Value, fn func(string)) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		fn(unsafe.String(unsafe.SliceData(b), len(b)))
	case fastjson.TypeArray:
		items, _ := v.Array()
		for _, it := range items {
			if b, err := it.StringBytes(); err == nil {
				fn(unsafe.String(unsafe.SliceData(b), len(b)))
			}
		}
	}
}

// apply sets the triage columns of r from its hits and makes its alert.
// Existing values are kept where they say more (a source's own severity,
// classification "malicious").
func (d *Detector) apply(r *store.Row, hits []Hit, domain string) store.Alert {
	old, _ := r.Cols[d.threats].([]string)
	threats := slices.Clone(old)
	var sev, risk int64
	malicious := false
	var alertThreats, labels, flagIDs []string
	for _, h := range hits {
		t := Lookup(h.Threat)
		sev, risk = max(sev, t.SessionSeverity()), max(risk, t.RiskScore())
		malicious = malicious || t.Malicious
		if !slices.Contains(threats, h.Threat) {
			threats = append(threats, h.Threat)
		}
		if !slices.Contains(alertThreats, h.Threat) {
			alertThreats = append(alertThreats, h.Threat)
		}
		if !slices.Contains(labels, h.Source) {
			labels = append(labels, h.Source)
		}
		if f := flagFor(h.Kind); !slices.Contains(flagIDs, f) {
			flagIDs = append(flagIDs, f)
		}
	}
	r.Cols[d.threats] = threats
	if v, ok := r.Cols[d.severity].(int64); !ok || v < sev {
		r.Cols[d.severity] = sev
	} else {
		sev = v
	}
	if v, ok := r.Cols[d.risk].(int64); !ok || v < risk {
		r.Cols[d.risk] = risk
	}
	class := "suspicious"
	if malicious {
		class = "malicious"
	}
	if v, _ := r.Cols[d.class].(string); v != "malicious" {
		r.Cols[d.class] = class
	}
	first, _ := r.Cols[d.first].(int64)
	last, _ := r.Cols[d.last].(int64)
	if last == 0 {
		last = first
	}
	eventType := eventTypeOf(r.Attrs)
	body := alertBody{
		EventType: eventType, Threats: alertThreats, Severity: sev, SessionID: r.ID,
		FirstSeen: rfc3339(first), LastSeen: rfc3339(last),
		Wisdom:  wisdom{Flags: flagIDs, Labels: labels, Domain: domain},
		Matches: hits,
		Event:   d.event(r, eventType, domain, first),
	}
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte("{}") // cannot happen: every value is a plain type
	}
	return store.Alert{Tenant: r.Tenant, ID: r.ID, Ts: first, EventType: eventType, SessionID: r.ID,
		Threats: alertThreats, Severity: sev, Body: b}
}

// alertBody is an alert as stored and served: AlphaSOC's alert fields
// (eventType, threats, wisdom, event) plus Seshat's.
type alertBody struct {
	EventType string         `json:"eventType"`
	Threats   []string       `json:"threats"`
	Severity  int64          `json:"severity"`
	SessionID string         `json:"sessionId"`
	FirstSeen string         `json:"firstSeen"`
	LastSeen  string         `json:"lastSeen"`
	Wisdom    wisdom         `json:"wisdom"`
	Matches   []Hit          `json:"matches"`
	Event     map[string]any `json:"event"`
}

type wisdom struct {
	Flags  []string `json:"flags"`
	Labels []string `json:"labels"`
	Domain string   `json:"domain,omitempty"`
}

func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// eventTypeOf names the AlphaSOC event type a session is closest to.
func eventTypeOf(attrs []byte) string {
	switch {
	case bytes.Contains(attrs, []byte(`"dns.`)):
		return "dns"
	case bytes.Contains(attrs, []byte(`"http.`)):
		return "http"
	case bytes.Contains(attrs, []byte(`"tls.`)), bytes.Contains(attrs, []byte(`"cert.`)):
		return "tls"
	}
	return "ip"
}

// event is the session as an AlphaSOC event of its type: ts, addresses,
// ports, protocol, and the query for dns.
func (d *Detector) event(r *store.Row, typ, domain string, first int64) map[string]any {
	ev := map[string]any{"ts": rfc3339(first)}
	if a, ok := r.Cols[d.srcIP].(netip.Addr); ok && a.IsValid() {
		ev["srcIP"] = a.String()
	}
	if p, ok := r.Cols[d.srcPort].(int64); ok {
		ev["srcPort"] = p
	}
	if a, ok := r.Cols[d.dstIP].(netip.Addr); ok && a.IsValid() {
		ev["destIP"] = a.String()
	}
	if p, ok := r.Cols[d.dstPort].(int64); ok {
		ev["destPort"] = p
	}
	if t, ok := r.Cols[d.transport].(string); ok {
		ev["proto"] = t
	}
	if domain != "" {
		if typ == "dns" {
			ev["query"] = domain
		} else {
			ev["host"] = domain
		}
	}
	return ev
}
