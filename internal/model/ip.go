package model

import "net/netip"

// IPParts splits an address into the two 64-bit halves the stores keep, so
// that CIDR and range filters become integer comparisons on both engines.
// IPv4 addresses are kept in their IPv4-mapped IPv6 form.
func IPParts(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return hi, lo
}

// IPFromParts is the inverse of IPParts; IPv4-mapped addresses come back as IPv4.
func IPFromParts(hi, lo uint64) netip.Addr {
	var b [16]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(hi)
		b[8+i] = byte(lo)
		hi >>= 8
		lo >>= 8
	}
	return netip.AddrFrom16(b).Unmap()
}
