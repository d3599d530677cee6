package ui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// invited is an invited event for alice to room, by bob, in status st.
func invited(room string, st signaling.Status, reason string) tea.Msg {
	return roomEv(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: room, User: "alice", By: "bob",
		Status: st, Reason: reason})
}

// rejoining is the Phone saying it lost the room standup's media.
func rejoining() tea.Msg {
	return ev(call.RoomRejoining{Room: "standup", Reason: "the media connection to the room failed"})
}

func inviteScreens() []scenario {
	start := startMsgs()
	member := concat(start, inRoom("standup", signaling.RoleMember))
	host := concat(start, inRoom("retro", signaling.RoleHost))
	other := func(user string, st signaling.Status, reason string) tea.Msg {
		return roomEv(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: "retro", User: user, By: "alice",
			Status: st, Reason: reason})
	}
	return []scenario{
		{"room_invited", concat(start, msgs(invited("standup", signaling.Ringing, "")))},
		{"room_invited_in_call", concat(start, inCall(), msgs(stats(), invited("standup", signaling.Ringing, "")))},
		{"room_invited_in_room", concat(member, msgs(invited("retro", signaling.Ringing, ""), press("a")))},
		{"room_host_invites", concat(host, msgs(
			other("frank", signaling.Ringing, ""), other("gus", signaling.Ringing, ""),
			other("frank", signaling.Rejected, "declined"), other("gus", signaling.Unanswered, "no answer")))},
		{"room_rejoining", concat(member, msgs(rejoining()))},
		{"room_invited_hostile", concat(member, msgs(roomEv(signaling.RoomEvent{Kind: signaling.RoomInvited,
			Room: "retro" + hostileTitle, User: "alice", By: "mallory" + hostileTitle, Status: signaling.Ringing}),
			ev(call.RoomRejoining{Room: "standup", Reason: "lost" + hostileTitle})))},
	}
}

// TestInviteHostileTextIsShownEscaped: the host's id and the room's name
// of an invitation, and why a room is joined again, are shown escaped.
func TestInviteHostileTextIsShownEscaped(t *testing.T) {
	s := inviteScreens()[len(inviteScreens())-1]
	m := newGoldenModel(s, 120, 40)
	drive(m, s.msgs)
	view := m.View()
	if i := strings.IndexAny(view, "\x1b\x07"); i >= 0 {
		t.Errorf("the view holds %q:\n%s", view[i:i+1], view)
	}
	for _, w := range []string{`mallory\x1b]0;pwned\a invites you to room retro\x1b]0;pwned\a`,
		`rejoining… (lost\x1b]0;pwned\a)`} {
		if !strings.Contains(view, w) {
			t.Errorf("the view does not show %s:\n%s", w, view)
		}
	}
}

