//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestCtlOverRealDevices: alice's `parley call bob` (no control on its
// standard input) and bob's `parley answer` are in a call on PulseAudio
// devices, their microphones playing 440 and 660 Hz. `parley ctl` with no
// parley running is refused with 80402 (exit 6); then `parley ctl hold`
// drives alice's call: it says "hold: ok", both sides print the hold event,
// alice's speaker goes silent and bob's plays the hold tone and none of
// alice's; `parley ctl status --json` gives the call (outbound to bob,
// answered, held) and its quality; `parley ctl resume` brings both tones
// back and `parley ctl hangup` completes the call on both sides.
func TestCtlOverRealDevices(t *testing.T) {
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "alice_mic"), pulse.NullSink(t, "alice_spk")
	bMic, bSpk := pulse.NullSink(t, "bob_mic"), pulse.NullSink(t, "bob_spk")
	w := newWorld(t)
	pulse.Loop(t, aMic, audiotest.Tone(440, 0.5, 20*audiotest.SampleRate))
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.5, 20*audiotest.SampleRate))
	recA := recordTimed(t.Context(), pulse, pulsetest.Monitor(aSpk))
	recB := recordTimed(t.Context(), pulse, pulsetest.Monitor(bSpk))

	// The sockets are in $XDG_RUNTIME_DIR/parley, else in the world's state
	// directory. XDG_RUNTIME_DIR is left as it is for the calls (PulseAudio
	// finds its server through it): when it is set, other tests' parleys
	// may be there too, hence --pid. An empty one has none running.
	out, code := w.run([]string{"XDG_RUNTIME_DIR=" + t.TempDir()}, "ctl", "status", "--json")
	if code != exitError || !strings.Contains(out, `"code":80402`) {
		t.Fatalf("parley ctl status with no parley running: exit %d, %q; want 6 and 80402", code, out)
	}

	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	b := w.start(append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob")),
		append([]string{"answer"}, plain...)...)
	b.expect(t, "connected", map[string]any{"user": "bob"})
	a := w.start(append(pulsetest.Env(aMic, aSpk), "PARLEY_TOKEN="+w.token("alice")),
		append([]string{"call", "bob"}, plain...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	id := a.expect(t, "call", map[string]any{"status": "started", "to": "bob"})["id"]
	b.expect(t, "call", map[string]any{"status": "started", "id": id})
	for _, status := range []string{"ringing", "answered"} {
		for _, p := range []*proc{a, b} {
			p.expect(t, "call_status_changed", map[string]any{"status": status, "id": id})
		}
	}
	hearTones(t, "in the call", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})

	pid := strconv.Itoa(a.cmd.Process.Pid)
	ctl := func(want string, args ...string) string {
		t.Helper()
		out, code := w.run(nil, append([]string{"ctl", "--pid", pid}, args...)...)
		if code != exitOK || want != "" && strings.TrimSpace(out) != want {
			t.Fatalf("parley ctl %s: exit %d, %q; want 0 and %q", strings.Join(args, " "), code, out, want)
		}
		return out
	}
	ctl("hold: ok", "hold")
	held := time.Now()
	a.expect(t, "hold", map[string]any{"id": id, "held": true, "by": "alice", "local": true})
	b.expect(t, "hold", map[string]any{"id": id, "held": true, "by": "alice", "local": false})
	heldQuiet(t, recA, recB, held)

	var st struct {
		Event string `json:"event"`
		Calls []struct {
			ID, Status, Direction, Peer string
			Muted, Held                 bool
			RemoteHeld                  bool `json:"remote_held"`
			Quality                     *struct {
				Grade string  `json:"grade"`
				MOS   float64 `json:"mos"`
				RTTMs float64 `json:"rtt_ms"`
				Loss  float64 `json:"loss"`
			} `json:"quality"`
		} `json:"calls"`
	}
	out = ctl("", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("parley ctl status --json printed %q: %v", out, err)
	}
	t.Logf("parley ctl status --json: %s", strings.TrimSpace(out))
	if st.Event != "status" || len(st.Calls) != 1 {
		t.Fatalf("parley ctl status --json: %s, want one call", out)
	}
	c := st.Calls[0]
	if c.ID != id || c.Status != "answered" || c.Direction != "outbound" || c.Peer != "bob" || !c.Held ||
		c.RemoteHeld || c.Muted {
		t.Errorf("parley ctl status --json: %+v, want call %v answered, outbound to bob, held by alice only", c, id)
	}
	if q := c.Quality; q == nil || q.MOS < 1 || q.MOS > 4.5 || q.Grade == "" || q.RTTMs < 0 || q.RTTMs > 1000 {
		t.Errorf("parley ctl status --json: quality %+v, want a grade, a MOS in 1..4.5 and an RTT", q)
	}

	ctl("resume: ok", "resume")
	a.expect(t, "hold", map[string]any{"id": id, "held": false, "by": "alice", "local": true})
	b.expect(t, "hold", map[string]any{"id": id, "held": false, "by": "alice", "local": false})
	hearTones(t, "resumed", speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})

	ctl("hangup: ok", "hangup")
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": id})
		if code := p.wait(t); code != exitOK {
			t.Errorf("%v exited %d, want 0", p.cmd.Args[1:], code)
		}
	}
	out, code = w.run(nil, "ctl", "--pid", pid, "hangup")
	if code != exitError {
		t.Errorf("parley ctl hangup once alice's parley is gone: exit %d, %q; want 6", code, out)
	}
}

