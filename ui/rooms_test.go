package ui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

func bptr(b bool) *bool { return &b }

// roomEv is a room event of the room standup at t0, unless e says
// otherwise.
func roomEv(e signaling.RoomEvent) tea.Msg {
	if e.Room == "" {
		e.Room = "standup"
	}
	if e.Time.IsZero() {
		e.Time = t0
	}
	return ev(call.RoomChanged{RoomEvent: e})
}

// roomPeople is who is in the tests' rooms besides alice: bob (the host
// unless alice is), carol muted with her microphone locked, dave
// listening, erin.
func roomPeople(aliceRole signaling.RoomRole) []signaling.Participant {
	bobRole := signaling.RoleHost
	if aliceRole == signaling.RoleHost {
		bobRole = signaling.RoleMember
	}
	return []signaling.Participant{
		{User: "bob", Name: "Bob Builder", Role: bobRole, Joined: t0.Add(-20 * time.Minute)},
		{User: "alice", Role: aliceRole, Joined: t0.Add(-5 * time.Minute)},
		{User: "carol", Name: "Carol Jones", Role: signaling.RoleMember, Muted: true, MicLocked: true},
		{User: "dave", Role: signaling.RoleListener},
		{User: "erin", Role: signaling.RoleMember},
	}
}

// inRoom joins room as role, 5 minutes before t0, and reports who speaks:
// bob loudest, then erin, and your microphone.
func inRoom(room string, role signaling.RoomRole) []tea.Msg {
	return []tea.Msg{
		common.JoinRoomMsg{Name: room},
		roomEv(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: room, User: "alice", Role: role,
			Time: t0.Add(-5 * time.Minute), Participants: roomPeople(role)}),
		roomEv(signaling.RoomEvent{Kind: signaling.RoomSpeaking, Room: room, Slots: []string{"bob", "erin", ""}}),
		ev(call.RoomLevels{Room: room, Mic: 0.45, Heard: map[string]float64{"bob": 0.82, "erin": 0.4}}),
	}
}

// roomQuality rates the connections of roomPeople's: bob's poor (10 %
// loss), carol's fair (42 ms jitter), alice's and erin's good.
func roomQuality() []signaling.Quality {
	return []signaling.Quality{
		{User: "alice", Grade: signaling.GradeGood, RTTMs: 40, JitterMs: 2, MOS: 4.3},
		{User: "bob", Grade: signaling.GradePoor, Problems: []string{signaling.WarnHighLoss, signaling.WarnLowMOS},
			Loss: 0.1, RTTMs: 60, JitterMs: 4, MOS: 3.1},
		{User: "carol", Grade: signaling.GradeFair, Problems: []string{signaling.WarnHighJitter}, RTTMs: 80,
			JitterMs: 42, MOS: 4.0},
		{User: "erin", Grade: signaling.GradeGood, RTTMs: 30, JitterMs: 1, MOS: 4.4},
	}
}

// roomsPane opens the rooms pane and reads the rooms.
func roomsPane() []tea.Msg {
	return msgs(press("tab"), press("tab"), roomsLoadedMsg{rooms: sampleRooms()})
}

