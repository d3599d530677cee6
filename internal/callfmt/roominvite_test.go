package callfmt_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// invitations: what bob's phone reports when carol's room rings him and he
// rejects it; then, as the host in the room, of dave's and erin's.
func invitations() []call.Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(room string, e signaling.RoomEvent) call.RoomChanged {
		e.Kind, e.Room, e.Time = signaling.RoomInvited, room, t0
		return call.RoomChanged{RoomEvent: e}
	}
	return []call.Event{
		ev("sync", signaling.RoomEvent{User: "bob", By: "carol", Status: signaling.Ringing}),
		ev("sync", signaling.RoomEvent{User: "bob", By: "carol", Status: signaling.Rejected, Reason: "declined"}),
		call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "mine", Time: t0,
			User: "bob", Role: signaling.RoleHost}},
		ev("mine", signaling.RoomEvent{User: "dave", By: "bob", Status: signaling.Ringing}),
		ev("mine", signaling.RoomEvent{User: "dave", By: "bob", Status: signaling.Answered}),
		ev("mine", signaling.RoomEvent{User: "erin", By: "bob", Status: signaling.Unanswered, Reason: "no answer"}),
	}
}

// TestInvitedText: an invitation to you says how to answer it; in a room,
// the invitations of others say where they are.
func TestInvitedText(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, false, time.Second)
	for _, ev := range invitations() {
		p.Print(ev)
	}
	want := "carol invites you to room sync: join it with `parley join sync`, or `parley answer`\n" +
		"invitation to room sync rejected\n" +
		"joined room mine as host; nobody else is here yet\n" +
		"ringing dave\n" +
		"dave answered\n" +
		"erin did not answer: no answer\n"
	if out.String() != want || errOut.Len() != 0 {
		t.Fatalf("got\n%s\nstderr %q; want\n%s", out.String(), errOut.String(), want)
	}
}

// TestInvitedJSON: an invitation's --json line carries its status.
func TestInvitedJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, true, time.Second)
	p.Print(invitations()[5])
	want := `{"event":"invited","time":"2026-01-02T03:04:05.000Z","room":"mine","user":"erin","by":"bob",` +
		`"reason":"no answer","status":"unanswered"}` + "\n"
	if out.String() != want {
		t.Fatalf("got  %s want %s", out.String(), want)
	}
}
