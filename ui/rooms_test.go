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