// TestCtlRefusesAnotherUser: the control socket of a running `parley
// answer` (its directory 0700, itself 0600) is out of reach of another
// user: run as nobody, `parley ctl status` cannot read the directory
// (80802, exit 6). With the directory and the socket opened to all, as if
// their modes were changed behind parley's back, nobody connects, and the
// running parley refuses them after checking their uid (SO_PEERCRED):
// 80802 again. The owner is answered all along.
func TestCtlRefusesAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run parley ctl as nobody")
	}
	w := newWorld(t)
	// A directory that nobody may enter, for the runtime directory and a
	// copy of parley they may run.
	base, err := os.MkdirTemp("", "parley-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "parley")
	if err := copyFile(parleyBin(), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(base, "run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := []string{"XDG_RUNTIME_DIR=" + runDir}
	b := w.start(append(run, "PARLEY_TOKEN="+w.token("bob")), "answer", "--json", "--in", "silence", "--out", "null")
	b.expect(t, "connected", map[string]any{"user": "bob"})

	sockDir := filepath.Join(runDir, "parley")
	sock := filepath.Join(sockDir, strconv.Itoa(b.cmd.Process.Pid)+".sock")
	for path, want := range map[string]os.FileMode{sockDir: 0o700, sock: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if out, code := w.run(run, "ctl", "status"); code != exitOK || strings.TrimSpace(out) != "no call in progress" {
		t.Fatalf("parley ctl status as the owner: exit %d, %q", code, out)
	}
	asNobody := func(when string) {
		t.Helper()
		cmd := exec.Command(bin, "ctl", "status", "--json")
		cmd.Env = []string{"PARLEY_TEST_EXEC=1", "HOME=" + base, "XDG_RUNTIME_DIR=" + runDir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := cmd.ProcessState.ExitCode()
		t.Logf("%s: parley ctl status as nobody: exit %d, %s", when, code, strings.TrimSpace(string(out)))
		if code != exitError || !strings.Contains(string(out), `"code":80802`) {
			t.Errorf("%s: parley ctl status as nobody: exit %d (%v), %q, stderr %q; want 6 and 80802", when, code,
				err, out, stderr.String())
		}
	}
	asNobody("directory 0700")
	for path, mode := range map[string]os.FileMode{sockDir: 0o755, sock: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	asNobody("directory and socket open to all")
	if out, code := w.run(run, "ctl", "status"); code != exitOK || strings.TrimSpace(out) != "no call in progress" {
		t.Fatalf("parley ctl status as the owner: exit %d, %q", code, out)
	}
}

// TestAnswerAutoAndRingTimeout: bob's `parley answer --auto` answers
// alice's two calls in turn (each hung up by her --for) and is still there
// after both, with no call in progress, until interrupted (exit 0). Carol's
// `parley answer --control stdin` lets alice's call ring: alice's
// `--ring-timeout 1500ms` gives up after 1.5 s, unanswered with reason "no
// answer" on both sides, exit 4.
func TestAnswerAutoAndRingTimeout(t *testing.T) {
	w := newWorld(t)
	quiet := []string{"--json", "--in", "silence", "--out", "null"}
	b := w.start([]string{"PARLEY_TOKEN=" + w.token("bob")}, append([]string{"answer", "--auto"}, quiet...)...)
	b.expect(t, "connected", map[string]any{"user": "bob"})
	alice := []string{"PARLEY_TOKEN=" + w.token("alice")}
	for i := range 2 {
		a := w.start(alice, append([]string{"call", "bob", "--for", "500ms"}, quiet...)...)
		a.expect(t, "connected", map[string]any{"user": "alice"})
		id := a.expect(t, "call", map[string]any{"status": "started"})["id"]
		b.expect(t, "call", map[string]any{"status": "started", "id": id})
		for _, status := range []string{"ringing", "answered", "completed"} {
			b.expect(t, "call_status_changed", map[string]any{"status": status, "id": id})
		}
		if code := a.wait(t); code != exitOK {
			t.Fatalf("call %d: parley call exited %d, want 0; stderr: %s", i+1, code, a.stderr.String())
		}
	}
	if out, code := w.run(nil, "ctl", "status", "--pid", strconv.Itoa(b.cmd.Process.Pid)); code != exitOK ||
		strings.TrimSpace(out) != "no call in progress" {
		t.Fatalf("parley ctl status of bob's answer --auto after two calls: exit %d, %q", code, out)
	}
	b.cmd.Process.Signal(os.Interrupt)
	if code := b.wait(t); code != exitOK {
		t.Errorf("parley answer --auto exited %d when interrupted, want 0", code)
	}

	cIn, cOut, err := os.Pipe() // carol's script, which never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cOut.Close() })
	c := w.startIn(cIn, []string{"PARLEY_TOKEN=" + w.token("carol")},
		append([]string{"answer", "--control", "stdin"}, quiet...)...)
	cIn.Close()
	c.expect(t, "connected", map[string]any{"user": "carol"})
	a := w.start(alice, append([]string{"call", "carol", "--ring-timeout", "1500ms"}, quiet...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	id := a.expect(t, "call", map[string]any{"status": "started"})["id"]
	started := time.Now()
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": id})
	a.expect(t, "call_status_changed", map[string]any{"status": "unanswered", "id": id, "reason": "no answer"})
	gaveUp := time.Since(started)
	t.Logf("--ring-timeout 1500ms: unanswered %v after the call started", gaveUp.Round(time.Millisecond))
	if gaveUp < 1400*time.Millisecond || gaveUp > 4*time.Second {
		t.Errorf("--ring-timeout 1500ms: unanswered after %v, want 1.5 s", gaveUp)
	}
	if code := a.wait(t); code != exitUnanswered {
		t.Errorf("parley call --ring-timeout exited %d, want 4", code)
	}
	c.expect(t, "call", map[string]any{"status": "started", "id": id})
	c.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": id})
	c.expect(t, "call_status_changed", map[string]any{"status": "unanswered", "id": id, "reason": "no answer"})
}

// TestCtlDrivesTheUI: `parley ctl` drives alice's UI (in tmux) in its call
// with bob's `parley answer`: ctl mute shows her muted on her screen and in
// ctl status --json, and ctl hangup ends the call, completed on both sides.
func TestCtlDrivesTheUI(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "ctl_alice_mic"), pulse.NullSink(t, "ctl_alice_spk")
	w := newWorld(t)
	b := w.start([]string{"PARLEY_TOKEN=" + w.token("bob")}, "answer", "--json", "--in", "silence", "--out", "null")
	b.expect(t, "connected", map[string]any{"user": "bob"})

	dir := filepath.Join(w.home, "alice")
	cfg := config.Config{Server: w.server, Token: w.token("alice"), Contacts: []string{"bob"}}
	if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	state := "XDG_STATE_HOME=" + filepath.Join(dir, "state")
	x.open("alice", append(pulsetest.Env(aMic, aSpk), "PARLEY_TEST_EXEC=1", state,
		"PARLEY_CONFIG="+filepath.Join(dir, "config.json"), "PARLEY_SERVER=", "PARLEY_TOKEN=", "TERM=xterm-256color"))
	x.waitFor("alice", `● bob\s+online`)
	pid := strings.TrimSpace(x.run("display-message", "-p", "-t", "alice", "#{pane_pid}"))
	ctl := func(args ...string) string {
		t.Helper()
		out, code := w.run([]string{state}, append([]string{"ctl", "--pid", pid}, args...)...)
		if code != exitOK {
			t.Fatalf("parley ctl %s: exit %d, %q", strings.Join(args, " "), code, out)
		}
		return strings.TrimSpace(out)
	}
	if out := ctl("status"); out != "no call in progress" {
		t.Fatalf("parley ctl status before the call: %q", out)
	}
	x.keys("alice", "Enter")
	x.waitFor("alice", `In call with bob\s+│?\s*00:0[1-9]`)
	if out := ctl("mute"); out != "mute: ok" {
		t.Errorf("parley ctl mute: %q", out)
	}
	x.waitFor("alice", `(?m)^│ You .* muted`)
	out := ctl("status", "--json")
	t.Logf("parley ctl status --json: %s", out)
	if !strings.Contains(out, `"peer":"bob","muted":true`) {
		t.Errorf("parley ctl status --json: %s, want bob's call, muted", out)
	}
	ctl("hangup")
	x.waitFor("alice", `Call with bob completed · 00:0`)
	id := b.expect(t, "call", map[string]any{"status": "started", "from": "alice"})["id"]
	for _, status := range []string{"ringing", "answered", "completed"} {
		b.expect(t, "call_status_changed", map[string]any{"status": status, "id": id})
	}
	x.keys("alice", "q")
}

// TestCtlDrivesJoin: `parley ctl` drives alice's `parley join standup`
// (a headless room participant, no --commands) in the room with bob's,
// their microphones playing 440 and 660 Hz on PulseAudio devices. ctl mute
// takes alice's tone off bob's speaker (under -54 dBFS of it, the room's
// absent level) and bob is told; ctl status --json gives the room, alice
// muted in it as its host, both participants and the quality of what she
// receives; ctl unmute brings her tone back at its level, and ctl hangup
// leaves the room: alice's join exits 0 and bob is told she left.
// Measured: alice's tone on bob's speaker 0.192 in, 0.0003 muted (-56 dB
// under it), 0.134 unmuted.
func TestCtlDrivesJoin(t *testing.T) {
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "ctljoin_alice_mic"), pulse.NullSink(t, "ctljoin_alice_spk")
	bMic, bSpk := pulse.NullSink(t, "ctljoin_bob_mic"), pulse.NullSink(t, "ctljoin_bob_spk")
	w := newWorld(t)
	pulse.Loop(t, aMic, audiotest.Tone(440, 0.2, 20*audiotest.SampleRate))
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.2, 20*audiotest.SampleRate))
	aEnv := append(pulsetest.Env(aMic, aSpk), "PARLEY_TOKEN="+w.token("alice"))
	bEnv := append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob"))
	if out, code := w.run(aEnv, "room", "create", "standup"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}
	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	a := w.start(aEnv, append([]string{"join", "standup"}, plain...)...)
	a.expectRoom(t, "joined", map[string]any{"room": "standup", "user": "alice", "role": "host"})
	b := w.start(bEnv, append([]string{"join", "standup"}, plain...)...)
	b.expectRoom(t, "joined", map[string]any{"room": "standup", "user": "bob", "role": "member"})
	alice := mix{who: "alice's speaker", sink: aSpk, present: []float64{660}, absent: []float64{440}}
	bobHears := mix{who: "bob's speaker", sink: bSpk, present: []float64{440}, absent: []float64{660}}
	hearMixes(t, "both in", alice, bobHears)

	pid := strconv.Itoa(a.cmd.Process.Pid)
	ctl := func(want string, args ...string) string {
		t.Helper()
		out, code := w.run(nil, append([]string{"ctl", "--pid", pid}, args...)...)
		if code != exitOK || want != "" && strings.TrimSpace(out) != want {
			t.Fatalf("parley ctl %s: exit %d, %q; want 0 and %q", strings.Join(args, " "), code, out, want)
		}
		return out
	}
	ctl("mute: ok", "mute")
	b.expectRoom(t, "muted", map[string]any{"user": "alice", "muted": true})
	bobMuted := mix{who: "bob's speaker", sink: bSpk, absent: []float64{440, 660}}
	hearMixes(t, "alice muted by parley ctl", bobMuted, alice)

	var st struct {
		Event string `json:"event"`
		Calls []any  `json:"calls"`
		Room  *struct {
			Name         string `json:"name"`
			Joined       bool   `json:"joined"`
			Role         string `json:"role"`
			Muted        bool   `json:"muted"`
			Participants []struct {
				User  string `json:"user"`
				Role  string `json:"role"`
				Muted bool   `json:"muted"`
			} `json:"participants"`
			Quality *struct {
				Grade string  `json:"grade"`
				MOS   float64 `json:"mos"`
			} `json:"quality"`
		} `json:"room"`
	}
	out := ctl("", "status", "--json")
	t.Logf("parley ctl status --json: %s", strings.TrimSpace(out))
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("parley ctl status --json printed %q: %v", out, err)
	}
	r := st.Room
	if st.Event != "status" || len(st.Calls) != 0 || r == nil {
		t.Fatalf("parley ctl status --json: %s, want no call and the room", out)
	}
	if r.Name != "standup" || !r.Joined || r.Role != "host" || !r.Muted || len(r.Participants) != 2 {
		t.Errorf("parley ctl status --json: room %+v, want standup, joined, alice its host, muted, two in it", *r)
	}
	for _, p := range r.Participants {
		if want := (p.User == "alice"); p.Muted != want || p.User != "alice" && p.User != "bob" {
			t.Errorf("parley ctl status --json: participant %+v, want alice muted and bob not", p)
		}
	}
	if q := r.Quality; q == nil || q.Grade == "" || q.MOS < 1 || q.MOS > 4.5 {
		t.Errorf("parley ctl status --json: room quality %+v, want a grade and a MOS in 1..4.5", q)
	}
	if out := ctl("", "status"); !strings.Contains(out, "room standup (host), muted") ||
		!strings.Contains(out, "  bob (member)") {
		t.Errorf("parley ctl status: %q, want the room's line and bob's", out)
	}

	ctl("unmute: ok", "unmute")
	b.expectRoom(t, "muted", map[string]any{"user": "alice", "muted": false})
	hearMixes(t, "alice unmuted by parley ctl", bobHears, alice)

	ctl("hangup: ok", "hangup")
	// Its reason is left or, as often, disconnected: the server may see
	// alice's peer connection close before it reads her room_leave (as when
	// a join is interrupted).
	left := b.expectRoom(t, "participant_left", map[string]any{"user": "alice"})
	t.Logf("bob is told alice left: reason %v", left["reason"])
	if code := a.wait(t); code != exitOK {
		t.Errorf("alice's parley join exited %d after parley ctl hangup, want 0; stderr: %s", code, a.stderr.String())
	}
}
