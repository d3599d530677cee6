package server

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// TestRoomOwnerNodeGone: three nodes on one NATS (a embeds it). Alice, the
// host, joins through b, which opens the room; Bob joins through c and his
// media goes to b: each hears the other's tone. Then b dies, as far as the
// others can tell: its NATS connection closes (as when its process is
// killed: its subscriptions vanish) and its room's owner stops, telling
// nobody. Alice reconnects her
// session to c and joins again with a fresh offer: nobody answers for the
// room, its record names b, whose claim is old, so c claims it by compare
// and set and opens it; she is its host again, by the record. Before b
// died, she muted Bob with his microphone locked and locked the room: Bob
// joins again through c all the same (he was in it), muted and locked as
// he was, so that she does not hear him and his unmute is refused, until
// she unmutes him and they hear each other through c.
func TestRoomOwnerNodeGone(t *testing.T) {
	a := startServer(t, func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" })
	b, c := killableNode(t, a, "b"), startNode(t, a, "c")
	a.createRoom(t, "alice", signaling.RoomRequest{Name: "moving"})
	tones := []float64{440, 660}
	alice, bob := b.connect(t, "alice", ""), c.connect(t, "bob", "")
	pa := joinRoom(t, alice, "moving", tones[0], false)
	pb := joinRoom(t, bob, "moving", tones[1], false)
	owner := func(want string) {
		t.Helper()
		rec, _, found, err := a.readRoom(t.Context(), DefaultTeam, "moving")
		if err != nil || !found || rec.Node != want || rec.Status != roomOpen || rec.Host != "alice" {
			t.Fatalf("record %+v %v %v, want open, hosted by alice, owned by %s", rec, found, err, want)
		}
	}
	owner("b")
	answeredOn := func(s *testServer, user string) bool {
		for _, r := range s.logs.records("participant joined") {
			if r["user"] == user {
				return true
			}
		}
		return false
	}
	if !answeredOn(b.testServer, "bob") || answeredOn(c, "bob") {
		t.Fatal("bob's offer, sent through c, was not answered by b's peer connection alone")
	}
	pa.hears(tones, tones[1:], nil)
	pb.hears(tones, tones[:1], nil)
	yes, no := true, false
	alice.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "moving", Target: "bob", Muted: &yes,
		Locked: &yes})
	if e := pb.event(kind(signaling.RoomMuted)).RoomEvent; e.User != "bob" || e.Locked == nil || !*e.Locked {
		t.Fatalf("bob: muted %s, want bob's microphone locked", js(e))
	}
	alice.send(signaling.Message{Type: signaling.TypeRoomLock, Room: "moving", Locked: &yes})
	pb.event(kind(signaling.RoomLocked))

	// b is gone from NATS; the participants' clients, which notice (the
	// connection to b drops, the media to b fails), join again through c.
	b.kill()
	_ = alice.ws.CloseNow()
	alice2 := c.reconnect(t, alice)
	pa2, e := joinedAs(t, alice2, "moving", tones[0])
	if e.Role != signaling.RoleHost || len(e.Participants) != 1 {
		t.Fatalf("alice joined again: %s, want host, alone", js(e))
	}
	owner("c")
	pb2, e := joinedAs(t, bob, "moving", tones[1])
	i := slices.IndexFunc(e.Participants, func(p signaling.Participant) bool { return p.User == "bob" })
	if e.Role != signaling.RoleMember || len(e.Participants) != 2 || i < 0 || !e.Participants[i].Muted ||
		!e.Participants[i].MicLocked {
		t.Fatalf("bob joined again: %s, want member, with alice, muted and locked", js(e))
	}
	if e := pa2.event(kind(signaling.ParticipantJoined)).RoomEvent; e.User != "bob" {
		t.Fatalf("alice: joined %s, want bob", js(e))
	}
	pb2.hears(tones, tones[:1], nil)
	if _, all, _ := pa2.levels(tones); all[tones[1]] >= quietBelow {
		t.Fatalf("alice heard bob, muted and locked, at %.3f", all[tones[1]])
	}
	bob.send(signaling.Message{Type: signaling.TypeRoomMute, Ref: "unmute", Room: "moving", Muted: &no})
	m := bob.next()
	for m.Type == signaling.TypeRoomEvent { // who bob hears
		m = bob.next()
	}
	if m.Type != signaling.TypeError || m.Ref != "unmute" || m.Error.Code != signaling.PermissionDenied ||
		!strings.Contains(m.Error.Message, "locked your microphone") {
		t.Fatalf("bob's unmute: %s, want refused: his microphone is locked", js(m))
	}
	alice2.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "moving", Target: "bob", Muted: &no})
	pb2.event(kind(signaling.RoomMuted))
	pa2.hears(tones, tones[1:], nil)
	if n := len(c.logs.records("room opened here")); n != 1 {
		t.Errorf("the room was opened %d times on c, want once", n)
	}
	if n := len(a.logs.records("room opened here")); n != 0 {
		t.Errorf("the room was opened %d times on a, want never", n)
	}
}

// joinedAs is joinRoom (a member sending tone) that returns the joined
// event too.
func joinedAs(t *testing.T, c *client, room string, tone float64) (*peer, *signaling.RoomEvent) {
	t.Helper()
	p, offer := newPeer(t, c, tone)
	c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "rejoin-" + c.user, Room: room, SDP: offer})
	m := p.event(kind(signaling.RoomJoined))
	if m.Ref != "rejoin-"+c.user || m.RoomEvent.User != c.user {
		t.Fatalf("%s: joined: %s", c.user, js(m))
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer,
		SDP: m.SDP}); err != nil {
		t.Fatalf("%s: answer: %v", c.user, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.send(ctx, levelExtID(m.SDP, 0))
	return p, m.RoomEvent
}

// killable is a node that a test can kill.
type killable struct {
	*testServer
}

// killableNode starts a node on a's NATS, as startNode does, whose end
// may be a kill.
func killableNode(t *testing.T, a *testServer, name string) killable {
	t.Helper()
	cfg, logs := nodeConfig(t, a, name)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		// What is left of a killed node is freed as far as it goes (its
		// goroutines all end; the test package checks), but not cleanly:
		// its owners wait on a feed that has no NATS any more.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Logf("%s (killed) shut down: %v", name, err)
		}
		if t.Failed() || os.Getenv("PARLEY_TEST_LOG") != "" {
			t.Logf("%s's log:\n%s", name, logs)
		}
	})
	return killable{&testServer{Server: s, logs: logs}}
}

// kill makes the node dead to the others, as its process being killed
// does: its NATS connection closes (its subscriptions vanish), and its
// room owners stop, telling nobody.
func (k killable) kill() {
	k.bus.nc.Close()
	k.stopCalls()
}
