//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// beeps are the starts, from the start of s, of the 100 ms windows of s
// that carry hz at more than amp (of full scale).
func beeps(s []int16, hz, amp float64) []time.Duration {
	const win = audiotest.SampleRate / 10
	var out []time.Duration
	for i := 0; i+win <= len(s); i += win {
		if audiotest.Goertzel(s[i:i+win], hz) > amp {
			out = append(out, time.Duration(i)*time.Second/audiotest.SampleRate)
		}
	}
	return out
}

// waitingBeep checks alice's speaker (rec) while a call waits, from a
// second after rang: bob's tone, and under it the waiting beep (two 200 ms
// beeps at 440 Hz every 3 s), which was not there before (before: what it
// played in the call until then).
func waitingBeep(t *testing.T, rec *timedRecording, before []int16, rang time.Time) {
	t.Helper()
	rec.until(t, rang.Add(4*time.Second))
	was := beeps(before, 440, 0.02)
	s := rec.between(t, rang.Add(time.Second), rang.Add(4*time.Second))
	heard := beeps(s, 440, 0.02)
	t.Logf("alice's speaker: 440 Hz in 100 ms windows at %v while carol waits (3 s), %v before (2 s); bob's 660 Hz "+
		"at %.3f", heard, was, audiotest.Goertzel(s, 660))
	if len(was) > 0 || len(heard) < 2 || len(heard) > 6 {
		t.Errorf("alice's speaker: 440 Hz in windows at %v while carol waits, %v before; want the beep's two "+
			"200 ms beeps in a 3 s cycle, and nothing before", heard, was)
	}
}

// heldTone checks bob's speaker (rec) in the 2.5 s from held+500 ms (a
// cycle of the hold tone and more): the hold tone, none of alice's 300 Hz.
func heldTone(t *testing.T, rec *timedRecording, held time.Time) {
	t.Helper()
	rec.until(t, held.Add(3*time.Second))
	s := rec.between(t, held.Add(500*time.Millisecond), held.Add(3*time.Second))
	t.Logf("bob, held: %.1f dBFS, 300 Hz at %.4f, 425 Hz in 100 ms windows at %v", audiotest.DBFS(s),
		audiotest.Goertzel(s, 300), beeps(s, 425, 0.02))
	if audiotest.Goertzel(s, 300) > 0.01 || len(beeps(s, 425, 0.02)) == 0 {
		t.Errorf("bob, held, hears alice's 300 Hz at %.4f and the hold tone in %v; want the hold tone only",
			audiotest.Goertzel(s, 300), beeps(s, 425, 0.02))
	}
}

