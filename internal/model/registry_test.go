package model_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/query"
)

var knownTypes = map[model.Type]bool{
	model.TypeString: true, model.TypeInt: true, model.TypeFloat: true, model.TypeBool: true,
	model.TypeIP: true, model.TypeTime: true, model.TypeStrings: true, model.TypeInts: true,
	model.TypeIPs: true,
}

func TestEveryFieldIsDescribed(t *testing.T) {
	fields := model.Default.Fields()
	if len(fields) < 100 {
		t.Fatalf("registry has %d fields, expected well over 100", len(fields))
	}
	columns := map[string]string{}
	for _, f := range fields {
		if f.Name == "" {
			t.Errorf("field with empty name: %+v", f)
			continue
		}
		if !knownTypes[f.Type] {
			t.Errorf("%s: type %q is not a built-in field type", f.Name, f.Type)
		}
		if strings.TrimSpace(f.Description) == "" {
			t.Errorf("%s: no description", f.Name)
		} else if !strings.HasSuffix(f.Description, ".") {
			t.Errorf("%s: description %q is not a sentence", f.Name, f.Description)
		}
		if f.Group == "" {
			t.Errorf("%s: no group", f.Name)
		}
		if f.Discovered {
			t.Errorf("%s: built-in field marked discovered", f.Name)
		}
		// Canonical names are rendered by query String() and stored as
		// attribute keys: they must be safe and must resolve to themselves.
		if !query.SafeFieldName(f.Name) {
			t.Errorf("%s: canonical name is not a safe field name", f.Name)
		}
		if c, ok := model.Default.Resolve(f.Name); !ok || c != f.Name {
			t.Errorf("Resolve(%q) = %q, %v; want itself", f.Name, c, ok)
		}
		if f.Bounded() && f.Type.Elem() != model.TypeInt {
			t.Errorf("%s: bounds on a %s field", f.Name, f.Type)
		}
		if f.Column != "" {
			if prev, dup := columns[f.Column]; dup {
				t.Errorf("column %q used by %s and %s", f.Column, prev, f.Name)
			}
			columns[f.Column] = f.Name
		}
		for d, names := range f.Aliases {
			if len(names) == 0 {
				t.Errorf("%s: empty alias list for dialect %s", f.Name, d)
			}
			for _, n := range names {
				if strings.TrimSpace(n) == "" || strings.ContainsAny(n, " \t\n\"()[],&|!=<>") {
					t.Errorf("%s: alias %q in %s cannot be written in a query", f.Name, n, d)
				}
			}
		}
	}
}

// TestDefaultHasNoClashes rebuilds the registry from its own fields: every
// canonical name and alias must name one field only.
func TestDefaultHasNoClashes(t *testing.T) {
	var all []model.Field
	for _, f := range model.Default.Fields() {
		all = append(all, *f)
	}
	r, err := model.NewRegistry(all)
	if err != nil {
		t.Fatalf("NewRegistry over the default fields: %v", err)
	}
	if got, want := len(r.Fields()), len(all); got != want {
		t.Fatalf("rebuilt registry has %d fields, want %d", got, want)
	}
	// Every name (canonical or alias) maps to exactly one field.
	owner := map[string]string{}
	for _, f := range model.Default.Fields() {
		names := []string{f.Name}
		for _, ns := range f.Aliases {
			names = append(names, ns...)
		}
		for _, n := range names {
			if prev, ok := owner[n]; ok && prev != f.Name {
				t.Errorf("name %q used by %s and %s", n, prev, f.Name)
			}
			owner[n] = f.Name
		}
	}
	if got, want := len(model.Default.Names()), len(owner); got != want {
		t.Errorf("Names() has %d entries, want %d distinct names", got, want)
	}
	if !slices.IsSorted(model.Default.Names()) {
		t.Error("Names() is not sorted")
	}
}

