package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
)

// startEcho starts a phone that answers every call and plays back what it
// hears delay later. It reconnects when the server goes away.
//
// proc is what is done to the audio it plays back, as if its delay line
// were a microphone; zero (nothing) returns what it hears.
func startEcho(ctx context.Context, server, token string, delay time.Duration, proc call.Processing, log *slog.Logger, opts ...func(*call.Config)) (*call.Phone, error) {
	c := call.Config{
		Server:     server,
		Token:      token,
		Devices:    &echoDevices{delay: delay, device: proc != call.Processing{}},
		Processing: proc,
		AutoAnswer: true,
		Reconnect:  true,
		Logger:     log,
	}
	for _, o := range opts {
		o(&c)
	}
	return call.Start(ctx, c)
}

// echoDevices gives each call a delay line: what the call plays into the
// sink comes out of the source delay later. The phone opens the sink when a
// call comes in and the source when it answers, so OpenSink makes the line
// and the next OpenSource takes it. Only the phone's loop calls them.
type echoDevices struct {
	delay  time.Duration
	line   chan []int16
	device bool // the line passes for a microphone, so that it is processed
}

func (d *echoDevices) OpenSink(n int) (audio.Sink, error) {
	depth := max(1, int(d.delay*audio.SampleRate/time.Second)/n)
	d.line = make(chan []int16, 2*depth)
	return &delaySink{line: d.line, clock: audio.NewNullSink()}, nil
}

func (d *echoDevices) OpenSource(n int) (audio.Source, error) {
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
