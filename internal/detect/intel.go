package detect

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gaissmai/bart"
)

// Kind is what an indicator is matched against.
type Kind uint8

// Indicator kinds.
const (
	KindIP       Kind = iota + 1 // address or CIDR
	KindIPPort                   // address and port (maltrail's ip:port)
	KindDomain                   // a domain and its subdomains
	KindURL                      // host/path, scheme dropped
	KindCertHash                 // certificate SHA-1/SHA-256
	KindFileHash                 // file MD5/SHA-1/SHA-256
	KindJA3                      // JA3, JA3S
	KindJA4
	KindUserAgent
)

var kindNames = map[Kind]string{KindIP: "ip", KindIPPort: "ip:port", KindDomain: "domain", KindURL: "url",
	KindCertHash: "cert_hash", KindFileHash: "file_hash", KindJA3: "ja3", KindJA4: "ja4", KindUserAgent: "user_agent"}

func (k Kind) String() string { return kindNames[k] }

// Indicator is one entry of a feed.
type Indicator struct {
	Value  string
	Kind   Kind
	Threat string // threat id, a key of the inventory (Threats)
	Source string // the feed: meta.source, or the file name
	// Allow marks a known-good entry: it removes the same value from the
	// index instead of adding it (see Build).
	Allow bool
}

// meta is what a match reports besides the indicator itself.
type meta struct {
	Threat, Source string
}

// setID names an interned set of metas. Values in the index are set ids
// rather than slices so that a million indicators cost a map entry each,
// not a slice header and an allocation each.
type setID uint32

// Index is an immutable, loaded set of indicators. It is safe for
// concurrent use; a reload builds a new one and swaps it in (Intel).
type Index struct {
	metas  []meta
	sets   [][]uint32 // setID -> meta indices
	ips    *bart.Table[setID]
	ipport map[netip.AddrPort]setID
	domain map[string]setID
	exact  [KindUserAgent + 1]map[string]setID // URL, hashes, JA3, JA4, user agents
	count  int
}

// Len is how many indicators the index holds.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return ix.count
}

// Hit is one indicator a value matched.
type Hit struct {
	Threat    string `json:"threat"`
	Source    string `json:"source"`
	Kind      string `json:"type"`
	Indicator string `json:"indicator"` // the value as seen in the session
}

func (ix *Index) hits(dst []Hit, id setID, kind Kind, value string) []Hit {
	for _, m := range ix.sets[id] {
		md := ix.metas[m]
		// value may alias a parser's buffer: keep a copy.
		dst = append(dst, Hit{Threat: md.Threat, Source: md.Source, Kind: kind.String(), Indicator: strings.Clone(value)})
	}
	return dst
}

// MatchIP appends the hits of an address (every CIDR holding it).
func (ix *Index) MatchIP(dst []Hit, a netip.Addr) []Hit {
	if !a.IsValid() || ix.ips == nil {
		return dst
	}
	if id, ok := ix.ips.Lookup(a.Unmap()); ok {
		dst = ix.hits(dst, id, KindIP, a.String())
	}
	return dst
}

// MatchIPPort appends the hits of an address and port.
func (ix *Index) MatchIPPort(dst []Hit, a netip.Addr, port uint16) []Hit {
	if len(ix.ipport) == 0 || !a.IsValid() {
		return dst
	}
	ap := netip.AddrPortFrom(a.Unmap(), port)
	if id, ok := ix.ipport[ap]; ok {
		dst = ix.hits(dst, id, KindIPPort, ap.String())
	}
	return dst
}

