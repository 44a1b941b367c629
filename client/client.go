// Package client is the Go SDK for Seshat's native API (/api/v1). The
// seshat CLI is built on it; scripts can import it the same way.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Client talks to one Seshat server with one API key.
type Client struct {
	base string
	key  string
	HTTP *http.Client
}

// New makes a client for a server URL such as http://127.0.0.1:8080.
func New(serverURL, key string) *Client {
	return &Client{base: strings.TrimRight(serverURL, "/"), key: key, HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// APIError is a non-2xx answer.
type APIError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *APIError) Error() string { return fmt.Sprintf("seshat: %d %s", e.Status, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, hdr http.Header, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &m) == nil && m.Message != "" {
			e.Message = m.Message
		} else {
			e.Message = strings.TrimSpace(string(data))
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(ra) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(out)
}

// SearchParams selects sessions; see GET /api/v1/sessions.
type SearchParams struct {
	Query      string
	Start, End string // RFC 3339 or epoch seconds/milliseconds
	Order      []string
	Limit      int
	Cursor     string
	Fields     []string
	Count      bool
}

// SearchResult is one page.
type SearchResult struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
	Total      *int64           `json:"total"`
	TookMs     int64            `json:"took_ms"`
}

// Search returns one page of sessions.
func (c *Client) Search(ctx context.Context, p SearchParams) (*SearchResult, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", p.Query)
	set("start", p.Start)
	set("end", p.End)
	set("cursor", p.Cursor)
	set("order", strings.Join(p.Order, ","))
	set("fields", strings.Join(p.Fields, ","))
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Count {
		q.Set("count", "true")
	}
	var out SearchResult
	return &out, c.do(ctx, http.MethodGet, "/api/v1/sessions", q, nil, nil, &out)
}

// Session returns one session.
func (c *Client) Session(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	return out, c.do(ctx, http.MethodGet, "/api/v1/sessions/"+url.PathEscape(id), nil, nil, nil, &out)
}

// FieldCounts is the top values of one field.
type FieldCounts struct {
	Field   string `json:"field"`
	Buckets []struct {
		Value any   `json:"value"`
		Count int64 `json:"count"`
	} `json:"buckets"`
	Other   int64 `json:"other"`
	Missing int64 `json:"missing"`
}

// Counts returns the top values of fields among sessions matching query.
func (c *Client) Counts(ctx context.Context, query string, size int, fields ...string) ([]FieldCounts, error) {
	q := url.Values{"field": fields}
	if query != "" {
		q.Set("q", query)
	}
	if size > 0 {
		q.Set("size", strconv.Itoa(size))
	}
	var out struct {
		Fields []FieldCounts `json:"fields"`
	}
	return out.Fields, c.do(ctx, http.MethodGet, "/api/v1/sessions/counts", q, nil, nil, &out)
}

// UploadResult is the answer to an upload.
type UploadResult struct {
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	Errors   []struct {
		Index   int    `json:"index"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Upload sends NDJSON session documents, gzip-compressed.
func (c *Client) Upload(ctx context.Context, ndjson []byte) (*UploadResult, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(ndjson)
	zw.Close()
	hdr := http.Header{"Content-Type": {"application/x-ndjson"}, "Content-Encoding": {"gzip"}}
	var out UploadResult
	return &out, c.do(ctx, http.MethodPost, "/api/v1/sessions", nil, &buf, hdr, &out)
}

// Key is an API key as listed; Key (the secret) is set only on creation.
type Key struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Role      string `json:"role"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Bootstrap bool   `json:"bootstrap"`
	Key       string `json:"key"`
}

// CreateKey makes a key; tenant "" means the caller's.
func (c *Client) CreateKey(ctx context.Context, role, tenant, name string) (*Key, error) {
	body, _ := json.Marshal(map[string]string{"role": role, "tenant": tenant, "name": name})
	var out Key
	return &out, c.do(ctx, http.MethodPost, "/api/v1/keys", nil, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}}, &out)
}

// Keys lists keys.
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	return out.Keys, c.do(ctx, http.MethodGet, "/api/v1/keys", nil, nil, nil, &out)
}

// RevokeKey revokes a key by id.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/keys/"+url.PathEscape(id), nil, nil, nil, nil)
}