func TestNewRegistryRejectsClashes(t *testing.T) {
	tests := []struct {
		name   string
		fields []model.Field
		want   string // substring of the error
	}{
		{
			name: "alias used by two fields in different dialects",
			fields: []model.Field{
				{Name: "a.one", Type: model.TypeString, Aliases: map[model.Dialect][]string{model.Arkime: {"dup"}}},
				{Name: "a.two", Type: model.TypeString, Aliases: map[model.Dialect][]string{model.AlphaSOC: {"dup"}}},
			},
			want: `"dup"`,
		},
		{
			name: "alias used by two fields in the same dialect",
			fields: []model.Field{
				{Name: "a.one", Type: model.TypeString, Aliases: map[model.Dialect][]string{model.Arkime: {"dup"}}},
				{Name: "a.two", Type: model.TypeString, Aliases: map[model.Dialect][]string{model.Arkime: {"x", "dup"}}},
			},
			want: `"dup"`,
		},
		{
			name: "alias equal to another field's canonical name",
			fields: []model.Field{
				{Name: "a.one", Type: model.TypeString},
				{Name: "a.two", Type: model.TypeString, Aliases: map[model.Dialect][]string{model.Fudo: {"a.one"}}},
			},
			want: `"a.one"`,
		},
		{
			name: "canonical name twice",
			fields: []model.Field{
				{Name: "a.one", Type: model.TypeString},
				{Name: "a.one", Type: model.TypeInt},
			},
			want: `"a.one"`,
		},
		{
			name:   "missing type",
			fields: []model.Field{{Name: "a.one"}},
			want:   "required",
		},
		{
			name:   "missing name",
			fields: []model.Field{{Type: model.TypeInt}},
			want:   "required",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := model.NewRegistry(tc.fields)
			if err == nil {
				t.Fatalf("NewRegistry accepted a clash; registry %v", r.Names())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %s", err, tc.want)
			}
		})
	}
	// The same alias for the same field in several dialects is fine.
	_, err := model.NewRegistry([]model.Field{{Name: "a.one", Type: model.TypeString,
		Aliases: map[model.Dialect][]string{model.Arkime: {"same"}, model.GreyNoise: {"same"}, model.SPS: {"a.one"}}}})
	if err != nil {
		t.Fatalf("one field sharing an alias across dialects: %v", err)
	}
}

func TestLookupByNameAndEveryAlias(t *testing.T) {
	for _, f := range model.Default.Fields() {
		got, ok := model.Default.Lookup(f.Name)
		if !ok || got != f {
			t.Errorf("Lookup(%q) = %v, %v", f.Name, got, ok)
		}
		for d, names := range f.Aliases {
			for _, n := range names {
				got, ok := model.Default.Lookup(n)
				if !ok || got != f {
					t.Errorf("Lookup(%q) [%s alias] found %v, want %s", n, d, nameOf(got), f.Name)
				}
				got, ok = model.Default.LookupIn(d, n)
				if !ok || got != f {
					t.Errorf("LookupIn(%s, %q) found %v, want %s", d, n, nameOf(got), f.Name)
				}
				if c, ok := model.Default.Resolve(n); !ok || c != f.Name {
					t.Errorf("Resolve(%q) = %q, %v; want %s", n, c, ok, f.Name)
				}
			}
			if f.AliasIn(d) != names[0] {
				t.Errorf("%s.AliasIn(%s) = %q, want %q", f.Name, d, f.AliasIn(d), names[0])
			}
		}
	}
	for _, n := range []string{"", "no.such.field", "IP.SRC", "source.IP", " source.ip"} {
		if f, ok := model.Default.Lookup(n); ok {
			t.Errorf("Lookup(%q) found %s", n, f.Name)
		}
	}
}

func nameOf(f *model.Field) string {
	if f == nil {
		return "<nil>"
	}
	return f.Name
}

func TestLookupInDialect(t *testing.T) {
	tests := []struct {
		d    model.Dialect
		name string
		want string // "" when the name must not resolve in the dialect
	}{
		{model.Arkime, "ip.src", "source.ip"},
		{model.Arkime, "port.dst", "destination.port"},
		{model.Arkime, "host.http", "http.host"},
		{model.Arkime, "_id", "id"},
		{model.Arkime, "source.ip", "source.ip"}, // canonical names work in every dialect
		{model.Arkime, "srcIP", ""},              // an AlphaSOC name is not Arkime
		{model.Arkime, "client.ip", ""},
		{model.AlphaSOC, "srcIP", "source.ip"},
		{model.AlphaSOC, "destPort", "destination.port"},
		{model.AlphaSOC, "bytesIn", "destination.bytes"},
		{model.AlphaSOC, "bytesOut", "source.bytes"},
		{model.AlphaSOC, "ip.src", ""},
		{model.AlphaSOC, "query", "dns.queryHost"},
		{model.GreyNoise, "_id", "id"},
		{model.GreyNoise, "classification", "classification"},
		{model.GreyNoise, "srcIP", ""},
		{model.SPS, "client.ip", "source.ip"},
		{model.SPS, "server.port", "destination.port"},
		{model.SPS, "port.dst", ""},
		{model.Fudo, "source_ip", "source.ip"},
		{model.Fudo, "destination_port", "destination.port"},
		{model.Fudo, "_id", ""},
		{model.Fudo, "session_id", "id"},
		{model.Incydr, "actorName", "user.name"},
		{model.Incydr, "srcIP", ""},
		{model.Dialect("nope"), "ip.src", ""},
		{model.Dialect("nope"), "source.port", "source.port"},
		{model.Arkime, "no.such.field", ""},
	}
	for _, tc := range tests {
		f, ok := model.Default.LookupIn(tc.d, tc.name)
		switch {
		case tc.want == "" && ok:
			t.Errorf("LookupIn(%s, %q) = %s, want not found", tc.d, tc.name, f.Name)
		case tc.want != "" && (!ok || f.Name != tc.want):
			t.Errorf("LookupIn(%s, %q) = %s, %v; want %s", tc.d, tc.name, nameOf(f), ok, tc.want)
		}
	}
}

