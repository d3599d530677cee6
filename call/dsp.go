package call

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/parley-voice/parley/audio"
)

// Processing is what is done to a microphone's audio before it is sent.
// It applies to sources that are devices, not to files or generators.
type Processing struct {
	EchoCancellation bool // cancel what the speaker plays from the microphone
	NoiseSuppression bool // push steady background noise down
	AutoGain         bool // bring the voice to a steady loudness
	// Canceller is the echo canceller (empty: the default,
	// audio.Cancellers()[0]). It is chosen when a call's microphone opens:
	// a change applies to the next call.
	Canceller audio.Canceller
}

// EchoCanceller is the echo canceller p runs.
func (p Processing) EchoCanceller() audio.Canceller {
	if p.Canceller == "" {
		return audio.Cancellers()[0]
	}
	return p.Canceller
}

// DefaultProcessing is everything on: what a laptop without headphones
// needs.
var DefaultProcessing = Processing{EchoCancellation: true, NoiseSuppression: true, AutoGain: true}

func (p Processing) options() audio.ProcessorOptions {
	return audio.ProcessorOptions{EchoCancellation: p.EchoCancellation, NoiseSuppression: p.NoiseSuppression,
		AutoGain: p.AutoGain}
}

// bits packs p for the devices' goroutines. The canceller goes as the one
// that runs, not as chosen: an empty choice and the other canceller would
// otherwise come back alike.
func (p Processing) bits() uint32 {
	var b uint32
	for i, on := range []bool{p.EchoCancellation, p.NoiseSuppression, p.AutoGain, p.EchoCanceller() == audio.WebRTC} {
		if on {
			b |= 1 << i
		}
	}
	return b
}

func processingFromBits(b uint32) Processing {
	p := Processing{EchoCancellation: b&1 != 0, NoiseSuppression: b&2 != 0, AutoGain: b&4 != 0,
		Canceller: audio.Speex}
	if b&8 != 0 {
		p.Canceller = audio.WebRTC
	}
	return p
}

// MicWarning reports that the microphone has delivered nothing but silence
// (or one constant value) for MicSilentAfter while unmuted (Raised), or
// that it picks up sound again, or was muted (cleared).
type MicWarning struct {
	CallID string
	Raised bool
}

func (MicWarning) event() {}

// Detection settings.
const (
	// MicSilentAfter is how long a microphone may stay dead before
	// MicWarning is raised.
	MicSilentAfter = 5 * time.Second
	// deadRange and deadRMS: a frame whose samples all lie within
	// deadRange of each other, or whose RMS is below deadRMS (-80 dBFS),
	// carries no sound; real microphones hiss louder than that.
	deadRange = 4
	deadRMS   = 32768 * 1e-4
	// speakingHangover keeps a speaking indicator on through the short gaps
	// between words.
	speakingHangover = 300 * time.Millisecond
	// speakingLevel is the least Level that counts as speech (-42 dBFS),
	// and speakingAbove how far above the tracked noise floor it must be.
	speakingLevel = 0.3
	speakingAbove = 0.15
	// floorRise is how fast the noise floor estimate rises per second
	// (0.025 of Level: 1.5 dB).
	floorRise = 0.025
)

// dspState is the per-call state of speaking and silence detection: the
// sender owns the microphone's half, the speaker goroutine the far end's;
// the results are atomics for the loop.
type dspState struct {
	frameDur time.Duration

	mic, remote                 talk // owned by the sender and the speaker goroutine
	srcGaps, sinkGaps           devCounter
	sinkReopens                 devCounter
	srcShift, sinkShift         shiftCounter
	dead                        time.Duration
	micSpeaking, remoteSpeaking atomic.Bool
	micSilent                   atomic.Bool
	warned                      bool          // the loop's: MicWarning raised and not cleared
	echoDelay                   time.Duration // the loop's: the echo canceller's delay and slips last logged
	slips                       uint64
}

func newDSPState(frame int) *dspState {
	return &dspState{frameDur: time.Duration(frame) * time.Second / audio.SampleRate}
}

// talk detects speech from frame levels: above speakingLevel and the noise
// floor, held for speakingHangover.
type talk struct {
	floor float64
	hold  time.Duration
	init  bool
}

func (t *talk) update(level float64, d time.Duration) bool {
	if !t.init || level < t.floor {
		t.floor, t.init = level, true
	} else {
		t.floor += floorRise * d.Seconds()
	}
	if level >= speakingLevel && level >= t.floor+speakingAbove {
		t.hold = speakingHangover
		return true
	}
	t.hold = max(0, t.hold-d)
	return t.hold > 0
}

// devCounter follows a count a device keeps since it was opened, so that
// the echo canceller's reference stays in step: the samples it lost to its
// timeline, the times it opened itself again (audio.System's devices keep
// both). It belongs to the goroutine that owns the device.
type devCounter struct {
	dev  any
	seen uint64
}

// since returns how much dev's count (read, false if it keeps none) grew
// since the last call: nothing the first time a device is seen.
func (g *devCounter) since(dev any, read func(any) (uint64, bool)) int {
	n, ok := read(dev)
	if !ok {
		return 0
	}
	if dev != g.dev {
		g.dev, g.seen = dev, n
		return 0
	}
	d := n - g.seen
	g.seen = n
	return int(min(d, 1<<20))
}

func gaps(dev any) (uint64, bool) {
	c, ok := dev.(interface{ Gaps() uint64 })
	if !ok {
		return 0, false
	}
	return c.Gaps(), true
}

