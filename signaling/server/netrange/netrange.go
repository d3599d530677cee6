// Package netrange says what an address is, for the server's rules on
// where it connects or relays for others (the TURN relay's peers, webhook
// destinations): the addresses that reach this machine or the operator's
// own network, rather than the Internet.
package netrange

import (
	"net"
	"net/netip"
)

// ranges are the address ranges that are not the Internet's, with what
// each is. Read only.
var ranges = []struct {
	what   string
	prefix netip.Prefix
}{
	{"a loopback address", netip.MustParsePrefix("127.0.0.0/8")},
	{"a loopback address", netip.MustParsePrefix("::1/128")},
	{"an unspecified address", netip.MustParsePrefix("0.0.0.0/8")}, // 0.0.0.0 reaches this machine
	{"an unspecified address", netip.MustParsePrefix("::/128")},
	{"a private address", netip.MustParsePrefix("10.0.0.0/8")},
	{"a private address", netip.MustParsePrefix("172.16.0.0/12")},
	{"a private address", netip.MustParsePrefix("192.168.0.0/16")},
	{"a private address", netip.MustParsePrefix("fc00::/7")},
	{"a shared address (carrier-grade NAT)", netip.MustParsePrefix("100.64.0.0/10")},
	{"a link-local address (cloud metadata services are there)", netip.MustParsePrefix("169.254.0.0/16")},
	{"a link-local address", netip.MustParsePrefix("fe80::/10")},
	{"a multicast address", netip.MustParsePrefix("224.0.0.0/4")},
	{"a multicast address", netip.MustParsePrefix("ff00::/8")},
	{"a reserved or broadcast address", netip.MustParsePrefix("240.0.0.0/4")},
}

// Kind says what a is, in words ("a private address"), or "" for an
// address of the Internet. An IPv4 address written in IPv6
// (::ffff:127.0.0.1) is taken as the IPv4 address.
func Kind(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	return ""
}

// Local returns this machine's addresses: those of its interfaces, with
// the broadcast addresses of their IPv4 subnets. They may change: callers
// that must be exact read them again. It returns none when the interfaces
// cannot be listed.
func Local() []netip.Addr {
	var out []netip.Addr
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		out = append(out, p.Addr().Unmap())
		if p.Addr().Is4() && p.Bits() < 31 {
			b, mask := p.Addr().As4(), net.CIDRMask(p.Bits(), 32)
			for i := range b {
				b[i] |= ^mask[i]
			}
			out = append(out, netip.AddrFrom4(b))
		}
	}
	return out
}
