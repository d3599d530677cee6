// Package echo is the echo service of `parley echo`, `parley serve --echo`
// and `parley demo`: a phone that answers every call and plays back what
// it hears, a while later.
package echo

import (
	"context"
	"slices"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
)

// Start starts a phone that answers every call and plays back what it
// hears delay later. c is the phone's configuration (server, token, media
// path, logger); Start sets its Devices, AutoAnswer and Reconnect: it
// reconnects when the server goes away. The caller closes the phone and
// reads its events.
//
// c.Processing is what is done to the audio it plays back, as if its delay
// line were a microphone; zero (nothing) returns what it hears.
func Start(ctx context.Context, c call.Config, delay time.Duration) (*call.Phone, error) {
	c.Devices = &lines{delay: delay, device: c.Processing != call.Processing{}}
	c.AutoAnswer = true
	c.Reconnect = true
	return call.Start(ctx, c)
}

// lines gives each call a delay line: what the call plays into the sink
// comes out of the source delay later. The phone opens the sink when a
// call comes in and the source when it answers, so OpenSink makes the line
// and the next OpenSource takes it. Only the phone's loop calls them.
type lines struct {
	delay  time.Duration
	line   chan []int16
	device bool // the line passes for a microphone, so that it is processed
}

func (d *lines) OpenSink(n int) (audio.Sink, error) {
	depth := max(1, int(d.delay*audio.SampleRate/time.Second)/n)
	d.line = make(chan []int16, 2*depth)
	return &delaySink{line: d.line, clock: audio.NewNullSink()}, nil
}

func (d *lines) OpenSource(n int) (audio.Source, error) {
	depth := max(1, int(d.delay*audio.SampleRate/time.Second)/n)
	line := d.line
	if line == nil { // a source without a sink: nothing to echo
		line = make(chan []int16)
	}
	d.line = nil
	src := &delaySource{line: line, depth: depth, clock: audio.NewSilence(n)}
	if d.device {
		return echoLine{src}, nil
	}
	return src, nil
}

// echoLine is a delay line that passes for a microphone.
type echoLine struct{ *delaySource }

func (echoLine) Device() string { return "echo line" }

// delaySink queues copies of what it is given, paced by a null sink.
type delaySink struct {
	line  chan []int16
	clock audio.Sink
}

func (s *delaySink) Write(frame []int16) error {
	if err := s.clock.Write(frame); err != nil {
		return err
	}
	select {
	case s.line <- slices.Clone(frame):
	default: // the source fell behind: drop
	}
	return nil
}

func (s *delaySink) Close() error { return s.clock.Close() }

// delaySource gives back what the sink queued once depth frames are queued,
// paced by a silence source (which also fills the frame when nothing is
// queued).
type delaySource struct {
	line   chan []int16
	depth  int
	primed bool
	clock  audio.Source
}

func (s *delaySource) Read(frame []int16) error {
	if err := s.clock.Read(frame); err != nil {
		return err
	}
	if !s.primed {
		if len(s.line) < s.depth {
			return nil
		}
		s.primed = true
	}
	select {
	case f := <-s.line:
		copy(frame, f)
	default:
	}
	return nil
}

func (s *delaySource) Close() error { return s.clock.Close() }
