package ui

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
)

// lobbyKnocks are two guests knocking on the room standup: Dana, then Eve.
func lobbyKnocks() []tea.Msg {
	return msgs(
		roomEv(signaling.RoomEvent{Kind: signaling.RoomKnock, User: "guest-d1", Name: "Dana",
			Role: signaling.RoleGuest}),
		roomEv(signaling.RoomEvent{Kind: signaling.RoomKnock, User: "guest-e2", Name: "Eve",
			Role: signaling.RoleGuest}))
}

// TestFlowRoomLobby: a guest's knock rings like a call (the bell, the
// banner "Guest Dana is waiting · a let in · r turn away"); a lets the
// first guest in and r turns the next away (the Phone's Admit and
// TurnAway); what the server says then is logged; a guest who leaves the
// lobby is gone from the banner; with nobody waiting, a and r do nothing.
func TestFlowRoomLobby(t *testing.T) {
	f, rooms := startRoomFlow(t)
	joinRoomFlow(t, f, rooms, "standup", signaling.RoleMember)

	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomKnock, User: "guest-d1", Name: "Dana",
		Role: signaling.RoleGuest}))
	f.waitFor("Guest Dana is waiting", "a let in · r turn away")
	select {
	case b := <-f.bell:
		if b != "\a" {
			t.Errorf("bell wrote %q; want BEL", b)
		}
	case <-time.After(wait):
		t.Fatal("the bell did not ring for the knock")
	}
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomKnock, User: "guest-e2", Name: "Eve",
		Role: signaling.RoleGuest}))
	f.waitFor("Guest Dana is waiting (1 more after them)")
	f.press("a")
	f.phone.expectCalls(t, "Admit(guest-d1)")
	f.waitFor("Guest Eve is waiting")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomAdmitted, User: "guest-d1", Name: "Dana",
		By: "alice"}))
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "guest-d1", Name: "Dana",
		Role: signaling.RoleGuest}))
	f.waitFor("You let Dana in", "Dana joined as a guest", "6 people")
	f.press("r")
	f.phone.expectCalls(t, "TurnAway(guest-e2)")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomTurnedAway, User: "guest-e2", Name: "Eve",
		By: "alice"}))
	f.waitFor("You turned Eve away")

	// A guest who leaves the lobby leaves the banner.
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.RoomKnock, User: "guest-f3", Name: "Fay",
		Role: signaling.RoleGuest}))
	f.waitFor("Guest Fay is waiting")
	f.phone.push(roomEvent(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "guest-f3",
		Reason: signaling.LeftLeft}))
	f.waitFor("Guest Fay left the lobby")
	f.press("a", "r") // nobody waits: nothing to do

	f.press("l")
	f.phone.expectCalls(t, "LeaveRoom()")
	rooms.expectReads(t, 1)
	f.waitFor("You left the room standup.")
	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}
