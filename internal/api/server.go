// Package api is Seshat's HTTP server: the middleware every endpoint shares
// (authentication, roles, tenants, rate limits, body limits, compression,
// JSON errors) and the native /api/v1 handlers. Compatible dialects live in
// sub-packages and register their routes on the same server.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Config tunes the HTTP server.
type Config struct {
	// MaxBodyBytes bounds a request body as sent (compressed or not).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxDecompressedBytes bounds a body once decompressed.
	MaxDecompressedBytes int64 `yaml:"max_decompressed_bytes"`
	// MaxConcurrentUploads bounds uploads decoded at once (each may hold
	// MaxDecompressedBytes); others wait up to QueueTimeout, then get 429.
	MaxConcurrentUploads int             `yaml:"max_concurrent_uploads"`
	QueueTimeout         time.Duration   `yaml:"queue_timeout"`
	RateLimit            auth.RateConfig `yaml:"rate_limit"`
	Limits               ingest.Limits   `yaml:"limits"`
	// QueryTimeout bounds one search or count.
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// DefaultConfig is the server's configuration when nothing is set.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:         10 << 20,
		MaxDecompressedBytes: 100 << 20,
		MaxConcurrentUploads: 4,
		QueueTimeout:         5 * time.Second,
		RateLimit:            auth.RateConfig{RequestsPerSecond: 100, Burst: 200},
		Limits:               ingest.DefaultLimits(),
		QueryTimeout:         60 * time.Second,
	}
}

// Validate checks the values.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes <= 0 || c.MaxDecompressedBytes < c.MaxBodyBytes {
		errs = append(errs, errors.New("api: max_body_bytes must be positive and at most max_decompressed_bytes"))
	}
	if c.MaxConcurrentUploads <= 0 {
		errs = append(errs, errors.New("api.max_concurrent_uploads: must be at least 1"))
	}
	if c.RateLimit.RequestsPerSecond < 0 || c.RateLimit.Burst < 0 {
		errs = append(errs, errors.New("api.rate_limit: values cannot be negative (0 disables the limit)"))
	}
	if c.Limits.MaxStringBytes <= 0 || c.Limits.MaxFields <= 0 || c.Limits.MaxDocBytes <= 0 || c.Limits.FutureSkew < 0 {
		errs = append(errs, errors.New("api.limits: sizes must be positive and future_skew not negative"))
	}
	return errors.Join(errs...)
}

// Deps are what the server works on.
type Deps struct {
	Store    store.Store
	Keys     *auth.Keys
	Registry *model.Registry
	Logger   *slog.Logger
	Metrics  *prometheus.Registry
}

// Server serves the APIs.
type Server struct {
	cfg  Config
	deps Deps
	mux  *http.ServeMux
	// paths answers "which methods does this path take?" for the 405 of a
	// known path asked with another method.
	paths    *http.ServeMux
	allow    map[string][]string
	http     *http.Server
	uploads  chan struct{}
	discMu   sync.Mutex
	disc     map[string]tenantFields
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ingested *prometheus.CounterVec
}

type tenantFields struct {
	reg     *model.Registry
	fetched time.Time
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, deps: deps, mux: http.NewServeMux(), paths: http.NewServeMux(), allow: map[string][]string{},
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads),
		disc:    map[string]tenantFields{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "seshat_http_requests_total", Help: "HTTP requests by route and status."},
			[]string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "seshat_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "seshat_ingest_documents_total", Help: "Uploaded documents by outcome."},
			[]string{"outcome"}),
	}
	if deps.Metrics != nil {
		for _, c := range []prometheus.Collector{s.requests, s.latency, s.ingested} {
			if err := deps.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register API metrics: %w", err)
			}
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.deps.Store.Ready(); err != nil {
			writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Msg: "not ready: " + err.Error()})
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.deps.Metrics != nil {
		metrics := promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{})
		s.Handle("GET /metrics", auth.Read, func(w http.ResponseWriter, r *http.Request, p *auth.Principal) { metrics.ServeHTTP(w, r) })
	}
	s.HandleJSON("POST /api/v1/sessions", auth.Write, s.uploadSessions)
	s.HandleJSON("POST /api/v1/import", auth.Write, s.importFile)
	s.HandleJSON("GET /api/v1/sessions", auth.Read, s.searchSessions)
	s.HandleJSON("GET /api/v1/sessions/counts", auth.Read, s.countSessions)
	s.HandleJSON("GET /api/v1/sessions/{id}", auth.Read, s.getSession)
	s.HandleJSON("GET /api/v1/fields", auth.Read, s.listFields)
	s.HandleJSON("POST /api/v1/keys", auth.ManageKeys, s.createKey)
	s.HandleJSON("GET /api/v1/keys", auth.ManageKeys, s.listKeys)
	s.HandleJSON("DELETE /api/v1/keys/{id}", auth.ManageKeys, s.revokeKey)
	// Anything else is a JSON 405 (known path, other method) or 404, not
	// the mux's plain-text answers.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.paths.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(s.allow[pattern], ", "))
			writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Msg: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
			return
		}
		writeError(w, r, &Error{Status: http.StatusNotFound, Msg: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
}

// Handler is the whole HTTP handler, with response compression.
func (s *Server) Handler() http.Handler {
	gz, err := gzhttp.NewWrapper(gzhttp.MinSize(1024))
	if err != nil {
		panic(err) // constant options
	}
	return gz(s.mux)
}

// Start listens on addr and serves in the background; it returns the bound
// address (useful with port 0).
func (s *Server) Start(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.deps.Logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.deps.Logger.Error("server stopped", "err", err)
		}
	}()
	return ln.Addr(), nil
}

// Stop stops taking requests and waits for those in flight.
func (s *Server) Stop(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}

// registry is the tenant's view of the fields: built-in plus discovered,
// cached briefly so that searches do not read the discovered list each time.
func (s *Server) registry(ctx context.Context, tenant string) (*model.Registry, error) {
	s.discMu.Lock()
	tf, ok := s.disc[tenant]
	s.discMu.Unlock()
	if ok && time.Since(tf.fetched) < 10*time.Second {
		return tf.reg, nil
	}
	disc, err := s.deps.Store.Discovered(ctx, tenant)
	if err != nil {
		return nil, err
	}
	reg := s.deps.Registry.With(disc)
	s.discMu.Lock()
	s.disc[tenant] = tenantFields{reg: reg, fetched: time.Now()}
	s.discMu.Unlock()
	return reg, nil
}

func (s *Server) forgetRegistry(tenant string) {
	s.discMu.Lock()
	delete(s.disc, tenant)
	s.discMu.Unlock()
}