func roomScreens() []scenario {
	start := startMsgs()
	host := concat(start, inRoom("retro", signaling.RoleHost), msgs(
		roomEv(signaling.RoomEvent{Kind: signaling.ParticipantJoined, Room: "retro", User: "frank", Name: "Frank Li",
			Role: signaling.RoleMember}),
		roomEv(signaling.RoomEvent{Kind: signaling.ParticipantLeft, Room: "retro", User: "frank",
			Reason: signaling.LeftDisconnected}),
		roomEv(signaling.RoomEvent{Kind: signaling.ParticipantLeft, Room: "retro", User: "gus", By: "alice",
			Reason: signaling.LeftRemoved}),
	))
	member := concat(start, inRoom("standup", signaling.RoleMember))
	return []scenario{
		{"rooms", concat(start, roomsPane(), msgs(press("down")))},
		{"rooms_empty", concat(start, msgs(press("tab"), press("tab"), roomsLoadedMsg{rooms: []signaling.Room{}}))},
		{"rooms_error", concat(start, msgs(press("tab"), press("tab"), roomsLoadedMsg{
			err: signaling.Errorf(signaling.NoConnectedSession, "cannot reach the server: connection refused")}))},
		{"room_joining", concat(start, roomsPane(), msgs(common.JoinRoomMsg{Name: "standup"}))},
		{"room_refused_locked", concat(start, roomsPane(), msgs(common.JoinRoomMsg{Name: "design-review"},
			ev(call.RoomFailure{Room: "design-review", Err: signaling.Errorf(signaling.PermissionDenied,
				"the room design-review is locked: ask its host, erin, to unlock it")})))},
		// The host: several people, a speaker, a muted and locked one, a
		// listener; carol selected.
		{"room_host", concat(host, msgs(press("down")))},
		// The host, with everyone's connection rated: bob's poor from packet
		// loss while he speaks, carol's (muted) fair from jitter, yours and
		// erin's good, none for dave, who listens; and what reaches you.
		{"room_quality", concat(host, msgs(press("down"), roomEv(signaling.RoomEvent{Kind: signaling.RoomQuality,
			Room: "retro", Quality: roomQuality()}), ev(call.RoomStats{Room: "retro", Stats: call.Stats{
			RTT: 48 * time.Millisecond, Jitter: 6 * time.Millisecond, Loss: 0.021, JitterBuffer: 60 * time.Millisecond,
			MOS: 4.1, Network: "udp"}})))},
		{"room_host_locked", concat(host, msgs(roomEv(signaling.RoomEvent{Kind: signaling.RoomLocked, Room: "retro",
			By: "alice", Locked: bptr(true)}), press("m"), ev(call.RoomLevels{Room: "retro",
			Heard: map[string]float64{"erin": 0.9}})))},
		{"room_confirm_remove", concat(host, msgs(press("x")))},
		{"room_confirm_end", concat(host, msgs(press("E")))},
		{"room_member", member},
		{"room_member_you_speaking", concat(member, msgs(ev(call.RoomLevels{Room: "standup", Mic: 0.9,
			MicSpeaking: true, Heard: map[string]float64{"bob": 0.5}})))},
		{"room_member_host_key", concat(member, msgs(press("M")))},
		{"room_muted_by_host", concat(member, msgs(roomEv(signaling.RoomEvent{Kind: signaling.RoomMuted,
			User: "alice", By: "bob", Muted: bptr(true), Locked: bptr(true)})))},
		{"room_removed", concat(start, roomsPane(), inRoom("standup", signaling.RoleMember), msgs(
			roomEv(signaling.RoomEvent{Kind: signaling.RoomRemoved, User: "alice", By: "bob"})))},
		{"room_ended", concat(start, roomsPane(), inRoom("standup", signaling.RoleMember), msgs(
			roomEv(signaling.RoomEvent{Kind: signaling.RoomEnded, Reason: signaling.EndedByHost})))},
		{"room_listener", concat(start, inRoom("standup", signaling.RoleListener), msgs(press("m")))},
		{"room_incoming_call", concat(member, msgs(inbound(signaling.Ringing, t0), press("a")))},
		{"room_lobby_knock", concat(member, lobbyKnocks())}, // lobby_test.go
		{"room_lobby_let_in", concat(member, lobbyKnocks(), msgs(press("a"), roomEv(signaling.RoomEvent{
			Kind: signaling.RoomAdmitted, User: "guest-d1", Name: "Dana", By: "alice"})))},
		{"room_hostile", concat(start, inRoom("standup", signaling.RoleMember), msgs(
			roomEv(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "mallory",
				Name: "Mallory" + hostileTitle, Role: signaling.RoleMember}),
			ev(call.RoomLevels{Room: "standup", Heard: map[string]float64{"mallory": 1}})))},
	}
}

