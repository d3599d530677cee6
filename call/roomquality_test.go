package call_test

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestRoomQuality: three phones in a room of a real server; everything
// alice sends goes through a seeded 10 % random loss, from before she
// joins. Each phone is told (room_event quality) that alice's connection
// has high-packet-loss (poor) at 10 % ± 4, and bob's and carol's a loss
// under 1 %, without it. For 10 s then, the RoomStats of bob and carol
// show 5 % ± 3.5 of what reaches them lost (alice's stream lost 10 %, the
// other's nothing) and alice's 0 ± 3.5. Healed, alice's connection loses
// high-packet-loss. All along, each event has only connections whose grade
// or problems changed, and comes 2 s after the last at the soonest: on a
// quiet machine, none come while nothing changes. (Jitter and round trip
// are the machine's: a loaded one starves the processes, and grades them
// fair or poor; the test asks nothing of them.)
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
	var ws []*roomWatch
	for _, p := range parties {
		p.ph.JoinRoom("q", call.RoomOptions{})
		p.roomEvent(signaling.RoomJoined, 15*time.Second)
		ws = append(ws, &roomWatch{p: p, known: map[string]signaling.Quality{}})
	}
	losing := func(q signaling.Quality) bool { return slices.Contains(q.Problems, signaling.WarnHighLoss) }
	// check fails on what is not a change, and on events that come too
	// close: at most one per 2 s (and one for the ticks' slack) in d.
	check := func(phase string, d time.Duration) {
		t.Helper()
		for _, w := range ws {
			if w.closed {
				t.Fatalf("%s: the phone stopped", w.p.name)
			}
			for _, q := range w.repeats {
				t.Errorf("%s, %s: told %+v again, unchanged", w.p.name, phase, q)
			}
			if n, most := len(w.quality), int(d/(2*time.Second))+1; n > most {
				t.Errorf("%s, %s: %d quality events in %v, want at most %d", w.p.name, phase, n, d.Round(time.Second),
					most)
			}
			t.Logf("%s, %s: %d quality events", w.p.name, phase, len(w.quality))
		}
	}

	start := time.Now()
	watchRooms(ws, 40*time.Second, func(w *roomWatch) bool {
		_, b := w.known["bob"]
		_, c := w.known["carol"]
		return b && c && losing(w.known["alice"])
	})
	check("until rated", time.Since(start))
	for _, w := range ws {
		a, b, c := w.known["alice"], w.known["bob"], w.known["carol"]
		t.Logf("%s: alice %+v; bob %+v; carol %+v", w.p.name, a, b, c)
		if a.Loss < 0.06 || a.Loss > 0.14 || !losing(a) || a.Grade != signaling.GradePoor {
			t.Errorf("%s: alice's connection %+v, want poor with %s at 10 ± 4 %%", w.p.name, a, signaling.WarnHighLoss)
		}
		for _, q := range []signaling.Quality{b, c} {
			if q.Loss > 0.01 || losing(q) {
				t.Errorf("%s: %s's connection %+v, want a loss under 1 %%", w.p.name, q.User, q)
			}
		}
	}

	// What reaches each phone, for 10 s.
	for _, w := range ws {
		w.quality, w.stats = nil, nil
	}
	watchRooms(ws, 10*time.Second, nil)
	check("10 s later", 10*time.Second)
	for _, w := range ws {
		if len(w.stats) < 3 {
			t.Fatalf("%s: %d RoomStats in 10 s, want one a second", w.p.name, len(w.stats))
		}
		loss := 0.0
		for _, st := range w.stats {
			loss += st.Loss / float64(len(w.stats))
		}
		want := 0.05
		if w.p == alice {
			want = 0
		}
		last := w.stats[len(w.stats)-1]
		t.Logf("%s: %d RoomStats, loss %.1f %% on average; the last: RTT %v, jitter %v, MOS %.2f", w.p.name,
			len(w.stats), 100*loss, last.RTT, last.Jitter, last.MOS)
		// A starved machine drops a speaker from their slot for a while
		// now and then (a second without packets): less of alice's loss
		// then reaches the others.
		if math.Abs(loss-want) > 0.035 {
			t.Errorf("%s: what reaches them lost %.1f %%, want %.0f ± 3.5 %%", w.p.name, 100*loss, 100*want)
		}
	}

	// Alice's network heals.
	im.set(func(im *impairment) { im.loss = 0 })
	healed := time.Now()
	for _, w := range ws {
		w.quality = nil
	}
	watchRooms(ws, 25*time.Second, func(w *roomWatch) bool { return !losing(w.known["alice"]) })
	check("healed", time.Since(healed))
	for _, w := range ws {
		a := w.known["alice"]
		t.Logf("%s: alice %+v, %v after the network healed", w.p.name, a, time.Since(healed).Round(time.Second))
		if losing(a) || a.Loss > signaling.HighLoss {
			t.Errorf("%s: alice's connection %+v 25 s after the network healed, want a loss under 3 %%", w.p.name, a)
		}
	}
}

// roomWatch is what a phone reported while watched: its quality events,
// what they told of each participant (known) and the entries that were no
// change (repeats), its RoomStats, and whether its events ended.
type roomWatch struct {
	p       *party
	known   map[string]signaling.Quality
	quality []call.RoomChanged
	repeats []signaling.Quality
	stats   []call.Stats
	closed  bool
}

func (w *roomWatch) note(ev call.Event) {
	switch ev := ev.(type) {
	case call.RoomChanged:
		if ev.Kind != signaling.RoomQuality {
			return
		}
		w.quality = append(w.quality, ev)
		for _, q := range ev.Quality {
			if k, ok := w.known[q.User]; ok && k.Grade == q.Grade && slices.Equal(k.Problems, q.Problems) {
				w.repeats = append(w.repeats, q)
			}
			w.known[q.User] = q
		}
	case call.RoomStats:
		w.stats = append(w.stats, ev.Stats)
	}
}

// watchRooms reads the phones' events, all at once, each until until
// (nil: never) holds of what it reported, or for d at most.
func watchRooms(ws []*roomWatch, d time.Duration, until func(*roomWatch) bool) {
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := time.After(time.Until(deadline))
			for until == nil || !until(w) {
				select {
				case ev, ok := <-w.p.ph.Events():
					if !ok {
						w.closed = true
						return
					}
					w.note(ev)
				case <-timeout:
					return
				}
			}
		}()
	}
	wg.Wait()
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
