package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/detect"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// AlertStore reads alerts.
type AlertStore interface {
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
}

// ServeAlerts registers the native detection endpoints over as (call it
// before Start):
//
//	GET /api/v1/alerts    threat, severity (minimum, 0-4), start/end, limit, cursor; {"items","next_cursor"}
//	GET /api/v1/threats   the threat inventory
//	GET /api/v1/flags     the flag inventory
//
// Alerts are listed oldest first; the cursor is the seq of the last alert
// of the page, so a client that keeps it sees only newer alerts later.
func (s *Server) ServeAlerts(as AlertStore) {
	s.HandleJSON("GET /api/v1/alerts", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		q := r.URL.Query()
		aq := store.AlertQuery{Tenant: p.Tenant, Threat: q.Get("threat"), Limit: 100}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				return nil, badRequest("invalid limit %q: use 1 to %d", v, MaxLimit)
			}
			aq.Limit = n
		}
		if v := q.Get("cursor"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, badRequest("invalid cursor %q", v)
			}
			aq.After = n
		}
		if v := q.Get("severity"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > 4 {
				return nil, badRequest("invalid severity %q: use 0 to 4 (the least severity listed)", v)
			}
			aq.MinSeverity = n
		}
		for _, b := range []struct {
			name string
			dst  *int64
		}{{"start", &aq.Start}, {"end", &aq.End}} {
			if v := q.Get(b.name); v != "" {
				ms, err := query.ParseTime(v)
				if err != nil {
					return nil, badRequest("invalid %s %q: %v", b.name, v, err)
				}
				*b.dst = ms
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		// One more than asked tells whether a next page exists.
		want := aq.Limit
		aq.Limit++
		alerts, err := as.Alerts(ctx, aq)
		if err != nil {
			return nil, err
		}
		next := ""
		if len(alerts) > want {
			alerts = alerts[:want]
			next = strconv.FormatInt(alerts[want-1].Seq, 10)
		}
		items := make([]map[string]any, 0, len(alerts))
		for _, al := range alerts {
			items = append(items, AlertJSON(al))
		}
		return map[string]any{"items": items, "next_cursor": next}, nil
	})
	s.HandleJSON("GET /api/v1/threats", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		return map[string]any{"items": detect.Threats()}, nil
	})
	s.HandleJSON("GET /api/v1/flags", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		return map[string]any{"items": detect.Flags()}, nil
	})
}

// AlertJSON is an alert as the APIs show it: its stored body plus its
// ordered id, id and time.
func AlertJSON(al store.Alert) map[string]any {
	m := map[string]any{}
	if err := json.Unmarshal(al.Body, &m); err != nil {
		m = map[string]any{}
	}
	m["seq"] = al.Seq
	m["id"] = al.ID
	m["ts"] = al.Ts
	if _, ok := m["threats"]; !ok {
		m["threats"] = al.Threats
	}
	return m
}
