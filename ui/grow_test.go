package ui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// grownRoom is the room alice's call with bob grows into.
const grownRoom = "call-7kq2m9xa"

// grewMsgs move the call into grownRoom: the Phone's Grew, the join (alice
// the host, bob in), carol rung, and the call's end as it moved.
func grewMsgs() []tea.Msg {
	return msgs(
		ev(call.Grew{CallID: "c1", Room: grownRoom, Peer: "bob", Host: true}),
		roomEv(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: grownRoom, User: "alice", Role: signaling.RoleHost,
			Participants: []signaling.Participant{{User: "alice", Role: signaling.RoleHost, Joined: t0},
				{User: "bob", Role: signaling.RoleMember, Joined: t0}}}),
		roomEv(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: grownRoom, User: "carol", By: "alice",
			Status: signaling.Ringing, Call: "c1"}),
		ev(call.StatusChanged{CallEvent: signaling.CallEvent{ID: "c1", Status: signaling.Completed,
			Direction: signaling.Outbound, From: "alice", To: "bob", Reason: signaling.ReasonMovedToRoom}, At: t0}),
	)
}

// growScreens are the golden scenarios of growing a call (rooms on: their
// names start with room).
func growScreens() []scenario {
	inCallWithRooms := concat(startMsgs(), inCall(), msgs(stats()))
	return []scenario{
		{"room_grow_in_call", inCallWithRooms}, // + add someone in the footer
		{"room_grow_prompt", concat(inCallWithRooms, msgs(press("+")), typeText("carol"))},
		{"room_grow_moving", concat(inCallWithRooms, msgs(common.AddToCallMsg{User: "carol"}), grewMsgs()[:1])},
		{"room_grown", concat(inCallWithRooms, msgs(common.AddToCallMsg{User: "carol"}), grewMsgs())},
	}
}

// TestFlowGrowCall: in an answered call, + asks whom to add, enter asks
// the Phone to grow the call (Grow); the Phone's Grew shows the room,
// joining, as grown from the call; once joined, the call's end (moved to
// room) goes to the recent calls without a notice, the room view stays.
func TestFlowGrowCall(t *testing.T) {
	f, _ := startRoomFlow(t)
	f.press("c")
	for _, r := range "bob" {
		f.press(string(r))
	}
	f.press("enter")
	f.phone.expectCalls(t, "Dial(bob)")
	f.phone.push(statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", t0),
		statusEvent("c1", signaling.Answered, signaling.Outbound, "alice", "bob", t0))
	f.waitFor("+ add someone")
	f.press("+")
	f.waitFor("Add someone to the call")
	for _, r := range "carol" {
		f.press(string(r))
	}
	f.press("enter")
	f.phone.expectCalls(t, "Grow(carol)")
	f.waitFor("Adding Carol Jones: the call becomes a room")
	f.phone.push(call.Grew{CallID: "c1", Room: grownRoom, Peer: "bob", Host: true})
	f.waitFor("Your call with Bob Builder becomes the room " + grownRoom)
	for _, m := range grewMsgs()[1:] {
		f.phone.push(m.(eventMsg).event)
	}
	f.waitFor("Room "+grownRoom, "grown from your call with Bob Builder", "Your call with Bob Builder moved into")
	f.press("l")
	f.phone.expectCalls(t, "LeaveRoom()") // the call is over: no hang-up
	f.press("q")
	m := f.finish()
	if len(m.records) == 0 || m.records[0].CallID != "c1" || m.records[0].Reason != signaling.ReasonMovedToRoom {
		t.Errorf("the recent calls start with %+v, want the call that moved", m.records[:min(1, len(m.records))])
	}
}
