// Package importer imports log files of every format Seshat reads (Zeek TSV
// and JSON logs, Suricata EVE, AlphaSOC events, Seshat session NDJSON) in
// chunks: Splitter cuts a file at line boundaries into chunks of bounded
// size (re-sending Zeek TSV headers with each one, so every chunk decodes on
// its own), and Chunk decodes one chunk with the format's decoder and writes
// its rows through the store. The server's POST /api/v1/import and the
// offline `seshat import --data` share both halves, so a file imports the
// same way whichever path it takes.
//
// Suricata alerts become raw events of type "alert" (the alert as JSON)
// kept beside a session: the session decoded from an event with the same
// flow_id in the same chunk, else a session made for the alert's own
// 5-tuple (with eve.event_type "alert"). Linking is per chunk, so that a
// chunk never waits for another: an alert whose flow record lands in a
// later chunk gets a session of its own.
package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/ingest/alphasoc"
	"github.com/seshatsec/seshat/internal/ingest/eve"
	"github.com/seshatsec/seshat/internal/ingest/zeek"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Appender is what an import needs of the store.
type Appender interface {
	Append(ctx context.Context, rows []store.Row, discovered []model.Field) error
}

// EventAppender is a store that also keeps raw events (Suricata alerts are
// stored as events); without it alerts are counted but not stored.
type EventAppender interface {
	AppendEvents(ctx context.Context, rows []store.Row, events []store.Event, discovered []model.Field) error
}

// Config says whose rows a chunk makes and how.
type Config struct {
	Tenant   string
	Registry *model.Registry // nil: model.Default
	Limits   ingest.Limits
	// WriteTimeout bounds each wait for the writer's queue (store.ErrBusy
	// past it); 0 waits as long as the context allows.
	WriteTimeout time.Duration
	// FieldsChanged, when set, is called after a write that recorded
	// fields the registry does not know.
	FieldsChanged func(tenant string)
}

// Result counts what a chunk (or, added up, a file) held.
type Result struct {
	Format   ingest.Format  `json:"format"`
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Alerts   int            `json:"alerts,omitempty"`
	Rejected map[string]int `json:"rejected"`
	// Errors details the first rejected records. Line is the line of the
	// chunk (for JSON document formats, the document's position, which is
	// its line in NDJSON).
	Errors []ingest.LineError `json:"errors,omitempty"`
	// Stopped says where decoding gave up (a Zeek header that makes the
	// rest unreadable, JSON that cannot be re-synchronised).
	Stopped *ingest.LineError `json:"stopped,omitempty"`
}

// Reject counts n rejected records under reason.
func (r *Result) Reject(reason string, n int) {
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	r.Rejected[reason] += n
}

// RejectedTotal is the number of rejected records.
func (r *Result) RejectedTotal() int {
	n := 0
	for _, c := range r.Rejected {
		n += c
	}
	return n
}

// ErrUnknownFormat is returned for a chunk whose format is not one Seshat
// imports.
var ErrUnknownFormat = errors.New("unrecognised format: import Zeek logs (TSV or JSON), Suricata EVE JSON, AlphaSOC events or Seshat session NDJSON")

// ErrAlphaSOCType is returned for AlphaSOC events whose type was not given
// and cannot be inferred.
var ErrAlphaSOCType = errors.New("cannot tell the AlphaSOC event type: the first event has none of query, url, certHash, destIP or srcIP (name it with type=dns|ip|http|tls|lease)")

// ParseFormat reads a format name as Detect names them.
func ParseFormat(s string) (ingest.Format, bool) {
	switch f := ingest.Format(s); f {
	case ingest.FormatZeekTSV, ingest.FormatZeekJSON, ingest.FormatEVE, ingest.FormatAlphaSOC, ingest.FormatSessionJSON:
		return f, true
	}
	return ingest.FormatUnknown, false
}

// AlphaSOCType infers the AlphaSOC event type of a body from its first
// event, since AlphaSOC events do not name their type (the API takes it
// from the URL): query means dns, url http, a certificate or JA3S field tls,
// destIP ip, and an event with none of them lease.
func AlphaSOCType(body []byte) (alphasoc.Type, bool) {
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		v, err := fastjson.ParseBytes(line)
		if err != nil {
			return "", false
		}
		o, err := v.Object()
		if err != nil {
			return "", false
		}
		has := func(k string) bool { return o.Get(k) != nil }
		switch {
		case has("query"):
			return alphasoc.DNS, true
		case has("url"):
			return alphasoc.HTTP, true
		case has("certHash") || has("ja3s") || has("issuer") || has("subject"):
			return alphasoc.TLS, true
		case has("destIP"):
			return alphasoc.IP, true
		case has("srcIP"):
			return alphasoc.Lease, true
		}
		return "", false
	}
	return "", false
}

// batchRows bounds the rows handed to the store at once. A client chunk
// (8 MB) holds fewer, so it is written in one commit: a chunk refused with
// store.ErrBusy stored nothing and can be sent again without duplicates.
const batchRows = 100_000

