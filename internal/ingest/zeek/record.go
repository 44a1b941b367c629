package zeek

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/seshatsec/seshat/internal/ingest"
	"github.com/seshatsec/seshat/internal/model"
	"github.com/seshatsec/seshat/internal/store"
)

// kind is the type of a Zeek value as far as decoding needs it: what a
// discovered column is stored as.
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindTime // epoch seconds; kept as a float when discovered
	kindBool
)

// value is one column of a record, in text form whatever the log format:
// TSV values unescaped, JSON values as their text (true/false as T/F).
type value struct {
	text   string
	list   []string
	isList bool
	kind   kind // of text, or of the elements of list
}

// elems is the value as a list (a scalar is a list of one).
func (v value) elems() []string {
	if v.isList {
		return v.list
	}
	return []string{v.text}
}

// record holds what a record said that is combined at its end.
type record struct {
	log       *logSpec
	ts        int64 // epoch ms
	hasTS     bool
	dur       float64 // seconds
	hasDur    bool
	transport string
	services  []string
	counters  [numSlots]int64
	hasCount  [numSlots]bool
	host, uri string
	hasURI    bool
	notBefore int64
	notAfter  int64
	hasNB     bool
	hasNA     bool
}

// begin starts a record of log ls.
func (d *Decoder) begin(ls *logSpec) {
	d.rb.Reset()
	services := d.rec.services[:0]
	d.rec = record{log: ls, services: services}
}

// apply decodes one column of the current record.
func (d *Decoder) apply(sp *spec, v value) *ingest.DocError {
	rec := &d.rec
	switch sp.act {
	case actIgnore:
		return nil
	case actUnknown:
		return d.discovered(sp.attr, v)
	case actField, actUnique:
		for _, f := range sp.fields {
			if derr := d.setValue(f, v, sp.act == actUnique); derr != nil {
				if sp.soft {
					return d.discovered(sp.attr, v)
				}
				return derr
			}
		}
		return nil
	case actTS:
		ms, derr := parseTime("ts", v.text)
		if derr != nil {
			return derr
		}
		rec.ts, rec.hasTS = ms, true
		return nil
	case actDuration:
		x, err := strconv.ParseFloat(v.text, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x > 1e10 {
			return reject(ingest.ReasonType, "%s: expected a duration in seconds, found %q", sp.attr, truncate(v.text))
		}
		rec.dur, rec.hasDur = x, true
		return nil
	case actProto:
		rec.transport = ingest.TransportFromName(v.text)
		return nil
	case actService:
		for _, e := range v.elems() {
			for _, s := range strings.Split(e, ",") {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
				if derr := d.rb.AddUnique(d.f.service, s); derr != nil {
					return derr
				}
				rec.services = append(rec.services, s)
			}
		}
		return nil
	case actCounter:
		f := sp.fields[0]
		n, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			return reject(ingest.ReasonType, "%s: expected an integer, found %q", f.Name, truncate(v.text))
		}
		if derr := d.rb.Set(f, n); derr != nil {
			return derr
		}
		rec.counters[sp.slot], rec.hasCount[sp.slot] = n, true
		return nil
	case actDNSAnswers:
		for _, a := range v.elems() {
			if derr := d.rb.Add(d.f.answers, a); derr != nil {
				return derr
			}
			if ip, err := netip.ParseAddr(a); err == nil {
				if derr := d.rb.AddUnique(d.f.dnsIP, ip); derr != nil {
					return derr
				}
			} else if ingest.LooksLikeHost(a) {
				if derr := d.rb.AddUnique(d.f.dnsHost, a); derr != nil {
					return derr
				}
			}
		}
		return nil
	case actDNSTTL:
		for _, e := range v.elems() {
			x, err := strconv.ParseFloat(e, 64)
			if err != nil || math.IsNaN(x) || x < 0 || x > 1<<32 {
				return reject(ingest.ReasonType, "%s: expected a TTL in seconds, found %q", sp.fields[0].Name, truncate(e))
			}
			if derr := d.rb.Add(sp.fields[0], int64(x)); derr != nil {
				return derr
			}
		}
		return nil
	case actDNSFlag:
		if v.text == "T" || v.text == "true" {
			return d.rb.AddUnique(sp.fields[0], sp.arg)
		}
		return nil
	case actDNSClass:
		for _, e := range v.elems() {
			if derr := d.rb.AddUnique(sp.fields[0], ingest.DNSClassName(e)); derr != nil {
				return derr
			}
		}
		return nil
	case actHTTPHost:
		rec.host = v.text
		return d.rb.AddUnique(sp.fields[0], v.text)
	case actHTTPURI:
		rec.uri, rec.hasURI = v.text, true
		return nil
	case actTLSVersion:
		return d.rb.AddUnique(sp.fields[0], ingest.TLSVersionName(v.text))
	case actDN:
		return d.dn(sp, v.text)
	case actCertTime:
		ms, derr := parseTime(sp.fields[0].Name, v.text)
		if derr != nil {
			return derr
		}
		if sp.arg == "before" {
			rec.notBefore, rec.hasNB = ms, true
		} else {
			rec.notAfter, rec.hasNA = ms, true
		}
		// Not through the time checks of a session's own times: a
		// certificate is often valid long into the future.
		return d.rb.Add(sp.fields[0], ms)
	case actSeconds:
		x, err := strconv.ParseFloat(v.text, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return reject(ingest.ReasonType, "%s: expected seconds, found %q", sp.fields[0].Name, truncate(v.text))
		}
		return d.rb.Set(sp.fields[0], int64(x))
	case actHexID:
		n, err := strconv.ParseUint(v.text, 10, 64)
		if err != nil {
			return reject(ingest.ReasonType, "%s: expected an integer, found %q", sp.fields[0].Name, truncate(v.text))
		}
		return d.rb.AddUnique(sp.fields[0], strconv.FormatUint(n, 16))
	case actUpper:
		for _, e := range v.elems() {
			if derr := d.rb.AddUnique(sp.fields[0], strings.ToUpper(e)); derr != nil {
				return derr
			}
		}
		return nil
	}
	return nil
}

