package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// TestRoomAPI: rooms are made, listed, shown and ended over HTTP, and bad
// requests are refused with their code.
func TestRoomAPI(t *testing.T) {
	s := startServer(t)
	alice, bob := s.token(t, "alice"), s.token(t, "bob")
	r := s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup", Invite: []string{"bob"}})
	if !slices.Equal(r.Invited, []string{"bob"}) || r.Created.IsZero() || r.Ended != nil {
		t.Fatalf("created %s", js(r))
	}
	post := func(tok string, req signaling.RoomRequest) (int, []byte) {
		return s.roomHTTP(t, http.MethodPost, signaling.PathRooms, tok, req)
	}
	st, b := post(bob, signaling.RoomRequest{Name: "standup"})
	apiError(t, st, b, signaling.InvalidParameter, "exists already (host alice)", "parley join standup")
	st, b = post(bob, signaling.RoomRequest{Name: "Stand Up"})
	apiError(t, st, b, signaling.InvalidParameter, "lower-case")
	st, b = post(bob, signaling.RoomRequest{Name: "retro", Duration: "forever"})
	apiError(t, st, b, signaling.InvalidParameter, "30m")
	past := time.Now().Add(-time.Hour)
	st, b = post(bob, signaling.RoomRequest{Name: "retro", Start: &past})
	apiError(t, st, b, signaling.InvalidParameter, "coming year")
	st, b = post(bob, signaling.RoomRequest{Name: "retro", Invite: []string{"no body"}})
	apiError(t, st, b, signaling.InvalidParameter, "invite")
	start := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	r = s.createRoom(t, "bob", signaling.RoomRequest{Name: "retro", Start: &start, Duration: "30m"})
	if r.Start == nil || !r.Start.Equal(start) || r.End == nil || !r.End.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("session %s", js(r))
	}

	list := func() []string {
		st, b := s.roomHTTP(t, http.MethodGet, signaling.PathRooms, bob, nil)
		var rs signaling.Rooms
		if st != http.StatusOK || json.Unmarshal(b, &rs) != nil {
			t.Fatalf("list: %d %s", st, b)
		}
		var names []string
		for _, r := range rs.Rooms {
			names = append(names, r.Name)
		}
		return names
	}
	if got := list(); !slices.Equal(got, []string{"standup", "retro"}) {
		t.Fatalf("rooms %v, want standup and retro", got)
	}
	// Another team's rooms are not seen.
	team, err := s.adminAPI(s.APIKey()).AddTeam(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	other := s.teamToken(t, team.APIKey, "carol", nil)
	st, b = s.roomHTTP(t, http.MethodGet, signaling.PathRooms, other, nil)
	if st != http.StatusOK || !strings.Contains(string(b), `"rooms":[]`) {
		t.Fatalf("other team's list: %d %s", st, b)
	}
	st, b = s.roomHTTP(t, http.MethodGet, "/v1/rooms/standup", other, nil)
	apiError(t, st, b, signaling.NotFoundUserSessionID, "no room standup", "parley room create standup")

	st, b = s.roomHTTP(t, http.MethodGet, "/v1/rooms/standup", bob, nil)
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Host != "alice" || len(r.Participants) != 0 {
		t.Fatalf("show: %d %s", st, b)
	}
	st, b = s.roomHTTP(t, http.MethodGet, "/v1/rooms/nope", bob, nil)
	apiError(t, st, b, signaling.NotFoundUserSessionID, "no room nope")
	st, b = s.roomHTTP(t, http.MethodDelete, "/v1/rooms/standup", bob, nil)
	apiError(t, st, b, signaling.PermissionDenied, "only the host of room standup (alice)")
	st, b = s.roomHTTP(t, http.MethodDelete, "/v1/rooms/standup", alice, nil)
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Ended == nil {
		t.Fatalf("end: %d %s", st, b)
	}
	if got := list(); !slices.Equal(got, []string{"retro"}) {
		t.Fatalf("rooms %v after the end of standup, want retro", got)
	}
	st, b = s.roomHTTP(t, http.MethodDelete, "/v1/rooms/standup", alice, nil)
	apiError(t, st, b, signaling.NotFoundUserSessionID, "has ended")
	s.createRoom(t, "bob", signaling.RoomRequest{Name: "standup"}) // the name is free again
}

