package audiotest

import (
	"math"
	"time"
)

// EnvelopeWindow is the window of Envelope: 10 ms.
const EnvelopeWindow = SampleRate / 100

// Envelope returns the RMS (0..1 of full scale) of each whole 10 ms window
// of samples.
func Envelope(samples []int16) []float64 {
	out := make([]float64, len(samples)/EnvelopeWindow)
	for i := range out {
		out[i] = RMS(samples[i*EnvelopeWindow : (i+1)*EnvelopeWindow])
	}
	return out
}

// Correlate finds the lag in [-maxLag, maxLag] at which b best matches a and
// returns the normalized (Pearson) correlation there, -1..1, and the lag.
// A positive lag means b is a delayed copy of a: b[i+lag] lines up with a[i].
// Only lags whose overlap covers at least half of the shorter input count;
// if none does, Correlate returns 0, 0.
func Correlate(a, b []float64, maxLag int) (corr float64, lag int) {
	minOverlap := max(2, min(len(a), len(b))/2)
	best, bestLag, found := 0.0, 0, false
	for l := -maxLag; l <= maxLag; l++ {
		// a[i] pairs with b[i+l].
		lo := max(0, -l)
		hi := min(len(a), len(b)-l)
		if hi-lo < minOverlap {
			continue
		}
		c := pearson(a[lo:hi], b[lo+l:hi+l])
		if !found || c > best {
			best, bestLag, found = c, l, true
		}
	}
	return best, bestLag
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// SegmentCorrelation finds each whole half second of want in got by their
// envelopes: the half second that starts at sample p of want is looked for
// in got starting at p+lag, for every lag from minLag to maxLag (10 ms
// steps). It returns each half second's best correlation and its lag.
// Judged this way, a path whose delay changes on the way (a jitter buffer
// that grew, a speaker that skipped) still shows each piece intact, where
// one correlation over the whole would count the shift as a loss.
func SegmentCorrelation(want, got []int16, minLag, maxLag time.Duration) (corrs []float64, lags []time.Duration) {
	const seg = SampleRate / 2 / EnvelopeWindow // windows in half a second
	w, g := Envelope(want), Envelope(got)
	lo, hi := steps(minLag), steps(maxLag)
	for start := 0; start+seg <= len(w); start += seg {
		best, bestLag := -1.0, 0
		for l := lo; l <= hi; l++ {
			from := start + l
			if from < 0 || from+seg > len(g) {
				continue
			}
			if c := pearson(w[start:start+seg], g[from:from+seg]); c > best {
				best, bestLag = c, l
			}
		}
		corrs = append(corrs, best)
		lags = append(lags, time.Duration(bestLag)*10*time.Millisecond)
	}
	return corrs, lags
}

// steps converts a duration to Envelope windows.
func steps(d time.Duration) int { return int(d / (10 * time.Millisecond)) }
