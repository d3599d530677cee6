//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestRoomOverRealDevices: four parley processes in one room of a real
// `parley serve`, each with its own PulseAudio microphone and speaker, each
// microphone playing its own tone. Everyone hears every other speaker's
// tone and not their own; the listener is never heard; the host's mute
// takes a tone away for everyone and the muted one is told by whom; a
// removed participant's leg ends (exit 3) and the others are told why; the
// host's end ends it for all.
func TestRoomOverRealDevices(t *testing.T) {
	pulse := pulsetest.Start(t)
	w := newWorld(t)

	type member struct {
		user string
		hz   float64
		args []string
		mic  string
		spk  string
		p    *proc
	}
	ms := []*member{
		{user: "alice", hz: 440}, {user: "bob", hz: 660}, {user: "carol", hz: 880},
		{user: "dave", hz: 1100, args: []string{"--listen-only"}},
	}
	env := map[string][]string{}
	for _, m := range ms {
		m.mic, m.spk = pulse.NullSink(t, m.user+"_mic"), pulse.NullSink(t, m.user+"_spk")
		env[m.user] = append(pulsetest.Env(m.mic, m.spk), "PARLEY_TOKEN="+w.token(m.user))
		// 0.2 of full scale each: three summed stay below clipping.
		pulse.Loop(t, m.mic, audiotest.Tone(m.hz, 0.2, 20*audiotest.SampleRate))
	}
	if out, code := w.run(env["alice"], "room", "create", "standup"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}

	// The host's actions come through a named pipe, a line at a time.
	fifo := filepath.Join(t.TempDir(), "host")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	host, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not wait for the reader
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	act := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(host, line); err != nil {
			t.Fatal(err)
		}
	}

	// As in TestCallOverRealDevices, the tones go through without
	// processing, so that levels measure the path.
	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	for i, m := range ms {
		args := append([]string{"join", "standup"}, plain...)
		if i == 0 {
			args = append(args, "--commands", fifo)
		}
		m.p = w.start(env[m.user], append(args, m.args...)...)
		role := "member"
		switch {
		case i == 0:
			role = "host"
		case len(m.args) > 0:
			role = "listener"
		}
		m.p.expectRoom(t, "joined", map[string]any{"room": "standup", "user": m.user, "role": role})
	}

	// heard checks what each of those in the room hears of the tones now.
	heard := func(when string, in, speaking []*member) {
		t.Helper()
		var checks []mix
		for _, m := range in {
			c := mix{who: m.user + "'s speaker", sink: m.spk}
			for _, s := range ms {
				if s != m && slices.Contains(speaking, s) {
					c.present = append(c.present, s.hz)
				} else {
					c.absent = append(c.absent, s.hz)
				}
			}
			checks = append(checks, c)
		}
		hearMixes(t, when, checks...)
	}
	alice, bob, carol, dave := ms[0], ms[1], ms[2], ms[3]
	heard("all in", ms, []*member{alice, bob, carol})

	act("mute bob")
	bob.p.expectRoom(t, "muted", map[string]any{"user": "bob", "by": "alice", "muted": true})
	heard("bob muted by the host", ms, []*member{alice, carol})

	act("remove carol")
	carol.p.expectRoom(t, "removed", map[string]any{"by": "alice"})
	if code := carol.p.wait(t); code != exitRejected {
		t.Errorf("the removed participant's parley join exited %d, want %d", code, exitRejected)
	}
	for _, m := range []*member{alice, bob, dave} {
		m.p.expectRoom(t, "participant_left", map[string]any{"user": "carol", "reason": "removed"})
	}
	heard("carol removed", []*member{alice, bob, dave}, []*member{alice})

	act("end")
	for _, m := range []*member{alice, bob, dave} {
		m.p.expectRoom(t, "room_ended", map[string]any{"reason": "ended by host"})
		if code := m.p.wait(t); code != exitOK {
			t.Errorf("%s's parley join exited %d after the room ended, want 0", m.user, code)
		}
	}
	for _, m := range ms {
		if s := m.p.stderr.String(); s != "" {
			t.Errorf("%s's parley join wrote to stderr: %q", m.user, s)
		}
	}
}

