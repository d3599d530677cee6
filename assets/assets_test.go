package assets

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// goertzel returns the power of frequency freq (Hz) in samples taken at rate.
func goertzel(samples []int16, rate int, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// dominant returns the frequency between lo and hi (Hz, in steps of step)
// with the most power in samples.
func dominant(samples []int16, lo, hi, step float64) float64 {
	best, bestPower := lo, -1.0
	for f := lo; f <= hi; f += step {
		if p := goertzel(samples, SampleRate, f); p > bestPower {
			best, bestPower = f, p
		}
	}
	return best
}

// audible returns samples without the silence PCM appended.
func audible(t *testing.T, s Sound, samples []int16) []int16 {
	t.Helper()
	n := len(samples) - int(s.Silence()*SampleRate/time.Second)
	if n <= 0 {
		t.Fatalf("%s: %d samples, no audible part", s, len(samples))
	}
	for i, x := range samples[n:] {
		if x != 0 {
			t.Fatalf("%s: appended silence has sample %d = %d", s, n+i, x)
		}
	}
	return samples[:n]
}

func TestSounds(t *testing.T) {
	tests := []struct {
		sound   Sound
		audible time.Duration
		cycle   time.Duration
	}{
		{Ringtone, 1200 * time.Millisecond, 2 * time.Second},
		{Ringback, time.Second, 5 * time.Second},
		{Busy, 500 * time.Millisecond, time.Second},
		{Hangup, 250 * time.Millisecond, 250 * time.Millisecond},
	}
	if len(tests) != len(Sounds()) {
		t.Fatalf("test covers %d sounds, Sounds() lists %d", len(tests), len(Sounds()))
	}
	for _, tt := range tests {
		t.Run(string(tt.sound), func(t *testing.T) {
			b, err := files.ReadFile(string(tt.sound) + ".wav")
			if err != nil {
				t.Fatal(err)
			}
			f, _, err := decodeWAV(b)
			if err != nil {
				t.Fatal(err)
			}
			if f.rate != 48000 || f.channels != 1 {
				t.Errorf("format = %d Hz, %d channels; want 48000 Hz mono", f.rate, f.channels)
			}
			samples, err := PCM(tt.sound)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(len(samples)) * time.Second / SampleRate; got != tt.cycle {
				t.Errorf("cycle = %v; want %v", got, tt.cycle)
			}
			a := audible(t, tt.sound, samples)
			if got := time.Duration(len(a)) * time.Second / SampleRate; got != tt.audible {
				t.Errorf("audible part = %v; want %v", got, tt.audible)
			}
			var peak int16
			for _, x := range a {
				peak = max(peak, x, -x)
			}
			if peak < 1000 {
				t.Errorf("peak = %d; the sound is (nearly) silent", peak)
			}
		})
	}
}

func TestTonesAre425Hz(t *testing.T) {
	for _, s := range []Sound{Ringback, Busy} {
		samples, err := PCM(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := dominant(audible(t, s, samples), 100, 2000, 1); math.Abs(got-425) > 5 {
			t.Errorf("%s: dominant frequency %v Hz; want 425 ± 5 Hz", s, got)
		}
	}
}

func TestRingtoneIsTwoTones(t *testing.T) {
	samples, err := PCM(Ringtone)
	if err != nil {
		t.Fatal(err)
	}
	a := audible(t, Ringtone, samples)
	note := SampleRate / 5 // 0.2 s per note
	for i, want := range []float64{784, 659, 784, 659, 784, 659} {
		got := dominant(a[i*note:(i+1)*note], 300, 1200, 1)
		if math.Abs(got-want) > 5 {
			t.Errorf("note %d: dominant frequency %v Hz; want %v ± 5 Hz", i, got, want)
		}
	}
}

func TestHangupFalls(t *testing.T) {
	samples, err := PCM(Hangup)
	if err != nil {
		t.Fatal(err)
	}
	n := len(samples) / 4
	first := dominant(samples[:n], 300, 1200, 1)
	last := dominant(samples[3*n:], 300, 1200, 1)
	if !(first > 750 && last < 550) {
		t.Errorf("dominant frequency %v Hz in the first quarter, %v Hz in the last; want a fall from ~880 to ~440 Hz",
			first, last)
	}
}

func TestPCMUnknownSound(t *testing.T) {
	if _, err := PCM("doorbell"); err == nil || !strings.Contains(err.Error(), `no sound "doorbell"`) {
		t.Errorf("PCM(doorbell) error = %v; want no sound", err)
	}
}

// wav builds a WAV file from chunks given as id, body pairs.
func wav(chunks ...any) []byte {
	var body bytes.Buffer
	body.WriteString("WAVE")
	for i := 0; i < len(chunks); i += 2 {
		id, data := chunks[i].(string), chunks[i+1].([]byte)
		body.WriteString(id)
		_ = binary.Write(&body, binary.LittleEndian, uint32(len(data)))
		body.Write(data)
		if len(data)%2 == 1 {
			body.WriteByte(0)
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(body.Len()))
	b.Write(body.Bytes())
	return b.Bytes()
}

func fmtChunk(tag uint16, channels uint16, rate uint32, bits uint16) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&b, le, tag)
	_ = binary.Write(&b, le, channels)
	_ = binary.Write(&b, le, rate)
	_ = binary.Write(&b, le, rate*uint32(channels)*uint32(bits/8))
	_ = binary.Write(&b, le, channels*bits/8)
	_ = binary.Write(&b, le, bits)
	return b.Bytes()
}

func extensibleFmt(sub uint16) []byte {
	b := fmtChunk(wavExtensible, 1, 48000, 16)
	var ext bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&ext, le, uint16(22)) // cbSize
	_ = binary.Write(&ext, le, uint16(16)) // valid bits
	_ = binary.Write(&ext, le, uint32(4))  // channel mask: front centre
	_ = binary.Write(&ext, le, sub)        // sub-format GUID, first two bytes
	ext.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	return append(b, ext.Bytes()...)
}

func TestDecodeWAV(t *testing.T) {
	pcm := fmtChunk(wavPCM, 1, 48000, 16)
	data := []byte{0x01, 0x00, 0xFF, 0xFF, 0x00, 0x80}
	tests := []struct {
		name    string
		file    []byte
		want    []int16
		wantErr string
	}{
		{"plain", wav("fmt ", pcm, "data", data), []int16{1, -1, -32768}, ""},
		{"odd chunk before data is skipped with its pad byte", wav("fmt ", pcm, "LIST", []byte("abc"), "data", data),
			[]int16{1, -1, -32768}, ""},
		{"extensible PCM", wav("fmt ", extensibleFmt(wavPCM), "data", data), []int16{1, -1, -32768}, ""},
		{"extensible float", wav("fmt ", extensibleFmt(3), "data", data), nil, "not integer PCM"},
		{"float", wav("fmt ", fmtChunk(3, 1, 48000, 32), "data", data), nil, "not integer PCM"},
		{"8-bit", wav("fmt ", fmtChunk(wavPCM, 1, 48000, 8), "data", data), nil, "8 bits per sample"},
		{"no fmt", wav("data", data), nil, "data chunk before the fmt chunk"},
		{"no data", wav("fmt ", pcm), nil, "no data chunk"},
		{"half frame", wav("fmt ", fmtChunk(wavPCM, 2, 48000, 16), "data", data), nil, "not whole frames"},
		{"truncated", wav("fmt ", pcm, "data", data)[:47], nil, "runs past the end"},
		{"not RIFF", []byte("OggS...."), nil, "not a RIFF WAVE file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := decodeWAV(tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("samples = %v; want %v", got, tt.want)
			}
		})
	}
}
