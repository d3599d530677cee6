//go:build e2e

package server

import (
	"slices"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// TestRoomMedia: four speakers with distinct tones and a listener in one
// room, through the server's forwarder with real Pion peers. Each speaker
// hears the three others (each tone found by Goertzel above heardAbove in
// its decoded slots) and not itself (under quietBelow); the listener's tone
// is never forwarded. The host mutes one: that tone goes under quietBelow
// for everyone and the muted one is told by whom. A removed participant is
// told, their peer connection closes and the others hear why they left;
// the end reaches everyone.
func TestRoomMedia(t *testing.T) {
	s := startServer(t)
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup"})
	users := []string{"alice", "bob", "carol", "dave"}
	tones := []float64{440, 660, 880, 1100}
	const listenerTone = 1320
	all := append(slices.Clone(tones), listenerTone)
	var peers []*peer
	for i, u := range users {
		peers = append(peers, joinRoom(t, s.connect(t, u, ""), "standup", tones[i], false))
	}
	erin := joinRoom(t, s.connect(t, "erin", ""), "standup", listenerTone, true)
	toneOf := map[string]float64{"alice": 440, "bob": 660, "carol": 880, "dave": 1100, "erin": listenerTone}
	others := func(p *peer, except ...float64) []float64 {
		var out []float64
		for _, f := range tones {
			if f != p.tone && !slices.Contains(except, f) {
				out = append(out, f)
			}
		}
		return out
	}
	for _, p := range peers {
		p.hears(all, others(p), []float64{listenerTone})
	}
	// The listener hears three of the four speakers, as the speaking
	// event says.
	erin.mark()
	erin.hearsSpeakers(all, toneOf, []float64{listenerTone})

	// The host mutes bob.
	alice, bob, carol := peers[0], peers[1], peers[2]
	yes := true
	alice.c.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Target: "bob", Muted: &yes})
	for _, p := range append(slices.Clone(peers), erin) {
		e := p.event(kind(signaling.RoomMuted)).RoomEvent
		if e.User != "bob" || e.By != "alice" || e.Muted == nil || !*e.Muted || e.Locked != nil {
			t.Fatalf("%s: muted %s", p.c.name, js(e))
		}
		p.mark()
	}
	for _, p := range peers {
		if p == bob {
			p.hears(all, others(p), []float64{listenerTone})
		} else {
			p.hears(all, others(p, 660), []float64{listenerTone})
		}
	}

	// The host removes carol.
	alice.c.send(signaling.Message{Type: signaling.TypeRoomRemove, Room: "standup", Target: "carol"})
	if e := carol.event(kind(signaling.RoomRemoved)).RoomEvent; e.By != "alice" {
		t.Fatalf("removed: %s", js(e))
	}
	carol.waitState(webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed,
		webrtc.PeerConnectionStateDisconnected)
	for _, p := range []*peer{alice, bob, peers[3], erin} {
		e := p.event(kind(signaling.ParticipantLeft)).RoomEvent
		if e.User != "carol" || e.Reason != signaling.LeftRemoved || e.By != "alice" {
			t.Fatalf("%s: left %s", p.c.name, js(e))
		}
		p.mark()
	}
	// What was on its way when the event was sent may still come: the
	// tones of bob and carol must be gone from the last half second.
	alice.hears(all, []float64{1100}, []float64{listenerTone})

	alice.c.send(signaling.Message{Type: signaling.TypeRoomEnd, Room: "standup"})
	for _, p := range []*peer{alice, bob, peers[3], erin} {
		if e := p.event(kind(signaling.RoomEnded)).RoomEvent; e.Reason != signaling.EndedByHost {
			t.Fatalf("%s: ended %s", p.c.name, js(e))
		}
	}
}

// TestRoomFiveSpeakers: with five speakers, each participant hears exactly
// RoomSlots others, those its speaking event names; when one of those is
// muted, the waiting speaker takes the slot, and the slot's sequence
// numbers go on without a jump (every step 1) and its timestamps by at
// least a frame.
func TestRoomFiveSpeakers(t *testing.T) {
	s := startServer(t)
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "crowd"})
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	toneOf := map[string]float64{}
	var all []float64
	var peers []*peer
	for i, u := range users {
		f := 440 + 220*float64(i)
		toneOf[u] = f
		all = append(all, f)
		peers = append(peers, joinRoom(t, s.connect(t, u, ""), "crowd", f, false))
	}
	for _, p := range peers {
		if want := p.hearsSpeakers(all, toneOf, []float64{p.tone}); slices.Contains(want, p.tone) {
			t.Fatalf("%s: speaking %v names themselves", p.c.name, p.speaker)
		}
	}
	// erin, who joined last, hears three of the first four; the host
	// mutes one of them who is not the host, and the fourth takes the slot.
	erin := peers[4]
	erin.drain()
	var muted string
	for _, u := range erin.speaker {
		if u != "alice" {
			muted = u
			break
		}
	}
	k := slices.Index(erin.speaker, muted)
	yes := true
	peers[0].c.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "crowd", Target: muted, Muted: &yes})
	erin.event(func(m signaling.Message) bool {
		return m.RoomEvent.Kind == signaling.RoomMuted && m.RoomEvent.User == muted
	})
	erin.mark()
	erin.hearsSpeakers(all, toneOf, []float64{erin.tone}) // the muted one's tone: gone from the last half second
	if slices.Contains(erin.speaker, muted) {
		t.Fatalf("erin still hears %s: %v", muted, erin.speaker)
	}
	erin.mu.Lock()
	defer erin.mu.Unlock()
	rec := erin.slots["slot"+string(rune('0'+k))]
	if rec == nil || len(rec.seqs) < 50 {
		t.Fatalf("slot %d of erin: %v", k, rec)
	}
	jumps := 0
	for i := 1; i < len(rec.seqs); i++ {
		if d := rec.seqs[i] - rec.seqs[i-1]; d != 1 {
			jumps++
			t.Errorf("slot %d: sequence number %d after %d", k, rec.seqs[i], rec.seqs[i-1])
		}
		if d := rec.tss[i] - rec.tss[i-1]; d < 960 || d > 48000 {
			t.Errorf("slot %d: timestamp step %d (want 960 to 48000)", k, d)
		}
	}
	t.Logf("slot %d of erin: %d packets, %d jumps in sequence numbers across the change from %s", k, len(rec.seqs),
		jumps, muted)
}