// expectRoom is expect for room events: it skips the others (speaking,
// participants coming and going, levels) until one named name.
func (p *proc) expectRoom(t *testing.T, name string, want map[string]any) map[string]any {
	t.Helper()
	for {
		ev := p.event(t)
		if ev["event"] == "error" || ev["event"] == "room_left" && name != "room_left" {
			t.Fatalf("%v: got %v, want a %q event", p.cmd.Args[1:], ev, name)
		}
		if ev["event"] != name {
			continue
		}
		for k, v := range want {
			if ev[k] != v {
				t.Fatalf("%v: got %v, want %s=%v", p.cmd.Args[1:], ev, k, v)
			}
		}
		return ev
	}
}

// mix is what one speaker should play: each tone of present at a level
// heard, each of absent not at all.
type mix struct {
	who, sink       string
	present, absent []float64
	// windowed measures a present tone as the median of its levels in
	// 100 ms windows, and finds it heard from browserHeardLevel: a stream
	// on another clock (a browser's) has its phase slipped by each sample
	// the jitter buffer adds or drops, which lowers a two-second measure
	// but not those of the windows; and the browser's noise suppression
	// takes a steady tone down by up to 20 dB after a few seconds.
	windowed bool
}

// Levels that tell heard from not heard, as amplitudes (0..1 of full
// scale, audiotest.Goertzel): the tones are played at 0.2 (-14 dBFS), and
// a path that carries one at all brings it within a few dB; what is not
// carried is under 0.002 (-40 dB below it), leakage and noise.
const (
	heardLevel        = 0.1
	browserHeardLevel = 0.01 // still 14 dB above absentLevel
	absentLevel       = 0.002
)

// judge says whether the two seconds in s hold the mix, and what they hold.
func (c mix) judge(s []int16) (bool, string) {
	ok := true
	var b strings.Builder
	for _, hz := range c.present {
		a, want := audiotest.Goertzel(s, hz), heardLevel
		if c.windowed {
			var ws []float64
			for i := 0; i+audiotest.SampleRate/10 <= len(s); i += audiotest.SampleRate / 10 {
				ws = append(ws, audiotest.Goertzel(s[i:i+audiotest.SampleRate/10], hz))
			}
			a, want = audiotest.Median(ws), browserHeardLevel
		}
		ok = ok && a >= want
		fmt.Fprintf(&b, "%.0f Hz %.3f (want ≥ %.3f) ", hz, a, want)
	}
	for _, hz := range c.absent {
		a := audiotest.Goertzel(s, hz)
		ok = ok && a <= absentLevel
		fmt.Fprintf(&b, "%.0f Hz %.4f (want ≤ %.3f) ", hz, a, absentLevel)
	}
	return ok, strings.TrimSpace(b.String())
}

// hearMixes waits, up to 15 s, until every speaker's last two seconds hold
// their mix, listening to all at once. It fails the test if one does not.
func hearMixes(t *testing.T, when string, checks ...mix) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	start := time.Now()
	found, errs := make([]string, len(checks)), make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			const window = 2 * audiotest.SampleRate
			var got []int16
			judged := 0
			found[i] = "nothing"
			errs[i] = pulsetest.Listen(ctx, pulsetest.Monitor(c.sink), func(chunk []int16, _ time.Time) bool {
				got = append(got, chunk...)
				if len(got) < window || len(got)-judged < audiotest.SampleRate/4 {
					return true
				}
				judged = len(got)
				ok, what := c.judge(got[len(got)-window:])
				found[i] = what
				return !ok
			})
		})
	}
	wg.Wait()
	for i, c := range checks {
		if errs[i] != nil {
			t.Errorf("%s, %s: never as wanted; the last two seconds: %s (%v)", when, c.who, found[i], errs[i])
			continue
		}
		t.Logf("%s, %s: %s", when, c.who, found[i])
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%s: as wanted %v after listening began", when, time.Since(start).Round(time.Millisecond))
}
