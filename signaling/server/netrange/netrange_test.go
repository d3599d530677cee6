package netrange

import (
	"net/netip"
	"testing"
)

func TestKind(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":        "a loopback address",
		"::ffff:127.0.0.1": "a loopback address",
		"::1":              "a loopback address",
		"0.0.0.0":          "an unspecified address",
		"10.1.2.3":         "a private address",
		"172.31.0.1":       "a private address",
		"192.168.1.1":      "a private address",
		"fd00::1":          "a private address",
		"100.64.0.1":       "a shared address (carrier-grade NAT)",
		"169.254.169.254":  "a link-local address (cloud metadata services are there)",
		"fe80::1%eth0":     "a link-local address",
		"224.0.0.1":        "a multicast address",
		"255.255.255.255":  "a reserved or broadcast address",
		"203.0.113.7":      "",
		"2001:db8::1":      "",
		"172.32.0.1":       "",
	} {
		if got := Kind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Kind(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestLocal(t *testing.T) {
	local := Local()
	for _, a := range local {
		if a.IsLoopback() {
			return
		}
	}
	t.Errorf("this machine's addresses %v hold no loopback address", local)
}
