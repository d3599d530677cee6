//go:build e2e

package audio

import (
	"log/slog"
	"testing"

	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestMicWakeups: a microphone's device wakes once a frame, not once a
// speaker period: each PortAudio callback wakes its thread and the sound
// server client's, the most of a call's CPU (at 5 ms periods, 200 a second
// each; a frame can be read only once whole whatever the period). (With
// 5 ms periods: 4.0 callbacks a frame at 20 ms frames, 2.0 at 10 ms.)
func TestMicWakeups(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "wake_mic")
	t.Setenv("PULSE_SOURCE", pulsetest.Monitor(sink))
	sys, err := NewSystem(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for _, frame := range []int{FrameSamples, FrameSamples / 2} {
		src, err := sys.OpenMic("default", frame)
		if err != nil {
			t.Fatal(err)
		}
		m := src.(*mic)
		buf := make([]int16, frame)
		const frames = 50
		var first uint64
		for i := range frames + 1 {
			if err := m.Read(buf); err != nil {
				t.Fatal(err)
			}
			if i == 0 { // the device may have queued audio before the first read
				first = m.st.callbacks()
			}
		}
		per := float64(m.st.callbacks()-first) / frames
		_ = m.Close()
		t.Logf("%d ms frames: %.2f callbacks a frame", frame*1000/SampleRate, per)
		if per > 1.2 {
			t.Errorf("%d ms frames: the microphone's device called back %.2f times a frame, want at most 1.2",
				frame*1000/SampleRate, per)
		}
	}
}
