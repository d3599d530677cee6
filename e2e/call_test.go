//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// TestCallOverRealDevices: two parley processes call each other through
// `parley serve`, each with its own PulseAudio virtual microphone and
// speaker opened by PortAudio. A tone played into Alice's microphone comes
// out of Bob's speaker at its frequency, and the other way round.
func TestCallOverRealDevices(t *testing.T) {
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "alice_mic"), pulse.NullSink(t, "alice_spk")
	bMic, bSpk := pulse.NullSink(t, "bob_mic"), pulse.NullSink(t, "bob_spk")
	w := newWorld(t)
	alice, bob := w.token("alice"), w.token("bob")

	// The microphones hear their tones for the whole test.
	aTone, bTone := audiotest.Tone(440, 0.5, 20*audiotest.SampleRate), audiotest.Tone(660, 0.5, 20*audiotest.SampleRate)
	pulse.Loop(t, aMic, aTone)
	pulse.Loop(t, bMic, bTone)

	// The tones go through without processing: noise suppression learns a
	// steady tone as noise and takes it down by 10 to 30 dB over a few
	// seconds, and an echo canceller fed one pure tone from the far end and
	// another from the near end has too little to adapt on and now and then
	// diverges (speexdsp then resets it). The level and SNR then measure the
	// path. TestEchoCancellationDrift sends speech through the default processing.
	plain := []string{"--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	b := w.start(append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+bob), append([]string{"answer", "--json"},
		plain...)...)
	b.expect(t, "connected", map[string]any{"user": "bob"})
	a := w.start(append(pulsetest.Env(aMic, aSpk), "PARLEY_TOKEN="+alice), append([]string{"call", "bob", "--json"},
		plain...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	start := a.expect(t, "call", map[string]any{"status": "started", "direction": "outbound", "from": "alice",
		"to": "bob"})
	b.expect(t, "call", map[string]any{"status": "started", "direction": "inbound", "from": "alice", "to": "bob",
		"id": start["id"]})
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": start["id"]})
		p.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": start["id"]})
	}

	spks := []speaker{{"alice's speaker", aSpk, 660}, {"bob's speaker", bSpk, 440}}
	for i, s := range hearTones(t, "in the call", spks...) {
		if d := audiotest.DBFS(s) - audiotest.DBFS(aTone); d < -3 || d > 3 {
			t.Errorf("%s: the tone arrives %+.1f dB from its level at the microphone, want within 3 dB", spks[i].who, d)
		}
	}
	if err := a.cmd.Process.Signal(os.Interrupt); err != nil { // Alice hangs up
		t.Fatal(err)
	}

	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": start["id"]})
		if code := p.wait(t); code != exitOK {
			t.Errorf("%v exited %d, want 0", p.cmd.Args[1:], code)
		}
		// PortAudio, ALSA and JACK noise must not reach the terminal.
		if s := p.stderr.String(); s != "" {
			t.Errorf("%v wrote to stderr: %q", p.cmd.Args[1:], s)
		}
	}
}

