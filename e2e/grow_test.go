//go:build e2e

package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// maxMoveGap is the longest a tone may be gone from a speaker while a call
// grows into a room.
const maxMoveGap = 200 * time.Millisecond

// TestGrowCall: alice calls bob (`parley call bob --commands`), each
// microphone playing its tone; once both hear the other's, alice adds carol
// (the line "add carol"): both move into a room grown from the call, and
// neither's speaker loses the other's tone for longer than maxMoveGap; the
// call completes with reason "moved to room" on both sides; carol's
// `parley answer` takes the invitation (which names the call) and joins;
// the room has the three, carol hears both tones and each hears the other
// two; alice's end ends it for all.
func TestGrowCall(t *testing.T) {
	pulse := pulsetest.Start(t)
	w := newWorld(t)

	type member struct {
		user     string
		hz       float64
		mic, spk string
		env      []string
		p        *proc
	}
	alice, bob, carol := &member{user: "alice", hz: 440}, &member{user: "bob", hz: 660},
		&member{user: "carol", hz: 880}
	ms := []*member{alice, bob, carol}
	for _, m := range ms {
		m.mic, m.spk = pulse.NullSink(t, m.user+"_mic"), pulse.NullSink(t, m.user+"_spk")
		m.env = append(pulse.Env(m.mic, m.spk), "PARLEY_TOKEN="+w.token(m.user))
		// 0.2 of full scale each, as in TestRoomOverRealDevices: two summed
		// in a room stay below clipping.
		pulse.Loop(t, m.mic, audiotest.Tone(m.hz, 0.2, 20*audiotest.SampleRate))
	}
	fifo := filepath.Join(t.TempDir(), "alice")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmds, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not wait for the reader
	if err != nil {
		t.Fatal(err)
	}
	defer cmds.Close()
	act := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(cmds, line); err != nil {
			t.Fatal(err)
		}
	}

	// As in TestCallOverRealDevices, the tones go through without
	// processing, so that levels measure the path.
	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	bob.p = w.start(bob.env, append([]string{"answer"}, plain...)...)
	carol.p = w.start(carol.env, append([]string{"answer"}, plain...)...)
	for _, m := range []*member{bob, carol} {
		m.p.expect(t, "connected", map[string]any{"user": m.user})
	}
	alice.p = w.start(alice.env, append([]string{"call", "bob", "--commands", fifo}, plain...)...)
	alice.p.expect(t, "connected", map[string]any{"user": "alice"})
	started := alice.p.expect(t, "call", map[string]any{"status": "started", "to": "bob"})
	id := started["id"]
	for _, m := range []*member{alice, bob} {
		if m == bob {
			m.p.expect(t, "call", map[string]any{"status": "started", "id": id})
		}
		m.p.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": id})
		m.p.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": id})
	}
	hearTones(t, "in the call", speaker{"alice's speaker", alice.spk, bob.hz}, speaker{"bob's speaker", bob.spk,
		alice.hz})

	// Each speaker is listened to across the move, for the other's tone,
	// from baseline before it: the gaps of the call as it is.
	var stop atomic.Int64 // unix ns: the listening ends at this time (0: not yet known)
	gaps := make([]toneGaps, 2)
	var wg sync.WaitGroup
	ready := make(chan struct{}, 2)
	for i, m := range []*member{alice, bob} {
		other := []*member{bob, alice}[i]
		wg.Go(func() { gaps[i] = longestGap(t.Context(), pulse, m.spk, other.hz, &stop, ready) })
	}
	for range 2 {
		select {
		case <-ready:
		case <-time.After(15 * time.Second):
			t.Fatal("the speakers were not heard for the baseline")
		}
	}

	added := time.Now()
	act("add carol")
	var room string
	for _, m := range []*member{alice, bob} {
		g := m.p.expectRoom(t, "grew", map[string]any{"id": id, "host": m == alice})
		room, _ = g["room"].(string)
		role := map[bool]string{true: "host", false: "member"}[m == alice]
		m.p.expectRoom(t, "joined", map[string]any{"room": room, "user": m.user, "role": role})
		m.p.expectRoom(t, "call_status_changed", map[string]any{"id": id, "status": "completed",
			"reason": signaling.ReasonMovedToRoom})
	}
	moved := time.Now()
	stop.Store(moved.Add(2 * time.Second).UnixNano()) // and some time after, in the room
	carol.p.expectRoom(t, "invited", map[string]any{"room": room, "user": "carol", "by": "alice",
		"status": "ringing", "call": id})
	carol.p.expectRoom(t, "joined", map[string]any{"room": room, "user": "carol", "role": "member"})
	wg.Wait()
	for i, m := range []*member{alice, bob} {
		g := gaps[i]
		if g.err != nil {
			t.Fatalf("%s's speaker: %v", m.user, g.err)
		}
		across := g.longest(added, true)
		t.Logf("%s's speaker across the move (the call ended %v after the add): the other's tone's longest gap %v "+
			"(%v in the %v before the add); gaps of 40 ms or more, from the add: %s", m.user,
			moved.Sub(added).Round(time.Millisecond), across, g.longest(added, false), baseline, g.list(added))
		if across > maxMoveGap {
			t.Errorf("%s's speaker lost the other's tone for %v across the move, want at most %v", m.user, across,
				maxMoveGap)
		}
	}

	out, code := w.run(alice.env, "room", "show", room, "--json")
	var shown signaling.Room
	if err := json.Unmarshal([]byte(out), &shown); code != exitOK || err != nil {
		t.Fatalf("parley room show %s: exit %d (%v): %s", room, code, err, out)
	}
	if len(shown.Participants) != 3 || shown.Call != id || shown.Host != "alice" {
		t.Errorf("room %s: host %s, grown from %q, participants %+v; want alice's, from call %v, with three",
			room, shown.Host, shown.Call, shown.Participants, id)
	}
	var checks []mix
	for _, m := range ms {
		c := mix{who: m.user + "'s speaker", sink: m.spk, absent: []float64{m.hz}}
		for _, o := range ms {
			if o != m {
				c.present = append(c.present, o.hz)
			}
		}
		checks = append(checks, c)
	}
	hearMixes(t, "in the room grown from the call", checks...)

	act("end")
	for _, m := range ms {
		m.p.expectRoom(t, "room_ended", map[string]any{"reason": "ended by host"})
		if code := m.p.wait(t); code != exitOK {
			t.Errorf("%s's parley exited %d after the room ended, want 0", m.user, code)
		}
		if s := m.p.stderr.String(); s != "" {
			t.Errorf("%s's parley wrote to stderr: %q", m.user, s)
		}
	}
}

