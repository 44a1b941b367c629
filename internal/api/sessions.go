package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
	"github.com/seshatsec/seshat/internal/store"
)

// appendChunk bounds the rows handed to the store at once, so a large body
// does not hold every row in memory before the first is written.
const appendChunk = 20_000

// uploadSessions takes session documents (NDJSON, a JSON array or objects
// one after another) and answers {"received","accepted","rejected"} once
// every accepted document is durable.
func (s *Server) uploadSessions(r *http.Request, p *auth.Principal) (any, error) {
	// Bound the uploads decoded at once: each may hold a whole body.
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-time.After(s.cfg.QueueTimeout):
		return nil, &Error{Status: http.StatusTooManyRequests, Msg: "too many uploads in progress; retry later", RetryAfter: time.Second}
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	body, brokenErr, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	dec := ingest.NewSessionDecoder(s.deps.Registry, s.cfg.Limits, p.Tenant)
	res, err := s.ingest(r.Context(), dec, body)
	if err != nil {
		return nil, err
	}
	if brokenErr != nil {
		// The broken tail is a document that was received and not accepted:
		// counted once, as truncated, even when its partial text was also
		// seen as malformed JSON by the decoder.
		if res.Rejected[ingest.ReasonMalformed] > 0 && endsMidDocument(body) {
			res.Rejected[ingest.ReasonMalformed]--
			if res.Rejected[ingest.ReasonMalformed] == 0 {
				delete(res.Rejected, ingest.ReasonMalformed)
			}
		} else {
			res.Received++
		}
		res.Rejected["truncated body"]++
		res.Stopped = &ingest.DocError{Index: res.Received - 1, Offset: len(body), Reason: "truncated body", Detail: brokenErr.Error()}
	}
	if res.Received == 1 && res.Accepted == 0 && res.Stopped != nil {
		// The body was not usable at all: say so plainly with a 400.
		return nil, badRequest("%s", res.Stopped.Detail)
	}
	return res, nil
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

// ingest decodes body and writes its rows in chunks, each durable before
// the next is queued.
func (s *Server) ingest(ctx context.Context, dec *ingest.SessionDecoder, body []byte) (ingest.Result, error) {
	batch := make([]store.Row, 0, min(appendChunk, len(body)/256+1))
	written := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueueTimeout)
		defer cancel()
		disc := dec.DiscoveredFields()
		if err := s.deps.Store.Append(qctx, batch, disc); err != nil {
			if written > 0 {
				return fmt.Errorf("%w (the first %d documents were stored)", err, written)
			}
			return err
		}
		if len(disc) > 0 {
			s.forgetRegistry(batch[0].Tenant)
		}
		written += len(batch)
		batch = batch[:0]
		return nil
	}
	res, err := dec.Decode(body, func(row store.Row) error {
		batch = append(batch, row)
		if len(batch) >= appendChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	s.ingested.WithLabelValues("accepted").Add(float64(written))
	s.ingested.WithLabelValues("rejected").Add(float64(res.Received - res.Accepted))
	if err != nil {
		return res, err
	}
	return res, nil
}

// params reads a query parameter that may be repeated or comma-separated.
func params(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// selection reads what searches and counts share: the tenant's registry and
// the q, start and end parameters.
func (s *Server) selection(r *http.Request, p *auth.Principal) (*model.Registry, query.Expr, store.TimeRange, error) {
	reg, err := s.registry(r.Context(), p.Tenant)
	if err != nil {
		return nil, nil, store.TimeRange{}, err
	}
	expr, tr, err := parseSelection(r.URL.Query(), reg)
	return reg, expr, tr, err
}

// parseSelection reads q, start and end.
func parseSelection(q url.Values, reg *model.Registry) (query.Expr, store.TimeRange, error) {
	var expr query.Expr
	var tr store.TimeRange
	if text := q.Get("q"); strings.TrimSpace(text) != "" {
		e, err := query.Parse(text, reg)
		if err != nil {
			return nil, tr, err
		}
		expr = e
	}
	for _, b := range []struct {
		name string
		dst  *int64
	}{{"start", &tr.Start}, {"end", &tr.End}} {
		if v := q.Get(b.name); v != "" {
			ms, err := query.ParseTime(v)
			if err != nil {
				return nil, tr, badRequest("invalid %s %q: %v", b.name, v, err)
			}
			*b.dst = ms
		}
	}
	if tr.Start != 0 && tr.End != 0 && tr.End < tr.Start {
		return nil, tr, badRequest("end is before start")
	}
	return expr, tr, nil
}

// MaxLimit is the largest page.
const MaxLimit = 10_000

func (s *Server) searchSessions(r *http.Request, p *auth.Principal) (any, error) {
	start := time.Now()
	q := r.URL.Query()
	reg, expr, tr, err := s.selection(r, p)
	if err != nil {
		return nil, err
	}
	req := store.SearchRequest{Tenant: p.Tenant, Registry: reg, Filter: expr, Range: tr, Limit: 100, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return nil, badRequest("invalid limit %q: use 1 to %d", v, MaxLimit)
		}
		req.Limit = n
	}
	for _, o := range params(q, "order") {
		name, dir, _ := strings.Cut(o, ":")
		f, ok := reg.Lookup(name)
		if !ok {
			return nil, badRequest("cannot order by unknown field %q", name)
		}
		switch strings.ToLower(dir) {
		case "", "asc":
			req.Order = append(req.Order, store.Order{Field: f})
		case "desc":
			req.Order = append(req.Order, store.Order{Field: f, Desc: true})
		default:
			return nil, badRequest("invalid order %q: use field:asc or field:desc", o)
		}
	}
	var project []string
	for _, name := range params(q, "fields") {
		f, ok := reg.Lookup(name)
		if !ok {
			return nil, badRequest("unknown field %q in fields", name)
		}
		project = append(project, f.Name)
	}
	req.Fields = project // the store reads only the columns these need
	req.Count = q.Get("count") == "true" || q.Get("count") == "1"
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	res, err := s.deps.Store.Search(ctx, req)
	if err != nil {
		return nil, err
	}
	items := make([]map[string]any, 0, len(res.Items))
	for _, it := range res.Items {
		items = append(items, Render(reg, it, project))
	}
	out := map[string]any{"items": items, "next_cursor": res.NextCursor, "took_ms": time.Since(start).Milliseconds()}
	if res.Total != nil {
		out["total"] = *res.Total
	}
	return out, nil
}

func (s *Server) getSession(r *http.Request, p *auth.Principal) (any, error) {
	reg, err := s.registry(r.Context(), p.Tenant)
	if err != nil {
		return nil, err
	}
	sess, err := s.deps.Store.Get(r.Context(), p.Tenant, r.PathValue("id"), reg)
	if err != nil {
		return nil, err
	}
	return Render(reg, sess, nil), nil
}

func (s *Server) countSessions(r *http.Request, p *auth.Principal) (any, error) {
	start := time.Now()
	q := r.URL.Query()
	reg, expr, tr, err := s.selection(r, p)
	if err != nil {
		return nil, err
	}
	req := store.CountsRequest{Tenant: p.Tenant, Registry: reg, Filter: expr, Range: tr, Size: 10}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, badRequest("invalid size %q: use 1 to 1000", v)
		}
		req.Size = n
	}
	names := params(q, "field")
	if len(names) == 0 {
		return nil, badRequest("name at least one field to count: field=destination.port")
	}
	if len(names) > 20 {
		return nil, badRequest("at most 20 fields per request")
	}
	for _, name := range names {
		f, ok := reg.Lookup(name)
		if !ok {
			return nil, badRequest("unknown field %q", name)
		}
		req.Fields = append(req.Fields, f)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	counts, err := s.deps.Store.Counts(ctx, req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"fields": counts, "took_ms": time.Since(start).Milliseconds()}, nil
}

// fieldInfo is one entry of the field discovery answer.
type fieldInfo struct {
	Name        string                     `json:"name"`
	Type        model.Type                 `json:"type"`
	Group       string                     `json:"group"`
	Description string                     `json:"description"`
	Aliases     map[model.Dialect][]string `json:"aliases,omitempty"`
	Discovered  bool                       `json:"discovered,omitempty"`
	Sortable    bool                       `json:"sortable"`
}

func (s *Server) listFields(r *http.Request, p *auth.Principal) (any, error) {
	reg, err := s.registry(r.Context(), p.Tenant)
	if err != nil {
		return nil, err
	}
	out := make([]fieldInfo, 0, len(reg.Fields()))
	for _, f := range reg.Fields() {
		out = append(out, fieldInfo{Name: f.Name, Type: f.Type, Group: f.Group, Description: f.Description,
			Aliases: f.Aliases, Discovered: f.Discovered, Sortable: f.Column != "" && !f.Type.IsList()})
	}
	return map[string]any{"fields": out}, nil
}
