package server

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/signaling"
)

// TestTURN: the welcome carries STUN and TURN servers with credentials
// for the user; with them a real TURN client gets a relay allocation and
// its public address by STUN; expired or forged ones are refused.
func TestTURN(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TURNListen = "127.0.0.1:0" })
	stun, relay := welcomeICE(t, s, "alice", s.token(t, "alice"))
	// The token endpoint hands them out with the token too.
	code, body := get(t, s.tokenURL("alice", nil), map[string]string{"APP_API_KEY": s.APIKey()})
	if code != 200 || !strings.Contains(string(body), `"ice_servers":[{"urls":["`+stun.URLs[0]+`"]}`) {
		t.Errorf("token endpoint: %d %s, want ice_servers with %s", code, body, stun.URLs[0])
	}
	if len(stun.URLs) != 1 || !strings.HasPrefix(stun.URLs[0], "stun:127.0.0.1:") {
		t.Fatalf("stun server %+v", stun)
	}
	if len(relay.URLs) != 2 || relay.URLs[0] != "turn:"+stun.URLs[0][5:]+"?transport=udp" || relay.URLs[1] != "turn:"+stun.URLs[0][5:]+"?transport=tcp" {
		t.Fatalf("turn server %+v", relay)
	}
	exp, holder, ok := strings.Cut(relay.Username, ":")
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if !ok || !strings.HasPrefix(holder, "alice:default::") || err != nil || time.Unix(expiry, 0).Before(time.Now().Add(DefaultTURNCredentialTTL-time.Minute)) {
		t.Fatalf("turn username %q, want <expiry %v from now>:alice:default::<issued>", relay.Username, DefaultTURNCredentialTTL)
	}
	addr := stun.URLs[0][len("stun:"):]

	got, err := turnAllocate(t, addr, relay.Username, relay.Credential)
	if err != nil {
		t.Fatalf("allocate with the welcome's credentials: %v", err)
	}
	if !strings.HasPrefix(got.String(), "127.0.0.1:") {
		t.Errorf("relayed address %v, want on 127.0.0.1", got)
	}
	_, err = turnAllocate(t, addr, relay.Username, "forged")
	wantRefused(t, "a forged password", err)
	_, err = turnAllocate(t, addr, "1000000000:alice", relay.Credential)
	wantRefused(t, "an expired username", err)
}

// welcomeICE signs user in with tok and returns the STUN and the TURN
// server of its welcome.
func welcomeICE(t *testing.T, s *testServer, user, tok string) (stun, relay signaling.ICEServer) {
	t.Helper()
	c := s.dial(t, user)
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok})
	w := c.next()
	if w.Type != signaling.TypeWelcome || len(w.ICEServers) != 2 {
		t.Fatalf("%s: welcome %s, want two ICE servers", user, js(w))
	}
	return w.ICEServers[0], w.ICEServers[1]
}

// wantRefused fails unless err is the TURN server's refusal of the
// credential, not some other failure to allocate (a timeout). pion/turn
// answers a credential it does not take with error 400.
func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "error 400") {
		t.Errorf("%s: allocation error %v, want the credential refused (error 400)", what, err)
	}
}

// turnAllocate gets a relay allocation from the TURN server at addr with
// a real TURN client, after checking its STUN binding, and returns the
// relayed address.
func turnAllocate(t *testing.T, addr, username, password string) (net.Addr, error) {
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

// TestTURNRevoked: a TURN credential is refused once its holder's access
// is revoked: a signed-in device's when the device is, a token's when its
// user is. Another user's goes on working.
func TestTURNRevoked(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TURNListen = "127.0.0.1:0" })
	l := s.login(t, s.APIKey(), "bob", "Bob", RoleMember)
	stun, bob := welcomeICE(t, s, "bob", s.accessToken(t, l.Credential))
	addr := strings.TrimPrefix(stun.URLs[0], "stun:")
	_, alice := welcomeICE(t, s, "alice", s.token(t, "alice"))
	_, carol := welcomeICE(t, s, "carol", s.token(t, "carol"))
	for _, r := range []signaling.ICEServer{bob, alice, carol} {
		if _, err := turnAllocate(t, addr, r.Username, r.Credential); err != nil {
			t.Fatalf("%s: allocate before any revoke: %v", r.Username, err)
		}
	}

	ctx := t.Context()
	if _, err := s.revokeDevice(ctx, DefaultTeam, "bob", l.Device); err != nil {
		t.Fatal(err)
	}
	if _, err := s.revokeUser(ctx, DefaultTeam, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []signaling.ICEServer{bob, alice} {
		_, err := turnAllocate(t, addr, r.Username, r.Credential)
		wantRefused(t, r.Username+" after the revoke", err)
	}
	if _, err := turnAllocate(t, addr, carol.Username, carol.Credential); err != nil {
		t.Errorf("carol: allocate after the others' revokes: %v", err)
	}
}

// TestTURNPeerFilter: the relay refuses to reach this machine (unless it
// is itself on loopback), nowhere and link-local or multicast groups, and
// lets calls through to everything else, private networks included.
func TestTURNPeerFilter(t *testing.T) {
	client := &net.UDPAddr{IP: net.ParseIP("198.51.100.9"), Port: 4000}
	for _, c := range []struct {
		relay, peer string
		want        bool
	}{
		{"203.0.113.1", "203.0.113.77", true},
		{"203.0.113.1", "10.1.2.3", true},
		{"203.0.113.1", "127.0.0.1", false},
		{"203.0.113.1", "::1", false},
		{"203.0.113.1", "0.0.0.0", false},
		{"203.0.113.1", "224.0.0.251", false},
		{"203.0.113.1", "169.254.10.20", false},
		{"127.0.0.1", "127.0.0.1", true},
	} {
		allow := peerFilter(net.ParseIP(c.relay), slog.New(slog.DiscardHandler))
		if got := allow(client, net.ParseIP(c.peer)); got != c.want {
			t.Errorf("relay at %s, peer %s: allowed %v, want %v", c.relay, c.peer, got, c.want)
		}
	}
}

// TestListenTURN: TURN takes one port on UDP and TCP. A given port that
// is taken on TCP is an error that says so; with port 0, a pair that is
// free on both is found.
func TestListenTURN(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	if _, _, err := listenTURN("127.0.0.1", port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("port %s taken on TCP: %v, want address in use", port, err)
	}
	for range 20 {
		udp, tcp, err := listenTURN("127.0.0.1", "0")
		if err != nil {
			t.Fatal(err)
		}
		_, u, _ := net.SplitHostPort(udp.LocalAddr().String())
		_, p, _ := net.SplitHostPort(tcp.Addr().String())
		udp.Close()
		tcp.Close()
		if u != p {
			t.Fatalf("udp port %s, tcp port %s: want the same", u, p)
		}
	}
}