// writer collects rows and events and writes them in batches.
type writer struct {
	ctx     context.Context
	cfg     Config
	st      Appender
	ev      EventAppender // nil: the store keeps no events
	disc    func() []model.Field
	rows    []store.Row
	events  []store.Event
	written int
}

func (w *writer) add(row store.Row) error {
	w.rows = append(w.rows, row)
	if len(w.rows) >= batchRows {
		return w.flush()
	}
	return nil
}

func (w *writer) flush() error {
	if len(w.rows) == 0 && len(w.events) == 0 {
		return nil
	}
	ctx := w.ctx
	if w.cfg.WriteTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.cfg.WriteTimeout)
		defer cancel()
	}
	disc := w.disc()
	var err error
	if len(w.events) > 0 && w.ev != nil {
		err = w.ev.AppendEvents(ctx, w.rows, w.events, disc)
	} else {
		err = w.st.Append(ctx, w.rows, disc)
	}
	if err != nil {
		if w.written > 0 {
			return fmt.Errorf("%w (the first %d records were stored)", err, w.written)
		}
		return err
	}
	if len(disc) > 0 && w.cfg.FieldsChanged != nil {
		w.cfg.FieldsChanged(w.cfg.Tenant)
	}
	w.written += len(w.rows)
	w.rows, w.events = w.rows[:0], w.events[:0]
	return nil
}

// Chunk decodes body, a part of one log file in format (whole lines; a
// Zeek TSV chunk starting with its headers), and writes its rows; it
// returns once they are durable. alphaType names the event type of an
// AlphaSOC body ("": inferred from its first event). The error is non-nil
// only when writing failed (store.ErrBusy when the writer stayed behind) or
// the format is unknown; records the decoders reject are in the result.
func Chunk(ctx context.Context, st Appender, cfg Config, format ingest.Format, alphaType string, body []byte) (Result, error) {
	if cfg.Registry == nil {
		cfg.Registry = model.Default
	}
	res := Result{Format: format, Rejected: map[string]int{}}
	w := &writer{ctx: ctx, cfg: cfg, st: st, rows: make([]store.Row, 0, min(batchRows, len(body)/128+1))}
	w.ev, _ = st.(EventAppender)
	switch format {
	case ingest.FormatZeekTSV, ingest.FormatZeekJSON:
		dec := zeek.NewDecoder(zeek.Config{Tenant: cfg.Tenant, Registry: cfg.Registry, Limits: cfg.Limits})
		w.disc = dec.DiscoveredFields
		sr, err := dec.Decode(bytes.NewReader(body), w.add)
		if err != nil && sr.Stopped == nil {
			return res, err
		}
		res.fromStream(sr)
	case ingest.FormatEVE:
		if err := eveChunk(w, &res, body); err != nil {
			return res, err
		}
	case ingest.FormatSessionJSON:
		dec := ingest.NewSessionDecoder(cfg.Registry, cfg.Limits, cfg.Tenant)
		w.disc = dec.DiscoveredFields
		dr, err := dec.Decode(body, w.add)
		if err != nil {
			return res, err
		}
		res.fromDocs(dr)
	case ingest.FormatAlphaSOC:
		typ, ok := alphasoc.ParseType(alphaType)
		if !ok {
			if typ, ok = AlphaSOCType(body); !ok {
				return res, ErrAlphaSOCType
			}
		}
		dec := alphasoc.NewDecoder(cfg.Registry, cfg.Limits, cfg.Tenant, typ)
		w.disc = dec.DiscoveredFields
		// Each event is kept raw beside its session, as the AlphaSOC API
		// does; events are not joined to ip sessions here (the join keeps
		// its state in the running server's dialect).
		dr, err := dec.Decode(body, func(ev *alphasoc.Event) error {
			w.events = append(w.events, store.Event{Tenant: cfg.Tenant, SessionID: ev.Row.ID, Type: string(ev.Type), Ts: ev.First, Body: ev.Raw})
			return w.add(ev.Row)
		})
		if err != nil {
			return res, err
		}
		res.fromDocs(dr)
	default:
		return res, ErrUnknownFormat
	}
	if err := w.flush(); err != nil {
		return res, err
	}
	return res, nil
}

func (r *Result) fromStream(sr ingest.StreamResult) {
	r.Received, r.Accepted, r.Alerts = sr.Received, sr.Accepted, sr.Alerts
	for k, n := range sr.Rejected {
		r.Reject(k, n)
	}
	r.Errors = sr.Errors
	r.Stopped = sr.Stopped
}

func (r *Result) fromDocs(dr ingest.Result) {
	r.Received, r.Accepted = dr.Received, dr.Accepted
	for k, n := range dr.Rejected {
		r.Reject(k, n)
	}
	for _, e := range dr.Errors {
		r.Errors = append(r.Errors, ingest.LineError{Line: e.Index + 1, Reason: e.Reason, Detail: e.Detail})
	}
	if e := dr.Stopped; e != nil {
		r.Stopped = &ingest.LineError{Line: e.Index + 1, Reason: e.Reason, Detail: e.Detail}
	}
}

