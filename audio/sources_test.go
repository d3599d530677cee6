package audio_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// readPaced reads n frames and checks that frame k (from 1) is not
// returned before k frames of audio are due after the first Read began: a
// paced source is never early. Lateness is only bounded loosely (overall),
// as a loaded 2-core machine may delay any wake-up.
func readPaced(t *testing.T, src audio.Source, n int) []int16 {
	t.Helper()
	frame := make([]int16, audio.FrameSamples)
	var out []int16
	start := time.Now()
	for k := 1; k <= n; k++ {
		if err := src.Read(frame); err != nil {
			t.Fatalf("Read %d: %v", k, err)
		}
		if el, due := time.Since(start), time.Duration(k)*audio.FrameDuration; el < due {
			t.Fatalf("frame %d returned after %v, before it was due at %v", k, el, due)
		}
		out = append(out, frame...)
	}
	total := time.Duration(n) * audio.FrameDuration
	if el := time.Since(start); el > total+300*time.Millisecond {
		t.Errorf("%d frames took %v, want about %v", n, el, total)
	}
	return out
}

func TestToneSource(t *testing.T) {
	src := audio.NewTone(440, 0.5, audio.FrameSamples)
	defer src.Close()
	pcm := readPaced(t, src, 50) // 1 s
	if f := audiotest.DominantFrequency(pcm); math.Abs(f-440) > 0.5 {
		t.Errorf("dominant frequency %.2f Hz, want 440 ± 0.5", f)
	}
	if p := audiotest.Peak(pcm); math.Abs(p-0.5) > 0.001 {
		t.Errorf("peak %.4f, want 0.5", p)
	}
	if snr := audiotest.ToneSNR(pcm, 440); snr < 80 {
		t.Errorf("SNR %.1f dB, want >= 80 (phase continuous across frames)", snr)
	}
}

