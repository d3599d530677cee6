package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

const (
	out = signaling.Outbound
	in  = signaling.Inbound
)

func msg(t signaling.Type, callID string) signaling.Message {
	return signaling.Message{Type: t, CallID: callID}
}

func TestCallCompleted(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")

	id := placeCall(t, alice, bob, "d1")
	bob.send(msg(signaling.TypeRinging, id))
	alice.expect(status(ev(id, signaling.Ringing, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))

	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer-sdp"})
	answered := status(ev(id, signaling.Answered, out, "alice", "bob"))
	answered.SDP = "answer-sdp"
	alice.expect(answered)
	bob.expect(answeredIn(id, "alice", "bob", bob.session))

	bob.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Completed, in, "alice", "bob")))

	// The call is over: both can call again at once.
	id2 := placeCall(t, bob, alice, "d2")
	if id2 == id {
		t.Fatalf("call id %s reused", id)
	}
	alice.send(msg(signaling.TypeHangup, id2))
	bob.expect(status(ended(id2, signaling.Rejected, out, "bob", "alice", ReasonDeclined, 0)))
	alice.expect(status(ended(id2, signaling.Rejected, in, "bob", "alice", ReasonDeclined, 0)))
}

// TestFailReasonWithEscapes: a fail whose reason holds an escape sequence
// (which would retitle and clear the other side's terminal) is refused with
// invalid_parameter; the call goes on, and a printable reason ends it.
func TestFailReasonWithEscapes(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	id := placeCall(t, alice, bob, "d1")

	alice.send(signaling.Message{Type: signaling.TypeFail, Ref: "f1", CallID: id, Reason: "\x1b]0;pwned\x07"})
	e := alice.expectError(signaling.InvalidParameter, "f1", id)
	if want := "reason contains a control character (U+001B): use one line of printable text"; e.Message != want {
		t.Errorf("refusal %q; want %q", e.Message, want)
	}
	bob.send(signaling.Message{Type: signaling.TypeHangup, Ref: "h1", CallID: id, Reason: "bye\nrun: curl x | sh"})
	bob.expectError(signaling.InvalidParameter, "h1", id)

	// Neither side heard of an end: the next status is the ringing.
	bob.send(msg(signaling.TypeRinging, id))
	alice.expect(status(ev(id, signaling.Ringing, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))
	alice.send(signaling.Message{Type: signaling.TypeFail, CallID: id, Reason: "no microphone"})
	alice.expect(status(ended(id, signaling.Failed, out, "alice", "bob", "no microphone", 0)))
	bob.expect(status(ended(id, signaling.Failed, in, "alice", "bob", "no microphone", 0)))
}

// TestCallEnds covers every way a call can end before or after an answer,
// with the exact events on both sides.
func TestCallEnds(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.RingTimeout, c.ReconnectGrace = 300*time.Millisecond,
			300*time.Millisecond
	})
	tests := []struct {
		name     string
		answer   bool                                // answer before ending
		end      func(alice, bob *client, id string) // what ends the call
		survivor string                              // "" when both see the end, else who alone does
		status   signaling.Status
		reason   string
		code     signaling.Code
	}{
		{"rejected", false, func(_, bob *client, id string) { bob.send(msg(signaling.TypeReject, id)) },
			"", signaling.Rejected, ReasonDeclined, 0},
		{"callee hangs up unanswered", false,
			func(_, bob *client, id string) { bob.send(msg(signaling.TypeHangup, id)) },
			"", signaling.Rejected, ReasonDeclined, 0},
		{"canceled", false, func(alice, _ *client, id string) { alice.send(msg(signaling.TypeHangup, id)) },
			"", signaling.Unanswered, ReasonCanceled, 0},
		{"ring timeout", false, func(*client, *client, string) {},
			"", signaling.Unanswered, ReasonNoAnswer, 0},
		{"caller fails", false, func(alice, _ *client, id string) {
			alice.send(signaling.Message{Type: signaling.TypeFail, CallID: id, Reason: "no microphone"})
		}, "", signaling.Failed, "no microphone", 0},
		{"callee fails answered", true, func(_, bob *client, id string) {
			bob.send(signaling.Message{Type: signaling.TypeFail, CallID: id, Reason: "ice failed"})
		}, "", signaling.Failed, "ice failed", 0},
		{"fail without reason", true, func(alice, _ *client, id string) { alice.send(msg(signaling.TypeFail, id)) },
			"", signaling.Failed, ReasonFailed, 0},
		{"caller hangs up answered", true,
			func(alice, _ *client, id string) { alice.send(msg(signaling.TypeHangup, id)) },
			"", signaling.Completed, "", 0},
		{"caller disconnects unanswered", false,
			func(alice, _ *client, _ string) { _ = alice.ws.Close(websocket.StatusNormalClosure, "") },
			"bob", signaling.Failed, "alice disconnected", signaling.NoConnectedDestination},
		{"callee disconnects unanswered", false, func(_, bob *client, _ string) { _ = bob.ws.CloseNow() },
			"alice", signaling.Failed, "bob disconnected", signaling.NoConnectedDestination},
		{"caller disconnects answered", true, func(alice, _ *client, _ string) { _ = alice.ws.CloseNow() },
			"bob", signaling.Failed, "alice disconnected", signaling.NoConnectedDestination},
		{"callee disconnects answered", true,
			func(_, bob *client, _ string) { _ = bob.ws.Close(websocket.StatusNormalClosure, "") },
			"alice", signaling.Failed, "bob disconnected", signaling.NoConnectedDestination},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := "alice", "bob"
			alice, bob := s.connect(t, a, ""), s.connect(t, b, "")
			id := placeCall(t, alice, bob, "d")
			if tt.answer {
				bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
				answered := status(ev(id, signaling.Answered, out, a, b))
				answered.SDP = "answer"
				alice.expect(answered)
				bob.expect(answeredIn(id, a, b, bob.session))
			}
			start := time.Now()
			tt.end(alice, bob, id)
			if tt.survivor != "bob" {
				alice.expect(status(ended(id, tt.status, out, a, b, tt.reason, tt.code)))
			}
			if tt.survivor != "alice" {
				bob.expect(status(ended(id, tt.status, in, a, b, tt.reason, tt.code)))
			}
			if tt.reason == ReasonNoAnswer {
				if d := time.Since(start); d < 200*time.Millisecond {
					t.Errorf("unanswered after %v, before the ring timeout of 300ms", d)
				}
			}
			if tt.answer && tt.survivor != "" {
				// An answered call waits for the one who left to come back.
				if d := time.Since(start); d < 250*time.Millisecond {
					t.Errorf("failed after %v, before the reconnect grace of 300ms", d)
				}
			}
			// Whoever is left can act again: the call is over for them.
			for _, c := range []*client{alice, bob} {
				if tt.survivor == "" || tt.survivor == c.name {
					c.send(msg(signaling.TypeHangup, id))
					c.expectError(signaling.NoConnectedCall, "", id)
					c.ping("after")
				}
			}
			// Close the survivors so that the next case starts with no
			// one online; wait until the server saw them go.
			watchUntilOffline(t, s, alice, bob)
		})
	}
}