// MatchDomain appends the hits of a name: listed itself or under a listed
// domain (a.b.evil.com matches evil.com), by walking its label suffixes.
func (ix *Index) MatchDomain(dst []Hit, name string) []Hit {
	if len(ix.domain) == 0 {
		return dst
	}
	name = strings.TrimSuffix(name, ".")
	var lower []byte
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			lower = []byte(name)
			break
		}
	}
	if lower != nil {
		for i, c := range lower {
			if c >= 'A' && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		name = string(lower)
	}
	for s := name; s != ""; {
		if id, ok := ix.domain[s]; ok {
			dst = ix.hits(dst, id, KindDomain, name)
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return dst
}

// MatchExact appends the hits of a URL, hash, JA3/JA4 or user agent.
func (ix *Index) MatchExact(dst []Hit, kind Kind, value string) []Hit {
	m := ix.exact[kind]
	if len(m) == 0 || value == "" {
		return dst
	}
	key := normalize(kind, value)
	if id, ok := m[key]; ok {
		dst = ix.hits(dst, id, kind, value)
	}
	return dst
}

// normalize makes an indicator and a session value comparable.
func normalize(kind Kind, v string) string {
	v = strings.TrimSpace(v)
	switch kind {
	case KindDomain:
		return strings.ToLower(strings.TrimSuffix(v, "."))
	case KindURL:
		// Zeek's Intel::URL has no scheme; AlphaSOC's url and Arkime's
		// http.uri may have one or start with "//".
		for _, p := range []string{"http://", "https://", "//"} {
			if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
				v = v[len(p):]
				break
			}
		}
		host, path, _ := strings.Cut(v, "/")
		if path == "" {
			return strings.ToLower(host)
		}
		return strings.ToLower(host) + "/" + path
	case KindCertHash, KindFileHash, KindJA3, KindJA4:
		return strings.ToLower(v)
	}
	return v
}

// Build makes an index of indicators. Allow entries remove the same value
// (of the same kind) wherever a feed listed it, so that a list of known
// good fingerprints can silence a broader feed.
func Build(inds []Indicator) *Index {
	ix := &Index{ips: new(bart.Table[setID]), ipport: map[netip.AddrPort]setID{}, domain: map[string]setID{}}
	for k := range ix.exact {
		ix.exact[k] = map[string]setID{}
	}
	metaIdx := map[meta]uint32{}
	setIdx := map[string]setID{}
	var key []byte
	// union interns the set of old plus m.
	union := func(old setID, had bool, m uint32) setID {
		var members []uint32
		if had {
			if slices.Contains(ix.sets[old], m) {
				return old
			}
			members = append(append(members, ix.sets[old]...), m)
			slices.Sort(members)
		} else {
			members = []uint32{m}
		}
		key = key[:0]
		for _, x := range members {
			key = strconv.AppendUint(key, uint64(x), 10)
			key = append(key, ',')
		}
		if id, ok := setIdx[string(key)]; ok {
			return id
		}
		id := setID(len(ix.sets))
		ix.sets = append(ix.sets, members)
		setIdx[string(key)] = id
		return id
	}
	var allow []Indicator
	hasSubnets := false
	for _, in := range inds {
		if in.Allow {
			allow = append(allow, in)
			continue
		}
		md := meta{Threat: in.Threat, Source: in.Source}
		mi, ok := metaIdx[md]
		if !ok {
			mi = uint32(len(ix.metas))
			ix.metas = append(ix.metas, md)
			metaIdx[md] = mi
		}
		switch in.Kind {
		case KindIP:
			pfx, err := parsePrefix(in.Value)
			if err != nil {
				continue
			}
			hasSubnets = hasSubnets || pfx.Bits() < pfx.Addr().BitLen()
			old, had := ix.ips.Get(pfx)
			ix.ips.Insert(pfx, union(old, had, mi))
		case KindIPPort:
			ap, err := netip.ParseAddrPort(in.Value)
			if err != nil {
				continue
			}
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			old, had := ix.ipport[ap]
			ix.ipport[ap] = union(old, had, mi)
		case KindDomain:
			d := normalize(KindDomain, in.Value)
			old, had := ix.domain[d]
			ix.domain[d] = union(old, had, mi)
		default:
			if int(in.Kind) >= len(ix.exact) || in.Kind == 0 {
				continue
			}
			v := normalize(in.Kind, in.Value)
			old, had := ix.exact[in.Kind][v]
			ix.exact[in.Kind][v] = union(old, had, mi)
		}
	}
	for _, in := range allow {
		switch in.Kind {
		case KindIP:
			if pfx, err := parsePrefix(in.Value); err == nil {
				ix.ips.Delete(pfx)
			}
		case KindIPPort:
			if ap, err := netip.ParseAddrPort(in.Value); err == nil {
				delete(ix.ipport, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			}
		case KindDomain:
			delete(ix.domain, normalize(KindDomain, in.Value))
		default:
			if int(in.Kind) < len(ix.exact) && in.Kind != 0 {
				delete(ix.exact[in.Kind], normalize(in.Kind, in.Value))
			}
		}
	}
	if hasSubnets {
		// bart answers the longest prefix only; fold every covering
		// prefix's threats into the more specific ones so that an address
		// in a listed /32 inside a listed /16 reports both feeds.
		type upd struct {
			pfx netip.Prefix
			id  setID
		}
		var updates []upd
		for pfx, id := range ix.ips.All() {
			merged := id
			for sup, sid := range ix.ips.Supernets(pfx) {
				if sup == pfx {
					continue
				}
				for _, m := range ix.sets[sid] {
					merged = union(merged, true, m)
				}
			}
			if merged != id {
				updates = append(updates, upd{pfx, merged})
			}
		}
		for _, u := range updates {
			ix.ips.Insert(u.pfx, u.id)
		}
	}
	ix.count = ix.ips.Size() + len(ix.ipport) + len(ix.domain)
	for _, m := range ix.exact {
		ix.count += len(m)
	}
	return ix
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// LoadPaths reads every feed file under paths (files or folders, walked
// recursively; README, LICENSE and hidden files are skipped).
func LoadPaths(paths []string) ([]Indicator, error) {
	var out []Indicator
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if path != p && strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !isFeedFile(name) {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			inds, err := ParseFile(path, f)
			if err != nil {
				return err
			}
			out = append(out, inds...)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot load intel %s: %w", p, err)
		}
	}
	return out, nil
}

func isFeedFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	upper := strings.ToUpper(name)
	for _, skip := range []string{"README", "LICENSE", "COPYING", "NOTICE", "SOURCES"} {
		if strings.HasPrefix(upper, skip) {
			return false
		}
	}
	return true
}

// isAllowList reports whether a file lists known-good entries: its name or
// its folder's says "allow", "benign" or "good".
func isAllowList(path string) bool {
	p := strings.ToLower(filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path))
	return strings.Contains(p, "allow") || strings.Contains(p, "benign") || strings.Contains(p, "good")
}

