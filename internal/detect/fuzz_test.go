package detect

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzParseFeeds: no feed file, whatever its bytes, may crash the loader or
// yield an indicator the index cannot take; whatever parses must build and
// answer lookups.
func FuzzParseFeeds(f *testing.F) {
	for _, s := range []string{
		"#fields\tindicator\tindicator_type\tmeta.source\tmeta.do_notice\tmeta.desc\n1.2.3.4\tIntel::ADDR\tabuse.ch\tT\tbotnet\n",
		"10.0.0.0/8\n# comment\nevil.example.com\n1.2.3.4:3333\nhttp://x.example/a\n",
		"e7d705a3286e19ea42f587b344ee6865,Tor Browser\n",
		"#fields\tindicator\n\n\t\t\t\n",
		"::1\nfe80::/10\n[::1]:53\n*.bad\n..\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		var inds []Indicator
		var err error
		switch format % 3 {
		case 0:
			inds, err = ParseZeekIntel(bytes.NewReader(data), "fuzz.intel")
		case 1:
			inds, err = ParseList(bytes.NewReader(data), "fuzz", "fuzz")
		default:
			inds, err = ParseJA3CSV(bytes.NewReader(data), "fuzz", "fuzz")
		}
		if err != nil {
			return
		}
		ix := Build(inds)
		ix.MatchIP(nil, netip.MustParseAddr("10.1.2.3"))
		ix.MatchDomain(nil, "a.evil.example.com")
	})
}