// TestCallWaitingOverRealDevices: processes on PulseAudio devices, their
// microphones playing alice 300 Hz, bob 660 Hz, carol 880 Hz. Bob calls
// alice (`parley answer --control stdin`, answered by her script); carol
// calls alice during it: alice's events say it waits, carol hears ringback
// as for any call, and alice's speaker plays the waiting beep (440 Hz)
// under bob's tone, which it did not before. Alice answers carol: bob is
// told he is held and his speaker plays the hold tone, not alice's 300 Hz;
// alice and carol hear each other. Alice swaps back: bob hears her again,
// carol is held. Alice hangs up on bob; carol's call, current, resumes and
// carol hangs up: alice's answer exits 0 after its last call.
func TestCallWaitingOverRealDevices(t *testing.T) {
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "alice_mic"), pulse.NullSink(t, "alice_spk")
	bMic, bSpk := pulse.NullSink(t, "bob_mic"), pulse.NullSink(t, "bob_spk")
	cMic, cSpk := pulse.NullSink(t, "carol_mic"), pulse.NullSink(t, "carol_spk")
	w := newWorld(t)
	pulse.Loop(t, aMic, audiotest.Tone(300, 0.5, 20*audiotest.SampleRate))
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.5, 20*audiotest.SampleRate))
	pulse.Loop(t, cMic, audiotest.Tone(880, 0.5, 20*audiotest.SampleRate))
	recA := recordTimed(t.Context(), pulse, pulsetest.Monitor(aSpk))
	recB := recordTimed(t.Context(), pulse, pulsetest.Monitor(bSpk))

	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	aIn, aSend := script(t)
	a := w.startIn(aIn, append(pulsetest.Env(aMic, aSpk), "PARLEY_TOKEN="+w.token("alice")),
		append([]string{"answer", "--control", "stdin"}, plain...)...)
	aIn.Close()
	a.expect(t, "connected", map[string]any{"user": "alice"})
	bIn, _ := script(t)
	b := w.startIn(bIn, append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob")),
		append([]string{"call", "alice"}, plain...)...)
	bIn.Close()
	b.expect(t, "connected", map[string]any{"user": "bob"})
	bobCall := b.expect(t, "call", map[string]any{"status": "started"})["id"]
	a.expect(t, "call", map[string]any{"status": "started", "id": bobCall})
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": bobCall})
	aSend("answer")
	a.expect(t, "reply", map[string]any{"command": "answer"})
	for _, p := range []*proc{a, b} {
		if p == b {
			p.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": bobCall})
		}
		p.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": bobCall})
	}
	before := hearTones(t, "bob's call", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk,
		300})[0] // alice's speaker, before carol calls

	cIn, cSend := script(t)
	c := w.startIn(cIn, append(pulsetest.Env(cMic, cSpk), "PARLEY_TOKEN="+w.token("carol")),
		append([]string{"call", "alice"}, plain...)...)
	cIn.Close()
	c.expect(t, "connected", map[string]any{"user": "carol"})
	carolCall := c.expect(t, "call", map[string]any{"status": "started"})["id"]
	a.expect(t, "call", map[string]any{"status": "started", "id": carolCall, "waiting": true, "from": "carol"})
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": carolCall, "waiting": true})
	c.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": carolCall})
	rang := time.Now()

	waitingBeep(t, recA, before, rang)

	// Answered: bob is held, and told.
	aSend("answer")
	a.expectEach(t, map[string]map[string]any{
		"reply":    {"command": "answer"},
		"hold":     {"id": bobCall, "held": true, "by": "alice", "local": true},
		"switched": {"id": carolCall, "held_id": bobCall},
		// The answered status comes from the server, most likely after
		// the reply.
		"call_status_changed": {"status": "answered", "id": carolCall},
	})
	b.expect(t, "hold", map[string]any{"id": bobCall, "held": true, "by": "alice", "local": false})
	c.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": carolCall})
	held := time.Now()
	hearTones(t, "carol's call", speaker{"alice's speaker", aSpk, 880}, speaker{"carol's speaker", cSpk, 300})
	heldTone(t, recB, held)
	// status on standard input: carol's call current, bob's held.
	aSend(`{"command":"status","ref":"s1"}`)
	st := a.expect(t, "status", map[string]any{"ref": "s1"})
	calls, _ := st["calls"].([]any)
	t.Logf("status: %v", calls)
	if len(calls) != 2 {
		t.Fatalf("status: %v, want carol's call and bob's", st)
	}
	cur, other := calls[0].(map[string]any), calls[1].(map[string]any)
	if cur["id"] != carolCall || cur["waiting"] != true || cur["held"] != false || other["id"] != bobCall ||
		other["held"] != true {
		t.Errorf("status: %v, want carol's waiting call current and bob's held", calls)
	}

	// Swapped back: bob hears alice again, carol is held.
	aSend("swap")
	a.expectEach(t, map[string]map[string]any{
		"reply":    {"command": "swap"},
		"switched": {"id": bobCall, "held_id": carolCall},
	})
	b.expect(t, "hold", map[string]any{"id": bobCall, "held": false, "by": "alice"})
	c.expect(t, "hold", map[string]any{"id": carolCall, "held": true, "by": "alice"})
	hearTones(t, "swapped back", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 300})

	// Bob's call ends; carol's is current, held until alice resumes.
	aSend("hangup")
	a.expectEach(t, map[string]map[string]any{
		"switched":            {"id": carolCall},
		"call_status_changed": {"id": bobCall, "status": "completed"},
	})
	b.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": bobCall})
	if code := b.wait(t); code != exitOK {
		t.Errorf("bob's call exited %d, want 0", code)
	}
	aSend("resume")
	c.expect(t, "hold", map[string]any{"id": carolCall, "held": false, "by": "alice"})
	hearTones(t, "carol's call after bob's", speaker{"alice's speaker", aSpk, 880}, speaker{"carol's speaker",
		cSpk, 300})
	cSend("hangup")
	for _, p := range []*proc{a, c} {
		p.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": carolCall})
		if code := p.wait(t); code != exitOK {
			t.Errorf("%v exited %d, want 0", p.cmd.Args[1:], code)
		}
	}
}

