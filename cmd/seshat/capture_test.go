package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seshatsec/seshat/client"
	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

var capturePcaps = []string{
	filepath.Join("..", "..", "internal", "sensor", "testdata", "arkime", "http-simple-get.pcap"),
	filepath.Join("..", "..", "internal", "sensor", "testdata", "arkime", "dns-udp.pcap"),
}

// runCaptureCmd runs `seshat capture args...` in-process.
func runCaptureCmd(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := captureCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestCaptureStdout(t *testing.T) {
	out, errOut, err := runCaptureCmd(t, "-r", capturePcaps[0], "-r", capturePcaps[1], "--stdout", "--node", "edge-1")
	if err != nil {
		t.Fatalf("capture: %v\n%s", err, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n+1, err, sc.Text())
		}
		if doc["node"] != "edge-1" || doc["source"].(map[string]any)["ip"] == nil {
			t.Errorf("line %d: %s", n+1, sc.Text())
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d sessions on stdout, want 4:\n%s", n, out)
	}
	if !strings.Contains(errOut, "4 sessions") {
		t.Errorf("stderr: %s", errOut)
	}
	if _, _, err := runCaptureCmd(t, "--stdout"); err == nil || !strings.Contains(err.Error(), "-r") {
		t.Errorf("no files: %v", err)
	}
	if _, _, err := runCaptureCmd(t, "-r", "no-such.pcap", "--stdout"); err == nil || !strings.Contains(err.Error(), "cannot") {
		t.Errorf("missing file: %v", err)
	}
}

// Sessions captured offline into a data folder, and uploaded to a server,
// are found by a server on that folder.
func TestCaptureOfflineAndUpload(t *testing.T) {
	data := t.TempDir()
	if out, errOut, err := runCaptureCmd(t, "-r", capturePcaps[0], "-r", capturePcaps[1], "--data", data); err != nil {
		t.Fatalf("offline capture: %v\n%s\n%s", err, out, errOut)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = data
	cfg.AdminKey = binAdminKey
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	defer a.Stop()
	base := "http://" + a.Addr.String()
	c := client.New(base, binAdminKey)
	if n := count(t, c, "port.dst == 53"); n != 3 {
		t.Errorf("after the offline capture: %d DNS sessions, want 3", n)
	}
	if out, errOut, err := runCaptureCmd(t, "-r", capturePcaps[0], "--server", base, "--key", binAdminKey); err != nil {
		t.Fatalf("upload: %v\n%s\n%s", err, out, errOut)
	}
	if n := count(t, c, "port.dst == 80 && ip.protocol == tcp"); n != 2 {
		t.Errorf("after the upload: %d HTTP sessions, want 2 (one offline, one uploaded)", n)
	}
}
