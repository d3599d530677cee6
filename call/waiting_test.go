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

// speakers gives each sink a phone opens its own recorder, in the order
// opened: one per call.
type speakers chan *audiotest.Recorder

func (s speakers) open(int) (audio.Sink, error) {
	r := audiotest.NewRecorder(true)
	s <- r
	return r, nil
}

// next is the recorder of the next sink opened.
func (s speakers) next(t *testing.T) *audiotest.Recorder {
	t.Helper()
	select {
	case r := <-s:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no speaker opened within 10 s")
		return nil
	}
}

// listen is rec's next d of audio, from 300 ms from now.
func listen(t *testing.T, rec *audiotest.Recorder, d time.Duration) []int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	from, n := rec.Len()+audio.SampleRate*3/10, int(d*audio.SampleRate/time.Second)
	if err := rec.Wait(ctx, from+n); err != nil {
		t.Fatal(err)
	}
	return rec.Samples()[from : from+n]
}

// hearsTone fails unless rec plays hz (± 5) within the next 2 s, louder than
// the hold tone or the beep could be.
func hearsTone(t *testing.T, who string, rec *audiotest.Recorder, hz float64) {
	t.Helper()
	s := listen(t, rec, 2*time.Second)
	i := audiotest.FirstAbove(s, 0.2)
	if i < 0 {
		t.Fatalf("%s: nothing loud within 2 s (%.1f dBFS), want %.0f Hz", who, audiotest.DBFS(s), hz)
	}
	f := audiotest.DominantFrequency(s[i:])
	t.Logf("%s: %.1f Hz at %.1f dBFS", who, f, audiotest.DBFS(s[i:]))
	if f < hz-5 || f > hz+5 {
		t.Errorf("%s: %.1f Hz, want %.0f ± 5", who, f, hz)
	}
}

// expect fails unless p's next event is want.
func (p *party) expect(want call.Event) {
	p.t.Helper()
	if ev := p.next(); ev != want {
		p.t.Fatalf("%s: got %#v, want %#v", p.name, ev, want)
	}
}

// waitingStatus is p's next event, the status want of a waiting call.
func (p *party) waitingStatus(want signaling.Status, waiting bool) call.StatusChanged {
	p.t.Helper()
	sc := p.status(want)
	if sc.Waiting != waiting {
		p.t.Fatalf("%s: %s waiting %v, want %v", p.name, want, sc.Waiting, waiting)
	}
	return sc
}

