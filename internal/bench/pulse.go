package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/parley-voice/parley/internal/pulsetest"
)

// Rig is the PulseAudio set-up of a latency measurement. One stereo null
// sink carries, sample-aligned, A's microphone on the left and B's speaker
// on the right:
//
//	stimulus ─▶ AMic (remap sink) ─▶ Rig left ─▶ AMicSource (remap source) ─▶ A
//	B ─▶ BSpk (remap sink) ─▶ Rig right
//	Rig.monitor ─▶ one stereo recording
//
// so that one recording of the Rig's monitor shows, on one clock, when
// each sound was rendered into A's microphone and when B rendered it into
// its speaker. ASpk and BMic are plain mono null sinks: A's speaker, and
// B's microphone, which stays silent.
type Rig struct {
	Sink       string // the stereo null sink
	AMic       string // play the stimulus here
	AMicSource string // A captures from here (PULSE_SOURCE)
	BSpk       string // B plays here (PULSE_SINK)
	ASpk       string // A plays here
	BMic       string // B captures from its monitor

	pulse   *pulsetest.Pulse
	modules []string // in load order
	keep    []func() // stop the keep-alive streams
}

// NewRig loads the rig's modules into pulse's daemon, named after name and
// this process (and tagged with it: see pulsetest.Describe). Close unloads
// them.
func NewRig(ctx context.Context, pulse *pulsetest.Pulse, name string) (*Rig, error) {
	p := fmt.Sprintf("bench_%s_%d", name, os.Getpid())
	r := &Rig{
		Sink: p + "_rig", AMic: p + "_amic", AMicSource: p + "_amic_src", BSpk: p + "_bspk",
		ASpk: p + "_aspk", BMic: p + "_bmic", pulse: pulse,
	}
	desc := pulsetest.Describe
	loads := [][]string{
		{"module-null-sink", "sink_name=" + r.Sink, "rate=48000", "channels=2", "channel_map=front-left,front-right",
			desc("sink", r.Sink)},
		{"module-remap-sink", "sink_name=" + r.AMic, "master=" + r.Sink, "rate=48000", "channels=1", "channel_map=mono",
			"master_channel_map=front-left", "remix=no", desc("sink", r.AMic)},
		{"module-remap-sink", "sink_name=" + r.BSpk, "master=" + r.Sink, "rate=48000", "channels=1", "channel_map=mono",
			"master_channel_map=front-right", "remix=no", desc("sink", r.BSpk)},
		{"module-remap-source", "source_name=" + r.AMicSource, "master=" + pulsetest.Monitor(r.Sink), "rate=48000",
			"channels=1", "channel_map=mono", "master_channel_map=front-left", "remix=no",
			desc("source", r.AMicSource)},
		{"module-null-sink", "sink_name=" + r.ASpk, "rate=48000", "channels=1", desc("sink", r.ASpk)},
		{"module-null-sink", "sink_name=" + r.BMic, "rate=48000", "channels=1", desc("sink", r.BMic)},
	}
	for _, l := range loads {
		id, err := pulse.Pactl(ctx, append([]string{"load-module"}, l...)...)
		if err != nil {
			_ = r.Close() // what loaded before: the load's error is the one to report
			return nil, err
		}
		r.modules = append(r.modules, id)
	}
	// The null sinks run like sound cards from the start (see
	// pulsetest.Pulse.KeepAlive).
	for _, s := range []struct {
		sink     string
		channels int
	}{{r.Sink, 2}, {r.ASpk, 1}, {r.BMic, 1}} {
		stop, err := pulse.KeepAlive(ctx, s.sink, s.channels)
		if err != nil {
			_ = r.Close() // what loaded before: the load's error is the one to report
			return nil, err
		}
		r.keep = append(r.keep, stop)
	}
	return r, nil
}

// Close stops the keep-alive streams and unloads the modules.
func (r *Rig) Close() error {
	for _, stop := range r.keep {
		stop()
	}
	var errs []error
	for i := len(r.modules) - 1; i >= 0; i-- {
		_, err := r.pulse.Pactl(context.Background(), "unload-module", r.modules[i])
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Play plays samples (48 kHz mono) into the rig's sink (or source) name and
// returns once they have been played or ctx ends.
func (r *Rig) Play(ctx context.Context, name string, pcm []int16) error {
	return r.pulse.PlaySamples(ctx, name, pcm)
}

// PulseEnv is the environment that makes a PulseAudio client (parley through
// PortAudio and ALSA's pulse plugin, baresip through ALSA) capture from
// source and play into sink.
func PulseEnv(source, sink string) []string {
	return []string{"PULSE_SOURCE=" + source, "PULSE_SINK=" + sink}
}

// Recording is a stereo capture of a source in progress. Its goroutine
// appends to samples until Stop.
type Recording struct {
	source string
	stop   context.CancelFunc
	ended  chan struct{} // closed when the capture has ended; err is set then

	mu      sync.Mutex
	samples []int16 // interleaved, left first
	err     error
}

// Record starts capturing source (2 channels, 48 kHz) until Stop.
func (r *Rig) Record(source string) *Recording {
	ctx, stop := context.WithCancel(context.Background())
	rec := &Recording{source: source, stop: stop, ended: make(chan struct{})}
	go func() {
		defer close(rec.ended)
		err := r.pulse.Capture(ctx, source, 2, func(chunk []int16, _ time.Time) bool {
			rec.mu.Lock()
			rec.samples = append(rec.samples, chunk...)
			rec.mu.Unlock()
			return true
		})
		if ctx.Err() == nil {
			rec.mu.Lock()
			rec.err = fmt.Errorf("bench: recording %s: %w", source, err)
			rec.mu.Unlock()
		}
	}()
	return rec
}

// Started waits until the recording holds d, and fails if the capture ends
// first or delivers nothing for timeout.
func (r *Recording) Started(ctx context.Context, d, timeout time.Duration) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for r.Seconds() < d.Seconds() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ended:
			return r.error()
		case <-deadline:
			return fmt.Errorf("bench: recording %s: nothing for %v", r.source, timeout)
		case <-tick.C:
		}
	}
	return nil
}

func (r *Recording) error() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Seconds is how much has been recorded.
func (r *Recording) Seconds() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return float64(len(r.samples)) / 2 / SampleRate
}

// Stop ends the capture and returns the left and right channels.
func (r *Recording) Stop() (left, right []int16, err error) {
	r.stop()
	<-r.ended
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.samples) / 2
	left, right = make([]int16, n), make([]int16, n)
	for i := range n {
		left[i], right[i] = r.samples[2*i], r.samples[2*i+1]
	}
	return left, right, r.err
}
