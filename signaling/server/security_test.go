package server

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// TestCallActionsBoundToTeam: a user of another team with the callee's id
// cannot answer, reject, hang up, renegotiate or trickle into the call
// (80403), and the real callee still answers. (acme's bob took the call.)
func TestCallActionsBoundToTeam(t *testing.T) {
	s := startServer(t)
	team, err := s.adminAPI(s.APIKey()).AddTeam(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	acmeBob := s.connectWith(t, "acme/bob", s.teamToken(t, team.APIKey, "bob", nil))
	id := placeCall(t, alice, bob, "d")
	cand := "candidate:1 1 udp 1 10.0.0.1 9 typ host"
	for _, m := range []signaling.Message{
		{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"},
		{Type: signaling.TypeReject, CallID: id},
		{Type: signaling.TypeRinging, CallID: id},
		{Type: signaling.TypeCandidate, CallID: id, Candidate: &signaling.Candidate{Candidate: cand}},
		{Type: signaling.TypeFail, CallID: id, Reason: "x"},
		{Type: signaling.TypeHangup, CallID: id},
	} {
		m.Ref = string(m.Type)
		acmeBob.send(m)
		acmeBob.expectError(signaling.NoConnectedCall, m.Ref, id)
	}
	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	got := alice.expect(signaling.Message{Type: signaling.TypeCallStatusChanged, SDP: "answer",
		Event: ev(id, signaling.Answered, out, "alice", "bob")})
	_ = got
	bob.expect(answeredIn(id, "alice", "bob", bob.session))
	for _, m := range []signaling.Message{
		{Type: signaling.TypeRenegotiate, CallID: id, SDP: "offer", SDPType: "offer"},
		{Type: signaling.TypeMute, CallID: id, Muted: new(true)},
		{Type: signaling.TypeHangup, CallID: id},
	} {
		m.Ref = string(m.Type)
		acmeBob.send(m)
		acmeBob.expectError(signaling.NoConnectedCall, m.Ref, id)
	}
	alice.ping("nothing reached alice")
	bob.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
}

// TestRefreshWithAnotherRole: a connection refreshed with a token of
// another role (a member demoted to guest) is refused and closed, so that
// its holder comes back with the new role's rights. (It kept a member's.)
func TestRefreshWithAnotherRole(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	guest := s.teamToken(t, s.APIKey(), "alice", url.Values{"role": {RoleGuest}})
	alice.send(signaling.Message{Type: signaling.TypeRefresh, Ref: "r", Token: guest})
	alice.expectError(signaling.InvalidToken, "r", "")
	if code := alice.closed(); code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v, want %v", code, websocket.StatusPolicyViolation)
	}
	// Connected again with the new token, she has a guest's rights: a
	// member who does not have her as a contact is out of reach.
	s.connect(t, "bob", "")
	again := s.connectWith(t, "alice", guest)
	again.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	again.expectError(signaling.NotFoundUserSessionID, "d", "")
}

// TestPingTimeoutCloseCode: a client that does not answer pings is closed
// with a code that says so (1008, "no answer to pings"), not 1000.
func TestPingTimeoutCloseCode(t *testing.T) {
	s := startServer(t, func(c *Config) { c.PingInterval = 100 * time.Millisecond })
	c := s.connect(t, "alice", "")
	// The test client answers pings only while it reads: stop reading.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	raw, _, err := websocket.Dial(ctx, "ws://"+s.Addr()+PathWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.CloseNow()
	hello := fmt.Sprintf(`{"type":"connect","token":%q}`, s.token(t, "bob"))
	if err := raw.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	// Not reading: the pings go unanswered. Wait for the server to give up.
	for !hasRecord(s, "no answer to a ping: disconnecting", "user", "bob") {
		c.ping("p") // the server goes on meanwhile
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel = context.WithTimeout(context.Background(), patience)
	defer cancel()
	var readErr error
	for readErr == nil {
		_, _, readErr = raw.Read(ctx)
	}
	if code := websocket.CloseStatus(readErr); code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v (%v), want %v", code, readErr, websocket.StatusPolicyViolation)
	}
}

// TestSessionsPerUserAtOnce: connects sent at once cannot slip past
// MaxSessions while the count catches up; exactly MaxSessions are welcome
// and the rest are refused with 80201. (Before the count was taken in
// bucket order, 15 connects at once were all welcome.)
func TestSessionsPerUserAtOnce(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "alice")
	clients := make([]*client, MaxSessions+5)
	for i := range clients {
		clients[i] = s.dial(t, "alice")
	}
	for _, c := range clients {
		c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok})
	}
	welcome, refused := 0, 0
	for _, c := range clients {
		switch m := c.next(); {
		case m.Type == signaling.TypeWelcome:
			welcome++
		case m.Type == signaling.TypeError && m.Error.Code == signaling.AlreadyConnectedSession:
			refused++
		default:
			t.Fatalf("got %s, want a welcome or error %d", js(m), signaling.AlreadyConnectedSession)
		}
	}
	if welcome != MaxSessions || refused != 5 {
		t.Errorf("%d welcome and %d refused, want %d and 5", welcome, refused, MaxSessions)
	}
	// The refused sessions left no presence behind.
	if err := s.feed.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.feed.sessions(t.Context(), store.UserKey(DefaultTeam, "alice")); n != MaxSessions {
		t.Errorf("the feed counts %d sessions, want %d", n, MaxSessions)
	}
}

// hasRecord reports whether s logged msg with key set to value.
func hasRecord(s *testServer, msg, key, value string) bool {
	for _, r := range s.logs.records(msg) {
		if r[key] == value {
			return true
		}
	}
	return false
}

// TestSessionsPerUser: a user may have MaxSessions sessions at once; one
// more is refused with 80201 until one closes, and a reconnect that
// resumes a session is not one more. (2,000 sessions of one user were
// accepted.)
func TestSessionsPerUser(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "alice")
	var first *client
	for i := range MaxSessions {
		c := s.connectWith(t, "alice", tok)
		if i == 0 {
			first = c
		}
	}
	extra := s.dial(t, "alice")
	extra.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok})
	extra.expectError(signaling.AlreadyConnectedSession, "c", "")
	again := s.dial(t, "alice")
	again.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok, Session: first.session,
		Resume: true})
	if w := again.next(); w.Type != signaling.TypeWelcome || w.Session != first.session {
		t.Fatalf("resume: got %s", js(w))
	}
}