// TestRoomHostileTextIsShownEscaped: a participant's name with escape
// sequences is shown escaped.
func TestRoomHostileTextIsShownEscaped(t *testing.T) {
	for _, s := range roomScreens() {
		if s.name != "room_hostile" {
			continue
		}
		m := newGoldenModel(s, 120, 40)
		drive(m, s.msgs)
		view := m.View()
		if i := strings.IndexAny(view, "\x1b\x07"); i >= 0 {
			t.Errorf("the view holds %q:\n%s", view[i:i+1], view)
		}
		if w := `Mallory\x1b]0;pwned\a`; !strings.Contains(view, w) {
			t.Errorf("the view does not show %s:\n%s", w, view)
		}
	}
}

// startRoomFlow runs a model with the rooms pane, connected, the rooms
// read once.
func startRoomFlow(t *testing.T) (*flow, *fakeRooms) {
	t.Helper()
	rooms := newFakeRooms()
	f := startFlowWith(t, "", func(o *Options) { o.Rooms = rooms })
	rooms.expectReads(t, 1)
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	return f, rooms
}

// expectReads waits for n reads of the rooms.
func (f *fakeRooms) expectReads(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-f.reads:
		case <-time.After(wait):
			t.Fatalf("the rooms were read %d times within %v; want %d", i, wait, n)
		}
	}
}

// joinRoomFlow joins room from the rooms pane as role: the joined event
// has roomPeople.
func joinRoomFlow(t *testing.T, f *flow, rooms *fakeRooms, room string, role signaling.RoomRole, also ...string) {
	t.Helper()
	f.press("tab", "tab")
	rooms.expectReads(t, 1) // read again when the pane opens
	f.waitFor("[Rooms 3]", "standup", "design-review", "friday-demo", "enter join")
	if room != "standup" {
		// A room not in the list: joined as the Phone would, by name.
		f.tm.Send(common.JoinRoomMsg{Name: room})
	} else {
		f.press("enter")
	}
	f.phone.expectCalls(t, "JoinRoom("+room+", false, false)")
	f.waitFor("Joining the room "+room+"…", "l/esc cancel")
	f.phone.push(call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomJoined, Room: room,
		User: "alice", Role: role, Time: f.clock.Now(), Participants: roomPeople(role)}})
	f.waitFor(append([]string{"Room " + room, "5 people", "Bob Builder (bob)", "Carol Jones (carol)", "listens only",
		"muted · locked by host"}, also...)...)
}

func roomEvent(e signaling.RoomEvent) call.RoomChanged {
	if e.Room == "" {
		e.Room = "standup"
	}
	return call.RoomChanged{RoomEvent: e}
}

// TestFlowRoomJoinMuteLeave: enter in the rooms pane joins the selected
// room; m mutes and unmutes you; the levels show who speaks; l leaves and
// the rooms are read again.
func TestFlowRoomJoinMuteLeave(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "standup", signaling.RoleMember, "you are a member", "m mute", "l leave")

	f.phone.push(call.RoomLevels{Room: "standup", Mic: 0.1, Heard: map[string]float64{"bob": 1}})
	f.waitFor("▶ Bob Builder (bob)", "speaking")
	// Erin speaks louder than bob's fading voice: she is the active speaker.
	f.phone.push(call.RoomLevels{Room: "standup", Mic: 0.1, Heard: map[string]float64{"bob": 0.35, "erin": 0.7}})
	f.waitFor("▶ erin")

	f.press("m")
	f.phone.expectCalls(t, "SetMuted(true)")
	f.waitFor("m unmute")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "alice",
		Muted: bptr(true)}))
	f.press("m")
	f.phone.expectCalls(t, "SetMuted(false)")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "alice",
		Muted: bptr(false)})) // the engine reports each change, in order
	f.waitFor("m mute")

	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "frank", Name: "Frank Li",
		Role: signaling.RoleListener}))
	f.waitFor("Frank Li joined as a listener", "6 people")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "erin",
		Reason: signaling.LeftDisconnected}))
	f.waitFor("erin left (disconnected)", "5 people")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "frank", By: "bob",
		Reason: signaling.LeftRemoved}))
	f.waitFor("Frank Li was removed by Bob Builder (host)", "4 people")

	f.press("l")
	f.phone.expectCalls(t, "LeaveRoom()")
	rooms.expectReads(t, 1)
	f.waitFor("You left the room standup.", "[Rooms 3]")
	// Later events about the room are not shown.
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "gus"}))

	f.press("q")
	m := f.finish()
	f.phone.expectNoCalls(t)
	if m.room != nil {
		t.Errorf("room after leaving: %+v", m.room)
	}
}

