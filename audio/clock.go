package audio

import (
	"sync"
	"time"
)

// samplesDuration converts a sample count at SampleRate to a duration without
// overflowing for any realistic stream length.
func samplesDuration(n int64) time.Duration {
	sec := n / SampleRate
	rem := n % SampleRate
	return time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/SampleRate
}

// maxSourceLag is how far a reader may fall behind a paced source before the
// source stops trying to catch up; a real device would have dropped that audio.
const maxSourceLag = 100 * time.Millisecond

// pacer releases audio at real-time pace. Every deadline is computed from the
// start time and the number of samples handed over so far, never from the
// previous wake-up, so scheduling delays do not accumulate into drift.
//
// A pacer belongs to the goroutine that calls Read or Write; only done is
// shared, and closing it wakes that goroutine.
type pacer struct {
	done    <-chan struct{}
	timer   *time.Timer
	start   time.Time
	samples int64 // samples handed over since start
	started bool
}

func newPacer(done <-chan struct{}) pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return pacer{done: done, timer: t}
}

func (p *pacer) at(samples int64) time.Time { return p.start.Add(samplesDuration(samples)) }

func (p *pacer) begin(now time.Time) {
	if !p.started {
		p.start, p.started = now, true
	}
}

// source blocks until n more samples are due, as a device would: the first
// frame is due one frame after the first call. A reader that falls behind by
// more than maxSourceLag is resynchronised instead of fed a burst.
func (p *pacer) source(n int) error {
	if p.isDone() {
		return ErrClosed
	}
	now := time.Now()
	p.begin(now)
	p.samples += int64(n)
	due := p.at(p.samples)
	if lag := now.Sub(due); lag > maxSourceLag {
		p.start = p.start.Add(lag)
		due = now
	}
	return p.sleepUntil(due)
}

// sink queues n samples on a virtual device that has played since the
// first call, then blocks until no more than half of them are still queued,
// as the speaker does: at most one and a half frames are ever queued, and the
// caller's next frame is asked for just in time. If the writer was late and
// the queue ran dry, the clock restarts from now, as a device plays silence.
func (p *pacer) sink(n int) error {
	if p.isDone() {
		return ErrClosed
	}
	now := time.Now()
	p.begin(now)
	if end := p.at(p.samples); now.After(end) {
		p.start = p.start.Add(now.Sub(end))
	}
	p.samples += int64(n)
	return p.sleepUntil(p.at(p.samples - int64(n/2)))
}

func (p *pacer) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *pacer) sleepUntil(due time.Time) error {
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	p.timer.Reset(d)
	select {
	case <-p.timer.C:
		return nil
	case <-p.done:
		p.timer.Stop()
		return ErrClosed
	}
}

// closer is the done channel shared by a device's Read or Write goroutine
// and whoever calls Close.
type closer struct {
	done chan struct{}
	once sync.Once
}

func newCloser() closer { return closer{done: make(chan struct{})} }

// close closes done once and reports whether this call did it.
func (c *closer) close() bool {
	first := false
	c.once.Do(func() {
		close(c.done)
		first = true
	})
	return first
}
