package audiotest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
)

func TestDominantFrequency(t *testing.T) {
	for _, tc := range []struct {
		hz  float64
		n   int
		tol float64
		amp float64
	}{
		{440, audiotest.SampleRate, 0.1, 0.5},
		{661.3, audiotest.SampleRate, 0.1, 0.1},
		{50, audiotest.SampleRate, 0.1, 0.5},
		{15000, audiotest.SampleRate, 0.1, 0.5},
		{440, 960, 2, 0.5},  // a single 20 ms frame
		{1000, 960, 2, 0.5}, // likewise
	} {
		got := audiotest.DominantFrequency(audiotest.Tone(tc.hz, tc.amp, tc.n))
		if math.Abs(got-tc.hz) > tc.tol {
			t.Errorf("%v Hz over %d samples: got %.3f, want ± %v", tc.hz, tc.n, got, tc.tol)
		}
	}
	if got := audiotest.DominantFrequency(make([]int16, 480)); got != 0 {
		t.Errorf("silence: got %v Hz, want 0", got)
	}
}

// TestFFT: a sine that fits 3 periods in 16 points has all its energy in
// bins 3 and 13 (n/2 each, opposite phases); the inverse gives it back
// times n.
func TestFFT(t *testing.T) {
	const n = 16
	x := make([]complex128, n)
	for i := range x {
		x[i] = complex(math.Sin(2*math.Pi*3*float64(i)/n), 0)
	}
	orig := slices.Clone(x)
	audiotest.FFT(x, false)
	for k, v := range x {
		want := complex(0, 0)
		switch k {
		case 3:
			want = complex(0, -n/2)
		case n - 3:
			want = complex(0, n/2)
		}
		if cmplx.Abs(v-want) > 1e-9 {
			t.Errorf("bin %d = %.6f, want %v", k, v, want)
		}
	}
	audiotest.FFT(x, true)
	for i, v := range x {
		if cmplx.Abs(v-n*orig[i]) > 1e-9 {
			t.Errorf("inverse: x[%d] = %.6f, want %.6f", i, v, n*orig[i])
		}
	}
}

func TestToneSNR(t *testing.T) {
	clean := audiotest.Tone(440, 0.5, audiotest.SampleRate)
	if snr := audiotest.ToneSNR(clean, 440); snr < 80 {
		t.Errorf("clean tone: SNR %.1f dB, want >= 80", snr)
	}
	// Add white noise 20 dB below the tone's power.
	rng := rand.New(rand.NewPCG(1, 1))
	noisy := slices.Clone(clean)
	sigma := 0.5 / math.Sqrt2 * math.Pow(10, -20.0/20) * 32768
	for i := range noisy {
		noisy[i] += int16(rng.NormFloat64() * sigma)
	}
	if snr := audiotest.ToneSNR(noisy, 440); math.Abs(snr-20) > 1 {
		t.Errorf("tone + noise at -20 dB: SNR %.2f dB, want 20 ± 1", snr)
	}
	if snr := audiotest.ToneSNR(clean, 1000); snr > -40 {
		t.Errorf("SNR at the wrong frequency = %.1f dB, want < -40", snr)
	}
}

func TestGoertzel(t *testing.T) {
	x := audiotest.Tone(1000, 0.25, audiotest.SampleRate)
	if a := audiotest.Goertzel(x, 1000); math.Abs(a-0.25) > 0.005 {
		t.Errorf("amplitude at 1000 Hz = %.4f, want 0.25", a)
	}
	if a := audiotest.Goertzel(x, 1500); a > 0.001 {
		t.Errorf("amplitude at 1500 Hz = %.4f, want ~0", a)
	}
}

func TestSpeech(t *testing.T) {
	a := audiotest.Speech(7, 5*time.Second)
	if !slices.Equal(a, audiotest.Speech(7, 5*time.Second)) {
		t.Fatal("same seed gave different signals")
	}
	if len(a) != 5*audiotest.SampleRate {
		t.Fatalf("len %d, want %d", len(a), 5*audiotest.SampleRate)
	}
	if p := audiotest.Peak(a); p > 0.75 || p < 0.2 {
		t.Errorf("peak %.2f, want 0.2..0.75", p)
	}
	env := audiotest.Envelope(a)
	quiet := 0
	for _, v := range env {
		if v < 0.001 {
			quiet++
		}
	}
	// Syllables and pauses: a fair share of windows is silent, most not.
	if share := float64(quiet) / float64(len(env)); share < 0.1 || share > 0.6 {
		t.Errorf("%.0f%% of 10 ms windows are silent, want 10..60%%", 100*share)
	}
	// A different seed has a different rhythm.
	c, _ := audiotest.Correlate(env, audiotest.Envelope(audiotest.Speech(8, 5*time.Second)), 0)
	if c > 0.5 {
		t.Errorf("envelopes of seeds 7 and 8 correlate at %.2f, want < 0.5", c)
	}
}