// TestFlowRoomHostActions: the host's keys on the selected participant
// and the room make the Phone's calls, removing and ending after a yes;
// the events that follow are shown.
func TestFlowRoomHostActions(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "retro", signaling.RoleHost, "you are the host", "M mute them")

	// bob is selected (the first after you).
	f.press("M")
	f.phone.expectCalls(t, "MuteParticipant(bob, true, false)")
	f.phone.push(roomEvent(signaling.RoomEvent{Room: "retro", Kind: signaling.RoomMuted, User: "bob", By: "alice",
		Muted: bptr(true)}))
	f.waitFor("You muted Bob Builder", "M unmute them")
	f.press("K")
	f.phone.expectCalls(t, "MuteParticipant(bob, true, true)")
	f.phone.push(roomEvent(signaling.RoomEvent{Room: "retro", Kind: signaling.RoomMuted, User: "bob", By: "alice",
		Muted: bptr(true), Locked: bptr(true)}))
	f.waitFor("You muted Bob Builder and locked their microphone", "K unlock their mic")
	f.press("K")
	f.phone.expectCalls(t, "MuteParticipant(bob, true, false)")
	f.press("M")
	f.phone.expectCalls(t, "MuteParticipant(bob, false, false)")

	// down selects carol, muted and locked: M unmutes her.
	f.press("down", "M")
	f.phone.expectCalls(t, "MuteParticipant(carol, false, false)")
	// A listener has nothing to mute: said at once.
	f.press("down", "M")
	f.waitFor("dave listens only")

	f.press("L")
	f.phone.expectCalls(t, "LockRoom(true)")
	f.phone.push(roomEvent(signaling.RoomEvent{Room: "retro", Kind: signaling.RoomLocked, By: "alice",
		Locked: bptr(true)}))
	f.waitFor("locked: only the host lets people in", "You locked the room")

	// x asks first; no keeps erin.
	f.press("down", "x")
	f.waitFor("Remove erin from the room? y/n")
	f.press("n")
	f.waitFor("Room retro")
	f.phone.expectNoCalls(t)
	f.press("x")
	f.waitFor("Remove erin from the room? y/n")
	f.press("y")
	f.phone.expectCalls(t, "RemoveParticipant(erin)")
	f.phone.push(roomEvent(signaling.RoomEvent{Room: "retro", Kind: signaling.ParticipantLeft, User: "erin",
		By: "alice", Reason: signaling.LeftRemoved}))
	f.waitFor("erin was removed by you", "4 people")

	f.press("E")
	f.waitFor("End the room retro for everyone? y/n")
	f.press("y")
	f.phone.expectCalls(t, "EndRoom()")
	f.phone.push(roomEvent(signaling.RoomEvent{Room: "retro", Kind: signaling.RoomEnded,
		Reason: signaling.EndedByHost}))
	rooms.expectReads(t, 1)
	f.waitFor("The room retro ended: its host ended it.")

	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