// TestRoomRefusals: what a participant may not do is refused with its
// code and a message that says what to do, and the room goes on.
func TestRoomRefusals(t *testing.T) {
	s := startServer(t, func(c *Config) { c.roomLimit = 2 })
	ac, bc, cc := s.connect(t, "alice", ""), s.connect(t, "bob", ""), s.connect(t, "carol", "")
	join := func(c *client, room string) string {
		_, offer := newPeer(t, c, 0)
		c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "j", Room: room, SDP: offer})
		return offer
	}
	refused := func(c *client, code signaling.Code, ref string, want ...string) {
		t.Helper()
		e := c.expectError(code, ref, "")
		for _, w := range want {
			if !strings.Contains(e.Message, w) {
				t.Fatalf("%s: error %q does not say %q", c.name, e.Message, w)
			}
		}
	}
	act := func(c *client, m signaling.Message) string {
		m.Ref = string(m.Type)
		c.send(m)
		return m.Ref
	}
	yes, no := true, false
	var ref string

	join(ac, "standup")
	refused(ac, signaling.NotFoundUserSessionID, "j", "no room standup", "parley room create standup")

	s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup"})
	pa := joinRoom(t, ac, "standup", 0, false)
	pb := joinRoom(t, bc, "standup", 0, false)
	pa.event(kind(signaling.ParticipantJoined))

	// A member acting as host.
	for _, m := range []signaling.Message{
		{Type: signaling.TypeRoomMute, Room: "standup", Target: "alice", Muted: &yes},
		{Type: signaling.TypeRoomRemove, Room: "standup", Target: "alice"},
		{Type: signaling.TypeRoomLock, Room: "standup", Locked: &yes},
		{Type: signaling.TypeRoomEnd, Room: "standup"},
	} {
		ref = act(bc, m)
		refused(bc, signaling.PermissionDenied, ref, "only the host of room standup (alice)")
	}
	// Full: two people at most here.
	join(cc, "standup")
	refused(cc, signaling.AlreadyBusyCall, "j", "full (2 people")
	// Locked.
	act(ac, signaling.Message{Type: signaling.TypeRoomLock, Room: "standup", Locked: &yes})
	for _, p := range []*peer{pa, pb} {
		e := p.event(kind(signaling.RoomLocked)).RoomEvent
		if e.By != "alice" || e.Locked == nil || !*e.Locked {
			t.Fatalf("locked: %s", js(e))
		}
	}
	act(bc, signaling.Message{Type: signaling.TypeRoomLeave, Room: "standup"})
	pa.event(func(m signaling.Message) bool {
		return m.RoomEvent.Kind == signaling.ParticipantLeft && m.RoomEvent.User == "bob" &&
			m.RoomEvent.Reason == signaling.LeftLeft
	})
	join(bc, "standup")
	refused(bc, signaling.PermissionDenied, "j", "locked: ask its host (alice) to unlock it")
	ref = act(bc, signaling.Message{Type: signaling.TypeRoomLeave, Room: "standup"})
	refused(bc, signaling.NotFoundUserSessionID, ref, "you are not in room standup")
	act(ac, signaling.Message{Type: signaling.TypeRoomLock, Room: "standup", Locked: &no})
	pa.event(kind(signaling.RoomLocked))
	pb = joinRoom(t, bc, "standup", 0, false)

	// A microphone the host locked cannot be unmuted by its owner.
	act(ac, signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Target: "bob", Muted: &yes, Locked: &yes})
	for _, p := range []*peer{pa, pb} {
		e := p.event(kind(signaling.RoomMuted)).RoomEvent
		if e.User != "bob" || e.By != "alice" || e.Muted == nil || !*e.Muted || e.Locked == nil || !*e.Locked {
			t.Fatalf("%s: muted %s", p.c.name, js(e))
		}
	}
	ref = act(bc, signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Muted: &no})
	refused(bc, signaling.PermissionDenied, ref, "locked your microphone", "ask them")
	ref = act(ac, signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Target: "dave", Muted: &yes})
	refused(ac, signaling.NotFoundUserSessionID, ref, "dave is not in room standup")
	ref = act(ac, signaling.Message{Type: signaling.TypeRoomRemove, Room: "standup", Target: "alice"})
	refused(ac, signaling.InvalidParameter, ref, "leave")

	// A session that has not opened yet.
	start := time.Now().Add(2 * time.Hour)
	s.createRoom(t, "carol", signaling.RoomRequest{Name: "later", Start: &start, Duration: "1h"})
	join(cc, "later")
	refused(cc, signaling.PermissionDenied, "j", "opens at", "join then")

	// The host ends the room for everyone.
	act(ac, signaling.Message{Type: signaling.TypeRoomEnd, Room: "standup"})
	for _, p := range []*peer{pa, pb} {
		if e := p.event(kind(signaling.RoomEnded)).RoomEvent; e.Reason != signaling.EndedByHost {
			t.Fatalf("%s: ended %s", p.c.name, js(e))
		}
	}
	join(cc, "standup")
	refused(cc, signaling.NotFoundUserSessionID, "j", "has ended")
	// A guest without a room's link joins no room (roomguests_test.go has the lobby).
	gc := s.connectWith(t, "gus", s.teamToken(t, s.APIKey(), "gus", url.Values{"role": {"guest"}}))
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "open"})
	join(gc, "open")
	refused(gc, signaling.PermissionDenied, "j", "guest link", "ask a member")
	for _, c := range []*client{ac, bc, cc, gc} {
		c.ping("still")
	}
}