// TestCallEndings: each way a call ends, with its exit status, between two
// processes that use generated audio.
func TestCallEndings(t *testing.T) {
	w := newWorld(t, "--ring-timeout", "1s")
	alice, bob := "PARLEY_TOKEN="+w.token("alice"), "PARLEY_TOKEN="+w.token("bob")
	media := []string{"--in", "tone:440", "--out", "null", "--json"}

	cases := []struct {
		name       string
		answer     []string // nil: nobody answers
		call       []string
		status     string
		callerExit int
		calleeExit int
	}{
		{"completed", []string{"answer"}, []string{"call", "bob", "--for", "500ms"}, "completed", exitOK, exitOK},
		{"rejected", []string{"answer", "--reject"}, []string{"call", "bob"}, "rejected", exitRejected, exitRejected},
		{"callee hangs up", []string{"answer", "--for", "500ms"}, []string{"call", "bob"}, "completed", exitOK, exitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := w.start([]string{bob}, append(c.answer, media...)...)
			b.expect(t, "connected", nil)
			a := w.start([]string{alice}, append(c.call, media...)...)
			a.expect(t, "connected", nil)
			for _, p := range []*proc{a, b} {
				p.expect(t, "call", map[string]any{"status": "started"})
				p.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
				if c.status == "completed" {
					p.expect(t, "call_status_changed", map[string]any{"status": "answered"})
				}
				p.expect(t, "call_status_changed", map[string]any{"status": c.status})
			}
			if got := a.wait(t); got != c.callerExit {
				t.Errorf("caller exit %d, want %d", got, c.callerExit)
			}
			if got := b.wait(t); got != c.calleeExit {
				t.Errorf("callee exit %d, want %d", got, c.calleeExit)
			}
		})
	}

	t.Run("unanswered", func(t *testing.T) {
		// Bob is online, on a bare signaling connection that never answers.
		sig, err := signaling.Dial(context.Background(), w.server, strings.TrimPrefix(bob, "PARLEY_TOKEN="),
			signaling.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer sig.Close()
		a := w.start([]string{alice}, append([]string{"call", "bob"}, media...)...)
		a.expect(t, "connected", nil)
		a.expect(t, "call", map[string]any{"status": "started"})
		a.expect(t, "call_status_changed", map[string]any{"status": "unanswered", "reason": "no answer"})
		if got := a.wait(t); got != exitUnanswered {
			t.Errorf("caller exit %d, want %d", got, exitUnanswered)
		}
	})

	t.Run("failed", func(t *testing.T) {
		b := w.start([]string{bob}, append([]string{"answer"}, media...)...)
		b.expect(t, "connected", nil)
		a := w.start([]string{alice}, append([]string{"call", "bob"}, media...)...)
		a.expect(t, "connected", nil)
		a.expect(t, "call", nil)
		a.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
		a.expect(t, "call_status_changed", map[string]any{"status": "answered"})
		b.cmd.Process.Kill() // Bob's terminal dies mid-call
		ev := a.expect(t, "call_status_changed", nil)
		if ev["status"] == "reconnecting" { // Alice noticed the silence first
			ev = a.expect(t, "call_status_changed", nil)
		}
		if ev["status"] != "failed" {
			t.Fatalf("got %v, want the call failed", ev)
		}
		t.Logf("failed: %v", ev["reason"])
		if got := a.wait(t); got != exitFailed {
			t.Errorf("caller exit %d, want %d", got, exitFailed)
		}
	})
}

// TestHangUpWhileServerDown: Alice hangs up while the server is down. Her
// call ends at once, and `parley call` says that the server is not told
// yet, waits for it to come back, tells it, and exits 0; Bob's call then
// completes, rather than failing when his grace period for Alice ends.
func TestHangUpWhileServerDown(t *testing.T) {
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	serve := []string{"--data", filepath.Join(w.home, "data"), "--turn-listen", "off", "--reconnect-grace", "10s",
		"--room-port", "0"} // the restart listens at the same port, its rooms at any
	var srv *proc
	w.server, srv = w.startNode(serve...)
	alice, bob := "PARLEY_TOKEN="+w.token("alice"), "PARLEY_TOKEN="+w.token("bob")
	media := []string{"--in", "tone:440", "--out", "null", "--json"}
	b := w.start([]string{bob}, append([]string{"answer"}, media...)...)
	b.expect(t, "connected", nil)
	a := w.start([]string{alice}, append([]string{"call", "bob"}, media...)...)
	a.expect(t, "connected", nil)
	for _, p := range []*proc{a, b} {
		p.expect(t, "call", map[string]any{"status": "started"})
		p.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
		p.expect(t, "call_status_changed", map[string]any{"status": "answered"})
	}
	// The media path is up (stats come once ICE has chosen it): no
	// candidate is still on its way through the server when it stops.
	a.expect(t, "stats", nil)
	b.expect(t, "stats", nil)

	srv.cmd.Process.Signal(os.Interrupt)
	if code := srv.wait(t); code != exitOK {
		t.Fatalf("parley serve exited %d", code)
	}
	a.expect(t, "connected", map[string]any{"up": false})
	a.cmd.Process.Signal(os.Interrupt) // Alice hangs up
	a.expect(t, "call_status_changed", map[string]any{"status": "completed", "untold": true})

	u, err := url.Parse(w.server)
	if err != nil {
		t.Fatal(err)
	}
	w.startNode(append(serve, "--listen", u.Host)...)
	a.expect(t, "connected", map[string]any{"up": true})
	if code := a.wait(t); code != exitOK {
		t.Errorf("alice exited %d, want 0 once the server was told; stderr:\n%s", code, a.stderr.String())
	}
	// Bob hears the server go and come back, and may notice the silence
	// (reconnecting), before the end; an error or any other status fails.
	ev := b.event(t)
	for ev["event"] != "error" && ev["event"] != "call_status_changed" || ev["status"] == "reconnecting" {
		ev = b.event(t)
	}
	if ev["status"] != "completed" {
		t.Fatalf("bob: got %v, want the call completed", ev)
	}
	if code := b.wait(t); code != exitOK {
		t.Errorf("bob exited %d, want 0", code)
	}
}