// TestFlowRoomMemberTold: a member's host keys are refused at once, with
// no call to the Phone; the host's mute is shown with who did it, a locked
// microphone cannot be unmuted, a refusal shows its message, and being
// removed leaves the room.
func TestFlowRoomMemberTold(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "standup", signaling.RoleMember)

	for _, k := range []struct{ key, says string }{
		{"M", "can mute others"}, {"K", "can lock a microphone"}, {"x", "can remove people"},
		{"L", "can lock the room"}, {"E", "can end the room for all"},
	} {
		f.press(k.key)
		f.waitFor("Only the host, Bob Builder (bob),", k.says)
		f.press("esc")
	}
	f.phone.expectNoCalls(t)

	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "bob",
		Muted: bptr(true), Locked: bptr(true)}))
	f.waitFor("Bob Builder, the host, muted you", "Bob Builder (host) muted you and locked your mic.")
	f.press("m")
	f.waitFor("Bob Builder locked your microphone")
	f.phone.expectNoCalls(t)
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "bob",
		Muted: bptr(false)}))
	f.waitFor("Bob Builder unmuted you")

	f.phone.push(call.RoomFailure{Room: "standup", Err: signaling.Errorf(signaling.PermissionDenied,
		"only the host may lock the room")})
	f.waitFor("Room standup: only the host may lock the room (80802)")

	// A call comes in: answering waits until you leave the room.
	f.phone.push(statusEvent("c2", signaling.Ringing, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from carol")
	f.press("a")
	f.waitFor("Leave the room standup first (l), then answer.")
	f.phone.expectNoCalls(t)
	f.press("r")
	f.phone.expectCalls(t, "Reject()")
	f.phone.push(statusEvent("c2", signaling.Rejected, signaling.Inbound, "carol", "alice", f.clock.Now()))

	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomRemoved, User: "alice", By: "bob"}))
	rooms.expectReads(t, 1)
	f.waitFor("You were removed from the room standup by Bob Builder.")

	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

// TestFlowRoomJoinRefused: a refused join goes back to the rooms with the
// server's message; cancelling a join leaves.
func TestFlowRoomJoinRefused(t *testing.T) {
	f, rooms := startRoomFlow(t)
	f.press("tab", "tab")
	rooms.expectReads(t, 1)
	f.waitFor("[Rooms 3]")
	f.press("down", "enter")
	f.phone.expectCalls(t, "JoinRoom(design-review, false, false)")
	f.waitFor("Joining the room design-review…")
	f.phone.push(call.RoomFailure{Room: "design-review", Err: signaling.Errorf(signaling.PermissionDenied,
		"the room is locked: ask its host, erin, to unlock it")})
	rooms.expectReads(t, 1)
	f.waitFor("Could not join the room design-review:", "(80802)", "[Rooms 3]")

	f.press("enter")
	f.phone.expectCalls(t, "JoinRoom(design-review, false, false)")
	f.waitFor("Joining the room design-review…")
	f.press("esc")
	f.phone.expectCalls(t, "LeaveRoom()")
	f.waitFor("You did not join the room design-review.")

	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

// TestFlowRoomQuit: quitting in a room asks, then leaves it.
func TestFlowRoomQuit(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "standup", signaling.RoleMember)
	f.press("q")
	f.waitFor("You are in a room: leave it and quit? y/n")
	f.press("y")
	f.phone.expectCalls(t, "LeaveRoom()")
	m := f.finish()
	if m.room != nil {
		t.Errorf("room after quitting: %+v", m.room)
	}
}

// TestFlowRoomsPaneReadAgain: the open rooms pane is read again every
// RoomsEvery and shows what changed.
func TestFlowRoomsPaneReadAgain(t *testing.T) {
	rooms := newFakeRooms()
	f := startFlowWith(t, "", func(o *Options) { o.Rooms, o.RoomsEvery = rooms, 20*time.Millisecond })
	rooms.expectReads(t, 1)
	f.press("tab", "tab")
	rooms.expectReads(t, 3)
	f.waitFor("[Rooms 3]")
	rooms.mu.Lock()
	rooms.rooms = append(rooms.rooms, signaling.Room{Name: "lunch", Host: "erin"})
	rooms.mu.Unlock()
	f.waitFor("[Rooms 4]", "lunch")
	f.press("q")
	f.finish()
}

