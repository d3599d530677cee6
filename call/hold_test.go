package call_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// sentNow waits for the party's next Stats and returns its packets sent;
// the events before it must be Levels and the like only.
func sentNow(p *party) int64 {
	p.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-p.ph.Events():
			switch ev := ev.(type) {
			case call.Stats:
				return ev.Sent
			case call.Levels, call.Verification, call.Warning:
			default:
				p.t.Fatalf("%s: got %#v, want stats", p.name, ev)
			}
		case <-timeout:
			p.t.Fatalf("%s: no stats within 5s", p.name)
		}
	}
}

// TestHold: Alice holds the call on real Pion peers. Neither side sends a
// packet while it is held (counted across two seconds of stats), Bob is
// told and hears the 425 Hz hold tone and not Alice's 440 Hz, Alice hears
// nothing; the call stays answered. Once she resumes, each hears the
// other's tone again within a second.
func TestHold(t *testing.T) {
	r := newRig(t, server.Config{})
	recA, recB := audiotest.NewRecorder(true), audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{tone(440), record(recA)})
	bob := r.phone("bob", devices{tone(660), record(recB)})
	id := connect(alice, bob)
	heard(t, recA, audio.SampleRate/2)
	heard(t, recB, audio.SampleRate/2)

	// window is rec's next d of audio, starting 300 ms from now.
	window := func(rec *audiotest.Recorder, d time.Duration) []int16 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		from, n := rec.Len()+audio.SampleRate*3/10, int(d*audio.SampleRate/time.Second)
		if err := rec.Wait(ctx, from+n); err != nil {
			t.Fatal(err)
		}
		return rec.Samples()[from : from+n]
	}
	alice.ph.SetHeld(true)
	if ev := alice.next(); ev != (call.Held{CallID: id, Local: true, Held: true, By: "alice"}) {
		t.Fatalf("alice: got %#v, want her own hold", ev)
	}
	if ev := bob.next(); ev != (call.Held{CallID: id, Held: true, By: "alice"}) {
		t.Fatalf("bob: got %#v, want alice's hold", ev)
	}
	sentNow(alice) // what was on its way when she held
	sentNow(bob)
	a0, b0 := sentNow(alice), sentNow(bob)
	heldA, heldB := window(recA, 2*time.Second), window(recB, 2*time.Second)
	a1, b1 := sentNow(alice), sentNow(bob)
	t.Logf("held: alice sent %d packets, bob %d (of %d and %d)", a1-a0, b1-b0, a1, b1)
	if a1 != a0 || b1 != b0 || a0 == 0 || b0 == 0 {
		t.Errorf("held: alice sent %d→%d packets, bob %d→%d; want none while held (and some before)", a0, a1, b0,
			b1)
	}
	// Bob: the hold tone's beeps, none of Alice's tone.
	hold, a440 := audiotest.Goertzel(heldB, 425), audiotest.Goertzel(heldB, 440)
	beep := heldB[audiotest.FirstAbove(heldB, 0.02):][:audio.SampleRate/5] // 200 ms of a beep
	f := audiotest.DominantFrequency(beep)
	t.Logf("held: bob hears %.1f dBFS (beep at %.1f Hz, %.1f dBFS), 425 Hz power %.3g, 440 Hz %.3g; alice %.1f dBFS",
		audiotest.DBFS(heldB), f, audiotest.DBFS(beep), hold, a440, audiotest.DBFS(heldA))
	if f < 420 || f > 430 {
		t.Errorf("held: bob's beep is at %.1f Hz, want the hold tone's 425 ± 5", f)
	}
	if l := audiotest.DBFS(beep); l < -30 || l > -20 {
		t.Errorf("held: bob's beep is at %.1f dBFS, want a soft tone, -30 to -20", l)
	}
	if l := audiotest.DBFS(heldA); l > -60 {
		t.Errorf("held: alice hears %.1f dBFS, want silence (below -60)", l)
	}

	alice.ph.SetHeld(false)
	if ev := alice.next(); ev != (call.Held{CallID: id, Local: true, Held: false, By: "alice"}) {
		t.Fatalf("alice: got %#v, want her own resume", ev)
	}
	if ev := bob.next(); ev != (call.Held{CallID: id, Held: false, By: "alice"}) {
		t.Fatalf("bob: got %#v, want alice's resume", ev)
	}
	// From the resume on: how long until each hears the other's tone
	// (louder than the hold tone could be), and at what pitch.
	back := func(when string) {
		t.Helper()
		fromA, fromB := recA.Len(), recB.Len()
		for _, c := range []struct {
			who  string
			rec  *audiotest.Recorder
			from int
			want float64
		}{{"alice hears bob", recA, fromA, 660}, {"bob hears alice", recB, fromB, 440}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.rec.Wait(ctx, c.from+2*audio.SampleRate)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			s := c.rec.Samples()[c.from : c.from+2*audio.SampleRate]
			i := audiotest.FirstAbove(s, 0.2)
			if i < 0 {
				t.Errorf("%s: %s: nothing louder than the hold tone within 2 s (%.1f dBFS)", when, c.who,
					audiotest.DBFS(s))
				continue
			}
			back := time.Duration(i) * time.Second / audio.SampleRate
			tail := s[i:]
			f := audiotest.DominantFrequency(tail)
			t.Logf("%s: %s again %v after the resume, at %.1f Hz, %.1f dBFS", when, c.who,
				back.Round(time.Millisecond), f, audiotest.DBFS(tail))
			if f < c.want-5 || f > c.want+5 || back > 500*time.Millisecond {
				t.Errorf("%s: %s at %.1f Hz %v after the resume; want %.0f ± 5 Hz within 500 ms", when, c.who, f,
					back, c.want)
			}
		}
	}
	back("alice resumed")

	// Bob holds and resumes: the same, the other way round.
	for _, held := range []bool{true, false} {
		bob.ph.SetHeld(held)
		if ev := bob.next(); ev != (call.Held{CallID: id, Local: true, Held: held, By: "bob"}) {
			t.Fatalf("bob: got %#v, want his own hold %v", ev, held)
		}
		if ev := alice.next(); ev != (call.Held{CallID: id, Held: held, By: "bob"}) {
			t.Fatalf("alice: got %#v, want bob's hold %v", ev, held)
		}
	}
	back("bob resumed")
	// Media flowed again: no reconnecting on either side from the hold's
	// silence.
	for _, p := range []*party{alice, bob} {
		select {
		case ev := <-p.ph.Events():
			if sc, ok := ev.(call.StatusChanged); ok {
				t.Errorf("%s: the call went %s after the resume (%s)", p.name, sc.Status, sc.Reason)
			}
		default:
		}
	}
	hangup(alice, bob)
}

// TestHoldRefused: a hold before the answer, or with no call, is refused
// with 80403, and the call goes on.
func TestHoldRefused(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(660), null})
	alice.ph.SetHeld(true)
	if f, ok := alice.next().(call.Failure); !ok || f.Err.Code != signaling.NoConnectedCall {
		t.Fatalf("alice: got %#v, want a failure 80403", f)
	}
	alice.ph.Dial("bob")
	alice.status(signaling.Started)
	bob.status(signaling.Started)
	alice.status(signaling.Ringing)
	bob.status(signaling.Ringing)
	bob.ph.SetHeld(true)
	if f, ok := bob.next().(call.Failure); !ok || f.Err.Code != signaling.NoConnectedCall {
		t.Fatalf("bob: got %#v, want a failure 80403", f)
	}
	bob.ph.Answer()
	alice.status(signaling.Answered)
	bob.status(signaling.Answered)
	hangup(alice, bob)
}
