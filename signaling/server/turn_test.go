package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/turn/turntest"
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
	if len(relay.URLs) != 2 || relay.URLs[0] != "turn:"+stun.URLs[0][5:]+"?transport=udp" || relay.URLs[1] != "turn:"+
		stun.URLs[0][5:]+"?transport=tcp" {
		t.Fatalf("turn server %+v", relay)
	}
	exp, holder, ok := strings.Cut(relay.Username, ":")
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if !ok || !strings.HasPrefix(holder, "alice:default::") || err != nil ||
		time.Unix(expiry, 0).Before(time.Now().Add(DefaultTURNCredentialTTL-time.Minute)) {
		t.Fatalf("turn username %q, want <expiry %v from now>:alice:default::<issued>", relay.Username,
			DefaultTURNCredentialTTL)
	}
	addr := stun.URLs[0][len("stun:"):]

	got, err := turntest.Allocate(t, addr, relay.Username, relay.Credential)
	if err != nil {
		t.Fatalf("allocate with the welcome's credentials: %v", err)
	}
	if !strings.HasPrefix(got.String(), "127.0.0.1:") {
		t.Errorf("relayed address %v, want on 127.0.0.1", got)
	}
	_, err = turntest.Allocate(t, addr, relay.Username, "forged")
	turntest.WantRefused(t, "a forged password", err)
	_, err = turntest.Allocate(t, addr, "1000000000:alice", relay.Credential)
	turntest.WantRefused(t, "an expired username", err)
}

// welcomeICE signs user in with tok and returns the STUN and the TURN
// server of its welcome.
func welcomeICE(t *testing.T, s *testServer, user, tok string) (stun, relay signaling.ICEServer) {
	t.Helper()
	_, stun, relay = connectICE(t, s, user, tok)
	return stun, relay
}

// connectICE signs user in with tok and returns the client, and the STUN
// and the TURN server of its welcome.
func connectICE(t *testing.T, s *testServer, user, tok string) (c *client, stun, relay signaling.ICEServer) {
	t.Helper()
	c = s.dial(t, user)
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok})
	w := c.next()
	if w.Type != signaling.TypeWelcome || len(w.ICEServers) != 2 {
		t.Fatalf("%s: welcome %s, want two ICE servers", user, js(w))
	}
	c.user, c.session = w.User, w.Session
	return c, w.ICEServers[0], w.ICEServers[1]
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
		if _, err := turntest.Allocate(t, addr, r.Username, r.Credential); err != nil {
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
		_, err := turntest.Allocate(t, addr, r.Username, r.Credential)
		turntest.WantRefused(t, r.Username+" after the revoke", err)
	}
	if _, err := turntest.Allocate(t, addr, carol.Username, carol.Credential); err != nil {
		t.Errorf("carol: allocate after the others' revokes: %v", err)
	}
}
