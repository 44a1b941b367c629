package eve

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/seshatsec/seshat/internal/ingest"
)

// alert reads an alert event. It must say when (timestamp) and which rule
// (alert.signature_id); addresses and ports, when present, must be valid.
func (d *Decoder) alert(obj *fastjson.Value) (*Alert, *ingest.DocError) {
	a := &Alert{Tenant: d.cfg.Tenant}
	str := func(v *fastjson.Value, name string) string {
		if x := v.Get(name); x != nil && x.Type() != fastjson.TypeNull {
			return strings.ToValidUTF8(d.text(x), "\uFFFD")
		}
		return ""
	}
	ts := obj.Get("timestamp")
	if ts == nil {
		return nil, reject(ingest.ReasonNoTime, "timestamp is missing")
	}
	ms, derr := parseTime("timestamp", d.text(ts))
	if derr != nil {
		return nil, derr
	}
	if ms > d.now {
		return nil, reject(ingest.ReasonFuture, "timestamp: %s is in the future", d.text(ts))
	}
	a.Timestamp = ms
	if v := obj.Get("flow_id"); v != nil {
		n, err := v.Int64()
		if err != nil {
			return nil, reject(ingest.ReasonType, "flow_id: expected an integer")
		}
		a.FlowID = n
	}
	for _, ip := range []struct {
		key  string
		addr *netip.Addr
	}{{"src_ip", &a.SrcIP}, {"dest_ip", &a.DstIP}} {
		if v := obj.Get(ip.key); v != nil {
			addr, err := netip.ParseAddr(d.text(v))
			if err != nil {
				return nil, reject(ingest.ReasonBadIP, "%s: %q is not an IP address", ip.key, truncate(d.text(v)))
			}
			*ip.addr = addr.Unmap().WithZone("")
		}
	}
	for _, p := range []struct {
		key  string
		port *int
	}{{"src_port", &a.SrcPort}, {"dest_port", &a.DstPort}} {
		if v := obj.Get(p.key); v != nil {
			n, err := v.Int()
			if err != nil || n < 0 || n > 65535 {
				return nil, reject(ingest.ReasonRange, "%s: %s is not a port", p.key, truncate(d.text(v)))
			}
			*p.port = n
		}
	}
	a.Transport = ingest.TransportFromName(str(obj, "proto"))
	a.AppProto = str(obj, "app_proto")
	a.CommunityID = str(obj, "community_id")
	a.Sensor = str(obj, "host")
	al := obj.Get("alert")
	if al == nil || al.Type() != fastjson.TypeObject {
		return nil, reject(ReasonAlert, "an alert event without an alert object")
	}
	sid := al.Get("signature_id")
	if sid == nil {
		return nil, reject(ReasonAlert, "alert.signature_id is missing")
	}
	var err error
	if a.SignatureID, err = sid.Int64(); err != nil || a.SignatureID <= 0 {
		return nil, reject(ReasonAlert, "alert.signature_id: expected a rule id (a positive integer), found %s", truncate(d.text(sid)))
	}
	for _, n := range []struct {
		key string
		dst *int64
	}{{"gid", &a.GID}, {"rev", &a.Rev}} {
		if v := al.Get(n.key); v != nil {
			if *n.dst, err = v.Int64(); err != nil {
				return nil, reject(ReasonAlert, "alert.%s: expected an integer", n.key)
			}
		}
	}
	if v := al.Get("severity"); v != nil {
		sev, err := strconv.Atoi(d.text(v))
		if err != nil || sev < 0 || sev > 255 {
			return nil, reject(ReasonAlert, "alert.severity: expected a small integer, found %s", truncate(d.text(v)))
		}
		a.Severity = sev
	}
	a.Signature = str(al, "signature")
	a.Category = str(al, "category")
	a.Action = str(al, "action")
	limit := d.rb.Limits().MaxStringBytes
	for _, s := range []string{a.Signature, a.Category, a.Action, a.AppProto, a.CommunityID, a.Sensor} {
		if len(s) > limit {
			return nil, reject(ingest.ReasonLong, "a string of %d bytes exceeds the limit of %d", len(s), limit)
		}
	}
	if md := al.Get("metadata"); md != nil && md.Type() == fastjson.TypeObject {
		o, _ := md.Object()
		o.Visit(func(k []byte, v *fastjson.Value) {
			if vals := d.texts(v); len(vals) > 0 {
				if a.Metadata == nil {
					a.Metadata = map[string][]string{}
				}
				a.Metadata[string(k)] = vals
			}
		})
	}
	return a, nil
}