// watchUntilOffline closes the clients and waits until a watcher sees
// their users offline.
func watchUntilOffline(t *testing.T, s *testServer, cs ...*client) {
	t.Helper()
	w := s.connect(t, "watcher", "")
	var users []string
	for _, c := range cs {
		users = append(users, c.user)
	}
	w.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: users})
	online := map[string]bool{}
	for range users {
		m := w.next()
		online[m.User] = *m.Online
	}
	for _, c := range cs {
		_ = c.ws.CloseNow()
	}
	for _, u := range users {
		for online[u] {
			m := w.next()
			if m.Type == signaling.TypePresence {
				online[m.User] = *m.Online
			}
		}
	}
	_ = w.ws.CloseNow()
}

func TestCandidateAndMuteRelay(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	id := placeCall(t, alice, bob, "d")

	mid, idx := "0", uint16(0)
	cand := func(s string) *signaling.Candidate {
		return &signaling.Candidate{Candidate: s, SDPMid: &mid, SDPMLineIndex: &idx}
	}
	// The caller trickles before the answer: the callee gets it.
	alice.send(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: cand("candidate:1 1 udp 1 10.0.0.1 5000 typ host")})
	bob.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: cand("candidate:1 1 udp 1 10.0.0.1 5000 typ host")})
	// The callee may not trickle before answering, nor anyone mute.
	bob.send(signaling.Message{Type: signaling.TypeCandidate, Ref: "c0", CallID: id, Candidate: cand("x")})
	bob.expectError(signaling.NoConnectedCall, "c0", id)
	muted := true
	alice.send(signaling.Message{Type: signaling.TypeMute, Ref: "m0", CallID: id, Muted: &muted})
	alice.expectError(signaling.NoConnectedCall, "m0", id)
	alice.send(signaling.Message{Type: signaling.TypeHold, Ref: "h0", CallID: id, Held: &muted})
	alice.expectError(signaling.NoConnectedCall, "h0", id)

	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	answered := status(ev(id, signaling.Answered, out, "alice", "bob"))
	answered.SDP = "answer"
	alice.expect(answered)
	bob.expect(answeredIn(id, "alice", "bob", bob.session))

	bob.send(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: cand("candidate:2 1 udp 1 10.0.0.2 6000 typ host")})
	alice.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: cand("candidate:2 1 udp 1 10.0.0.2 6000 typ host")})
	alice.send(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: &signaling.Candidate{Candidate: ""}}) // end of candidates
	bob.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: &signaling.Candidate{Candidate: ""}})

	alice.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: &muted})
	bob.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "alice", Muted: &muted})
	unmuted := false
	bob.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: &unmuted})
	alice.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "bob", Muted: &unmuted})

	// Hold goes to the other side with who holds; the call stays
	// answered (nothing else comes: the ping answers next).
	alice.send(signaling.Message{Type: signaling.TypeHold, CallID: id, Held: &muted})
	bob.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "alice", Held: &muted})
	bob.send(signaling.Message{Type: signaling.TypeHold, CallID: id, Held: &muted})
	alice.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "bob", Held: &muted})
	alice.send(signaling.Message{Type: signaling.TypeHold, CallID: id, Held: &unmuted})
	bob.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "alice", Held: &unmuted})
	alice.ping("p1")
	bob.ping("p2")

	// A stranger can do none of it.
	carol := s.connect(t, "carol", "")
	carol.send(signaling.Message{Type: signaling.TypeHold, Ref: "h", CallID: id, Held: &muted})
	carol.expectError(signaling.NoConnectedCall, "h", id)
	carol.send(signaling.Message{Type: signaling.TypeMute, Ref: "m", CallID: id, Muted: &muted})
	carol.expectError(signaling.NoConnectedCall, "m", id)
	carol.send(signaling.Message{Type: signaling.TypeCandidate, Ref: "c", CallID: id, Candidate: cand("x")})
	carol.expectError(signaling.NoConnectedCall, "c", id)

	alice.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Completed, in, "alice", "bob")))
}

