package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/seshatsec/seshat/internal/store"
)

var _ store.Alerts = (*DB)(nil)

// AppendAlerts numbers the alerts (per tenant, in order) and writes them in
// one transaction through the writer, returning once they are durable. The
// numbering runs inside the writer's exclusive op (one at a time), so two concurrent calls
// never hand out the same seq and seq order is commit order: a follower
// that has read up to seq n never later sees an alert below n appear.
func (db *DB) AppendAlerts(ctx context.Context, alerts []store.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	return db.writer.submit(ctx, op{exec: func(ctx context.Context, conn *sql.Conn) error {
		// Alerts are few next to sessions: reading the tenant's last seq
		// (a max over a small table) costs less than keeping a cache in
		// step with rollbacks.
		next := map[string]int64{}
		for i := range alerts {
			t := alerts[i].Tenant
			n, ok := next[t]
			if !ok {
				if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM alerts WHERE tenant = ?`, t).Scan(&n); err != nil {
					return fmt.Errorf("cannot read the last alert id: %w", err)
				}
			}
			n++
			next[t] = n
			alerts[i].Seq = n
		}
		if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return fmt.Errorf("cannot begin alerts: %w", err)
		}
		err := conn.Raw(func(dc any) error {
			a, err := duck.NewAppenderFromConn(dc.(driver.Conn), "", "alerts")
			if err != nil {
				return fmt.Errorf("cannot create alerts appender: %w", err)
			}
			for i := range alerts {
				al := &alerts[i]
				threats := al.Threats
				if threats == nil {
					threats = []string{}
				}
				if err := a.AppendRow(al.Tenant, al.Seq, al.ID, al.Ts, al.EventType, al.SessionID, threats, al.Severity, string(al.Body)); err != nil {
					a.Clear()
					return errors.Join(fmt.Errorf("cannot append alert: %w", err), a.Close())
				}
			}
			if err := a.Close(); err != nil {
				return fmt.Errorf("cannot append alerts: %w", err)
			}
			return nil
		})
		if err == nil {
			if _, err = conn.ExecContext(ctx, "COMMIT"); err != nil {
				err = fmt.Errorf("cannot commit alerts: %w", err)
			}
		}
		if err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			for i := range alerts {
				alerts[i].Seq = 0
			}
			return err
		}
		return nil
	}})
}

// Alerts lists a tenant's alerts after q.After in seq order.
func (db *DB) Alerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error) {
	var (
		where = []string{"tenant = ?", "seq > ?"}
		args  = []any{q.Tenant, q.After}
	)
	if q.Threat != "" {
		where = append(where, "list_contains(threats, ?)")
		args = append(args, q.Threat)
	}
	if q.MinSeverity > 0 {
		where = append(where, "severity >= ?")
		args = append(args, q.MinSeverity)
	}
	if q.Start != 0 {
		where = append(where, "ts >= ?")
		args = append(args, q.Start)
	}
	if q.End != 0 {
		where = append(where, "ts <= ?")
		args = append(args, q.End)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, `SELECT seq, id, ts, event_type, session_id, threats, severity, body FROM alerts WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read alerts: %w", err)
	}
	defer rows.Close()
	out := []store.Alert{}
	for rows.Next() {
		al := store.Alert{Tenant: q.Tenant}
		var threats []any
		var body string
		if err := rows.Scan(&al.Seq, &al.ID, &al.Ts, &al.EventType, &al.SessionID, &threats, &al.Severity, &body); err != nil {
			return nil, fmt.Errorf("cannot read alert: %w", err)
		}
		for _, t := range threats {
			if s, ok := t.(string); ok {
				al.Threats = append(al.Threats, s)
			}
		}
		al.Body = []byte(body)
		out = append(out, al)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read alerts: %w", err)
	}
	return out, nil
}
