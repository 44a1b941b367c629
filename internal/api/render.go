package api

import (
	"strings"
	"time"

	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// Render turns a stored session into its JSON document: dotted names become
// nested objects ({"source":{"ip":..}}), as in Arkime and the seeds; times
// are RFC 3339 UTC. project, when given, keeps only those canonical fields
// (the id is always kept).
func Render(reg *model.Registry, s store.Session, project []string) map[string]any {
	out := map[string]any{"id": s.ID}
	keep := func(string) bool { return true }
	if len(project) > 0 {
		want := make(map[string]bool, len(project))
		for _, p := range project {
			want[p] = true
		}
		keep = func(n string) bool { return want[n] }
	}
	for name, v := range s.Fields {
		if name == "id" || !keep(name) {
			continue
		}
		if f, ok := reg.Lookup(name); ok && f.Type == model.TypeTime {
			if ms, ok := v.(int64); ok {
				v = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
			}
		}
		setPath(out, name, v)
	}
	return out
}

// setPath stores v under a dotted name, creating objects on the way. When a
// part of the path already holds a plain value, the rest of the name stays
// dotted at that level, so no value is ever lost.
func setPath(m map[string]any, name string, v any) {
	for {
		head, rest, ok := strings.Cut(name, ".")
		if !ok {
			if _, exists := m[name]; !exists {
				m[name] = v
			}
			return
		}
		switch child := m[head].(type) {
		case map[string]any:
			m, name = child, rest
		case nil:
			c := map[string]any{}
			m[head] = c
			m, name = c, rest
		default:
			m[name] = v
			return
		}
	}
}
