// Package auth holds API keys, roles, tenants and per-key rate limits. A key
// belongs to one tenant and carries one role; the secret is shown once when
// made and only its SHA-256 is stored. (Keys are 256 random bits, so a fast
// hash is as strong as a slow one here, and it keeps every request cheap.)
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/seshatsec/seshat/internal/store"
)

// Role is what a key may do.
type Role string

// The roles, from most to least powerful.
const (
	Admin   Role = "admin"   // everything, including keys of its tenant
	Analyst Role = "analyst" // read, upload and triage
	Sensor  Role = "sensor"  // upload only
	Viewer  Role = "viewer"  // read only
)

// Permission is one kind of action an endpoint needs.
type Permission int

// Permissions checked by the API.
const (
	Read Permission = iota + 1
	Write
	Triage
	ManageKeys
	// Authenticated is granted to every role: what any valid key may do,
	// such as AlphaSOC's account status, which sensors call at start-up.
	Authenticated
)

var grants = map[Role]map[Permission]bool{
	Admin:   {Read: true, Write: true, Triage: true, ManageKeys: true, Authenticated: true},
	Analyst: {Read: true, Write: true, Triage: true, Authenticated: true},
	Sensor:  {Write: true, Authenticated: true},
	Viewer:  {Read: true, Authenticated: true},
}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool { _, ok := grants[Role(r)]; return ok }

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID     string
	Tenant    string
	Role      Role
	Bootstrap bool // the first admin key: may manage every tenant
}

// Can reports whether the principal has a permission.
func (p *Principal) Can(perm Permission) bool { return grants[p.Role][perm] }

// ErrUnauthenticated means no key, or an unknown or revoked one.
var ErrUnauthenticated = errors.New("a valid API key is required")

// DefaultTenant is the tenant of the bootstrap admin key.
const DefaultTenant = "default"

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidTenant reports whether s may name a tenant.
func ValidTenant(s string) bool { return tenantName.MatchString(s) }

// KeyPrefix starts every key, so secret scanners can recognise leaked ones.
const KeyPrefix = "seshat_"

// Hash is how a key is stored and looked up.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret makes a key secret: the prefix and 256 random bits.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func newKeyID() string {
	var b [8]byte
	rand.Read(b[:])
	return "k_" + hex.EncodeToString(b[:])
}

// RateConfig sets each key's token bucket.
type RateConfig struct {
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"`
}

// Keys authenticates requests against the stored keys, kept in memory: all
// key changes go through this type, in this process.
type Keys struct {
	st    store.Keys
	rate  RateConfig
	mu    sync.RWMutex
	byH   map[string]store.Key
	limMu sync.Mutex
	lims  map[string]*rate.Limiter
}

// NewKeys loads the stored keys.
func NewKeys(ctx context.Context, st store.Keys, rc RateConfig) (*Keys, error) {
	k := &Keys{st: st, rate: rc, byH: map[string]store.Key{}, lims: map[string]*rate.Limiter{}}
	keys, err := st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		k.byH[key.Hash] = key
	}
	return k, nil
}

// Authenticate finds the key for a secret.
func (k *Keys) Authenticate(secret string) (*Principal, error) {
	if secret == "" || len(secret) > 256 {
		return nil, ErrUnauthenticated
	}
	k.mu.RLock()
	key, ok := k.byH[Hash(secret)]
	k.mu.RUnlock()
	if !ok {
		return nil, ErrUnauthenticated
	}
	return &Principal{KeyID: key.ID, Tenant: key.Tenant, Role: Role(key.Role), Bootstrap: key.Bootstrap}, nil
}

// Allow takes a token from the key's bucket; when empty it says how long
// until the next one.
func (k *Keys) Allow(keyID string) (bool, time.Duration) {
	if k.rate.RequestsPerSecond <= 0 {
		return true, 0
	}
	k.limMu.Lock()
	l, ok := k.lims[keyID]
	if !ok {
		burst := k.rate.Burst
		if burst < 1 {
			burst = int(math.Max(1, k.rate.RequestsPerSecond))
		}
		l = rate.NewLimiter(rate.Limit(k.rate.RequestsPerSecond), burst)
		k.lims[keyID] = l
	}
	k.limMu.Unlock()
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, d
	}
	return true, 0
}