func TestCorrelateFindsDelay(t *testing.T) {
	x := audiotest.Speech(3, 4*time.Second)
	shift := 12 * audiotest.EnvelopeWindow // 120 ms
	y := append(make([]int16, shift), x[:len(x)-shift]...)
	// Attenuate and add noise: correlation is of shape, not level.
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range y {
		y[i] = y[i]/4 + int16(rng.NormFloat64()*30)
	}
	c, lag := audiotest.Correlate(audiotest.Envelope(x), audiotest.Envelope(y), 50)
	if lag != 12 || c < 0.95 {
		t.Errorf("Correlate = %.3f at lag %d, want >= 0.95 at 12", c, lag)
	}
	c, lag = audiotest.Correlate(audiotest.Envelope(y), audiotest.Envelope(x), 50)
	if lag != -12 || c < 0.95 {
		t.Errorf("reversed: Correlate = %.3f at lag %d, want >= 0.95 at -12", c, lag)
	}
}

func TestRecorderUnpaced(t *testing.T) {
	r := audiotest.NewRecorder(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error)
	go func() { done <- r.Wait(ctx, 3000) }()
	frame := audiotest.Tone(440, 0.5, 960)
	for range 4 {
		if err := r.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := r.Samples(); len(got) != 3840 || !slices.Equal(got[960:1920], frame) {
		t.Fatalf("recorded %d samples, want 3840 equal to what was written", len(got))
	}
	r.Close()
	if err := r.Write(frame); !errors.Is(err, audiotest.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := r.Wait(ctx, 10000); !errors.Is(err, audiotest.ErrClosed) {
		t.Errorf("Wait for more than will come after Close = %v, want ErrClosed", err)
	}
}

func TestRecorderPaced(t *testing.T) {
	r := audiotest.NewRecorder(true)
	frame := make([]int16, 960)
	start := time.Now()
	for k := range 20 {
		if err := r.Write(frame); err != nil {
			t.Fatal(err)
		}
		if el, due := time.Since(start), time.Duration(k)*20*time.Millisecond+10*time.Millisecond; el < due {
			t.Fatalf("Write %d returned after %v, before %v", k, el, due)
		}
	}
}

func TestWAVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	in := audiotest.Tone(300, 0.3, 2000)
	if err := audiotest.WriteWAV(path, in, 22050, 2); err != nil {
		t.Fatal(err)
	}
	w, err := audiotest.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate != 22050 || w.Channels != 2 || !slices.Equal(w.Samples, in) {
		t.Errorf("read %d Hz %d ch %d samples, want 22050 Hz 2 ch %d equal samples", w.Rate, w.Channels, len(w.Samples),
			len(in))
	}
}

func ExampleDominantFrequency() {
	tone := audiotest.Tone(440, 0.5, audiotest.SampleRate) // 1 s
	fmt.Printf("%.1f Hz\n", audiotest.DominantFrequency(tone))
	// Output: 440.0 Hz
}

func ExampleCorrelate() {
	a := []float64{0, 1, 0, 0, 2, 0, 0, 1, 0, 0}
	b := []float64{0, 0, 0, 1, 0, 0, 2, 0, 0, 1} // a delayed by 2
	c, lag := audiotest.Correlate(a, b, 3)
	fmt.Printf("corr %.2f lag %d\n", c, lag)
	// Output: corr 1.00 lag 2
}

func ExampleEnvelope() {
	x := append(make([]int16, 480), audiotest.Tone(1000, 0.5, 960)...)
	for _, v := range audiotest.Envelope(x) {
		fmt.Printf("%.3f ", v)
	}
	fmt.Println()
	// Output: 0.000 0.354 0.354
}

func TestQuarterSNRs(t *testing.T) {
	tone := audiotest.Tone(440, 0.5, audiotest.SampleRate)
	mid := audiotest.SampleRate/2 + audiotest.SampleRate/8
	clear(tone[mid : mid+480]) // a 10 ms hole in the middle of the third quarter
	snrs := audiotest.QuarterSNRs(tone, 440)
	if len(snrs) != 4 || audiotest.CountBelow(snrs, 40) != 1 || snrs[2] >= 40 {
		t.Errorf("SNR per quarter %.1f, want one quarter (the third) under 40 dB", snrs)
	}
	if ok, got := audiotest.SteadyTone(tone, 440); !ok {
		t.Errorf("a tone with one hole: %s; want it steady", got)
	}
	clear(tone[audiotest.SampleRate/8 : audiotest.SampleRate/8+480]) // and another in the first quarter
	if ok, got := audiotest.SteadyTone(tone, 440); ok {
		t.Errorf("a tone with holes in two quarters of four: %s; want it not steady", got)
	}
	if ok, got := audiotest.SteadyTone(audiotest.Tone(450, 0.5, audiotest.SampleRate), 440); ok {
		t.Errorf("a tone at 450 Hz: %s; want it not a steady 440 Hz", got)
	}
	if m := audiotest.Median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("Median = %v, want 2.5", m)
	}
}
