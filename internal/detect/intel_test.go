package detect

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testIntel = "testdata/intel"

func parse(t *testing.T, path string) []Indicator {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, err := ParseFile(path, f)
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", path, err)
	}
	return inds
}

func TestParseZeekIntel(t *testing.T) {
	inds := parse(t, filepath.Join(testIntel, "zeek-intel/cobaltstrike_ips.intel"))
	if len(inds) != 2087 { // every line but the header
		t.Errorf("got %d indicators, want 2087", len(inds))
	}
	want := Indicator{Value: "106.12.219.245", Kind: KindIP, Threat: "c2_communication", Source: "CobaltStrike-IP"}
	if diff := cmp.Diff(want, inds[0]); diff != "" {
		t.Errorf("first indicator (-want +got):\n%s", diff)
	}
	for file, threat := range map[string]string{
		"tor-exit.intel": "tor_exit", "doh-domains.intel": "doh_resolver", "abuse-ch-ipblocklist.intel": "c2_communication",
	} {
		inds := parse(t, filepath.Join(testIntel, "zeek-intel", file))
		if len(inds) == 0 || inds[0].Threat != threat {
			t.Errorf("%s: got %d indicators, first %+v; want threat %s", file, len(inds), inds[0], threat)
		}
	}
	doh := parse(t, filepath.Join(testIntel, "zeek-intel/doh-domains.intel"))
	if doh[0].Kind != KindDomain {
		t.Errorf("doh-domains: kind %v, want domain", doh[0].Kind)
	}

	custom := parse(t, filepath.Join(testIntel, "custom/test.intel"))
	var got []string
	for _, in := range custom {
		got = append(got, in.Kind.String()+" "+in.Threat+" "+in.Value)
	}
	wantKinds := []string{
		"ip c2_communication 198.51.100.0/24",
		"url threat_intel evil.example.com/gate.php",
		"cert_hash c2_communication A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
		"file_hash threat_intel 44d88612fea8a8f36de82e1278abb02f",
		"ja3 malicious_ja3 e7d705a3286e19ea42f587b344ee6865",
	} // Intel::EMAIL is skipped
	if diff := cmp.Diff(wantKinds, got); diff != "" {
		t.Errorf("custom feed (-want +got):\n%s", diff)
	}
}

func TestParseZeekIntelErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no header":    "1.2.3.4\tIntel::ADDR\n",
		"no indicator": "#fields\tfoo\tindicator_type\n1.2.3.4\tIntel::ADDR\n",
	} {
		if _, err := ParseZeekIntel(strings.NewReader(text), "x"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseLists(t *testing.T) {
	for file, want := range map[string]struct {
		threat string
		kinds  []Kind
	}{
		"crypto_mining.txt":         {"cryptomining", []Kind{KindDomain, KindIPPort}},
		"dns_tunneling_service.txt": {"dns_tunneling", []Kind{KindDomain}},
		"dynamic_domain.txt":        {"dynamic_dns", []Kind{KindDomain}},
		"onion.txt":                 {"tor_onion", []Kind{KindDomain}},
	} {
		inds := parse(t, filepath.Join(testIntel, "maltrail", file))
		if len(inds) == 0 {
			t.Fatalf("%s: no indicators", file)
		}
		kinds := map[Kind]bool{}
		for _, in := range inds {
			if in.Threat != want.threat || in.Source != file || strings.HasPrefix(in.Value, "#") || in.Value == "" {
				t.Fatalf("%s: bad indicator %+v", file, in)
			}
			kinds[in.Kind] = true
		}
		for _, k := range want.kinds {
			if !kinds[k] {
				t.Errorf("%s: no indicator of kind %v", file, k)
			}
		}
	}
	inds, err := ParseList(strings.NewReader("# c\n\n1.2.3.4\n10.0.0.0/8 # x\n5.6.7.8:3333\nEvil.COM\nhost.com/path\n2001:db8::1\n"), "t", "s")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, in := range inds {
		kinds = append(kinds, in.Kind)
	}
	if diff := cmp.Diff([]Kind{KindIP, KindIP, KindIPPort, KindDomain, KindURL, KindIP}, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

func TestThreatForFile(t *testing.T) {
	for path, want := range map[string]string{
		"a/crypto_mining.txt": "cryptomining", "dns_tunneling_service.txt": "dns_tunneling", "dynamic_domain.txt": "dynamic_dns",
		"onion.txt": "tor_onion", "c2.txt": "c2_communication", "My Feed-List.txt": "my_feed_list", "bad-ja3.csv": "malicious_ja3",
	} {
		if got := ThreatForFile(path); got != want {
			t.Errorf("ThreatForFile(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestParseJA3CSV(t *testing.T) {
	inds := parse(t, filepath.Join(testIntel, "ja3-allow/osx-nix-ja3.csv"))
	if len(inds) < 100 {
		t.Fatalf("got %d JA3 indicators", len(inds))
	}
	for _, in := range inds {
		if in.Kind != KindJA3 || !isHex(in.Value, 32) || !in.Allow {
			t.Fatalf("bad indicator %+v (a file under ja3-allow is an allow list)", in)
		}
	}
	bad, err := ParseJA3CSV(strings.NewReader("e7d705a3286e19ea42f587b344ee6865,\"Trickbot\"\nnot-a-hash,x\n"), "malicious_ja3", "x.csv")
	if err != nil || len(bad) != 1 || bad[0].Allow {
		t.Errorf("got %+v, %v", bad, err)
	}
}

func threatsOf(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		if !slices.Contains(out, h.Threat) {
			out = append(out, h.Threat)
		}
	}
	slices.Sort(out)
	return out
}

func TestMatching(t *testing.T) {
	inds, err := LoadPaths([]string{testIntel})
	if err != nil {
		t.Fatal(err)
	}
	// An allow list entry removes a JA3 a feed listed.
	inds = append(inds, Indicator{Value: "61d50e7771aee7f2f4b89a7200b4d45e", Kind: KindJA3, Threat: "malicious_ja3", Source: "x"},
		Indicator{Value: "198.51.100.77", Kind: KindIP, Threat: "tor_exit", Source: "nested"})
	ix := Build(inds)
	if ix.Len() < 10000 {
		t.Fatalf("index holds %d indicators", ix.Len())
	}
	addr := netip.MustParseAddr
	cases := []struct {
		name string
		hits []Hit
		want []string
	}{
		{"cobalt strike ip", ix.MatchIP(nil, addr("106.12.219.245")), []string{"c2_communication"}},
		{"ipv4-mapped ipv6", ix.MatchIP(nil, addr("::ffff:106.12.219.245")), []string{"c2_communication"}},
		{"tor exit", ix.MatchIP(nil, addr("171.25.193.25")), []string{"tor_exit"}},
		{"cidr", ix.MatchIP(nil, addr("198.51.100.200")), []string{"c2_communication"}},
		{"cidr and a host inside it", ix.MatchIP(nil, addr("198.51.100.77")), []string{"c2_communication", "tor_exit"}},
		{"unlisted ip", ix.MatchIP(nil, addr("192.0.2.1")), nil},
		{"ip:port", ix.MatchIPPort(nil, addr("107.191.47.239"), 3333), []string{"cryptomining"}},
		{"ip, other port", ix.MatchIPPort(nil, addr("107.191.47.239"), 80), nil},
		{"list ip", ix.MatchIP(nil, addr("203.0.113.7")), []string{"c2_communication"}},
		{"domain", ix.MatchDomain(nil, "packetriot.net"), []string{"dns_tunneling"}},
		{"subdomain, case, trailing dot", ix.MatchDomain(nil, "X.Tunnel.PacketRiot.net."), []string{"dns_tunneling"}},
		{"not a suffix of a label", ix.MatchDomain(nil, "notpacketriot.net"), nil},
		{"doh", ix.MatchDomain(nil, "1dot1dot1dot1.cloudflare-dns.com"), []string{"doh_resolver"}},
		{"url with scheme", ix.MatchExact(nil, KindURL, "http://EVIL.example.com/gate.php"), []string{"threat_intel"}},
		{"url other path", ix.MatchExact(nil, KindURL, "http://evil.example.com/other"), nil},
		{"cert hash, lower case", ix.MatchExact(nil, KindCertHash, "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"), []string{"c2_communication"}},
		{"file hash", ix.MatchExact(nil, KindFileHash, "44D88612FEA8A8F36DE82E1278ABB02F"), []string{"threat_intel"}},
		{"ja3", ix.MatchExact(nil, KindJA3, "e7d705a3286e19ea42f587b344ee6865"), []string{"malicious_ja3"}},
		{"allow-listed ja3", ix.MatchExact(nil, KindJA3, "61d50e7771aee7f2f4b89a7200b4d45e"), nil},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, threatsOf(c.hits)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if h := ix.MatchDomain(nil, "a.b.packetriot.net"); len(h) != 1 || h[0].Indicator != "a.b.packetriot.net" || h[0].Kind != "domain" {
		t.Errorf("domain hit: %+v", h)
	}
}

func TestEmptyIndex(t *testing.T) {
	ix := Build(nil)
	if ix.Len() != 0 || len(ix.MatchIP(nil, netip.MustParseAddr("1.2.3.4"))) != 0 || len(ix.MatchDomain(nil, "a.com")) != 0 {
		t.Error("empty index matched")
	}
	if _, err := LoadPaths([]string{"testdata/nonexistent"}); err == nil {
		t.Error("LoadPaths of a missing path: no error")
	}
}
