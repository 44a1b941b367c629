package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// ImportError is one rejected record of an import, or where it stopped.
type ImportError struct {
	Line    int    `json:"line"` // line of the chunk sent
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ImportResult is the answer of POST /api/v1/import.
type ImportResult struct {
	Format   string         `json:"format"`
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Alerts   int            `json:"alerts"`
	Rejected map[string]int `json:"rejected"`
	Errors   []ImportError  `json:"errors"`
	Stopped  *ImportError   `json:"stopped"`
}

// ImportChunk sends one chunk of a log file (whole lines; a Zeek TSV chunk
// starts with the file's header lines) to POST /api/v1/import. format
// ("zeek-tsv", "zeek-json", "eve", "alphasoc", "session-json") and
// alphaType (an AlphaSOC event type) may be empty: the server then
// recognises them from the chunk. gzipped says body is gzip'd. A 429 or 503
// is an *APIError with RetryAfter set; sending the chunk again is safe then,
// nothing of it was stored.
func (c *Client) ImportChunk(ctx context.Context, format, alphaType string, body []byte, gzipped bool) (*ImportResult, error) {
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	if alphaType != "" {
		q.Set("type", alphaType)
	}
	hdr := http.Header{"Content-Type": {"text/plain"}}
	if gzipped {
		hdr.Set("Content-Encoding", "gzip")
	}
	var out ImportResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/import", q, bytes.NewReader(body), hdr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
