package call_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/roomtest"
	"github.com/parley-voice/parley/signaling"
)

// TestRoomRejoinsWhenMediaFails: the room's node dies under a muted
// participant. Its peer connection fails within about 2 s, and the phone
// says RoomRejoining and sends room_join again by itself: a new ref, a new
// offer (new ICE credentials), still muted, not listen-only. The server
// refuses it with 80999 (as when it asked the dead node): the phone joins
// again a second later, telling nothing of it. A node answers that; the
// phone is in the room again (RoomChanged joined), its microphone's
// packets reach that node, and the slots' tones it sends are heard.
func TestRoomRejoinsWhenMediaFails(t *testing.T) {
	rec := audiotest.NewRecorder(true)
	stub, ph, node, join := joinStubRoom(t, devices{source: tone(440), sink: record(rec)}, call.RoomOptions{})
	got := func(n *roomtest.Node, what string) {
		t.Helper()
		select {
		case <-n.Got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no packet from the microphone within 5 s", what)
		}
	}
	got(node, "the first node")
	ph.SetMuted(true)
	stub.Expect(signaling.TypeRoomMute)

	killed := time.Now()
	node.Kill()
	for {
		ev := nextRoom(t, ph)
		if r, ok := ev.(call.RoomRejoining); ok {
			took := time.Since(killed)
			t.Logf("rejoining %v after the node died: %s", took.Round(time.Millisecond), r.Reason)
			if r.Room != "standup" || r.Reason != "the media connection to the room failed" {
				t.Fatalf("rejoining: %+v", r)
			}
			if took > 4*time.Second {
				t.Errorf("rejoining %v after the node died, want within 4 s", took.Round(time.Millisecond))
			}
			break
		}
		switch ev.(type) {
		case call.RoomLeft, call.RoomFailure:
			t.Fatalf("got %#v, want RoomRejoining", ev)
		}
	}
	again := stub.Expect(signaling.TypeRoomJoin)
	if again.Room != "standup" || again.Ref == join.Ref || again.ListenOnly || again.Muted == nil || !*again.Muted {
		t.Fatalf("room_join again: room %s, ref %s (first %s), listen_only %v, muted %v; want standup, a new ref, "+
			"muted", again.Room, again.Ref, join.Ref, again.ListenOnly, again.Muted)
	}
	if ufrag(again.SDP) == "" || ufrag(again.SDP) == ufrag(join.SDP) {
		t.Errorf("the offer again has ICE ufrag %q (first %q), want a new one", ufrag(again.SDP), ufrag(join.SDP))
	}
	refused := time.Now()
	stub.Refuse(again.Ref, signaling.Errorf(signaling.UnknownError, "room standup did not respond: timeout; try again"))
	third := stub.Expect(signaling.TypeRoomJoin)
	t.Logf("room_join a third time %v after the refusal", time.Since(refused).Round(time.Millisecond))
	if third.Ref == again.Ref || ufrag(third.SDP) == ufrag(again.SDP) || third.Muted == nil || !*third.Muted {
		t.Fatalf("room_join a third time: ref %s, muted %v; want a new ref and offer, muted", third.Ref, third.Muted)
	}
	again = third
	node2, answer := roomtest.NewNode(t, again.SDP, [signaling.RoomSlots]int64{700, 1100, 1700})
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice",
		Role: signaling.RoleMember}, answer)
	roomChanged(t, ph, signaling.RoomJoined)
	t.Logf("in the room again %v after the node died", time.Since(killed).Round(time.Millisecond))
	got(node2, "the second node")
	if levels, _ := node2.Received(); len(levels) == 0 || levels[len(levels)-1] != 127 {
		t.Errorf("the second node got levels %v, want silence (127): the phone is muted", levels)
	}

	// The slots' streams start one by one, each through its jitter buffer:
	// the last half second is taken every quarter second until all three
	// are heard at their level, for up to 10 s (a slot that started late
	// on a loaded machine was heard at 0.12 a second after the rejoin).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mix []int16
	quiet := func() (miss string) { // the slots' tones not heard at their level in mix
		for _, hz := range []float64{700, 1100, 1700} {
			if a := audiotest.Goertzel(mix, hz); a < 0.15 || a > 0.25 {
				miss += fmt.Sprintf(" %.0f Hz at %.3f", hz, a)
			}
		}
		return miss
	}
	for {
		if err := rec.Wait(ctx, rec.Len()+audio.SampleRate/4); err != nil {
			t.Fatalf("after the rejoin,%s, want %.2f ± 0.05 within 10 s: %v", quiet(), roomtest.SlotAmp, err)
		}
		if mix = rec.Samples(); len(mix) >= audio.SampleRate/2 {
			if mix = mix[len(mix)-audio.SampleRate/2:]; quiet() == "" {
				break
			}
		}
	}
	if a := audiotest.Goertzel(mix, 600); a > 0.01 {
		t.Errorf("after the rejoin, 600 Hz, of the dead node, is heard at %.3f", a)
	}
}

