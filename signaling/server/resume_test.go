package server

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-voice/parley/signaling"
)

// answeredCall places a call from alice to bob and answers it.
func answeredCall(t *testing.T, alice, bob *client) string {
	t.Helper()
	id := placeCall(t, alice, bob, "d")
	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	answered := status(ev(id, signaling.Answered, signaling.Outbound, "alice", "bob"))
	answered.SDP = "answer"
	alice.expect(answered)
	bob.expect(answeredIn(id, "alice", "bob", bob.session))
	return id
}

// reconnect connects user again with the session of old, taking it over.
func (s *testServer) reconnect(t *testing.T, old *client) *client {
	t.Helper()
	c := s.dial(t, old.name)
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: s.token(t, old.user), Session: old.session,
		Resume: true})
	if w := c.next(); w.Type != signaling.TypeWelcome || w.Session != old.session {
		t.Fatalf("%s: reconnect: got %s", old.name, js(w))
	}
	c.user, c.session = old.user, old.session
	return c
}

// resume resumes call id on c, which hears the call's status and whether
// other is muted and holds the call.
func resume(c *client, id string, dir signaling.Direction, other string, muted, held bool) {
	c.t.Helper()
	c.send(signaling.Message{Type: signaling.TypeResume, CallID: id})
	c.expect(status(ev(id, signaling.Answered, dir, "alice", "bob")))
	c.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: other, Muted: &muted})
	c.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: other, Held: &held})
}

// TestResumeAfterDisconnect: a participant of an answered call whose
// connection drops reconnects with its session within the grace period,
// resumes the call, and the call goes on to complete.
func TestResumeAfterDisconnect(t *testing.T) {
	s := startServer(t, func(c *Config) { c.ReconnectGrace = time.Second })
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	id := answeredCall(t, alice, bob)

	_ = alice.ws.CloseNow() // her network drops
	alice2 := s.reconnect(t, alice)
	resume(alice2, id, signaling.Outbound, "bob", false, false)

	// Past the grace period, the call is still up: hanging up completes it.
	time.Sleep(1500 * time.Millisecond) // the grace period is what is tested
	bob.send(msg(signaling.TypeHangup, id))
	alice2.expect(status(ev(id, signaling.Completed, signaling.Outbound, "alice", "bob")))
	bob.expect(status(ev(id, signaling.Completed, signaling.Inbound, "alice", "bob")))
}

// TestResumeTakesOverALiveSession: a reconnect before the server noticed
// the old connection die takes the session over; the old one is closed.
func TestResumeTakesOverALiveSession(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Heartbeat = 200 * time.Millisecond })
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	id := answeredCall(t, alice, bob)
	alice2 := s.reconnect(t, alice) // the first connection still looks alive
	resume(alice2, id, signaling.Outbound, "bob", false, false)
	// The old connection is closed within a heartbeat or two (it may get a
	// copy of what was sent to the session meanwhile).
	for range alice.in {
	}
	alice2.send(msg(signaling.TypeHangup, id))
	alice2.expect(status(ev(id, signaling.Completed, signaling.Outbound, "alice", "bob")))
}

// TestGraceEnds: a participant who does not come back within the grace
// period fails the call, and only then.
func TestGraceEnds(t *testing.T) {
	s := startServer(t, func(c *Config) { c.ReconnectGrace = 500 * time.Millisecond })
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	id := answeredCall(t, alice, bob)
	start := time.Now()
	_ = bob.ws.CloseNow()
	alice.expect(status(ended(id, signaling.Failed, signaling.Outbound, "alice", "bob", "bob disconnected",
		signaling.NoConnectedDestination)))
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("failed %v after bob left, before the grace of 500ms", d)
	}
}

// restartable is a server that a test restarts as a service is restarted
// (the same address and data), with alice and bob in answered call id.
type restartable struct {
	cfg        Config
	logs       *logBuffer
	srv        *testServer
	alice, bob *client
	id         string
}

