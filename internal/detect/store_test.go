package detect_test

// End to end: the real server (app.Start, DuckDB in a temporary folder)
// with intel configured; sessions hitting indicators go in through the
// native upload and AlphaSOC's /v1/events/dns, and come out triaged, as
// alerts, and through the alert feeds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seshatsec/seshat/internal/app"
	"github.com/seshatsec/seshat/internal/config"
)

const adminKey = "test-admin-key-0123456789"

type server struct {
	url    string
	client *http.Client
}

func start(t *testing.T) *server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.AdminKey = adminKey
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	cfg.Intel = []string{"testdata/intel/zeek-intel/cobaltstrike_ips.intel", "testdata/intel/maltrail", "testdata/intel/custom"}
	var logs bytes.Buffer
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &server{url: "http://" + a.Addr.String(), client: &http.Client{Timeout: time.Minute}}
}

func (s *server) call(t *testing.T, method, path, key, body string, out any) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(key, "")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: cannot decode %s: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (s *server) key(t *testing.T, role, tenant string) string {
	t.Helper()
	var k struct {
		Key string `json:"key"`
	}
	body := fmt.Sprintf(`{"role":%q,"tenant":%q,"name":"t"}`, role, tenant)
	if c := s.call(t, "POST", "/api/v1/keys", adminKey, body, &k); c != http.StatusCreated {
		t.Fatalf("create key: %d", c)
	}
	return k.Key
}

func (s *server) sessions(t *testing.T, key, q string) []map[string]any {
	t.Helper()
	var p struct {
		Items []map[string]any `json:"items"`
	}
	if c := s.call(t, "GET", "/api/v1/sessions?"+url.Values{"q": {q}}.Encode(), key, "", &p); c != 200 {
		t.Fatalf("search %q: %d", q, c)
	}
	return p.Items
}

type feed struct {
	Follow string `json:"follow"`
	More   bool   `json:"more"`
	Alerts []struct {
		EventType string          `json:"eventType"`
		Threats   []string        `json:"threats"`
		Wisdom    map[string]any  `json:"wisdom"`
		Event     map[string]any  `json:"event"`
		Raw       json.RawMessage `json:"-"`
	} `json:"alerts"`
	Threats map[string]struct {
		Title    string `json:"title"`
		Severity int    `json:"severity"`
		Policy   bool   `json:"policy"`
	} `json:"threats"`
}