// ufrag is the first ICE username fragment of an SDP.
func ufrag(sdp string) string {
	_, rest, ok := strings.Cut(sdp, "a=ice-ufrag:")
	if !ok {
		return ""
	}
	u, _, _ := strings.Cut(rest, "\r\n")
	return u
}

// TestRoomRejoinsAfterReconnect: the signaling connection drops under a
// phone in a room. The room is kept (RoomRejoining, not RoomLeft); once
// the phone is connected again, it sends room_join again with a fresh
// offer, and is in the room again when it is answered, its microphone
// going on over the new connection.
func TestRoomRejoinsAfterReconnect(t *testing.T) {
	stub := roomtest.NewSignaling(t, "alice")
	ph, err := call.Start(context.Background(), call.Config{Server: stub.URL, Token: "t", Reconnect: true,
		Devices: devices{source: tone(440), sink: null}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if _, ok := nextRoom(t, ph).(call.Connected); !ok {
		t.Fatal("not connected first")
	}
	ph.JoinRoom("standup", call.RoomOptions{})
	join := stub.Expect(signaling.TypeRoomJoin)
	node, answer := roomtest.NewNode(t, join.SDP, [signaling.RoomSlots]int64{600, 1000, 1500})
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice",
		Role: signaling.RoleMember}, answer)
	roomChanged(t, ph, signaling.RoomJoined)
	select { // the media is up: the microphone's packets arrive
	case <-node.Got:
	case <-time.After(10 * time.Second):
		t.Fatal("no packet from the microphone within 10 s")
	}

	stub.Drop()
	var rejoining, down, back bool
	for !back {
		switch ev := nextRoom(t, ph).(type) {
		case call.RoomRejoining:
			if ev.Reason != "lost the connection to the server" {
				t.Fatalf("rejoining: %+v", ev)
			}
			rejoining = true
		case call.Connected:
			down, back = down || !ev.Up, down && ev.Up
		case call.RoomLeft, call.RoomFailure:
			t.Fatalf("got %#v: the room was not kept", ev)
		}
	}
	if !rejoining {
		t.Fatal("connected again, with no RoomRejoining before")
	}
	again := stub.Expect(signaling.TypeRoomJoin)
	if again.Ref == join.Ref || again.ListenOnly || again.Muted != nil || ufrag(again.SDP) == ufrag(join.SDP) {
		t.Fatalf("room_join again: ref %s (first %s), listen_only %v, muted %v; want a new ref and offer, as "+
			"the first", again.Ref, join.Ref, again.ListenOnly, again.Muted)
	}
	node2, answer := roomtest.NewNode(t, again.SDP, [signaling.RoomSlots]int64{700, 1100, 1700})
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice",
		Role: signaling.RoleMember}, answer)
	roomChanged(t, ph, signaling.RoomJoined)
	select { // the microphone goes on, over the new connection
	case <-node2.Got:
	case <-time.After(10 * time.Second):
		t.Fatal("no packet from the microphone on the new connection within 10 s")
	}
}
