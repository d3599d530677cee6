package audio

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
)

// TestDecodeWAVFormats feeds decodeWAV what sox writes in many encodings,
// rates and channel counts: each must come out as 0.5 s of a 440 Hz tone at
// about -9 dBFS (peak 0.5), 48 kHz mono.
func TestDecodeWAVFormats(t *testing.T) {
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox not installed")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string // sox output options
		dB   float64  // tolerance of the level
	}{
		{"48k mono s16", []string{"-r", "48000", "-c", "1", "-b", "16"}, 0.5},
		{"22050 mono s16 (espeak-ng rate)", []string{"-r", "22050", "-c", "1", "-b", "16"}, 0.5},
		{"44100 stereo s16", []string{"-r", "44100", "-c", "2", "-b", "16"}, 0.5},
		{"96k mono s24", []string{"-r", "96000", "-c", "1", "-b", "24"}, 0.5},
		{"16k mono s32", []string{"-r", "16000", "-c", "1", "-b", "32"}, 0.5},
		{"8k mono u8", []string{"-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"}, 1},
		{"8k mono mu-law", []string{"-r", "8000", "-c", "1", "-e", "mu-law"}, 1},
		{"8k mono a-law", []string{"-r", "8000", "-c", "1", "-e", "a-law"}, 1},
		{"48k stereo float32", []string{"-r", "48000", "-c", "2", "-e", "floating-point", "-b", "32"}, 0.5},
		{"32k mono float64", []string{"-r", "32000", "-c", "1", "-e", "floating-point", "-b", "64"}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.wav")
			args := append([]string{"-n"}, tc.args...)
			args = append(args, path, "synth", "0.5", "sine", "440", "vol", "0.5")
			if out, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v: %s", err, out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pcm, err := decodeWAV(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := len(pcm) - SampleRate/2; d < -5 || d > 5 {
				t.Errorf("got %d samples, want %d ± 5", len(pcm), SampleRate/2)
			}
			if f := audiotest.DominantFrequency(pcm); math.Abs(f-440) > 2 {
				t.Errorf("dominant frequency %.1f Hz, want 440 ± 2", f)
			}
			if lvl := audiotest.DBFS(pcm); math.Abs(lvl+9.03) > tc.dB {
				t.Errorf("level %.2f dBFS, want -9.03 ± %.1f", lvl, tc.dB)
			}
		})
	}
}

func TestDecodeWAVFromEspeak(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	path := filepath.Join(t.TempDir(), "hello.wav")
	if out, err := exec.Command("espeak-ng", "-w", path, "hello parley").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	// The same speech to stdout has a header with placeholder sizes.
	piped, err := exec.Command("espeak-ng", "--stdout", "hello parley").Output()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := (len(file) - 44) / 2 * SampleRate / 22050 // 22050 Hz mono 16-bit
	for name, b := range map[string][]byte{"file": file, "stdout": piped} {
		pcm, err := decodeWAV(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := len(pcm) - want; d < -2 || d > 2 {
			t.Errorf("%s: %d samples, want %d", name, len(pcm), want)
		}
		if lvl := audiotest.DBFS(pcm); lvl < -40 {
			t.Errorf("%s: speech at %.1f dBFS, want louder than -40", name, lvl)
		}
	}
}

func TestDecodeWAVRejects(t *testing.T) {
	good := make([]byte, 44+4)
	wavHeader(good, 4)
	for name, b := range map[string][]byte{
		"empty":   nil,
		"not wav": []byte("RIFF\x00\x00\x00\x00AVI LIST"),
		"no data": good[:36],
		"adpcm": func() []byte {
			b := append([]byte(nil), good...)
			b[20] = 2 // MS ADPCM
			return b
		}(),
	} {
		if _, err := decodeWAV(b); err == nil {
			t.Errorf("%s: decodeWAV succeeded, want an error", name)
		}
	}
}

func TestRing(t *testing.T) {
	q := newRing(4)
	if d := q.write([]int16{1, 2, 3}); d != 0 {
		t.Fatalf("dropped %d", d)
	}
	if d := q.write([]int16{4, 5, 6}); d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
	got := make([]int16, 5)
	n := q.read(got)
	if want := []int16{3, 4, 5, 6}; n != 4 || !equal(got[:n], want) {
		t.Fatalf("read %v, want %v", got[:n], want)
	}
	for i := range 10 {
		q.push(int16(i))
	}
	if v := q.pop(); v != 6 || q.len() != 3 {
		t.Fatalf("pop = %d with %d left, want 6 with 3", v, q.len())
	}
}

func equal(a, b []int16) bool {
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

func TestWakeWaitTimesOutAndCloses(t *testing.T) {
	wake, wfd, err := newWakePipe()
	if err != nil {
		t.Fatal(err)
	}
	st := &paStream{wake: wake, wfd: wfd}
	buf := make([]byte, 8)
	start := time.Now()
	if err := st.wait(50*time.Millisecond, buf); !errors.Is(err, ErrStalled) {
		t.Fatalf("wait on a silent stream = %v, want ErrStalled", err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("stall reported after %v, before the 50ms timeout", el)
	}
	done := make(chan error)
	go func() { done <- st.wait(time.Minute, buf) }()
	wake.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("wait across close = %v, want ErrClosed", err)
	}
	_ = closeFD(wfd)
}
