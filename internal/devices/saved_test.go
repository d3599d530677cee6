//go:build e2e

package devices

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestSavedHeadset: the headset chosen in the picker (by the name it is
// listed under) is saved by its sink's name, and opened by that name by
// the next parley (after a reboot); while it is not plugged in, the UI's
// Manager (Absent) opens the default in its place, and the next choice of
// it moves the call back, where a Manager without Absent fails.
func TestSavedHeadset(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	builtin := pulse.DescribedSink(t, "builtin", "Built-in Audio Analog Stereo")
	if _, err := pulse.Pactl(context.Background(), "set-default-sink", builtin); err != nil {
		t.Fatal(err)
	}
	headset := pulse.DescribedSink(t, "headset", "USB Headset Analog Stereo")
	t.Setenv("PULSE_SERVER", pulse.Server())
	t.Setenv("PULSE_SINK", "")
	if err := os.Unsetenv("PULSE_SINK"); err != nil { // the daemon's default
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")

	first := New(Options{Input: "tone:440", Output: "default", ConfigPath: path, Absent: true})
	defer first.Close()
	_, outs, err := first.List()
	if err != nil {
		t.Fatal(err)
	}
	var listed string
	for _, o := range outs {
		if first.Label(o) == "USB Headset Analog Stereo" {
			listed = o
		}
	}
	if listed != headset {
		t.Fatalf("the picker lists the headset as %q (outputs %q), want its sink's name %q", listed, outs, headset)
	}
	if err := first.Choose("tone:440", listed); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Read(path)
	if err != nil || cfg.Output != headset {
		t.Fatalf("saved output %q (%v), want %q", cfg.Output, err, headset)
	}

	open := func(absent bool) (string, error) {
		t.Helper()
		m := New(Options{Input: cfg.Input, Output: Pick("", cfg.Output), ConfigPath: path, Absent: absent})
		defer m.Close()
		sink, err := m.OpenSink(audio.FrameSamples)
		if err != nil {
			return "", err
		}
		defer sink.Close()
		_, spk := m.InUse()
		return spk, nil
	}
	if spk, err := open(true); err != nil || spk != "USB Headset Analog Stereo" {
		t.Errorf("the next parley's speaker: %q (%v), want the headset", spk, err)
	}
	pulse.Unload(t, headset)
	if spk, err := open(true); err != nil || spk != "default" {
		t.Errorf("the headset unplugged, the UI's speaker: %q (%v), want the default", spk, err)
	}
	if _, err := open(false); !errors.Is(err, audio.ErrDeviceNotFound) {
		t.Errorf("the headset unplugged, parley call's speaker: %v, want ErrDeviceNotFound", err)
	}
}
