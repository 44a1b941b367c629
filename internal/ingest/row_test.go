package ingest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/model"
)

func newBuilder() *RowBuilder {
	b := NewRowBuilder(model.Default, Limits{MaxStringBytes: 16, MaxFields: 4}, "acme")
	b.Start(testNow)
	return b
}

func field(name string) *model.Field {
	f, ok := model.Default.Lookup(name)
	if !ok {
		panic(name)
	}
	return f
}

func TestRowBuilderBuildsWhatTheSessionDecoderWould(t *testing.T) {
	b := newBuilder()
	b.Reset()
	for _, step := range []func() *DocError{
		func() *DocError { return b.Set(field("firstPacket"), int64(t0)) },
		func() *DocError { return b.SetText(field("source.ip"), "::ffff:10.0.0.1") },
		func() *DocError { return b.SetText(field("destination.port"), "443") },
		func() *DocError { return b.SetText(field("network.transport"), "TCP") },
		func() *DocError { return b.AddUnique(field("protocol"), []string{"tcp", "tls", "tcp"}) },
		func() *DocError { return b.AddText(field("dns.answers.ttl"), "60.000", false) },
		func() *DocError { return b.Add(field("dns.answers.ttl"), int64(60)) },
		func() *DocError { return b.AddUnique(field("dns.ip"), netip.MustParseAddr("192.0.2.1")) },
		func() *DocError { return b.SetDiscovered("zeek.conn.extra", []string{"a", "b"}) },
	} {
		if derr := step(); derr != nil {
			t.Fatalf("step failed: %v", derr)
		}
	}
	row, derr := b.Finish()
	if derr != nil {
		t.Fatal(derr)
	}
	if !idRe.MatchString(row.ID) || row.Tenant != "acme" {
		t.Errorf("id %q tenant %q", row.ID, row.Tenant)
	}
	checkCols(t, row, map[string]any{
		"firstPacket": int64(t0), "lastPacket": int64(t0), "source.ip": netip.MustParseAddr("10.0.0.1"),
		"destination.port": int64(443), "network.transport": "tcp", "protocol": []string{"tcp", "tls"},
		"session.type": "network",
	})
	var attrs map[string]any
	if err := json.Unmarshal(row.Attrs, &attrs); err != nil {
		t.Fatalf("attributes %s: %v", row.Attrs, err)
	}
	want := map[string]any{"dns.answers.ttl": []any{60.0, 60.0}, "dns.ip": []any{"192.0.2.1"}, "zeek.conn.extra": []any{"a", "b"}}
	if d := cmp.Diff(want, attrs); d != "" {
		t.Errorf("attributes (-want +got):\n%s", d)
	}
	if disc := b.DiscoveredFields(); len(disc) != 1 || disc[0].Name != "zeek.conn.extra" || disc[0].Type != model.TypeStrings || !disc[0].Discovered {
		t.Errorf("discovered %+v", disc)
	}
}

func TestRowBuilderRejects(t *testing.T) {
	tests := []struct {
		name   string
		set    func(b *RowBuilder) *DocError
		reason string
	}{
		{"bad address", func(b *RowBuilder) *DocError { return b.SetText(field("source.ip"), "10.0.0.256") }, ReasonBadIP},
		{"port out of range", func(b *RowBuilder) *DocError { return b.SetText(field("source.port"), "65536") }, ReasonRange},
		{"not an integer", func(b *RowBuilder) *DocError { return b.SetText(field("source.port"), "1.5") }, ReasonType},
		{"not a bool", func(b *RowBuilder) *DocError { return b.SetText(field("zeek.local_orig"), "maybe") }, ReasonType},
		{"string too long", func(b *RowBuilder) *DocError { return b.SetText(field("node"), strings.Repeat("x", 17)) }, ReasonLong},
		{"list element too long", func(b *RowBuilder) *DocError { return b.AddText(field("tags"), strings.Repeat("x", 17), false) }, ReasonLong},
		{"future", func(b *RowBuilder) *DocError {
			return b.Set(field("firstPacket"), testNow.Add(2*time.Hour).UnixMilli())
		}, ReasonFuture},
		{"before 1970", func(b *RowBuilder) *DocError { return b.Set(field("firstPacket"), int64(-1)) }, ReasonBadTime},
		{"bad time text", func(b *RowBuilder) *DocError { return b.SetText(field("firstPacket"), "soon") }, ReasonBadTime},
		{"wrong Go type", func(b *RowBuilder) *DocError { return b.Set(field("source.port"), "80") }, ReasonType},
		{"NaN", func(b *RowBuilder) *DocError { return b.SetText(field("session.duration"), "NaN") }, ReasonType},
		{"unsafe discovered name", func(b *RowBuilder) *DocError { return b.SetDiscovered("a b", "x") }, ReasonFieldName},
		{"too many fields", func(b *RowBuilder) *DocError {
			for _, n := range []string{"x.a", "x.b", "x.c", "x.d"} {
				if derr := b.SetDiscovered(n, int64(1)); derr != nil {
					return derr
				}
			}
			return b.SetDiscovered("x.e", int64(1))
		}, ReasonTooMany},
		{"bad id", func(b *RowBuilder) *DocError { return b.SetText(field("id"), "has space") }, ReasonBadID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder()
			b.Reset()
			derr := tc.set(b)
			if derr == nil || derr.Reason != tc.reason {
				t.Fatalf("got %v, want reason %q", derr, tc.reason)
			}
		})
	}
	t.Run("finish rules", func(t *testing.T) {
		b := newBuilder()
		b.Reset()
		if _, derr := b.Finish(); derr == nil || derr.Reason != ReasonNoTime {
			t.Errorf("no firstPacket: %v", derr)
		}
		b.Reset()
		b.Set(field("firstPacket"), int64(t0))
		b.Set(field("lastPacket"), int64(t0-1))
		if _, derr := b.Finish(); derr == nil || derr.Reason != ReasonTimeReverse {
			t.Errorf("lastPacket before firstPacket: %v", derr)
		}
	})
}