// TestFlowRoomInvitation: an invitation rings like a call (the bell, the
// banner "Bob Builder invites you to room retro · a join · r decline"); r
// declines it (the Phone's DeclineRoom), a joins the room (JoinRoom); in a
// room, a says to leave it first and r still declines; an invitation
// answered elsewhere, rejected or unanswered leaves the banner.
func TestFlowRoomInvitation(t *testing.T) {
	f, rooms := startRoomFlow(t)
	push := func(room string, st signaling.Status, reason string) {
		f.phone.push(call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomInvited, Room: room,
			User: "alice", By: "bob", Status: st, Reason: reason, Time: f.clock.Now()}})
	}
	bell := func() {
		t.Helper()
		select {
		case b := <-f.bell:
			if b != "\a" {
				t.Errorf("bell wrote %q; want BEL", b)
			}
		case <-time.After(wait):
			t.Fatal("the bell did not ring for the invitation")
		}
	}

	push("retro", signaling.Ringing, "")
	f.waitFor("Bob Builder invites you to room retro", "a join · r decline")
	bell()
	f.press("r")
	f.phone.expectCalls(t, "DeclineRoom(retro)")
	f.waitFor("You declined the invitation to the room retro.")
	push("retro", signaling.Rejected, "declined")

	// Answered on another device: the banner goes (else it would show
	// design-review, rung first, rather than standup).
	push("design-review", signaling.Ringing, "")
	f.waitFor("Bob Builder invites you to room design-review")
	bell()
	push("design-review", signaling.Answered, "")

	// a joins.
	push("standup", signaling.Ringing, "")
	f.waitFor("Bob Builder invites you to room standup")
	bell()
	f.press("a")
	f.phone.expectCalls(t, "JoinRoom(standup, false, false)")
	f.waitFor("Joining the room standup…")
	push("standup", signaling.Answered, "")
	f.phone.push(call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup",
		User: "alice", Role: signaling.RoleMember, Time: f.clock.Now(),
		Participants: roomPeople(signaling.RoleMember)}})
	f.waitFor("Room standup", "5 people")

	// In a room: a says to leave it first; the invitation keeps ringing
	// until it is unanswered.
	push("retro", signaling.Ringing, "")
	f.waitFor("Bob Builder invites you to room retro", "r decline · leave the room to join")
	bell()
	f.press("a")
	f.waitFor("Leave the room standup first (l), then join the room retro.")
	f.phone.expectNoCalls(t)
	push("retro", signaling.Unanswered, "no answer")
	// Then another rings (shown: retro rings no more), and r declines it
	// while in the room.
	push("lunch", signaling.Ringing, "")
	f.waitFor("Bob Builder invites you to room lunch")
	bell()
	f.press("r")
	f.phone.expectCalls(t, "DeclineRoom(lunch)")
	f.waitFor("You declined the invitation to the room lunch.")

	f.press("l")
	f.phone.expectCalls(t, "LeaveRoom()")
	rooms.expectReads(t, 1)
	f.press("q")
	m := f.finish()
	f.phone.expectNoCalls(t)
	if len(m.invites) != 0 {
		t.Errorf("invitations ringing at the end: %+v", m.invites)
	}
}

// TestInvitationsApplied: which invitations ring after each invited event,
// and what the host's room log says of the others'.
func TestInvitationsApplied(t *testing.T) {
	m := newGoldenModel(scenario{name: "room"}, 80, 24)
	drive(m, startMsgs())
	rooms := func() string {
		var s []string
		for _, i := range m.invites {
			s = append(s, i.room)
		}
		return strings.Join(s, ",")
	}
	steps := []struct {
		msg  tea.Msg
		want string
	}{
		{invited("standup", signaling.Ringing, ""), "standup"},
		{invited("retro", signaling.Ringing, ""), "standup,retro"},
		{invited("standup", signaling.Ringing, ""), "standup,retro"},
		{invited("standup", signaling.Rejected, "declined"), "retro"},
		{invited("lunch", signaling.Ringing, ""), "retro,lunch"},
		{invited("retro", signaling.Unanswered, "room ended"), "lunch"},
		// Someone else's invitation is not yours.
		{roomEv(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: "lunch", User: "carol", By: "bob",
			Status: signaling.Unanswered}), "lunch"},
		{invited("lunch", signaling.Answered, ""), ""},
		{invited("lunch", signaling.Ringing, ""), "lunch"},
		// Offline, the end of an invitation would not be told: it goes.
		{ev(call.Connected{}), ""},
	}
	for i, s := range steps {
		m.Update(s.msg)
		if got := rooms(); got != s.want {
			t.Fatalf("step %d: ringing %q; want %q", i, got, s.want)
		}
		if got := m.bannerUp(); got != (s.want != "") {
			t.Errorf("step %d: banner up %t with %q ringing", i, got, s.want)
		}
	}

	// The host sees how the others' invitations went; a member does not.
	for _, role := range []signaling.RoomRole{signaling.RoleHost, signaling.RoleMember} {
		m := newGoldenModel(scenario{name: "room"}, 80, 24)
		drive(m, concat(startMsgs(), inRoom("retro", role)))
		drive(m, inviteScreens()[3].msgs[len(startMsgs())+len(inRoom("retro", role)):])
		var got []string
		for _, l := range m.room.Log {
			got = append(got, l.Text)
		}
		want := "Ringing gus…|frank declined the invitation|gus did not answer the invitation"
		if role != signaling.RoleHost {
			want = ""
		}
		if strings.Join(got, "|") != want {
			t.Errorf("%s's log = %q; want %q", role, strings.Join(got, "|"), want)
		}
		if m.bannerUp() {
			t.Errorf("%s: others' invitations ring here", role)
		}
	}
}