// TestRefusedActionsKeepTheCall sends every action that the call's state or
// the sender's side forbids, and checks each is refused with its code while
// the call goes on to complete normally.
func TestRefusedActionsKeepTheCall(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	carol := s.connect(t, "carol", "")
	id := placeCall(t, alice, bob, "d")

	refused := func(c *client, m signaling.Message, code signaling.Code) {
		t.Helper()
		m.Ref, m.CallID = "r-"+string(m.Type), id
		c.send(m)
		c.expectError(code, m.Ref, id)
	}
	answer := signaling.Message{Type: signaling.TypeAnswer, SDP: "answer"}
	refused(alice, answer, signaling.InvalidParameter)                         // the caller answering its own call
	refused(alice, msg(signaling.TypeRinging, ""), signaling.InvalidParameter) // the caller ringing
	refused(alice, msg(signaling.TypeReject, ""), signaling.InvalidParameter)  // the caller rejecting
	refused(carol, msg(signaling.TypeHangup, ""), signaling.NoConnectedCall)   // a stranger
	refused(carol, answer, signaling.NoConnectedCall)                          // a stranger answering
	// Mute before the answer.
	refused(bob, signaling.Message{Type: signaling.TypeMute, Muted: new(bool)}, signaling.NoConnectedCall)

	bob.send(msg(signaling.TypeRinging, id))
	alice.expect(status(ev(id, signaling.Ringing, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))

	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	answered := status(ev(id, signaling.Answered, out, "alice", "bob"))
	answered.SDP = "answer"
	alice.expect(answered)
	bob.expect(answeredIn(id, "alice", "bob", bob.session))

	refused(bob, answer, signaling.NoConnectedCall)                         // answering twice
	refused(bob, msg(signaling.TypeReject, ""), signaling.NoConnectedCall)  // rejecting an answered call
	refused(bob, msg(signaling.TypeRinging, ""), signaling.NoConnectedCall) // ringing after the answer

	alice.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Completed, in, "alice", "bob")))

	refused(alice, msg(signaling.TypeHangup, ""), signaling.NoConnectedCall) // an ended call
	refused(bob, answer, signaling.NoConnectedCall)
}

