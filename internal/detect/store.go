package detect

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Inner is what the decorator wraps: a whole store that also keeps raw
// events and alerts (the DuckDB engine).
type Inner interface {
	store.Store
	store.Alerts
	AppendEvents(ctx context.Context, rows []store.Row, events []store.Event, discovered []model.Field) error
	SessionEvents(ctx context.Context, tenant, sessionID string, limit int) ([]store.Event, error)
	CountSourceEndpoints(ctx context.Context, tenant string, start, end int64) (int64, error)
}

// Store runs the detector on every row written through it, then writes
// the rows (with their triage fields set), then the alerts. Reads pass
// through.
type Store struct {
	Inner
	det    *Detector
	alerts prometheus.Counter
}

var _ Inner = (*Store)(nil)

// NewStore wraps inner; metrics may be nil.
func NewStore(inner Inner, det *Detector, metrics prometheus.Registerer) (*Store, error) {
	s := &Store{Inner: inner, det: det,
		alerts: prometheus.NewCounter(prometheus.CounterOpts{Name: "seshat_detect_alerts_total", Help: "Alerts raised by detection."})}
	if metrics != nil {
		if err := metrics.Register(s.alerts); err != nil {
			return nil, fmt.Errorf("cannot register detection metrics: %w", err)
		}
	}
	return s, nil
}

// Append detects, writes the rows, then records their alerts. The rows are
// durable before the alerts are written, so an alert never points at a
// session that is not stored; if the alerts fail the call fails, and a
// retry stores the sessions again (as any failed upload may).
func (s *Store) Append(ctx context.Context, rows []store.Row, discovered []model.Field) error {
	alerts := s.det.Detect(rows)
	if err := s.Inner.Append(ctx, rows, discovered); err != nil {
		return err
	}
	return s.record(ctx, alerts)
}

// AppendEvents is Append for sessions written with raw events.
func (s *Store) AppendEvents(ctx context.Context, rows []store.Row, events []store.Event, discovered []model.Field) error {
	alerts := s.det.Detect(rows)
	if err := s.Inner.AppendEvents(ctx, rows, events, discovered); err != nil {
		return err
	}
	return s.record(ctx, alerts)
}

func (s *Store) record(ctx context.Context, alerts []store.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	// The caller's deadline was sized for queueing rows; the alerts come
	// after rows that are already durable, so give them their own wait.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeAlertsTimeout)
	defer cancel()
	if err := s.Inner.AppendAlerts(actx, alerts); err != nil {
		return fmt.Errorf("cannot record %d alerts: %w", len(alerts), err)
	}
	s.alerts.Add(float64(len(alerts)))
	return nil
}

// writeAlertsTimeout bounds the wait for the writer to take a batch of alerts.
const writeAlertsTimeout = 30 * time.Second
