package bench

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
)

// TestDelays: chirps delayed by a known amount, through Opus and with
// noise and a gain change, are found at that delay to the sample.
func TestDelays(t *testing.T) {
	ref := Chirps(7, 6*time.Second)
	for _, want := range []time.Duration{0, 123400 * time.Microsecond, 480 * time.Millisecond} {
		shift := int(want * SampleRate / time.Second)
		out := make([]int16, len(ref))
		copy(out[shift:], ref)
		out = opusRoundTrip(t, out)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range out {
			out[i] = int16(float64(out[i])*0.6 + rng.NormFloat64()*100)
		}
		found, missed := Delays(ref, out, 600*time.Millisecond)
		if len(found) < 9 || len(missed) > 0 {
			t.Fatalf("delay %v: %d chirps found, %d missed; want 9 or more and none missed", want, len(found),
				len(missed))
		}
		for _, ev := range found {
			// Opus delays its output by 6.5 ms (its look-ahead).
			if d := ev.Delay - want - 6500*time.Microsecond; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("delay %v: chirp at %v found %v later (score %.2f)", want, ev.At, ev.Delay, ev.Score)
			}
		}
		t.Logf("delay %v: %d chirps, median found %v, lowest score %.2f", want, len(found), NewDist(delays(found)).P50,
			minScoreOf(found))
	}
}

func delays(evs []Event) []time.Duration {
	var ds []time.Duration
	for _, e := range evs {
		ds = append(ds, e.Delay)
	}
	return ds
}

func minScoreOf(evs []Event) float64 {
	m := 1.0
	for _, e := range evs {
		m = min(m, e.Score)
	}
	return m
}

func opusRoundTrip(t *testing.T, pcm []int16) []int16 {
	t.Helper()
	enc, err := audio.NewEncoder(audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := audio.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, 0, len(pcm))
	pkt := make([]byte, audio.MaxPacketSize)
	frame := make([]int16, audio.MaxFrameSamples)
	for off := 0; off+audio.FrameSamples <= len(pcm); off += audio.FrameSamples {
		n, err := enc.Encode(pcm[off:off+audio.FrameSamples], pkt)
		if err != nil {
			t.Fatal(err)
		}
		m, err := dec.Decode(pkt[:n], frame)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame[:m]...)
	}
	return append(out, make([]int16, len(pcm)-len(out))...)
}

// msList returns milliseconds as durations.
func msList(v ...int) []time.Duration {
	var ds []time.Duration
	for _, x := range v {
		ds = append(ds, time.Duration(x)*time.Millisecond)
	}
	return ds
}

func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{msList(5), 99, 5 * time.Millisecond},
		{msList(1, 2, 3, 4), 50, 2500 * time.Microsecond},
		{msList(4, 3, 2, 1, 100), 100, 100 * time.Millisecond},
		{msList(10, 20), 95, 19500 * time.Microsecond},
	} {
		if got := Percentile(c.in, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

// TestProcessingDelay: the microphone's processing gives chirps back one
// block late (speexdsp's preprocessor works on overlapping windows), and
// WebRTC's echo canceller, the default, 8 ms later still: 28 ms at 20 ms
// frames, 13 ms at 10 ms frames, which run in 5 ms blocks.
func TestProcessingDelay(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{audio.FrameSamples, 28 * time.Millisecond}, {audio.FrameSamples / 2, 13 * time.Millisecond}} {
		d, err := ProcessingDelay(c.n)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("frames of %d samples: processing delays the microphone by %v", c.n, d)
		if d < c.want-250*time.Microsecond || d > c.want+250*time.Microsecond {
			t.Errorf("frames of %d samples: processing delay %v, want %v ± 0.25 ms", c.n, d, c.want)
		}
	}
}