// TestBusy: with call waiting off (TestCallWaiting has it on), someone in
// a call is busy.
func TestBusy(t *testing.T) {
	s := startServer(t)
	s.waitingOff(t, "alice", "bob")
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	carol := s.connect(t, "carol", "")
	id := placeCall(t, alice, bob, "d")

	// Both parties are busy, ringing or answered.
	for _, answered := range []bool{false, true} {
		carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "to-bob", To: "bob", SDP: "o"})
		if e := carol.expectError(signaling.AlreadyBusyCall, "to-bob", ""); !strings.Contains(e.Message,
			"wait for the other call to end") {
			t.Errorf("message %q does not say what to do", e.Message)
		}
		carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "to-alice", To: "alice", SDP: "o"})
		carol.expectError(signaling.AlreadyBusyCall, "to-alice", "")
		bob.send(signaling.Message{Type: signaling.TypeDial, Ref: "from-bob", To: "carol", SDP: "o"})
		bob.expectError(signaling.AlreadyBusyCall, "from-bob", "")
		if !answered {
			bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "a"})
			alice.next()
			bob.next()
		}
	}
	// A refused dial left carol free: she can still be called.
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "self-check", To: "carol", SDP: "o"})
	carol.expectError(signaling.SameCallerAndDestination, "self-check", "")

	alice.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Completed, in, "alice", "bob")))

	// Free again.
	id2 := placeCall(t, carol, bob, "again")
	bob.send(msg(signaling.TypeReject, id2))
	carol.expect(status(ended(id2, signaling.Rejected, out, "carol", "bob", ReasonDeclined, 0)))
	bob.expect(status(ended(id2, signaling.Rejected, in, "carol", "bob", ReasonDeclined, 0)))
}

