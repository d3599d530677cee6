// Package turntest is a real TURN client for the tests of the signaling
// server and its TURN server: allocations, and the refusal of a
// credential told apart from other failures.
package turntest

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/signaling"
)

// Allocate gets a relay allocation from the TURN server at addr with a
// real TURN client, after checking its STUN binding, and returns the
// relayed address. The client and the allocation are closed on return.
func Allocate(t testing.TB, addr, username, password string) (net.Addr, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, Realm: "parley",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	if mapped, err := cl.SendBindingRequest(); err != nil || mapped.String() != conn.LocalAddr().String() {
		t.Errorf("STUN binding: %v %v, want %v", mapped, err, conn.LocalAddr())
	}
	pc, err := cl.Allocate()
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	return pc.LocalAddr(), nil
}

// WantRefused fails unless err is the TURN server's refusal of the
// credential, not some other failure to allocate (a timeout). pion/turn
// answers a credential it does not take with error 400.
func WantRefused(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "error 400") {
		t.Errorf("%s: allocation error %v, want the credential refused (error 400)", what, err)
	}
}

// Client is a TURN client of the server at addr with a UDP relay
// allocation, closed when the test ends.
func Client(t testing.TB, addr, username, password string) (*turn.Client, net.PacketConn) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, Realm: "parley",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	pc, err := cl.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	return cl, pc
}

// Addr is where a test's TURN server, listening on 127.0.0.1, is reached:
// the port of its STUN URL, whatever address it announces.
func Addr(stunServer signaling.ICEServer) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(stunServer.URLs[0], "stun:"))
	return net.JoinHostPort("127.0.0.1", port)
}

// Waiting reports whether a datagram waits to be read on c, without
// waiting for one: a test that sent it one before what another socket
// already got knows it would be there.
func Waiting(t testing.TB, c net.PacketConn) bool {
	t.Helper()
	rc, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), make([]byte, 1), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if rerr != nil && !errors.Is(rerr, syscall.EAGAIN) {
		t.Fatal(rerr)
	}
	return rerr == nil
}

// HostIPv4 returns an IPv4 address of this machine's that is not
// loopback, "" when it has none.
func HostIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() && p.Addr().Is4() {
			return p.Addr().String()
		}
	}
	return ""
}