// ParseFile reads one feed; its format comes from its first line (Zeek's
// "#fields" header) or its extension (.csv), else it is a plain list.
func ParseFile(path string, r io.Reader) ([]Indicator, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8)
	var (
		inds []Indicator
		err  error
	)
	switch {
	case string(head) == "#fields\t" || (len(head) >= 7 && string(head[:7]) == "#fields"):
		inds, err = ParseZeekIntel(br, filepath.Base(path))
	case strings.EqualFold(filepath.Ext(path), ".csv"):
		inds, err = ParseJA3CSV(br, ThreatForFile(path), filepath.Base(path))
	default:
		inds, err = ParseList(br, ThreatForFile(path), filepath.Base(path))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", path, err)
	}
	if isAllowList(path) {
		for i := range inds {
			inds[i].Allow = true
		}
	}
	return inds, nil
}

// fileThreats maps plain-list file names (maltrail's, without extension)
// to threat ids; other names become their own id (lower case, runs of
// other characters as "_").
var fileThreats = map[string]string{
	"crypto_mining":         "cryptomining",
	"cryptomining":          "cryptomining",
	"dns_tunneling_service": "dns_tunneling",
	"dns_tunneling":         "dns_tunneling",
	"dynamic_domain":        "dynamic_dns",
	"dynamic_dns":           "dynamic_dns",
	"onion":                 "tor_onion",
	"tor":                   "tor_exit",
	"tor_exit":              "tor_exit",
	"c2":                    "c2_communication",
	"cnc":                   "c2_communication",
	"botnet":                "c2_communication",
	"malware":               "c2_communication",
	"ja3":                   "malicious_ja3",
}