func reopens(dev any) (uint64, bool) {
	c, ok := dev.(interface{ Reopens() uint64 })
	if !ok {
		return 0, false
	}
	return c.Reopens(), true
}

// shiftCounter follows a device's shift: how much later than its counts
// its audio passes the device since it was opened, after xruns (audio.System's
// devices measure it from their timestamps). It belongs to the goroutine
// that owns the device.
type shiftCounter struct {
	dev  any
	seen int64
}

// since returns how far dev shifted since the last call (nothing the first
// time a device is seen).
func (c *shiftCounter) since(dev any) int {
	s, ok := dev.(interface{ Shift() int64 })
	if !ok {
		return 0
	}
	n := s.Shift()
	if dev != c.dev {
		c.dev, c.seen = dev, n
		return 0
	}
	d := n - c.seen
	c.seen = n
	return int(max(-1<<20, min(d, 1<<20)))
}

// isDead reports whether a frame carries no sound at all.
func isDead(frame []int16) bool {
	if len(frame) == 0 {
		return true
	}
	lo, hi := frame[0], frame[0]
	var sum float64
	for _, v := range frame {
		lo, hi = min(lo, v), max(hi, v)
		sum += float64(v) * float64(v)
	}
	return int(hi)-int(lo) <= deadRange || math.Sqrt(sum/float64(len(frame))) < deadRMS
}

// process runs in the sender on each frame read from the source: it
// watches for a dead microphone, cleans the frame (echo, noise, gain) and
// tells whether the user speaks. Muted, the frame is still processed (the
// echo canceller keeps learning) but nobody speaks and nothing is silent.
func (d *devicePath) process(frame []int16, muted bool) {
	s := d.dsp
	if d.src == nil || deviceName(d.src) == "" {
		return
	}
	switch {
	case muted || !isDead(frame):
		s.dead = 0
		s.micSilent.Store(false)
	default:
		s.dead += s.frameDur
		if s.dead >= MicSilentAfter {
			s.micSilent.Store(true)
		}
	}
	if p := d.proc.Load(); p != nil {
		if n := s.srcGaps.since(d.src, gaps); n > 0 {
			p.CaptureGap(n)
		}
		if n := s.srcShift.since(d.src); n != 0 {
			p.CaptureGap(n)
		}
		p.Process(frame)
	}
	s.micSpeaking.Store(s.mic.update(audio.Level(frame), s.frameDur) && !muted)
}

// played runs in the speaker goroutine on each frame it plays: the echo
// canceller's reference, and the far end's speaking indicator (call audio
// only, not cues).
func (d *devicePath) played(frame []int16, call bool) {
	s := d.dsp
	if p := d.proc.Load(); p != nil {
		if s.sinkReopens.since(d.sink, reopens) > 0 {
			p.Reset() // the speaker's latency changed
		}
		if n := s.sinkGaps.since(d.sink, gaps); n > 0 {
			p.PlaybackGap(n)
		}
		if n := s.sinkShift.since(d.sink); n != 0 {
			p.PlaybackShift(n)
		}
		p.Playback(frame)
	}
	if !call {
		s.remoteSpeaking.Store(false)
		return
	}
	s.remoteSpeaking.Store(s.remote.update(audio.Level(frame), s.frameDur))
}

// newMedia starts a call's media on sink with the phone's settings.
func (p *Phone) newMedia(sink audio.Sink) *media {
	m := newMedia(sink, p.frameSamples())
	m.dev.opts.Store(p.cfg.Processing.bits())
	m.dev.log = p.log
	return m
}

// SetProcessing changes what is done to the microphone's audio, for the
// call or room in progress and the next ones.
func (p *Phone) SetProcessing(pr Processing) {
	p.post(func() {
		p.cfg.Processing = pr
		if dev, _ := p.inUse(); dev != nil {
			dev.opts.Store(pr.bits())
			if proc := dev.proc.Load(); proc != nil {
				proc.SetOptions(pr.options())
			}
		}
		p.log.Info("audio processing", "aec", pr.EchoCancellation, "canceller", pr.EchoCanceller(),
			"noise_suppression", pr.NoiseSuppression, "agc", pr.AutoGain)
	})
}

// audioTick runs on the loop's level ticker while a call has media: it
// sends the levels and who speaks, raises or clears the silent-microphone
// warning, and replaces devices that failed.
func (p *Phone) audioTick() {
	a := p.cur
	m := a.media
	s := m.dev.dsp
	p.emitLossy(Levels{
		Mic: m.micLevel.Load(), Speaker: m.spkLevel.Load(),
		MicSpeaking: s.micSpeaking.Load(), RemoteSpeaking: s.remoteSpeaking.Load(),
	})
	if silent := s.micSilent.Load() && !a.muted; silent != s.warned {
		s.warned = silent
		p.log.Info("microphone silent", "call", a.ev.ID, "silent", silent)
		p.emit(MicWarning{CallID: a.ev.ID, Raised: silent})
	}
	if proc := m.dev.proc.Load(); proc != nil {
		if d := proc.EchoDelay(); d != s.echoDelay {
			s.echoDelay = d
			p.log.Info("echo canceller: echo delay", "call", a.ev.ID, "delay", d)
		}
		if n := proc.Slips(); n != s.slips {
			s.slips = n
			p.log.Warn("echo canceller: lost the echo path, starting over", "call", a.ev.ID, "slips", n)
		}
	}
	p.watchDevices(m.dev, a.ev.ID)
}
