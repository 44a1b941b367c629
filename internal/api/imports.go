package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/ingest/importer"
)

// importFile takes a chunk of one log file in its own format (Zeek TSV or
// JSON, Suricata EVE, AlphaSOC events, session NDJSON; a Zeek TSV chunk
// starts with the file's headers) and answers {"format","received",
// "accepted","alerts","rejected","errors","stopped"} once every accepted
// record is durable. ?format= names the format, else it is recognised from
// the chunk's first bytes; ?type= names the AlphaSOC event type, else it is
// inferred from the first event.
func (s *Server) importFile(r *http.Request, p *auth.Principal) (any, error) {
	release, err := s.AcquireUpload(r.Context())
	if err != nil {
		return nil, err
	}
	defer release()
	q := r.URL.Query()
	format := ingest.FormatUnknown
	if v := q.Get("format"); v != "" {
		f, ok := importer.ParseFormat(v)
		if !ok {
			return nil, badRequest("unknown format %q: use zeek-tsv, zeek-json, eve, alphasoc or session-json", v)
		}
		format = f
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "" || ct == "application/x-www-form-urlencoded" {
		// Log files are not JSON documents (Zeek TSV): take them with no
		// content type or curl's default, as text.
		r.Header.Set("Content-Type", "text/plain")
	}
	body, broken, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	if format == ingest.FormatUnknown {
		if format = ingest.Detect(body[:min(len(body), 64<<10)]); format == ingest.FormatUnknown {
			return nil, badRequest("cannot import: %v", importer.ErrUnknownFormat)
		}
	}
	res, err := importer.Chunk(r.Context(), s.deps.Store, importer.Config{Tenant: p.Tenant, Registry: s.deps.Registry,
		Limits: s.cfg.Limits, WriteTimeout: s.cfg.QueueTimeout, FieldsChanged: s.forgetRegistry}, format, q.Get("type"), body)
	s.ingested.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.ingested.WithLabelValues("rejected").Add(float64(res.Received - res.Accepted))
	if err != nil {
		if errors.Is(err, importer.ErrUnknownFormat) || errors.Is(err, importer.ErrAlphaSOCType) {
			return nil, badRequest("cannot import: %v", err)
		}
		return nil, err
	}
	if broken != nil {
		// The body broke part-way: what came before it was imported; the
		// rest is counted as one record, as the sessions upload does.
		res.Received++
		res.Reject("truncated body", 1)
		res.Stopped = &ingest.LineError{Reason: "truncated body", Detail: fmt.Sprintf("cannot read the whole body: %v", broken)}
	}
	return res, nil
}
