// Package audiotest analyses and generates 48 kHz mono int16 signals for
// tests: dominant frequency, tone SNR, levels, envelopes and their
// correlation, a deterministic speech-like signal, an in-memory Recorder
// sink and small WAV helpers.
//
// It does not import the audio package (so that package's own tests can use
// it), but Recorder satisfies audio.Sink.
package audiotest

import (
	"fmt"
	"math"
	"math/cmplx"
	"slices"
)

// SampleRate is the rate of every signal in this package.
const SampleRate = 48000

// RMS returns the root mean square of samples relative to full scale (0..1).
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, s := range samples {
		v := float64(s) / 32768
		sum += v * v
	}
	return math.Sqrt(sum / float64(len(samples)))
}

// DBFS returns the RMS level in dB relative to full scale (-Inf for silence).
func DBFS(samples []int16) float64 { return 20 * math.Log10(RMS(samples)) }

// Peak returns the largest absolute sample value relative to full scale.
func Peak(samples []int16) float64 {
	m := 0
	for _, s := range samples {
		m = max(m, abs(int(s)))
	}
	return float64(m) / 32768
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// Tone returns n samples of a sine at hz with peak amplitude amp (0..1).
func Tone(hz, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/SampleRate)))
	}
	return out
}

// Goertzel returns the amplitude (0..1 of full scale) of the component of
// samples at hz, using a Hann window. For a pure sine over a whole number of
// periods it is close to the sine's peak amplitude.
func Goertzel(samples []int16, hz float64) float64 {
	n := len(samples)
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2, wsum float64
	for i, x := range samples {
		win := hann(i, n)
		wsum += win
		s0 := float64(x)/32768*win + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / wsum
}

func hann(i, n int) float64 {
	if n == 1 {
		return 1
	}
	return 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
}

// blackmanHarris is the 4-term Blackman-Harris window: sidelobes below
// -92 dB, main lobe ±4 bins.
func blackmanHarris(i, n int) float64 {
	if n == 1 {
		return 1
	}
	x := 2 * math.Pi * float64(i) / float64(n-1)
	return 0.35875 - 0.48829*math.Cos(x) + 0.14128*math.Cos(2*x) - 0.01168*math.Cos(3*x)
}

// spectrum returns the power spectrum of samples with window win, zero
// padded to at least minSize points, and the bin width in Hz.
func spectrum(samples []int16, minSize int, win func(i, n int) float64) ([]float64, float64) {
	size := 1
	for size < len(samples) || size < minSize {
		size <<= 1
	}
	x := make([]complex128, size)
	for i, s := range samples {
		x[i] = complex(float64(s)/32768*win(i, len(samples)), 0)
	}
	FFT(x, false)
	p := make([]float64, size/2+1)
	for i := range p {
		a := cmplx.Abs(x[i])
		p[i] = a * a
	}
	return p, float64(SampleRate) / float64(size)
}

// FFT transforms x in place (an iterative radix-2 FFT; len(x) must be a
// power of two), or, if inverse, transforms it back without dividing by
// len(x).
func FFT(x []complex128, inverse bool) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Rect(1, sign*2*math.Pi/float64(size))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := range size / 2 {
				a, b := x[start+k], x[start+k+size/2]*w
				x[start+k], x[start+k+size/2] = a+b, a-b
				w *= step
			}
		}
	}
}

// DominantFrequency returns the frequency in Hz of the strongest component
// of samples between 20 Hz and 20 kHz, or 0 for silence. With a Hann window,
// zero padding to at least four times the length (and 65536 points) and
// parabolic interpolation of the peak, a clean tone is located to well under
// 1 Hz from 1 s of audio and to a few Hz from 20 ms.
func DominantFrequency(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	p, bin := spectrum(samples, max(4*len(samples), 1<<16), hann)
	lo, hi := int(20/bin)+1, min(len(p)-2, int(20000/bin))
	best := -1
	for i := lo; i <= hi; i++ {
		if best < 0 || p[i] > p[best] {
			best = i
		}
	}
	if best < 0 || p[best] == 0 {
		return 0
	}
	// Parabolic interpolation on log power.
	a, b, c := math.Log(p[best-1]+1e-300), math.Log(p[best]+1e-300), math.Log(p[best+1]+1e-300)
	off := 0.0
	if d := a - 2*b + c; d < 0 {
		off = 0.5 * (a - c) / d
	}
	return (float64(best) + off) * bin
}

// ToneSNR returns, in dB, the power within a narrow band around hz (the
// main lobe of a Blackman-Harris window, at least ±5 Hz) over the power
// elsewhere between 20 Hz and 24 kHz. Leakage limits it to about 90 dB; a
// 16-bit tone scores over 80 dB, a clean tone through Opus over 20 dB.
func ToneSNR(samples []int16, hz float64) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	p, bin := spectrum(samples, 0, blackmanHarris)
	half := max(5, 5*float64(SampleRate)/float64(len(samples)))
	var sig, noise float64
	for i, v := range p {
		f := float64(i) * bin
		switch {
		case f < 20:
		case math.Abs(f-hz) <= half:
			sig += v
		default:
			noise += v
		}
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// QuarterSNRs returns ToneSNR of each whole quarter second of samples.
// Judged this way, one seam (a frame the jitter buffer concealed or
// dropped while it settled) spoils one quarter, not the whole recording.
func QuarterSNRs(samples []int16, hz float64) []float64 {
	var snrs []float64
	for q := samples; len(q) >= SampleRate/4; q = q[SampleRate/4:] {
		snrs = append(snrs, ToneSNR(q[:SampleRate/4], hz))
	}
	return snrs
}

// SteadyTone judges a tone that crossed a real-time path (devices, a
// call): the frequency of the whole of samples within 5 Hz of hz, the
// median quarter second's SNR (QuarterSNRs) at least 20 dB, and at most
// one quarter second in four under 15 dB. A path on a loaded machine may
// skip now and then (a device restarting, a writer held up), and each skip
// spoils the quarter it falls in; a path that keeps skipping, or carries
// another tone or nothing, fails. It returns whether samples pass and what
// it found, for the log.
func SteadyTone(samples []int16, hz float64) (bool, string) {
	f, snrs := DominantFrequency(samples), QuarterSNRs(samples, hz)
	med, low := Median(snrs), CountBelow(snrs, 15)
	ok := math.Abs(f-hz) <= 5 && med >= 20 && low <= len(snrs)/4
	return ok, fmt.Sprintf("%.1f Hz (want %.0f ± 5), %.1f dBFS, SNR per quarter second %.1f dB: median %.1f (want ≥ "+
		"20), %d under 15 dB (want at most %d)",
		f, hz, DBFS(samples), snrs, med, low, len(snrs)/4)
}

// Median returns the median of v (NaN when empty); v is left as it is.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// CountBelow returns how many of v are below limit.
func CountBelow(v []float64, limit float64) int {
	n := 0
	for _, x := range v {
		if x < limit {
			n++
		}
	}
	return n
}

// FirstAbove returns the index of the first sample whose magnitude is at
// least threshold (0..1 of full scale), or -1.
func FirstAbove(samples []int16, threshold float64) int {
	t := int(threshold * 32768)
	for i, s := range samples {
		if abs(int(s)) >= t {
			return i
		}
	}
	return -1
}
