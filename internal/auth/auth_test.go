package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/store"
)

// fakeKeys is an in-memory store.Keys.
type fakeKeys struct {
	mu      sync.Mutex
	keys    []store.Key
	revoked map[string]bool
	tenants map[string]bool
	failOn  string // method name that fails
}

func newFakeKeys() *fakeKeys {
	return &fakeKeys{revoked: map[string]bool{}, tenants: map[string]bool{}}
}

var errFake = errors.New("store failure")

func (f *fakeKeys) CreateKey(_ context.Context, k store.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOn == "CreateKey" {
		return errFake
	}
	for _, o := range f.keys {
		if o.ID == k.ID || o.Hash == k.Hash {
			return errors.New("duplicate key")
		}
	}
	f.keys = append(f.keys, k)
	return nil
}

func (f *fakeKeys) Keys(context.Context) ([]store.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOn == "Keys" {
		return nil, errFake
	}
	var out []store.Key
	for _, k := range f.keys {
		if !f.revoked[k.ID] {
			out = append(out, k)
		}
	}
	return out, nil
}

func (f *fakeKeys) RevokeKey(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.ID == id && !f.revoked[id] && (tenant == "" || k.Tenant == tenant) {
			f.revoked[id] = true
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeKeys) CreateTenant(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOn == "CreateTenant" {
		return errFake
	}
	f.tenants[name] = true
	return nil
}

func (f *fakeKeys) TenantExists(_ context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tenants[name], nil
}

var _ store.Keys = (*fakeKeys)(nil)

func newKeys(t *testing.T, st *fakeKeys, rc RateConfig) *Keys {
	t.Helper()
	k, err := NewKeys(context.Background(), st, rc)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPermissionMatrix(t *testing.T) {
	want := map[Role]map[Permission]bool{
		Admin:   {Read: true, Write: true, Triage: true, ManageKeys: true},
		Analyst: {Read: true, Write: true, Triage: true, ManageKeys: false},
		Sensor:  {Read: false, Write: true, Triage: false, ManageKeys: false},
		Viewer:  {Read: true, Write: false, Triage: false, ManageKeys: false},
		"":      {Read: false, Write: false, Triage: false, ManageKeys: false},
		"root":  {Read: false, Write: false, Triage: false, ManageKeys: false},
	}
	names := map[Permission]string{Read: "read", Write: "write", Triage: "triage", ManageKeys: "manage keys"}
	for role, perms := range want {
		p := &Principal{Role: role, Tenant: "acme"}
		for perm, ok := range perms {
			if p.Can(perm) != ok {
				t.Errorf("%q can %s = %v, want %v", role, names[perm], p.Can(perm), ok)
			}
		}
		// Bootstrap does not widen a role.
		p.Bootstrap = true
		for perm, ok := range perms {
			if p.Can(perm) != ok {
				t.Errorf("bootstrap %q can %s = %v, want %v", role, names[perm], p.Can(perm), ok)
			}
		}
		if p.Can(Permission(0)) || p.Can(Permission(99)) {
			t.Errorf("%q has an unknown permission", role)
		}
	}
	for _, r := range []string{"admin", "analyst", "sensor", "viewer"} {
		if !ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
	}
	for _, r := range []string{"", "Admin", "ADMIN", "root", "admin ", "superuser"} {
		if ValidRole(r) {
			t.Errorf("ValidRole(%q) = true", r)
		}
	}
}

func TestHashing(t *testing.T) {
	st := newFakeKeys()
	k := newKeys(t, st, RateConfig{})
	key, secret, err := k.Create(context.Background(), "acme", Analyst, "laptop", false, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, KeyPrefix) || len(secret) < len(KeyPrefix)+40 {
		t.Fatalf("secret %q", secret)
	}
	if len(st.keys) != 1 {
		t.Fatalf("stored %d keys", len(st.keys))
	}
	stored := st.keys[0]
	if stored.Hash == secret || strings.Contains(stored.Hash, secret) || strings.Contains(stored.Hash, strings.TrimPrefix(secret, KeyPrefix)) {
		t.Fatal("the stored hash contains the secret")
	}
	if stored.Hash != Hash(secret) || len(stored.Hash) != 64 {
		t.Fatalf("stored hash %q, want SHA-256 hex of the secret", stored.Hash)
	}
	if Hash(secret) == Hash(secret+"x") || Hash("a") == Hash("b") {
		t.Fatal("hash collisions on trivial inputs")
	}
	if Hash("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash is not SHA-256: %s", Hash("abc"))
	}
	if stored.ID != key.ID || stored.Tenant != "acme" || stored.Role != "analyst" || stored.Name != "laptop" || stored.Bootstrap || stored.CreatedAt <= 0 {
		t.Fatalf("stored key %+v, returned %+v", stored, key)
	}
	if !strings.HasPrefix(key.ID, "k_") || strings.Contains(secret, key.ID) {
		t.Fatalf("key id %q", key.ID)
	}
	if !st.tenants["acme"] {
		t.Fatal("tenant not created with its first key")
	}
	// Secrets are random.
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s := NewSecret()
		if seen[s] {
			t.Fatal("NewSecret repeated")
		}
		seen[s] = true
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := newFakeKeys()
	k := newKeys(t, st, RateConfig{})
	key, secret, err := k.Create(ctx, "acme", Viewer, "dash", false, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Authenticate(secret)
	if err != nil {
		t.Fatal(err)
	}
	if *p != (Principal{KeyID: key.ID, Tenant: "acme", Role: Viewer}) {
		t.Fatalf("principal %+v", p)
	}
	for _, bad := range []string{"", secret + "x", secret[:len(secret)-1], strings.ToUpper(secret), Hash(secret), " " + secret, strings.Repeat("a", 300)} {
		if p, err := k.Authenticate(bad); !errors.Is(err, ErrUnauthenticated) || p != nil {
			t.Errorf("Authenticate(%.20q...) = %v, %v", bad, p, err)
		}
	}
	// A new Keys over the same store knows the key (keys are loaded).
	k2 := newKeys(t, st, RateConfig{})
	if _, err := k2.Authenticate(secret); err != nil {
		t.Fatalf("reloaded keys: %v", err)
	}
	// Revocation: scoped to the tenant, then effective at once.
	if err := k.Revoke(ctx, "other", key.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke from another tenant: %v", err)
	}
	if _, err := k.Authenticate(secret); err != nil {
		t.Fatal("a failed revoke disabled the key")
	}
	if err := k.Revoke(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key still works: %v", err)
	}
	if k.HasSecret(secret) || k.Count() != 0 {
		t.Fatal("revoked key still listed")
	}
	if err := k.Revoke(ctx, "", key.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if k3 := newKeys(t, st, RateConfig{}); k3.Count() != 0 {
		t.Fatal("revoked key loaded again")
	}
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	st := newFakeKeys()
	k := newKeys(t, st, RateConfig{})
	tests := []struct {
		tenant string
		role   Role
		name   string
		secret string
		msg    string
	}{
		{"Acme", Analyst, "", "", "invalid tenant"},
		{"", Analyst, "", "", "invalid tenant"},
		{"acme", "root", "", "", "invalid role"},
		{"acme", "", "", "", "invalid role"},
		{"acme", Viewer, strings.Repeat("n", 201), "", "longer than 200"},
		{"acme", Viewer, "", "short", "16-256"},
		{"acme", Viewer, "", "has:colon-in-the-key", "16-256"},
		{"acme", Viewer, "", "has space in the key", "16-256"},
		{"acme", Viewer, "", strings.Repeat("k", 257), "16-256"},
	}
	for _, tc := range tests {
		_, secret, err := k.Create(ctx, tc.tenant, tc.role, tc.name, false, tc.secret)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Create(%q, %q, %d-byte name, %q) = %v, want an error with %q", tc.tenant, tc.role, len(tc.name), tc.secret, err, tc.msg)
		}
		if secret != "" {
			t.Errorf("a failed Create returned a secret")
		}
	}
	if len(st.keys) != 0 || len(st.tenants) != 0 {
		t.Fatalf("failed creates stored something: %v %v", st.keys, st.tenants)
	}
	// A given secret is used as is.
	given := "my-very-own-admin-key-0123456789"
	_, secret, err := k.Create(ctx, "acme", Admin, "ci", false, given)
	if err != nil || secret != given {
		t.Fatalf("given secret: %q %v", secret, err)
	}
	if _, err := k.Authenticate(given); err != nil {
		t.Fatal(err)
	}
	// Store failures surface and leave nothing half-made in memory.
	st.failOn = "CreateKey"
	if _, _, err := k.Create(ctx, "acme", Viewer, "", false, ""); !errors.Is(err, errFake) {
		t.Fatalf("store failure: %v", err)
	}
	if k.Count() != 1 {
		t.Fatalf("in-memory keys %d after a failed store write", k.Count())
	}
	st.failOn = "Keys"
	if _, err := NewKeys(ctx, st, RateConfig{}); !errors.Is(err, errFake) {
		t.Fatalf("NewKeys with a failing store: %v", err)
	}
}

func TestListKeys(t *testing.T) {
	ctx := context.Background()
	k := newKeys(t, newFakeKeys(), RateConfig{})
	for _, tenant := range []string{"acme", "other", "acme"} {
		if _, _, err := k.Create(ctx, tenant, Viewer, tenant, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := k.List("acme"); len(got) != 2 || got[0].Tenant != "acme" || got[1].Tenant != "acme" {
		t.Fatalf("List(acme) = %+v", got)
	}
	if got := k.List("other"); len(got) != 1 {
		t.Fatalf("List(other) = %+v", got)
	}
	if got := k.List("nobody"); got == nil || len(got) != 0 {
		t.Fatalf("List(nobody) = %#v, want an empty list", got)
	}
	all := k.List("")
	if len(all) != 3 {
		t.Fatalf("List() = %d keys", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.CreatedAt > b.CreatedAt || a.CreatedAt == b.CreatedAt && a.ID > b.ID {
			t.Fatalf("List not ordered by creation then id: %+v", all)
		}
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	st := newFakeKeys()
	k := newKeys(t, st, RateConfig{})
	secret, err := k.Bootstrap(ctx, "")
	if err != nil || secret == "" {
		t.Fatalf("first bootstrap: %q %v", secret, err)
	}
	p, err := k.Authenticate(secret)
	if err != nil || p.Role != Admin || p.Tenant != DefaultTenant || !p.Bootstrap {
		t.Fatalf("bootstrap principal %+v %v", p, err)
	}
	if again, err := k.Bootstrap(ctx, ""); err != nil || again != "" {
		t.Fatalf("second bootstrap made a key: %q %v", again, err)
	}
	// A given key is added once, even when other keys exist.
	given := "seshat_given_admin_key_0123456789"
	if s, err := k.Bootstrap(ctx, given); err != nil || s != given {
		t.Fatalf("bootstrap with given key: %q %v", s, err)
	}
	if s, err := k.Bootstrap(ctx, given); err != nil || s != "" {
		t.Fatalf("bootstrap with the same given key again: %q %v", s, err)
	}
	if k.Count() != 2 {
		t.Fatalf("%d keys", k.Count())
	}
	if p, _ := k.Authenticate(given); p == nil || !p.Bootstrap || p.Role != Admin {
		t.Fatalf("given key principal %+v", p)
	}
	if _, err := k.Bootstrap(ctx, "too short"); err == nil {
		t.Fatal("bootstrap accepted an unusable given key")
	}
	// After a restart the given key is found again rather than duplicated.
	k2 := newKeys(t, st, RateConfig{})
	if s, err := k2.Bootstrap(ctx, given); err != nil || s != "" || k2.Count() != 2 {
		t.Fatalf("bootstrap after restart: %q %v, %d keys", s, err, k2.Count())
	}
}

func TestRateLimit(t *testing.T) {
	k := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 1, Burst: 3})
	for i := 0; i < 3; i++ {
		if ok, wait := k.Allow("k1"); !ok || wait != 0 {
			t.Fatalf("request %d within the burst: %v %v", i, ok, wait)
		}
	}
	ok, wait := k.Allow("k1")
	if ok || wait <= 0 || wait > time.Second+50*time.Millisecond {
		t.Fatalf("request past the burst: %v, wait %v (want denied, 0 < wait <= 1s)", ok, wait)
	}
	// A denied request does not consume a token: the wait does not grow.
	_, wait2 := k.Allow("k1")
	if wait2 <= 0 || wait2 > wait+50*time.Millisecond {
		t.Fatalf("second denial wait %v after %v", wait2, wait)
	}
	// Buckets are per key.
	if ok, _ := k.Allow("k2"); !ok {
		t.Fatal("another key is limited")
	}

	// Tokens come back with time.
	fast := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 50, Burst: 1})
	if ok, _ := fast.Allow("k"); !ok {
		t.Fatal("first request denied")
	}
	ok, wait = fast.Allow("k")
	if ok || wait <= 0 || wait > 25*time.Millisecond {
		t.Fatalf("second request: %v %v", ok, wait)
	}
	time.Sleep(wait + 10*time.Millisecond)
	if ok, _ := fast.Allow("k"); !ok {
		t.Fatal("no token after waiting the announced time")
	}

	// No limit configured: everything passes.
	free := newKeys(t, newFakeKeys(), RateConfig{})
	for i := 0; i < 1000; i++ {
		if ok, wait := free.Allow("k"); !ok || wait != 0 {
			t.Fatal("unlimited key denied")
		}
	}
	// Burst 0 defaults to the rate (at least 1).
	def := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 2})
	n := 0
	for i := 0; i < 10; i++ {
		if ok, _ := def.Allow("k"); ok {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("burst 0 with 2 rps allowed %d at once, want 2", n)
	}
	low := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 0.5})
	if ok, _ := low.Allow("k"); !ok {
		t.Fatal("a sub-1 rate allows nothing")
	}
}

