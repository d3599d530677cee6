//go:build e2e

package server

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/turn/turntest"
)

// relayPeer joins c to room with a peer that sends tone and may use the
// TURN server relay only (ICE transport policy relay: a strict firewall,
// or --relay-only); its offer has relay candidates and no other.
func relayPeer(t *testing.T, c *client, room string, tone float64, relay signaling.ICEServer) *peer {
	t.Helper()
	p, offer := newPeerConf(t, c, tone, webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay,
		ICEServers: []webrtc.ICEServer{{URLs: relay.URLs, Username: relay.Username,
			Credential: relay.Credential}}})
	types := regexp.MustCompile(`(?m)^a=candidate:.* typ (\w+)`).FindAllStringSubmatch(offer, -1)
	for _, m := range types {
		if m[1] != "relay" {
			t.Fatalf("%s: a %s candidate in a relay-only offer", c.user, m[1])
		}
	}
	if len(types) == 0 {
		t.Fatalf("%s: no relay candidate in the offer:\n%s", c.user, offer)
	}
	return join(t, p, offer, room, false)
}

// turnHost is a node's TURN listen address on an address of this machine
// that is not loopback (a relay on loopback reaches the whole machine:
// peerPolicy); the test is skipped when there is none.
func turnHost(t *testing.T) string {
	t.Helper()
	ip := turntest.HostIPv4()
	if ip == "" {
		t.Skip("this machine has no IPv4 address but loopback")
	}
	return net.JoinHostPort(ip, "0")
}

// TestTURNRoom: Alice may use the node's TURN relay only (her offer has
// relay candidates alone), the relay being on this machine's address that
// is not loopback; Bob joins directly. Each hears the other's tone through
// the room's SFU, which the relay reaches at its media port. With her
// credentials, a TURN client's packets to the node's other ports (its
// HTTP and NATS ports, on UDP there, at the relay's address and on
// loopback) are dropped, and a permission for a private address is
// refused.
func TestTURNRoom(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TURNListen, c.NATSListen = turnHost(t), "127.0.0.1:0" })
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "firewalled"})
	c, stun, relay := connectICE(t, s, "alice", s.token(t, "alice"))
	alice := relayPeer(t, c, "firewalled", 440, relay)
	bob := joinRoom(t, s.connect(t, "bob", ""), "firewalled", 660, false)
	tones := []float64{440, 660}
	alice.hears(tones, []float64{660}, nil)
	bob.hears(tones, []float64{440}, nil)

	addr := strings.TrimPrefix(stun.URLs[0], "stun:")
	ip, _, _ := net.SplitHostPort(addr)
	cl, a := turntest.Client(t, addr, relay.Username, relay.Credential)
	clB, b := turntest.Client(t, addr, relay.Username, relay.Credential)
	if err := cl.CreatePermission(&net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 4000}); err == nil ||
		!strings.Contains(err.Error(), "403") {
		t.Errorf("permission for 10.0.0.1: %v, want refused (403)", err)
	}
	var services []net.PacketConn
	for _, hp := range []string{s.Addr(), s.NATSClientURL()[len("nats://"):]} {
		_, port, _ := net.SplitHostPort(hp)
		for _, host := range []string{ip, "127.0.0.1"} {
			svc, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
			if err != nil {
				t.Fatalf("a UDP socket at the node's port %s: %v", port, err)
			}
			t.Cleanup(func() { svc.Close() })
			if err := cl.CreatePermission(svc.LocalAddr()); err != nil {
				t.Fatalf("permission for %s (this machine's: the rooms' media are there): %v", host, err)
			}
			services = append(services, svc)
		}
	}
	if err := cl.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := clB.CreatePermission(a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for _, svc := range services {
		if _, err := a.WriteTo([]byte("hello"), svc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.WriteTo([]byte("hello"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = b.SetReadDeadline(time.Now().Add(patience))
	if n, _, err := b.ReadFrom(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("the other relay got %q (%v), want hello", buf[:n], err)
	}
	// Sent first, in order: had they gone through, they would be there now.
	for _, svc := range services {
		if turntest.Waiting(t, svc) {
			t.Errorf("%v, a port of the node that is not its rooms' media, got a packet through the relay",
				svc.LocalAddr())
		}
	}
}

// TestTURNRoomCluster: the room is b's (Bob, who joins through b, opens
// it) while Alice, relay-only, is connected to a and uses a's TURN relay,
// on this machine's address that is not loopback: a's relays reach b's
// rooms' media at the ports b told the nodes (b's own ports there, as a's
// services are refused), and each hears the other's tone.
func TestTURNRoomCluster(t *testing.T) {
	a := startServer(t, func(c *Config) { c.TURNListen, c.NATSListen, c.NodeName = turnHost(t), "127.0.0.1:0", "a" })
	b := startNode(t, a, "b")
	a.createRoom(t, "alice", signaling.RoomRequest{Name: "across"})
	bob := joinRoom(t, b.connect(t, "bob", ""), "across", 660, false)
	if n := len(b.logs.records("room opened here")); n != 1 {
		t.Fatalf("b opened %d rooms, want 1", n)
	}
	// b told a where its rooms' media are when it started: a has it once
	// it logs it.
	deadline := time.Now().Add(patience)
	for !slices.ContainsFunc(a.logs.records("rooms' media of another node"), func(r map[string]any) bool {
		return r["other"] == "b"
	}) {
		if time.Now().After(deadline) {
			t.Fatal("a was not told b's rooms' media")
		}
		time.Sleep(10 * time.Millisecond) // a log record, no event to wait on
	}
	c, _, relay := connectICE(t, a, "alice", a.token(t, "alice"))
	alice := relayPeer(t, c, "across", 440, relay)
	tones := []float64{440, 660}
	alice.hears(tones, []float64{660}, nil)
	bob.hears(tones, []float64{440}, nil)
	if n := len(a.logs.records("room opened here")); n != 0 {
		t.Errorf("a opened %d rooms, want none: the room is b's", n)
	}
}
