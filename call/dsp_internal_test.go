package call

import (
	"testing"

	"github.com/parley-voice/parley/audio"
)

// TestProcessingBits: the processing a call's devices are handed (as bits,
// for the sender and the speaker goroutines) keeps every switch and the
// echo canceller, the default's and each one named.
func TestProcessingBits(t *testing.T) {
	for _, p := range []Processing{
		{},
		DefaultProcessing,
		{EchoCancellation: true, Canceller: audio.WebRTC},
		{NoiseSuppression: true, AutoGain: true, Canceller: audio.WebRTC},
		{EchoCancellation: true, Canceller: audio.Speex},
		{NoiseSuppression: true, AutoGain: true, Canceller: audio.Speex},
	} {
		if got := processingFromBits(p.bits()); got.EchoCanceller() != p.EchoCanceller() ||
			got.EchoCancellation != p.EchoCancellation || got.NoiseSuppression != p.NoiseSuppression ||
			got.AutoGain != p.AutoGain {
			t.Errorf("%+v comes back as %+v", p, got)
		}
	}
	if c := (Processing{}).EchoCanceller(); c != audio.WebRTC {
		t.Errorf("the default echo canceller is %s, want %s", c, audio.WebRTC)
	}
}
