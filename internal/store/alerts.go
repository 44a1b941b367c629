package store

import "context"

// Alert is one detection raised on a session, kept with an ordered id per
// tenant (Seq) so that feeds can follow it with a bookmark.
type Alert struct {
	Tenant    string
	Seq       int64 // assigned by the store: 1, 2, ... per tenant
	ID        string
	Ts        int64  // the session's first packet, epoch ms
	EventType string // AlphaSOC's eventType: dns, http, tls or ip
	SessionID string
	Threats   []string
	Severity  int64 // 0-4, the session's scale
	// Body is the whole alert as JSON (wisdom, matches, the normalized
	// event); valid UTF-8.
	Body []byte
}

// AlertQuery selects a tenant's alerts after a bookmark, in Seq order.
type AlertQuery struct {
	Tenant string
	After  int64  // only alerts with Seq > After
	Threat string // "" for any
	// MinSeverity keeps alerts of at least this severity (0: all).
	MinSeverity int64
	Start, End  int64 // Ts bounds, epoch ms; zero is open
	Limit       int
}

// Alerts stores alerts.
type Alerts interface {
	// AppendAlerts assigns each alert its Seq (in place) and returns once
	// they are durable.
	AppendAlerts(ctx context.Context, alerts []Alert) error
	// Alerts lists alerts in ascending Seq.
	Alerts(ctx context.Context, q AlertQuery) ([]Alert, error)
}
