package api

import (
	"context"
	"net/http"
	"time"
)

// What dialect packages (internal/api/<dialect>) use besides Handle and
// HandleJSON, so that their uploads get the same protection as native ones.

// ReadBody reads an upload body as the native upload does (content type,
// Content-Encoding, decompression-bomb check) with limit bounding the body
// both as sent and once decompressed. broken is set when a compressed body
// breaks part-way (a truncated gzip): body then holds what was decoded.
func (s *Server) ReadBody(r *http.Request, limit int64) (body []byte, broken error, err error) {
	return s.readBodyWithin(r, min(limit, s.cfg.MaxBodyBytes), min(limit, s.cfg.MaxDecompressedBytes))
}

// AcquireUpload takes a slot of the upload semaphore shared with native
// uploads (each decoded body is held in memory), waiting up to the
// configured queue timeout; past it the error answers 429. Call release
// once the upload is answered.
func (s *Server) AcquireUpload(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(s.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	case <-t.C:
		return nil, &Error{Status: http.StatusTooManyRequests, Msg: "too many uploads in progress; retry later", RetryAfter: time.Second}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FieldsChanged tells the server that a tenant's sources sent fields the
// registry does not know, so field lookups see them.
func (s *Server) FieldsChanged(tenant string) { s.forgetRegistry(tenant) }