// TestRoomShowAndRemove: the API shows who is in a room from its owner; a
// removed participant is told, the others hear why they left, and the room
// ends when the last one leaves.
func TestRoomShowAndRemove(t *testing.T) {
	s := startServer(t)
	ac, bc := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "pair"})
	pa := joinRoom(t, ac, "pair", 0, false)
	pb := joinRoom(t, bc, "pair", 0, true)
	pa.event(kind(signaling.ParticipantJoined))

	st, b := s.roomHTTP(t, http.MethodGet, "/v1/rooms/pair", s.token(t, "bob"), nil)
	var r signaling.Room
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Participants) != 2 ||
		r.Participants[0].User != "alice" || r.Participants[0].Role != signaling.RoleHost ||
		r.Participants[1].User != "bob" || r.Participants[1].Role != signaling.RoleListener {
		t.Fatalf("show: %d %s", st, b)
	}
	// The list has who is in each room too (from its owner).
	st, b = s.roomHTTP(t, http.MethodGet, "/v1/rooms", s.token(t, "carol"), nil)
	var rs signaling.Rooms
	if st != http.StatusOK || json.Unmarshal(b, &rs) != nil || len(rs.Rooms) != 1 ||
		len(rs.Rooms[0].Participants) != 2 || rs.Rooms[0].Participants[1].User != "bob" {
		t.Fatalf("list: %d %s", st, b)
	}
	ac.send(signaling.Message{Type: signaling.TypeRoomRemove, Room: "pair", Target: "bob"})
	if e := pb.event(kind(signaling.RoomRemoved)).RoomEvent; e.By != "alice" || e.User != "bob" {
		t.Fatalf("removed: %s", js(e))
	}
	if e := pa.event(kind(signaling.ParticipantLeft)).RoomEvent; e.User != "bob" || e.Reason != signaling.LeftRemoved {
		t.Fatalf("left: %s", js(e))
	}
	ended := s.roomEnds(t, "pair")
	ac.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "pair", Ref: "bye"})
	<-ended // the leave was handled: the room ended with it
	st, b = s.roomHTTP(t, http.MethodGet, "/v1/rooms/pair", s.token(t, "bob"), nil)
	r = signaling.Room{}
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Ended == nil || len(r.Participants) != 0 {
		t.Fatalf("show after the last one left: %d %s", st, b)
	}
}

// discard is a slot track that counts what it is given.
type discard struct{ n int }

func (d *discard) WriteRTP(*rtp.Packet) error {
	d.n++
	return nil
}

// BenchmarkForwarder measures the forwarder's cost per packet it writes:
// a room of 50, three of them speaking, each packet written to the 49
// others.
func BenchmarkForwarder(b *testing.B) {
	const people, speakers = 50, 3
	f := newForwarder(func(int, []string) {})
	now := time.Now()
	f.now = func() time.Time { return now }
	var out discard
	for id := 1; id <= people; id++ {
		var slots [signaling.RoomSlots]rtpWriter
		for k := range slots {
			slots[k] = &out
		}
		f.add(id, "user", true, 1, slots)
	}
	payload := make([]byte, 80)
	feed := func(id int, seq uint16) {
		p, _ := f.pool.Get().(*inPacket)
		p.from, p.level = id, toneLevel
		p.pkt = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
			Timestamp: uint32(seq) * 960, SSRC: uint32(id)}, Payload: payload}
		f.packet(p)
	}
	for i := range 20 {
		for id := 1; id <= speakers; id++ {
			feed(id, uint16(i))
		}
	}
	f.choose()
	out.n = 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		feed(i%speakers+1, uint16(20+i/speakers))
	}
	b.StopTimer()
	if out.n == 0 {
		b.Fatal("nothing forwarded")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(out.n), "ns/written")
	b.ReportMetric(float64(out.n)/float64(b.N), "written/op")
}