// flowIDKey is how an EVE row's attribute document holds its flow id.
var flowIDKey = []byte(`"eve.flow_id":`)

// rowFlowID reads eve.flow_id from a row's attributes without parsing
// them: it is an integer, written as digits.
func rowFlowID(attrs []byte) (int64, bool) {
	i := bytes.Index(attrs, flowIDKey)
	if i < 0 {
		return 0, false
	}
	rest := attrs[i+len(flowIDKey):]
	j := 0
	for j < len(rest) && (rest[j] == '-' || rest[j] >= '0' && rest[j] <= '9') {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}

// eveChunk decodes an EVE chunk: rows as they come, alerts once the chunk
// is read (an alert usually precedes the flow record that closes its flow).
func eveChunk(w *writer, res *Result, body []byte) error {
	dec := eve.NewDecoder(eve.Config{Tenant: w.cfg.Tenant, Registry: w.cfg.Registry, Limits: w.cfg.Limits})
	w.disc = dec.DiscoveredFields
	flows := map[int64]string{}
	var alerts []*eve.Alert
	sr, err := dec.Decode(bytes.NewReader(body), func(rec eve.Record) error {
		if rec.Alert != nil {
			alerts = append(alerts, rec.Alert)
			return nil
		}
		if id, ok := rowFlowID(rec.Row.Attrs); ok {
			if _, seen := flows[id]; !seen {
				flows[id] = rec.Row.ID
			}
		}
		return w.add(rec.Row)
	})
	if err != nil && sr.Stopped == nil {
		return err
	}
	res.fromStream(sr)
	if len(alerts) == 0 || w.ev == nil {
		return nil
	}
	ab := newAlertRows(w.cfg)
	for _, a := range alerts {
		sid, ok := "", false
		if a.FlowID != 0 {
			sid, ok = flows[a.FlowID]
		}
		if !ok {
			row, derr := ab.row(a)
			if derr != nil {
				// The alert itself was valid; only its session could not
				// be made: keep the count honest.
				res.Accepted--
				res.Alerts--
				res.Reject(derr.Reason, 1)
				continue
			}
			sid = row.ID
			if a.FlowID != 0 {
				flows[a.FlowID] = sid // later alerts of the flow join it
			}
			w.rows = append(w.rows, row)
		}
		body, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("cannot encode alert: %w", err)
		}
		w.events = append(w.events, store.Event{Tenant: w.cfg.Tenant, SessionID: sid, Type: "alert", Ts: a.Timestamp, Body: body})
	}
	return nil
}

// alertRows makes the session of an alert whose flow has no row in the
// chunk.
type alertRows struct {
	rb                                                          *ingest.RowBuilder
	first, src, sport, dst, dport, trans, proto, flow, comm, et *model.Field
}

func newAlertRows(cfg Config) *alertRows {
	rb := ingest.NewRowBuilder(cfg.Registry, cfg.Limits, cfg.Tenant)
	return &alertRows{rb: rb, first: rb.Field("firstPacket"), src: rb.Field("source.ip"), sport: rb.Field("source.port"),
		dst: rb.Field("destination.ip"), dport: rb.Field("destination.port"), trans: rb.Field("network.transport"),
		proto: rb.Field("protocol"), flow: rb.Field("eve.flow_id"), comm: rb.Field("network.community_id"), et: rb.Field("eve.event_type")}
}

func (b *alertRows) row(a *eve.Alert) (store.Row, *ingest.DocError) {
	rb := b.rb
	rb.Reset()
	set := func(f *model.Field, v any) *ingest.DocError { return rb.Set(f, v) }
	derrs := []*ingest.DocError{set(b.first, a.Timestamp), set(b.et, "alert")}
	if a.SrcIP.IsValid() {
		derrs = append(derrs, set(b.src, a.SrcIP), set(b.sport, int64(a.SrcPort)))
	}
	if a.DstIP.IsValid() {
		derrs = append(derrs, set(b.dst, a.DstIP), set(b.dport, int64(a.DstPort)))
	}
	if a.Transport != "" {
		derrs = append(derrs, set(b.trans, a.Transport), rb.AddUnique(b.proto, a.Transport))
	}
	if a.AppProto != "" && a.AppProto != "failed" {
		derrs = append(derrs, rb.AddUnique(b.proto, a.AppProto))
	}
	if a.FlowID != 0 {
		derrs = append(derrs, set(b.flow, a.FlowID))
	}
	if a.CommunityID != "" {
		derrs = append(derrs, set(b.comm, a.CommunityID))
	}
	for _, d := range derrs {
		if d != nil {
			return store.Row{}, d
		}
	}
	return rb.Finish()
}
