package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/api"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seshat.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Default(), cfg); d != "" {
		t.Fatalf("Load without file or env differs from Default (-default +loaded):\n%s", d)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Data != "./seshat-data" || cfg.ShutdownTimeout != 30*time.Second || cfg.AdminKey != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	if d := cmp.Diff(api.DefaultConfig(), cfg.API); d != "" {
		t.Fatalf("api defaults (-want +got):\n%s", d)
	}
	if d := cmp.Diff(duckdb.DefaultConfig(), cfg.DuckDB); d != "" {
		t.Fatalf("duckdb defaults (-want +got):\n%s", d)
	}
	if cfg.API.MaxBodyBytes != 10<<20 || cfg.API.MaxDecompressedBytes != 100<<20 {
		t.Fatalf("body limits %d / %d, want 10 MB / 100 MB", cfg.API.MaxBodyBytes, cfg.API.MaxDecompressedBytes)
	}
	if cfg.API.RateLimit.RequestsPerSecond <= 0 || cfg.API.Limits.FutureSkew <= 0 {
		t.Fatalf("rate limit or future skew off by default: %+v", cfg.API)
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestYAMLOverrides(t *testing.T) {
	p := writeFile(t, `
listen: 0.0.0.0:9999
data: /var/lib/seshat
shutdown_timeout: 5s
admin_key: from-file-admin-key-123456
duckdb:
  memory_limit: 512MiB
  threads: 2
  max_batch_rows: 1000
api:
  max_body_bytes: 1048576
  max_decompressed_bytes: 4194304
  query_timeout: 15s
  rate_limit:
    requests_per_second: 5.5
    burst: 10
  limits:
    max_string_bytes: 100
    future_skew: 2h
`)
	cfg, err := Load(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = "0.0.0.0:9999"
	want.Data = "/var/lib/seshat"
	want.ShutdownTimeout = 5 * time.Second
	want.AdminKey = "from-file-admin-key-123456"
	want.DuckDB.MemoryLimit = "512MiB"
	want.DuckDB.Threads = 2
	want.DuckDB.MaxBatchRows = 1000
	want.API.MaxBodyBytes = 1 << 20
	want.API.MaxDecompressedBytes = 4 << 20
	want.API.QueryTimeout = 15 * time.Second
	want.API.RateLimit.RequestsPerSecond = 5.5
	want.API.RateLimit.Burst = 10
	want.API.Limits.MaxStringBytes = 100
	want.API.Limits.FutureSkew = 2 * time.Hour
	if d := cmp.Diff(want, cfg); d != "" {
		t.Fatalf("loaded config (-want +got):\n%s", d)
	}
	// Keys not in the file keep their defaults (nested structs are merged,
	// not replaced).
	if cfg.API.Limits.MaxFields != Default().API.Limits.MaxFields || cfg.DuckDB.QueueBatches != Default().DuckDB.QueueBatches {
		t.Fatal("a partial section reset the keys it did not mention")
	}
}

func TestUnknownKeysRejected(t *testing.T) {
	tests := []struct{ yaml, key string }{
		{"listen: 127.0.0.1:1\nlisten_addr: x\n", "listen_addr"},
		{"duckdb:\n  memory: 1GB\n", "memory"},
		{"api:\n  rate_limit:\n    rps: 3\n", "rps"},
		{"api:\n  limits:\n    future_skwe: 1h\n", "future_skwe"},
	}
	for _, tc := range tests {
		_, err := Load(writeFile(t, tc.yaml), noEnv)
		if err == nil {
			t.Errorf("unknown key %s accepted", tc.key)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) {
			t.Errorf("error %q does not name the unknown key %q", err, tc.key)
		}
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct{ yaml, want string }{
		// yaml names the line (not the key) of a value of the wrong type.
		{"listen: [1, 2]\n", "line 1"},
		{"duckdb:\n  threads: many\n", "line 2"},
		{"shutdown_timeout: soon\n", "line 1"},
		{"listen: \"unterminated\n", "cannot parse"},
		{"\t- nope", "cannot parse"},
	}
	for _, tc := range tests {
		p := writeFile(t, tc.yaml)
		_, err := Load(p, noEnv)
		if err == nil {
			t.Errorf("%q accepted", tc.yaml)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not mention %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), noEnv); err == nil || !strings.Contains(err.Error(), "cannot read configuration") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, text := range []string{"", "\n\n", "# only a comment\n", "---\n"} {
		cfg, err := Load(writeFile(t, text), noEnv)
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if d := cmp.Diff(Default(), cfg); d != "" {
			t.Errorf("%q changed the configuration (-want +got):\n%s", text, d)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	p := writeFile(t, "listen: 10.0.0.1:1\ndata: /from/file\nduckdb:\n  threads: 3\n")
	env := map[string]string{
		"SESHAT_LISTEN":       "127.0.0.1:7777",
		"SESHAT_DATA":         "/from/env",
		"SESHAT_ADMIN_KEY":    "env-admin-key-0123456789",
		"SESHAT_MEMORY_LIMIT": "1GB",
		"SESHAT_THREADS":      "4",
		"SESHAT_RATE_LIMIT":   "2.5",
		"SESHAT_RATE_BURST":   "7",
		"SESHAT_FUTURE_SKEW":  "90s",
		"SESHAT_INTEL":        "/feeds/a, /feeds/b,",
		"SESHAT_UNRELATED":    "ignored",
	}
	cfg, err := Load(p, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = "127.0.0.1:7777" // the environment wins over the file
	want.Data = "/from/env"
	want.AdminKey = "env-admin-key-0123456789"
	want.DuckDB.MemoryLimit = "1GB"
	want.DuckDB.Threads = 4
	want.API.RateLimit.RequestsPerSecond = 2.5
	want.API.RateLimit.Burst = 7
	want.API.Limits.FutureSkew = 90 * time.Second
	want.Intel = []string{"/feeds/a", "/feeds/b"}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Fatalf("config (-want +got):\n%s", d)
	}
	// Every documented variable is applied.
	for _, v := range Env {
		if _, ok := env[v.Name]; !ok {
			t.Errorf("documented variable %s (%s) not covered by this test", v.Name, v.Sets)
		}
	}
	// Only SESHAT_LISTEN: the rest comes from the file.
	cfg, err = Load(p, envOf(map[string]string{"SESHAT_LISTEN": ":1234"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":1234" || cfg.Data != "/from/file" || cfg.DuckDB.Threads != 3 {
		t.Fatalf("partial env: %+v", cfg)
	}
}

func TestBadEnv(t *testing.T) {
	tests := []map[string]string{
		{"SESHAT_THREADS": "four"},
		{"SESHAT_RATE_LIMIT": "fast"},
		{"SESHAT_RATE_BURST": "1.5"},
		{"SESHAT_FUTURE_SKEW": "1 hour"},
	}
	for _, env := range tests {
		_, err := Load("", envOf(env))
		if err == nil {
			t.Errorf("%v accepted", env)
			continue
		}
		for name, val := range env {
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), val) {
				t.Errorf("error %q does not name %s=%q", err, name, val)
			}
		}
	}
	// Several bad variables are all reported.
	_, err := Load("", envOf(map[string]string{"SESHAT_THREADS": "x", "SESHAT_RATE_BURST": "y"}))
	if err == nil || !strings.Contains(err.Error(), "SESHAT_THREADS") || !strings.Contains(err.Error(), "SESHAT_RATE_BURST") {
		t.Errorf("two bad variables: %v", err)
	}
}

func TestValidate(t *testing.T) {
	good := []string{"2GB", "512MiB", "1.5GB", "100 MB", "1TB", "64KB", "1000B"}
	for _, m := range good {
		if _, err := Load("", envOf(map[string]string{"SESHAT_MEMORY_LIMIT": m})); err != nil {
			t.Errorf("memory_limit %q rejected: %v", m, err)
		}
	}
	bad := []string{"lots", "2", "GB", "-1GB", "2gb'; DROP", "1e9B", "2 G"}
	for _, m := range bad {
		_, err := Load(writeFile(t, "duckdb:\n  memory_limit: \""+m+"\"\n"), noEnv)
		if err == nil {
			t.Errorf("memory_limit %q accepted", m)
			continue
		}
		if !strings.Contains(err.Error(), "memory_limit") {
			t.Errorf("memory_limit %q: error %q does not name the key", m, err)
		}
	}
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Listen = "" }, "listen"},
		{func(c *Config) { c.Data = "" }, "data"},
		{func(c *Config) { c.DuckDB.Threads = -1 }, "threads"},
		{func(c *Config) { c.API.MaxBodyBytes = 0 }, "max_body_bytes"},
		{func(c *Config) { c.API.MaxDecompressedBytes = c.API.MaxBodyBytes - 1 }, "max_decompressed_bytes"},
		{func(c *Config) { c.API.MaxConcurrentUploads = 0 }, "max_concurrent_uploads"},
		{func(c *Config) { c.API.RateLimit.RequestsPerSecond = -1 }, "rate_limit"},
		{func(c *Config) { c.API.Limits.FutureSkew = -time.Second }, "future_skew"},
		{func(c *Config) { c.API.Limits.MaxStringBytes = 0 }, "limits"},
	}
	for _, tc := range tests {
		c := Default()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate: %v, want an error naming %q", err, tc.want)
		}
	}
	// Validation runs on the loaded result.
	if _, err := Load(writeFile(t, "listen: \"\"\n"), noEnv); err == nil {
		t.Error("empty listen accepted from a file")
	}
	if _, err := Load("", envOf(map[string]string{"SESHAT_THREADS": "-2"})); err == nil {
		t.Error("negative threads accepted from the environment")
	}
	// Zero rate limit disables it and is valid.
	c := Default()
	c.API.RateLimit = api.DefaultConfig().RateLimit
	c.API.RateLimit.RequestsPerSecond = 0
	if err := c.Validate(); err != nil {
		t.Errorf("zero rate limit: %v", err)
	}
}
