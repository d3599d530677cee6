package echo

import (
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
)

// TestDelayLine: what a call plays into the echo's sink comes back out of
// its source delay later (5 frames of 20 ms for 100 ms), in order; before
// that the source gives silence. With processing asked for, the line
// passes for a microphone.
func TestDelayLine(t *testing.T) {
	const n = audio.FrameSamples
	d := &lines{delay: 100 * time.Millisecond}
	sink, err := d.OpenSink(n)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := d.OpenSource(n)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, ok := src.(interface{ Device() string }); ok {
		t.Errorf("without processing, the line passes for a microphone")
	}
	in, out := make([]int16, n), make([]int16, n)
	var got []int16
	for i := range 10 {
		for j := range in {
			in[j] = int16(i + 1)
		}
		if err := sink.Write(in); err != nil {
			t.Fatal(err)
		}
		if err := src.Read(out); err != nil {
			t.Fatal(err)
		}
		got = append(got, out[0])
	}
	want := []int16{0, 0, 0, 0, 1, 2, 3, 4, 5, 6}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames read back: %v, want %v", got, want)
		}
	}

	processed := &lines{delay: time.Second, device: true}
	if _, err := processed.OpenSink(n); err != nil {
		t.Fatal(err)
	}
	mic, err := processed.OpenSource(n)
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()
	if dev, ok := mic.(interface{ Device() string }); !ok || dev.Device() != "echo line" {
		t.Errorf("with processing, the line does not pass for a microphone")
	}
}
