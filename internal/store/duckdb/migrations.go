package duckdb

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, once each; their text is frozen once
// released (a change of schema is a new migration), so a data folder made by
// any earlier version upgrades in place. schema_test.go checks that the
// resulting sessions table has exactly the columns the field registry names.
var migrations = []string{
	// 1: sessions, keys, tenants, discovered fields.
	`CREATE TABLE sessions (
		tenant         VARCHAR NOT NULL,
		id             VARCHAR NOT NULL,
		session_type   VARCHAR,
		first_packet   BIGINT,
		last_packet    BIGINT,
		src_ip_hi      UBIGINT,
		src_ip_lo      UBIGINT,
		src_port       BIGINT,
		dst_ip_hi      UBIGINT,
		dst_ip_lo      UBIGINT,
		dst_port       BIGINT,
		src_bytes      BIGINT,
		src_packets    BIGINT,
		dst_bytes      BIGINT,
		dst_packets    BIGINT,
		transport      VARCHAR,
		protocols      VARCHAR[],
		community_id   VARCHAR,
		node           VARCHAR,
		user_name      VARCHAR,
		classification VARCHAR,
		state          VARCHAR,
		severity       BIGINT,
		risk_score     BIGINT,
		threats        VARCHAR[],
		flags          VARCHAR[],
		tags           VARCHAR[],
		attrs          VARCHAR
	);
	CREATE TABLE tenants (
		name       VARCHAR PRIMARY KEY,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE api_keys (
		id         VARCHAR PRIMARY KEY,
		tenant     VARCHAR NOT NULL,
		role       VARCHAR NOT NULL,
		name       VARCHAR NOT NULL,
		hash       VARCHAR NOT NULL UNIQUE,
		bootstrap  BOOLEAN NOT NULL,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT
	);
	CREATE TABLE discovered_fields (
		tenant     VARCHAR NOT NULL,
		name       VARCHAR NOT NULL,
		type       VARCHAR NOT NULL,
		first_seen BIGINT NOT NULL,
		PRIMARY KEY (tenant, name)
	);`,
	// 2: raw telemetry events (AlphaSOC's dns, ip, ...), each linked to the
	// session it became or joined.
	`CREATE TABLE events (
		tenant     VARCHAR NOT NULL,
		session_id VARCHAR NOT NULL,
		type       VARCHAR NOT NULL,
		ts         BIGINT NOT NULL,
		body       VARCHAR NOT NULL
	);`,
	// 3: alerts raised by detection, with an ordered id per tenant (seq)
	// that alert feeds page on.
	`CREATE TABLE alerts (
		tenant     VARCHAR NOT NULL,
		seq        BIGINT NOT NULL,
		id         VARCHAR NOT NULL,
		ts         BIGINT NOT NULL,
		event_type VARCHAR NOT NULL,
		session_id VARCHAR NOT NULL,
		threats    VARCHAR[] NOT NULL,
		severity   BIGINT NOT NULL,
		body       VARCHAR NOT NULL
	);`,
}

// migrate brings the schema to the latest version inside one transaction per
// migration, recording each in schema_migrations.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)`); err != nil {
		return fmt.Errorf("cannot create schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("cannot read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("cannot open data folder: its schema version %d is newer than this binary's %d", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("cannot begin migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("cannot apply migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return fmt.Errorf("cannot record migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("cannot commit migration %d: %w", v, err)
		}
	}
	return nil
}
