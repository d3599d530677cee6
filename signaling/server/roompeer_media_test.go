//go:build e2e

package server

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
)

// drain reads the messages that arrived, noting speaking events, and
// keeps them for event.
func (p *peer) drain() {
	for {
		select {
		case m, ok := <-p.c.in:
			if !ok {
				return
			}
			p.note(m)
			p.pending = append(p.pending, m)
		default:
			return
		}
	}
}

// mark starts a new window of analysis.
func (p *peer) mark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.slots {
		r.mark = len(r.samples)
	}
}

// levels measures tones in what came since the mark: per tone, the
// largest amplitude in any slot over the last half second (recent) and
// over all of it (all); and how many samples the slot with the most had.
func (p *peer) levels(tones []float64) (recent, all map[float64]float64, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	recent, all = map[float64]float64{}, map[float64]float64{}
	for _, r := range p.slots {
		s := r.samples[r.mark:]
		n = max(n, len(s))
		last := s[max(0, len(s)-audiotest.SampleRate/2):]
		for _, f := range tones {
			if len(last) >= audiotest.SampleRate/2 {
				recent[f] = max(recent[f], audiotest.Goertzel(last, f))
			}
			all[f] = max(all[f], audiotest.Goertzel(s, f))
		}
	}
	return recent, all, n
}

// hears waits until the peer has heard, over the last half second since
// the mark, exactly the tones of want among tones (each above heardAbove,
// the others below quietBelow); never is the tones that must be below
// quietBelow in everything since the mark.
func (p *peer) hears(tones, want, never []float64) {
	p.t.Helper()
	p.hearsWhat(tones, func() []float64 { return want }, never)
}

// hearsSpeakers waits until the peer hears, as hears does, RoomSlots
// tones: those of the users its latest speaking event names.
func (p *peer) hearsSpeakers(tones []float64, toneOf map[string]float64, never []float64) []float64 {
	p.t.Helper()
	return p.hearsWhat(tones, func() []float64 {
		p.drain()
		if w := heardBy(p, toneOf); len(w) == signaling.RoomSlots {
			return w
		}
		return nil
	}, never)
}

// heardBy is the tones of the users the peer's last speaking event names.
func heardBy(p *peer, toneOf map[string]float64) []float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []float64
	for _, u := range p.speaker {
		if u != "" {
			out = append(out, toneOf[u])
		}
	}
	return out
}

func (p *peer) hearsWhat(tones []float64, wanted func() []float64, never []float64) []float64 {
	p.t.Helper()
	deadline := time.After(patience)
	for {
		want := wanted()
		recent, all, n := p.levels(tones)
		ok := n >= audiotest.SampleRate/2 && want != nil
		for _, f := range tones {
			if slices.Contains(want, f) {
				ok = ok && recent[f] > heardAbove
			} else {
				ok = ok && recent[f] < quietBelow
			}
		}
		for _, f := range never {
			if all[f] >= quietBelow {
				p.t.Fatalf("%s heard %.0f Hz at %.3f (want under %.2f)", p.c.name, f, all[f], quietBelow)
			}
		}
		if ok {
			p.t.Logf("%s hears %v: %s", p.c.name, want, fmtLevels(recent))
			return want
		}
		select {
		case <-p.more:
		case <-deadline:
			p.t.Fatalf("%s: want to hear %v (above %.2f) and no other of %v (under %.2f); heard %s over %d samples; "+
				"speaking %q; slots: %s", p.c.name, want, heardAbove, tones, quietBelow, fmtLevels(recent), n,
				p.speakers(), p.slotReport(tones))
		}
	}
}

func fmtLevels(m map[float64]float64) string {
	keys := make([]float64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%.0f Hz %.3f ", k, m[k])
	}
	return b.String()
}

func (p *peer) speakers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.speaker
}

// slotReport tells what each slot received since the mark.
func (p *peer) slotReport(tones []float64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for id, r := range p.slots {
		s := r.samples[r.mark:]
		last := s[max(0, len(s)-audiotest.SampleRate/2):]
		fmt.Fprintf(&b, "%s: %d samples, %d packets in all, last half second:", id, len(s), len(r.seqs))
		for _, f := range tones {
			fmt.Fprintf(&b, " %.0f Hz %.3f", f, audiotest.Goertzel(last, f))
		}
		b.WriteString("; ")
	}
	return b.String()
}
