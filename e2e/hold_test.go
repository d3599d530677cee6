//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// expectEach reads events until it has one of each name in want, in any
// order (a command's reply and the event it causes may come either way
// round), each with its fields; an error event that is not wanted fails.
func (p *proc) expectEach(t *testing.T, want map[string]map[string]any) {
	t.Helper()
	for len(want) > 0 {
		ev := p.event(t)
		name, _ := ev["event"].(string)
		fields, ok := want[name]
		if !ok {
			if name == "error" {
				t.Fatalf("%v: got %v, want %v", p.cmd.Args[1:], ev, want)
			}
			continue
		}
		for k, v := range fields {
			if ev[k] != v {
				t.Fatalf("%v: got %v, want %s=%v", p.cmd.Args[1:], ev, k, v)
			}
		}
		delete(want, name)
	}
}

// until waits until the recording holds what played up to wall time to.
func (r *timedRecording) until(t *testing.T, to time.Time) {
	t.Helper()
	deadline := time.Now().Add(time.Until(to) + 10*time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		end := r.start.Add(time.Duration(len(r.samples)) * time.Second / audiotest.SampleRate)
		r.mu.Unlock()
		if !r.start.IsZero() && !end.Before(to) {
			return
		}
		select {
		case err := <-r.done:
			t.Fatalf("the recording ended: %v", err)
		case <-tick.C:
			if time.Now().After(deadline) {
				const hms = "15:04:05.000"
				t.Fatalf("the recording reached %s only, want %s", end.Format(hms), to.Format(hms))
			}
		}
	}
}

// TestHoldOverRealDevices: alice (`parley call bob --json`, its standard
// input a pipe) and bob (`parley answer --json --control stdin`, which
// answers when his script says so, after a hold it refuses with 80403) are
// in a call on PulseAudio devices, their microphones playing 440 and 660 Hz. Alice's
// script writes "hold": each command is answered with a reply, both print
// the hold event (by alice), and while held neither speaker plays the
// other's tone: alice's is silent, bob's plays the 425 Hz hold tone. A
// command that is no command is refused with 80101 and its ref, and the
// call goes on; {"command":"resume"} brings both tones back; bob holds and
// resumes, and alice is told; "hangup" ends the call, completed on both
// sides.
// script is a pipe to a process's standard input, and the function that
// writes a line to it.
func script(t *testing.T) (*os.File, func(string)) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return r, func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(w, line); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHoldOverRealDevices(t *testing.T) {
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "alice_mic"), pulse.NullSink(t, "alice_spk")
	bMic, bSpk := pulse.NullSink(t, "bob_mic"), pulse.NullSink(t, "bob_spk")
	w := newWorld(t)
	pulse.Loop(t, aMic, audiotest.Tone(440, 0.5, 20*audiotest.SampleRate))
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.5, 20*audiotest.SampleRate))
	recA := recordTimed(t.Context(), pulse, pulsetest.Monitor(aSpk))
	recB := recordTimed(t.Context(), pulse, pulsetest.Monitor(bSpk))

	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	bIn, bSend := script(t)
	b := w.startIn(bIn, append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob")),
		append([]string{"answer", "--control", "stdin"}, plain...)...)
	bIn.Close() // the process has its own
	b.expect(t, "connected", map[string]any{"user": "bob"})
	aIn, send := script(t)
	a := w.startIn(aIn, append(pulsetest.Env(aMic, aSpk), "PARLEY_TOKEN="+w.token("alice")),
		append([]string{"call", "bob"}, plain...)...)
	aIn.Close()
	a.expect(t, "connected", map[string]any{"user": "alice"})
	start := a.expect(t, "call", map[string]any{"status": "started", "to": "bob"})
	id := start["id"]
	b.expect(t, "call", map[string]any{"status": "started", "id": id})
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": id})
	}
	// With --control stdin, bob's answer waits for his script's.
	bSend("hold")
	b.expect(t, "error", map[string]any{"command": "hold", "code": float64(80403)})
	bSend("answer")
	b.expect(t, "reply", map[string]any{"command": "answer"})
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": id})
	}
	hearTones(t, "in the call", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})

	send("hold")
	a.expectEach(t, map[string]map[string]any{
		"reply": {"command": "hold"},
		"hold":  {"id": id, "held": true, "by": "alice", "local": true},
	})
	b.expect(t, "hold", map[string]any{"id": id, "held": true, "by": "alice", "local": false})
	heldQuiet(t, recA, recB, time.Now())

	send(`{"command":"dance","ref":"d1"}`)
	a.expect(t, "error", map[string]any{"command": "dance", "ref": "d1", "code": float64(80101)})
	send(`{"command":"resume","ref":"r1"}`)
	a.expectEach(t, map[string]map[string]any{
		"reply": {"command": "resume", "ref": "r1"},
		"hold":  {"id": id, "held": false, "by": "alice", "local": true},
	})
	b.expect(t, "hold", map[string]any{"id": id, "held": false, "by": "alice", "local": false})
	hearTones(t, "resumed", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})

	// Bob's side holds and resumes too; alice is told each time.
	for _, held := range []bool{true, false} {
		word := map[bool]string{true: "hold", false: "resume"}[held]
		bSend(word)
		b.expectEach(t, map[string]map[string]any{
			"reply": {"command": word},
			"hold":  {"id": id, "held": held, "by": "bob", "local": true},
		})
		a.expect(t, "hold", map[string]any{"id": id, "held": held, "by": "bob", "local": false})
	}
	hearTones(t, "resumed by bob", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})

	send("hangup")
	a.expect(t, "reply", map[string]any{"command": "hangup"})
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": id})
		if code := p.wait(t); code != exitOK {
			t.Errorf("%v exited %d, want 0", p.cmd.Args[1:], code)
		}
	}
}

