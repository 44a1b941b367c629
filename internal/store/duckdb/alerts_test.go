package duckdb

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

func TestAlertsSeqFiltersAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(tenant, threat string, ts, sev int64) store.Alert {
		return store.Alert{Tenant: tenant, ID: "a", Ts: ts, EventType: "ip", SessionID: "s", Threats: []string{threat}, Severity: sev, Body: []byte(`{}`)}
	}
	batch := []store.Alert{mk("acme", "c2_communication", 100, 4), mk("other", "tor_exit", 100, 2), mk("acme", "tor_exit", 200, 2)}
	if err := db.AppendAlerts(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := []int64{batch[0].Seq, batch[1].Seq, batch[2].Seq}; !slices.Equal(got, []int64{1, 1, 2}) {
		t.Errorf("seqs %v, want per-tenant 1, 1, 2", got)
	}
	// Concurrent batches never share a seq.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := db.AppendAlerts(ctx, []store.Alert{mk("acme", "dga", 300, 3), mk("acme", "dga", 301, 3)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	all, err := db.Alerts(ctx, store.AlertQuery{Tenant: "acme", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, a := range all {
		seqs = append(seqs, a.Seq)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("seqs %v", seqs)
	}
	for q, want := range map[store.AlertQuery]int{
		{Tenant: "acme", Threat: "tor_exit"}:               1,
		{Tenant: "acme", MinSeverity: 3}:                   9,
		{Tenant: "acme", Start: 200, End: 300}:             5, // tor_exit at 200, four dga at 300
		{Tenant: "acme", After: 8}:                         2,
		{Tenant: "acme", Limit: 3}:                         3,
		{Tenant: "other"}:                                  1,
		{Tenant: "nobody"}:                                 0,
		{Tenant: "acme", Threat: "c2_communication"}:       1,
		{Tenant: "acme", Threat: "c2_communication" + "x"}: 0,
	} {
		got, err := db.Alerts(ctx, q)
		if err != nil || len(got) != want {
			t.Errorf("%+v: %d alerts (%v), want %d", q, len(got), err, want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The numbering goes on after a restart.
	db, err = Open(ctx, dir, DefaultConfig(), model.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	next := []store.Alert{mk("acme", "dga", 400, 3)}
	if err := db.AppendAlerts(ctx, next); err != nil {
		t.Fatal(err)
	}
	if next[0].Seq != 11 {
		t.Errorf("seq after reopen %d, want 11", next[0].Seq)
	}
	got, _ := db.Alerts(ctx, store.AlertQuery{Tenant: "acme", After: 10})
	if len(got) != 1 || !slices.Equal(got[0].Threats, []string{"dga"}) || string(got[0].Body) != "{}" || got[0].Ts != 400 {
		t.Errorf("read back %+v", got)
	}
}
