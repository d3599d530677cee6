//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestDoctor runs `parley doctor` against a real server that runs the echo
// service (`parley serve --echo echo`), over PulseAudio virtual devices (a
// microphone that hears a tone): every check passes, STUN and TURN over
// UDP and TCP among them, the echo call's round trip is measured, and the
// JSON form says so. With a bad token the token check fails with what to
// do, and the exit status is 1.
func TestDoctor(t *testing.T) {
	pulse := pulsetest.Start(t)
	mic, spk := pulse.NullSink(t, "doctor_mic"), pulse.NullSink(t, "doctor_spk")
	w := newWorld(t, "--echo", "echo")
	pulse.Loop(t, mic, audiotest.Tone(440, 0.3, 5*audiotest.SampleRate))
	env := append(pulsetest.Env(mic, spk), "PARLEY_TOKEN="+w.token("alice"))

	out, code := w.run(env, "doctor")
	t.Logf("parley doctor:\n%s", out)
	if code != exitOK {
		t.Errorf("doctor exited %d, want 0", code)
	}
	for _, want := range []string{"✓ audio devices", "✓ microphone", "✓ speaker", "✓ server", "✓ token",
		"✓ STUN udp", "✓ STUN tcp", "✓ TURN udp", "✓ TURN tcp", "✓ echo call", "audio round trip",
		"all checks passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor's output lacks %q", want)
		}
	}

	out, code = w.run(env, "doctor", "--json", "--no-audio")
	var res struct {
		OK     bool
		Checks []struct{ Name, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out, err)
	}
	if code != exitOK || !res.OK || len(res.Checks) < 4 {
		t.Errorf("doctor --json: exit %d, %+v", code, res)
	}

	out, code = w.run(append(pulsetest.Env(mic, spk), "PARLEY_TOKEN=not-a-token"), "doctor", "--no-audio")
	t.Logf("with a bad token:\n%s", out)
	if code != exitOffline || !strings.Contains(out, "✗ token") || !strings.Contains(out, "→ sign in again") {
		t.Errorf("with a bad token: exit %d, output %q; want 1 and a failed token check with what to do", code, out)
	}
}
