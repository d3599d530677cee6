package audio_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/audio/oggopus"
	"github.com/parley-voice/parley/internal/audiotest"
)

// TestVoiceRoundTrip: 1.5 s of a 600 Hz tone encoded as a voice message
// (Ogg Opus) lasts 1.5 s by its granule positions, decodes to 1.5 s of
// 600 Hz at the level it had, and survives a WAV file; the limit cuts a
// longer recording.
func TestVoiceRoundTrip(t *testing.T) {
	in := audiotest.Tone(600, 0.5, 3*audio.SampleRate/2)
	ogg, err := audio.EncodeVoice(in, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st, err := oggopus.Read(ogg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Duration != 1500*time.Millisecond || len(st.Packets) != 75+4 || st.Channels != 1 || st.PreSkip != 3840 {
		t.Errorf("stream: %v in %d packets, %d channels, pre-skip %d; want 1.5s in 79 (4 of pre-skip), 1, 3840",
			st.Duration, len(st.Packets), st.Channels, st.PreSkip)
	}
	pcm, err := audio.DecodeVoice(ogg)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != len(in) {
		t.Errorf("decoded %d samples, want %d", len(pcm), len(in))
	}
	path := filepath.Join(t.TempDir(), "m.wav")
	if err := audio.WriteWAV(path, pcm); err != nil {
		t.Fatal(err)
	}
	back, err := audio.ReadWAV(path)
	if err != nil || len(back) != len(pcm) {
		t.Fatalf("read back %d samples (%v), want %d", len(back), err, len(pcm))
	}
	steady := back[audio.SampleRate/10:]
	if got := audiotest.DominantFrequency(steady); math.Abs(got-600) > 2 {
		t.Errorf("decoded tone at %.1f Hz, want 600", got)
	}
	if d := audiotest.DBFS(steady) - audiotest.DBFS(in); math.Abs(d) > 1.5 {
		t.Errorf("decoded level %.1f dB off the input's", d)
	}

	cut, err := audio.EncodeVoice(in, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := oggopus.Read(cut); err != nil || st.Duration != time.Second {
		t.Errorf("limited to 1s: %v (%v)", st.Duration, err)
	}
	if _, err := oggopus.Read([]byte("RIFF....WAVE")); err == nil {
		t.Error("a WAV header read as Ogg Opus")
	}
}
