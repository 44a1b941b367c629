package detect

// The port_scan heuristic: per tenant and source address, distinct
// destination ports on one host (vertical scan), distinct hosts on one port
// (horizontal scan) and distinct hosts reached by ICMP (sweep), counted in
// a sliding window of session time (firstPacket). Defaults
// (PortScanConfig's zero values): 25 distinct ports, 25 distinct hosts or
// 25 distinct ICMP hosts within 60 s; at most 50 000 sources tracked per
// tenant (the least recently seen is forgotten first, and any source idle
// for a window of session time) and 256 distinct values per source, each
// set holding no more than its threshold.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seshatsec/seshat/internal/store"
)

// PortScanConfig sets the port_scan heuristic; zero values take the
// defaults, and the heuristic is on unless Disabled.
type PortScanConfig struct {
	Disabled bool
	// Window is the span of session time in which distinct values are
	// counted (default 60 s).
	Window time.Duration
	// Ports is the distinct destination ports of one host that make a
	// vertical scan (default 25).
	Ports int
	// Hosts is the distinct hosts on one port (and transport) that make a
	// horizontal scan (default 25).
	Hosts int
	// ICMPHosts is the distinct hosts reached by ICMP that make a sweep
	// (default 25).
	ICMPHosts int
	// MaxSources caps the source addresses tracked per tenant (default
	// 50 000); past it the least recently seen is forgotten.
	MaxSources int
	// MaxValues caps the distinct values tracked per source over all its
	// hosts and ports (default 256); past it stale values are pruned,
	// then the least recently used hosts and ports are forgotten.
	MaxValues int
}

func (c PortScanConfig) withDefaults() PortScanConfig {
	if c.Window <= 0 {
		c.Window = 60 * time.Second
	}
	if c.Ports <= 0 {
		c.Ports = 25
	}
	if c.Hosts <= 0 {
		c.Hosts = 25
	}
	if c.ICMPHosts <= 0 {
		c.ICMPHosts = 25
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 50_000
	}
	if c.MaxValues <= 0 {
		c.MaxValues = 256
	}
	c.MaxValues = max(c.MaxValues, 2*max(c.Ports, c.Hosts, c.ICMPHosts))
	return c
}

// Scan kinds, which are also the flags their alerts carry.
const (
	flagVertical   = "vertical_scan"
	flagHorizontal = "horizontal_scan"
	flagICMPSweep  = "icmp_sweep"
)

// valSet holds distinct values with the latest session time each was seen;
// it never holds more than its threshold.
type valSet[K comparable] struct {
	vals map[K]int64
	last int64
}

// observe adds v seen at t and says how many values the set gained (or
// lost to pruning) and whether it holds threshold values seen since from.
func (s *valSet[K]) observe(v K, t, from int64, threshold int) (delta int, full bool) {
	if s.vals == nil {
		s.vals = make(map[K]int64, 4)
	}
	s.last = max(s.last, t)
	if old, ok := s.vals[v]; ok {
		if t > old {
			s.vals[v] = t
		}
	} else {
		if len(s.vals) >= threshold {
			delta -= s.prune(from)
		}
		if len(s.vals) < threshold { // past the threshold, stop counting
			s.vals[v] = t
			delta++
		}
	}
	if len(s.vals) >= threshold {
		delta -= s.prune(from)
	}
	return delta, len(s.vals) >= threshold
}

// prune drops values last seen before from and says how many.
func (s *valSet[K]) prune(from int64) int {
	n := 0
	for k, t := range s.vals {
		if t < from {
			delete(s.vals, k)
			n++
		}
	}
	return n
}

// first is the earliest time held.
func (s *valSet[K]) first() int64 {
	f := s.last
	for _, t := range s.vals {
		f = min(f, t)
	}
	return f
}

// svcKey is a port with its transport (TCP 80 and UDP 80 differ).
type svcKey struct {
	port      uint16
	transport string
}

// scanSource is the state of one source address.
type scanSource struct {
	addr       netip.Addr
	prev, next *scanSource // recency list, most recent first

	vert  map[netip.Addr]*valSet[svcKey] // host -> ports
	horiz map[svcKey]*valSet[netip.Addr] // port -> hosts
	icmp  valSet[netip.Addr]
	n     int // values held over all sets

	alerted              bool
	alertFrom, alertTill int64 // the window of the last alert
	seen                 int64 // latest session time of this source
}

type scanTenant struct {
	srcs       map[netip.Addr]*scanSource
	head, tail *scanSource
	// latest is the latest session time seen; swept when state older
	// than a window before it was last forgotten; rows counts the rows
	// since then.
	latest, swept int64
	rows          int
}

