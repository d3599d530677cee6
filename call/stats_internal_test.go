package call

import (
	"fmt"
	"slices"
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
		t.Logf("reported loss %2.0f%%: expected loss %d%%, %d bit/s: FEC in %d of %d packets", 100*loss, pct, bps, fec,
			frames)
		if fec < frames-5 {
			t.Errorf("at %.0f%% loss the sender sends FEC in %d of %d packets, want all but the first few", 100*loss,
				fec, frames)
		}
	}
	if pct, bps := adaptation(0, 11*time.Second); pct != 0 || bps != audio.DefaultBitrate {
		t.Errorf("after 11 s without loss: expected loss %d%%, %d bit/s; want 0 and %d", pct, bps, audio.DefaultBitrate)
	}
}

// TestWarnings: each warning is raised after three seconds over its
// threshold (400 ms round trip, 30 ms jitter, 3 % loss, MOS 3.5), not
// after one or two, and cleared after three seconds back under.
func TestWarnings(t *testing.T) {
	good := Stats{CallID: "c", RTT: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, MOS: 4.4}
	for _, c := range []struct {
		name  string
		bad   Stats
		value float64
	}{
		{WarnHighRTT, Stats{CallID: "c", RTT: 450 * time.Millisecond, MOS: 4.4}, 450},
		{WarnHighJitter, Stats{CallID: "c", Jitter: 35 * time.Millisecond, MOS: 4.4}, 35},
		{WarnHighLoss, Stats{CallID: "c", Loss: 0.05, MOS: 4.4}, 5},
		{WarnLowMOS, Stats{CallID: "c", MOS: 3.2}, 3.2},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := newQuality()
			seconds := []Stats{c.bad, c.bad, good, c.bad, c.bad, c.bad, c.bad, good, good, good}
			var got []string
			for i, st := range seconds {
				for _, w := range q.warnings(st) {
					if w.Name != c.name || w.CallID != "c" {
						t.Errorf("second %d: %+v, want only %s", i+1, w, c.name)
					}
					if w.Raised && w.Value != c.value {
						t.Errorf("raised with value %v, want %v", w.Value, c.value)
					}
					got = append(got, fmt.Sprintf("%d:%v", i+1, w.Raised))
				}
			}
			// Over at 1-2 (too short), 4-7: raised at 6; under from 8: cleared at 10.
			if want := []string{"6:true", "10:false"}; !slices.Equal(got, want) {
				t.Errorf("warnings at (second:raised) %v, want %v", got, want)
			}
		})
	}
}
