//go:build e2e

package call_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/syncbuf"
	"github.com/parley-voice/parley/signaling"
)

// The long runs of the network tests, in the e2e tier: every level of loss,
// an outage that outlasts ICE, and half the packets lost for 30 s. The fast
// tier keeps one of each kind (TestLoss, TestOutage).

// TestLossLevels: TestLoss's checks at 5%, 10% and 30% random loss, and
// in bursts.
func TestLossLevels(t *testing.T) {
	for _, tc := range []lossCase{
		{"random 5%", 100, func(im *impairment) { im.loss = 0.05 }, 0.95, false},
		{"random 10%", 101, func(im *impairment) { im.loss = 0.10 }, 0.92, true},
		{"random 30%", 103, func(im *impairment) { im.loss = 0.30 }, 0.75, true},
		{"bursts", 104, func(im *impairment) { im.burst, im.stay = 0.03, 0.6 }, 0.88, false},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLoss(t, tc) })
	}
}

// TestLongOutageRestartsICE: a 10 s outage outlasts ICE's own patience
// (its connectivity checks give up after about 5 s): the caller restarts
// ICE while the network is down, and once it is back audio flows again
// within a restart's period (5 s), and the call is still the same call.
func TestLongOutageRestartsICE(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s")
	}
	var log syncbuf.Buffer
	c := newLossyCall(t, 17, func(cfg *call.Config) { cfg.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	c.impair(func(im *impairment) { im.down = true })
	for _, p := range []*party{c.alice, c.bob} {
		p.status(signaling.Reconnecting)
	}
	c.played(10 * time.Second)
	mark := c.rec.Len()
	c.heal()
	s, first := c.toneBack(mark, 7*time.Second)
	restarts := strings.Count(log.String(), `msg="ICE restart"`)
	t.Logf("after a 10 s outage and %d ICE restarts, the tone is back in Bob's speaker %d ms after the network",
		restarts, first.Milliseconds())
	if restarts == 0 {
		t.Errorf("no ICE restart during a 10 s outage")
	}
	if first < 0 || first > 6*time.Second {
		t.Fatalf("audio back after %d ms, want within 6 s", first.Milliseconds())
	}
	if f := audiotest.DominantFrequency(s[len(s)-audio.SampleRate:]); f < 435 || f > 445 {
		t.Errorf("after the outage bob hears %.1f Hz, want 440", f)
	}
	// The same call: a hang-up ends it on both sides.
	hangupAfterTrouble(c.alice, c.bob)
}

// TestHeavyLossFor30s: half the packets lost for 30 s; the call stays up,
// and audio gets through.
func TestHeavyLossFor30s(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s")
	}
	c := newLossyCall(t, 11)
	before := c.bob.stats()
	c.impair(func(im *impairment) { im.loss = 0.5 })
	s := c.played(30 * time.Second)
	after := c.bob.stats()
	c.heal()
	dec, rec, con := after.Decoded-before.Decoded, after.Recovered-before.Recovered, after.Concealed-before.Concealed
	share := float64(dec+rec) / float64(dec+rec+con)
	t.Logf("50%% loss for 30 s: %.1f%% of frames arrived or recovered (%d recovered), %d silent windows, MOS %.2f",
		100*share, rec, holes(s), after.MOS)
	if share < 0.45 {
		t.Errorf("%.1f%% of frames got through, want ≥ 45%%", 100*share)
	}
	// Still up: a hang-up completes it.
	hangup(c.alice, c.bob)
}

// TestJitter (e2e tier: its buffer figure needs the CPU to itself, which a
// fast tier that runs packages side by side does not give it): with 30 ms
// of jitter the buffer grows to absorb it and the
// tone plays without holes.
func TestJitter(t *testing.T) {
	c := newLossyCall(t, 7)
	c.impair(func(im *impairment) { im.jitter = 30 * time.Millisecond })
	c.played(3 * time.Second) // let the buffer adapt
	before := c.bob.stats()
	s := c.played(4 * time.Second)
	after := c.bob.stats()
	c.heal()
	dec, rec, con := after.Decoded-before.Decoded, after.Recovered-before.Recovered, after.Concealed-before.Concealed
	share := float64(dec+rec) / float64(dec+rec+con)
	t.Logf("30 ms jitter: buffer %v, measured jitter %v, %.1f%% of frames in time, %d silent windows, MOS %.2f",
		after.JitterBuffer, after.Jitter, 100*share, holes(s), after.MOS)
	if after.JitterBuffer < 20*time.Millisecond || after.JitterBuffer > 200*time.Millisecond {
		t.Errorf("jitter buffer at %v, want between 20 and 200 ms for 30 ms of jitter", after.JitterBuffer)
	}
	if share < 0.95 {
		t.Errorf("%.1f%% of frames played in time, want ≥ 95%%", 100*share)
	}
	if h := holes(s); h > 0 {
		t.Errorf("%d silent windows", h)
	}
}