// answeredRestartable starts a restartable server, changed by mods, and
// the call between alice and bob.
func answeredRestartable(t *testing.T, mods ...func(*Config)) *restartable {
	t.Helper()
	r := &restartable{logs: &logBuffer{}}
	r.cfg = testConfig(t.TempDir(), r.logs)
	for _, mod := range mods {
		mod(&r.cfg)
	}
	r.srv = startWith(t, r.cfg, r.logs)
	r.alice, r.bob = r.srv.connect(t, "alice", ""), r.srv.connect(t, "bob", "")
	r.id = answeredCall(t, r.alice, r.bob)
	return r
}

// restart shuts the server down, which tells clients, and starts it again.
func (r *restartable) restart(t *testing.T, clients ...*client) *testServer {
	t.Helper()
	if err := r.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if m := c.next(); m.Type != signaling.TypeShutdown {
			t.Fatalf("%s: got %s, want shutdown", c.name, js(m))
		}
	}
	r.cfg.Listen = r.srv.Addr()
	r.srv = startWith(t, r.cfg, r.logs)
	return r.srv
}

// TestResumeAfterRestart: the server restarts during an answered call in
// which Bob is muted; both participants reconnect to the new process and
// resume, the call is adopted from its record (Bob still muted), and it
// completes normally.
func TestResumeAfterRestart(t *testing.T) {
	r := answeredRestartable(t)
	alice, bob, id := r.alice, r.bob, r.id
	muted := true
	bob.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: &muted})
	alice.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "bob", Muted: &muted})
	alice.send(signaling.Message{Type: signaling.TypeHold, CallID: id, Held: &muted})
	bob.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "alice", Held: &muted})
	second := r.restart(t, alice, bob)
	alice2, bob2 := second.reconnect(t, alice), second.reconnect(t, bob)
	// Each hears whether the other is muted and holds: Bob's mute and
	// Alice's hold outlived the server in the call's record.
	resume(alice2, id, signaling.Outbound, "bob", true, false)
	resume(bob2, id, signaling.Inbound, "alice", false, true)

	// Busy again: the call holds both (bob has call waiting off).
	second.waitingOff(t, "bob")
	carol := second.connect(t, "carol", "")
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "x", To: "bob", SDP: "offer"})
	carol.expectError(signaling.AlreadyBusyCall, "x", "")

	alice2.send(msg(signaling.TypeHangup, id))
	alice2.expect(status(ev(id, signaling.Completed, signaling.Outbound, "alice", "bob")))
	bob2.expect(status(ev(id, signaling.Completed, signaling.Inbound, "alice", "bob")))

	// A call that has ended resumes as ended.
	alice2.send(signaling.Message{Type: signaling.TypeResume, CallID: id})
	alice2.expect(status(ev(id, signaling.Completed, signaling.Outbound, "alice", "bob")))
}

