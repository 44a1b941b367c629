package main

// Tests of the command line: the built binary against a server started in
// the test process.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

// runSeshat runs the binary with args and returns stdout, stderr and the
// exit code.
func runSeshat(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	bin := seshatBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("seshat %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// inProcessServer starts a server in the test process.
func inProcessServer(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.AdminKey = binAdminKey
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return "http://" + a.Addr.String()
}

func TestCLIQueryAndKeys(t *testing.T) {
	seshatBinary(t) // skip early in -short mode
	base := inProcessServer(t)
	r, err := postGzip(context.Background(), base, binAdminKey, []byte(
		`{"id":"cli-1","firstPacket":"2024-03-01T00:00:00Z","source":{"ip":"10.0.0.1","port":40001},"destination":{"ip":"192.0.2.7","port":443},"network":{"transport":"tcp"},"protocol":["tcp","tls"]}`+"\n"+
			`{"id":"cli-2","firstPacket":"2024-03-01T00:01:00Z","source":{"ip":"10.0.0.1","port":40002},"destination":{"ip":"192.0.2.8","port":80},"network":{"transport":"tcp"}}`+"\n"+
			`{"id":"cli-3","firstPacket":"2024-03-01T00:02:00Z","source":{"ip":"10.0.0.9","port":40003},"destination":{"ip":"192.0.2.7","port":443},"network":{"transport":"tcp"}}`+"\n"))
	if err != nil || r.Accepted != 3 {
		t.Fatalf("seed upload: %+v %v", r, err)
	}
	remote := []string{"--server", base, "--key", binAdminKey}

	t.Run("query prints a table", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"query", "ip.src == 10.0.0.1 && port.dst == 443"}, remote...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("want a header and one row, got:\n%s", out)
		}
		for _, h := range []string{"ID", "SOURCE.IP", "DESTINATION.PORT"} {
			if !strings.Contains(lines[0], h) {
				t.Errorf("header %q lacks %s", lines[0], h)
			}
		}
		want := []string{"cli-1", "2024-03-01T00:00:00.000Z", "10.0.0.1", "40001", "192.0.2.7", "443", "tcp", "tcp,tls"}
		if diff := cmp.Diff(want, strings.Fields(lines[1])[:len(want)]); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
	t.Run("query with environment instead of flags", func(t *testing.T) {
		out, errOut, code := runSeshat(t, []string{"SESHAT_SERVER=" + base, "SESHAT_KEY=" + binAdminKey}, "query", "port.dst == 443")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "cli-1") || !strings.Contains(out, "cli-3") || strings.Contains(out, "cli-2") {
			t.Errorf("want cli-1 and cli-3 only:\n%s", out)
		}
	})
	t.Run("query --json prints NDJSON", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"query", "port.dst == 443", "--json"}, remote...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var ids []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
			}
			ids = append(ids, doc["id"].(string))
			if doc["destination"].(map[string]any)["port"] != float64(443) {
				t.Errorf("session %v does not match the query", doc)
			}
		}
		if diff := cmp.Diff([]string{"cli-3", "cli-1"}, ids); diff != "" {
			t.Errorf("ids, newest first (-want +got):\n%s", diff)
		}
	})
	t.Run("query --count", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"query", "port.dst == [80, 443]", "--count"}, remote...)...)
		if code != 0 || strings.TrimSpace(out) != "3" {
			t.Errorf("exit %d, output %q (%s), want 3", code, out, errOut)
		}
	})
	t.Run("bad query fails with the position", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"query", "port.dst =="}, remote...)...)
		if code == 0 || !strings.Contains(errOut, "at position 11") {
			t.Errorf("exit %d, stderr %q, stdout %q; want a failure naming position 11", code, errOut, out)
		}
	})
	t.Run("query without a key", func(t *testing.T) {
		_, errOut, code := runSeshat(t, nil, "query", "--server", base, "port.dst == 443")
		if code == 0 || !strings.Contains(errOut, "key") {
			t.Errorf("exit %d, stderr %q; want a failure asking for a key", code, errOut)
		}
	})

	t.Run("keys create, list, revoke", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"keys", "create", "--role", "viewer", "--name", "cli-viewer"}, remote...)...)
		if code != 0 {
			t.Fatalf("keys create: exit %d: %s", code, errOut)
		}
		field := func(name string) string {
			m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("keys create printed no %s:\n%s", name, out)
			}
			return m[1]
		}
		id, secret := field("id"), field("key")
		if field("role") != "viewer" || field("tenant") != "default" || !strings.HasPrefix(secret, "seshat_") {
			t.Errorf("keys create printed:\n%s", out)
		}
		// The new key reads.
		out2, errOut, code := runSeshat(t, nil, "query", "--server", base, "--key", secret, "--count")
		if code != 0 || strings.TrimSpace(out2) != "3" {
			t.Errorf("query with the new key: exit %d, %q %s", code, out2, errOut)
		}

		list, errOut, code := runSeshat(t, nil, append([]string{"keys", "list"}, remote...)...)
		if code != 0 {
			t.Fatalf("keys list: exit %d: %s", code, errOut)
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+default\s+viewer\s+cli-viewer\s`).MatchString(list) {
			t.Errorf("keys list lacks the new key %s:\n%s", id, list)
		}
		if strings.Contains(list, secret) || strings.Contains(list, binAdminKey) {
			t.Errorf("keys list shows a secret:\n%s", list)
		}

		out, errOut, code = runSeshat(t, nil, append([]string{"keys", "revoke", id}, remote...)...)
		if code != 0 || !strings.Contains(out, id) {
			t.Fatalf("keys revoke: exit %d, %q %s", code, out, errOut)
		}
		list, _, _ = runSeshat(t, nil, append([]string{"keys", "list"}, remote...)...)
		if strings.Contains(list, id) {
			t.Errorf("revoked key still listed:\n%s", list)
		}
		_, errOut, code = runSeshat(t, nil, "query", "--server", base, "--key", secret, "--count")
		if code == 0 || !strings.Contains(errOut, "401") {
			t.Errorf("query with a revoked key: exit %d, stderr %q; want a 401 failure", code, errOut)
		}
		_, errOut, code = runSeshat(t, nil, append([]string{"keys", "revoke", id}, remote...)...)
		if code == 0 || !strings.Contains(errOut, "404") {
			t.Errorf("second revoke: exit %d, stderr %q; want a 404 failure", code, errOut)
		}
	})
	t.Run("keys create for another tenant", func(t *testing.T) {
		out, errOut, code := runSeshat(t, nil, append([]string{"keys", "create", "--role", "sensor", "--tenant", "branch-office"}, remote...)...)
		if code != 0 || !regexp.MustCompile(`(?m)^tenant:\s+branch-office$`).MatchString(out) {
			t.Errorf("exit %d, %q %s", code, out, errOut)
		}
		_, errOut, code = runSeshat(t, nil, append([]string{"keys", "create", "--role", "superuser"}, remote...)...)
		if code == 0 || !strings.Contains(errOut, "role") {
			t.Errorf("invalid role: exit %d, stderr %q", code, errOut)
		}
	})
}

func TestCLIServeCheckConfig(t *testing.T) {
	seshatBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "listen: 127.0.0.1:9999\napi:\n  rate_limit:\n    requests_per_second: 5\n    burst: 10\nduckdb:\n  memory_limit: 1GB\n")
	unknown := write("bad.yaml", "listen: 127.0.0.1:9999\nlisten_adress: 127.0.0.1:1\n")
	nested := write("nested.yaml", "api:\n  rate_limit:\n    requests_per_sec: 5\n")
	invalid := write("invalid.yaml", "duckdb:\n  memory_limit: lots\n")
	broken := write("broken.yaml", "listen: [\n")

	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     []string // in stdout (success) or stderr (failure)
	}{
		{"valid file", nil, []string{"--config", good}, 0, []string{"configuration is valid"}},
		{"no file", nil, nil, 0, []string{"configuration is valid"}},
		{"unknown key", nil, []string{"--config", unknown}, 1, []string{"listen_adress", "not found"}},
		{"unknown nested key", nil, []string{"--config", nested}, 1, []string{"requests_per_sec"}},
		{"invalid value", nil, []string{"--config", invalid}, 1, []string{"memory_limit", "lots"}},
		{"not YAML", nil, []string{"--config", broken}, 1, []string{"broken.yaml"}},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"bad environment", []string{"SESHAT_THREADS=many"}, nil, 1, []string{"SESHAT_THREADS"}},
		{"bad flag value", nil, []string{"--listen", ""}, 1, []string{"listen"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--check-config", "--data", data}, tc.args...)
			out, errOut, code := runSeshat(t, tc.env, args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			text := out
			if tc.wantCode != 0 {
				text = errOut
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("output %q lacks %q", text, w)
				}
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("--check-config touched the data folder (%v)", err)
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	seshatBinary(t)
	out, errOut, code := runSeshat(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d: %s", code, errOut)
	}
	for _, flag := range []string{"--listen", "--data", "--config", "--check-config", "127.0.0.1:8080", "./seshat-data", "SESHAT_ADMIN_KEY", "SESHAT_LISTEN"} {
		if !strings.Contains(out, flag) {
			t.Errorf("serve --help does not mention %s:\n%s", flag, out)
		}
	}
	out, _, code = runSeshat(t, nil, "--help")
	for _, sub := range []string{"serve", "query", "keys", "version"} {
		if code != 0 || !strings.Contains(out, sub) {
			t.Errorf("seshat --help does not list %s (exit %d):\n%s", sub, code, out)
		}
	}
	out, _, code = runSeshat(t, nil, "query", "--help")
	for _, flag := range []string{"--server", "--key", "--json", "--limit"} {
		if !strings.Contains(out, flag) {
			t.Errorf("query --help does not mention %s:\n%s", flag, out)
		}
	}
	out, _, code = runSeshat(t, nil, "version")
	if code != 0 || strings.TrimSpace(out) != "seshat "+testVersion {
		t.Errorf("version: exit %d, %q; want %q", code, out, "seshat "+testVersion)
	}
	_, errOut, code = runSeshat(t, nil, "frobnicate")
	if code == 0 || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
}
