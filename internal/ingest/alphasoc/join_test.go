package alphasoc

import (
	"net/netip"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/store"
)

func ipEvent(id string, src string, sport int64, dst string, dport int64, transport string, first, last int64) Event {
	return Event{Type: IP, Row: store.Row{ID: id}, First: first, Last: last,
		Flow: Flow{Src: netip.MustParseAddr(src), SrcPort: sport, Dst: netip.MustParseAddr(dst), DstPort: dport, Transport: transport}}
}

func appEvent(typ Type, src string, sport int64, dst string, dport int64, transport string, ts int64) *Event {
	fl := Flow{Src: netip.MustParseAddr(src), SrcPort: sport, DstPort: dport, Transport: transport}
	if dst != "" {
		fl.Dst = netip.MustParseAddr(dst)
	}
	return &Event{Type: typ, First: ts, Last: ts, Flow: fl}
}

func TestJoinerLink(t *testing.T) {
	const t0 = int64(1_709_294_400_000)
	window := 5 * time.Minute
	w := window.Milliseconds()
	clock := time.UnixMilli(t0)
	j := NewJoiner(JoinConfig{Window: window, MaxFlows: 100})
	j.now = func() time.Time { return clock }
	j.Remember("acme", []Event{
		ipEvent("tcp-443", "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0, t0+10_000),
		ipEvent("udp-53", "10.0.0.1", 5353, "10.0.0.53", 53, "udp", t0, t0),
		ipEvent("older", "10.0.0.2", 40000, "192.0.2.1", 80, "tcp", t0-60_000, t0+60_000),
		ipEvent("newer", "10.0.0.2", 40000, "192.0.2.1", 80, "tcp", t0, t0+60_000),
		ipEvent("no transport", "10.0.0.3", 40000, "192.0.2.1", 80, "", t0, t0),
		{Type: DNS, Row: store.Row{ID: "not ip"}, First: t0, Last: t0,
			Flow: Flow{Src: netip.MustParseAddr("10.0.0.4"), SrcPort: 1, Dst: netip.MustParseAddr("192.0.2.1"), DstPort: 53, Transport: "udp"}},
	})
	tests := []struct {
		name   string
		tenant string
		ev     *Event
		want   string // "" means not linked
	}{
		{"tls on the same 5-tuple", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0+5_000), "tcp-443"},
		{"http without destination matches on the source", "acme", appEvent(HTTP, "10.0.0.1", 40000, "", -1, "tcp", t0+1_000), "tcp-443"},
		{"dns without proto tries udp", "acme", appEvent(DNS, "10.0.0.1", 5353, "", -1, "", t0), "udp-53"},
		{"at firstPacket", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0), "tcp-443"},
		{"at lastPacket + window", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0+10_000+w), "tcp-443"},
		{"before firstPacket", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0-1), ""},
		{"past lastPacket + window", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0+10_001+w), ""},
		{"another destination port", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 8443, "tcp", t0+1), ""},
		{"another destination address", "acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.35", 443, "tcp", t0+1), ""},
		{"another transport", "acme", appEvent(HTTP, "10.0.0.1", 40000, "", -1, "udp", t0+1), ""},
		{"no source port", "acme", appEvent(HTTP, "10.0.0.1", -1, "", -1, "tcp", t0+1), ""},
		{"the most recent session wins", "acme", appEvent(HTTP, "10.0.0.2", 40000, "192.0.2.1", 80, "tcp", t0+1), "newer"},
		{"only the older session covers the time", "acme", appEvent(HTTP, "10.0.0.2", 40000, "192.0.2.1", 80, "tcp", t0-1), "older"},
		{"ip sessions without transport are not remembered", "acme", appEvent(HTTP, "10.0.0.3", 40000, "", -1, "tcp", t0), ""},
		{"only ip events are remembered", "acme", appEvent(DNS, "10.0.0.4", 1, "", -1, "udp", t0), ""},
		{"ip events do not join", "acme", &Event{Type: IP, First: t0, Flow: Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, Transport: "tcp"}}, ""},
		{"lease events do not join", "acme", &Event{Type: Lease, First: t0, Flow: Flow{Src: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, Transport: "tcp"}}, ""},
		{"another tenant's sessions", "other", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0+5_000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := j.Link(tt.tenant, tt.ev)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("Link = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}

	// Sessions are forgotten a window of wall-clock time after they were stored.
	clock = clock.Add(window + time.Millisecond)
	if id, ok := j.Link("acme", appEvent(TLS, "10.0.0.1", 40000, "93.184.216.34", 443, "tcp", t0+5_000)); ok {
		t.Errorf("linked to %s after the window passed", id)
	}
	j.Remember("acme", nil) // expiry runs on Remember
	j.Remember("acme", []Event{ipEvent("fresh", "10.0.0.9", 1, "192.0.2.9", 2, "tcp", t0, t0)})
	c := j.cache("acme", false)
	if len(c.flows) != 1 || len(c.fifo)-c.head != 1 {
		t.Errorf("after expiry: %d keys, %d queued; want 1 and 1", len(c.flows), len(c.fifo)-c.head)
	}
}

func TestJoinerIsBounded(t *testing.T) {
	const t0 = int64(1_709_294_400_000)
	j := NewJoiner(JoinConfig{Window: time.Hour, MaxFlows: 1000})
	var evs []Event
	for i := 0; i < 5000; i++ {
		evs = append(evs, ipEvent("s", "10.0.0.1", int64(i%3000), "192.0.2.1", 80, "tcp", t0, t0))
	}
	for i := 0; i < len(evs); i += 100 {
		j.Remember("acme", evs[i:i+100])
	}
	c := j.cache("acme", false)
	n := 0
	for _, e := range c.flows {
		n += len(e)
	}
	if n != 1000 || len(c.fifo)-c.head != 1000 {
		t.Fatalf("remembered %d sessions (%d queued), want 1000", n, len(c.fifo)-c.head)
	}
	if len(c.fifo) > 3000 {
		t.Errorf("queue not compacted: %d", len(c.fifo))
	}
	// The oldest went first: events 0-3999 are gone, 4000-4999 remain.
	// Port 999 was used by events 999 and 3999, port 1999 by 1999 and 4999.
	if _, ok := j.Link("acme", appEvent(HTTP, "10.0.0.1", 999, "", -1, "tcp", t0)); ok {
		t.Errorf("an evicted session still links")
	}
	if _, ok := j.Link("acme", appEvent(HTTP, "10.0.0.1", 1999, "", -1, "tcp", t0)); !ok {
		t.Errorf("a recent session does not link")
	}

	var off *Joiner
	off.Remember("acme", evs) // a nil Joiner is disabled
	if _, ok := NewJoiner(JoinConfig{}).Link("acme", appEvent(HTTP, "10.0.0.1", 1, "", -1, "tcp", t0)); ok {
		t.Errorf("a disabled Joiner links")
	}
}
