package alphasoc

import (
	"net/netip"
	"sync"
	"time"
)

// Joiner links dns, http and tls events to the ip session of the same flow,
// so that one connection is one session however many event types report
// it. The rule:
//
//   - It remembers recent ip sessions per tenant, keyed by their 5-tuple
//     (source address and port, destination address and port, transport),
//     once they are stored (Remember), for Window of wall-clock time and at
//     most MaxFlows per tenant (the oldest go first).
//   - A dns, http or tls event is linked to a remembered ip session (Link)
//     when its 5-tuple matches and its ts falls in [firstPacket,
//     lastPacket + Window] of that session. An event without a destination
//     (nfr's http and dns events carry none) matches on source address,
//     source port and transport alone. An event without a transport takes
//     its protocol's: tcp for http and tls, udp then tcp for dns. An event
//     without a source port is never linked. When several sessions match,
//     the most recent one wins.
//   - A linked event creates no session of its own: its raw event is kept
//     under the ip session's id, and its fields are visible through that
//     session's events rather than merged into the session's row.
//
// Only the order ip-then-application is joined: an application event that
// arrives before the ip session of its flow makes a session of its own.
type Joiner struct {
	window   time.Duration
	maxFlows int
	now      func() time.Time

	mu      sync.Mutex
	tenants map[string]*flowCache
}

// JoinConfig tunes the Joiner.
type JoinConfig struct {
	// Window is how long an ip session stays joinable, and how far past its
	// lastPacket an event may be and still join it.
	Window time.Duration `yaml:"window"`
	// MaxFlows bounds the ip sessions remembered per tenant.
	MaxFlows int `yaml:"max_flows"`
}

// DefaultJoinConfig is the Joiner's configuration when nothing is set.
func DefaultJoinConfig() JoinConfig {
	return JoinConfig{Window: 5 * time.Minute, MaxFlows: 200_000}
}

// NewJoiner makes a Joiner; a zero Window or MaxFlows disables joining.
func NewJoiner(cfg JoinConfig) *Joiner {
	return &Joiner{window: cfg.Window, maxFlows: cfg.MaxFlows, now: time.Now, tenants: map[string]*flowCache{}}
}

// flowKey is the part of a 5-tuple every joinable event carries but the
// transport (kept in the entries): a key without pointers hashes fast and
// keeps the map out of the garbage collector's way.
type flowKey struct {
	src     [16]byte
	srcPort int64
}

func keyOf(fl Flow) flowKey { return flowKey{src: fl.Src.As16(), srcPort: fl.SrcPort} }

type flowEntry struct {
	transport string
	dst       netip.Addr
	dstPort   int64
	first     int64 // epoch ms, event time
	last      int64
	id        string
	addedAtMs int64 // wall clock, for expiry
}

// flowCache is one tenant's remembered ip sessions. fifo holds keys in the
// order their entries were added: entries of one key are appended in that
// same order, so the oldest entry overall is always the first entry of the
// key at the head of fifo.
type flowCache struct {
	mu    sync.Mutex
	flows map[flowKey][]flowEntry
	fifo  []flowKey
	head  int
}

func (j *Joiner) enabled() bool { return j != nil && j.window > 0 && j.maxFlows > 0 }

func (j *Joiner) cache(tenant string, create bool) *flowCache {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.tenants[tenant]
	if c == nil && create {
		c = &flowCache{flows: map[flowKey][]flowEntry{}}
		j.tenants[tenant] = c
	}
	return c
}

// Remember makes the stored ip sessions of events joinable; call it once
// their sessions are durable, so no event is ever linked to a session that
// was not stored. Events of other types and without a full 5-tuple are
// ignored.
func (j *Joiner) Remember(tenant string, events []Event) {
	if !j.enabled() || len(events) == 0 {
		return
	}
	c := j.cache(tenant, true)
	now := j.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range events {
		ev := &events[i]
		fl := ev.Flow
		if ev.Type != IP || !fl.Src.IsValid() || !fl.Dst.IsValid() || fl.SrcPort < 0 || fl.DstPort < 0 || fl.Transport == "" {
			continue
		}
		k := keyOf(fl)
		c.flows[k] = append(c.flows[k], flowEntry{transport: fl.Transport, dst: fl.Dst, dstPort: fl.DstPort, first: ev.First, last: ev.Last,
			id: ev.Row.ID, addedAtMs: now})
		c.fifo = append(c.fifo, k)
	}
	c.expire(now-j.window.Milliseconds(), j.maxFlows)
}

// expire drops entries added before cutoff and the oldest beyond max.
func (c *flowCache) expire(cutoff int64, max int) {
	for c.head < len(c.fifo) {
		k := c.fifo[c.head]
		entries := c.flows[k]
		if len(c.fifo)-c.head <= max && (len(entries) == 0 || entries[0].addedAtMs >= cutoff) {
			break
		}
		if len(entries) <= 1 {
			delete(c.flows, k)
		} else {
			entries[0] = flowEntry{}
			c.flows[k] = entries[1:]
		}
		c.fifo[c.head] = flowKey{}
		c.head++
	}
	// Reclaim the consumed front of the queue once it is most of it.
	if c.head > 1024 && c.head > len(c.fifo)/2 {
		n := copy(c.fifo, c.fifo[c.head:])
		clear(c.fifo[n:])
		c.fifo = c.fifo[:n]
		c.head = 0
	}
}

// Link finds the remembered ip session a dns, http or tls event belongs
// to, by the rule in the type's documentation.
func (j *Joiner) Link(tenant string, ev *Event) (sessionID string, ok bool) {
	if !j.enabled() || (ev.Type != DNS && ev.Type != HTTP && ev.Type != TLS) {
		return "", false
	}
	fl := ev.Flow
	if !fl.Src.IsValid() || fl.SrcPort < 0 {
		return "", false
	}
	c := j.cache(tenant, false)
	if c == nil {
		return "", false
	}
	transports := []string{fl.Transport}
	if fl.Transport == "" {
		transports = []string{"udp", "tcp"} // dns without proto
	}
	cutoff := j.now().UnixMilli() - j.window.Milliseconds()
	window := j.window.Milliseconds()
	c.mu.Lock()
	defer c.mu.Unlock()
	entries := c.flows[keyOf(fl)]
	for _, tr := range transports {
		for i := len(entries) - 1; i >= 0; i-- {
			e := &entries[i]
			if e.addedAtMs < cutoff {
				break // older entries are older still
			}
			if e.transport != tr || fl.Dst.IsValid() && e.dst != fl.Dst || fl.DstPort >= 0 && e.dstPort != fl.DstPort {
				continue
			}
			if ev.First >= e.first && ev.First <= e.last+window {
				return e.id, true
			}
		}
	}
	return "", false
}
