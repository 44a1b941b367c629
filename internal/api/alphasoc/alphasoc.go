// Package alphasoc serves the telemetry part of AlphaSOC's REST API v1 on
// Seshat's server, so that AlphaSOC's Network Flight Recorder (nfr) and
// scripts written for AlphaSOC ship to Seshat unchanged:
//
//	POST /v1/events/{dns,ip,http,tls,lease}   events in, 200 {"received","accepted","rejected"}
//	GET  /v1/account/status                   {"today","registered","expired","expirationDate","endpointsSeenToday","messages"}
//
// It is a thin adapter: events are decoded into sessions by
// internal/ingest/alphasoc (which documents the field mapping and the join
// rule), stored through the one writer with their raw text, and answered in
// AlphaSOC's shapes. Authentication, roles, rate limits and {"message"}
// errors are the server's: the key is the Basic-auth user name with an
// empty password, as AlphaSOC's clients send it.
package alphasoc

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seshatsec/seshat/internal/api"
	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/ingest"
	events "github.com/seshatsec/seshat/internal/ingest/alphasoc"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Config tunes the dialect.
type Config struct {
	// MaxBodyBytes bounds an events body, as sent and uncompressed; AlphaSOC
	// documents 10 MB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// WriteTimeout bounds the wait for the writer's queue before 429.
	WriteTimeout time.Duration     `yaml:"write_timeout"`
	Join         events.JoinConfig `yaml:"join"`
}

// DefaultConfig is the dialect's configuration when nothing is set.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 10 << 20, WriteTimeout: 5 * time.Second, Join: events.DefaultJoinConfig()}
}

// Store is what the dialect needs of the storage engine.
type Store interface {
	// AppendEvents writes sessions and raw events and returns once both
	// are durable.
	AppendEvents(ctx context.Context, rows []store.Row, events []store.Event, discovered []model.Field) error
	// CountSourceEndpoints counts the distinct source endpoints of a
	// tenant's sessions overlapping [start, end) (epoch ms).
	CountSourceEndpoints(ctx context.Context, tenant string, start, end int64) (int64, error)
}

// Deps are what the dialect works on.
type Deps struct {
	Server   *api.Server
	Store    Store
	Registry *model.Registry
	Limits   ingest.Limits
	Logger   *slog.Logger
	Metrics  prometheus.Registerer // may be nil
}

// API is the dialect's handlers.
type API struct {
	cfg    Config
	deps   Deps
	joiner *events.Joiner
	now    func() time.Time
	counts *prometheus.CounterVec
}

// chunk bounds the events written at once, so a large body does not hold
// every row before the first is written.
const chunk = 20_000

// New registers the dialect's routes on deps.Server (before it starts).
func New(cfg Config, deps Deps) (*API, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	a := &API{cfg: cfg, deps: deps, joiner: events.NewJoiner(cfg.Join), now: time.Now,
		counts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "seshat_alphasoc_events_total",
			Help: "AlphaSOC events received, by type and outcome (accepted, joined to an ip session, rejected)."},
			[]string{"type", "outcome"})}
	if deps.Metrics != nil {
		if err := deps.Metrics.Register(a.counts); err != nil {
			return nil, fmt.Errorf("cannot register AlphaSOC metrics: %w", err)
		}
	}
	deps.Server.HandleJSON("POST /v1/events/{type}", auth.Write, a.postEvents)
	// Every role may ask: nfr calls it at start-up with its sensor key and
	// gives up when it fails.
	deps.Server.HandleJSON("GET /v1/account/status", auth.Authenticated, a.accountStatus)
	return a, nil
}