// heldQuiet checks the two seconds that follow held+500 ms of a call held
// by alice: her speaker (recA) is silent, and bob's (recB) plays one beep
// of the 425 Hz hold tone and silence otherwise, none of alice's tone.
func heldQuiet(t *testing.T, recA, recB *timedRecording, held time.Time) {
	t.Helper()
	from, to := held.Add(500*time.Millisecond), held.Add(2500*time.Millisecond)
	recA.until(t, to) // the recordings lag the speakers by the monitors' latency
	recB.until(t, to)
	heldA, heldB := recA.between(t, from, to), recB.between(t, from, to)
	t.Logf("held: alice's speaker %.1f dBFS; bob's %.1f dBFS", audiotest.DBFS(heldA), audiotest.DBFS(heldB))
	if l := audiotest.DBFS(heldA); l > -50 {
		t.Errorf("held: alice's speaker plays %.1f dBFS (%.1f Hz), want silence (below -50)", l,
			audiotest.DominantFrequency(heldA))
	}
	// Two seconds of bob's speaker hold one beep of the hold tone (a 2 s
	// cycle) and silence: no 440 Hz.
	if i := audiotest.FirstAbove(heldB, 0.02); i < 0 {
		t.Errorf("held: bob's speaker plays no hold tone (%.1f dBFS)", audiotest.DBFS(heldB))
	} else {
		beep := heldB[i:min(len(heldB), i+audiotest.SampleRate/5)]
		f := audiotest.DominantFrequency(beep)
		rest := heldB[min(len(heldB), i+audiotest.SampleRate/2):]
		if j := i + audiotest.SampleRate/2; j+audiotest.SampleRate > len(heldB) { // the beep came late: before it
			rest = heldB[:max(0, i-audiotest.SampleRate/10)]
		}
		t.Logf("held: bob hears a beep at %.1f Hz, %.1f dBFS; between beeps %.1f dBFS over %v", f,
			audiotest.DBFS(beep), audiotest.DBFS(rest), time.Duration(len(rest))*time.Second/audiotest.SampleRate)
		if f < 420 || f > 430 {
			t.Errorf("held: bob's beep is at %.1f Hz, want the hold tone's 425 ± 5", f)
		}
		if l := audiotest.DBFS(rest); l > -50 {
			t.Errorf("held: between beeps bob's speaker plays %.1f dBFS (%.1f Hz), want silence (below -50)", l,
				audiotest.DominantFrequency(rest))
		}
	}
}
