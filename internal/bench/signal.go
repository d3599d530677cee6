package bench

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
)

// SampleRate is the rate of every signal here, as everywhere in parley.
const SampleRate = audiotest.SampleRate

// Chirps returns d of silence with linear chirps at irregular intervals:
// each 50 to 90 ms long, sweeping up or down between a start of 400 to
// 1200 Hz and an end of 1500 to 3400 Hz, at 0.25 to 0.5 of full scale
// under a raised-cosine envelope, 250 to 600 ms apart (onset to onset).
// No two are alike and none repeats at a fixed period, so that a
// cross-correlation cannot lock on to the wrong one. The same seed gives
// the same signal.
func Chirps(seed uint64, d time.Duration) []int16 {
	n := int(d * SampleRate / time.Second)
	out := make([]int16, n)
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	for pos := int(u(0.1, 0.3) * SampleRate); ; pos += int(u(0.25, 0.6) * SampleRate) {
		length := int(u(0.05, 0.09) * SampleRate)
		if pos+length > n {
			return out
		}
		f0, f1 := u(400, 1200), u(1500, 3400)
		if rng.IntN(2) == 0 {
			f0, f1 = f1, f0
		}
		amp := u(0.25, 0.5) * 32767
		ramp := length / 5
		phase := 0.0
		for i := range length {
			f := f0 + (f1-f0)*float64(i)/float64(length)
			phase += 2 * math.Pi * f / SampleRate
			env := 1.0
			switch {
			case i < ramp:
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(ramp))
			case i >= length-ramp:
				env = 0.5 - 0.5*math.Cos(math.Pi*float64(length-1-i)/float64(ramp))
			}
			out[pos+i] = int16(math.Round(amp * env * math.Sin(phase)))
		}
	}
}

// Event is one sound found in the reference (A's microphone) and its delay
// to the copy in the other channel (B's speaker).
type Event struct {
	At    time.Duration // onset in the reference, from the recording's start
	Delay time.Duration // how much later it was played
	Score float64       // normalised cross-correlation at that delay, 0 to 1
}

// Analysis settings.
const (
	onsetFrame    = SampleRate / 1000 // 1 ms of samples
	onsetLevel    = 0.02 * 32768      // RMS of an active millisecond (-34 dBFS)
	onsetQuiet    = 100               // ms of quiet before an onset counts
	eventPre      = 5 * onsetFrame    // reference window: 5 ms before the onset
	eventLen      = 100 * onsetFrame  // ... to 95 ms after it
	minScore      = 0.5               // below, the event is missed (not found in B's speaker)
	defaultMaxLag = time.Second
)

// Delays finds each sound's onset in ref and where it recurs in out, up to
// maxLag (0: 1 s) later, by normalised cross-correlation of a 100 ms window
// around the onset with out. Events whose best match scores under 0.5 are
// returned as missed. ref and out are sample-aligned (the two channels of
// one recording).
func Delays(ref, out []int16, maxLag time.Duration) (found, missed []Event) {
	if maxLag <= 0 {
		maxLag = defaultMaxLag
	}
	lag := int(maxLag * SampleRate / time.Second)
	for _, on := range onsets(ref) {
		start := on - eventPre
		if start < 0 || start+eventLen+lag > len(out) || start+eventLen > len(ref) {
			continue
		}
		d, score := bestLag(ref[start:start+eventLen], out[start:start+eventLen+lag])
		ev := Event{At: samples(on), Delay: samples(d), Score: score}
		if score < minScore {
			missed = append(missed, ev)
			continue
		}
		found = append(found, ev)
	}
	return found, missed
}

func samples(n int) time.Duration { return time.Duration(n) * time.Second / SampleRate }

// onsets returns the sample index of each onset in x: the first active
// millisecond after at least 100 quiet ones.
func onsets(x []int16) []int {
	var on []int
	quiet := onsetQuiet
	for f := 0; (f+1)*onsetFrame <= len(x); f++ {
		var sum float64
		for _, v := range x[f*onsetFrame : (f+1)*onsetFrame] {
			sum += float64(v) * float64(v)
		}
		if math.Sqrt(sum/onsetFrame) < onsetLevel {
			quiet++
			continue
		}
		if quiet >= onsetQuiet {
			// Back up to the first sample over a tenth of the level.
			i := f * onsetFrame
			for i > (f-1)*onsetFrame && i > 0 && math.Abs(float64(x[i-1])) > onsetLevel/10 {
				i--
			}
			on = append(on, i)
		}
		quiet = 0
	}
	return on
}

// bestLag returns the lag of y (0 ≤ lag ≤ len(y)-len(x)) at which x
// matches best, and the normalised correlation there.
func bestLag(x, y []int16) (int, float64) {
	n := 1
	for n < len(y)+len(x) {
		n <<= 1
	}
	fx, fy := make([]complex128, n), make([]complex128, n)
	var ex float64
	for i, v := range x {
		fx[i] = complex(float64(v), 0)
		ex += float64(v) * float64(v)
	}
	for i, v := range y {
		fy[i] = complex(float64(v), 0)
	}
	audiotest.FFT(fx, false)
	audiotest.FFT(fy, false)
	for i := range fx {
		fy[i] *= cmplx.Conj(fx[i])
	}
	audiotest.FFT(fy, true) // fy[k] = Σ x[i] y[i+k] · n
	// Energy of each window of y, by prefix sums.
	prefix := make([]float64, len(y)+1)
	for i, v := range y {
		prefix[i+1] = prefix[i] + float64(v)*float64(v)
	}
	best, score := 0, math.Inf(-1)
	floor := ex * 1e-4 // a window of y this much quieter than x holds nothing
	for k := 0; k+len(x) <= len(y); k++ {
		ey := prefix[k+len(x)] - prefix[k]
		if ey < floor {
			continue
		}
		c := real(fy[k]) / float64(n) / math.Sqrt(ex*ey)
		if c > score {
			best, score = k, c
		}
	}
	if math.IsInf(score, -1) {
		return 0, 0
	}
	return best, score
}

// Percentile returns the p-th percentile (0 to 100) of ds, interpolating
// between the nearest ranks; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := p / 100 * float64(len(s)-1)
	i := int(r)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + time.Duration(float64(s[i+1]-s[i])*(r-float64(i)))
}

// Dist summarises a set of durations.
type Dist struct {
	N                  int
	Min, P50, P95, P99 time.Duration
	Max                time.Duration
	Values             []time.Duration // in the order measured
}

// NewDist summarises ds.
func NewDist(ds []time.Duration) Dist {
	d := Dist{N: len(ds), Values: ds}
	if len(ds) == 0 {
		return d
	}
	d.Min, d.Max = slices.Min(ds), slices.Max(ds)
	d.P50, d.P95, d.P99 = Percentile(ds, 50), Percentile(ds, 95), Percentile(ds, 99)
	return d
}