func TestRevokeResetsLimiter(t *testing.T) {
	ctx := context.Background()
	k := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 1, Burst: 1})
	key, _, err := k.Create(ctx, "acme", Viewer, "", false, "")
	if err != nil {
		t.Fatal(err)
	}
	k.Allow(key.ID)
	if err := k.Revoke(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	k.limMu.Lock()
	_, left := k.lims[key.ID]
	k.limMu.Unlock()
	if left {
		t.Fatal("limiter of a revoked key kept")
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	k := newKeys(t, newFakeKeys(), RateConfig{RequestsPerSecond: 1000, Burst: 1000})
	_, secret, err := k.Create(ctx, "acme", Sensor, "", false, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				if p, err := k.Authenticate(secret); err != nil || p.Role != Sensor {
					t.Error("authenticate failed under concurrency")
					return
				}
				k.Allow("x")
				k.List("")
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if _, _, err := k.Create(ctx, "acme", Viewer, "", false, ""); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func TestValidTenant(t *testing.T) {
	good := []string{"a", "acme", "default", "tenant-1", "t_2", "0", "9lives", strings.Repeat("a", 63)}
	bad := []string{"", "Acme", "ACME", "-acme", "_acme", "acme corp", "acme/x", "acme.x", "ac'me", "acme\n",
		strings.Repeat("a", 64), "ténant", "a;drop"}
	for _, s := range good {
		if !ValidTenant(s) {
			t.Errorf("ValidTenant(%q) = false", s)
		}
	}
	for _, s := range bad {
		if ValidTenant(s) {
			t.Errorf("ValidTenant(%q) = true", s)
		}
	}
	if !ValidTenant(DefaultTenant) {
		t.Error("the default tenant name is invalid")
	}
}
