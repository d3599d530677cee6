package audio

import (
	"math"
	"testing"
)

// TestExpanderContinuesATone: after a tone, the expansion continues it
// without a click, and fades by 1 dB per 10 ms.
func TestExpanderContinuesATone(t *testing.T) {
	var e expander
	frame := make([]int16, FrameSamples)
	ph := 0.0
	for range 5 {
		for i := range frame {
			frame[i] = int16(16000 * math.Sin(ph))
			ph += 2 * math.Pi * 440 / SampleRate
		}
		e.note(frame, true, false)
	}
	last := frame[len(frame)-1]
	gap := make([]int16, 3*FrameSamples)
	if !e.fill(gap) {
		t.Fatal("a tone was not expanded")
	}
	if step := math.Abs(float64(gap[0]) - float64(last)); step > 1000 {
		t.Errorf("step of %.0f into the expansion (period %d)", step, e.period)
	}
	for i := 1; i < len(gap); i++ {
		if step := math.Abs(float64(gap[i]) - float64(gap[i-1])); step > 1000 {
			t.Fatalf("step of %.0f at %d of the expansion (period %d)", step, i, e.period)
		}
	}
	rms := func(s []int16) float64 {
		sum := 0.0
		for _, v := range s {
			sum += float64(v) * float64(v)
		}
		return math.Sqrt(sum / float64(len(s)))
	}
	drop := 20 * math.Log10(rms(gap[:480])/rms(gap[len(gap)-480:]))
	if drop < 4 || drop > 6 {
		t.Errorf("faded %.1f dB over 50 ms, want about 5", drop)
	}
}

// TestExpanderLeavesNoise: noise is not periodic, so the decoder's
// concealment stays.
func TestExpanderLeavesNoise(t *testing.T) {
	var e expander
	frame := make([]int16, FrameSamples)
	x := uint32(1)
	for range 5 {
		for i := range frame {
			x = x*1664525 + 1013904223
			frame[i] = int16(x >> 16)
		}
		e.note(frame, true, false)
	}
	if e.fill(make([]int16, FrameSamples)) {
		t.Error("noise was expanded")
	}
}

// TestExpanderCutsWherePeriodsRepeat: to shrink the delay in a tone (a
// 220 Hz vowel's pitch), the cut skips whole periods, between half a frame
// and a frame, so that the audio after the cut, cross-faded in, continues
// the waveform without a click; in noise there is nothing to match, and
// the whole frame is dropped.
func TestExpanderCutsWherePeriodsRepeat(t *testing.T) {
	var e expander
	frame := make([]int16, FrameSamples)
	ph := 0.0
	tone := func() {
		for i := range frame {
			frame[i] = int16(16000 * math.Sin(ph))
			ph += 2 * math.Pi * 220 / SampleRate
		}
	}
	for range 5 {
		tone()
		e.note(frame, true, false)
	}
	tone() // the frame to shorten
	cut := e.cut(frame)
	period := float64(SampleRate) / 220
	periods := float64(cut) / period
	t.Logf("cut %d samples: %.2f periods of %.1f", cut, periods, period)
	if cut < FrameSamples/2 || cut >= FrameSamples {
		t.Fatalf("cut %d samples, want [%d, %d)", cut, FrameSamples/2, FrameSamples)
	}
	if off := math.Abs(periods - math.Round(periods)); off > 0.02 {
		t.Errorf("cut %.2f periods, want whole ones", periods)
	}
	if a := testing.AllocsPerRun(10, func() { e.cut(frame) }); a != 0 {
		t.Errorf("cut allocates %.0f times; the jitter buffer's Pop must not", a)
	}
	last := e.hist[expHistory-1]
	e.drop(frame)
	rest := append([]int16(nil), frame[cut:]...)
	e.note(rest, true, false)
	if step := math.Abs(float64(rest[0]) - float64(last)); step > 1000 {
		t.Errorf("step of %.0f at the cut", step)
	}

	var n expander
	x := uint32(1)
	for range 6 {
		for i := range frame {
			x = x*1664525 + 1013904223
			frame[i] = int16(x >> 16)
		}
		if n.filled < expHistory {
			n.note(frame, true, false)
		}
	}
	if c := n.cut(frame); c != FrameSamples {
		t.Errorf("noise cut at %d, want the whole frame (%d)", c, FrameSamples)
	}
}
