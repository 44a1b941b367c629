package ingest

import (
	"strconv"
	"strings"

	"github.com/seshatsec/seshat/internal/model"
)

// Helpers shared by the decoders of sensor logs (Zeek, Suricata EVE): the
// two name the same things differently, and a session should not.

// TransportFromName normalizes a transport protocol name as sensors write it
// (TCP, udp, IPv6-ICMP, "17") to network.transport's vocabulary.
func TransportFromName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "ipv6-icmp", "icmp6", "icmp-v6":
		return "icmpv6"
	case "":
		return ""
	}
	if s[0] >= '0' && s[0] <= '9' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n <= 255 {
			return TransportName(n)
		}
	}
	return s
}

// TLSVersionName normalizes a TLS version as Zeek (TLSv12, DTLSv10) or
// Suricata (TLS 1.2, TLSv1) write it to Arkime's form: TLSv1, TLSv1.1,
// TLSv1.2, TLSv1.3, SSLv3, DTLSv1.0, DTLSv1.2. Unknown forms are kept.
func TLSVersionName(s string) string {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", "")) {
	case "TLSV10", "TLSV1", "TLS1.0", "TLSV1.0", "TLS1":
		return "TLSv1"
	case "TLSV11", "TLS1.1", "TLSV1.1":
		return "TLSv1.1"
	case "TLSV12", "TLS1.2", "TLSV1.2":
		return "TLSv1.2"
	case "TLSV13", "TLS1.3", "TLSV1.3":
		return "TLSv1.3"
	case "SSLV3", "SSL3", "SSLV3.0":
		return "SSLv3"
	case "SSLV2", "SSL2", "SSLV2.0":
		return "SSLv2"
	case "DTLSV10", "DTLS1.0", "DTLSV1.0":
		return "DTLSv1.0"
	case "DTLSV12", "DTLS1.2", "DTLSV1.2":
		return "DTLSv1.2"
	case "DTLSV13", "DTLS1.3", "DTLSV1.3":
		return "DTLSv1.3"
	}
	return s
}

// SplitDN calls fn with each attribute of an X.509 distinguished name in
// the text forms Zeek ("CN=a,O=b\, Inc,C=US") and Suricata ("C=US, O=b,
// CN=a") write: attributes separated by unescaped commas, a backslash
// escaping the next character, spaces around attributes trimmed.
func SplitDN(dn string, fn func(key, value string)) {
	var cur strings.Builder
	flush := func() {
		part := strings.TrimSpace(cur.String())
		cur.Reset()
		if k, v, ok := strings.Cut(part, "="); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k != "" && v != "" {
				fn(k, v)
			}
		}
	}
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		switch {
		case c == '\\' && i+1 < len(dn):
			i++
			cur.WriteByte(dn[i])
		case c == ',':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
}

// DNSClassName is the short name of a DNS class as Arkime writes it (IN,
// CH, ...), from Zeek's C_INTERNET style or the short name itself.
func DNSClassName(s string) string {
	switch strings.ToUpper(s) {
	case "C_INTERNET", "IN":
		return "IN"
	case "C_CSNET", "CS":
		return "CS"
	case "C_CHAOS", "CH":
		return "CH"
	case "C_HESIOD", "HS":
		return "HS"
	case "C_NONE", "NONE":
		return "NONE"
	case "C_ANY", "ANY":
		return "ANY"
	}
	return s
}

// LooksLikeHost reports whether s has the shape of a DNS name (letters,
// digits, '-', '_' and '.' only), to tell names among free-form DNS answer
// texts.
func LooksLikeHost(s string) bool {
	if s == "" || len(s) > 253 || !strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// SetCertDN keeps a certificate's distinguished name as text in fields and
// split into cert.<kind>CN, cert.<kind>ON and cert.<kind>OU (kind is
// "issuer" or "subject"), as Arkime files them; Zeek and Suricata both
// write DNs this way.
func (b *RowBuilder) SetCertDN(fields []*model.Field, kind, dn string) *DocError {
	for _, f := range fields {
		if derr := b.SetText(f, dn); derr != nil {
			return derr
		}
	}
	var derr *DocError
	SplitDN(dn, func(k, val string) {
		if derr != nil {
			return
		}
		var suffix string
		switch strings.ToUpper(k) {
		case "CN":
			suffix = "CN"
		case "O":
			suffix = "ON"
		case "OU":
			suffix = "OU"
		default:
			return
		}
		if f, ok := b.Lookup("cert." + kind + suffix); ok {
			derr = b.AddUnique(f, val)
		}
	})
	return derr
}
