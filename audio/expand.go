package audio

import "math"

// expander stretches voiced audio across a gap that Opus concealment would
// fade out too quickly: libopus mutes its packet loss concealment by about
// 10 dB per 10 ms, so two or three lost packets in a row leave a silent
// hole. When the audio before the gap is periodic (voiced speech, a tone),
// the expander repeats its last pitch period, fading by 1 dB per 10 ms, as
// WebRTC's NetEQ "expand" and the G.711 Appendix I concealment do; when it
// is not (unvoiced speech, noise), the decoder's own concealment stays.
// Audio that resumes after a gap is cross-faded in over 2.5 ms.
//
// It belongs to the jitter buffer and allocates nothing after creation.
type expander struct {
	hist   [expHistory]int16 // the last samples played, oldest first
	filled int               // how much of hist is real audio

	// During a gap: the repeated period, the phase in it, the gain.
	template [expMaxLag]int16
	period   int
	pos      int
	gain     float64
	active   bool // the last audio noted was expanded
	spent    bool // this gap was expanded until it faded: leave the rest to the decoder

	// bridge is the start of audio that was dropped (to shrink the delay):
	// the audio noted next is cross-faded in from it.
	bridge  [expCrossfade]int16
	bridged int
}

const (
	expMinLag    = SampleRate / 400 // 2.5 ms: pitch up to 400 Hz
	expMaxLag    = SampleRate / 50  // 20 ms: pitch down to 50 Hz
	expHistory   = 2 * expMaxLag
	expWindow    = SampleRate / 100 // 10 ms compared to find the period
	expVoiced    = 0.6              // normalized correlation that counts as periodic
	expCrossfade = SampleRate / 400 // 2.5 ms
	expDecimate  = 4                // coarse pitch search at 12 kHz
	expFade      = 0.999760176      // gain per sample: -1 dB per 10 ms at 48 kHz
	expFloor     = 0.03             // -30 dB: after 300 ms, the rest of the gap is the decoder\'s
)

// fill replaces pcm, the decoder's concealment of a gap, with the
// repeated pitch period when the audio before the gap is periodic. It
// reports whether it did.
func (e *expander) fill(pcm []int16) bool {
	if e.spent || (!e.active && !e.start()) {
		return false
	}
	if e.gain < expFloor {
		e.active, e.spent = false, true
		return false
	}
	for i := range pcm {
		pcm[i] = int16(float64(e.template[e.pos]) * e.gain)
		e.pos++
		if e.pos == e.period {
			e.pos = 0
		}
		e.gain *= expFade
	}
	return true
}

// start finds the pitch period of the history and takes its last period as
// the template; false when the history is not periodic enough.
func (e *expander) start() bool {
	if e.filled < expHistory {
		return false
	}
	lag, corr := e.pitch()
	if corr < expVoiced {
		return false
	}
	e.period, e.pos, e.gain, e.active = lag, 0, 1, true
	copy(e.template[:lag], e.hist[expHistory-lag:])
	return true
}

// pitch returns the lag in [expMinLag, expMaxLag] at which the last
// expWindow samples best match the ones a lag before, and the normalized
// correlation there: first on every expDecimate-th sample, then refined.
// The window is short so that it measures the audio just before the gap,
// not across an earlier seam.
func (e *expander) pitch() (lag int, corr float64) {
	h := e.hist[:]
	end := len(h)
	score := func(l, step int) float64 { return similarity(h[end-expWindow:], h[end-expWindow-l:end-l], step) }
	best, bestLag := -1.0, expMinLag
	for l := expMinLag; l <= expMaxLag; l += expDecimate {
		if c := score(l, expDecimate); c > best {
			best, bestLag = c, l
		}
	}
	lo, hi := max(expMinLag, bestLag-expDecimate), min(expMaxLag, bestLag+expDecimate)
	best = -1
	for l := lo; l <= hi; l++ {
		if c := score(l, 1); c > best {
			best, lag = c, l
		}
	}
	return lag, best
}

// similarity is the normalised cross-correlation of a and b (of one
// length), over every step-th sample: 1 for the same shape, 0 for none
// (or silence).
func similarity(a, b []int16, step int) float64 {
	var xy, xx, yy float64
	for i := 0; i < len(a); i += step {
		x, y := float64(a[i]), float64(b[i])
		xy += x * y
		xx += x * x
		yy += y * y
	}
	if xx == 0 || yy == 0 {
		return 0
	}
	return xy / math.Sqrt(xx*yy)
}

// cut returns how much of pcm, the decoded audio that follows what was
// played last, to skip to shrink the delay without a seam: the length L
// in [len(pcm)/2, len(pcm)) at which the expWindow before pcm[L] best
// matches the last expWindow played (WSOLA; NetEQ's accelerate cuts pitch
// periods alike), preferring the longest of the near-best. When nothing
// matches well enough (unvoiced speech, noise) it returns len(pcm): drop
// all of it, cross-faded.
func (e *expander) cut(pcm []int16) int {
	n := len(pcm)
	w := min(expWindow, n/2)
	if e.filled < expHistory || w < expCrossfade {
		return n
	}
	h := e.hist[expHistory-w:]
	score := func(l, step int) float64 { return similarity(h[:w], pcm[l-w:l], step) }
	lo := max(w, n/2)
	best := -1.0
	for l := lo; l < n; l += expDecimate {
		best = max(best, score(l, expDecimate))
	}
	if best < expVoiced {
		return n
	}
	// The longest lag within 0.05 of the best, refined around.
	coarse := lo
	for l := lo; l < n; l += expDecimate {
		if score(l, expDecimate) >= best-0.05 {
			coarse = l
		}
	}
	lag, corr := n, -1.0
	for l := max(lo, coarse-expDecimate); l <= min(n-1, coarse+expDecimate); l++ {
		if c := score(l, 1); c > corr {
			lag, corr = l, c
		}
	}
	if corr < expVoiced {
		return n
	}
	return lag
}

// note records audio about to be played: decoded (or recovered) when
// genuine, otherwise concealed, by fill when expanded. Audio after an expanded
// gap is cross-faded in from the continuing expansion, so the seam does
// not click.
func (e *expander) note(pcm []int16, genuine, expanded bool) {
	if genuine {
		e.spent = false
	}
	if e.bridged > 0 && !expanded {
		n := min(e.bridged, len(pcm))
		for i := range n {
			w := float64(i+1) / float64(n+1)
			pcm[i] = int16(w*float64(pcm[i]) + (1-w)*float64(e.bridge[i]))
		}
		e.bridged = 0
	}
	if e.active && !expanded {
		n := min(expCrossfade, len(pcm))
		for i := range n {
			w := float64(i+1) / float64(n+1)
			cont := float64(e.template[e.pos]) * e.gain
			pcm[i] = int16(w*float64(pcm[i]) + (1-w)*cont)
			e.pos++
			if e.pos == e.period {
				e.pos = 0
			}
		}
		e.active = false
	}
	if len(pcm) >= expHistory {
		copy(e.hist[:], pcm[len(pcm)-expHistory:])
	} else {
		copy(e.hist[:], e.hist[len(pcm):])
		copy(e.hist[expHistory-len(pcm):], pcm)
	}
	e.filled = min(expHistory, e.filled+len(pcm))
}

// drop notes that pcm, which follows what was played last, will not be
// played: the audio noted next is cross-faded in from its start.
func (e *expander) drop(pcm []int16) {
	e.bridged = copy(e.bridge[:], pcm)
}

// reset forgets the history (a new stream).
func (e *expander) reset() { *e = expander{} }