func TestColumnsOrder(t *testing.T) {
	var want []*model.Field
	for _, f := range model.Default.Fields() {
		if f.Column != "" {
			want = append(want, f)
		}
	}
	got := model.Default.Columns()
	if len(got) != len(want) {
		t.Fatalf("Columns() has %d fields, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Columns()[%d] = %s, want %s (registry order)", i, got[i].Name, want[i].Name)
		}
	}
	var names []string
	for _, f := range got {
		names = append(names, f.Column)
	}
	// Frozen by the store's first migration.
	wantCols := []string{"id", "session_type", "first_packet", "last_packet", "src_ip", "src_port",
		"dst_ip", "dst_port", "src_bytes", "src_packets", "dst_bytes", "dst_packets", "transport",
		"protocols", "community_id", "node", "user_name", "classification", "state", "severity",
		"risk_score", "threats", "flags", "tags"}
	if d := cmp.Diff(wantCols, names); d != "" {
		t.Fatalf("column order changed (-want +got):\n%s", d)
	}
	for _, f := range got {
		if f.Type == model.TypeObject || f.Type == model.TypeIPs || f.Type == model.TypeInts || f.Type == model.TypeFloat || f.Type == model.TypeBool {
			t.Errorf("column field %s has type %s that the store cannot keep in a column", f.Name, f.Type)
		}
	}
}

func TestWithAddsDiscoveredFields(t *testing.T) {
	base := model.Default
	before := len(base.Fields())
	beforeNames := len(base.Names())
	disc := []model.Field{
		{Name: "custom.color", Type: model.TypeString},
		{Name: "custom.level", Type: model.TypeInt},
		{Name: "source.ip", Type: model.TypeString}, // already known: ignored
		{Name: "srcIP", Type: model.TypeString},     // an alias: ignored
		{Name: "custom.color", Type: model.TypeInt}, // repeated: the first wins
	}
	r := base.With(disc)
	if r == base {
		t.Fatal("With returned the receiver")
	}
	if len(base.Fields()) != before || len(base.Names()) != beforeNames {
		t.Fatal("With changed the receiver")
	}
	if _, ok := base.Lookup("custom.color"); ok {
		t.Fatal("receiver knows a discovered field")
	}
	if got, want := len(r.Fields()), before+2; got != want {
		t.Fatalf("new registry has %d fields, want %d", got, want)
	}
	c, ok := r.Lookup("custom.color")
	if !ok || c.Type != model.TypeString || !c.Discovered || c.Column != "" {
		t.Fatalf("custom.color = %+v, %v", c, ok)
	}
	if l, ok := r.Lookup("custom.level"); !ok || l.Type != model.TypeInt || !l.Discovered {
		t.Fatalf("custom.level = %+v, %v", l, ok)
	}
	if s, _ := r.Lookup("source.ip"); s.Type != model.TypeIP || s.Discovered {
		t.Fatalf("a discovered field replaced source.ip: %+v", s)
	}
	if s, ok := r.Lookup("srcIP"); !ok || s.Name != "source.ip" {
		t.Fatalf("srcIP no longer resolves to source.ip: %v", nameOf(s))
	}
	if f, ok := r.LookupIn(model.AlphaSOC, "srcIP"); !ok || f.Name != "source.ip" {
		t.Fatal("dialect lookup lost by With")
	}
	if n, ok := r.Resolve("custom.level"); !ok || n != "custom.level" {
		t.Fatalf("Resolve(custom.level) = %q, %v", n, ok)
	}
	if !slices.Contains(r.Names(), "custom.level") || slices.Contains(base.Names(), "custom.level") {
		t.Fatal("Names() of the two registries are wrong")
	}
	if len(r.Columns()) != len(base.Columns()) {
		t.Fatal("discovered fields became columns")
	}
	// The caller's slice is not modified (Discovered is set on copies).
	if disc[0].Discovered {
		t.Fatal("With modified its argument")
	}
	if base.With(nil) != base {
		t.Fatal("With(nil) should return the receiver")
	}
	// A second With on the derived registry does not leak into the first.
	r2 := r.With([]model.Field{{Name: "custom.other", Type: model.TypeBool}})
	if _, ok := r.Lookup("custom.other"); ok {
		t.Fatal("With changed its receiver (second level)")
	}
	if _, ok := r2.Lookup("custom.color"); !ok {
		t.Fatal("second-level registry lost the first discovered field")
	}
}

