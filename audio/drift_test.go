package audio_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// driftRoom is an echo path on two clocks: what the speaker plays reaches
// the microphone after a delay that moves, as when the microphone and the
// speaker are different devices (a USB microphone beside the laptop's
// speakers, a Bluetooth headset's speaker and the laptop's microphone), or
// a sound server's loopback adapts its rate (PulseAudio's module-loopback
// with adjust_time). delay(i) is the echo's delay in samples, fractional,
// at the microphone's sample i; the speaker's signal is resampled there
// with a windowed sinc, so that the echo is what a resampler makes of it.
type driftRoom struct {
	played []int16
	delay  func(i int) float64
	gain   float64
	rng    *rand.Rand
}

// sincHalf is the interpolator's half length in samples.
const sincHalf = 16

func (r *driftRoom) mic(at int, dst []int16) {
	for i := range dst {
		v := 3 * r.rng.NormFloat64()
		q := float64(at+i) - r.delay(at+i)
		base := int(math.Floor(q))
		frac := q - float64(base)
		var e float64
		for k := -sincHalf + 1; k <= sincHalf; k++ {
			j := base + k
			if j < 0 || j >= len(r.played) {
				continue
			}
			x := float64(k) - frac
			w := 0.5 + 0.5*math.Cos(math.Pi*x/sincHalf) // Hann
			s := 1.0
			if x != 0 {
				s = math.Sin(math.Pi*x) / (math.Pi * x)
			}
			e += float64(r.played[j]) * s * w
		}
		v += r.gain * e
		dst[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
}

// runDrift plays far through room with nobody talking at the microphone, in
// 20 ms frames, and returns what the microphone heard and what the
// processor made of it.
func runDrift(t testing.TB, kind audio.Canceller, room *driftRoom, far []int16) (mic, out []int16) {
	n := audio.FrameSamples
	p, err := audio.NewProcessorWith(kind, n, 0, audio.ProcessorOptions{EchoCancellation: true,
		NoiseSuppression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	frame := make([]int16, n)
	for at := 0; at+n <= len(far); at += n {
		room.played = append(room.played, far[at:at+n]...)
		p.Playback(far[at : at+n])
		room.mic(at, frame)
		mic = append(mic, frame...)
		p.Process(frame)
		out = append(out, frame...)
	}
	return mic, out
}

// erle is how much less echo out carries than mic between from and to
// seconds.
func erle(mic, out []int16, from, to float64) float64 {
	return audiotest.DBFS(mic[sec(from):sec(to)]) - audiotest.DBFS(out[sec(from):sec(to)])
}

// perSecond lists the dB taken off in each second, for the log.
func perSecond(mic, out []int16) string {
	var v []string
	for s := 0; sec(float64(s+1)) <= len(mic); s++ {
		v = append(v, fmt.Sprintf("%.0f", erle(mic, out, float64(s), float64(s+1))))
	}
	return strings.Join(v, " ")
}

// driftPaths are the echo paths of TestProcessorDrift: 80 ms of delay,
// then the microphone's clock against the speaker's.
func driftPaths() []struct {
	name  string
	delay func(i int) float64
} {
	d0 := 80.0 * audio.SampleRate / 1000
	fs := float64(audio.SampleRate)
	return []struct {
		name  string
		delay func(i int) float64
	}{
		// One clock: a laptop's own speaker and microphone.
		{"one clock", func(int) float64 { return d0 }},
		// Two crystals 0.1 % apart: the delay grows by 1 ms a second.
		{"0.1% apart", func(i int) float64 { return d0 + 0.001*float64(i) }},
		// 0.5 % the other way: 5 ms a second shorter.
		{"0.5% apart", func(i int) float64 { return d0 + 250 - 0.005*float64(i) }},
		// A rate that adapts: the ratio wanders within ±0.3 % over 8 s, as
		// a loopback that keeps its latency does; the delay swings by
		// ±3.8 ms.
		{"±0.3% wandering", func(i int) float64 {
			return d0 + 0.003*8*fs/(2*math.Pi)*math.Sin(2*math.Pi*float64(i)/(8*fs))
		}},
	}
}

// TestProcessorDrift: the echo path drifts (the microphone and the speaker
// on clocks 0.1 % or 0.5 % apart, or a rate that wanders by ±0.3 %). With
// WebRTC's canceller the echo is 25 dB down from 2 s on, and from 4 to 9 s;
// speexdsp's is held to that on one clock only.
func TestProcessorDrift(t *testing.T) {
	far := audiotest.Speech(1, 10*time.Second)
	for _, kind := range audio.Cancellers() {
		for _, c := range driftPaths() {
			t.Run(string(kind)+"/"+c.name, func(t *testing.T) {
				room := &driftRoom{delay: c.delay, gain: 0.5, rng: rand.New(rand.NewPCG(21, 22))}
				mic, out := runDrift(t, kind, room, far)
				after2, mid := erle(mic, out, 2, 10), erle(mic, out, 4, 9)
				t.Logf("%s, %s: %.1f dB off from 2 s, %.1f dB from 4 to 9 s; per second: %s", kind, c.name, after2, mid,
					perSecond(mic, out))
				// speexdsp's filter cannot follow an echo that moves (it
				// takes 2 to 6 dB off): it is measured for the record.
				if (kind == audio.WebRTC || c.name == "one clock") && (after2 < 25 || mid < 25) {
					t.Errorf("echo reduced by %.1f dB from 2 s and %.1f dB from 4 to 9 s, want ≥ 25", after2, mid)
				}
			})
		}
	}
}

// TestProcessorDelayJump: 5 s into the call the echo path's delay jumps by
// 40 ms (the speaker underran and nobody told the canceller), on one clock
// and on clocks 0.1 % apart. Within a second WebRTC's canceller has the
// echo 25 dB down again.
func TestProcessorDelayJump(t *testing.T) {
	far := audiotest.Speech(1, 10*time.Second)
	d0 := 80.0 * audio.SampleRate / 1000
	jump := 40.0 * audio.SampleRate / 1000
	at := sec(5)
	for _, kind := range audio.Cancellers() {
		for _, c := range []struct {
			name  string
			drift float64
		}{{"one clock", 0}, {"0.1% apart", 0.001}} {
			t.Run(string(kind)+"/"+c.name, func(t *testing.T) {
				room := &driftRoom{gain: 0.5, rng: rand.New(rand.NewPCG(23, 24)), delay: func(i int) float64 {
					d := d0 + c.drift*float64(i)
					if i >= at {
						d += jump
					}
					return d
				}}
				mic, out := runDrift(t, kind, room, far)
				before, after := erle(mic, out, 2, 5), erle(mic, out, 6, 10)
				t.Logf("%s, %s: %.1f dB off before the jump, %.1f dB from 1 s after; per second: %s", kind, c.name,
					before, after, perSecond(mic, out))
				if kind == audio.Speex {
					return // measured for the record: it learns the path again in 2 s
				}
				if before < 25 {
					t.Errorf("echo reduced by %.1f dB before the jump, want ≥ 25", before)
				}
				if after < 25 {
					t.Errorf("echo reduced by %.1f dB from 1 s after the jump, want ≥ 25", after)
				}
			})
		}
	}
}