// TestFlowRoomRejoining: while the Phone joins the room again, the room
// view stays with its participants and says "rejoining… (why)"; joined
// again, the header is back and the participants are the new ones; a
// rejoin given up ends the room view with the reason.
func TestFlowRoomRejoining(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "standup", signaling.RoleMember)
	f.phone.push(call.RoomRejoining{Room: "standup", Reason: "the media connection to the room failed"})
	f.waitFor("rejoining… (the media connection to the room failed)", "5 people", "Bob Builder (bob)",
		"Carol Jones (carol)")
	people := roomPeople(signaling.RoleMember)[:4] // erin did not come back
	f.phone.push(call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup",
		User: "alice", Role: signaling.RoleMember, Time: f.clock.Now(), Participants: people}})
	f.waitFor("4 people")
	f.phone.push(call.RoomRejoining{Room: "standup", Reason: "lost the connection to the server"})
	f.waitFor("rejoining… (lost the connection to the server)", "4 people")
	f.phone.push(
		call.RoomFailure{Room: "standup", Err: signaling.Errorf(signaling.UnknownError,
			"could not join room standup again within 30s: check the network and the server, then join it again")},
		call.RoomLeft{Room: "standup", Reason: call.RoomLeftFailed, Err: signaling.Errorf(signaling.UnknownError,
			"could not join room standup again within 30s")})
	rooms.expectReads(t, 1)
	f.waitFor("You are no longer in the room standup: could not join room standup again", "within 30s.")
	f.press("q")
	m := f.finish()
	f.phone.expectNoCalls(t)
	if m.room != nil {
		t.Errorf("room after the rejoin was given up: %+v", m.room)
	}
}

// TestRoomRejoiningApplied: the rejoining state is kept until joined, and
// events of another room, or while not in one, change nothing.
func TestRoomRejoiningApplied(t *testing.T) {
	m := newGoldenModel(scenario{name: "room"}, 80, 24)
	drive(m, startMsgs())
	m.Update(rejoining()) // in no room
	if m.room != nil {
		t.Fatalf("rejoining in no room made one: %+v", m.room)
	}
	drive(m, inRoom("standup", signaling.RoleMember))
	m.Update(ev(call.RoomRejoining{Room: "retro", Reason: "x"}))
	if r := m.room; r.Rejoining != "" {
		t.Errorf("rejoining of another room shown: %q", r.Rejoining)
	}
	m.Update(rejoining())
	r := m.room
	if r.Rejoining != "the media connection to the room failed" || len(r.People) != 5 || m.screen != screenRoom {
		t.Fatalf("rejoining: %+v, screen %v", r, m.screen)
	}
	if bob, _ := r.Person("bob"); bob.Level != 0 {
		t.Errorf("bob heard at %v while rejoining", bob.Level)
	}
	m.Update(ev(call.RoomLeft{Room: "standup", Reason: "left"})) // not a failure: kept
	m.Update(roomEv(signaling.RoomEvent{Kind: signaling.RoomJoined, User: "alice", Role: signaling.RoleMember,
		Participants: roomPeople(signaling.RoleMember)}))
	if m.room != r || r.Rejoining != "" || !r.Joined.Equal(t0.Add(-5*time.Minute)) {
		t.Errorf("joined again: %+v; want the same room, joined at %v", r, t0.Add(-5*time.Minute))
	}
}