// portScanner keeps the per-tenant state; one lock, held for a batch.
type portScanner struct {
	cfg     PortScanConfig
	window  int64 // ms
	mu      sync.Mutex
	tenants map[string]*scanTenant
}

func newPortScanner(cfg PortScanConfig) *portScanner {
	cfg = cfg.withDefaults()
	return &portScanner{cfg: cfg, window: cfg.Window.Milliseconds(), tenants: make(map[string]*scanTenant)}
}

// source finds or makes the state of addr, most recent from now on,
// forgetting the least recently seen past the cap.
func (p *portScanner) source(tenant string, addr netip.Addr) *scanSource {
	tn := p.tenants[tenant]
	if tn == nil {
		tn = &scanTenant{srcs: make(map[netip.Addr]*scanSource)}
		p.tenants[tenant] = tn
	}
	s := tn.srcs[addr]
	if s != nil {
		if tn.head == s {
			return s
		}
		tn.unlink(s)
	} else {
		if len(tn.srcs) >= p.cfg.MaxSources && tn.tail != nil {
			old := tn.tail
			tn.unlink(old)
			delete(tn.srcs, old.addr)
		}
		s = &scanSource{addr: addr}
		tn.srcs[addr] = s
	}
	s.next = tn.head
	if tn.head != nil {
		tn.head.prev = s
	}
	tn.head = s
	if tn.tail == nil {
		tn.tail = s
	}
	return s
}

func (tn *scanTenant) unlink(s *scanSource) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		tn.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		tn.tail = s.prev
	}
	s.prev, s.next = nil, nil
}

// sources is how many sources a tenant's state holds (tests).
func (p *portScanner) sources(tenant string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tn := p.tenants[tenant]; tn != nil {
		return len(tn.srcs)
	}
	return 0
}

// isICMP says whether a transport is ICMP (v4 or v6).
func isICMP(t string) bool {
	t = strings.ToLower(t)
	return strings.HasPrefix(t, "icmp") || t == "ipv6-icmp"
}

// scanRows runs the heuristic over rows, marks those of a scan and appends
// one alert per source and window to alerts.
func (d *Detector) scanRows(rows []store.Row, alerts []store.Alert) []store.Alert {
	p := d.scan
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range rows {
		r := &rows[i]
		src, _ := r.Cols[d.srcIP].(netip.Addr)
		dst, _ := r.Cols[d.dstIP].(netip.Addr)
		t, ok := r.Cols[d.first].(int64)
		if !ok || !src.IsValid() || !dst.IsValid() {
			continue
		}
		transport, _ := r.Cols[d.transport].(string)
		port, hasPort := r.Cols[d.dstPort].(int64)
		icmp := isICMP(transport)
		if !icmp && (!hasPort || port < 0 || port > 65535) {
			continue
		}
		s := p.source(r.Tenant, src)
		s.seen = max(s.seen, t)
		tn := p.tenants[r.Tenant]
		tn.rows++
		if t > tn.latest {
			tn.latest = t
		}
		from := t - p.window
		var (
			kind  string
			count int
			first int64
		)
		if icmp {
			delta, full := s.icmp.observe(dst, t, from, p.cfg.ICMPHosts)
			s.n += delta
			if full {
				kind, count, first = flagICMPSweep, len(s.icmp.vals), s.icmp.first()
			}
		} else {
			svc := svcKey{uint16(port), strings.ToLower(transport)}
			if s.vert == nil {
				s.vert = make(map[netip.Addr]*valSet[svcKey])
				s.horiz = make(map[svcKey]*valSet[netip.Addr])
			}
			v := s.vert[dst]
			if v == nil {
				v = new(valSet[svcKey])
				s.vert[dst] = v
			}
			delta, full := v.observe(svc, t, from, p.cfg.Ports)
			s.n += delta
			if full {
				kind, count, first = flagVertical, len(v.vals), v.first()
			}
			h := s.horiz[svc]
			if h == nil {
				h = new(valSet[netip.Addr])
				s.horiz[svc] = h
			}
			delta, full = h.observe(dst, t, from, p.cfg.Hosts)
			s.n += delta
			if full && kind == "" {
				kind, count, first = flagHorizontal, len(h.vals), h.first()
			}
		}
		if s.n > p.cfg.MaxValues {
			p.shrink(s, from)
		}
		if kind == "" {
			continue
		}
		d.markScan(r)
		if s.alerted && t >= s.alertFrom-p.window && t < s.alertTill {
			continue // one alert per source per window
		}
		s.alerted, s.alertFrom, s.alertTill = true, t, t+p.window
		alerts = append(alerts, d.scanAlert(r, kind, src, dst, count, first, t))
	}
	p.expire()
	return alerts
}

// sweepRows bounds the rows between two sweeps of a tenant's state.
const sweepRows = 100_000