// setValue sets a registry field from a column value.
func (d *Decoder) setValue(f *model.Field, v value, unique bool) *ingest.DocError {
	if f.Type.IsList() {
		for _, e := range v.elems() {
			if derr := d.rb.AddText(f, e, unique); derr != nil {
				return derr
			}
		}
		return nil
	}
	if v.isList {
		if len(v.list) != 1 {
			return reject(ingest.ReasonType, "%s: expected one value, found %d", f.Name, len(v.list))
		}
		return d.rb.SetText(f, v.list[0])
	}
	return d.rb.SetText(f, v.text)
}

// dn keeps a distinguished name: raw on the spec's fields (or as
// zeek.<log>.<column> when it has none), split into cert.<kind>CN/ON/OU.
func (d *Decoder) dn(sp *spec, dn string) *ingest.DocError {
	if len(sp.fields) == 0 {
		if derr := d.rb.SetDiscovered(sp.attr, dn); derr != nil {
			return derr
		}
	}
	return d.rb.SetCertDN(sp.fields, sp.arg, dn)
}

// discovered keeps a column no table names, typed by its kind.
func (d *Decoder) discovered(name string, v value) *ingest.DocError {
	if !v.isList {
		switch v.kind {
		case kindInt:
			if n, err := strconv.ParseInt(v.text, 10, 64); err == nil {
				return d.rb.SetDiscovered(name, n)
			}
		case kindFloat, kindTime:
			if x, err := strconv.ParseFloat(v.text, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
				return d.rb.SetDiscovered(name, x)
			}
		case kindBool:
			switch v.text {
			case "T", "true":
				return d.rb.SetDiscovered(name, true)
			case "F", "false":
				return d.rb.SetDiscovered(name, false)
			}
		}
		return d.rb.SetDiscovered(name, v.text)
	}
	if v.kind == kindInt {
		ns := make([]int64, 0, len(v.list))
		for _, e := range v.list {
			n, err := strconv.ParseInt(e, 10, 64)
			if err != nil {
				ns = nil
				break
			}
			ns = append(ns, n)
		}
		if ns != nil {
			return d.rb.SetDiscovered(name, ns)
		}
	}
	return d.rb.SetDiscovered(name, v.list) // copied by the builder
}

