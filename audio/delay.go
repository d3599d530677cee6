package audio

import "math"

// Delay estimation settings. The estimator works on the energy envelopes
// of the reference and the microphone in 10 ms steps.
const (
	delayStep   = SampleRate / 100 // samples per envelope step
	delayWindow = 40               // steps correlated (400 ms)
	delayEvery  = 5                // steps between estimates (50 ms)
	// delayMinCorr is the envelope correlation a first estimate needs;
	// echo at -6 dB over a quiet room scores above 0.9, unrelated speech
	// below 0.3. Replacing an adopted estimate needs delayReplaceCorr, ten
	// times in a row (half a second), so that double talk does not move it.
	delayMinCorr     = 0.5
	delayReplaceCorr = 0.7
	// delayMinSpread is how much the reference's envelope must vary (dB,
	// standard deviation) for its shape to be recognisable: someone talks.
	delayMinSpread = 3.0
)

// delayEstimator finds how long after the reference its echo appears in
// the microphone: the lag that best correlates their log-energy envelopes.
// An estimate is adopted once two in a row agree (ten, and a stronger
// correlation, to replace an adopted one). Estimates start once a window's
// worth of audio is in, with the lags the history covers so far. It belongs to the goroutine that calls update.
type delayEstimator struct {
	maxLag   int       // steps
	ref, mic []float64 // envelope histories, rings of delayWindow+maxLag
	n        int       // steps seen
	cand     int       // the last estimate, -1 for none
	agree    int       // estimates in a row that agreed with cand
	current  int       // the adopted lag in steps, -1 for none
}

func newDelayEstimator(maxDelay int) delayEstimator {
	maxLag := maxDelay / delayStep
	e := delayEstimator{
		maxLag: maxLag,
		ref:    make([]float64, delayWindow+maxLag),
		mic:    make([]float64, delayWindow+maxLag),
	}
	e.reset()
	return e
}

// reset forgets everything: the echo path may have changed.
func (e *delayEstimator) reset() {
	e.n, e.cand, e.agree, e.current = 0, -1, 0, -1
}

// update adds a frame of reference and microphone and returns the delay in
// samples of the echo behind the reference, and true, when a new estimate
// was adopted.
func (e *delayEstimator) update(ref, mic []int16) (int, bool) {
	adopted := false
	for i := 0; i+delayStep <= len(ref) && i+delayStep <= len(mic); i += delayStep {
		h := e.n % len(e.ref)
		e.ref[h] = logEnergy(ref[i : i+delayStep])
		e.mic[h] = logEnergy(mic[i : i+delayStep])
		e.n++
		if e.n >= delayWindow && e.n%delayEvery == 0 && e.estimate() {
			adopted = true
		}
	}
	if !adopted {
		return 0, false
	}
	return e.current * delayStep, true
}

// estimate correlates the latest window and reports whether a new lag was
// adopted.
func (e *delayEstimator) estimate() bool {
	size := len(e.ref)
	last := e.n - 1 // the newest step
	// The microphone window and its statistics.
	var mx, mxx float64
	for k := range delayWindow {
		v := e.mic[(last-k)%size]
		mx += v
		mxx += v * v
	}
	minCorr := delayMinCorr
	if e.current >= 0 {
		minCorr = delayReplaceCorr
	}
	best, bestCorr := -1, minCorr
	for lag := 0; lag <= min(e.maxLag, e.n-delayWindow); lag++ {
		var ry, ryy, rxy float64
		for k := range delayWindow {
			x := e.mic[(last-k)%size]
			y := e.ref[(last-k-lag+size)%size]
			ry += y
			ryy += y * y
			rxy += x * y
		}
		w := float64(delayWindow)
		vy := ryy - ry*ry/w
		if lag == 0 && math.Sqrt(max(0, vy)/w) < delayMinSpread {
			return false // the far end is quiet: nothing to go by
		}
		vx := mxx - mx*mx/w
		if vx <= 0 || vy <= 0 {
			continue
		}
		c := (rxy - mx*ry/w) / math.Sqrt(vx*vy)
		if c > bestCorr {
			best, bestCorr = lag, c
		}
	}
	if best < 0 {
		e.agree = 0
		return false
	}
	if e.cand >= 0 && abs(best-e.cand) <= 1 {
		e.agree++
	} else {
		e.cand, e.agree = best, 1
	}
	need := 2
	if e.current >= 0 {
		need = 10
	}
	if e.agree >= need && (e.current < 0 || abs(e.cand-e.current) > 1) {
		e.current = e.cand
		return true
	}
	return false
}

// logEnergy is a block's energy in dB above one LSB².
func logEnergy(b []int16) float64 {
	var s float64
	for _, v := range b {
		f := float64(v)
		s += f * f
	}
	return 10 * math.Log10(s/float64(len(b))+1)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