// postEvents takes a body of events of one type and answers
// {"received","accepted","rejected"} once every accepted event is durable;
// "errors" (the first rejected events) and "stopped" (where decoding gave
// up) are added when there is something to say.
func (a *API) postEvents(r *http.Request, p *auth.Principal) (any, error) {
	typ, ok := events.ParseType(r.PathValue("type"))
	if !ok {
		return nil, &api.Error{Status: http.StatusNotFound,
			Msg: fmt.Sprintf("unknown event type %q: use dns, ip, http, tls or lease", r.PathValue("type"))}
	}
	release, err := a.deps.Server.AcquireUpload(r.Context())
	if err != nil {
		return nil, err
	}
	defer release()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "" || ct == "application/x-www-form-urlencoded" {
		// AlphaSOC takes events sent with no content type, or with the one
		// curl --data-binary sends by default; the body is JSON regardless.
		r.Header.Set("Content-Type", "application/json")
	}
	body, broken, err := a.deps.Server.ReadBody(r, a.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	dec := events.NewDecoder(a.deps.Registry, a.deps.Limits, p.Tenant, typ)
	res, joined, err := a.ingest(r.Context(), p.Tenant, dec, body)
	a.counts.WithLabelValues(string(typ), "accepted").Add(float64(res.Accepted - joined))
	a.counts.WithLabelValues(string(typ), "joined").Add(float64(joined))
	a.counts.WithLabelValues(string(typ), "rejected").Add(float64(res.Received - res.Accepted))
	if err != nil {
		return nil, err
	}
	if broken != nil {
		// The broken tail is an event that was received and not accepted:
		// counted once, even when its partial text was also malformed JSON.
		const reason = "truncated body"
		if res.Rejected[ingest.ReasonMalformed] > 0 && endsMidDocument(body) {
			if res.Rejected[ingest.ReasonMalformed]--; res.Rejected[ingest.ReasonMalformed] == 0 {
				delete(res.Rejected, ingest.ReasonMalformed)
			}
		} else {
			res.Received++
		}
		res.Rejected[reason]++
		res.Stopped = &ingest.DocError{Index: res.Received - 1, Offset: len(body), Reason: reason, Detail: broken.Error()}
	}
	if res.Received == 1 && res.Accepted == 0 && res.Stopped != nil {
		// Nothing in the body was usable: say so plainly.
		return nil, &api.Error{Status: http.StatusBadRequest, Msg: res.Stopped.Detail}
	}
	return res, nil
}

// ingest decodes body and writes its sessions and events in chunks, each
// durable before the next is queued; it reports how many events joined an
// existing ip session.
func (a *API) ingest(ctx context.Context, tenant string, dec *events.Decoder, body []byte) (ingest.Result, int, error) {
	// An event takes 150 bytes or more: size the chunk's slices once.
	size := min(chunk, len(body)/150+1)
	var (
		rows    = make([]store.Row, 0, size)
		evs     = make([]store.Event, 0, size)
		flows   []events.Event // ip events, joinable once stored
		written int
		joined  int
	)
	if dec.Type() == events.IP {
		flows = make([]events.Event, 0, size)
	}
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, a.cfg.WriteTimeout)
		defer cancel()
		disc := dec.DiscoveredFields()
		if err := a.deps.Store.AppendEvents(wctx, rows, evs, disc); err != nil {
			if written > 0 {
				return fmt.Errorf("%w (the first %d events were stored)", err, written)
			}
			return err
		}
		if len(disc) > 0 {
			a.deps.Server.FieldsChanged(tenant)
		}
		a.joiner.Remember(tenant, flows)
		written += len(evs)
		rows, evs, flows = rows[:0], evs[:0], flows[:0]
		return nil
	}
	res, err := dec.Decode(body, func(ev *events.Event) error {
		sid, linked := a.joiner.Link(tenant, ev)
		if linked {
			joined++
		} else {
			sid = ev.Row.ID
			rows = append(rows, ev.Row)
		}
		evs = append(evs, store.Event{Tenant: tenant, SessionID: sid, Type: string(ev.Type), Ts: ev.First, Body: ev.Raw})
		if ev.Type == events.IP {
			flows = append(flows, *ev)
		}
		if len(evs) >= chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return res, joined, err
}

// endsMidDocument reports whether a body stops inside a document (the last
// non-blank byte does not close one).
func endsMidDocument(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			continue
		case '}', ']':
			return false
		default:
			return true
		}
	}
	return false
}

// status is the answer of GET /v1/account/status.
type status struct {
	Today          string `json:"today"`
	Registered     bool   `json:"registered"`
	Expired        bool   `json:"expired"`
	ExpirationDate any    `json:"expirationDate"` // null: keys do not expire
	// EndpointsSeenToday is null when it could not be counted in time: the
	// status call must answer within nfr's 3 s whatever the store does.
	EndpointsSeenToday *int64    `json:"endpointsSeenToday"`
	Messages           []message `json:"messages"`
}

// message levels as AlphaSOC numbers them (nfr decodes them as integers).
const (
	levelInfo = 1
	levelWarn = 2
)

type message struct {
	Level int    `json:"level"`
	Body  string `json:"body"`
}

// countBudget bounds the endpoint count, well inside nfr's 3 s timeout.
const countBudget = 2 * time.Second

// accountStatus answers AlphaSOC's status call: a self-hosted key is
// registered and never expires; endpointsSeenToday counts the distinct
// source endpoints of the tenant's sessions that overlap today (UTC).
func (a *API) accountStatus(r *http.Request, p *auth.Principal) (any, error) {
	now := a.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	st := status{Today: now.Format(time.RFC3339), Registered: true,
		Messages: []message{{Level: levelInfo, Body: "Seshat: AlphaSOC API v1 compatible telemetry intake for tenant " + p.Tenant}}}
	ctx, cancel := context.WithTimeout(r.Context(), countBudget)
	defer cancel()
	n, err := a.deps.Store.CountSourceEndpoints(ctx, p.Tenant, day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli())
	if err != nil {
		a.deps.Logger.Warn("cannot count endpoints for the account status", "tenant", p.Tenant, "err", err)
		st.Messages = append(st.Messages, message{Level: levelWarn, Body: "endpoints seen today could not be counted in time"})
	} else {
		st.EndpointsSeenToday = &n
	}
	return st, nil
}