// expire forgets sources, and sets within sources, that saw nothing in the
// window before their tenant's latest session time: no scan can still be
// under way there, and keeping them would grow memory with every host pair
// ever seen (gigabytes for a busy network). It runs at most once per window
// of session time, or every sweepRows rows (sessions older than the
// latest, from a backfill, would otherwise pile up until the cap). Sessions
// arriving much later than their window are judged without the forgotten
// state.
func (p *portScanner) expire() {
	for _, tn := range p.tenants {
		if tn.latest-tn.swept < p.window && tn.rows < sweepRows {
			continue
		}
		tn.swept, tn.rows = tn.latest, 0
		horizon := tn.latest - p.window
		for addr, s := range tn.srcs {
			if s.seen < horizon {
				tn.unlink(s)
				delete(tn.srcs, addr)
				continue
			}
			for k, v := range s.vert {
				if v.last < horizon {
					s.n -= len(v.vals)
					delete(s.vert, k)
				}
			}
			for k, h := range s.horiz {
				if h.last < horizon {
					s.n -= len(h.vals)
					delete(s.horiz, k)
				}
			}
		}
	}
}

// shrink brings a source's values under the cap: values older than from
// go first, then the hosts and ports least recently seen, down to half.
func (p *portScanner) shrink(s *scanSource, from int64) {
	s.n -= s.icmp.prune(from)
	for k, v := range s.vert {
		s.n -= v.prune(from)
		if len(v.vals) == 0 {
			delete(s.vert, k)
		}
	}
	for k, h := range s.horiz {
		s.n -= h.prune(from)
		if len(h.vals) == 0 {
			delete(s.horiz, k)
		}
	}
	if s.n <= p.cfg.MaxValues/2 {
		return
	}
	type set struct {
		last int64
		drop func() int
	}
	var sets []set
	for k, v := range s.vert {
		sets = append(sets, set{v.last, func() int { delete(s.vert, k); return len(v.vals) }})
	}
	for k, h := range s.horiz {
		sets = append(sets, set{h.last, func() int { delete(s.horiz, k); return len(h.vals) }})
	}
	slices.SortFunc(sets, func(a, b set) int { return cmp.Compare(a.last, b.last) })
	for _, st := range sets {
		if s.n <= p.cfg.MaxValues/2 {
			break
		}
		s.n -= st.drop()
	}
	if s.n > p.cfg.MaxValues/2 { // only ICMP left
		s.n -= len(s.icmp.vals)
		s.icmp = valSet[netip.Addr]{}
	}
}

// markScan sets the triage of a row of a scan.
func (d *Detector) markScan(r *store.Row) {
	t := Lookup("port_scan")
	old, _ := r.Cols[d.threats].([]string)
	if !slices.Contains(old, t.ID) {
		r.Cols[d.threats] = append(slices.Clone(old), t.ID)
	}
	if v, ok := r.Cols[d.severity].(int64); !ok || v < t.SessionSeverity() {
		r.Cols[d.severity] = t.SessionSeverity()
	}
	if v, ok := r.Cols[d.risk].(int64); !ok || v < t.RiskScore() {
		r.Cols[d.risk] = t.RiskScore()
	}
	if v, _ := r.Cols[d.class].(string); v != "malicious" {
		r.Cols[d.class] = "suspicious"
	}
}

// scanAlert is the alert of a scan, raised on the row that crossed the
// threshold (or the first of a later window).
func (d *Detector) scanAlert(r *store.Row, kind string, src, dst netip.Addr, count int, first, t int64) store.Alert {
	th := Lookup("port_scan")
	sev := th.SessionSeverity()
	var what string
	switch kind {
	case flagVertical:
		what = fmt.Sprintf("%s -> %s: %d ports", src, dst, count)
	case flagHorizontal:
		port, _ := r.Cols[d.dstPort].(int64)
		what = fmt.Sprintf("%s -> port %d: %d hosts", src, port, count)
	default:
		what = fmt.Sprintf("%s -> ICMP: %d hosts", src, count)
	}
	what += " within " + d.scan.cfg.Window.String()
	body := alertBody{
		EventType: "ip", Threats: []string{th.ID}, Severity: sev, SessionID: r.ID,
		FirstSeen: rfc3339(first), LastSeen: rfc3339(t),
		Wisdom:  wisdom{Flags: []string{kind}, Labels: []string{"heuristic"}},
		Matches: []Hit{{Threat: th.ID, Source: "heuristic", Kind: kind, Indicator: what}},
		Event:   d.event(r, "ip", "", t),
	}
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte("{}")
	}
	return store.Alert{Tenant: r.Tenant, ID: r.ID, Ts: t, EventType: "ip", SessionID: r.ID,
		Threats: []string{th.ID}, Severity: sev, Body: b}
}