// toneGaps are the gaps longestGap found: each run of windows without the
// tone, when it began and how long it lasted (the last may be cut short
// by the end of the listening).
type toneGaps struct {
	gaps []silence
	err  error
}

type silence struct {
	at  time.Time
	len time.Duration
}

// longest is the longest gap that began at or after from (after: true),
// or that ended before it (after: false).
func (g toneGaps) longest(from time.Time, after bool) time.Duration {
	var d time.Duration
	for _, x := range g.gaps {
		if x.at.Add(x.len).After(from) == after {
			d = max(d, x.len)
		}
	}
	return d
}

// list tells the gaps of 40 ms or more, from from.
func (g toneGaps) list(from time.Time) string {
	var b strings.Builder
	for _, x := range g.gaps {
		if x.len >= 40*time.Millisecond {
			fmt.Fprintf(&b, "%v at %v, ", x.len, x.at.Sub(from).Round(time.Millisecond))
		}
	}
	return cmp.Or(strings.TrimSuffix(b.String(), ", "), "none")
}

// baseline is how long longestGap listens before it is ready: the gaps
// of the call before the move.
const baseline = 2 * time.Second

// longestGap listens to sink from the moment hz is heard until stop (unix
// ns, once set) and finds the tone's gaps on 20 ms windows: a window holds
// the tone at gapLevel or more. It sends on ready once it has listened for
// baseline from then.
func longestGap(ctx context.Context, pulse *pulsetest.Pulse, sink string, hz float64, stop *atomic.Int64,
	ready chan<- struct{}) (g toneGaps) {
	const window = audiotest.SampleRate / 50
	const windowDur = 20 * time.Millisecond
	var buf []int16
	var heardAt time.Time // zero until the tone is first heard
	var run silence       // the gap going on, if len > 0
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	g.err = pulse.Listen(ctx, pulsetest.Monitor(sink), func(chunk []int16, at time.Time) bool {
		buf = append(buf, chunk...)
		for len(buf) >= window {
			w := buf[:window]
			buf = buf[window:]
			start := at.Add(-time.Duration(len(buf)+window) * time.Second / audiotest.SampleRate)
			if s := stop.Load(); s != 0 && start.UnixNano() > s {
				if run.len > 0 {
					g.gaps = append(g.gaps, run)
				}
				return false
			}
			switch a := audiotest.Goertzel(w, hz); {
			case a >= gapLevel:
				if heardAt.IsZero() {
					heardAt = start
				}
				if run.len > 0 {
					g.gaps = append(g.gaps, run)
				}
				run = silence{}
			case !heardAt.IsZero():
				if run.len == 0 {
					run.at = start
				}
				run.len += windowDur
			}
			if ready != nil && !heardAt.IsZero() && start.Sub(heardAt) >= baseline {
				ready <- struct{}{}
				ready = nil
			}
		}
		return true
	})
	if g.err == nil && heardAt.IsZero() {
		g.err = fmt.Errorf("%.0f Hz never heard", hz)
	}
	return g
}