// TestTwoCalleeSessions: both of bob's sessions ring; the first answer wins,
// the other session is told and can no longer act on the call.
func TestTwoCalleeSessions(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	phone := s.connect(t, "bob", "phone")
	laptop := s.connect(t, "bob", "laptop")
	phone.name, laptop.name = "bob/phone", "bob/laptop"

	id := placeCall(t, alice, phone, "d", laptop)
	phone.send(msg(signaling.TypeRinging, id))
	alice.expect(status(ev(id, signaling.Ringing, out, "alice", "bob")))
	phone.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))
	laptop.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))
	// It rings too: accepted, nothing new.
	laptop.send(signaling.Message{Type: signaling.TypeRinging, Ref: "r2", CallID: id})
	laptop.ping("p")

	laptop.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "laptop-answer"})
	answered := status(ev(id, signaling.Answered, out, "alice", "bob"))
	answered.SDP = "laptop-answer"
	alice.expect(answered)
	phone.expect(answeredIn(id, "alice", "bob", laptop.session))
	laptop.expect(answeredIn(id, "alice", "bob", laptop.session))

	phone.send(signaling.Message{Type: signaling.TypeAnswer, Ref: "late", CallID: id, SDP: "phone-answer"})
	if e := phone.expectError(signaling.NoConnectedCall, "late", id); !strings.Contains(e.Message,
		"another of your devices") {
		t.Errorf("message %q does not say the call was answered elsewhere", e.Message)
	}
	phone.send(signaling.Message{Type: signaling.TypeHangup, Ref: "h", CallID: id})
	phone.expectError(signaling.NoConnectedCall, "h", id)

	// Relays go to the answering session only.
	alice.send(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: &signaling.Candidate{Candidate: "c"}})
	laptop.expect(signaling.Message{Type: signaling.TypeCandidate, CallID: id,
		Candidate: &signaling.Candidate{Candidate: "c"}})

	// The phone closing does not matter any more.
	_ = phone.ws.Close(websocket.StatusNormalClosure, "")
	laptop.ping("p2")

	laptop.send(msg(signaling.TypeHangup, id))
	alice.expect(status(ev(id, signaling.Completed, out, "alice", "bob")))
	laptop.expect(status(ev(id, signaling.Completed, in, "alice", "bob")))
}

func TestPresence(t *testing.T) {
	s := startServer(t)
	carol := s.connect(t, "carol", "")
	alice := s.connect(t, "alice", "")
	s.token(t, "bob") // known, offline
	checkSession := func(user string, want bool) {
		t.Helper()
		code, body := get(t, s.url("/v1/voice/users/"+user+"/session"), map[string]string{"Authorization": "Bearer " +
			s.token(t, "carol")})
		if wantBody := `{"user":"` + user + `","online":` + map[bool]string{true: "true", false: "false"}[want] +
			"}\n"; code != http.StatusOK || string(body) != wantBody {
			t.Fatalf("session %s: %d %s, want 200 %s", user, code, body, wantBody)
		}
	}

	carol.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w1", Users: []string{"alice", "bob", "alice"}})
	carol.expectPresence("alice", signaling.StateOnline, "w1")
	if m := carol.expectPresence("bob", signaling.StateOffline, "w1"); m.LastSeen != nil {
		t.Errorf("bob was never online, but last seen %v", m.LastSeen)
	}
	checkSession("alice", true)
	checkSession("bob", false)
	checkSession("nobody", false)

	bob1 := s.connect(t, "bob", "")
	carol.expectPresence("bob", signaling.StateOnline, "")
	checkSession("bob", true)
	bob2 := s.connect(t, "bob", "")

	// Watching more users tells about the new ones only.
	carol.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w2", Users: []string{"dave", "bob"}})
	carol.expectPresence("dave", signaling.StateOffline, "w2")

	// bob stays online while one of his sessions is.
	_ = bob1.ws.Close(websocket.StatusNormalClosure, "")
	_ = alice.ws.Close(websocket.StatusNormalClosure, "")
	before := time.Now().Add(-time.Second)
	if m := carol.expectPresence("alice", signaling.StateOffline, ""); m.LastSeen == nil || m.LastSeen.Before(before) {
		t.Errorf("alice offline, last seen %v, want about now", m.LastSeen)
	}
	checkSession("alice", false)
	checkSession("bob", true)
	_ = bob2.ws.CloseNow()
	carol.expectPresence("bob", signaling.StateOffline, "")
	checkSession("bob", false)
}

