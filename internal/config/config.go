// Package config reads Seshat's configuration: defaults from one function,
// then a YAML file (unknown keys rejected), then SESHAT_* environment
// variables, then command-line flags (applied by the caller).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/seshatsec/seshat/internal/api"
	"github.com/seshatsec/seshat/internal/store/duckdb"
)

// Config is the whole configuration of "seshat serve".
type Config struct {
	Listen string        `yaml:"listen"`
	Data   string        `yaml:"data"`
	API    api.Config    `yaml:"api"`
	DuckDB duckdb.Config `yaml:"duckdb"`
	// ShutdownTimeout bounds how long a stop waits for requests in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// AdminKey, when set, is the bootstrap admin key (SESHAT_ADMIN_KEY);
	// better given by environment than written in a file.
	AdminKey string `yaml:"admin_key"`
	// Intel lists threat-intelligence feed files or folders (Zeek Intel
	// TSV, plain lists, JA3 CSV; see internal/detect). SESHAT_INTEL takes
	// them comma-separated; seshat serve --intel adds more.
	Intel []string `yaml:"intel"`
}

// Default is the configuration when nothing is set.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		Data:            "./seshat-data",
		API:             api.DefaultConfig(),
		DuckDB:          duckdb.DefaultConfig(),
		ShutdownTimeout: 30 * time.Second,
	}
}

// Load reads path (may be empty) over the defaults, then the environment.
func Load(path string, env func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("cannot read configuration: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
			return cfg, fmt.Errorf("cannot parse %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Env lists the environment variables Load reads, with what they set.
var Env = []struct{ Name, Sets string }{
	{"SESHAT_LISTEN", "listen"},
	{"SESHAT_DATA", "data"},
	{"SESHAT_ADMIN_KEY", "admin_key"},
	{"SESHAT_MEMORY_LIMIT", "duckdb.memory_limit"},
	{"SESHAT_THREADS", "duckdb.threads"},
	{"SESHAT_RATE_LIMIT", "api.rate_limit.requests_per_second"},
	{"SESHAT_RATE_BURST", "api.rate_limit.burst"},
	{"SESHAT_FUTURE_SKEW", "api.limits.future_skew"},
	{"SESHAT_INTEL", "intel (comma-separated paths)"},
}

func applyEnv(cfg *Config, env func(string) string) error {
	set := func(name string, fn func(string) error) error {
		if v := env(name); v != "" {
			if err := fn(v); err != nil {
				return fmt.Errorf("invalid %s=%q: %w", name, v, err)
			}
		}
		return nil
	}
	str := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	errs := []error{
		set("SESHAT_LISTEN", str(&cfg.Listen)),
		set("SESHAT_DATA", str(&cfg.Data)),
		set("SESHAT_ADMIN_KEY", str(&cfg.AdminKey)),
		set("SESHAT_MEMORY_LIMIT", str(&cfg.DuckDB.MemoryLimit)),
		set("SESHAT_THREADS", func(v string) (err error) { cfg.DuckDB.Threads, err = strconv.Atoi(v); return }),
		set("SESHAT_RATE_LIMIT", func(v string) (err error) {
			cfg.API.RateLimit.RequestsPerSecond, err = strconv.ParseFloat(v, 64)
			return
		}),
		set("SESHAT_RATE_BURST", func(v string) (err error) { cfg.API.RateLimit.Burst, err = strconv.Atoi(v); return }),
		set("SESHAT_FUTURE_SKEW", func(v string) (err error) { cfg.API.Limits.FutureSkew, err = time.ParseDuration(v); return }),
		set("SESHAT_INTEL", func(v string) error {
			cfg.Intel = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					cfg.Intel = append(cfg.Intel, p)
				}
			}
			return nil
		}),
	}
	return errors.Join(errs...)
}

var memoryLimit = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// Validate checks values that would otherwise fail later, or silently.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: an address is required"))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: a folder is required"))
	}
	if c.DuckDB.MemoryLimit != "" && !memoryLimit.MatchString(c.DuckDB.MemoryLimit) {
		errs = append(errs, fmt.Errorf("duckdb.memory_limit %q: use a size such as 2GB or 512MiB", c.DuckDB.MemoryLimit))
	}
	if c.DuckDB.Threads < 0 {
		errs = append(errs, errors.New("duckdb.threads: must be 0 (one per core) or more"))
	}
	errs = append(errs, c.API.Validate())
	return errors.Join(errs...)
}
