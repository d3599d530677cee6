package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestStreamShift: the callback's lag tracking measures how far an xrun
// moved a stream's timing, from its timestamps, and nothing else: not the
// jitter of the sound server's latency reports, nor their slow drift, nor
// an xrun before it has timestamps to compare with.
func TestStreamShift(t *testing.T) {
	const (
		frames = paBufferSamples // 5 ms callbacks
		period = float64(frames) / SampleRate
	)
	const (
		paInputOverflow   = 2 // PortAudio's status flags
		paOutputUnderflow = 4
	)
	// stamps returns n callbacks' device times from start, each with ±2 ms
	// of jitter and drift (seconds per second) added, the times after
	// callback jumpAt moved by jump seconds, and xrun flagged on the
	// callbacks listed.
	stamps := func(n int, drift float64, jumpAt int, jump float64, flag uint64, xruns ...int) ([]float64, []uint64) {
		rng := rand.New(rand.NewPCG(1, 2))
		times, flags := make([]float64, n), make([]uint64, n)
		start := 1.8e9 // the wall clock PortAudio's ALSA host reports
		for i := range n {
			at := float64(i) * period
			times[i] = start + at*(1+drift) + (rng.Float64()*2-1)*0.002
			if jumpAt >= 0 && i >= jumpAt {
				times[i] += jump
			}
		}
		for _, i := range xruns {
			flags[i] = flag
		}
		return times, flags
	}
	ms := func(samples int64) float64 { return float64(samples) * 1000 / SampleRate }
	cases := []struct {
		name  string
		input bool
		drift float64
		jump  float64 // seconds, from callback 200
		xruns []int
		want  float64 // ms
	}{
		{"steady playback", false, 0, 0, nil, 0},
		{"drifting latency reports, no xrun", false, 0.001, 0, nil, 0},
		{"playback restarted 40 ms later", false, 0, 0.040, []int{200}, 40},
		{"playback restarted in a burst of xruns", false, 0, 0.120, []int{200, 201, 203, 206}, 120},
		{"playback restarted sooner", false, 0, -0.015, []int{200}, -15},
		{"capture restarted 30 ms later", true, 0, 0.030, []int{200}, 30},
		{"an xrun that moves nothing", false, 0, 0, []int{200}, 0},
		{"an xrun before timestamps to compare", false, 0, 0.050, []int{2}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flag := uint64(paOutputUnderflow)
			if c.input {
				flag = paInputOverflow
			}
			jumpAt := 200
			if len(c.xruns) > 0 {
				jumpAt = c.xruns[0]
			}
			if c.jump == 0 {
				jumpAt = -1
			}
			times, flags := stamps(400, c.drift, jumpAt, c.jump, flag, c.xruns...)
			got := ms(simulateShift(c.input, times, flags, frames))
			t.Logf("shift %.2f ms", got)
			// The median of 16 lags with ±2 ms of jitter is good to about
			// 1 ms each side.
			if math.Abs(got-c.want) > 1.5 {
				t.Errorf("shift %.2f ms, want %.0f ± 1.5", got, c.want)
			}
		})
	}
}
