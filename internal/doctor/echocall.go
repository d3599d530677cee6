package doctor

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// echoCall calls the echo service with a generated source: a 1 kHz burst
// every 1.5 s; the sink times each burst's return. The round trip is that
// time less the echo's hold.
func (d *doctor) echoCall(ctx context.Context, server, token, echoUser string, hold time.Duration, pc call.Config) {
	probe := newEchoProbe()
	pc.Server, pc.Token, pc.HTTPClient, pc.Logger = server, token, d.o.HTTP, d.o.Log
	pc.Devices = probe
	ph, err := call.Start(ctx, pc)
	if err != nil {
		d.add(Check{Name: "echo call", Detail: err.Error(), Fix: "the server refused to sign in a second time: " +
			"see its log"})
		return
	}
	defer ph.Close()
	ph.Dial(echoUser)
	deadline := time.After(15 * time.Second)
	var stats *call.Stats
	answered := false
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				d.add(Check{Name: "echo call", Detail: "the phone stopped"})
				return
			}
			switch ev := ev.(type) {
			case call.Failure:
				d.add(Check{Name: "echo call", Detail: ev.Err.Message, Fix: "is the echo service (parley echo, or " +
					"parley demo) " +
					"signed in as " + echoUser + "? pass its user id with --echo"})
				return
			case call.StatusChanged:
				switch {
				case ev.Status == signaling.Answered:
					answered = true
				case ev.Status.Terminal():
					d.add(Check{Name: "echo call", Detail: fmt.Sprintf("the call ended: %s %s", ev.Status, ev.Reason),
						Fix: "see the log (parley --log) for why media could not flow"})
					return
				}
			case call.Stats:
				s := ev
				stats = &s
			}
		case <-probe.enough:
			ph.Hangup()
			rt := probe.roundTrip() - hold
			detail := fmt.Sprintf("%s answered; audio round trip %v (after the echo's %v hold), %d of %d bursts back",
				echoUser, rt.Round(time.Millisecond), hold, probe.heard(), probe.sent())
			if stats != nil {
				detail += fmt.Sprintf("; network RTT %v, jitter %v, loss %.1f%%",
					stats.RTT.Round(100*time.Microsecond), stats.Jitter.Round(100*time.Microsecond), 100*stats.Loss)
				if stats.MOS > 0 {
					detail += fmt.Sprintf(", MOS %.1f", stats.MOS)
				}
			}
			ok := rt < 800*time.Millisecond && (stats == nil || stats.Loss < 0.05)
			d.add(Check{Name: "echo call", OK: ok, Detail: detail,
				Fix: "the round trip or the loss is high: a slow or lossy network (try a wired connection, or " +
					"TURN over UDP)"})
			return
		case <-deadline:
			what := "no answer"
			fix := "is the echo service (parley echo, or parley demo) online as " + echoUser + "?"
			if answered {
				what, fix = "answered, but no audio came back within 15 s",
					"media cannot flow: check the STUN and TURN lines above"
			}
			d.add(Check{Name: "echo call", Detail: what, Fix: fix})
			return
		case <-ctx.Done():
			return
		}
	}
}

// echoProbe is the doctor's call devices: a source of 1 kHz bursts and a
// sink that times their return.
type echoProbe struct {
	mu       sync.Mutex
	sentAt   []time.Time
	heardAt  []time.Time
	enough   chan struct{}
	enoughMu sync.Once
}

func newEchoProbe() *echoProbe { return &echoProbe{enough: make(chan struct{})} }

const (
	probeEvery  = 75 // frames between bursts (1.5 s)
	probeBursts = 3  // bursts timed before hanging up
)

func (p *echoProbe) OpenSource(n int) (audio.Source, error) {
	return &probeSource{p: p, clock: audio.NewSilence(n), tone: audio.NewTone(1000, 0.5, n)}, nil
}

func (p *echoProbe) OpenSink(n int) (audio.Sink, error) {
	return &probeSink{p: p, clock: audio.NewNullSink()}, nil
}

func (p *echoProbe) sent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sentAt)
}

func (p *echoProbe) heard() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heardAt)
}

// roundTrip is the median time from a burst's start to its return.
func (p *echoProbe) roundTrip() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rts []time.Duration
	for i, h := range p.heardAt {
		if i < len(p.sentAt) {
			rts = append(rts, h.Sub(p.sentAt[i]))
		}
	}
	if len(rts) == 0 {
		return 0
	}
	for i := range rts { // sort (three values)
		for j := i + 1; j < len(rts); j++ {
			if rts[j] < rts[i] {
				rts[i], rts[j] = rts[j], rts[i]
			}
		}
	}
	return rts[len(rts)/2]
}

type probeSource struct {
	p     *echoProbe
	clock audio.Source
	tone  audio.Source
	n     int
}

func (s *probeSource) Read(frame []int16) error {
	if err := s.clock.Read(frame); err != nil {
		return err
	}
	k := s.n % probeEvery
	s.n++
	if k < 10 { // a 200 ms burst
		if k == 0 {
			s.p.mu.Lock()
			s.p.sentAt = append(s.p.sentAt, time.Now())
			s.p.mu.Unlock()
		}
		return s.tone.Read(frame)
	}
	return nil
}

func (s *probeSource) Close() error {
	s.tone.Close()
	return s.clock.Close()
}

type probeSink struct {
	p      *echoProbe
	clock  audio.Sink
	inTone bool
}

func (s *probeSink) Write(frame []int16) error {
	if err := s.clock.Write(frame); err != nil {
		return err
	}
	var sum float64
	for _, v := range frame {
		sum += float64(v) * float64(v)
	}
	loud := math.Sqrt(sum/float64(len(frame))) > 0.05*32768
	if loud && !s.inTone {
		s.p.mu.Lock()
		if len(s.p.heardAt) < len(s.p.sentAt) { // not the ringback: a burst sent
			s.p.heardAt = append(s.p.heardAt, time.Now())
		}
		if len(s.p.heardAt) >= probeBursts {
			s.p.enoughMu.Do(func() { close(s.p.enough) })
		}
		s.p.mu.Unlock()
	}
	s.inTone = loud
	return nil
}

func (s *probeSink) Close() error { return s.clock.Close() }