// TestCallWaitingInTheUI: alice's UI (in tmux) is in a call with bob
// (`parley call alice`, 660 Hz); carol calls: alice's screen shows the
// waiting call with its keys and her speaker plays the beep under bob's
// tone. a answers carol: bob is held (told, his speaker plays the hold
// tone, not alice's 300 Hz) and the screen shows him held; x swaps back and
// bob hears alice again.
func TestCallWaitingInTheUI(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "ui_alice_mic"), pulse.NullSink(t, "ui_alice_spk")
	bMic, bSpk := pulse.NullSink(t, "ui_bob_mic"), pulse.NullSink(t, "ui_bob_spk")
	pulse.Loop(t, aMic, audiotest.Tone(300, 0.5, 20*audiotest.SampleRate))
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.5, 20*audiotest.SampleRate))
	recA := recordTimed(t.Context(), pulse, pulsetest.Monitor(aSpk))
	recB := recordTimed(t.Context(), pulse, pulsetest.Monitor(bSpk))
	w := newWorld(t)
	w.openUI(x, "alice", pulsetest.Env(aMic, aSpk), "bob")
	x.waitFor("alice", `bob\s+offline|bob\s+online`)

	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	b := w.start(append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob")),
		append([]string{"call", "alice"}, plain...)...)
	b.expect(t, "connected", map[string]any{"user": "bob"})
	bobCall := b.expect(t, "call", map[string]any{"status": "started"})["id"]
	x.waitFor("alice", `INCOMING CALL from bob`)
	x.keys("alice", "a")
	b.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": bobCall})
	b.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": bobCall})
	before := hearTones(t, "bob's call", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk,
		300})[0]

	c := w.start([]string{"PARLEY_TOKEN=" + w.token("carol")},
		append([]string{"call", "alice", "--in", "tone:880", "--out", "null"}, plain...)...)
	c.expect(t, "connected", map[string]any{"user": "carol"})
	carolCall := c.expect(t, "call", map[string]any{"status": "started"})["id"]
	c.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": carolCall})
	rang := time.Now()
	x.waitFor("alice", `carol is calling\s+a answer \(holds bob\) · r reject`)
	waitingBeep(t, recA, before, rang)

	x.keys("alice", "a")
	c.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": carolCall})
	b.expect(t, "hold", map[string]any{"id": bobCall, "held": true, "by": "alice"})
	held := time.Now()
	screen := x.waitFor("alice", `In call with carol[\s\S]*Held: your call with bob · x swaps to it`)
	t.Logf("alice's screen with carol's call, bob's held:\n%s", screen)
	heldTone(t, recB, held)

	x.keys("alice", "x")
	b.expect(t, "hold", map[string]any{"id": bobCall, "held": false, "by": "alice"})
	c.expect(t, "hold", map[string]any{"id": carolCall, "held": true, "by": "alice"})
	x.waitFor("alice", `In call with bob[\s\S]*Held: your call with carol`)
	hearTones(t, "swapped back", speaker{"bob's speaker", bSpk, 300})
}
