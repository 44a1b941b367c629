package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// Error is an error with the HTTP status it answers with.
type Error struct {
	Status     int
	Msg        string
	RetryAfter time.Duration // for 429 and 503
}

func (e *Error) Error() string { return e.Msg }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// HandlerFunc is a handler that returns its answer; the wrapper writes it.
type HandlerFunc func(r *http.Request, p *auth.Principal) (any, error)

// Created wraps an answer that is sent with 201.
type Created struct{ Body any }

// Handle registers a raw handler behind authentication, the role check and
// the rate limit.
func (s *Server) Handle(pattern string, perm auth.Permission, h func(http.ResponseWriter, *http.Request, *auth.Principal)) {
	route := pattern
	if method, path, ok := strings.Cut(pattern, " "); ok {
		if _, seen := s.allow[path]; !seen {
			s.paths.HandleFunc(path, func(http.ResponseWriter, *http.Request) {})
		}
		s.allow[path] = append(s.allow[path], method)
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				// A bug must cost one request, never the server.
				s.deps.Logger.Error("handler panic", "route", route, "panic", v)
				writeError(rec, r, &Error{Status: http.StatusInternalServerError, Msg: "internal error"})
			}
			s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		p, err := s.authenticate(r)
		if err != nil {
			rec.Header().Set("WWW-Authenticate", `Basic realm="seshat", Bearer`)
			writeError(rec, r, err)
			return
		}
		if !p.Can(perm) {
			writeError(rec, r, &Error{Status: http.StatusForbidden, Msg: fmt.Sprintf("the %s role cannot do this", p.Role)})
			return
		}
		if ok, wait := s.deps.Keys.Allow(p.KeyID); !ok {
			writeError(rec, r, &Error{Status: http.StatusTooManyRequests, Msg: "rate limit exceeded for this key", RetryAfter: wait})
			return
		}
		h(rec, r, p)
	})
}

// HandleJSON registers a value-returning handler.
func (s *Server) HandleJSON(pattern string, perm auth.Permission, h HandlerFunc) {
	s.Handle(pattern, perm, func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		v, err := h(r, p)
		if err != nil {
			if e := toAPIError(err); e.Status >= 500 {
				s.deps.Logger.Error("request failed", "route", pattern, "err", err)
			}
			writeError(w, r, err)
			return
		}
		if c, ok := v.(Created); ok {
			writeJSON(w, r, http.StatusCreated, c.Body)
			return
		}
		writeJSON(w, r, http.StatusOK, v)
	})
}

// authenticate reads the key: Basic auth with the key as user name and an
// empty password (AlphaSOC's scheme), or a Bearer token.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	var secret string
	switch {
	case h == "":
		return nil, &Error{Status: http.StatusUnauthorized, Msg: "an API key is required: Basic auth with the key as user name, or Authorization: Bearer <key>"}
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "): // scheme names are case-insensitive
		secret = strings.TrimSpace(h[7:])
	default:
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, &Error{Status: http.StatusUnauthorized, Msg: "unsupported Authorization scheme: use Basic or Bearer"}
		}
		if pass != "" {
			return nil, &Error{Status: http.StatusUnauthorized, Msg: "invalid API key: send the key as the user name with an empty password"}
		}
		secret = user
	}
	p, err := s.deps.Keys.Authenticate(secret)
	if err != nil {
		return nil, &Error{Status: http.StatusUnauthorized, Msg: "invalid API key"}
	}
	return p, nil
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// toAPIError maps the errors of lower layers to statuses.
func toAPIError(err error) *Error {
	var e *Error
	var qe *query.Error
	var ie *store.InvalidError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &qe):
		return &Error{Status: http.StatusBadRequest, Msg: "invalid query: " + qe.Error()}
	case errors.As(err, &ie):
		return &Error{Status: http.StatusBadRequest, Msg: ie.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Msg: "not found"}
	case errors.Is(err, store.ErrBusy):
		return &Error{Status: http.StatusTooManyRequests, Msg: "the store is behind on writes; retry later", RetryAfter: 2 * time.Second}
	case errors.Is(err, store.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Msg: "the server is shutting down", RetryAfter: 5 * time.Second}
	default:
		return &Error{Status: http.StatusInternalServerError, Msg: "internal error"}
	}
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeJSON(w, r, e.Status, map[string]string{"message": e.Msg})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
