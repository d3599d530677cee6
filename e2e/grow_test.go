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

	// Each speaker is listened to across the move, for the other's tone.
	var stop atomic.Int64 // unix ns: the listening ends at this time (0: not yet known)
	gaps := make([]toneGaps, 2)
	var wg sync.WaitGroup
	for i, m := range []*member{alice, bob} {
		other := []*member{bob, alice}[i]
		wg.Go(func() { gaps[i] = longestGap(t.Context(), pulse, m.spk, other.hz, &stop) })
	}
	time.Sleep(300 * time.Millisecond) // pacat is recording before the move begins

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
		t.Logf("%s's speaker across the move (the call ended %v after the add): the other's tone's longest gap %v; "+
			"gaps of 40 ms or more, from the add: %s", m.user, moved.Sub(added).Round(time.Millisecond), g.longest,
			g.list(added))
		if g.longest > maxMoveGap {
			t.Errorf("%s's speaker lost the other's tone for %v across the move, want at most %v", m.user, g.longest,
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

// toneGaps is what longestGap found: the longest run of windows without
// the tone, when it began, and how many runs there were.
type toneGaps struct {
	longest time.Duration
	gaps    []toneGap // those of 40 ms or more
	err     error
}

// list tells the gaps, from from.
func (g toneGaps) list(from time.Time) string {
	var b strings.Builder
	for _, x := range g.gaps {
		fmt.Fprintf(&b, "%v at %v, ", x.back.Sub(x.gone), x.gone.Sub(from).Round(time.Millisecond))
	}
	return cmp.Or(strings.TrimSuffix(b.String(), ", "), "none")
}

// longestGap listens to sink from the moment hz is heard until stop (unix
// ns, once set) and measures its gaps on 20 ms windows: a window holds the
// tone at gapLevel or more.
func longestGap(ctx context.Context, pulse *pulsetest.Pulse, sink string, hz float64, stop *atomic.Int64) (
	g toneGaps) {
	const window = audiotest.SampleRate / 50
	const windowDur = 20 * time.Millisecond
	var buf []int16
	heard := false
	var run time.Duration
	var runStart time.Time
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	g.err = pulse.Listen(ctx, pulsetest.Monitor(sink), func(chunk []int16, at time.Time) bool {
		buf = append(buf, chunk...)
		for len(buf) >= window {
			w := buf[:window]
			buf = buf[window:]
			start := at.Add(-time.Duration(len(buf)+window) * time.Second / audiotest.SampleRate)
			if s := stop.Load(); s != 0 && start.UnixNano() > s {
				return false
			}
			a := audiotest.Goertzel(w, hz)
			switch {
			case a >= gapLevel:
				heard = true
				if run >= 2*windowDur {
					g.gaps = append(g.gaps, toneGap{gone: runStart, back: start})
				}
				run = 0
			case heard:
				if run == 0 {
					runStart = start
				}
				run += windowDur
				g.longest = max(g.longest, run)
			}
		}
		return true
	})
	if g.err == nil && !heard {
		g.err = fmt.Errorf("%.0f Hz never heard", hz)
	}
	return g
}

// TestCallSeveral: `parley call bob carol` makes a room of which alice is
// the host, rings both and joins it, printing what `parley join --json`
// prints, the invitations' statuses included; bob's and carol's `parley
// answer` join it; alice's --for leaves it (exit 0).
func TestCallSeveral(t *testing.T) {
	w := newWorld(t)
	media := []string{"--in", "tone:440", "--out", "null", "--json"}
	var callees []*proc
	for _, u := range []string{"bob", "carol"} {
		p := w.start([]string{"PARLEY_TOKEN=" + w.token(u)}, append([]string{"answer"}, media...)...)
		p.expect(t, "connected", map[string]any{"user": u})
		callees = append(callees, p)
	}
	a := w.start([]string{"PARLEY_TOKEN=" + w.token("alice")},
		append([]string{"call", "bob", "carol", "--for", "3s"}, media...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	joined := a.expectRoom(t, "joined", map[string]any{"user": "alice", "role": "host"})
	room, _ := joined["room"].(string)
	if !strings.HasPrefix(room, "call-") {
		t.Fatalf("alice joined room %q, want call-…", room)
	}
	for i, u := range []string{"bob", "carol"} {
		callees[i].expectRoom(t, "invited", map[string]any{"room": room, "user": u, "by": "alice",
			"status": "ringing"})
		callees[i].expectRoom(t, "joined", map[string]any{"room": room, "user": u, "role": "member"})
	}
	// They may join before alice: she is told how each invitation went
	// after her joined, and of the rest as it goes.
	answered := map[any]bool{}
	for len(answered) < 2 {
		ev := a.expectRoom(t, "invited", map[string]any{"room": room, "by": "alice"})
		if ev["status"] == "answered" {
			answered[ev["user"]] = true
		}
	}
	a.expectRoom(t, "room_left", map[string]any{"room": room, "reason": "left"})
	if code := a.wait(t); code != exitOK {
		t.Errorf("parley call bob carol exited %d after --for, want 0", code)
	}
	for i, u := range []string{"bob", "carol"} {
		callees[i].expectRoom(t, "participant_left", map[string]any{"user": "alice", "reason": "left"})
		if s := callees[i].stderr.String(); s != "" {
			t.Errorf("%s's parley answer wrote to stderr: %q", u, s)
		}
	}
}