func TestSilenceSourceAndClose(t *testing.T) {
	src := audio.NewSilence(0)
	frame := make([]int16, audio.FrameSamples)
	frame[0] = 5
	if err := src.Read(frame); err != nil || frame[0] != 0 {
		t.Fatalf("Read = %v, sample %d; want silence", err, frame[0])
	}
	done := make(chan error)
	go func() {
		for {
			if err := src.Read(frame); err != nil {
				done <- err
				return
			}
		}
	}()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, audio.ErrClosed) {
			t.Errorf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Read did not return after Close")
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestNullSinkPacing(t *testing.T) {
	sink := audio.NewNullSink()
	defer sink.Close()
	frame := make([]int16, audio.FrameSamples)
	start := time.Now()
	for k := range 25 {
		if err := sink.Write(frame); err != nil {
			t.Fatal(err)
		}
		// Write k (from 0) queues its frame and returns once at most half
		// a frame is still queued: never before k+1/2 frames have played.
		if el, due := time.Since(start), time.Duration(k)*audio.FrameDuration+audio.FrameDuration/2; el < due {
			t.Fatalf("Write %d returned after %v, before %v", k, el, due)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(frame); !errors.Is(err, audio.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestWAVSinkRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	sink, err := audio.CreateWAVSink(path)
	if err != nil {
		t.Fatal(err)
	}
	in := audiotest.Tone(440, 0.5, 60*audio.FrameSamples) // 1.2 s
	for i := 0; i < len(in); i += audio.FrameSamples {
		if err := sink.Write(in[i : i+audio.FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	// While the sink is open the header already covers at least a second.
	live, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	riff, data := le32(live[4:]), le32(live[40:])
	if data < audio.SampleRate*2 || int(data) > len(live)-44 || riff != data+36 {
		t.Errorf("live header: RIFF %d, data %d, file %d bytes; want data >= 1 s and consistent", riff, data, len(live))
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := audiotest.ReadWAV(path) // strict: sizes must match the file
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate != audio.SampleRate || w.Channels != 1 || len(w.Samples) != len(in) {
		t.Fatalf("read back %d Hz, %d ch, %d samples; want 48000, 1, %d", w.Rate, w.Channels, len(w.Samples), len(in))
	}
	for i := range in {
		if w.Samples[i] != in[i] {
			t.Fatalf("sample %d = %d, want %d", i, w.Samples[i], in[i])
		}
	}

	// And back in through a WAV source: the file, then silence.
	src, err := audio.OpenWAVSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frame := make([]int16, audio.FrameSamples)
	for k := range 61 {
		if err := src.Read(frame); err != nil {
			t.Fatal(err)
		}
		if k == 30 && !equalSamples(frame, in[30*audio.FrameSamples:31*audio.FrameSamples]) {
			t.Fatal("frame 30 from the WAV source differs from what was written")
		}
	}
	if audiotest.Peak(frame) != 0 {
		t.Error("WAV source is not silent after the end of the file")
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func equalSamples(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenWAVSourceErrors(t *testing.T) {
	if _, err := audio.OpenWAVSource(filepath.Join(t.TempDir(), "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(bad, []byte("not a wav file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audio.OpenWAVSource(bad); err == nil {
		t.Error("garbage file opened")
	}
}

func TestLevel(t *testing.T) {
	square := func(amp float64) []int16 {
		f := make([]int16, audio.FrameSamples)
		for i := range f {
			f[i] = int16(amp * 32768)
			if i%2 == 1 {
				f[i] = -f[i]
			}
		}
		return f
	}
	for _, tc := range []struct {
		name  string
		frame []int16
		want  float64
	}{
		{"empty", nil, 0},
		{"silence", make([]int16, audio.FrameSamples), 0},
		{"-70 dBFS", square(math.Pow(10, -70.0/20)), 0},
		{"-60 dBFS", square(math.Pow(10, -60.0/20)), 0},
		{"-30 dBFS", square(math.Pow(10, -30.0/20)), 0.5},
		{"-6 dBFS", square(0.5), 0.9},
		{"sine at half scale (-9.03 dBFS)", audiotest.Tone(1000, 0.5, audio.FrameSamples), 0.8495},
		{"0 dBFS", square(32767.0 / 32768), 1},
	} {
		if got := audio.Level(tc.frame); math.Abs(got-tc.want) > 0.005 {
			t.Errorf("%s: Level = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
}

func BenchmarkLevel(b *testing.B) {
	frame := audiotest.Speech(1, time.Second)[:audio.FrameSamples]
	b.ReportAllocs()
	for b.Loop() {
		audio.Level(frame)
	}
}

func TestSpecs(t *testing.T) {
	dir := t.TempDir()
	wav := filepath.Join(dir, "in.wav")
	if err := audiotest.WriteWAV(wav, audiotest.Tone(440, 0.5, 4800), 48000, 1); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"tone:440", "tone:1000.5", "silence", "file:" + wav} {
		src, err := audio.OpenSource(nil, spec, 0)
		if err != nil {
			t.Errorf("OpenSource(%q) = %v", spec, err)
			continue
		}
		src.Close()
	}
	for _, spec := range []string{"null", "file:" + filepath.Join(dir, "out.wav")} {
		sink, err := audio.OpenSink(nil, spec, 0)
		if err != nil {
			t.Errorf("OpenSink(%q) = %v", spec, err)
			continue
		}
		sink.Close()
	}
	for _, tc := range []struct {
		spec string
		sink bool
		want error
	}{
		{"tone:", false, audio.ErrBadSpec},
		{"tone:abc", false, audio.ErrBadSpec},
		{"tone:30000", false, audio.ErrBadSpec},
		{"tone:-5", false, audio.ErrBadSpec},
		{"file:", false, audio.ErrBadSpec},
		{"null", false, audio.ErrBadSpec},
		{"file:", true, audio.ErrBadSpec},
		{"silence", true, audio.ErrBadSpec},
		{"tone:440", true, audio.ErrBadSpec},
		{"default", false, audio.ErrNoSystem},
		{"", false, audio.ErrNoSystem},
		{"USB Headset", false, audio.ErrNoSystem},
		{"2", true, audio.ErrNoSystem},
		{"file:" + filepath.Join(dir, "missing.wav"), false, os.ErrNotExist},
	} {
		var err error
		if tc.sink {
			_, err = audio.OpenSink(nil, tc.spec, 0)
		} else {
			_, err = audio.OpenSource(nil, tc.spec, 0)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("spec %q (sink %v): err = %v, want %v", tc.spec, tc.sink, err, tc.want)
		}
	}
	_, err := audio.OpenSource(nil, "tone:x", 0)
	if want := audio.SourceSpecHelp; err == nil || !contains(err.Error(), want) {
		t.Errorf("bad spec error %q does not say what is accepted (%q)", err, want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
