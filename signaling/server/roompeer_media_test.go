//go:build e2e

package server

import "github.com/parley-voice/parley/signaling"

// The room tests' helpers that only the e2e tier's media tests use.

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