// TestRefusals: every error a user can meet from the command line comes out
// as {"event":"error"} with its code, and exit status 6; the server keeps
// serving.
func TestRefusals(t *testing.T) {
	w := newWorld(t)
	alice, bob, carol := w.token("alice"), w.token("bob"), w.token("carol")
	media := []string{"--in", "tone:440", "--out", "null", "--json"}

	// Bob and Carol are in a call for the busy case; Bob has call waiting
	// off (TestCallWaiting has it on).
	if out, code := w.run([]string{"PARLEY_TOKEN=" + bob}, "presence", "--call-waiting", "off"); code != exitOK ||
		!strings.Contains(out, "refused as busy") {
		t.Fatalf("presence --call-waiting off: exit %d: %s", code, out)
	}
	b := w.start([]string{"PARLEY_TOKEN=" + bob}, append([]string{"answer"}, media...)...)
	b.expect(t, "connected", nil)
	c := w.start([]string{"PARLEY_TOKEN=" + carol}, append([]string{"call", "bob"}, media...)...)
	c.expect(t, "connected", nil)
	c.expect(t, "call", nil)
	c.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
	c.expect(t, "call_status_changed", map[string]any{"status": "answered"})

	cases := []struct {
		name string
		env  []string
		args []string
		code float64
	}{
		{"unknown user", nil, []string{"call", "nobody"}, 80102},
		{"offline user", nil, []string{"call", "dave"}, 80404},
		{"calling yourself", nil, []string{"call", "alice"}, 80103},
		{"bad user id", nil, []string{"call", "no such user"}, 80101},
		{"busy", nil, []string{"call", "bob"}, 80202},
		{"bad token", []string{"PARLEY_TOKEN=not-a-token"}, []string{"call", "bob"}, 80401},
		{"no microphone", nil, []string{"call", "erin", "--in", "no-such-microphone"}, 80801},
		// The callee is checked before the devices are opened.
		{"unknown user, no speaker", nil, []string{"call", "nobody", "--out", "no-such-speaker"}, 80102},
		{"offline user, no speaker", nil, []string{"call", "dave", "--out", "no-such-speaker"}, 80404},
	}
	w.token("dave") // known, never online
	// Erin is online, on a bare signaling connection, for the device case:
	// her call is refused before it rings.
	erin, err := signaling.Dial(context.Background(), w.server, w.token("erin"), signaling.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer erin.Close()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"PARLEY_TOKEN=" + alice}, tc.env...)
			p := w.start(env, append(append(tc.args[:2:2], media...), tc.args[2:]...)...)
			var ev map[string]any
			for ev = p.event(t); ev["event"] == "connected"; ev = p.event(t) {
			}
			if ev["event"] != "error" || ev["code"] != tc.code || ev["name"] == "" || ev["message"] == "" {
				t.Fatalf("got %v, want an error event with code %v", ev, tc.code)
			}
			t.Logf("%v: %s", tc.code, ev["message"])
			if code := p.wait(t); code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if want := tc.args[len(tc.args)-1]; tc.code == 80801 && !strings.Contains(ev["message"].(string), want) {
				t.Errorf("the message does not name %s: %s", want, ev["message"])
			}
		})
	}
	// A server that cannot be reached is said so, with its address, and
	// exits 7: with --json as an error event (80999), else on stderr.
	down := "PARLEY_SERVER=http://127.0.0.1:1"
	const unreachable = "could not reach the server at http://127.0.0.1:1 (connection refused)"
	p := w.start([]string{"PARLEY_TOKEN=" + alice, down}, append([]string{"call", "bob"}, media...)...)
	if ev := p.event(t); ev["event"] != "error" || ev["code"] != 80999.0 ||
		!strings.HasPrefix(ev["message"].(string), unreachable) {
		t.Errorf("unreachable server: %v; want an error event that starts %q", ev, unreachable)
	}
	if code := p.wait(t); code != exitNoServer {
		t.Errorf("unreachable server: exit %d, want %d", code, exitNoServer)
	}
	p = w.start([]string{"PARLEY_TOKEN=" + alice, down}, "call", "bob", "--in", "tone:440", "--out", "null")
	for range p.lines {
	}
	if code := p.wait(t); code != exitNoServer || !strings.HasPrefix(p.stderr.String(), "parley: "+unreachable) {
		t.Errorf("unreachable server without --json: exit %d, stderr %q; want %d and %q", code, p.stderr.String(),
			exitNoServer, unreachable)
	}

	// The call between Carol and Bob went on through all of that.
	// bob is in that call: online, in the state in_call.
	if out, code := w.run([]string{"PARLEY_TOKEN=" + alice}, "status", "bob"); code != exitOK || out != "in_call\n" {
		t.Errorf("status bob = %q, exit %d; want in_call, 0", out, code)
	}
	if out, code := w.run([]string{"PARLEY_TOKEN=" + alice}, "status", "dave"); code != exitOffline ||
		out != "offline\n" {
		t.Errorf("status dave = %q, exit %d; want offline, 1", out, code)
	}
	if _, code := w.run(nil, "token", "erin", "--api-key", "wrong"); code != exitError {
		t.Errorf("token with a wrong API key: exit %d, want %d", code, exitError)
	}
}