func TestRequiredFields(t *testing.T) {
	type req struct {
		name  string
		typ   model.Type
		group string // optional
	}
	check := func(t *testing.T, d model.Dialect, reqs []req) {
		t.Helper()
		for _, r := range reqs {
			f, ok := model.Default.LookupIn(d, r.name)
			if !ok {
				t.Errorf("%s: %q is not a field", d, r.name)
				continue
			}
			if r.typ != "" && f.Type != r.typ {
				t.Errorf("%s: %q (%s) has type %s, want %s", d, r.name, f.Name, f.Type, r.typ)
			}
			if r.group != "" && f.Group != r.group {
				t.Errorf("%s: %q (%s) in group %s, want %s", d, r.name, f.Name, f.Group, r.group)
			}
		}
	}
	t.Run("greynoise", func(t *testing.T) {
		check(t, model.GreyNoise, []req{
			{"_id", model.TypeString, ""}, {"firstPacket", model.TypeTime, ""}, {"lastPacket", model.TypeTime, ""},
			{"source.ip", model.TypeIP, ""}, {"source.port", model.TypeInt, ""},
			{"destination.ip", model.TypeIP, ""}, {"destination.port", model.TypeInt, ""},
			{"source.bytes", model.TypeInt, ""}, {"source.packets", model.TypeInt, ""},
			{"destination.bytes", model.TypeInt, ""}, {"destination.packets", model.TypeInt, ""},
			{"classification", model.TypeString, ""},
		})
	})
	t.Run("arkime", func(t *testing.T) {
		check(t, model.Arkime, []req{
			{"network.transport", model.TypeString, ""}, {"protocol", model.TypeStrings, ""},
			{"protocols", model.TypeStrings, ""},
			{"databytes.src", model.TypeInt, ""}, {"databytes.dst", model.TypeInt, ""},
			{"network.community_id", model.TypeString, ""}, {"communityId", model.TypeString, ""},
			{"tcpflags.syn", model.TypeInt, ""}, {"tcpflags.syn-ack", model.TypeInt, ""}, {"tcpflags.ack", model.TypeInt, ""},
			{"tcpflags.psh", model.TypeInt, ""}, {"tcpflags.fin", model.TypeInt, ""}, {"tcpflags.rst", model.TypeInt, ""},
			{"tcpflags.urg", model.TypeInt, ""},
			{"mac.src", model.TypeStrings, ""}, {"mac.dst", model.TypeStrings, ""},
			{"vlan", model.TypeInts, ""}, {"node", model.TypeString, ""},
			{"ip.src", model.TypeIP, ""}, {"ip.dst", model.TypeIP, ""}, {"port.src", model.TypeInt, ""},
			{"port.dst", model.TypeInt, ""}, {"host.http", model.TypeStrings, "http"},
			{"host.dns", model.TypeStrings, "dns"}, {"starttime", model.TypeTime, ""}, {"stoptime", model.TypeTime, ""},
		})
	})
	t.Run("alphasoc", func(t *testing.T) {
		check(t, model.AlphaSOC, []req{
			{"srcIP", model.TypeIP, ""}, {"srcPort", model.TypeInt, ""}, {"destIP", model.TypeIP, ""},
			{"destPort", model.TypeInt, ""}, {"bytesIn", model.TypeInt, ""}, {"bytesOut", model.TypeInt, ""},
			{"query", model.TypeStrings, "dns"}, {"qtype", model.TypeStrings, "dns"}, {"ts", model.TypeTime, ""},
			{"proto", model.TypeString, ""}, {"url", "", "http"}, {"method", "", "http"}, {"userAgent", "", "http"},
			{"ja3", "", "tls"}, {"type", model.TypeString, "dhcp"}, {"duration", model.TypeFloat, ""},
		})
		// bytesIn is what the source received, i.e. the destination's bytes.
		in, _ := model.Default.LookupIn(model.AlphaSOC, "bytesIn")
		out, _ := model.Default.LookupIn(model.AlphaSOC, "bytesOut")
		if in.Name != "destination.bytes" || out.Name != "source.bytes" {
			t.Errorf("bytesIn=%s bytesOut=%s", in.Name, out.Name)
		}
	})
	t.Run("privileged", func(t *testing.T) {
		check(t, "", []req{
			{"user.id", model.TypeString, ""}, {"user.name", model.TypeString, ""}, {"user.server_name", model.TypeString, ""},
			{"pam.account", model.TypeString, "privileged"}, {"pam.server", model.TypeString, "privileged"},
			{"pam.target", model.TypeString, "privileged"}, {"pam.listener", model.TypeString, "privileged"},
			{"pam.safe", model.TypeString, "privileged"}, {"protocol", model.TypeStrings, ""},
			{"pam.auth_method", model.TypeString, "privileged"}, {"pam.connection_policy", model.TypeString, "privileged"},
			{"pam.channel_policy", model.TypeString, "privileged"}, {"pam.verdict", model.TypeString, "privileged"},
			{"pam.status", model.TypeString, "privileged"}, {"pam.reason", model.TypeString, "privileged"},
			{"pam.dump_mode", model.TypeString, "privileged"}, {"pam.resolution", model.TypeString, "privileged"},
			{"session.type", model.TypeString, ""},
		})
		check(t, model.SPS, []req{
			{"client.ip", model.TypeIP, ""}, {"client.port", model.TypeInt, ""}, {"server.ip", model.TypeIP, ""},
			{"server.port", model.TypeInt, ""}, {"user.server_username", model.TypeString, ""},
			{"recording.verdict", model.TypeString, ""}, {"protocol.name", model.TypeStrings, ""},
		})
		check(t, model.Fudo, []req{
			{"source_ip", model.TypeIP, ""}, {"destination_ip", model.TypeIP, ""}, {"user_id", model.TypeString, ""},
			{"user_name", model.TypeString, ""}, {"account_id", model.TypeString, ""}, {"safe_id", model.TypeString, ""},
		})
	})
	t.Run("triage", func(t *testing.T) {
		check(t, "", []req{
			{"state", model.TypeString, "triage"}, {"severity", model.TypeInt, "triage"},
			{"risk.score", model.TypeInt, "triage"}, {"threats", model.TypeStrings, "triage"},
			{"flags", model.TypeStrings, "triage"}, {"tags", model.TypeStrings, "triage"},
			{"classification", model.TypeString, "triage"},
		})
		bounds := map[string][2]int64{"severity": {0, 4}, "risk.score": {0, 100}, "source.port": {0, 65535}, "destination.port": {0, 65535}}
		for name, b := range bounds {
			f, _ := model.Default.Lookup(name)
			if !f.Bounded() || f.Min != b[0] || f.Max != b[1] {
				t.Errorf("%s bounds %d-%d, want %d-%d", name, f.Min, f.Max, b[0], b[1])
			}
		}
		for _, name := range []string{"state", "severity", "risk.score", "threats", "flags", "tags"} {
			if f, _ := model.Default.Lookup(name); f.Column == "" {
				t.Errorf("triage field %s has no column", name)
			}
		}
	})
}

func TestTypeHelpers(t *testing.T) {
	tests := []struct {
		t    model.Type
		list bool
		elem model.Type
	}{
		{model.TypeString, false, model.TypeString},
		{model.TypeStrings, true, model.TypeString},
		{model.TypeInts, true, model.TypeInt},
		{model.TypeIPs, true, model.TypeIP},
		{model.TypeIP, false, model.TypeIP},
		{model.TypeTime, false, model.TypeTime},
	}
	for _, tc := range tests {
		if tc.t.IsList() != tc.list || tc.t.Elem() != tc.elem {
			t.Errorf("%s: IsList=%v Elem=%s, want %v %s", tc.t, tc.t.IsList(), tc.t.Elem(), tc.list, tc.elem)
		}
	}
	f := model.Field{Name: "x", Type: model.TypeInt}
	if f.Bounded() {
		t.Error("field without Min/Max is bounded")
	}
	if f.AliasIn(model.Arkime) != "x" {
		t.Error("AliasIn without aliases should give the canonical name")
	}
}
