package alphasoc

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/seshatsec/seshat/internal/api"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/detect"
	"github.com/seshatsec/seshat/internal/store"
)

// AlertStore reads alerts.
type AlertStore interface {
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
}

// AlertsPage is how many alerts one GET /v1/alerts answers at most.
const AlertsPage = 100

// ServeAlerts registers AlphaSOC's alert feed and inventories on server
// (before it starts):
//
//	GET /v1/alerts?follow=BOOKMARK     {"follow","more","alerts":[...],"threats":{...}}
//	GET /v1/ae/inventory/threats       {"threats":{id:{"title","severity","policy"}}}
//	GET /v1/ae/inventory/flags         {"flags":{id:{"title","type"}}}
//
// follow is the bookmark of the last page read (empty: from the start);
// an answer holds only alerts after it, its own follow is the bookmark to
// send next (unchanged when there was nothing new), and more is true while
// further pages are waiting.
func ServeAlerts(server *api.Server, st AlertStore) {
	server.HandleJSON("GET /v1/alerts", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		follow := r.URL.Query().Get("follow")
		var after int64
		if follow != "" {
			n, err := strconv.ParseInt(follow, 10, 64)
			if err != nil || n < 0 {
				return nil, &api.Error{Status: http.StatusBadRequest, Msg: "invalid follow bookmark " + strconv.Quote(follow)}
			}
			after = n
		}
		alerts, err := st.Alerts(r.Context(), store.AlertQuery{Tenant: p.Tenant, After: after, Limit: AlertsPage + 1})
		if err != nil {
			return nil, err
		}
		more := len(alerts) > AlertsPage
		if more {
			alerts = alerts[:AlertsPage]
		}
		out := alertsPage{Follow: strconv.FormatInt(after, 10), More: more, Alerts: make([]alert, 0, len(alerts)),
			Threats: map[string]threat{}}
		for _, al := range alerts {
			out.Alerts = append(out.Alerts, toAlert(al))
			for _, id := range al.Threats {
				t := detect.Lookup(id)
				out.Threats[id] = threat{Title: t.Title, Severity: t.Severity, Policy: t.Policy}
			}
			out.Follow = strconv.FormatInt(al.Seq, 10)
		}
		return out, nil
	})
	server.HandleJSON("GET /v1/ae/inventory/threats", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		m := map[string]threat{}
		for _, t := range detect.Threats() {
			m[t.ID] = threat{Title: t.Title, Severity: t.Severity, Policy: t.Policy}
		}
		return map[string]any{"threats": m}, nil
	})
	server.HandleJSON("GET /v1/ae/inventory/flags", auth.Read, func(r *http.Request, p *auth.Principal) (any, error) {
		m := map[string]flag{}
		for _, f := range detect.Flags() {
			m[f.ID] = flag{Title: f.Title, Type: f.Type}
		}
		return map[string]any{"flags": m}, nil
	})
}

// alertsPage is AlphaSOC's Alerts object.
type alertsPage struct {
	Follow  string            `json:"follow"`
	More    bool              `json:"more"`
	Alerts  []alert           `json:"alerts"`
	Threats map[string]threat `json:"threats"`
}

// alert is AlphaSOC's Alert object: eventType, threats, wisdom, event.
type alert struct {
	EventType string          `json:"eventType"`
	Threats   []string        `json:"threats"`
	Wisdom    json.RawMessage `json:"wisdom"`
	Event     json.RawMessage `json:"event"`
}

type threat struct {
	Title    string `json:"title"`
	Severity int    `json:"severity"`
	Policy   bool   `json:"policy"`
}

type flag struct {
	Title string `json:"title"`
	Type  string `json:"type"`
}

func toAlert(al store.Alert) alert {
	var body struct {
		Wisdom json.RawMessage `json:"wisdom"`
		Event  json.RawMessage `json:"event"`
	}
	_ = json.Unmarshal(al.Body, &body) // a body that does not parse leaves empty objects
	out := alert{EventType: al.EventType, Threats: al.Threats, Wisdom: body.Wisdom, Event: body.Event}
	if out.Threats == nil {
		out.Threats = []string{}
	}
	if len(out.Wisdom) == 0 {
		out.Wisdom = json.RawMessage(`{}`)
	}
	if len(out.Event) == 0 {
		out.Event = json.RawMessage(`{}`)
	}
	return out
}
