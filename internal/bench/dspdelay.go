package bench

import (
	"fmt"
	"time"

	"github.com/parley-voice/parley/audio"
)

// ProcessingDelay measures how much later parley's microphone processing
// (echo cancellation, noise suppression and gain control, as a call runs
// them by default) gives chirps back than it was handed them, for frames of
// frameSamples, with a silent far end: the processing's share of the
// mouth-to-ear latency.
func ProcessingDelay(frameSamples int) (time.Duration, error) {
	p, err := audio.NewProcessor(frameSamples, 0, audio.ProcessorOptions{EchoCancellation: true, NoiseSuppression: true,
		AutoGain: true})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	in := Chirps(3, 6*time.Second)
	out := make([]int16, 0, len(in))
	silence := make([]int16, frameSamples)
	for off := 0; off+frameSamples <= len(in); off += frameSamples {
		f := append([]int16(nil), in[off:off+frameSamples]...)
		p.Playback(silence)
		p.Process(f)
		out = append(out, f...)
	}
	found, _ := Delays(in[:len(out)], out, 200*time.Millisecond)
	if len(found) < 5 {
		return 0, fmt.Errorf("bench: processing delay: %d chirps came through", len(found))
	}
	var ds []time.Duration
	for _, e := range found {
		ds = append(ds, e.Delay)
	}
	return Percentile(ds, 50), nil
}