// TestPermissionDenied: a source the user may not read is refused with
// 80802 permission_denied, naming it. (A microphone the user may not open
// fails the same way; a file is what a test can lock here.) As root, the
// refused user is nobody.
func TestPermissionDenied(t *testing.T) {
	w := newWorld(t)
	alice := w.token("alice")
	// Bob is online (the callee is checked before the devices are opened).
	bob, err := signaling.Dial(context.Background(), w.server, w.token("bob"), signaling.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	dir, err := os.MkdirTemp("", "parley-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	secret := filepath.Join(dir, "secret.wav")
	if err := audiotest.WriteWAV(secret, audiotest.Tone(440, 0.5, 4800), audiotest.SampleRate, 1); err != nil {
		t.Fatal(err)
	}
	bin := parleyBin()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// nobody may run a copy of parley but not read the file.
		bin = filepath.Join(dir, "parley.test")
		if err := copyFile(parleyBin(), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(dir, "state")
		if err := errors.Join(os.Mkdir(state, 0o700), os.Chown(state, 65534, 65534)); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "call", "bob", "--in", "file:"+secret, "--out", "null", "--json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "PARLEY_TEST_EXEC=1", "PARLEY_TOKEN="+alice, "PARLEY_SERVER="+w.server,
		"PARLEY_CONFIG="+filepath.Join(dir, "none.json"), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("exit %v, want %d; stdout %s; stderr %s", err, exitError, out, ee.Stderr)
	}
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		_ = json.Unmarshal([]byte(l), &last) // the checks below fail on anything but the error event
	}
	msg, _ := last["message"].(string)
	if last["event"] != "error" || last["code"] != float64(80802) || last["name"] != "permission_denied" ||
		!strings.Contains(msg, "secret.wav") {
		t.Fatalf("last event %v, want error 80802 naming secret.wav", last)
	}
	t.Logf("80802: %s", msg)
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}

// speaker is a sink that a client plays into, and the tone it should play.
type speaker struct {
	who, sink string
	hz        float64
}

// hearTones waits, up to 15 s, until every speaker plays its steady tone
// (pulsetest.SteadyTone: on a loaded machine a path may skip a few times
// before it settles), listening to all at once, and returns the two
// seconds that passed of each. It fails the test if one does not.
func hearTones(t *testing.T, when string, spks ...speaker) [][]int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	start := time.Now()
	heard, found, errs := make([][]int16, len(spks)), make([]string, len(spks)), make([]error, len(spks))
	var wg sync.WaitGroup
	for i, s := range spks {
		wg.Go(func() { heard[i], found[i], errs[i] = pulsetest.SteadyTone(ctx, s.sink, s.hz) })
	}
	wg.Wait()
	for i, s := range spks {
		if errs[i] != nil {
			t.Errorf("%s, %s: %v", when, s.who, errs[i])
			continue
		}
		t.Logf("%s, %s: %s", when, s.who, found[i])
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%s: steady tones %v after listening began", when, time.Since(start).Round(time.Millisecond))
	return heard
}
