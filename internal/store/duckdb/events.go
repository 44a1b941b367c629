package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// AppendEvents writes sessions and raw events together and returns once
// both are durable: they are committed in one transaction, in the same
// group commit as concurrent uploads. An event may belong to one of rows or
// to a session stored earlier.
func (db *DB) AppendEvents(ctx context.Context, rows []store.Row, events []store.Event, discovered []model.Field) error {
	if len(rows) == 0 && len(events) == 0 {
		return nil
	}
	return db.writer.submit(ctx, op{rows: rows, events: events, discovered: discovered})
}

// SessionEvents lists the raw events of a tenant's session in time order
// (at most limit); store.ErrNotFound when the tenant has no such session.
func (db *DB) SessionEvents(ctx context.Context, tenant, sessionID string, limit int) ([]store.Event, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE tenant = ? AND id = ?`, tenant, sessionID).Scan(&n); err != nil {
		return nil, fmt.Errorf("cannot look up session: %w", err)
	}
	if n == 0 {
		return nil, store.ErrNotFound
	}
	rows, err := db.read.QueryContext(ctx,
		`SELECT type, ts, body FROM events WHERE tenant = ? AND session_id = ? ORDER BY ts, rowid LIMIT ?`, tenant, sessionID, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		ev := store.Event{Tenant: tenant, SessionID: sessionID}
		var body string
		if err := rows.Scan(&ev.Type, &ev.Ts, &body); err != nil {
			return nil, fmt.Errorf("cannot read event: %w", err)
		}
		ev.Body = []byte(body)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	return out, nil
}

// CountSourceEndpoints counts the distinct source endpoints of a tenant's
// sessions that overlap [start, end) (epoch ms). An endpoint is named by
// source.id when the session has one, else source.host, else source.ip;
// sessions with none of them are not counted.
func (db *DB) CountSourceEndpoints(ctx context.Context, tenant string, start, end int64) (int64, error) {
	// The attribute document is parsed only for sessions that mention the
	// fields at all: most telemetry names its endpoints by address alone.
	const q = `SELECT count(DISTINCT coalesce(
		CASE WHEN contains(attrs, '"source.id"') THEN 'id:' || json_extract_string(attrs, '$."source.id"') END,
		CASE WHEN contains(attrs, '"source.host"') THEN 'host:' || json_extract_string(attrs, '$."source.host"') END,
		'ip:' || CAST(src_ip_hi AS VARCHAR) || ':' || CAST(src_ip_lo AS VARCHAR)))
	FROM sessions WHERE tenant = ? AND first_packet < ? AND last_packet >= ?`
	var n int64
	if err := db.read.QueryRowContext(ctx, q, tenant, end, start).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count endpoints: %w", err)
	}
	return n, nil
}

// eventTx is a group commit that carries raw events. Sessions and events
// are committed in one transaction, so a crash never keeps the sessions of
// a request without its events (the client, having had no answer, sends
// both again). It is begun before the first session is appended: the
// Appender flushes on its own past a size, and that flush must not commit.
type eventTx struct {
	l     *lane
	group []op
	done  bool
}

// beginEvents starts the transaction when an op of the group carries
// events; otherwise it returns nil and the group commits as before, by the
// Appender's flush. The nil *eventTx is ready to use.
func (w *writer) beginEvents(l *lane, group []op) (*eventTx, error) {
	has := false
	for _, g := range group {
		has = has || len(g.events) > 0
	}
	if !has {
		return nil, nil
	}
	if _, err := l.conn.ExecContext(context.Background(), "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("cannot begin commit: %w", err)
	}
	return &eventTx{l: l, group: group}, nil
}

// commit appends the group's events and commits everything appended since
// beginEvents (the sessions must be flushed first).
func (tx *eventTx) commit() error {
	if tx == nil {
		return nil
	}
	err := tx.l.conn.Raw(func(dc any) error {
		a, err := duck.NewAppenderFromConn(dc.(driver.Conn), "", "events")
		if err != nil {
			return fmt.Errorf("cannot create events appender: %w", err)
		}
		for _, g := range tx.group {
			for i := range g.events {
				ev := &g.events[i]
				if err := a.AppendRow(ev.Tenant, ev.SessionID, ev.Type, ev.Ts, ev.Body); err != nil {
					a.Clear()
					return errors.Join(fmt.Errorf("cannot append event: %w", err), a.Close())
				}
			}
		}
		if err := a.Close(); err != nil { // Close flushes, inside the transaction
			return fmt.Errorf("cannot append events: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := tx.l.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		return fmt.Errorf("cannot commit sessions and events: %w", err)
	}
	tx.done = true
	return nil
}

// rollback discards the transaction unless it was committed; deferred by
// commitRows so that every failure path leaves the lane clean.
func (tx *eventTx) rollback() {
	if tx == nil || tx.done {
		return
	}
	tx.done = true
	// A failed COMMIT may have ended the transaction already; nothing more
	// can be done about an error here.
	tx.l.conn.ExecContext(context.Background(), "ROLLBACK")
}
