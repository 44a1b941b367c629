// Package duckdb is Seshat's embedded storage engine: one DuckDB database
// file in the data folder. Every write goes through a single writer goroutine
// because DuckDB fails concurrent writes to the same rows ("Conflict on
// update!"); reads use a pool of connections and see committed data only.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Config tunes the engine.
type Config struct {
	// MemoryLimit caps DuckDB's memory, e.g. "1GB".
	MemoryLimit string `yaml:"memory_limit"`
	// Threads caps DuckDB's worker threads; 0 means one per core.
	Threads int `yaml:"threads"`
	// MaxBatchRows bounds how many queued rows one commit takes.
	MaxBatchRows int `yaml:"max_batch_rows"`
	// QueueBatches bounds the writer's queue; a full queue makes writers
	// wait (and the API answer 429 once its own wait runs out).
	QueueBatches int `yaml:"queue_batches"`
	// WriterLanes is how many connections append in parallel (appends never
	// conflict; every other write runs alone). 0 means one per core, at most 4.
	WriterLanes int `yaml:"writer_lanes"`
}

// DefaultConfig is the engine's configuration when nothing is set.
func DefaultConfig() Config {
	return Config{MemoryLimit: "768MB", Threads: 0, MaxBatchRows: 200_000, QueueBatches: 64}
}

// DB is the DuckDB store.
type DB struct {
	cfg       Config
	reg       *model.Registry
	connector *duck.Connector
	read      *sql.DB
	writer    *writer
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*DB)(nil)

// FileName is the database file inside the data folder.
const FileName = "seshat.duckdb"

// Open opens (creating if needed) the database in dir, applies migrations and
// starts the writer. Only one process can hold a data folder at a time.
func Open(ctx context.Context, dir string, cfg Config, reg *model.Registry, metrics prometheus.Registerer) (*DB, error) {
	if cfg.MaxBatchRows <= 0 {
		cfg.MaxBatchRows = DefaultConfig().MaxBatchRows
	}
	if cfg.QueueBatches <= 0 {
		cfg.QueueBatches = DefaultConfig().QueueBatches
	}
	if cfg.WriterLanes <= 0 {
		cfg.WriterLanes = min(runtime.GOMAXPROCS(0), 4)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create data folder: %w", err)
	}
	path := filepath.Join(dir, FileName)
	connector, err := duck.NewConnector(path, func(execer driver.ExecerContext) error {
		// Settings are per database but harmless to repeat per connection.
		stmts := []string{}
		if cfg.MemoryLimit != "" {
			stmts = append(stmts, fmt.Sprintf("SET memory_limit = '%s'", sqlQuoteSetting(cfg.MemoryLimit)))
		}
		if cfg.Threads > 0 {
			stmts = append(stmts, fmt.Sprintf("SET threads = %d", cfg.Threads))
		}
		for _, s := range stmts {
			if _, err := execer.ExecContext(context.Background(), s, nil); err != nil {
				return fmt.Errorf("cannot apply %q: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open %s (is another seshat process using this data folder?): %w", path, err)
	}
	db := &DB{cfg: cfg, reg: reg, connector: connector, read: sql.OpenDB(connector)}
	if err := migrate(ctx, db.read); err != nil {
		db.read.Close()
		return nil, err
	}
	// A larger WAL before automatic checkpoints keeps bulk loads from
	// stalling on a checkpoint every few thousand rows; the WAL is still
	// fsynced on every commit, so durability is unchanged.
	if _, err := db.read.ExecContext(ctx, "SET checkpoint_threshold = '256MB'"); err != nil {
		db.read.Close()
		return nil, fmt.Errorf("cannot set checkpoint threshold: %w", err)
	}
	w, err := newWriter(ctx, db.read, cfg, reg, metrics)
	if err != nil {
		db.read.Close()
		return nil, err
	}
	db.writer = w
	return db, nil
}

// sqlQuoteSetting guards the one place a configured value meets SQL text:
// DuckDB's SET does not take bound parameters.
func sqlQuoteSetting(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\'' || r == '\\' {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// Ready reports whether the writer takes writes.
func (db *DB) Ready() error { return db.writer.ready() }

// Close stops intake, flushes and commits everything queued, checkpoints and
// closes the database.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		werr := db.writer.close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, cerr := db.read.ExecContext(ctx, "CHECKPOINT")
		db.closeErr = errors.Join(werr, cerr, db.read.Close())
	})
	return db.closeErr
}
