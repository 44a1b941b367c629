package api

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// jsonTypes are the content types an upload may have.
var jsonTypes = map[string]bool{
	"application/x-ndjson":    true,
	"application/ndjson":      true,
	"application/jsonl":       true,
	"application/x-jsonlines": true,
	"application/json":        true,
	"application/json-seq":    true,
	"text/plain":              true, // what some shippers send for NDJSON
}

// readBody reads an upload body within the configured limits and undoes its
// Content-Encoding. When the compressed stream breaks part-way (a truncated
// gzip), it returns what was decoded so far together with the error, so the
// complete documents before the break can still be accepted.
func (s *Server) readBody(r *http.Request) ([]byte, error, error) {
	return s.readBodyWithin(r, s.cfg.MaxBodyBytes, s.cfg.MaxDecompressedBytes)
}

// readBodyWithin is readBody with the given limits on the body as sent and
// once decompressed.
func (s *Server) readBodyWithin(r *http.Request, maxBody, maxDecompressed int64) ([]byte, error, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !jsonTypes[mt] {
		return nil, nil, &Error{Status: http.StatusUnsupportedMediaType,
			Msg: fmt.Sprintf("unsupported content type %q: send application/x-ndjson or application/json", ct)}
	}
	if r.ContentLength > maxBody {
		return nil, nil, tooLarge(maxBody, "")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, nil, badRequest("cannot read body: %v", err)
	}
	if int64(len(raw)) > maxBody {
		return nil, nil, tooLarge(maxBody, "")
	}
	var dec io.Reader
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return raw, nil, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, badRequest("cannot decompress gzip body: %v", err)
		}
		dec = zr
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped; some clients send raw deflate.
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			dec = zr
		} else {
			dec = flate.NewReader(bytes.NewReader(raw))
		}
	default:
		return nil, nil, &Error{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("unsupported Content-Encoding %q: use gzip, deflate or none", enc)}
	}
	// Read at most one byte past the limit: a bomb is stopped right there.
	var out bytes.Buffer
	out.Grow(min(len(raw)*8, int(maxDecompressed)) + 1)
	_, err = io.Copy(&out, io.LimitReader(dec, maxDecompressed+1))
	if int64(out.Len()) > maxDecompressed {
		return nil, nil, tooLarge(maxDecompressed, " once decompressed")
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("the compressed body is truncated")
		}
		return out.Bytes(), fmt.Errorf("cannot decompress body: %w", err), nil
	}
	return out.Bytes(), nil, nil
}

func tooLarge(limit int64, what string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body exceeds %d bytes%s", limit, what)}
}