// TestRoomsTicksStop: a tick of the rooms pane reads the rooms only while
// the pane is open on the home screen, and only the latest run's tick.
func TestRoomsTicksStop(t *testing.T) {
	s := scenario{name: "rooms"}
	m := newGoldenModel(s, 80, 24)
	drive(m, concat(startMsgs(), roomsPane()))
	gen := m.roomsGen
	if _, cmd := m.Update(roomsTickMsg{gen: gen}); cmd == nil {
		t.Fatal("a tick with the pane open read nothing")
	}
	if _, cmd := m.Update(roomsTickMsg{gen: gen}); cmd != nil {
		t.Error("a tick of an earlier run read the rooms")
	}
	m.Update(press("?")) // help over the pane: still open
	if _, cmd := m.Update(roomsTickMsg{gen: m.roomsGen}); cmd == nil {
		t.Error("a tick under the help screen read nothing")
	}
	m.Update(common.CloseMsg{}) // what esc on the help screen sends
	m.Update(press("tab"))      // contacts
	if _, cmd := m.Update(roomsTickMsg{gen: m.roomsGen}); cmd != nil {
		t.Error("a tick with the pane closed read the rooms")
	}
	m.Update(press("tab"))
	m.Update(press("tab"))
	drive(m, inRoom("standup", signaling.RoleMember))
	if _, cmd := m.Update(roomsTickMsg{gen: m.roomsGen}); cmd != nil {
		t.Error("a tick in a room read the rooms")
	}
}

// TestRoomEventsApplied: what each room event changes in the room the
// model keeps.
func TestRoomEventsApplied(t *testing.T) {
	m := newGoldenModel(scenario{name: "room"}, 80, 24)
	drive(m, concat(startMsgs(), inRoom("standup", signaling.RoleMember)))
	r := m.room
	if r == nil || r.Joining || r.Role != signaling.RoleMember || len(r.People) != 5 || r.Self != "alice" {
		t.Fatalf("joined room = %+v", r)
	}
	if bob, _ := r.Person("bob"); bob.Level != 0.82 {
		t.Errorf("bob's level = %v; want 0.82", bob.Level)
	}
	if got := r.Speaker(); got != "bob" {
		t.Errorf("speaker = %q; want bob", got)
	}
	// Events of another room, and your own join announced again, change
	// nothing.
	drive(m, msgs(
		roomEv(signaling.RoomEvent{Kind: signaling.ParticipantJoined, Room: "retro", User: "zoe"}),
		roomEv(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "alice"}),
		ev(call.RoomLevels{Room: "retro", Heard: map[string]float64{"bob": 0}}),
	))
	if len(r.People) != 5 || len(r.Log) != 0 {
		t.Errorf("events of another room or your own join changed the room: %+v", r)
	}
	if bob, _ := r.Person("bob"); bob.Level != 0.82 {
		t.Errorf("levels of another room changed bob's to %v", bob.Level)
	}
	// bob leaves the slots: silent.
	drive(m, msgs(roomEv(signaling.RoomEvent{Kind: signaling.RoomSpeaking, Slots: []string{"erin", "", ""}})))
	if bob, _ := r.Person("bob"); bob.Level != 0 {
		t.Errorf("bob off the slots has level %v; want 0", bob.Level)
	}
	// The host unmutes carol and unlocks her microphone.
	drive(m, msgs(roomEv(signaling.RoomEvent{Kind: signaling.RoomMuted, User: "carol", By: "bob",
		Muted: bptr(false), Locked: bptr(false)})))
	if c, _ := r.Person("carol"); c.Muted || c.MicLocked {
		t.Errorf("carol after the host unmuted her: %+v", c)
	}
	if len(r.Log) != 1 || r.Log[0].Text != "Bob Builder unmuted Carol Jones" {
		t.Errorf("log = %+v; want Bob Builder unmuted Carol Jones", r.Log)
	}
	// Your connection is lost for good: the room view ends.
	drive(m, msgs(roomEv(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "alice",
		Reason: signaling.LeftDisconnected})))
	if m.room != nil || m.screen != screenHome {
		t.Fatalf("after you were disconnected: room %+v, screen %v", m.room, m.screen)
	}
	if want := "You are no longer in the room standup: you left (disconnected)."; m.notice == nil ||
		m.notice.text != want {
		t.Errorf("notice = %+v; want %q", m.notice, want)
	}
}
