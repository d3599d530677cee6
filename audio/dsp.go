package audio

/*
#cgo pkg-config: speexdsp webrtc-audio-processing
#include <stdlib.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include "webrtc_aec.h"

// dsp is one microphone's echo canceller and preprocessor, driven one frame
// at a time by a single C call so that a frame costs one cgo crossing; it
// runs the frame in blocks of its own size.
typedef struct {
	SpeexEchoState *echo;
	SpeexPreprocessState *pre;
	webrtc_aec *webrtc; // WebRTC's echo canceller instead of speexdsp's, if set
	int block;
	int aec, ns, agc, aec_ns; // what the preprocessor is set to now
	spx_int16_t *tmp;
} dsp;

static void dsp_reset_echo(dsp *d);

static dsp *dsp_new(int block, int rate, int tail, int webrtc) {
	dsp *d = calloc(1, sizeof *d);
	if (!d) return NULL;
	d->block = block;
	d->tmp = calloc(block, sizeof(spx_int16_t));
	// One canceller or the other: speexdsp's filter takes memory.
	if (webrtc) d->webrtc = webrtc_aec_new(rate);
	else d->echo = speex_echo_state_init(block, tail);
	d->pre = speex_preprocess_state_init(block, rate);
	if (!d->tmp || !(d->echo || d->webrtc) || !d->pre) {
		if (d->echo) speex_echo_state_destroy(d->echo);
		if (d->pre) speex_preprocess_state_destroy(d->pre);
		if (d->webrtc) webrtc_aec_free(d->webrtc);
		free(d->tmp);
		free(d);
		return NULL;
	}
	if (d->echo) speex_echo_ctl(d->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	int off = 0;
	speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_DENOISE, &off);
	speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_AGC, &off);
	d->aec = d->ns = d->agc = d->aec_ns = -1;
	return d;
}

static void dsp_free(dsp *d) {
	if (d->webrtc) webrtc_aec_free(d->webrtc);
	if (d->echo) speex_echo_state_destroy(d->echo);
	speex_preprocess_state_destroy(d->pre);
	free(d->tmp);
	free(d);
}

// dsp_set configures the preprocessor: residual echo suppression with the
// echo canceller, noise suppression, automatic gain. The noise and echo
// suppression depths are in dB.
static void dsp_set(dsp *d, int aec, int ns, int agc, int noise_db, float agc_level, int agc_max_db, int agc_inc_db) {
	if (aec != d->aec) {
		// WebRTC's canceller suppresses what is left of the echo itself
		// (d->echo is NULL then).
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_ECHO_STATE, aec ? d->echo : NULL);
		if (aec) dsp_reset_echo(d);
		d->aec = aec;
	}
	if (ns != d->ns || aec != d->aec_ns) {
		// speexdsp suppresses residual echo only with its denoiser on: with
		// the echo canceller on and noise suppression off, the denoiser
		// runs but may take nothing off the noise.
		int denoise = ns || (aec && !d->webrtc), depth = ns ? noise_db : 0;
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_DENOISE, &denoise);
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &depth);
		d->ns = ns;
		d->aec_ns = aec;
	}
	if (agc != d->agc) {
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_AGC, &agc);
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_AGC_LEVEL, &agc_level);
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &agc_max_db);
		speex_preprocess_ctl(d->pre, SPEEX_PREPROCESS_SET_AGC_INCREMENT, &agc_inc_db);
		d->agc = agc;
	}
}

static void dsp_reset_echo(dsp *d) {
	if (d->webrtc) webrtc_aec_reset(d->webrtc);
	else speex_echo_state_reset(d->echo);
}

// dsp_run processes the n samples of mic in place, a block at a time, with
// ref the far-end audio that was played meanwhile; n is a multiple of the
// block.
static void dsp_run(dsp *d, spx_int16_t *mic, const spx_int16_t *ref, int n) {
	// It fails only on a rate or a length it was not set up for, which
	// NewProcessorWith rules out.
	if (d->aec && d->webrtc) webrtc_aec_run(d->webrtc, mic, ref, n);
	for (int at = 0; at < n; at += d->block) {
		if (d->aec && !d->webrtc) {
			speex_echo_cancellation(d->echo, mic + at, ref + at, d->tmp);
			for (int i = 0; i < d->block; i++) mic[at + i] = d->tmp[i];
		}
		if (d->aec || d->ns || d->agc) speex_preprocess_run(d->pre, mic + at);
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// DSP settings.
const (
	// DefaultEchoTail is how long an echo the canceller models once the
	// delay estimator has found where the echo starts: the room's
	// reverberation and what is left of the delay after the estimate.
	DefaultEchoTail = 120 * time.Millisecond
	// MaxEchoDelay is the longest speaker-to-microphone delay the estimator
	// looks for: device and sound server buffers on both sides.
	MaxEchoDelay = 500 * time.Millisecond
	// speexMargin is how much earlier than the estimated delay the
	// reference is handed to speexdsp's canceller, so that an estimate a
	// little too long still leaves the echo's onset inside the filter; a
	// new estimate is taken when it moves the echo by more than that
	// (less, and the echo is where the filter has it already), and the
	// filter starts over.
	speexMargin = 20 * time.Millisecond
	// webrtcMargin is the same for WebRTC's canceller, which finds the
	// delay within the reference itself and follows it as it drifts, as
	// long as the echo stays from webrtcEarliest to webrtcLatest into the
	// reference: only an estimate outside that moves the reference, to put
	// the echo webrtcMargin into it. Its filter is not reset: it finds the
	// echo again where it went (a reset costs it a second). But a move
	// costs it as much once it has converged: an echo starting at 130 ms
	// that drifts 3 ms a second (a loopback that adapts its rate) was
	// estimated at 100 ms, left where it was, then at 120 ms 2.2 s in:
	// moving the reference 60 ms then left 20 dB off from 2 to 3 s,
	// against 44 before, and 21.7 dB from 2.5 to 4.5 s, against 54.4 with
	// the reference left where it was (TestProcessorLeavesTheEcho). Handed
	// the reference with no delay taken off, it converges within 2 s on an
	// echo 140 ms late and loses one 200 ms late; with the echo moved
	// 20 ms each time the estimate does (as speexdsp's), it takes 18 dB
	// off an echo drifting 5 ms a second (TestProcessorDrift).
	webrtcMargin   = 60 * time.Millisecond
	webrtcEarliest = 20 * time.Millisecond
	webrtcLatest   = 120 * time.Millisecond
	// noiseSuppressDB is how far noise is pushed down.
	noiseSuppressDB = -30
	// agcLevel is the loudness the gain control aims at (speexdsp's scale,
	// at most 32768: speech at about -20 dBFS RMS at 48 kHz), and
	// agcMaxGainDB how much it may amplify a quiet microphone, and
	// agcIncrementDB how fast (per second): slowly, so that it does not
	// turn up what is left of the echo while the canceller converges.
	agcLevel       = 32000
	agcMaxGainDB   = 15
	agcIncrementDB = 6
)

// Canceller names an echo canceller.
type Canceller string

// The echo cancellers.
const (
	// Speex is speexdsp's: an adaptive filter over the echo's tail, then
	// its preprocessor suppresses what is left of the echo.
	Speex Canceller = "speex"
	// WebRTC is WebRTC's (webrtc-audio-processing 0.3, as PulseAudio's
	// echo-cancel module uses it): delay-agnostic, with the extended
	// filter and its own suppression of what is left.
	WebRTC Canceller = "webrtc"
)

// Cancellers lists the echo cancellers, the default first.
func Cancellers() []Canceller { return []Canceller{WebRTC, Speex} }

// Title is the canceller's name as shown to the user.
func (c Canceller) Title() string {
	if c == WebRTC {
		return "WebRTC"
	}
	return "speexdsp"
}

// ProcessorOptions choose what a Processor does to the microphone.
type ProcessorOptions struct {
	EchoCancellation bool // subtract what the speaker played, then suppress what is left of it
	NoiseSuppression bool // push stationary noise (fans, hiss) down
	AutoGain         bool // bring the voice to a steady loudness
}

func (o ProcessorOptions) bits() uint32 {
	var b uint32
	if o.EchoCancellation {
		b |= 1
	}
	if o.NoiseSuppression {
		b |= 2
	}
	if o.AutoGain {
		b |= 4
	}
	return b
}

// Processor cleans up microphone audio for a call: an adaptive echo
// canceller that learns the path from the speaker to the microphone
// (WebRTC's, the default, or speexdsp's), then speexdsp's preprocessor for
// residual echo suppression, noise suppression and automatic gain.
//
// Two goroutines drive it: the one that plays the far end calls Playback
// with each frame it hands to the speaker (the reference), and the one that
// reads the microphone calls Process with each frame it read. Playback
// hands samples over through a lock-free single-producer single-consumer
// ring and never blocks; Process owns everything else. SetOptions and the
// getters may be called from any goroutine. Nothing allocates per frame.
// Close frees the C state once both goroutines are done.
//
// Alignment. The echo of a frame reaches the microphone some time after
// Playback saw it: the speaker's queue, the output and input latencies of
// the devices and the sound server, the air. Process reads the reference at
// a position that advances by exactly one frame per microphone frame, set
// at the first frames to one frame behind the newest reference (a cushion
// for the two goroutines waking in either order). From then on only what
// the devices report moves it: samples the microphone lost (CaptureGap),
// silence the speaker played (PlaybackGap), and the shifts of either
// stream's timing that their timestamps show after an xrun (CaptureGap,
// PlaybackShift). How late either goroutine runs never moves it: they are
// the devices' buffers' business. Only a position further than a second
// from the newest reference, which no device buffers explain, makes Process
// realign, which counts as a slip. A delay estimator (envelope
// cross-correlation of the reference and the microphone, up to
// MaxEchoDelay) then has the canceller read the reference that much
// earlier, so that the echo arrives early in its filter, whose tail need
// only cover the room.
type Processor struct {
	d     *C.dsp
	kind  Canceller
	opts  atomic.Uint32 // ProcessorOptions as bits
	frame int           // samples per microphone frame

	// The hand-off ring: samples given to Playback, indexed by their
	// position in the reference stream (wpos counts samples ever written).
	ring  []int16
	wpos  atomic.Uint64
	slips atomic.Uint64
	delay atomic.Int64 // samples the reference is delayed by
	reset atomic.Bool  // Reset was called
	shift atomic.Int64 // PlaybackShift's moves sooner, not yet applied by Process

	// Owned by Process.
	synced bool
	settle int     // frames left following the newest reference
	pos    int64   // reference position matching the next microphone frame
	fresh  []int16 // the reference at pos, for the delay estimator
	ref    []int16 // the reference at pos less the echo delay, for the canceller
	est    delayEstimator
	aec    bool

	gapZeros []int16 // Playback's: silence for PlaybackGap
}

// NewProcessor returns a Processor for frames of frameSamples (10 or 20 ms;
// 0 means FrameSamples) with the default echo canceller and an echo tail of
// tail (0 means DefaultEchoTail).
func NewProcessor(frameSamples int, tail time.Duration, opts ProcessorOptions) (*Processor, error) {
	return NewProcessorWith(Cancellers()[0], frameSamples, tail, opts)
}

// NewProcessorWith is NewProcessor with the echo canceller kind (its tail
// is speexdsp's alone: WebRTC's filter has its own length).
func NewProcessorWith(kind Canceller, frameSamples int, tail time.Duration, opts ProcessorOptions) (*Processor,
	error) {
	if kind != Speex && kind != WebRTC {
		return nil, fmt.Errorf("audio: processor: no echo canceller %q: use %s or %s", kind, Speex, WebRTC)
	}
	if frameSamples <= 0 {
		frameSamples = FrameSamples
	}
	if frameSamples%(SampleRate/100) != 0 {
		return nil, errors.New("audio: processor: frames must be a multiple of 10 ms")
	}
	if tail <= 0 {
		tail = DefaultEchoTail
	}
	taps := int(tail * SampleRate / time.Second)
	d := C.dsp_new(C.int(dspBlock(frameSamples)), C.int(SampleRate), C.int(taps), cbool(kind == WebRTC))
	if d == nil {
		return nil, fmt.Errorf("audio: processor: %s could not be initialised", kind)
	}
	maxDelay := int(MaxEchoDelay * SampleRate / time.Second)
	p := &Processor{
		d:        d,
		kind:     kind,
		frame:    frameSamples,
		ring:     make([]int16, maxDelay+int(maxLead*SampleRate/time.Second)+ringSpare*frameSamples),
		fresh:    make([]int16, frameSamples),
		ref:      make([]int16, frameSamples),
		gapZeros: make([]int16, frameSamples),
		est:      newDelayEstimator(maxDelay),
	}
	p.SetOptions(opts)
	return p, nil
}

// dspBlock is the block speexdsp runs on for frames of frameSamples. Its
// preprocessor (the noise and residual echo suppression, the gain) hands
// each block back one block late, so the block is the processing's share of
// the latency. 10 ms frames run in 5 ms blocks: the echo canceller takes as
// much off the echo as on 10 ms blocks (TestProcessorCancelsEcho), for
// 5 ms less. Longer frames run whole: on 20 ms blocks it takes about 5 dB
// more off in a reverberant room than on 5 or 10 ms blocks, which converge
// slower.
func dspBlock(frameSamples int) int {
	if frameSamples == SampleRate/100 {
		return frameSamples / 2
	}
	return frameSamples
}

// Canceller is the echo canceller p runs.
func (p *Processor) Canceller() Canceller { return p.kind }

// SetOptions changes what Process does from its next frame on.
func (p *Processor) SetOptions(o ProcessorOptions) { p.opts.Store(o.bits()) }

// Options returns what Process does.
func (p *Processor) Options() ProcessorOptions {
	b := p.opts.Load()
	return ProcessorOptions{EchoCancellation: b&1 != 0, NoiseSuppression: b&2 != 0, AutoGain: b&4 != 0}
}

// EchoDelay is the speaker-to-microphone delay the estimator has settled
// on (0 until it has), as Process applies it.
func (p *Processor) EchoDelay() time.Duration {
	return samplesDuration(p.delay.Load())
}

// Reset makes Process forget the echo path, from its next frame on: the
// microphone or the speaker changed. Any goroutine may call it.
func (p *Processor) Reset() { p.reset.Store(true) }

// Slips counts the times the reference and the microphone fell more than a
// second out of step, which no device buffers explain (a goroutine stalled
// that long), and were realigned.
func (p *Processor) Slips() uint64 { return p.slips.Load() }

// Playback records frame as handed to the speaker (the far-end
// reference). It never blocks: when Process has stopped taking, the oldest
// samples are overwritten.
func (p *Processor) Playback(frame []int16) {
	n := uint64(len(p.ring))
	w := p.wpos.Load()
	if len(frame) > len(p.ring) {
		frame = frame[len(frame)-len(p.ring):]
	}
	for len(frame) > 0 {
		k := copy(p.ring[int(w%n):], frame)
		frame = frame[k:]
		w += uint64(k)
	}
	p.wpos.Store(w)
}

// PlaybackGap records that the speaker played n samples of silence before
// the next frame given to Playback (it ran dry), so that the reference
// stays in step with what was heard.
func (p *Processor) PlaybackGap(n int) {
	for n > 0 {
		k := min(n, len(p.gapZeros))
		p.Playback(p.gapZeros[:k])
		n -= k
	}
}

// PlaybackShift records that from the next frame given to Playback on, the
// speaker plays n samples later (earlier if n is negative) than it did: its
// stream restarted. Later is recorded as silence, which is what the device
// played meanwhile; sooner moves Process's position on, with its next
// frame. Call it from the goroutine that calls Playback.
func (p *Processor) PlaybackShift(n int) {
	if n > 0 {
		p.PlaybackGap(n)
		return
	}
	p.shift.Add(int64(n))
}

// CaptureGap records that the microphone lost n samples before the next
// frame given to Process (or, if n is negative, that the next frame was
// captured that much earlier than its count says), so that the reference
// moves along. Call it from the goroutine that calls Process.
func (p *Processor) CaptureGap(n int) { p.pos += int64(n) }

// Process cleans frame, just read from the microphone, in place. frame
// must be as long as the frames the Processor was made for.
func (p *Processor) Process(frame []int16) {
	if len(frame) != p.frame {
		return
	}
	b := p.opts.Load()
	aec, ns, agc := b&1 != 0, b&2 != 0, b&4 != 0
	C.dsp_set(p.d, cbool(aec), cbool(ns), cbool(agc), C.int(noiseSuppressDB), C.float(agcLevel), C.int(agcMaxGainDB),
		C.int(agcIncrementDB))
	if aec != p.aec || p.reset.Swap(false) {
		p.aec = aec
		p.est.reset()
		p.delay.Store(0)
		p.synced, p.settle = false, settleFrames
		C.dsp_reset_echo(p.d)
	}
	p.align()
	if aec {
		if d, ok := p.est.update(p.fresh, frame); ok {
			old := int(p.delay.Load())
			if p.kind == Speex {
				if d = max(0, d-samples(speexMargin)); abs(d-old) > samples(speexMargin) {
					p.delay.Store(int64(d))
					C.dsp_reset_echo(p.d)
				}
			} else if at := d - old; at < samples(webrtcEarliest) || at > samples(webrtcLatest) {
				p.delay.Store(int64(max(0, d-samples(webrtcMargin))))
			}
		}
	}
	if aec || ns || agc {
		C.dsp_run(p.d, (*C.spx_int16_t)(unsafe.Pointer(&frame[0])), (*C.spx_int16_t)(unsafe.Pointer(&p.ref[0])),
			C.int(len(frame)))
	}
}

// Alignment settings. For its first settleFrames frames after
// (re)aligning, Process follows the newest reference with a one-frame
// cushion, while the microphone delivers what it buffered before the call.
// After that, only a position more than maxLead behind or ahead of the
// newest reference makes it realign: the reference it needs would be gone
// (the microphone's reader fell that far behind, or a shift that large),
// or the speaker stopped giving it any. ringSpare frames of room in the
// ring beyond the longest delay keep Playback from writing where Process
// reads.
const (
	settleFrames = 10
	maxLead      = time.Second
	ringSpare    = 16
)

// align takes the reference for the next microphone frame: p.fresh at the
// matching position and p.ref the echo delay before it (at the latest the
// newest frame); what Playback has not delivered yet is silence.
func (p *Processor) align() {
	w := int64(p.wpos.Load())
	n := int64(p.frame)
	if s := p.shift.Swap(0); s != 0 && p.synced {
		p.pos -= s // played sooner (s < 0): what is heard now was written later
	}
	limit := int64(maxLead * SampleRate / time.Second)
	switch lead := w - p.pos; {
	case !p.synced || p.settle > 0:
		if !p.synced {
			p.synced, p.settle = true, settleFrames
		}
		p.pos = max(0, w-2*n)
		p.settle--
	case lead > limit || lead < -limit:
		p.realign(w)
	}
	p.read(p.fresh, p.pos, w)
	// The canceller's reference is never taken from beyond the newest:
	// the microphone cannot have heard what the speaker was not given yet,
	// so the newest frame is the latest its echo can come from. The
	// position runs that far ahead only when the speaker's goroutine is
	// held up longer than the one-frame cushion while the microphone's
	// moves on (a told capture gap, say), as long as the device's queue
	// lasts; silence there left WebRTC's canceller, which reads at the
	// position itself for an echo under its 60 ms margin, nothing to
	// cancel with: 0.2 dB off after a 40 ms capture gap with the speaker's
	// goroutine 40 ms late, 36.6 dB this way (TestProcessorFollowsShifts).
	p.read(p.ref, min(p.pos-p.delay.Load(), w-n), w)
	p.pos += n
}

// realign starts the alignment and the echo path over: a slip.
func (p *Processor) realign(w int64) {
	p.slips.Add(1)
	p.est.reset()
	p.delay.Store(0)
	C.dsp_reset_echo(p.d)
	p.pos = max(0, w-2*int64(p.frame))
	p.settle = settleFrames
}

// read copies the reference from position at into dst, with silence for
// what lies outside what has been written (before 0, or from w on).
func (p *Processor) read(dst []int16, at, w int64) {
	n := int64(len(p.ring))
	for i := range dst {
		if j := at + int64(i); j >= 0 && j < w {
			dst[i] = p.ring[j%n]
		} else {
			dst[i] = 0
		}
	}
}

// Close frees the DSP state. Neither Playback nor Process may run during or
// after it.
func (p *Processor) Close() {
	if p.d != nil {
		C.dsp_free(p.d)
		p.d = nil
	}
}

// samples is how many samples last d.
func samples(d time.Duration) int { return int(d * SampleRate / time.Second) }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
