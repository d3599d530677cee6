//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// tmux drives real parley UIs in a private tmux server.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test installs it)")
	}
	x := &tmux{t: t, socket: fmt.Sprintf("parley-test-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// open starts parley (the test binary) with args in a new 100×30 session.
// openUI saves a configuration for user (the world's server, a token,
// these contacts) in a folder of its own and opens the TUI on it in x,
// with env (the devices) besides.
func (w *world) openUI(x *tmux, user string, env []string, contacts ...string) {
	w.t.Helper()
	dir := filepath.Join(w.home, user)
	cfg := config.Config{Server: w.server, Token: w.token(user), Contacts: contacts}
	if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
		w.t.Fatal(err)
	}
	x.open(user, append(env, "PARLEY_TEST_EXEC=1", "XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"PARLEY_CONFIG="+filepath.Join(dir, "config.json"), "PARLEY_SERVER=", "PARLEY_TOKEN=",
		"TERM=xterm-256color"))
}

func (x *tmux) open(name string, env []string, args ...string) {
	x.t.Helper()
	cmd := []string{"new-session", "-d", "-s", name, "-x", "100", "-y", "30"}
	for _, e := range env {
		cmd = append(cmd, "-e", e)
	}
	x.run(append(cmd, append([]string{parleyBin()}, args...)...)...)
}

func (x *tmux) keys(name string, keys ...string) {
	x.run(append([]string{"send-keys", "-t", name}, keys...)...)
}

func (x *tmux) screen(name string) string { return x.run("capture-pane", "-p", "-t", name) }

// waitFor polls the screen until it matches re: a terminal says nothing
// when it changes, so polling (bounded) is all there is.
func (x *tmux) waitFor(name, re string) string {
	x.t.Helper()
	r := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := x.screen(name)
		if r.MatchString(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%s's screen never matched %q; it shows:\n%s", name, re, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUIEndToEnd: two real parley UIs in tmux, over PulseAudio virtual
// devices and a real `parley serve`. Alice sees Bob online and calls him;
// Bob answers with a; both see the timer; Alice mutes and Bob sees it; Bob
// hears Alice's tone; Alice hangs up and both see the call completed.
func TestUIEndToEnd(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "ui_alice_mic"), pulse.NullSink(t, "ui_alice_spk")
	bMic, bSpk := pulse.NullSink(t, "ui_bob_mic"), pulse.NullSink(t, "ui_bob_spk")
	w := newWorld(t)

	user := func(name, contact, mic, spk string) []string {
		dir := filepath.Join(w.home, name)
		cfg := config.Config{Server: w.server, Token: w.token(name), Contacts: []string{contact}}
		if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
			t.Fatal(err)
		}
		return append(pulsetest.Env(mic, spk),
			"PARLEY_TEST_EXEC=1",
			"PARLEY_CONFIG="+filepath.Join(dir, "config.json"),
			"XDG_STATE_HOME="+filepath.Join(dir, "state"),
			"PARLEY_SERVER=", "PARLEY_TOKEN=",
			"TERM=xterm-256color",
		)
	}
	x.open("bob", user("bob", "alice", bMic, bSpk))
	x.waitFor("bob", `● connected`)
	x.open("alice", user("alice", "bob", aMic, aSpk))
	x.waitFor("alice", `● bob\s+online`)
	x.waitFor("bob", `● alice\s+online`)

	pulse.Loop(t, aMic, audiotest.Tone(440, 0.5, 10*audiotest.SampleRate))

	x.keys("alice", "Enter")
	x.waitFor("alice", `(?s)Calling bob|bob.*ringing`)
	x.waitFor("bob", `INCOMING CALL from alice`)
	x.keys("bob", "a")
	x.waitFor("alice", `In call with bob\s+│?\s*00:0[1-9]`)
	x.waitFor("bob", `In call with alice\s+│?\s*00:0[1-9]`)

	// Bob hears Alice's tone.
	rctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	heard, err := pulsetest.RecordN(rctx, pulsetest.Monitor(bSpk), audiotest.SampleRate)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if f := audiotest.DominantFrequency(heard); f < 435 || f > 445 {
		t.Errorf("Bob's speaker plays %.1f Hz, want 440 ± 5", f)
	}

	x.keys("alice", "m")
	x.waitFor("alice", `(?m)^│ You .* muted`)
	x.waitFor("bob", `(?m)^│ alice .* muted`)
	x.keys("alice", "h")
	x.waitFor("alice", `Call with bob completed · 00:0`)
	x.waitFor("bob", `Call with alice completed · 00:0`)

	// Nothing but the UI reached the terminal: no stray lines above it.
	for _, name := range []string{"alice", "bob"} {
		if s := x.screen(name); !strings.HasPrefix(s, " parley · "+name) {
			t.Errorf("%s's screen does not start with the header:\n%s", name, s)
		}
	}
	x.keys("alice", "q")
	x.keys("bob", "q")
}

// TestUIRoomEndToEnd: a room from the TUI. Alice's UI shows the room Bob
// (a `parley join` process) is in, joins it from the rooms pane, hears
// Bob's tone, sees his connection's grade and her own quality line, mutes
// him as the host (his side is told by whom) and ends the room for both.
func TestUIRoomEndToEnd(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "uir_alice_mic"), pulse.NullSink(t, "uir_alice_spk")
	bMic, bSpk := pulse.NullSink(t, "uir_bob_mic"), pulse.NullSink(t, "uir_bob_spk")
	w := newWorld(t)
	aliceTok := w.token("alice")
	if out, code := w.run([]string{"PARLEY_TOKEN=" + aliceTok}, "room", "create", "standup"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.3, 10*audiotest.SampleRate))
	bob := w.start(append(pulsetest.Env(bMic, bSpk), "PARLEY_TOKEN="+w.token("bob")), "join", "standup", "--json",
		"--aec", "off", "--noise-suppression", "off", "--agc", "off")
	bob.expectRoom(t, "joined", map[string]any{"role": "member"})

	dir := filepath.Join(w.home, "alice")
	cfg := config.Config{Server: w.server, Token: aliceTok}
	if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	x.open("alice", append(pulsetest.Env(aMic, aSpk),
		"PARLEY_TEST_EXEC=1",
		"PARLEY_CONFIG="+filepath.Join(dir, "config.json"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"PARLEY_SERVER=", "PARLEY_TOKEN=",
		"TERM=xterm-256color",
	))
	x.waitFor("alice", `● connected`)
	x.keys("alice", "Tab", "Tab")
	x.waitFor("alice", `standup\s+1 in\s+bob`)
	x.keys("alice", "Enter")
	x.waitFor("alice", `Room standup`)
	x.waitFor("alice", `2 people · you are the host`)
	x.waitFor("alice", `encrypted to the server, not end to end`)
	bob.expectRoom(t, "participant_joined", map[string]any{"user": "alice", "role": "host"})
	hearTones(t, "in the room", speaker{"alice's speaker", aSpk, 660})
	x.waitFor("alice", `(?m)bob\s+member\s+(▂\S\S )?\S+ speaking`)
	// Bob's connection graded (the room's node measured what he sends),
	// and what reaches alice, as the call view shows it.
	x.waitFor("alice", `(?m)bob\s+member\s+▂\S\S \S+ speaking`)
	x.waitFor("alice", `Quality: ▂\S\S RTT \d+ ms · jitter \d+ ms · loss \d+\.\d% · MOS \d\.\d`)

	x.keys("alice", "Down", "M") // Bob's row, mute him
	bob.expectRoom(t, "muted", map[string]any{"user": "bob", "by": "alice", "muted": true})
	x.waitFor("alice", `(?m)bob\s+member\s+▂\S\S \S+ muted`)

	x.keys("alice", "E")
	x.waitFor("alice", `(?i)end .*for everyone`)
	x.keys("alice", "y")
	bob.expectRoom(t, "room_ended", map[string]any{"reason": "ended by host"})
	if code := bob.wait(t); code != exitOK {
		t.Errorf("bob's parley join exited %d after the room ended, want 0", code)
	}
	if s := x.screen("alice"); !strings.HasPrefix(s, " parley · alice") {
		t.Errorf("alice's screen does not start with the header:\n%s", s)
	}
	x.keys("alice", "q")
}

