package audiotest

import (
	"math"
	"math/rand/v2"
)

// DriftPath is an echo path whose delay may move: what the speaker played
// (Played, appended to as it plays) reaches the microphone Delay(i)
// samples later (fractional) at the microphone's sample i, at Gain, over a
// little noise. A delay that moves is two clocks: the microphone and the
// speaker on different devices (a USB microphone beside the laptop's
// speakers, a Bluetooth headset's speaker and the laptop's microphone), or
// a sound server's loopback that adapts its rate (PulseAudio's
// module-loopback with adjust_time). The speaker's signal is resampled at
// each delay with a windowed sinc, so that the echo is what a resampler
// makes of it.
type DriftPath struct {
	Played []int16
	Delay  func(i int) float64
	Gain   float64
	rng    *rand.Rand
}

// NewDriftPath returns a path of delay at gain whose noise comes from seed.
func NewDriftPath(delay func(i int) float64, gain float64, seed uint64) *DriftPath {
	return &DriftPath{Delay: delay, Gain: gain, rng: rand.New(rand.NewPCG(seed, seed+1))}
}

// sincHalf is the interpolator's half length in samples.
const sincHalf = 16

// Mic fills dst with what the microphone hears from its sample at on.
func (r *DriftPath) Mic(at int, dst []int16) {
	for i := range dst {
		v := 3 * r.rng.NormFloat64()
		q := float64(at+i) - r.Delay(at+i)
		base := int(math.Floor(q))
		frac := q - float64(base)
		var e float64
		for k := -sincHalf + 1; k <= sincHalf; k++ {
			j := base + k
			if j < 0 || j >= len(r.Played) {
				continue
			}
			x := float64(k) - frac
			w := 0.5 + 0.5*math.Cos(math.Pi*x/sincHalf) // Hann
			s := 1.0
			if x != 0 {
				s = math.Sin(math.Pi*x) / (math.Pi * x)
			}
			e += float64(r.Played[j]) * s * w
		}
		v += r.Gain * e
		dst[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
}

// EchoPath is a named echo delay over time: Delay(i) at the microphone's
// sample i, in samples.
type EchoPath struct {
	Name  string
	Delay func(i int) float64
	// JumpAt is the sample at which the delay jumps (0: it does not).
	JumpAt int
}

// EchoPaths are the echo paths parley's echo cancellers are measured on,
// 10 s long: 80 ms of delay on one clock, then on two clocks, then with
// the delay jumping by 40 ms 5 s in (an underrun nobody was told of), on
// one clock and on two.
func EchoPaths() []EchoPath {
	fs := float64(SampleRate)
	d0 := 0.080 * fs
	jump, at := 0.040*fs, 5*SampleRate
	jumping := func(drift float64) func(int) float64 {
		return func(i int) float64 {
			d := d0 + drift*float64(i)
			if i >= at {
				d += jump
			}
			return d
		}
	}
	return []EchoPath{
		// A laptop's own speaker and microphone.
		{Name: "one clock", Delay: func(int) float64 { return d0 }},
		// Two crystals 0.1 % apart: the delay grows by 1 ms a second.
		{Name: "clocks 0.1 % apart", Delay: func(i int) float64 { return d0 + 0.001*float64(i) }},
		// 0.5 % the other way: 5 ms a second shorter.
		{Name: "clocks 0.5 % apart", Delay: func(i int) float64 { return d0 + 0.25*fs - 0.005*float64(i) }},
		// A rate that adapts: the ratio wanders within ±0.3 % over 8 s, as
		// a loopback that keeps its latency does; the delay swings by
		// ±3.8 ms.
		{Name: "rate wandering ±0.3 %", Delay: func(i int) float64 {
			return d0 + 0.003*8*fs/(2*math.Pi)*math.Sin(2*math.Pi*float64(i)/(8*fs))
		}},
		{Name: "one clock, 40 ms jump", Delay: jumping(0), JumpAt: at},
		{Name: "clocks 0.1 % apart, 40 ms jump", Delay: jumping(0.001), JumpAt: at},
	}
}
