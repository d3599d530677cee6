package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// SetupResult is what a series of calls measured. Call setup is measured
// in this process with the call package (real Pion peer connections over
// loopback, real signaling) against a `parley serve` process, with
// generated audio: a tone source and a sink that notes when it is first
// handed sound.
type SetupResult struct {
	Calls int
	// Dial to ringing at the callee: from Phone.Dial on the caller to the
	// callee's ringing event (when its ringtone starts).
	DialToRinging Dist
	// Answer to first audio: from Phone.Answer on the callee to the first
	// frame of the other side's audio handed to the caller's speaker
	// (Caller), and to the callee's (Callee).
	AnswerToAudioCaller, AnswerToAudioCallee Dist
}

// setupDevices gives each call a tone source and a sink that reports, on
// heard, when it is first written sound.
type setupDevices struct {
	hz    float64
	heard chan time.Time
}

func (d *setupDevices) OpenSource(n int) (audio.Source, error) {
	return audio.NewTone(d.hz, 0.3, n), nil
}
func (d *setupDevices) OpenSink(int) (audio.Sink, error) {
	return &firstSound{Sink: audio.NewNullSink(), heard: d.heard}, nil
}

// firstSound is a sink paced like a device that notes the first frame
// with sound in it.
type firstSound struct {
	audio.Sink
	heard chan time.Time
	done  bool
}

func (s *firstSound) Write(frame []int16) error {
	if !s.done {
		for _, v := range frame {
			if v > 1000 || v < -1000 {
				s.done = true
				select {
				case s.heard <- time.Now():
				default:
				}
				break
			}
		}
	}
	return s.Sink.Write(frame)
}

// phone is a signed-in call.Phone whose events are read all along.
type phone struct {
	ph     *call.Phone
	dev    *setupDevices
	events chan call.Event
}

func startPhone(ctx context.Context, srv *Server, hc *http.Client, user string, hz float64) (*phone, error) {
	tok, err := srv.Token(ctx, hc, user)
	if err != nil {
		return nil, err
	}
	dev := &setupDevices{hz: hz, heard: make(chan time.Time, 1)}
	ph, err := call.Start(ctx, call.Config{Server: srv.URL, Token: tok, Devices: dev, HTTPClient: hc,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("bench: %s signs in: %w", user, err)
	}
	p := &phone{ph: ph, dev: dev, events: make(chan call.Event, 1024)}
	go func() {
		for ev := range ph.Events() {
			switch ev.(type) {
			case call.Levels, call.Stats:
				continue
			}
			p.events <- ev
		}
		close(p.events)
	}()
	return p, nil
}

// status waits for the phone's event of status s, failing on errors and
// on other terminal statuses.
func (p *phone) status(ctx context.Context, s signaling.Status) (call.StatusChanged, error) {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return call.StatusChanged{}, errors.New("bench: the phone stopped")
			}
			switch ev := ev.(type) {
			case call.StatusChanged:
				if ev.Status == s {
					return ev, nil
				}
				if ev.Status.Terminal() {
					return ev, fmt.Errorf("bench: call %s (%s) while waiting for %s", ev.Status, ev.Reason, s)
				}
			case call.Failure:
				return call.StatusChanged{}, fmt.Errorf("bench: waiting for %s: %v", s, ev.Err)
			}
		case <-t.C:
			return call.StatusChanged{}, fmt.Errorf("bench: no %s within 30s", s)
		case <-ctx.Done():
			return call.StatusChanged{}, ctx.Err()
		}
	}
}

func heardBy(ctx context.Context, p *phone) (time.Time, error) {
	select {
	case at := <-p.dev.heard:
		return at, nil
	case <-time.After(30 * time.Second):
		return time.Time{}, errors.New("bench: no audio within 30s of the answer")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// MeasureSetup places n calls, one after the other, from caller to callee
// (both signed in to srv as users named after prefix) and measures each
// call's setup. hc carries the phones' HTTP and WebSocket connections (nil:
// the default).
func MeasureSetup(ctx context.Context, srv *Server, hc *http.Client, prefix string, n int) (*SetupResult, error) {
	a, err := startPhone(ctx, srv, hc, prefix+"-caller", 440)
	if err != nil {
		return nil, err
	}
	defer a.ph.Close()
	b, err := startPhone(ctx, srv, hc, prefix+"-callee", 660)
	if err != nil {
		return nil, err
	}
	defer b.ph.Close()
	var ring, toCaller, toCallee []time.Duration
	for i := range n {
		dial := time.Now()
		a.ph.Dial(prefix + "-callee")
		ev, err := b.status(ctx, signaling.Ringing)
		if err != nil {
			return nil, fmt.Errorf("call %d: callee: %w", i+1, err)
		}
		ring = append(ring, ev.At.Sub(dial))
		if _, err := a.status(ctx, signaling.Ringing); err != nil {
			return nil, fmt.Errorf("call %d: caller: %w", i+1, err)
		}
		answer := time.Now()
		b.ph.Answer()
		var wg sync.WaitGroup
		var atA, atB time.Time
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); atA, errA = heardBy(ctx, a) }()
		go func() { defer wg.Done(); atB, errB = heardBy(ctx, b) }()
		wg.Wait()
		if err := errors.Join(errA, errB); err != nil {
			return nil, fmt.Errorf("call %d: %w", i+1, err)
		}
		toCaller = append(toCaller, atA.Sub(answer))
		toCallee = append(toCallee, atB.Sub(answer))
		a.ph.Hangup()
		for _, p := range []*phone{a, b} {
			if _, err := p.status(ctx, signaling.Completed); err != nil {
				return nil, fmt.Errorf("call %d: hang-up: %w", i+1, err)
			}
		}
	}
	return &SetupResult{
		Calls:               n,
		DialToRinging:       NewDist(ring),
		AnswerToAudioCaller: NewDist(toCaller),
		AnswerToAudioCallee: NewDist(toCallee),
	}, nil
}