// TestCallWaiting: on real Pion peers, Carol calls Alice while she is in a
// call with Bob. Alice hears the waiting beep (440 Hz, two 200 ms beeps) on
// the waiting call's speaker while Bob goes on on his; she rejects it and
// the call with Bob is untouched. Carol calls again and Alice answers: Bob
// is held (told, and hears the hold tone), Alice and Carol hear each
// other. Alice swaps back: Bob hears her again, Carol is held. She hangs
// up on Bob: the held call with Carol is current, and resumes.
func TestCallWaiting(t *testing.T) {
	r := newRig(t, server.Config{})
	spk, spkC := make(speakers, 8), make(speakers, 8)
	recB := audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{tone(300), spk.open})
	bob := r.phone("bob", devices{tone(660), record(recB)})
	carol := r.phone("carol", devices{tone(880), spkC.open})
	var recC *audiotest.Recorder // carol's speaker, one per call
	bobCall := connect(alice, bob)
	aliceBob := spk.next(t)
	heard(t, recB, audio.SampleRate/2)
	heard(t, aliceBob, audio.SampleRate/2)

	ring := func() (string, *audiotest.Recorder) {
		t.Helper()
		carol.ph.Dial("alice")
		recC = spkC.next(t)
		carol.status(signaling.Started)
		in := alice.waitingStatus(signaling.Started, true)
		carol.status(signaling.Ringing)
		alice.waitingStatus(signaling.Ringing, true)
		return in.ID, spk.next(t)
	}
	_, aliceCarol := ring()
	// The beep: a cycle of 3 s on the waiting call's speaker, while Bob
	// still plays on the call's.
	s := listen(t, aliceCarol, 6*time.Second)
	i := audiotest.FirstAbove(s[:3*audio.SampleRate], 0.02)
	if i < 0 {
		t.Fatalf("no beep on the waiting call's speaker in 3 s (%.1f dBFS)", audiotest.DBFS(s))
	}
	ms := func(ms int) int { return ms * audio.SampleRate / 1000 }
	if audiotest.DBFS(s[i+ms(420):][:ms(150)]) < -60 { // the second beep of its cycle: on to the next cycle
		i += ms(250) + audiotest.FirstAbove(s[i+ms(250):], 0.02)
	}
	s = s[i:][:3*audio.SampleRate] // one cycle, from its first beep
	at := func(from int) []int16 { return s[ms(from):][:ms(150)] }
	beep1, gap, beep2, rest := at(20), at(220), at(420), s[ms(700):]
	f1, f2 := audiotest.DominantFrequency(beep1), audiotest.DominantFrequency(beep2)
	t.Logf("waiting beep: %.1f Hz at %.1f dBFS, gap %.1f dBFS, %.1f Hz, then %.1f dBFS for 2.3 s", f1,
		audiotest.DBFS(beep1), audiotest.DBFS(gap), f2, audiotest.DBFS(rest))
	if f1 < 435 || f1 > 445 || f2 < 435 || f2 > 445 {
		t.Errorf("the beeps are at %.1f and %.1f Hz, want 440 ± 5", f1, f2)
	}
	if l := audiotest.DBFS(beep1); l < -30 || l > -20 {
		t.Errorf("the beep is at %.1f dBFS, want a soft one, -30 to -20", l)
	}
	if audiotest.DBFS(gap) > -60 || audiotest.DBFS(rest) > -60 {
		t.Errorf("between the beeps %.1f dBFS, after them %.1f; want silence", audiotest.DBFS(gap),
			audiotest.DBFS(rest))
	}
	hearsTone(t, "alice hears bob while carol waits", aliceBob, 660)

	// Rejected: the call with Bob goes on as it was.
	alice.ph.Reject()
	carol.status(signaling.Rejected)
	alice.waitingStatus(signaling.Rejected, true)
	hearsTone(t, "bob hears alice after the rejection", recB, 300)

	carolCall, aliceCarol := ring()
	alice.ph.Answer()
	alice.expect(call.Held{CallID: bobCall, Local: true, Held: true, By: "alice"})
	alice.expect(call.Switched{CallID: carolCall, HeldID: bobCall})
	bob.expect(call.Held{CallID: bobCall, Held: true, By: "alice"})
	carol.status(signaling.Answered)
	alice.waitingStatus(signaling.Answered, true)
	hearsTone(t, "carol hears alice", recC, 300)
	hearsTone(t, "alice hears carol", aliceCarol, 880)
	held := listen(t, recB, 2*time.Second)
	if f := audiotest.DominantFrequency(held); f < 420 || f > 430 || audiotest.DBFS(held) > -20 {
		t.Errorf("bob, held, hears %.1f Hz at %.1f dBFS; want the hold tone's 425", f, audiotest.DBFS(held))
	}

	alice.ph.Swap()
	alice.expect(call.Held{CallID: carolCall, Local: true, Held: true, By: "alice"})
	alice.expect(call.Switched{CallID: bobCall, HeldID: carolCall})
	alice.expect(call.Held{CallID: bobCall, Local: true, Held: false, By: "alice"})
	carol.expect(call.Held{CallID: carolCall, Held: true, By: "alice"})
	bob.expect(call.Held{CallID: bobCall, Held: false, By: "alice"})
	hearsTone(t, "bob hears alice after the swap", recB, 300)
	hearsTone(t, "alice hears bob after the swap", aliceBob, 660)
	if l := audiotest.DBFS(listen(t, aliceCarol, time.Second)); l > -60 {
		t.Errorf("alice hears carol's held call at %.1f dBFS, want silence", l)
	}

	// Hanging up on Bob leaves the held call with Carol, current.
	alice.ph.Hangup()
	alice.expect(call.Switched{CallID: carolCall})
	alice.status(signaling.Completed)
	bob.status(signaling.Completed)
	alice.ph.SetHeld(false)
	alice.expect(call.Held{CallID: carolCall, Local: true, Held: false, By: "alice"})
	carol.expect(call.Held{CallID: carolCall, Held: false, By: "alice"})
	hearsTone(t, "carol hears alice after bob's call", recC, 300)
	hangup(alice, carol)
}

// TestCallWaitingSeveralDevices: bob's phone is in a call with alice when
// carol calls: it rings there as a waiting call (beside alice's) and on his
// idle laptop as any call. The laptop answers: the phone is told, and its
// call with alice goes on, neither held nor ended.
func TestCallWaitingSeveralDevices(t *testing.T) {
	r := newRig(t, server.Config{})
	recA := audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{tone(440), record(recA)})
	phone := r.phone("bob", devices{tone(660), null})
	phone.name = "bob's phone"
	laptop := r.phone("bob", devices{tone(660), null})
	laptop.name = "bob's laptop"
	carol := r.phone("carol", devices{tone(880), null})

	alice.ph.Dial("bob")
	alice.status(signaling.Started)
	for _, d := range []*party{phone, laptop} {
		d.status(signaling.Started)
		d.status(signaling.Ringing)
	}
	phone.ph.Answer()
	alice.status(signaling.Ringing)
	alice.status(signaling.Answered)
	phone.status(signaling.Answered)
	if sc := laptop.status(signaling.Answered); sc.Reason != call.ReasonAnsweredElsewhere {
		t.Fatalf("bob's laptop: answered %q, want %q", sc.Reason, call.ReasonAnsweredElsewhere)
	}
	hearsTone(t, "alice hears bob", recA, 660)

	carol.ph.Dial("bob")
	carol.status(signaling.Started)
	phone.waitingStatus(signaling.Started, true)
	laptop.waitingStatus(signaling.Started, false)
	carol.status(signaling.Ringing)
	for _, d := range []*party{phone, laptop} {
		d.waitingStatus(signaling.Ringing, d == phone)
	}
	laptop.ph.Answer()
	carol.status(signaling.Answered)
	laptop.waitingStatus(signaling.Answered, false)
	if sc := phone.waitingStatus(signaling.Answered, true); sc.Reason != call.ReasonAnsweredElsewhere {
		t.Fatalf("bob's phone: carol's call answered %q, want %q", sc.Reason, call.ReasonAnsweredElsewhere)
	}
	hearsTone(t, "alice hears bob after carol's call went to his laptop", recA, 660)
	hangup(alice, phone)
	hangup(carol, laptop)
}
