package call_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestRoomQuality: three phones in a room of a real server; everything
// alice sends goes through a seeded 10 % random loss, from before she
// joins. Each phone is told (room_event quality) that alice's connection
// is poor with high-packet-loss and a loss of 10 % ± 4, and that bob's and
// carol's are good with a loss under 1 %; then, the grades holding, no
// more quality events come for 10 s. Healed, alice is good again, told in
// events that name her alone. Each phone gets one event per change at
// most: a room whose connections hold steady sends none.
func TestRoomQuality(t *testing.T) {
	r := newRig(t, server.Config{})
	im := newImpairment(17)
	im.set(func(im *impairment) { im.loss = 0.10 })
	im.on.Store(true)
	lossy := func(cfg *call.Config) { cfg.Net = newLossyNet(im) }
	alice := r.phoneWith("alice", devices{tone(440), null}, lossy)
	bob := r.phone("bob", devices{tone(660), null})
	carol := r.phone("carol", devices{tone(880), null})

	tok, err := r.srv.IssueToken(context.Background(), "alice", server.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := signaling.API{Server: r.url, Token: func(context.Context) (string, error) { return tok, nil }}
	if _, err := api.CreateRoom(context.Background(), signaling.RoomRequest{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	parties := []*party{alice, bob, carol}
	for _, p := range parties {
		p.ph.JoinRoom("q", call.RoomOptions{})
		p.roomEvent(signaling.RoomJoined, 15*time.Second)
	}

	for _, p := range parties {
		known := map[string]signaling.Quality{}
		events := 0
		deadline := time.Now().Add(30 * time.Second)
		for len(known) < 3 || known["alice"].Grade != signaling.GradePoor {
			ev := p.roomEvent(signaling.RoomQuality, time.Until(deadline))
			events++
			for _, q := range ev.Quality {
				known[q.User] = q
			}
		}
		a, b, c := known["alice"], known["bob"], known["carol"]
		t.Logf("%s, after %d events: alice %+v; bob %+v; carol %+v", p.name, events, a, b, c)
		if a.Loss < 0.06 || a.Loss > 0.14 || !slices.Contains(a.Problems, signaling.WarnHighLoss) {
			t.Errorf("%s: alice's loss %.1f %% (%v), want 10 ± 4 %% and %s", p.name, 100*a.Loss, a.Problems,
				signaling.WarnHighLoss)
		}
		for _, q := range []signaling.Quality{b, c} {
			if q.Grade != signaling.GradeGood || q.Loss > 0.01 {
				t.Errorf("%s: %s's connection %+v, want good with loss under 1 %%", p.name, q.User, q)
			}
		}
		// Alice poor and the others good came as one change each at most.
		if events > 3 {
			t.Errorf("%s: %d quality events before everyone was rated, want at most 3", p.name, events)
		}
	}
	// Nothing changes: nothing is told.
	quiet := time.Now().Add(10 * time.Second)
	for _, p := range parties {
		if ev, ok := p.maybeRoomEvent(signaling.RoomQuality, time.Until(quiet)); ok {
			t.Errorf("%s: told %+v while nothing changed", p.name, ev.Quality)
		}
	}
	// Alice's network heals: everyone is told of her alone, good again
	// (perhaps fair on the way, while the window still holds some loss).
	im.set(func(im *impairment) { im.loss = 0 })
	healed := time.Now()
	for _, p := range parties {
		events := 0
		for grade := signaling.Grade(""); grade != signaling.GradeGood; {
			ev := p.roomEvent(signaling.RoomQuality, time.Until(healed.Add(20*time.Second)))
			events++
			if len(ev.Quality) != 1 || ev.Quality[0].User != "alice" {
				t.Fatalf("%s: told %+v, want alice's alone", p.name, ev.Quality)
			}
			grade = ev.Quality[0].Grade
		}
		t.Logf("%s: alice good again %v after the network healed, in %d events", p.name,
			time.Since(healed).Round(time.Second), events)
		if events > 2 {
			t.Errorf("%s: %d events until alice was good again, want at most 2", p.name, events)
		}
	}
}

// roomEvent waits up to within for the phone's next room event of kind,
// passing over others.
func (p *party) roomEvent(kind signaling.RoomEventKind, within time.Duration) call.RoomChanged {
	p.t.Helper()
	ev, ok := p.maybeRoomEvent(kind, within)
	if !ok {
		p.t.Fatalf("%s: no room event %s within %v", p.name, kind, within)
	}
	return ev
}

// maybeRoomEvent is roomEvent that reports none within as false; a
// failure or the room left fails the test.
func (p *party) maybeRoomEvent(kind signaling.RoomEventKind, within time.Duration) (call.RoomChanged, bool) {
	p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				p.t.Fatalf("%s: phone stopped", p.name)
			}
			switch ev := ev.(type) {
			case call.RoomChanged:
				if ev.Kind == kind {
					return ev, true
				}
			case call.RoomFailure:
				p.t.Fatalf("%s: room failure %v", p.name, ev.Err)
			case call.RoomLeft:
				p.t.Fatalf("%s: left the room: %s %v", p.name, ev.Reason, ev.Err)
			}
		case <-timeout:
			return call.RoomChanged{}, false
		}
	}
}
