package detect

import "sort"

// Threat is one entry of the threat inventory: what a threat id in a
// session's threats or an alert means.
type Threat struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Severity is AlphaSOC's scale, 1 (informational) to 5 (critical).
	Severity int `json:"severity"`
	// Policy marks threats that break a usage policy (Tor, DoH, mining)
	// rather than signal compromise.
	Policy bool `json:"policy"`
	// Malicious marks known-bad threats: a session with one is classified
	// "malicious", otherwise "suspicious".
	Malicious bool `json:"malicious"`
	// Source says what raises it: "intel" or "heuristic" (heuristics are
	// listed so that the inventory is stable as they are added).
	Source string `json:"source"`
}

// SessionSeverity is the session's 0-4 severity for the threat.
func (t Threat) SessionSeverity() int64 { return int64(max(t.Severity-1, 0)) }

// RiskScore is the session's 0-100 risk for the threat.
func (t Threat) RiskScore() int64 { return int64(min(t.Severity*20, 100)) }

// inventory lists every threat id Seshat emits. Intel feeds map onto these
// ids (intel.go: fileThreats, zeekThreat); an id a feed names that is not
// here gets the threat_intel entry's severity.
var inventory = map[string]Threat{
	"c2_communication": {Title: "Communication with a known command-and-control server", Severity: 5, Malicious: true, Source: "intel"},
	"malicious_ja3":    {Title: "TLS client fingerprint (JA3/JA4) of known malware", Severity: 4, Malicious: true, Source: "intel"},
	"threat_intel":     {Title: "Traffic matching a threat-intelligence indicator", Severity: 3, Source: "intel"},
	"cryptomining":     {Title: "Cryptocurrency mining pool communication", Severity: 4, Policy: true, Source: "intel"},
	"dns_tunneling":    {Title: "DNS tunnelling: a tunnelling service, or queries shaped like tunnelled data", Severity: 4, Source: "intel"},
	"dynamic_dns":      {Title: "Dynamic DNS domain access", Severity: 2, Source: "intel"},
	"tor_onion":        {Title: "Tor onion service gateway (tor2web) access", Severity: 3, Policy: true, Source: "intel"},
	"tor_exit":         {Title: "Traffic with a Tor exit node", Severity: 3, Policy: true, Source: "intel"},
	"doh_resolver":     {Title: "DNS-over-HTTPS resolver use, bypassing local DNS", Severity: 2, Policy: true, Source: "intel"},
	"port_scan":        {Title: "Port scan or host sweep", Severity: 3, Source: "heuristic"},
	"beaconing":        {Title: "Periodic beaconing between a host pair", Severity: 4, Source: "heuristic"},
	"dga":              {Title: "Algorithmically generated domain (DGA)", Severity: 4, Source: "heuristic"},
	"cleartext_credentials": {Title: "Credentials sent in clear text", Severity: 3, Policy: true,
		Source: "heuristic"},
	"self_signed_cert": {Title: "TLS with a self-signed certificate", Severity: 2, Source: "heuristic"},
	"expired_cert":     {Title: "TLS with a certificate expired at the session's time", Severity: 2, Source: "heuristic"},
	"sni_mismatch":     {Title: "TLS server name not matching the certificate", Severity: 2, Source: "heuristic"},
	"long_connection":  {Title: "Unusually long connection", Severity: 2, Source: "heuristic"},
	"large_outbound":   {Title: "Unusually large outbound transfer for the host", Severity: 3, Source: "heuristic"},
	"suspicious_tls":   {Title: "Suspicious TLS session", Severity: 2, Source: "heuristic"},
}

// Lookup returns the inventory entry of a threat id; unknown ids (a feed
// file named as Seshat does not know) get threat_intel's severity.
func Lookup(id string) Threat {
	if t, ok := inventory[id]; ok {
		t.ID = id
		return t
	}
	t := inventory["threat_intel"]
	t.ID, t.Title = id, "Threat-intelligence match: "+id
	return t
}

// Threats is the inventory, sorted by id.
func Threats() []Threat {
	out := make([]Threat, 0, len(inventory))
	for id, t := range inventory {
		t.ID = id
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Flag is one entry of the flag inventory: a note an alert's wisdom
// carries about why it was raised.
type Flag struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Type  string `json:"type"`
}

// flags are the flags alerts carry: one per indicator kind that matched.
var flags = []Flag{
	{ID: "intel_ip", Title: "An address matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_ip_port", Title: "An address and port matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_domain", Title: "A domain matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_url", Title: "A URL matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_cert_hash", Title: "A certificate hash matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_file_hash", Title: "A file hash matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_ja3", Title: "A JA3/JA3S fingerprint matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_ja4", Title: "A JA4 fingerprint matched a threat-intelligence feed", Type: "intel"},
	{ID: "intel_user_agent", Title: "A user agent matched a threat-intelligence feed", Type: "intel"},
	{ID: flagVertical, Title: "One source reached many ports of one host", Type: "heuristic"},
	{ID: flagHorizontal, Title: "One source reached one port of many hosts", Type: "heuristic"},
	{ID: flagICMPSweep, Title: "One source reached many hosts by ICMP", Type: "heuristic"},
}

// Flags is the flag inventory.
func Flags() []Flag { return append([]Flag(nil), flags...) }

// flagFor is the flag of a hit's kind name.
func flagFor(kind string) string {
	switch kind {
	case "ip:port":
		return "intel_ip_port"
	}
	return "intel_" + kind
}
