package server

import (
	"context"
	"testing"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// waitingIn is the status event of a waiting call as the callee sees it.
func waitingIn(id string, st signaling.Status, from, to string) *signaling.CallEvent {
	e := ev(id, st, in, from, to)
	e.Waiting = true
	return e
}

// placeWaiting dials from caller to callee, who is in another call: it
// rings as a waiting call on every session of the callee.
func placeWaiting(t *testing.T, caller, callee *client, ref string, others ...*client) string {
	t.Helper()
	caller.send(signaling.Message{Type: signaling.TypeDial, Ref: ref, To: callee.user, SDP: "offer-" + ref})
	got := caller.nextNotPresence()
	if got.Type != signaling.TypeCall || got.Event == nil {
		t.Fatalf("%s: dial: got %s", caller.name, js(got))
	}
	id := got.Event.ID
	// The caller is told nothing of it: their call rings as any other.
	caller.expectMsg(got, signaling.Message{Type: signaling.TypeCall, Ref: ref,
		Event: ev(id, signaling.Started, out, caller.user, callee.user)})
	for _, c := range append([]*client{callee}, others...) {
		c.expectMsg(c.nextNotPresence(), signaling.Message{Type: signaling.TypeCall, SDP: "offer-" + ref,
			Event: waitingIn(id, signaling.Started, caller.user, callee.user)})
	}
	return id
}

// busyMarks is what the busy bucket holds for user: the call of their
// first mark and of their waiting mark ("" for none).
func (s *testServer) busyMarks(t *testing.T, user string) [2]string {
	t.Helper()
	var out [2]string
	key := store.UserKey("", user)
	for i, k := range []string{key, store.WaitingKey(key)} {
		if e, err := s.store.Busy.Get(context.Background(), k); err == nil {
			out[i] = string(e.Value())
		}
	}
	return out
}

// waitingOff turns call waiting off for users: a call while they are in
// another is refused as busy.
func (s *testServer) waitingOff(t testing.TB, users ...string) {
	t.Helper()
	for _, u := range users {
		if _, err := s.userAPI(s.token(t, u)).SetCallWaiting(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCallWaiting: carol's call to alice, in a call with bob, rings as a
// waiting call; dave's, a third, is refused as busy; each mark is freed
// as its call ends, and a call placed while alice is in the waiting one
// alone rings as waiting too.
func TestCallWaiting(t *testing.T) {
	s := startServer(t)
	bob := s.connect(t, "bob", "")
	alice := s.connect(t, "alice", "")
	carol := s.connect(t, "carol", "")
	dave := s.connect(t, "dave", "")
	first := placeCall(t, bob, alice, "first")
	alice.send(signaling.Message{Type: signaling.TypeAnswer, CallID: first, SDP: "a"})
	bob.next()
	alice.next()

	second := placeWaiting(t, carol, alice, "second")
	if got := s.busyMarks(t, "alice"); got != [2]string{first, second} {
		t.Errorf("alice's busy marks %q, want the first call's and the waiting one's", got)
	}
	// A third is refused, and so is bob's dial: he is in a call.
	dave.send(signaling.Message{Type: signaling.TypeDial, Ref: "third", To: "alice", SDP: "o"})
	dave.expectError(signaling.AlreadyBusyCall, "third", "")
	bob.send(signaling.Message{Type: signaling.TypeDial, Ref: "bob2", To: "dave", SDP: "o"})
	bob.expectError(signaling.AlreadyBusyCall, "bob2", "")

	// Alice answers the waiting call (her client holds the first), then
	// hangs up the first: its marks go, the waiting call's stay.
	alice.send(msg(signaling.TypeRinging, second))
	carol.expect(status(ev(second, signaling.Ringing, out, "carol", "alice")))
	alice.expect(status(waitingIn(second, signaling.Ringing, "carol", "alice")))
	alice.send(signaling.Message{Type: signaling.TypeAnswer, CallID: second, SDP: "a2"})
	answered := status(ev(second, signaling.Answered, out, "carol", "alice"))
	answered.SDP = "a2"
	carol.expect(answered)
	m := status(waitingIn(second, signaling.Answered, "carol", "alice"))
	m.Session = alice.session
	alice.expect(m)
	alice.send(msg(signaling.TypeHangup, first))
	bob.expect(status(ev(first, signaling.Completed, out, "bob", "alice")))
	alice.expect(status(ev(first, signaling.Completed, in, "bob", "alice")))
	if got := s.busyMarks(t, "alice"); got != [2]string{"", second} {
		t.Errorf("alice's busy marks %q after the first call, want the waiting one's only", got)
	}
	if got := s.busyMarks(t, "bob"); got != [2]string{} {
		t.Errorf("bob's busy marks %q after his call, want none", got)
	}

	// In the waiting call alone, a new call rings as waiting too (on her
	// first mark), and a third is still refused.
	third := placeWaiting(t, dave, alice, "again")
	if got := s.busyMarks(t, "alice"); got != [2]string{third, second} {
		t.Errorf("alice's busy marks %q, want the new call's and the waiting one's", got)
	}
	bob.send(signaling.Message{Type: signaling.TypeDial, Ref: "fourth", To: "alice", SDP: "o"})
	bob.expectError(signaling.AlreadyBusyCall, "fourth", "")

	// Rejecting a waiting call frees its mark and leaves the other call.
	alice.send(msg(signaling.TypeReject, third))
	dave.expect(status(ended(third, signaling.Rejected, out, "dave", "alice", ReasonDeclined, 0)))
	e := waitingIn(third, signaling.Rejected, "dave", "alice")
	e.Reason = ReasonDeclined
	alice.expect(status(e))
	carol.ping("still")
	if got := s.busyMarks(t, "alice"); got != [2]string{"", second} {
		t.Errorf("alice's busy marks %q after the rejection, want the waiting call's only", got)
	}
	carol.send(msg(signaling.TypeHangup, second))
	carol.expect(status(ev(second, signaling.Completed, out, "carol", "alice")))
	alice.expect(status(waitingIn(second, signaling.Completed, "carol", "alice")))
	if got := s.busyMarks(t, "alice"); got != [2]string{} {
		t.Errorf("alice's busy marks %q after both calls, want none", got)
	}
	// Free: a call rings as any other.
	placeCall(t, bob, alice, "free")
}

// TestCallWaitingOffOrDND: with call waiting off, or in do not disturb, a
// second call is refused as busy, as a first one is in do not disturb;
// turned on again, it rings as waiting.
func TestCallWaitingOffOrDND(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	aliceAPI := s.userAPI(s.token(t, "alice"))
	bob := s.connect(t, "bob", "")
	alice := s.connect(t, "alice", "")
	carol := s.connect(t, "carol", "")
	first := placeCall(t, bob, alice, "first")
	alice.send(signaling.Message{Type: signaling.TypeAnswer, CallID: first, SDP: "a"})
	bob.next()
	alice.next()

	if _, err := aliceAPI.SetCallWaiting(ctx, false); err != nil {
		t.Fatal(err)
	}
	callable := func() error {
		_, err := s.userAPI(s.token(t, "carol")).Callable(ctx, "alice")
		return err
	}
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "off", To: "alice", SDP: "o"})
	if e := carol.expectError(signaling.AlreadyBusyCall, "off", ""); e.Message !=
		"alice is in another call: wait for the other call to end" {
		t.Errorf("refusal %q", e.Message)
	}
	if err := callable(); signaling.AsError(err).Code != signaling.AlreadyBusyCall {
		t.Errorf("callable with call waiting off: %v, want 80202", err)
	}
	if got := s.busyMarks(t, "alice"); got != [2]string{first, ""} {
		t.Errorf("alice's busy marks %q after a refusal, want the first call's only", got)
	}

	// Do not disturb, waiting on: refused as do not disturb.
	if _, err := aliceAPI.SetCallWaiting(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := callable(); err != nil {
		t.Errorf("callable with call waiting on: %v", err)
	}
	if _, err := aliceAPI.SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "dnd", To: "alice", SDP: "o"})
	carol.expectError(signaling.AlreadyBusyCall, "dnd", "")
	// Turning call waiting on and off keeps do not disturb, and back online
	// keeps call waiting off.
	if _, err := aliceAPI.SetCallWaiting(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := aliceAPI.SetPresence(ctx, signaling.StateOnline); err != nil {
		t.Fatal(err)
	}
	if st, err := s.manualState(ctx, "alice"); err != nil || !st.NoWaiting || st.State != signaling.StateOnline {
		t.Errorf("alice's status %+v (%v), want online with call waiting off", st, err)
	}
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "off2", To: "alice", SDP: "o"})
	carol.expectError(signaling.AlreadyBusyCall, "off2", "")

	if _, err := aliceAPI.SetCallWaiting(ctx, true); err != nil {
		t.Fatal(err)
	}
	placeWaiting(t, carol, alice, "on")
}
