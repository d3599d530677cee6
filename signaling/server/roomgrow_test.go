package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// TestRoomGrownFromCall: a room grows from an answered call only for one
// of its two people (80403 for anyone else, for a call that rings or has
// ended, or that does not exist; 80101 with a start); its invitations carry
// the call, the room shows it; a hangup with reason "moved to room"
// completes the call with it, another reason is not kept.
func TestRoomGrownFromCall(t *testing.T) {
	s := startServer(t)
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	carol := s.connect(t, "carol", "")
	grow := func(user, name, call string, start *time.Time) (int, []byte) {
		return s.roomHTTP(t, http.MethodPost, signaling.PathRooms, s.token(t, user),
			signaling.RoomRequest{Name: name, Invite: []string{"bob", "carol"}, Call: call, Start: start})
	}
	ringing := placeCall(t, alice, bob, "d1")
	st, b := grow("alice", "early", ringing, nil)
	apiError(t, st, b, signaling.NoConnectedCall, "no answered call "+ringing)
	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: ringing, SDP: "answer"})
	answered := status(ev(ringing, signaling.Answered, signaling.Outbound, "alice", "bob"))
	answered.SDP = "answer"
	alice.expect(answered)
	bob.expect(answeredIn(ringing, "alice", "bob", bob.session))

	for _, c := range []struct{ user, call string }{{"carol", ringing}, {"alice", "nosuchcall"}} {
		st, b := grow(c.user, "theirs", c.call, nil)
		apiError(t, st, b, signaling.NoConnectedCall, "no answered call "+c.call)
	}
	later := time.Now().Add(time.Hour)
	st, b = grow("bob", "later", ringing, &later)
	apiError(t, st, b, signaling.InvalidParameter, "starts now")

	r := s.createRoom(t, "bob", signaling.RoomRequest{Name: "call-grown1", Invite: []string{"alice", "carol"},
		Call: ringing})
	if r.Call != ringing {
		t.Errorf("the room made shows call %q, want %s", r.Call, ringing)
	}
	for _, c := range []*client{alice, carol} {
		m := c.nextNotPresence()
		if e := m.RoomEvent; m.Type != signaling.TypeRoomEvent || e.Kind != signaling.RoomInvited ||
			e.Status != signaling.Ringing || e.Call != ringing || e.By != "bob" {
			t.Fatalf("%s: got %s, want invited, ringing, with the call", c.name, js(m))
		}
	}

	bob.send(signaling.Message{Type: signaling.TypeHangup, CallID: ringing, Reason: signaling.ReasonMovedToRoom})
	for _, c := range []*client{alice, bob} {
		dir := signaling.Outbound
		if c == bob {
			dir = signaling.Inbound
		}
		c.expect(status(ended(ringing, signaling.Completed, dir, "alice", "bob", signaling.ReasonMovedToRoom, 0)))
	}
	st, b = grow("alice", "after", ringing, nil)
	apiError(t, st, b, signaling.NoConnectedCall, "no answered call")

	other := answeredCall(t, alice, bob) // resume_test.go
	alice.send(signaling.Message{Type: signaling.TypeHangup, CallID: other, Reason: "because"})
	for _, c := range []*client{alice, bob} {
		dir := signaling.Outbound
		if c == bob {
			dir = signaling.Inbound
		}
		c.expect(status(ended(other, signaling.Completed, dir, "alice", "bob", "", 0)))
	}
}

// TestMovedRelayed: moved goes to the other side of an answered call, from
// either; before the answer it is refused (80403).
func TestMovedRelayed(t *testing.T) {
	s := startServer(t)
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	id := placeCall(t, alice, bob, "d1")
	alice.send(signaling.Message{Type: signaling.TypeMoved, Ref: "early", CallID: id})
	alice.expectError(signaling.NoConnectedCall, "early", id)
	bob.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	answered := status(ev(id, signaling.Answered, signaling.Outbound, "alice", "bob"))
	answered.SDP = "answer"
	alice.expect(answered)
	bob.expect(answeredIn(id, "alice", "bob", bob.session))
	alice.send(signaling.Message{Type: signaling.TypeMoved, CallID: id})
	bob.expect(signaling.Message{Type: signaling.TypeMoved, CallID: id})
	bob.send(signaling.Message{Type: signaling.TypeMoved, CallID: id})
	alice.expect(signaling.Message{Type: signaling.TypeMoved, CallID: id})
}