// TestRoomTwoNodes: a room runs on the node that claimed it; a participant
// connected to another node joins it through NATS, and the API on either
// node shows everyone in it.
func TestRoomTwoNodes(t *testing.T) {
	a := startServer(t, func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" })
	b := startNode(t, a, "b")
	a.createRoom(t, "alice", signaling.RoomRequest{Name: "crossing"})
	pa := joinRoom(t, a.connect(t, "alice", ""), "crossing", 0, false)
	joinRoom(t, b.connect(t, "bob", ""), "crossing", 0, false)
	if e := pa.event(kind(signaling.ParticipantJoined)).RoomEvent; e.User != "bob" {
		t.Fatalf("joined: %s", js(e))
	}
	st, body := b.roomHTTP(t, http.MethodGet, "/v1/rooms/crossing", b.token(t, "carol"), nil)
	var r signaling.Room
	if st != http.StatusOK || json.Unmarshal(body, &r) != nil || len(r.Participants) != 2 ||
		r.Participants[0].User != "alice" || r.Participants[1].User != "bob" {
		t.Fatalf("show on b: %d %s, want alice and bob", st, body)
	}
	rec, _, found, err := b.readRoom(t.Context(), DefaultTeam, "crossing")
	if err != nil || !found || rec.Node != "a" || rec.Status != roomOpen {
		t.Fatalf("record %+v %v %v, want open, owned by a", rec, found, err)
	}
	if n := len(a.logs.records("room opened here")) + len(b.logs.records("room opened here")); n != 1 {
		t.Fatalf("the room was opened %d times, want once", n)
	}
}

// startNode starts a second node on a's NATS, with a's secret and API key.
func startNode(t *testing.T, a *testServer, name string) *testServer {
	t.Helper()
	cfg, logs := nodeConfig(t, a, name)
	return startWith(t, cfg, logs)
}

// nodeConfig is the configuration of a node named name on a's NATS, with
// a's secret and API key, and the buffer it logs to.
func nodeConfig(t *testing.T, a *testServer, name string) (Config, *logBuffer) {
	t.Helper()
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
	cfg.NATSURL, cfg.NodeName = a.NATSClientURL(), name
	return cfg, logs
}

// TestRoomDisconnected: a participant whose peer connection closes, or
// whose session stays offline for the reconnect grace, is gone
// ("disconnected"); a session's time over ends the room.
func TestRoomDisconnected(t *testing.T) {
	s := startServer(t, func(c *Config) { c.ReconnectGrace = 300 * time.Millisecond })
	ac, bc, cc := s.connect(t, "alice", ""), s.connect(t, "bob", ""), s.connect(t, "carol", "")
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "flaky"})
	pa := joinRoom(t, ac, "flaky", 0, false)
	pb := joinRoom(t, bc, "flaky", 0, false)
	joinRoom(t, cc, "flaky", 0, false)
	pb.waitState(webrtc.PeerConnectionStateConnected)
	left := func(user string) {
		t.Helper()
		e := pa.event(func(m signaling.Message) bool { return m.RoomEvent.Kind == signaling.ParticipantLeft }).RoomEvent
		if e.User != user || e.Reason != signaling.LeftDisconnected {
			t.Fatalf("left: %s, want %s disconnected", js(e), user)
		}
	}
	if err := pb.pc.Close(); err != nil {
		t.Fatal(err)
	}
	left("bob")
	_ = cc.ws.CloseNow()
	left("carol")

	// A session whose time is over ends.
	end := time.Now().Add(500 * time.Millisecond).UTC()
	rec := roomRecord{Team: DefaultTeam, Name: "brief", Host: "alice", Created: time.Now().UTC(), End: &end,
		Status: roomOpen}
	b, _ := json.Marshal(rec)
	if _, err := s.store.Rooms.Put(t.Context(), store.RoomKey(DefaultTeam, "brief"), b); err != nil {
		t.Fatal(err)
	}
	ac.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "flaky"})
	pa = joinRoom(t, ac, "brief", 0, false)
	if e := pa.event(kind(signaling.RoomEnded)).RoomEvent; e.Reason != signaling.EndedTimeOver || e.Room != "brief" {
		t.Fatalf("ended: %s", js(e))
	}
	got, _, _, err := s.readRoom(t.Context(), DefaultTeam, "brief")
	if err != nil || got.Status != roomEnded || got.Reason != signaling.EndedTimeOver || got.Ended == nil {
		t.Fatalf("record %+v %v", got, err)
	}
}