// TestDemoEndToEnd is what `make demo` promises a new user: `parley demo`
// opens the UI with the echo contact online; enter calls it; what the
// microphone hears comes back out of the speaker about a second later
// (the echo service's delay).
func TestDemoEndToEnd(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	mic, spk := pulse.NullSink(t, "demo_mic"), pulse.NullSink(t, "demo_spk")
	home := t.TempDir()
	x.open("demo", append(pulsetest.Env(mic, spk),
		"PARLEY_CONFIG="+filepath.Join(home, "config.json"),
		"XDG_STATE_HOME="+filepath.Join(home, "state"),
		"PARLEY_SERVER=", "PARLEY_TOKEN=",
		"TERM=xterm-256color",
	), "demo")
	x.waitFor("demo", `● echo\s+online`)
	x.keys("demo", "Enter")
	x.waitFor("demo", `In call with echo\s+│?\s*00:0[1-9]`)

	// Half a second of 440 Hz into the microphone, and the speaker
	// recorded from then on: the tone comes back once, a second later.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	var (
		heard   []int16
		started = make(chan time.Time, 1)
		done    = make(chan error, 1)
	)
	go func() {
		done <- pulse.Listen(ctx, pulsetest.Monitor(spk), func(chunk []int16, at time.Time) bool {
			if len(heard) == 0 {
				started <- at.Add(-time.Duration(len(chunk)) * time.Second / audiotest.SampleRate)
			}
			heard = append(heard, chunk...)
			return len(heard) < 3*audiotest.SampleRate
		})
	}()
	recordingFrom := <-started
	playedAt := time.Now()
	pulse.Play(t, mic, audiotest.Tone(440, 0.5, audiotest.SampleRate/2))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	on := audiotest.FirstAbove(heard, 0.1)
	if on < 0 {
		t.Fatalf("the speaker stayed silent for 3 s after the microphone heard a tone (%.1f dBFS)",
			audiotest.DBFS(heard))
	}
	back := recordingFrom.Add(time.Duration(on) * time.Second / audiotest.SampleRate).Sub(playedAt)
	tone := heard[on:min(len(heard), on+audiotest.SampleRate*4/10)]
	f := audiotest.DominantFrequency(tone)
	t.Logf("the tone came back %v after it was played into the microphone, at %.1f Hz, %.1f dBFS",
		back.Round(10*time.Millisecond), f, audiotest.DBFS(tone))
	if f < 435 || f > 445 {
		t.Errorf("the echo plays %.1f Hz, want 440 ± 5", f)
	}
	// The echo service holds audio for a second; the call's own path adds
	// a little, the pacat that plays the tone a little more.
	if back < 900*time.Millisecond || back > 1600*time.Millisecond {
		t.Errorf("the tone came back after %v, want about a second (0.9 to 1.6 s)", back)
	}
	x.keys("demo", "h")
	x.waitFor("demo", `Call with echo completed · 00:0`)
	x.keys("demo", "q")
}

