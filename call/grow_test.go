package call_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// await reads p's events until each of want has matched one (in any
// order, others passed over), and returns what matched, in want's order.
func (p *party) await(want ...func(call.Event) bool) []call.Event {
	p.t.Helper()
	got := make([]call.Event, len(want))
	for left := len(want); left > 0; {
		ev := p.next()
		switch f := ev.(type) {
		case call.Failure:
			p.t.Fatalf("%s: failure %v", p.name, f.Err)
		case call.RoomFailure:
			p.t.Fatalf("%s: room failure %v", p.name, f.Err)
		}
		for i, w := range want {
			if got[i] == nil && w(ev) {
				got[i] = ev
				left--
				break
			}
		}
	}
	return got
}

func isGrew(ev call.Event) bool { _, ok := ev.(call.Grew); return ok }

func isRoom(kind signaling.RoomEventKind) func(call.Event) bool {
	return func(ev call.Event) bool { rc, ok := ev.(call.RoomChanged); return ok && rc.Kind == kind }
}

func isEnd(ev call.Event) bool { sc, ok := ev.(call.StatusChanged); return ok && sc.Status.Terminal() }

// TestGrowCall: in an answered call alice adds carol: alice's phone makes
// a room (its host) with bob and carol invited and the call on the
// invitations; alice and bob join it at once, bob unrung, while the call
// plays; once each one's room plays the other's tone, the call completes
// with reason "moved to room" on both sides; carol's invitation rings as
// any other, names the call, and joining makes three. Growing a call one
// is not in is refused by the server (80403), and so is a grow with no
// answered call (by the phone).
func TestGrowCall(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(660), null})
	carol := r.phone("carol", devices{tone(880), null})

	carol.ph.Grow("dave")
	if f, ok := carol.next().(call.RoomFailure); !ok || f.Err.Code != signaling.NoConnectedCall {
		t.Fatalf("a grow with no call: got %#v, want a room failure 80403", f)
	}
	id := connect(alice, bob)

	// The server checks that the creator is in the answered call.
	tok, err := r.srv.IssueToken(context.Background(), "carol", server.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := &signaling.API{Server: r.url, Token: func(context.Context) (string, error) { return tok, nil }}
	_, err = api.CreateRoom(context.Background(), signaling.RoomRequest{Name: "theirs", Invite: []string{"dave"},
		Call: id})
	if e := signaling.AsError(err); err == nil || e.Code != signaling.NoConnectedCall {
		t.Fatalf("carol grows alice and bob's call: %v, want 80403", err)
	}

	start := time.Now()
	alice.ph.Grow("carol")
	a := alice.await(isGrew, isRoom(signaling.RoomJoined), isEnd)
	b := bob.await(isGrew, isRoom(signaling.RoomJoined), isEnd)
	t.Logf("the call moved in %v", time.Since(start).Round(time.Millisecond))
	ga, gb := a[0].(call.Grew), b[0].(call.Grew)
	if ga.CallID != id || !ga.Host || ga.Peer != "bob" || !strings.HasPrefix(ga.Room, "call-") {
		t.Errorf("alice: %+v", ga)
	}
	if gb.CallID != id || gb.Host || gb.Peer != "alice" || gb.Room != ga.Room {
		t.Errorf("bob: %+v", gb)
	}
	if j := a[1].(call.RoomChanged); j.Role != signaling.RoleHost {
		t.Errorf("alice joined as %s, want host", j.Role)
	}
	for who, ev := range map[string]call.Event{"alice": a[2], "bob": b[2]} {
		if sc := ev.(call.StatusChanged); sc.ID != id || sc.Status != signaling.Completed ||
			sc.Reason != signaling.ReasonMovedToRoom {
			t.Errorf("%s: the call ended %s (%q), want completed (%q)", who, sc.Status, sc.Reason,
				signaling.ReasonMovedToRoom)
		}
	}

	inv := carol.await(isRoom(signaling.RoomInvited))[0].(call.RoomChanged)
	if inv.Room != ga.Room || inv.Status != signaling.Ringing || inv.By != "alice" || inv.Call != id {
		t.Fatalf("carol's invitation: %+v", inv.RoomEvent)
	}
	carol.ph.JoinRoom(inv.Room, call.RoomOptions{})
	j := carol.await(isRoom(signaling.RoomJoined))[0].(call.RoomChanged)
	var who []string
	for _, pt := range j.Participants {
		who = append(who, pt.User)
	}
	if len(who) != 3 {
		t.Fatalf("carol joined a room of %v, want alice, bob and carol", who)
	}
	alice.ph.Grow("dave")
	for {
		if f, ok := alice.next().(call.RoomFailure); ok {
			if f.Err.Code != signaling.NoConnectedCall {
				t.Fatalf("a grow from a room: %v, want 80403", f.Err)
			}
			break
		}
	}
}