// recorder is a slot track that keeps the sequence numbers and timestamps
// it is given.
type recorder struct {
	seqs []uint16
	tss  []uint32
}

func (r *recorder) WriteRTP(p *rtp.Packet) error {
	r.seqs = append(r.seqs, p.SequenceNumber)
	r.tss = append(r.tss, p.Timestamp)
	return nil
}

// TestForwarderChoice: the forwarder's choice of speakers, on its own
// clock: the loudest others first, never oneself, a speaker kept while
// talking even when a louder one waits, freed after keepFor of quiet or at
// once when muted, and a slot's stream continuous across the change.
func TestForwarderChoice(t *testing.T) {
	var told []string
	f := newForwarder(func(id int, slots []string) {
		if id == 1 {
			told = slots
		}
	})
	now := time.Unix(1000, 0)
	f.now = func() time.Time { return now }
	outs := map[int]*[signaling.RoomSlots]*recorder{}
	for id, u := range []string{"", "ann", "ben", "cat", "dan", "eve"} {
		if id == 0 {
			continue
		}
		var ws [signaling.RoomSlots]rtpWriter
		rs := &[signaling.RoomSlots]*recorder{}
		for k := range ws {
			rs[k] = &recorder{}
			ws[k] = rs[k]
		}
		outs[id] = rs
		f.add(id, u, true, 1, ws)
	}
	seq := map[int]uint16{1: 100, 2: 20000, 3: 40000, 4: 60000, 5: 7}
	self := 0
	// One 20 ms step: each of levels (by source; absent: silent) sends a
	// packet, then the forwarder chooses.
	step := func(levels map[int]uint8) {
		now = now.Add(20 * time.Millisecond)
		for id, lv := range levels {
			p, _ := f.pool.Get().(*inPacket)
			p.from, p.level = id, lv
			p.pkt = rtp.Packet{Header: rtp.Header{SequenceNumber: seq[id], Timestamp: uint32(seq[id]) * 960}}
			seq[id]++
			f.packet(p)
		}
		f.choose()
		for id, r := range f.receivers {
			if slices.Contains(r.held[:], id) {
				self++
			}
		}
	}
	for range 25 { // ann, ben and cat talk; dan whispers
		step(map[int]uint8{1: 20, 2: 30, 3: 40, 4: 55})
	}
	if want := []string{"ben", "cat", "dan"}; !slices.Equal(told, want) {
		t.Fatalf("ann hears %v, want %v (the loudest others)", told, want)
	}
	if got := f.receivers[2].held; got != [3]int{1, 3, 4} {
		t.Fatalf("ben hears %v, want ann, cat, dan", got)
	}
	for range 25 { // eve comes in loud: ann keeps dan, who talks on
		step(map[int]uint8{1: 20, 2: 30, 3: 40, 4: 55, 5: 5})
	}
	if want := []string{"ben", "cat", "dan"}; !slices.Equal(told, want) {
		t.Fatalf("ann hears %v, want %v (kept while talking)", told, want)
	}
	for range 40 { // dan goes quiet: freed after keepFor, eve takes the slot
		step(map[int]uint8{1: 20, 2: 30, 3: 40, 4: 127, 5: 5})
	}
	if want := []string{"ben", "cat", "eve"}; !slices.Equal(told, want) {
		t.Fatalf("ann hears %v, want %v (dan quiet for %v)", told, want, 40*20*time.Millisecond)
	}
	// Slot 2 of ann went from dan to eve without a jump.
	r := outs[1][2]
	for i := 1; i < len(r.seqs); i++ {
		if d := r.seqs[i] - r.seqs[i-1]; d != 1 {
			t.Fatalf("slot 2 of ann: sequence number %d after %d", r.seqs[i], r.seqs[i-1])
		}
		if d := r.tss[i] - r.tss[i-1]; d < 960 || d > 48000 {
			t.Fatalf("slot 2 of ann: timestamp step %d", d)
		}
	}
	f.setSpeak(2, false) // ben muted: freed at once, dan is too quiet to come back
	if want := []string{"", "cat", "eve"}; !slices.Equal(told, want) {
		t.Fatalf("ann hears %v after ben's mute, want %v", told, want)
	}
	if self != 0 {
		t.Fatalf("%d times someone was given their own voice", self)
	}

	// A turn after a silence loses one packet at most: the one that made
	// the choice. cat talks on alone; ann, silent for a second, starts.
	f.setSpeak(2, true)
	for range 50 {
		step(map[int]uint8{1: 127, 3: 40})
	}
	before := len(outs[3][0].seqs) + len(outs[3][1].seqs) + len(outs[3][2].seqs)
	for range 10 {
		step(map[int]uint8{1: 20, 3: 40})
	}
	if got := len(outs[3][0].seqs) + len(outs[3][1].seqs) + len(outs[3][2].seqs) - before; got != 9 {
		t.Fatalf("cat got %d of ann's first 10 packets after a silence, want 9", got)
	}
}

