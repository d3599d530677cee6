//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// TestUIVoiceMessage: in the TUI, Alice calls Bob, who is offline; the
// refusal offers a voice message; v records Alice's microphone (a real
// PulseAudio device playing 600 Hz) until Enter sends it. Bob, with the
// CLI, finds it and plays it to a file, where the tone is at 600 Hz.
func TestUIVoiceMessage(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "vm_alice_mic"), pulse.NullSink(t, "vm_alice_spk")
	w := newWorld(t)
	bobTok := w.token("bob")
	w.openUI(x, "alice", pulsetest.Env(aMic, aSpk), "bob")
	x.waitFor("alice", `● connected`)
	pulse.Loop(t, aMic, audiotest.Tone(600, 0.5, 10*audiotest.SampleRate))

	x.keys("alice", "Enter") // bob, offline: refused
	x.waitFor("alice", `v: leave a voice message`)
	x.keys("alice", "v")
	x.waitFor("alice", `Recording a voice message for bob`)
	time.Sleep(2 * time.Second) // the length of the message: nothing to wait on
	x.keys("alice", "Enter")
	x.waitFor("alice", `Voice message of 00:0[1-9] left for bob\.`)

	bob := []string{"PARLEY_TOKEN=" + bobTok}
	out, code := w.run(bob, "messages", "--json")
	var box signaling.VoiceMessages
	if err := json.Unmarshal([]byte(out), &box); err != nil || code != exitOK || len(box.Messages) != 1 ||
		box.Messages[0].From != "alice" || box.Messages[0].DurationMS < 1500 {
		t.Fatalf("bob's messages: exit %d, %v:\n%s", code, err, out)
	}
	wav := filepath.Join(w.home, "played.wav")
	p := w.start(bob, "play", box.Messages[0].ID, "--out", "file:"+wav)
	if code := p.wait(t); code != exitOK {
		t.Fatalf("bob plays it: exit %d: %s", code, p.stderr.String())
	}
	got, err := audiotest.ReadWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	steady := got.Samples[len(got.Samples)/4 : 3*len(got.Samples)/4]
	hz := audiotest.DominantFrequency(steady)
	t.Logf("recorded in the UI: %d ms; played: tone at %.1f Hz, %.1f dBFS", box.Messages[0].DurationMS, hz,
		audiotest.DBFS(steady))
	if hz < 595 || hz > 605 || audiotest.DBFS(steady) < -30 {
		t.Errorf("the message plays %.1f Hz at %.1f dBFS, want 600 ± 5", hz, audiotest.DBFS(steady))
	}
	x.keys("alice", "q")
}