// TestAdoptedOnce: after a restart, many actions on one call arrive at
// once, each finding no owner; the call is adopted by one owner only, so
// that what it writes (Alice's mute) is not overwritten by another's stale
// copy of the record, and outlives the next restart.
func TestAdoptedOnce(t *testing.T) {
	r := answeredRestartable(t)
	alice, bob, id := r.alice, r.bob, r.id
	second := r.restart(t, alice, bob)

	alice2, bob2 := second.reconnect(t, alice), second.reconnect(t, bob)
	var others []*client // Alice's other devices, refused once the call is owned
	for range 6 {
		others = append(others, second.connect(t, "alice", ""))
	}
	muted := true
	for _, c := range others {
		go c.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: &muted})
	}
	go alice2.send(signaling.Message{Type: signaling.TypeResume, CallID: id})
	go bob2.send(signaling.Message{Type: signaling.TypeResume, CallID: id})
	for _, c := range others {
		c.expectError(signaling.NoConnectedCall, "", id)
	}
	alice2.expect(status(ev(id, signaling.Answered, signaling.Outbound, "alice", "bob")))
	alice2.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "bob", Muted: new(false)})
	alice2.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "bob", Held: new(false)})
	bob2.expect(status(ev(id, signaling.Answered, signaling.Inbound, "alice", "bob")))
	bob2.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "alice", Muted: new(false)})
	bob2.expect(signaling.Message{Type: signaling.TypeHold, CallID: id, User: "alice", Held: new(false)})
	alice2.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: &muted})
	bob2.expect(signaling.Message{Type: signaling.TypeMute, CallID: id, User: "alice", Muted: &muted})
	owners, stepped := len(r.logs.records("call adopted")),
		len(r.logs.records("call adopted by another node at the same time: stepping down"))
	t.Logf("8 actions at once: %d owner, %d stepped down", owners, stepped)
	if owners != 1 {
		t.Errorf("%d owners adopted the call, want 1", owners)
	}

	third := r.restart(t, append(others, alice2, bob2)...)
	bob3 := third.reconnect(t, bob2)
	resume(bob3, id, signaling.Inbound, "alice", true, false)
}

// TestOrphanFails: the server restarts during an answered call and neither
// participant comes back. The new process adopts the call by itself a
// grace period after it starts, and fails it once another is over, instead
// of leaving it answered in its record.
func TestOrphanFails(t *testing.T) {
	const grace = 300 * time.Millisecond
	r := answeredRestartable(t, func(c *Config) { c.ReconnectGrace = grace })
	id := r.id
	second := r.restart(t, r.alice, r.bob)
	start := time.Now()

	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	w, err := second.store.Calls.Watch(ctx, callKey(DefaultTeam, id))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var rec callRecord
	for !rec.Status.Terminal() {
		select {
		case <-ctx.Done():
			t.Fatalf("the call is still %s %v after the restart, want it failed", rec.Status,
				time.Since(start).Round(time.Millisecond))
		case e := <-w.Updates():
			if e != nil {
				if err := json.Unmarshal(e.Value(), &rec); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	took := time.Since(start)
	t.Logf("failed %v after the restart (grace %v): %s", took.Round(time.Millisecond), grace, rec.Reason)
	if took < 2*grace {
		t.Errorf("failed %v after the restart, before two grace periods", took)
	}
	if rec.Status != signaling.Failed || rec.Code != signaling.NoConnectedDestination ||
		rec.Reason != "alice disconnected" || rec.Ended == nil {
		t.Errorf("record: %+v, want failed (%d) with \"alice disconnected\"", rec, signaling.NoConnectedDestination)
	}
}

// TestDrainAnswersEveryQueuedAction: an owner that stops (its call ended,
// or it stepped down) answers every action it had queued, rather than
// leaving some to time out. (A full run lost 4 of a stepped-down owner's.)
func TestDrainAnswersEveryQueuedAction(t *testing.T) {
	s := startServer(t)
	c := s.newCall(callSetup{id: "drained"}, callRecord{})
	if err := c.subscribe(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	replies := make(chan error, n)
	for range n {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), patience)
			defer cancel()
			_, err := s.bus.nc.RequestWithContext(ctx, callSubject("drained"), []byte("{}"))
			replies <- err
		}()
	}
	// Take the actions as the owner's loop would, and queue them again:
	// every callback of the subscription has run. Then the subscription
	// ends before the drain, as it may between the drain's last look at
	// the queue and its learning that the subscription closed.
	var queued []*nats.Msg
	for range n {
		queued = append(queued, <-c.reqs)
	}
	for _, m := range queued {
		c.reqs <- m
	}
	if err := c.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	c.drain(func(m *nats.Msg) { reply(m, actionReply{Again: true}) })
	for range n {
		if err := <-replies; err != nil {
			t.Errorf("an action queued before the drain: %v", err)
		}
	}
}