// TestRoomEndedGoes: an ended room's key leaves the rooms bucket roomKept
// after its end (a second here), whether its owner ended it (the last one
// left) or its host did with nobody in it; its record stays for the admin
// API, and its name is free as if it never was.
func TestRoomEndedGoes(t *testing.T) {
	s := startServer(t, func(c *Config) { c.roomKept = time.Second })
	watch := func(name string) <-chan jetstream.KeyValueEntry {
		w, err := s.store.Rooms.Watch(t.Context(), store.RoomKey(DefaultTeam, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Stop() })
		return w.Updates()
	}
	// gone waits for the room's ended record, then for its key to go, and
	// says how long after the end it went.
	gone := func(name string, u <-chan jetstream.KeyValueEntry) {
		t.Helper()
		var ended time.Time
		deadline := time.After(patience)
		for {
			select {
			case e := <-u:
				var rec roomRecord
				switch {
				case e == nil: // the watch caught up
				case e.Operation() == jetstream.KeyValuePut:
					if json.Unmarshal(e.Value(), &rec) == nil && rec.Status == roomEnded {
						ended = e.Created()
					}
				case ended.IsZero():
					t.Fatalf("room %s: its key went (%s) before the room ended", name, e.Operation())
				default:
					d := e.Created().Sub(ended)
					t.Logf("room %s: its key went %v after its end", name, d.Round(time.Millisecond))
					if d < time.Second || d > 3*time.Second {
						t.Errorf("room %s: its key went %v after its end, want 1 to 3 s", name, d)
					}
					return
				}
			case <-deadline:
				t.Fatalf("room %s: its key still there %v on (ended at %v)", name, patience, ended)
			}
		}
	}
	alice := s.token(t, "alice")
	standup := s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup"})
	retro := s.createRoom(t, "alice", signaling.RoomRequest{Name: "retro"})
	us, ur := watch("standup"), watch("retro")
	ac := s.connect(t, "alice", "")
	joinRoom(t, ac, "standup", 0, false)
	ac.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "standup"}) // the last one: it ends
	if st, b := s.roomHTTP(t, http.MethodDelete, "/v1/rooms/retro", alice, nil); st != http.StatusOK {
		t.Fatalf("end retro: %d %s", st, b)
	}
	gone("standup", us)
	gone("retro", ur)
	for _, r := range []signaling.Room{standup, retro} {
		st, b := s.roomHTTP(t, http.MethodGet, "/v1/rooms/"+r.Name, alice, nil)
		apiError(t, st, b, signaling.NotFoundUserSessionID, "no room "+r.Name)
		h, found, err := s.readHistory(t.Context(), DefaultTeam, r.ID)
		if err != nil || !found || h.Status != signaling.RoomRecordEnded {
			t.Fatalf("room %s's record: %+v %v %v, want it ended", r.Name, h.RoomRecord, found, err)
		}
	}
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup"})
}

// roomEnds watches a room's record and closes the channel once it is
// ended; the test fails if it is not within patience.
func (s *testServer) roomEnds(t *testing.T, name string) <-chan struct{} {
	t.Helper()
	w, err := s.store.Rooms.Watch(t.Context(), store.RoomKey(DefaultTeam, name))
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		defer func() { _ = w.Stop() }()
		deadline := time.After(patience)
		for {
			select {
			case e := <-w.Updates():
				var rec roomRecord
				if e != nil && e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &rec) == nil &&
					rec.Status == roomEnded {
					close(ended)
					return
				}
			case <-deadline:
				t.Errorf("room %s did not end within %v", name, patience)
				close(ended)
				return
			}
		}
	}()
	return ended
}