// finish combines what the record said and builds its row.
func (d *Decoder) finish() (store.Row, *ingest.DocError) {
	rec, rb, f := &d.rec, d.rb, &d.f
	if !rec.hasTS {
		return store.Row{}, reject(ingest.ReasonNoTime, "ts is missing")
	}
	if derr := rb.Set(f.first, rec.ts); derr != nil {
		return store.Row{}, derr
	}
	if rec.hasDur {
		if derr := rb.Set(f.last, rec.ts+int64(rec.dur*1000)); derr != nil {
			return store.Row{}, derr
		}
		if derr := rb.Set(f.duration, rec.dur); derr != nil {
			return store.Row{}, derr
		}
	}
	transport := rec.transport
	if transport == "" {
		transport = rec.log.transport
	}
	if transport != "" {
		if derr := rb.Set(f.transport, transport); derr != nil {
			return store.Row{}, derr
		}
		if derr := rb.AddUnique(f.protocol, transport); derr != nil {
			return store.Row{}, derr
		}
	}
	if rec.log.proto != "" {
		if derr := rb.AddUnique(f.protocol, rec.log.proto); derr != nil {
			return store.Row{}, derr
		}
	}
	for _, s := range rec.services {
		if derr := rb.AddUnique(f.protocol, protocolName(s)); derr != nil {
			return store.Row{}, derr
		}
	}
	if derr := d.totals(); derr != nil {
		return store.Row{}, derr
	}
	if rec.hasURI {
		uri := rec.uri
		if rec.host != "" && strings.HasPrefix(uri, "/") {
			uri = rec.host + uri // Arkime's http.uri: host and path
		}
		if derr := rb.AddUnique(f.httpURI, uri); derr != nil {
			return store.Row{}, derr
		}
		path, _, _ := strings.Cut(rec.uri, "?")
		if path != "" {
			if derr := rb.AddUnique(f.httpPath, path); derr != nil {
				return store.Row{}, derr
			}
		}
	}
	if derr := d.validity(); derr != nil {
		return store.Row{}, derr
	}
	if derr := rb.Set(f.log, rec.log.name); derr != nil {
		return store.Row{}, derr
	}
	return rb.Finish()
}

// totals sums a conn record's two directions, when both are known.
func (d *Decoder) totals() *ingest.DocError {
	rec := &d.rec
	sum := func(f *model.Field, a, b int) *ingest.DocError {
		if !rec.hasCount[a] || !rec.hasCount[b] {
			return nil
		}
		return d.rb.Set(f, rec.counters[a]+rec.counters[b])
	}
	if derr := sum(d.f.totData, slotOrigBytes, slotRespBytes); derr != nil {
		return derr
	}
	if derr := sum(d.f.netBytes, slotOrigIPBytes, slotRespIPBytes); derr != nil {
		return derr
	}
	return sum(d.f.netPackets, slotOrigPkts, slotRespPkts)
}

// validity adds a certificate's validity period, and what was left of it
// when it was seen, as Arkime does.
func (d *Decoder) validity() *ingest.DocError {
	rec := &d.rec
	if !rec.hasNB || !rec.hasNA || rec.notAfter < rec.notBefore {
		return nil
	}
	valid := (rec.notAfter - rec.notBefore) / 1000
	remaining := (rec.notAfter - rec.ts) / 1000
	for _, fv := range []struct {
		f *model.Field
		v int64
	}{{d.f.validSeconds, valid}, {d.f.validDays, valid / 86400}, {d.f.remainingSeconds, remaining}, {d.f.remainingDays, remaining / 86400}} {
		if derr := d.rb.Add(fv.f, fv.v); derr != nil {
			return derr
		}
	}
	if rec.log.name == "x509" {
		return d.rb.Set(d.f.certCnt, int64(1))
	}
	return nil
}

// protocolName maps a Zeek analyzer name to Arkime's protocol name.
func protocolName(s string) string {
	s = strings.ToLower(s)
	switch s {
	case "ssl":
		return "tls"
	case "krb", "krb_tcp":
		return "krb5"
	}
	return s
}

// parseTime reads a Zeek time: epoch seconds with a fraction (TSV, and JSON
// by default) or ISO 8601 (JSON with JSON::TS_ISO8601).
func parseTime(name, s string) (int64, *ingest.DocError) {
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x > 1e13 {
			return 0, reject(ingest.ReasonBadTime, "%s: %q is not a time", name, truncate(s))
		}
		return int64(math.Floor(x * 1000)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, reject(ingest.ReasonBadTime, "%s: %q is not a time (epoch seconds or ISO 8601)", name, truncate(s))
	}
	return t.UnixMilli(), nil
}
