package audiotest

import (
	"math"
	"math/rand/v2"
	"time"
)

// Speech returns d of a deterministic speech-like signal: voiced syllables
// of irregular length (80 to 320 ms) separated by pauses (30 to 250 ms),
// each a glottal pulse train at a gliding pitch (90 to 220 Hz) shaped by two
// formant resonators plus a little breath noise, under a smooth attack and
// decay envelope. Peaks stay below about -3 dBFS. The same seed always gives
// the same signal, and different seeds give different syllable rhythms, which
// is what envelope correlation needs.
func Speech(seed uint64, d time.Duration) []int16 {
	n := int(d * SampleRate / time.Second)
	out := make([]int16, n)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

	buf := make([]float64, 0, SampleRate/2)
	pos := int(uniform(0.02, 0.1) * SampleRate)
	for pos < n {
		length := int(uniform(0.08, 0.32) * SampleRate)
		buf = syllable(buf[:0], length, rng, uniform)
		peak := 0.0
		for _, v := range buf {
			peak = max(peak, math.Abs(v))
		}
		gain := uniform(0.25, 0.7) * 32767 / max(peak, 1e-9)
		for i, v := range buf {
			if pos+i >= n {
				break
			}
			out[pos+i] = int16(math.Round(v * gain))
		}
		pos += length + int(uniform(0.03, 0.25)*SampleRate)
	}
	return out
}

func syllable(buf []float64, n int, rng *rand.Rand, uniform func(lo, hi float64) float64) []float64 {
	f0a, f0b := uniform(90, 220), uniform(90, 220)
	f1 := newResonator(uniform(300, 800), 80)
	f2 := newResonator(uniform(900, 2500), 120)
	phase := 0.0
	attack, release := n/8, n/4
	for i := range n {
		f0 := f0a + (f0b-f0a)*float64(i)/float64(n)
		phase += f0 / SampleRate
		pulse := 0.0
		if phase >= 1 {
			phase--
			pulse = 1
		}
		x := pulse + 0.02*rng.NormFloat64()
		y := f1.step(x) + 0.6*f2.step(x)
		env := 1.0
		switch {
		case i < attack:
			env = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(attack))
		case i > n-release:
			env = 0.5 - 0.5*math.Cos(math.Pi*float64(n-i)/float64(release))
		}
		buf = append(buf, y*env)
	}
	return buf
}

// resonator is a two-pole band-pass filter.
type resonator struct{ a1, a2, g, y1, y2 float64 }

func newResonator(hz, bandwidth float64) *resonator {
	r := math.Exp(-math.Pi * bandwidth / SampleRate)
	return &resonator{
		a1: 2 * r * math.Cos(2*math.Pi*hz/SampleRate),
		a2: -r * r,
		g:  1 - r,
	}
}

func (r *resonator) step(x float64) float64 {
	y := r.g*x + r.a1*r.y1 + r.a2*r.y2
	r.y2, r.y1 = r.y1, y
	return y
}
