// Package app wires Seshat's components together, in one place: store, keys,
// API server. It starts them in order and stops them in reverse.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/seshatsec/seshat/internal/api"
	"github.com/seshatsec/seshat/internal/api/alphasoc"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/config"
	"github.com/seshatsec/seshat/internal/detect"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

// App is a running server.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	store  *duckdb.DB
	server *api.Server
	det    *detect.Detector
	// Addr is where the server listens.
	Addr net.Addr
	// NewAdminKey is the bootstrap admin key made by this start, if any.
	NewAdminKey string
}

// Start opens the data folder and starts serving.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	db, err := duckdb.Open(ctx, cfg.Data, cfg.DuckDB, model.Default, reg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: db}
	// Detection wraps the store, so every ingest path below writes through it.
	det, err := detect.New(detect.Config{Intel: cfg.Intel}, model.Default, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	a.det = det
	st, err := detect.NewStore(db, det, reg)
	if err != nil {
		db.Close()
		return nil, err
	}
	keys, err := auth.NewKeys(ctx, db, cfg.API.RateLimit)
	if err != nil {
		db.Close()
		return nil, err
	}
	if a.NewAdminKey, err = keys.Bootstrap(ctx, cfg.AdminKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot make the bootstrap admin key: %w", err)
	}
	a.server, err = api.New(cfg.API, api.Deps{Store: st, Keys: keys, Registry: model.Default, Logger: log, Metrics: reg})
	if err != nil {
		db.Close()
		return nil, err
	}
	a.server.ServeSessionEvents(db)
	a.server.ServeAlerts(db)
	alphasoc.ServeAlerts(a.server, db)
	asoc := alphasoc.DefaultConfig()
	asoc.WriteTimeout = cfg.API.QueueTimeout
	if _, err = alphasoc.New(asoc, alphasoc.Deps{Server: a.server, Store: st, Registry: model.Default, Limits: cfg.API.Limits, Logger: log, Metrics: reg}); err != nil {
		db.Close()
		return nil, err
	}
	if a.Addr, err = a.server.Start(cfg.Listen); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// Stop stops intake (in-flight requests finish), then flushes and closes
// the store.
func (a *App) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	serr := a.server.Stop(ctx)
	return errors.Join(serr, a.store.Close())
}

// Run starts, reports where it listens, waits for ctx to end and stops.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "seshat listening on http://%s (data in %s)\n", a.Addr, cfg.Data)
	if a.NewAdminKey != "" && cfg.AdminKey == "" {
		fmt.Fprintf(out, "new admin API key (shown once, keep it safe): %s\n", a.NewAdminKey)
	}
	log.Info("started", "listen", a.Addr.String(), "data", cfg.Data)
	// SIGHUP reloads the threat intelligence; matching goes on with the
	// old index until the new one is swapped in.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer func() {
		signal.Stop(hup)
		close(hup) // ends the reloader; nothing is delivered after Stop
	}()
	go func() {
		for range hup {
			if err := a.det.Reload(); err != nil {
				log.Error("cannot reload threat intelligence", "err", err)
			}
		}
	}()
	<-ctx.Done()
	log.Info("stopping")
	start := time.Now()
	err = a.Stop()
	log.Info("stopped", "took", time.Since(start).String(), "err", err)
	return err
}
