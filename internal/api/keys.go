package api

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/seshatsec/seshat/internal/auth"
	"github.com/seshatsec/seshat/internal/store"
)

// keyInfo is a key as listed: never its secret.
type keyInfo struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Role      string `json:"role"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Bootstrap bool   `json:"bootstrap,omitempty"`
	Key       string `json:"key,omitempty"` // only in the answer that creates it
}

func infoOf(k store.Key) keyInfo {
	return keyInfo{ID: k.ID, Tenant: k.Tenant, Role: k.Role, Name: k.Name, Bootstrap: k.Bootstrap,
		CreatedAt: time.UnixMilli(k.CreatedAt).UTC().Format(time.RFC3339)}
}

// createKey makes a key. An admin makes keys for its own tenant; the
// bootstrap admin may name any tenant, which is created if new.
func (s *Server) createKey(r *http.Request, p *auth.Principal) (any, error) {
	var req struct {
		Role   string `json:"role"`
		Tenant string `json:"tenant"`
		Name   string `json:"name"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("invalid key request: %v (expected {\"role\":\"admin|analyst|sensor|viewer\",\"tenant\":\"...\",\"name\":\"...\"})", err)
	}
	if req.Tenant == "" {
		req.Tenant = p.Tenant
	}
	if !auth.ValidRole(req.Role) {
		return nil, badRequest("invalid role %q: use admin, analyst, sensor or viewer", req.Role)
	}
	if !auth.ValidTenant(req.Tenant) {
		return nil, badRequest("invalid tenant %q: use 1-63 lowercase letters, digits, '-' or '_'", req.Tenant)
	}
	if len(req.Name) > 200 {
		return nil, badRequest("key name is longer than 200 characters")
	}
	if req.Tenant != p.Tenant && !p.Bootstrap {
		return nil, &Error{Status: http.StatusForbidden, Msg: "only the bootstrap admin can make keys for another tenant"}
	}
	k, secret, err := s.deps.Keys.Create(r.Context(), req.Tenant, auth.Role(req.Role), req.Name, false, "")
	if err != nil {
		return nil, err
	}
	info := infoOf(k)
	info.Key = secret
	return Created{info}, nil
}

func (s *Server) listKeys(r *http.Request, p *auth.Principal) (any, error) {
	tenant := p.Tenant
	if p.Bootstrap {
		tenant = ""
	}
	out := []keyInfo{}
	for _, k := range s.deps.Keys.List(tenant) {
		out = append(out, infoOf(k))
	}
	return map[string]any{"keys": out}, nil
}

func (s *Server) revokeKey(r *http.Request, p *auth.Principal) (any, error) {
	tenant := p.Tenant
	if p.Bootstrap {
		tenant = ""
	}
	if err := s.deps.Keys.Revoke(r.Context(), tenant, r.PathValue("id")); err != nil {
		return nil, err
	}
	return map[string]any{"revoked": r.PathValue("id")}, nil
}