// TestUIStartsWithServerDown: the UI opens while the server is down, says
// in words that it cannot reach it and keeps trying, and is connected once
// the server is back (before, it refused to start).
func TestUIStartsWithServerDown(t *testing.T) {
	x := newTmux(t)
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	serve := []string{"--data", filepath.Join(w.home, "data"), "--turn-listen", "off",
		"--room-port", "0"} // the restart listens at the same port, its rooms at any
	var srv *proc
	w.server, srv = w.startNode(serve...)
	cfg := config.Config{Server: w.server, Token: w.token("alice"), Contacts: []string{"bob"}}
	if err := cfg.Save(filepath.Join(w.home, "alice", "config.json")); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(os.Interrupt)
	if code := srv.wait(t); code != exitOK {
		t.Fatalf("parley serve exited %d", code)
	}

	x.open("alice", []string{
		"PARLEY_TEST_EXEC=1",
		"PARLEY_CONFIG=" + filepath.Join(w.home, "alice", "config.json"),
		"XDG_STATE_HOME=" + filepath.Join(w.home, "alice", "state"),
		"PARLEY_SERVER=", "PARLEY_TOKEN=",
		"TERM=xterm-256color",
	})
	x.waitFor("alice", `◌ reconnecting… cannot reach the`)

	u, err := url.Parse(w.server)
	if err != nil {
		t.Fatal(err)
	}
	w.startNode(append(serve, "--listen", u.Host)...)
	x.waitFor("alice", `● connected`)
	x.waitFor("alice", `parley · alice`)
	x.keys("alice", "q")
}

