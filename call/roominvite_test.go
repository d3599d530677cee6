package call_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/roomtest"
	"github.com/parley-voice/parley/signaling"
)

// TestRoomInvitation: an invitation to a room rings the phone, which is
// in no room: RoomChanged invited, ringing, with who invites; DeclineRoom
// rejects it with a room_leave of that room; its end (rejected) is
// reported too, and the phone opened no device for it.
func TestRoomInvitation(t *testing.T) {
	stub := roomtest.NewSignaling(t, "bob")
	var opened atomic.Int32
	counted := devices{
		source: func(n int) (audio.Source, error) { opened.Add(1); return tone(440)(n) },
		sink:   func(n int) (audio.Sink, error) { opened.Add(1); return null(n) },
	}
	ph, err := call.Start(context.Background(), call.Config{Server: stub.URL, Token: "t", Devices: counted})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	if _, ok := nextRoom(t, ph).(call.Connected); !ok {
		t.Fatal("not connected first")
	}
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: "sync", User: "bob", By: "alice",
		Status: signaling.Ringing}, "")
	if rc := roomChanged(t, ph, signaling.RoomInvited); rc.Room != "sync" || rc.User != "bob" || rc.By != "alice" ||
		rc.Status != signaling.Ringing {
		t.Fatalf("invited %+v", rc)
	}
	ph.DeclineRoom("sync")
	if m := stub.Expect(signaling.TypeRoomLeave); m.Room != "sync" || m.Ref == "" {
		t.Fatalf("decline: %+v", m)
	}
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomInvited, Room: "sync", User: "bob", By: "alice",
		Status: signaling.Rejected, Reason: "declined"}, "")
	if rc := roomChanged(t, ph, signaling.RoomInvited); rc.Room != "sync" || rc.Status != signaling.Rejected ||
		rc.Reason != "declined" {
		t.Fatalf("rejected %+v", rc)
	}
	if n := opened.Load(); n != 0 {
		t.Fatalf("%d devices opened for an invitation", n)
	}
}