// TestPresenceExpires: a session whose node died (no heartbeat, no
// goodbye) goes offline by itself, 2.5 heartbeats after its last refresh.
func TestPresenceExpires(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Heartbeat = 200 * time.Millisecond })
	carol := s.connect(t, "carol", "")
	carol.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: []string{"ghost"}})
	carol.expectPresence("ghost", signaling.StateOffline, "w")

	// As another node would, then die.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	start := time.Now()
	if _, err := s.store.Presence.Create(ctx, presenceKey("ghost", "s1"), []byte(`{"node":"dead"}`)); err != nil {
		t.Fatal(err)
	}
	carol.expectPresence("ghost", signaling.StateOnline, "")
	carol.expectPresence("ghost", signaling.StateOffline, "")
	if d := time.Since(start); d < s.cfg.expiry() {
		t.Errorf("offline after %v, before 2.5 heartbeats (%v)", d, s.cfg.expiry())
	}
	// Live sessions do not expire: carol's own presence is refreshed.
	code, body := get(t, s.url("/v1/voice/users/carol/session"), map[string]string{"Authorization": "Bearer " +
		s.token(t, "carol")})
	if code != http.StatusOK || string(body) != `{"user":"carol","online":true}`+"\n" {
		t.Fatalf("carol: %d %s", code, body)
	}
}

func TestShutdownTellsClients(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	id := placeCall(t, alice, bob, "d")
	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "a"})
	alice.next()
	bob.next()
	idle := s.dial(t, "idle") // not even connected

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The call is not failed: the next and last message is the shutdown.
	for _, c := range []*client{alice, bob, idle} {
		c.expect(signaling.Message{Type: signaling.TypeShutdown, Reason: "the server is shutting down: reconnect " +
			"in a moment"})
		if code := c.closed(); code != websocket.StatusGoingAway {
			t.Errorf("%s: close status %v, want %v", c.name, code, websocket.StatusGoingAway)
		}
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, err := http.Get(s.url(PathHealth)); err == nil {
		t.Errorf("HTTP still served after Shutdown")
	}
}

// churningPair starts a server with alice and bob connected and rewrites
// the presence keys of their sessions, as their heartbeats do, and those
// of another session of each, as fast as NATS takes it, until the test
// ends. writes returns how many writes it made so far.
func churningPair(t *testing.T) (s *testServer, alice, bob *client, writes func() int) {
	s = startServer(t)
	alice, bob = s.connect(t, "alice", ""), s.connect(t, "bob", "")
	ctx, cancel := context.WithCancel(context.Background())
	type kv struct {
		key   string
		value []byte
	}
	var churn []kv
	for _, c := range []*client{alice, bob} {
		k := presenceKey(store.UserKey(DefaultTeam, c.user), c.session)
		e, err := s.store.Presence.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		other := presenceKey(store.UserKey(DefaultTeam, c.user), "other")
		churn = append(churn, kv{k, e.Value()}, kv{other, []byte(`{"node":"elsewhere"}`)})
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			_, _ = s.store.Presence.Put(ctx, churn[i%len(churn)].key, churn[i%len(churn)].value)
			n.Add(1)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s, alice, bob, func() int { return int(n.Load()) }
}

// TestCallsWhilePresenceChurns: a call placed while its parties' presence
// keys are being written does not fail as if a party were gone. A KV
// watch says it has all initial values before it has them while keys
// change (see store.Store.Latest): until the call read the presence again, this
// failed in each of 10 runs.
func TestCallsWhilePresenceChurns(t *testing.T) {
	_, alice, bob, writes := churningPair(t)
	const calls = 100
	for i := range calls {
		rejectCall(t, alice, bob, "c"+strconv.Itoa(i))
	}
	t.Logf("%d calls rejected as they should be, during %d presence writes", calls, writes())
}

// TestWatchWhilePresenceChurns: someone who starts watching contacts
// whose presence keys are being written hears at once that they are
// online, not offline then online.
func TestWatchWhilePresenceChurns(t *testing.T) {
	s, _, _, writes := churningPair(t)
	const watches = 100
	for i := range watches {
		carol := s.connect(t, "carol", "")
		ref := "w" + strconv.Itoa(i)
		carol.send(signaling.Message{Type: signaling.TypeWatch, Ref: ref, Users: []string{"alice", "bob"}})
		carol.expectPresence("alice", signaling.StateOnline, ref)
		carol.expectPresence("bob", signaling.StateOnline, ref)
		_ = carol.ws.CloseNow()
	}
	t.Logf("%d watches saw alice and bob online, during %d presence writes", watches, writes())
}
