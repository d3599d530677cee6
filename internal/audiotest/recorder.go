package audiotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by Recorder.Write after Close, and by Wait when the
// recorder is closed before enough audio arrived.
var ErrClosed = errors.New("audiotest: recorder closed")

// Recorder is a sink that keeps everything written to it in memory. It
// satisfies audio.Sink. Write must be called from one goroutine at a time;
// all other methods are safe from any goroutine.
type Recorder struct {
	paced bool

	// Pacing, owned by the Write goroutine.
	start   time.Time
	written int64
	timer   *time.Timer

	done     chan struct{}
	doneOnce sync.Once

	mu      sync.Mutex
	samples []int16
	changed chan struct{} // closed and replaced on every write
}

// NewRecorder returns a Recorder. If paced, Write blocks like a device
// playing at 48 kHz: it returns once at most half the frame is still queued;
// otherwise it returns at once.
func NewRecorder(paced bool) *Recorder {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Recorder{paced: paced, timer: t, done: make(chan struct{}), changed: make(chan struct{})}
}

// Write appends a copy of frame.
func (r *Recorder) Write(frame []int16) error {
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	if r.paced {
		if err := r.pace(len(frame)); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.samples = append(r.samples, frame...)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// pace queues n samples on a virtual device that started playing at the
// first Write and waits until at most half of them are still queued, like
// audio's speaker; deadlines are absolute.
func (r *Recorder) pace(n int) error {
	now := time.Now()
	if r.start.IsZero() {
		r.start = now
	}
	at := func(samples int64) time.Time {
		return r.start.Add(time.Duration(samples) * time.Second / SampleRate)
	}
	if end := at(r.written); now.After(end) {
		r.start = r.start.Add(now.Sub(end))
	}
	r.written += int64(n)
	d := time.Until(at(r.written - int64(n/2)))
	if d <= 0 {
		return nil
	}
	r.timer.Reset(d)
	select {
	case <-r.timer.C:
		return nil
	case <-r.done:
		r.timer.Stop()
		return ErrClosed
	}
}

// Close stops recording; the samples stay available.
func (r *Recorder) Close() error {
	r.doneOnce.Do(func() { close(r.done) })
	return nil
}

// Samples returns a copy of everything written so far.
func (r *Recorder) Samples() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.samples...)
}

// Len returns the number of samples written so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// Wait blocks until at least n samples have been written, ctx is done or
// the recorder is closed.
func (r *Recorder) Wait(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		have, changed := len(r.samples), r.changed
		r.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-r.done:
			if r.Len() >= n {
				return nil
			}
			return fmt.Errorf("audiotest: wait for %d samples, have %d: %w", n, have, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("audiotest: wait for %d samples, have %d: %w", n, have, ctx.Err())
		}
	}
}