func TestDetectionEndToEnd(t *testing.T) {
	s := start(t)
	acme := s.key(t, "analyst", "acme")
	other := s.key(t, "analyst", "other")

	// Native upload: a Cobalt Strike team server, a mining pool ip:port,
	// a tunnelling domain under a listed one, a known JA3, and a clean one.
	sessions := strings.Join([]string{
		`{"id":"cs","firstPacket":"2024-03-01T00:00:00Z","lastPacket":"2024-03-01T00:00:10Z","source":{"ip":"10.0.0.1","port":40001},"destination":{"ip":"106.12.219.245","port":443},"network":{"transport":"tcp"}}`,
		`{"id":"pool","firstPacket":"2024-03-01T00:01:00Z","source":{"ip":"10.0.0.2","port":40002},"destination":{"ip":"107.191.47.239","port":3333},"network":{"transport":"tcp"}}`,
		`{"id":"tun","firstPacket":"2024-03-01T00:02:00Z","source":{"ip":"10.0.0.3","port":5353},"destination":{"ip":"8.8.8.8","port":53},"network":{"transport":"udp"},"dns":{"queryHost":["abc.x.packetriot.net"]}}`,
		`{"id":"ja3","firstPacket":"2024-03-01T00:03:00Z","source":{"ip":"10.0.0.4","port":40004},"destination":{"ip":"192.0.2.9","port":443},"network":{"transport":"tcp"},"tls":{"ja3":["E7D705A3286E19EA42F587B344EE6865"]},"severity":4}`,
		`{"id":"clean","firstPacket":"2024-03-01T00:04:00Z","source":{"ip":"10.0.0.5","port":40005},"destination":{"ip":"192.0.2.10","port":443},"network":{"transport":"tcp"}}`,
	}, "\n")
	var res struct{ Accepted int }
	if c := s.call(t, "POST", "/api/v1/sessions", acme, sessions, &res); c != 200 || res.Accepted != 5 {
		t.Fatalf("upload: %d, accepted %d", c, res.Accepted)
	}
	// AlphaSOC dns events: one under a dynamic-DNS domain, one clean.
	events := `{"ts":"2024-03-01T00:05:00Z","srcIP":"10.0.0.6","query":"host.10dv.com","qtype":"A"}` + "\n" +
		`{"ts":"2024-03-01T00:05:01Z","srcIP":"10.0.0.6","query":"example.com","qtype":"A"}`
	if c := s.call(t, "POST", "/v1/events/dns", acme, events, &res); c != 200 || res.Accepted != 2 {
		t.Fatalf("dns events: %d, accepted %d", c, res.Accepted)
	}

	// Triage fields on the sessions, queryable.
	for q, want := range map[string][]string{
		"threats == c2_communication": {"cs"},
		"threats == cryptomining":     {"pool"},
		"threats == dns_tunneling":    {"tun"},
		"threats == malicious_ja3":    {"ja3"},
		"threats == EXISTS!":          {"cs", "ja3", "pool", "tun", ""}, // "" stands for the dns event's session
		"classification == malicious": {"cs", "ja3"},
		"severity == 4":               {"cs", "ja3"},
	} {
		items := s.sessions(t, acme, q)
		var ids []string
		for _, it := range items {
			id, _ := it["id"].(string)
			if !slices.Contains(want, id) {
				id = ""
			}
			ids = append(ids, id)
		}
		slices.Sort(ids)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(ids, w) {
			t.Errorf("%s: got %v, want %v", q, ids, w)
		}
	}
	cs := s.sessions(t, acme, "id == cs")[0]
	if cs["classification"] != "malicious" || cs["risk"].(map[string]any)["score"] != float64(100) || cs["severity"] != float64(4) {
		t.Errorf("cs triage: %v", cs)
	}
	dyn := s.sessions(t, acme, "threats == dynamic_dns")
	if len(dyn) != 1 || dyn[0]["classification"] != "suspicious" {
		t.Errorf("dynamic dns session: %v", dyn)
	}
	if n := len(s.sessions(t, other, "threats == EXISTS!")); n != 0 {
		t.Errorf("other tenant sees %d triaged sessions", n)
	}

	// The AlphaSOC feed, followed page by page, holds the five alerts.
	var f feed
	if c := s.call(t, "GET", "/v1/alerts", acme, "", &f); c != 200 {
		t.Fatalf("/v1/alerts: %d", c)
	}
	if len(f.Alerts) != 5 || f.More || f.Follow != "5" {
		t.Fatalf("feed: %d alerts, more %v, follow %q", len(f.Alerts), f.More, f.Follow)
	}
	var got []string
	for _, a := range f.Alerts {
		got = append(got, a.EventType+":"+strings.Join(a.Threats, ","))
	}
	want := []string{"ip:c2_communication", "ip:cryptomining", "dns:dns_tunneling", "tls:malicious_ja3", "dns:dynamic_dns"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts: got %v, want %v", got, want)
	}
	if th := f.Threats["c2_communication"]; th.Severity != 5 || th.Title == "" {
		t.Errorf("threat definitions: %+v", f.Threats)
	}
	if f.Alerts[4].Event["query"] != "host.10dv.com" || f.Alerts[4].Wisdom["domain"] != "host.10dv.com" {
		t.Errorf("dns alert: event %v wisdom %v", f.Alerts[4].Event, f.Alerts[4].Wisdom)
	}
	var empty feed
	if s.call(t, "GET", "/v1/alerts?follow=5", acme, "", &empty); len(empty.Alerts) != 0 || empty.Follow != "5" || empty.More {
		t.Errorf("after the last bookmark: %+v", empty)
	}
	var tail feed
	if s.call(t, "GET", "/v1/alerts?follow=3", acme, "", &tail); len(tail.Alerts) != 2 || tail.Follow != "5" {
		t.Errorf("follow=3: %d alerts, follow %q", len(tail.Alerts), tail.Follow)
	}
	if c := s.call(t, "GET", "/v1/alerts?follow=x", acme, "", nil); c != 400 {
		t.Errorf("bad bookmark: %d", c)
	}

	// Tenant isolation: the other tenant has no alerts.
	var none feed
	if s.call(t, "GET", "/v1/alerts", other, "", &none); len(none.Alerts) != 0 || none.Follow != "0" {
		t.Errorf("other tenant's feed: %+v", none)
	}

	// Native alerts: filters and cursor paging.
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	if s.call(t, "GET", "/api/v1/alerts?limit=2", acme, "", &page); len(page.Items) != 2 || page.NextCursor != "2" {
		t.Fatalf("page 1: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	if s.call(t, "GET", "/api/v1/alerts?limit=2&cursor=4", acme, "", &page); len(page.Items) != 1 || page.NextCursor != "" || page.Items[0]["sessionId"] == "" {
		t.Fatalf("last page: %v, cursor %q", page.Items, page.NextCursor)
	}
	if s.call(t, "GET", "/api/v1/alerts?threat=cryptomining", acme, "", &page); len(page.Items) != 1 || page.Items[0]["sessionId"] != "pool" {
		t.Errorf("threat filter: %v", page.Items)
	}
	if s.call(t, "GET", "/api/v1/alerts?severity=4", acme, "", &page); len(page.Items) != 2 {
		t.Errorf("severity filter: %d items", len(page.Items))
	}
	if s.call(t, "GET", "/api/v1/alerts?start=2024-03-01T00:04:00Z", acme, "", &page); len(page.Items) != 1 {
		t.Errorf("start filter: %d items", len(page.Items))
	}
	if s.call(t, "GET", "/api/v1/alerts", other, "", &page); len(page.Items) != 0 {
		t.Errorf("other tenant's native alerts: %d", len(page.Items))
	}

	// Inventories.
	var inv struct {
		Threats map[string]struct {
			Severity int `json:"severity"`
		} `json:"threats"`
		Flags map[string]any `json:"flags"`
	}
	s.call(t, "GET", "/v1/ae/inventory/threats", acme, "", &inv)
	for _, id := range []string{"c2_communication", "cryptomining", "dns_tunneling", "dynamic_dns", "port_scan", "beaconing", "dga", "cleartext_credentials"} {
		if sev := inv.Threats[id].Severity; sev < 1 || sev > 5 {
			t.Errorf("inventory threat %s: severity %d", id, sev)
		}
	}
	s.call(t, "GET", "/v1/ae/inventory/flags", acme, "", &inv)
	if inv.Flags["intel_domain"] == nil {
		t.Errorf("flag inventory: %v", inv.Flags)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if s.call(t, "GET", "/api/v1/threats", acme, "", &list); len(list.Items) < 10 {
		t.Errorf("native threats: %d", len(list.Items))
	}
	if s.call(t, "GET", "/api/v1/flags", acme, "", &list); len(list.Items) == 0 {
		t.Errorf("native flags: %d", len(list.Items))
	}
	// A sensor key cannot read alerts.
	sensor := s.key(t, "sensor", "acme")
	if c := s.call(t, "GET", "/v1/alerts", sensor, "", nil); c != http.StatusForbidden {
		t.Errorf("sensor reading alerts: %d", c)
	}
}

func TestAlertFeedPaging(t *testing.T) {
	s := start(t)
	key := s.key(t, "analyst", "pager")
	const n = 230 // more than two pages of 100
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"s%03d","firstPacket":%d,"source":{"ip":"10.0.0.1","port":%d},"destination":{"ip":"106.12.219.245","port":443}}`+"\n",
			i, 1709251200000+int64(i), 1024+i)
	}
	// Two uploads, so that the seqs span two alert batches.
	lines := strings.SplitAfter(b.String(), "\n")
	for _, part := range []string{strings.Join(lines[:150], ""), strings.Join(lines[150:], "")} {
		var res struct{ Accepted int }
		if c := s.call(t, "POST", "/api/v1/sessions", key, part, &res); c != 200 {
			t.Fatalf("upload: %d", c)
		}
	}
	var (
		follow string
		seen   []string
		pages  int
	)
	for {
		var f feed
		if c := s.call(t, "GET", "/v1/alerts?follow="+follow, key, "", &f); c != 200 {
			t.Fatalf("page %d: %d", pages, c)
		}
		pages++
		for _, a := range f.Alerts {
			seen = append(seen, a.Event["ts"].(string))
		}
		follow = f.Follow
		if !f.More {
			break
		}
		if pages > 10 {
			t.Fatal("more never ends")
		}
	}
	if len(seen) != n || pages != 3 || follow != fmt.Sprint(n) {
		t.Errorf("got %d alerts in %d pages, last follow %q", len(seen), pages, follow)
	}
	if !slices.IsSorted(seen) {
		t.Error("alerts are not in order")
	}
}
