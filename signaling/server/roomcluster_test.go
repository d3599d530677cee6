package server

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
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

// TestRoomOwnerNodeFrozen: b owns the room (Carol joined through it
// first; Alice and Bob, on c, have their media there too), then hears and
// says nothing on NATS: its connection is held by a gate, so NATS still
// sees it and its subscription to the room stays, as with a frozen
// process, and nobody is told that it does not respond. Alice joins again
// through c: c asks b, reads the record every quarter second meanwhile,
// sees it unchanged for roomLease, takes the room over by compare and set
// and opens it; Bob joins again, and they hear each other through c. b,
// let go on, finds its lease lost at its next write and gives the room up:
// Carol's peer connection closes (her client would join again), and the
// room stays on c.
func TestRoomOwnerNodeFrozen(t *testing.T) {
	a := startServer(t, func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" })
	gate := gateNATS(t, a.NATSClientURL())
	cfg, logs := nodeConfig(t, a, "b")
	cfg.NATSURL = gate.url
	b := startWith(t, cfg, logs)
	t.Cleanup(gate.release) // before b shuts down
	c := startNode(t, a, "c")
	a.createRoom(t, "alice", signaling.RoomRequest{Name: "stuck"})
	tones := []float64{440, 660, 880}
	carol, alice, bob := b.connect(t, "carol", ""), c.connect(t, "alice", ""), c.connect(t, "bob", "")
	pc := joinRoom(t, carol, "stuck", tones[2], false)
	no := false
	for i, u := range []*client{alice, bob} {
		p := joinRoom(t, u, "stuck", tones[i], false)
		// b answers the join once it wrote the room's record, after the
		// joined event: a mute, sent after it, is taken once it was.
		u.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "stuck", Muted: &no})
		p.event(func(m signaling.Message) bool {
			return m.RoomEvent.Kind == signaling.RoomMuted && m.RoomEvent.User == u.user
		})
	}
	owner := func(want string) {
		t.Helper()
		rec, _, found, err := a.readRoom(t.Context(), DefaultTeam, "stuck")
		if err != nil || !found || rec.Node != want || rec.Status != roomOpen {
			t.Fatalf("record %+v %v %v, want open, owned by %s", rec, found, err, want)
		}
	}
	owner("b")

	frozen := time.Now()
	gate.hold()
	pa, e := joinedAs(t, alice, "stuck", tones[0])
	took := time.Since(frozen)
	t.Logf("alice joined again through c %v after b froze", took.Round(time.Millisecond))
	if e.Role != signaling.RoleHost || len(e.Participants) != 1 {
		t.Fatalf("alice joined again: %s, want host, alone", js(e))
	}
	if took < roomLease || took > roomLease+2*time.Second {
		t.Errorf("the room was taken over %v after its owner froze, want %v to %v", took, roomLease,
			roomLease+2*time.Second)
	}
	owner("c")
	pb, _ := joinedAs(t, bob, "stuck", tones[1])
	pa.hears(tones, tones[1:2], nil)
	pb.hears(tones, tones[:1], nil)

	gate.release()
	pc.waitState(webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed)
	if n := len(b.logs.records("room lost to another node: giving it up")); n != 1 {
		t.Errorf("b gave the room up %d times, want once", n)
	}
	owner("c")
	if n := len(c.logs.records("room taken over: its owner's lease lapsed")); n != 1 {
		t.Errorf("c took the room over %d times, want once", n)
	}
	for _, s := range []*testServer{b, c} {
		if n := len(s.logs.records("room opened here")); n != 1 {
			t.Errorf("the room was opened %d times on %s, want once", n, s.cfg.NodeName)
		}
	}
	pa.hears(tones, tones[1:2], nil)
}

// natsGate is a TCP proxy to a NATS server that a test can hold: the node
// that connects through it stays connected, as NATS sees it, but hears and
// says nothing until it is released, as a frozen process.
type natsGate struct {
	url  string
	gate sync.RWMutex // held: the pipes wait to write
	held bool         // the test's only
}

// gateNATS starts a gate to the NATS server at url.
func gateNATS(t *testing.T, url string) *natsGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &natsGate{url: "nats://" + ln.Addr().String()}
	upstream := strings.TrimPrefix(url, "nats://")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			wg.Go(func() { g.pipe(up, down) })
			wg.Go(func() { g.pipe(down, up) })
		}
	})
	return g
}

// pipe copies from src to dst while the gate is not held.
func (g *natsGate) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.gate.RLock()
			_, werr := dst.Write(buf[:n])
			g.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (g *natsGate) hold() {
	g.gate.Lock()
	g.held = true
}

func (g *natsGate) release() {
	if g.held {
		g.held = false
		g.gate.Unlock()
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
