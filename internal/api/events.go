package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/store"
)

// EventStore reads the raw events kept beside sessions (telemetry such as
// AlphaSOC events, as its source sent it).
type EventStore interface {
	// SessionEvents lists a tenant's session's events in time order, at
	// most limit; store.ErrNotFound when the tenant has no such session.
	SessionEvents(ctx context.Context, tenant, sessionID string, limit int) ([]store.Event, error)
}

// ServeSessionEvents registers GET /api/v1/sessions/{id}/events, the raw
// events linked to a session, over es. Call it before Start.
func (s *Server) ServeSessionEvents(es EventStore) {
	s.HandleJSON("GET /api/v1/sessions/{id}/events", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		limit := 1000
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				return nil, badRequest("invalid limit %q: use 1 to %d", v, MaxLimit)
			}
			limit = n
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		events, err := es.SessionEvents(ctx, p.Tenant, r.PathValue("id"), limit)
		if err != nil {
			return nil, err
		}
		items := make([]eventItem, 0, len(events))
		for _, ev := range events {
			items = append(items, eventItem{Type: ev.Type, Ts: time.UnixMilli(ev.Ts).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
				Event: rawJSON(ev.Body)})
		}
		return map[string]any{"items": items}, nil
	})
}

// eventItem is one event as listed.
type eventItem struct {
	Type  string          `json:"type"`
	Ts    string          `json:"ts"`
	Event json.RawMessage `json:"event"`
}

// rawJSON returns a stored event as JSON. Events are kept as sent, and the
// ingest parser is more lenient than JSON (it takes a few number forms JSON
// does not), so text that is not strict JSON is re-encoded rather than
// allowed to break the answer.
func rawJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	v, err := fastjson.ParseBytes(b)
	if err == nil {
		if out, err := json.Marshal(strictJSON(v)); err == nil {
			return out
		}
	}
	s, _ := json.Marshal(string(b)) // the text itself, as a string
	return s
}

// strictJSON converts a lenient parse into values encoding/json writes as
// strict JSON (numbers it cannot represent become strings).
func strictJSON(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := map[string]any{}
		o.Visit(func(k []byte, x *fastjson.Value) { m[string(k)] = strictJSON(x) })
		return m
	case fastjson.TypeArray:
		items, _ := v.Array()
		out := make([]any, 0, len(items))
		for _, it := range items {
			out = append(out, strictJSON(it))
		}
		return out
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		raw := string(v.MarshalTo(nil))
		if json.Valid([]byte(raw)) {
			return json.Number(raw)
		}
		return raw
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}
