//go:build e2e

package audio_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestDevicePluggedInLater: a device that appears after the System started
// is found by name, and listed, once no stream is open; while one is,
// PortAudio cannot be restarted to read the list again, and the device is
// not found yet. The device is an ALSA one defined in ~/.asoundrc, which
// ALSA reads when PortAudio starts, as it finds a USB headset plugged in.
func TestDevicePluggedInLater(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	sink := pulse.NullSink(t, "later")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("PULSE_SERVER", pulse.Server())
	t.Setenv("PULSE_SINK", sink)
	sys := newSystem(t)
	const name = "parley_later"
	held, err := sys.OpenSpeaker("default", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Plugged in: ALSA's pulse plugin under a name of its own.
	conf := "pcm." + name + " {\n\ttype pulse\n\thint {\n\t\tshow on\n\t\tdescription \"plugged in later\"\n\t}\n}\n"
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.OpenSpeaker(name, 0); !errors.Is(err, audio.ErrDeviceNotFound) {
		t.Fatalf("with a stream open, OpenSpeaker(%q) = %v, want ErrDeviceNotFound", name, err)
	}
	held.Close()

	sp, err := sys.OpenSpeaker(name, 0)
	if err != nil {
		t.Fatalf("with no stream open, OpenSpeaker(%q): %v", name, err)
	}
	defer sp.Close()
	devs, err := sys.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(devs, func(d audio.Device) bool { return d.Name == name }) {
		t.Errorf("Devices does not list %q: %v", name, devs)
	}

	// It works: a tone written to it comes out of the sink.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []int16
	recorded := make(chan error, 1)
	go func() {
		var err error
		got, err = pulse.RecordN(ctx, pulsetest.Monitor(sink), audiotest.SampleRate)
		recorded <- err
	}()
	tone := audio.NewTone(523, 0.5, audio.FrameSamples)
	frame := make([]int16, audio.FrameSamples)
	for done := false; !done; {
		select {
		case err := <-recorded:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
			_ = tone.Read(frame) // a tone never fails
			if err := sp.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
	}
	on := audiotest.FirstAbove(got, 0.25)
	if on < 0 || on+audiotest.SampleRate/4 > len(got) {
		t.Fatalf("no tone from %q in its sink (onset %d of %d samples)", name, on, len(got))
	}
	if f := audiotest.DominantFrequency(got[on : on+audiotest.SampleRate/4]); math.Abs(f-523) > 5 {
		t.Errorf("%q plays %.1f Hz, want 523 ± 5", name, f)
	}
}