// Count is how many keys are live.
func (k *Keys) Count() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.byH)
}

// Create makes a key. The secret is returned once and never stored; when
// secret is non-empty it is used instead of a random one (SESHAT_ADMIN_KEY).
func (k *Keys) Create(ctx context.Context, tenant string, role Role, name string, bootstrap bool, secret string) (store.Key, string, error) {
	if !ValidTenant(tenant) {
		return store.Key{}, "", fmt.Errorf("invalid tenant %q: use 1-63 lowercase letters, digits, '-' or '_'", tenant)
	}
	if !ValidRole(string(role)) {
		return store.Key{}, "", fmt.Errorf("invalid role %q: use admin, analyst, sensor or viewer", role)
	}
	if len(name) > 200 {
		return store.Key{}, "", errors.New("key name is longer than 200 characters")
	}
	if secret == "" {
		secret = NewSecret()
	} else if len(secret) < 16 || len(secret) > 256 || strings.ContainsAny(secret, ": \t\r\n") {
		return store.Key{}, "", errors.New("a given key must be 16-256 characters without ':' or whitespace")
	}
	key := store.Key{ID: newKeyID(), Tenant: tenant, Role: string(role), Name: name, Hash: Hash(secret),
		CreatedAt: time.Now().UnixMilli(), Bootstrap: bootstrap}
	if err := k.st.CreateTenant(ctx, tenant); err != nil {
		return store.Key{}, "", err
	}
	if err := k.st.CreateKey(ctx, key); err != nil {
		return store.Key{}, "", err
	}
	k.mu.Lock()
	k.byH[key.Hash] = key
	k.mu.Unlock()
	return key, secret, nil
}

// List returns the live keys of a tenant ("" for all tenants).
func (k *Keys) List(tenant string) []store.Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := []store.Key{}
	for _, key := range k.byH {
		if tenant == "" || key.Tenant == tenant {
			out = append(out, key)
		}
	}
	sortKeys(out)
	return out
}

func sortKeys(ks []store.Key) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && (ks[j].CreatedAt < ks[j-1].CreatedAt || ks[j].CreatedAt == ks[j-1].CreatedAt && ks[j].ID < ks[j-1].ID); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// Revoke disables a key of the tenant ("" for any tenant).
func (k *Keys) Revoke(ctx context.Context, tenant, id string) error {
	if err := k.st.RevokeKey(ctx, tenant, id); err != nil {
		return err
	}
	k.mu.Lock()
	for h, key := range k.byH {
		if key.ID == id {
			delete(k.byH, h)
		}
	}
	k.mu.Unlock()
	k.limMu.Lock()
	delete(k.lims, id)
	k.limMu.Unlock()
	return nil
}

// HasSecret reports whether a live key has this secret.
func (k *Keys) HasSecret(secret string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.byH[Hash(secret)]
	return ok
}

// Bootstrap makes sure an admin key exists on a fresh data folder. With a
// given secret (SESHAT_ADMIN_KEY) it makes that the bootstrap admin key when
// no live key has it; otherwise it makes a random one only when there are no
// keys at all. It returns the new secret, or "" when nothing was made.
func (k *Keys) Bootstrap(ctx context.Context, given string) (string, error) {
	if given != "" {
		if k.HasSecret(given) {
			return "", nil
		}
		_, secret, err := k.Create(ctx, DefaultTenant, Admin, "bootstrap admin (SESHAT_ADMIN_KEY)", true, given)
		return secret, err
	}
	if k.Count() > 0 {
		return "", nil
	}
	_, secret, err := k.Create(ctx, DefaultTenant, Admin, "bootstrap admin", true, "")
	return secret, err
}
