//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/natstest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestRoomOnTwoNodes: two `parley serve --nats` nodes on a real nats-server
// and two `parley join` processes on PulseAudio devices. Alice (the host,
// who knows both nodes) joins through node 1, which opens the room; Bob
// (who knows node 2 only) joins through node 2, and his media goes to node
// 1, the room's: each hears the other's tone, and not their own. Node 1 is
// killed (SIGKILL): Alice's client reconnects to node 2 and joins again,
// which opens the room there; Bob's media connection to node 1 fails and he
// joins again through node 2. Each prints room_rejoining, then joined again
// in the same role, and within 5 s of the kill each hears the other's tone
// again, steadily, through node 2.
func TestRoomOnTwoNodes(t *testing.T) {
	natsURL := natstest.Start(t).URL
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	node := func(i int) (string, *proc) {
		data := w.nodeData(i)
		// TURN off: the media is on loopback, and two would contend for 3478.
		return w.startNode("--data", data, "--nats", natsURL, "--turn-listen", "off")
	}
	n1, node1 := node(1)
	n2, node2 := node(2)
	w.server = n1
	opened := func(p *proc) int { return strings.Count(p.stderr.String(), `msg="room opened here"`) }

	pulse := pulsetest.Start(t)
	type member struct {
		user, role, servers string
		lost                string // why they lose the room when node 1 dies
		hz                  float64
		mic, spk            string
		p                   *proc
	}
	// Bob's signaling is on node 2, which lives: that he loses his media
	// shows that it went to node 1.
	alice := &member{user: "alice", role: "host", servers: n1 + "," + n2, hz: 440,
		lost: "lost the connection to the server"}
	bob := &member{user: "bob", role: "member", servers: n2, hz: 660, lost: "the media connection to the room failed"}
	ms := []*member{alice, bob}
	env := func(m *member) []string {
		return append(pulsetest.Env(m.mic, m.spk), "PARLEY_TOKEN="+w.token(m.user), "PARLEY_SERVER="+m.servers)
	}
	for _, m := range ms {
		m.mic, m.spk = pulse.NullSink(t, m.user+"_mic"), pulse.NullSink(t, m.user+"_spk")
		pulse.Loop(t, m.mic, audiotest.Tone(m.hz, 0.2, 20*audiotest.SampleRate))
	}
	if out, code := w.run([]string{"PARLEY_TOKEN=" + w.token("alice")}, "room", "create", "stage"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}
	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	for _, m := range ms {
		m.p = w.start(env(m), append([]string{"join", "stage"}, plain...)...)
		m.p.expectRoom(t, "joined", map[string]any{"room": "stage", "user": m.user, "role": m.role})
	}
	if a, b := opened(node1), opened(node2); a != 1 || b != 0 {
		t.Fatalf("the room was opened %d times on node 1 and %d on node 2, want once on node 1", a, b)
	}
	mixes := func() []mix {
		return []mix{
			{who: "alice's speaker", sink: alice.spk, present: []float64{bob.hz}, absent: []float64{alice.hz}},
			{who: "bob's speaker", sink: bob.spk, present: []float64{alice.hz}, absent: []float64{bob.hz}},
		}
	}
	hearMixes(t, "alice on node 1, bob on node 2, the room on node 1", mixes()...)

	// Each speaker is listened to from just before the kill until the
	// other's tone is back.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var killedAt atomic.Int64 // unix ns; 0 before the kill
	backs := make([]toneGap, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		other := ms[1-i]
		wg.Go(func() { backs[i] = toneBack(ctx, m.spk, other.hz, &killedAt) })
	}
	time.Sleep(300 * time.Millisecond) // pacat is recording when the gap begins
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	if err := node1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	node1.wait(t)
	for _, m := range ms {
		m.p.expectRoom(t, "room_rejoining", map[string]any{"room": "stage", "reason": m.lost})
		m.p.expectRoom(t, "joined", map[string]any{"room": "stage", "user": m.user, "role": m.role})
		t.Logf("%s joined again %v after the kill", m.user, time.Since(killed).Round(time.Millisecond))
	}
	wg.Wait()
	var worst time.Duration
	for i, m := range ms {
		g := backs[i]
		if g.err != nil {
			t.Fatalf("%s's speaker: %v", m.user, g.err)
		}
		t.Logf("%s's speaker: %s's tone gone %v after the kill, back %v after it", m.user, ms[1-i].user,
			g.gone.Sub(killed).Round(time.Millisecond), g.back.Sub(killed).Round(time.Millisecond))
		worst = max(worst, g.back.Sub(killed))
	}
	t.Logf("recovery: both hear each other again %v after node 1 was killed", worst.Round(time.Millisecond))
	if worst > 5*time.Second {
		t.Errorf("both heard each other again %v after the room's node was killed, want within 5 s",
			worst.Round(time.Millisecond))
	}
	if b := opened(node2); b != 1 {
		t.Errorf("the room was opened %d times on node 2 after node 1 died, want once", b)
	}
	hearMixes(t, "node 1 killed, the room on node 2", mixes()...)

	for _, m := range ms {
		if err := m.p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		m.p.expectRoom(t, "room_left", map[string]any{"reason": "left"})
		if code := m.p.wait(t); code != exitOK {
			t.Errorf("%s's parley join exited %d after leaving, want 0", m.user, code)
		}
		if s := m.p.stderr.String(); s != "" {
			t.Errorf("%s's parley join wrote to stderr: %q", m.user, s)
		}
	}
}

// toneGap is when a tone went from a speaker after a node was killed, and
// when it came back.
type toneGap struct {
	gone, back time.Time
	err        error
}

// Recovery is judged on 100 ms windows: the tone is gone from one under
// gapLevel (a tenth of its 0.2), and back at the start of steadyWindows in
// a row that each hold it at heardLevel or more.
const (
	gapLevel      = 0.02
	steadyWindows = 5
)

// toneBack listens to sink until hz has gone from it after the kill (at
// killed, unix ns, set by the caller once it happens: the windows before
// are skipped) and come back steadily.
func toneBack(ctx context.Context, sink string, hz float64, killed *atomic.Int64) (g toneGap) {
	const window = audiotest.SampleRate / 10
	var buf []int16
	var run []time.Time // the starts of the windows in the current steady run
	levels := []string{}
	g.err = pulsetest.Listen(ctx, pulsetest.Monitor(sink), func(chunk []int16, at time.Time) bool {
		buf = append(buf, chunk...)
		for len(buf) >= window {
			w := buf[:window]
			buf = buf[window:]
			start := at.Add(-time.Duration(len(buf)+window) * time.Second / audiotest.SampleRate)
			if k := killed.Load(); k == 0 || start.UnixNano() < k {
				continue
			}
			a := audiotest.Goertzel(w, hz)
			levels = append(levels, fmt.Sprintf("%.3f", a))
			switch {
			case g.gone.IsZero() && a < gapLevel:
				g.gone = start
			case g.gone.IsZero():
			case a >= heardLevel:
				run = append(run, start)
				if len(run) == steadyWindows {
					g.back = run[0]
					return false
				}
			default:
				run = run[:0]
			}
		}
		return true
	})
	if g.err != nil {
		g.err = fmt.Errorf("%.0f Hz not back: %w; 100 ms levels after the kill: %s", hz, g.err,
			strings.Join(levels[max(0, len(levels)-80):], " "))
	}
	return g
}
