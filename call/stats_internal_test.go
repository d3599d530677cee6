package call

import (
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// TestAdaptationKeepsFEC: at every loss the receiver may report, the
// expected loss and bitrate the sender then sets make libopus put FEC in
// (nearly) every packet of a voiced signal.
func TestAdaptationKeepsFEC(t *testing.T) {
	voice := audiotest.Tone(440, 0.5, 2*audiotest.SampleRate)
	out := make([]byte, audio.MaxPacketSize)
	for _, loss := range []float64{0.01, 0.05, 0.10, 0.15, 0.20, 0.30, 0.50, 0.80} {
		pct, bps := adaptation(loss, 0)
		enc, err := audio.NewEncoder(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.SetBitrate(bps); err != nil {
			t.Fatal(err)
		}
		if err := enc.SetPacketLoss(pct); err != nil {
			t.Fatal(err)
		}
		frames, fec := 0, 0
		for i := 0; i+audio.FrameSamples <= len(voice); i += audio.FrameSamples {
			n, err := enc.Encode(voice[i:i+audio.FrameSamples], out)
			if err != nil {
				t.Fatal(err)
			}
			frames++
			if audio.PacketHasFEC(out[:n]) {
				fec++
			}
		}
		t.Logf("reported loss %2.0f%%: expected loss %d%%, %d bit/s: FEC in %d of %d packets", 100*loss, pct, bps, fec, frames)
		if fec < frames-5 {
			t.Errorf("at %.0f%% loss the sender sends FEC in %d of %d packets, want all but the first few", 100*loss, fec, frames)
		}
	}
	if pct, bps := adaptation(0, 11*time.Second); pct != 0 || bps != audio.DefaultBitrate {
		t.Errorf("after 11 s without loss: expected loss %d%%, %d bit/s; want 0 and %d", pct, bps, audio.DefaultBitrate)
	}
}
