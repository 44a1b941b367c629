package duckdb

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

func TestAppendEventsAndSessionEvents(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rows, disc := decode(t, "acme", []byte(`{"_id":"s1","firstPacket":1709294400000,"source":{"ip":"10.0.0.1"}}
{"_id":"s2","firstPacket":1709294401000,"source":{"ip":"10.0.0.2"}}
`))
	evs := []store.Event{
		{Tenant: "acme", SessionID: "s1", Type: "ip", Ts: 1709294400000, Body: []byte(`{"a":1}`)},
		{Tenant: "acme", SessionID: "s2", Type: "dns", Ts: 1709294401000, Body: []byte(`{"b":"é"}`)},
	}
	if err := db.AppendEvents(ctx, rows, evs, disc); err != nil {
		t.Fatal(err)
	}
	// An event joining a session stored earlier comes with no row.
	late := store.Event{Tenant: "acme", SessionID: "s1", Type: "tls", Ts: 1709294399000, Body: []byte(`{"c":true}`)}
	if err := db.AppendEvents(ctx, nil, []store.Event{late}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.SessionEvents(ctx, "acme", "s1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]store.Event{late, evs[0]}, got); d != "" {
		t.Errorf("events of s1 in time order (-want +got):\n%s", d)
	}
	if got, _ := db.SessionEvents(ctx, "acme", "s1", 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d events", len(got))
	}
	for _, c := range []struct{ tenant, id string }{{"other", "s1"}, {"acme", "nope"}} {
		if _, err := db.SessionEvents(ctx, c.tenant, c.id, 10); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s/%s: err %v, want ErrNotFound", c.tenant, c.id, err)
		}
	}
}

func TestAppendEventsIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rows, _ := decode(t, "acme", []byte(`{"_id":"good","firstPacket":1709294400000}`))
	ev := store.Event{Tenant: "acme", SessionID: "good", Type: "ip", Ts: 1, Body: []byte(`{}`)}
	badRow := store.Row{Tenant: "acme", ID: "bad", Cols: make([]any, len(model.Default.Columns()))}
	f, _ := model.Default.Lookup("firstPacket")
	badRow.Cols[f.ColumnIndex()] = "not a number" // the appender refuses it
	count := func() (sessions, events int) {
		db.read.QueryRow(`SELECT count(*) FROM sessions`).Scan(&sessions)
		db.read.QueryRow(`SELECT count(*) FROM events`).Scan(&events)
		return
	}
	for name, c := range map[string]struct {
		rows   []store.Row
		events []store.Event
	}{
		"a refused session": {append(rows[:1:1], badRow), []store.Event{ev}},
	} {
		if err := db.AppendEvents(ctx, c.rows, c.events, nil); err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if s, e := count(); s != 0 || e != 0 {
			t.Fatalf("%s: after the failed commit %d sessions, %d events; want none", name, s, e)
		}
	}
	// Events that cannot be written once the sessions are flushed (here: no
	// events table) take the sessions down with them.
	if _, err := db.read.Exec(`ALTER TABLE events RENAME TO events_away`); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendEvents(ctx, rows, []store.Event{ev}, nil); err == nil {
		t.Fatal("events without a table were accepted")
	}
	if _, err := db.read.Exec(`ALTER TABLE events_away RENAME TO events`); err != nil {
		t.Fatal(err)
	}
	if s, e := count(); s != 0 || e != 0 {
		t.Fatalf("after the failed events commit %d sessions, %d events; want none", s, e)
	}
	// The lane is clean: the next commit goes through whole.
	if err := db.AppendEvents(ctx, rows, []store.Event{ev}, nil); err != nil {
		t.Fatal(err)
	}
	if s, e := count(); s != 1 || e != 1 {
		t.Errorf("after a good commit: %d sessions, %d events; want 1 and 1", s, e)
	}
}

func TestCountSourceEndpoints(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	const day = int64(1709251200000) // 2024-03-01T00:00:00Z
	rows, disc := decode(t, "acme", []byte(`{"firstPacket":1709294400000,"source":{"ip":"10.0.0.1"}}
{"firstPacket":1709294401000,"source":{"ip":"10.0.0.1"}}
{"firstPacket":1709294402000,"source":{"ip":"2001:db8::1"}}
{"firstPacket":1709294403000,"source":{"ip":"10.0.0.2","id":"agent-1"}}
{"firstPacket":1709294404000,"source":{"ip":"10.0.0.3","id":"agent-1"}}
{"firstPacket":1709294405000,"source":{"host":"laptop"}}
{"firstPacket":1709294406000,"destination":{"ip":"10.9.9.9"}}
{"firstPacket":1709164800000,"lastPacket":1709251300000,"source":{"ip":"10.0.0.4"}}
{"firstPacket":1709164800000,"source":{"ip":"10.0.0.5"}}
`))
	if err := db.Append(ctx, rows, disc); err != nil {
		t.Fatal(err)
	}
	other, _ := decode(t, "other", []byte(`{"firstPacket":1709294400000,"source":{"ip":"10.0.0.7"}}`))
	if err := db.Append(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	// 10.0.0.1, 2001:db8::1, agent-1, laptop, and 10.0.0.4 whose session
	// began the day before and ran into this one.
	if n, err := db.CountSourceEndpoints(ctx, "acme", day, day+86_400_000); err != nil || n != 5 {
		t.Errorf("acme: %d, %v; want 5", n, err)
	}
	if n, err := db.CountSourceEndpoints(ctx, "other", day, day+86_400_000); err != nil || n != 1 {
		t.Errorf("other: %d, %v; want 1", n, err)
	}
	if n, err := db.CountSourceEndpoints(ctx, "acme", day+86_400_000, day+2*86_400_000); err != nil || n != 0 {
		t.Errorf("the next day: %d, %v; want 0", n, err)
	}
}