func TestRowBuilderReset(t *testing.T) {
	b := newBuilder()
	b.Reset()
	b.Set(field("firstPacket"), int64(t0))
	b.SetText(field("source.ip"), "10.0.0.1")
	b.SetDiscovered("x.a", "1")
	first, derr := b.Finish()
	if derr != nil {
		t.Fatal(derr)
	}
	// A rejected row leaves nothing behind for the next one.
	b.Reset()
	b.SetText(field("destination.ip"), "10.0.0.9")
	b.SetText(field("source.port"), "99999")
	b.Reset()
	b.Set(field("firstPacket"), int64(t0+1))
	second, derr := b.Finish()
	if derr != nil {
		t.Fatal(derr)
	}
	if second.Attrs != nil || col(second, "destination.ip") != nil || col(second, "source.ip") != nil {
		t.Errorf("second row inherited values: %+v %s", second.Cols, second.Attrs)
	}
	if col(first, "source.ip") != netip.MustParseAddr("10.0.0.1") || first.ID == second.ID {
		t.Errorf("first row changed: %+v", first)
	}
	if b.Value(field("firstPacket")) != nil {
		t.Error("Finish left the row in the builder")
	}
}

func TestSensorHelpers(t *testing.T) {
	for in, want := range map[string]string{"TCP": "tcp", "udp": "udp", "IPv6-ICMP": "icmpv6", "17": "udp", "47": "gre", "": "", "sctp": "sctp"} {
		if got := TransportFromName(in); got != want {
			t.Errorf("TransportFromName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"TLSv12": "TLSv1.2", "TLSv13": "TLSv1.3", "TLSv10": "TLSv1", "TLS 1.2": "TLSv1.2",
		"TLSv1": "TLSv1", "TLS 1.1": "TLSv1.1", "SSLv3": "SSLv3", "DTLSv12": "DTLSv1.2", "UNDETERMINED": "UNDETERMINED"} {
		if got := TLSVersionName(in); got != want {
			t.Errorf("TLSVersionName(%q) = %q, want %q", in, got, want)
		}
	}
	var got [][2]string
	SplitDN(`CN=*.example.com,O=Example\, Inc.,OU= IT ,C=US, L=, =x`, func(k, v string) { got = append(got, [2]string{k, v}) })
	want := [][2]string{{"CN", "*.example.com"}, {"O", "Example, Inc."}, {"OU", "IT"}, {"C", "US"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SplitDN (-want +got):\n%s", d)
	}
	for s, want := range map[string]bool{"www.example.com": true, "_sip._tcp.example.com": true, "10.0.0.1": false, "TXT 27 v=spf1": false, "": false} {
		if LooksLikeHost(s) != want {
			t.Errorf("LooksLikeHost(%q) = %v", s, !want)
		}
	}
	if DNSClassName("C_INTERNET") != "IN" || DNSClassName("C_CHAOS") != "CH" || DNSClassName("odd") != "odd" {
		t.Error("DNSClassName")
	}
}

func TestRowBuilderBoundsDiscoveredNames(t *testing.T) {
	b := NewRowBuilder(model.Default, Limits{}, "acme")
	b.Start(testNow)
	for i := 0; i < MaxDiscovered; i++ {
		b.Reset()
		b.Set(field("firstPacket"), int64(t0))
		if derr := b.SetDiscovered(fmt.Sprintf("x.f%d", i), int64(i)); derr != nil {
			t.Fatalf("name %d: %v", i, derr)
		}
		if _, derr := b.Finish(); derr != nil {
			t.Fatal(derr)
		}
	}
	b.Reset()
	if derr := b.SetDiscovered("x.one_more", int64(1)); derr == nil || derr.Reason != ReasonTooMany {
		t.Fatalf("name past the bound: %v", derr)
	}
	if derr := b.SetDiscovered("x.f7", int64(1)); derr != nil {
		t.Fatalf("a known name past the bound: %v", derr)
	}
	if n := len(b.DiscoveredFields()); n != MaxDiscovered {
		t.Fatalf("%d discovered", n)
	}
}
