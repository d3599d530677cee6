package server

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-voice/parley/signaling"
)

// TestTwoNodes runs two servers on one NATS: node a embeds it and lets b
// connect. Calls, relays and presence cross from one node to the other,
// which shows that all of it goes through NATS.
func TestTwoNodes(t *testing.T) {
	a := startServer(t, func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" })
	if a.NATSClientURL() == "" {
		t.Fatal("no NATS client URL")
	}
	// b shares a's secret and API key, as nodes of one service must.
	dir := t.TempDir()
	for _, f := range []string{secretFile, apiKeyFile} {
		b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logBuffer{}
	cfg := testConfig(dir, logs)
	cfg.NATSURL, cfg.NodeName = a.NATSClientURL(), "b"
	b := startWith(t, cfg, logs)
	if b.APIKey() != a.APIKey() {
		t.Fatal("b has another API key")
	}

	carol := a.connect(t, "carol", "")
	carol.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: []string{"alice", "bob"}})
	carol.expectPresence("alice", signaling.StateOffline, "w")
	carol.expectPresence("bob", signaling.StateOffline, "w")

	alice := b.connect(t, "alice", "desk") // token from b, known on a
	carol.expectPresence("alice", signaling.StateOnline, "")
	bob := a.connect(t, "bob", "")
	carol.expectPresence("bob", signaling.StateOnline, "")
	code, body := get(t, a.url("/v1/voice/users/alice/session"), map[string]string{"Authorization": "Bearer " +
		b.token(t, "carol")})
	if code != http.StatusOK || string(body) != `{"user":"alice","online":true}`+"\n" {
		t.Errorf("session on a of alice on b: %d %s", code, body)
	}

	// One session id is one connection across nodes.
	dup := a.dial(t, "alice")
	dup.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: a.token(t, "alice"), Session: "desk"})
	dup.expectError(signaling.AlreadyConnectedSession, "c", "")

	// Calls owned by b (alice dials) and by a (bob dials).
	dave := b.connect(t, "dave", "")
	a.waitingOff(t, "alice", "bob") // for the busy case
	for _, dir := range []struct{ caller, callee *client }{{alice, bob}, {bob, alice}} {
		caller, callee := dir.caller, dir.callee
		id := placeCall(t, caller, callee, "d")
		callee.send(msg(signaling.TypeRinging, id))
		caller.expect(status(ev(id, signaling.Ringing, out, caller.user, callee.user)))
		callee.expect(status(ev(id, signaling.Ringing, in, caller.user, callee.user)))
		callee.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
		answered := status(ev(id, signaling.Answered, out, caller.user, callee.user))
		answered.SDP = "answer"
		caller.expect(answered)
		callee.expect(answeredIn(id, caller.user, callee.user, callee.session))
		callee.send(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
			Candidate: &signaling.Candidate{Candidate: "c1"}})
		caller.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
			Candidate: &signaling.Candidate{Candidate: "c1"}})
		// Busy across nodes.
		dave.send(signaling.Message{Type: signaling.TypeDial, Ref: "busy", To: callee.user, SDP: "o"})
		dave.expectError(signaling.AlreadyBusyCall, "busy", "")
		callee.send(msg(signaling.TypeHangup, id))
		caller.expect(status(ev(id, signaling.Completed, out, caller.user, callee.user)))
		callee.expect(status(ev(id, signaling.Completed, in, caller.user, callee.user)))
	}

	// Several devices across nodes: erin's phone on a and laptop on b both
	// ring; the laptop answers, the phone is told, and relays go to the
	// laptop alone.
	phone, laptop := a.connect(t, "erin", "phone"), b.connect(t, "erin", "laptop")
	phone.name, laptop.name = "erin/phone", "erin/laptop"
	eid := placeCall(t, dave, phone, "multi", laptop)
	phone.send(msg(signaling.TypeRinging, eid))
	dave.expect(status(ev(eid, signaling.Ringing, out, "dave", "erin")))
	phone.expect(status(ev(eid, signaling.Ringing, in, "dave", "erin")))
	laptop.expect(status(ev(eid, signaling.Ringing, in, "dave", "erin")))
	laptop.send(signaling.Message{Type: signaling.TypeAnswer, CallID: eid, SDP: "laptop-answer"})
	answered := status(ev(eid, signaling.Answered, out, "dave", "erin"))
	answered.SDP = "laptop-answer"
	dave.expect(answered)
	phone.expect(answeredIn(eid, "dave", "erin", laptop.session))
	laptop.expect(answeredIn(eid, "dave", "erin", laptop.session))
	dave.send(signaling.Message{Type: signaling.TypeCandidate, CallID: eid,
		Candidate: &signaling.Candidate{Candidate: "c2"}})
	laptop.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: eid,
		Candidate: &signaling.Candidate{Candidate: "c2"}})
	phone.ping("p")
	dave.send(msg(signaling.TypeHangup, eid))
	dave.expect(status(ev(eid, signaling.Completed, out, "dave", "erin")))
	laptop.expect(status(ev(eid, signaling.Completed, in, "dave", "erin")))

	// A party on the other node leaving fails the call.
	id := placeCall(t, bob, alice, "d2")
	_ = alice.ws.CloseNow()
	bob.expect(status(ended(id, signaling.Failed, out, "bob", "alice", "alice disconnected",
		signaling.NoConnectedDestination)))
	carol.waitPresence("alice", signaling.StateOffline)
}