// TestUIHeadset: Alice's UI has a headset saved as its speaker (a null
// sink described as one, by its sink's name, as the picker saves it). In a
// call with Bob, the call view says the headset is in use and Bob's tone
// plays there. She unplugs it (the sink unloaded): the call goes on, on
// the default speaker, and the call view says so; she plugs in another
// and a notice offers to move the call to it.
func TestUIHeadset(t *testing.T) {
	x := newTmux(t)
	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "uih_alice_mic"), pulse.NullSink(t, "uih_alice_spk")
	bMic, bSpk := pulse.NullSink(t, "uih_bob_mic"), pulse.NullSink(t, "uih_bob_spk")
	headset := pulse.DescribedSink(t, "uih_headset", "USB Headset Analog Stereo")
	w := newWorld(t)
	user := func(name, contact, mic, spk, output string) []string {
		dir := filepath.Join(w.home, name)
		cfg := config.Config{Server: w.server, Token: w.token(name), Contacts: []string{contact}, Output: output}
		if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
			t.Fatal(err)
		}
		return append(pulsetest.Env(mic, spk), // aSpk is Alice's default speaker
			"PARLEY_TEST_EXEC=1",
			"PARLEY_CONFIG="+filepath.Join(dir, "config.json"),
			"XDG_STATE_HOME="+filepath.Join(dir, "state"),
			"PARLEY_SERVER=", "PARLEY_TOKEN=",
			"TERM=xterm-256color",
		)
	}
	x.open("bob", user("bob", "alice", bMic, bSpk, ""))
	x.waitFor("bob", `● connected`)
	x.open("alice", user("alice", "bob", aMic, aSpk, headset))
	x.waitFor("alice", `● bob\s+online`)
	pulse.Loop(t, bMic, audiotest.Tone(660, 0.5, 10*audiotest.SampleRate))

	x.keys("alice", "Enter")
	x.waitFor("bob", `INCOMING CALL from alice`)
	x.keys("bob", "a")
	x.waitFor("alice", `In call with bob`)
	t.Logf("Alice's screen:\n%s", x.waitFor("alice", `Speaker: USB Headset Analog Stereo`))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if _, found, err := pulse.SteadyTone(ctx, headset, 660); err != nil {
		t.Fatalf("the headset: %v", err)
	} else {
		t.Logf("the headset plays Bob: %s", found)
	}

	pulse.Unload(t, headset)
	x.waitFor("alice", `Speaker: default`)
	t.Logf("Alice's screen, the headset unplugged:\n%s", x.waitFor("alice", `In call with bob`))
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, found, err := pulse.SteadyTone(ctx, aSpk, 660); err != nil {
		t.Fatalf("the default speaker, after the headset: %v", err)
	} else {
		t.Logf("the default speaker plays Bob: %s", found)
	}

	plugged := time.Now()
	pulse.DescribedSink(t, "uih_headset2", "USB Headset Analog Stereo")
	x.waitFor("alice", `USB Headset Analog Stereo plugged in \(speaker\): press d to move the call to it`)
	t.Logf("the notice showed %v after the headset was plugged in", time.Since(plugged).Round(time.Millisecond))
	x.keys("alice", "h")
	x.waitFor("alice", `Call with bob completed`)
	x.keys("alice", "q")
	x.keys("bob", "q")
}