// ThreatForFile is the threat id of a plain list or CSV file.
func ThreatForFile(path string) string {
	stem := strings.ToLower(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	if t, ok := fileThreats[stem]; ok {
		return t
	}
	if strings.HasSuffix(stem, "ja3") || strings.Contains(stem, "-ja3") {
		return "malicious_ja3"
	}
	var b strings.Builder
	under := false
	for _, c := range stem {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	id := strings.TrimSuffix(b.String(), "_")
	if t, ok := fileThreats[id]; ok {
		return t
	}
	if id == "" {
		return "threat_intel"
	}
	return id
}

// ParseList reads a plain list: one indicator a line, "#" comments (also
// after an entry), entries an address, a CIDR, ip:port, a URL or a domain.
func ParseList(r io.Reader, threat, source string) ([]Indicator, error) {
	var out []Indicator
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		out = append(out, Indicator{Value: line, Kind: guessKind(line), Threat: threat, Source: source})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// guessKind classifies a list entry.
func guessKind(v string) Kind {
	if _, err := parsePrefix(v); err == nil {
		return KindIP
	}
	if _, err := netip.ParseAddrPort(v); err == nil {
		return KindIPPort
	}
	if strings.Contains(v, "/") {
		return KindURL
	}
	return KindDomain
}

// zeekKinds maps Zeek Intel types to kinds; Intel::JA3 and Intel::JA4 are
// the names community packages use.
var zeekKinds = map[string]Kind{
	"Intel::ADDR": KindIP, "Intel::SUBNET": KindIP, "Intel::DOMAIN": KindDomain, "Intel::URL": KindURL,
	"Intel::CERT_HASH": KindCertHash, "Intel::FILE_HASH": KindFileHash, "Intel::JA3": KindJA3,
	"Intel::JA3S": KindJA3, "Intel::JA4": KindJA4, "Intel::SOFTWARE": KindUserAgent, "Intel::USER_AGENT": KindUserAgent,
}

// ParseZeekIntel reads Zeek Intel framework TSV (a "#fields" header naming
// indicator, indicator_type and optionally meta.source and meta.desc).
// Types Seshat cannot match (EMAIL, USER_NAME, ...) are skipped.
func ParseZeekIntel(r io.Reader, file string) ([]Indicator, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	col := map[string]int{}
	var out []Indicator
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "#fields") {
			clear(col)
			for i, f := range strings.Split(text, "\t")[1:] {
				col[f] = i
			}
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if len(col) == 0 {
			return nil, fmt.Errorf("line %d: no #fields header before the first indicator", line)
		}
		ic, ok1 := col["indicator"]
		tc, ok2 := col["indicator_type"]
		if !ok1 || !ok2 {
			return nil, errors.New("the #fields header names no indicator or indicator_type")
		}
		fields := strings.Split(text, "\t")
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) && fields[i] != "-" {
				return fields[i]
			}
			return ""
		}
		if ic >= len(fields) || tc >= len(fields) {
			return nil, fmt.Errorf("line %d: %d fields, the header names %d", line, len(fields), len(col))
		}
		kind, ok := zeekKinds[fields[tc]]
		if !ok {
			continue
		}
		src, desc := get("meta.source"), get("meta.desc")
		if src == "" {
			src = file
		}
		out = append(out, Indicator{Value: fields[ic], Kind: kind, Threat: zeekThreat(kind, src, desc), Source: src})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// zeekThreat names the threat of a Zeek Intel entry from its source and
// description, which is all a Zeek feed says about what it lists.
func zeekThreat(kind Kind, source, desc string) string {
	s := strings.ToLower(source + " " + desc)
	words := strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
	switch {
	case slices.Contains(words, "tor"):
		return "tor_exit"
	case strings.Contains(s, "dns-over-https") || strings.Contains(s, "doh"):
		return "doh_resolver"
	case strings.Contains(s, "cobalt") || strings.Contains(s, "botnet") || strings.Contains(s, "c2") ||
		strings.Contains(s, "c&c") || strings.Contains(s, "feodo") || strings.Contains(s, "command"):
		return "c2_communication"
	case strings.Contains(s, "mining") || strings.Contains(s, "miner"):
		return "cryptomining"
	case strings.Contains(s, "tunnel"):
		return "dns_tunneling"
	case kind == KindJA3 || kind == KindJA4:
		return "malicious_ja3"
	}
	return "threat_intel"
}

// ParseJA3CSV reads a JA3 list: CSV rows of hash and description (as
// salesforce/ja3's lists); rows whose first field is not a 32-digit hex hash
// (a quoted licence header) are skipped.
func ParseJA3CSV(r io.Reader, threat, source string) ([]Indicator, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var out []Indicator
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 0 {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(rec[0]))
		if !isHex(h, 32) {
			continue
		}
		out = append(out, Indicator{Value: h, Kind: KindJA3, Threat: threat, Source: source})
	}
	return out, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
