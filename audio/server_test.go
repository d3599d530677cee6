//go:build e2e

package audio_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// serverDevice returns the sound server's device named name, or fails.
func serverDevice(t *testing.T, devs []audio.Device, name string) audio.Device {
	t.Helper()
	i := slices.IndexFunc(devs, func(d audio.Device) bool { return d.Name == name })
	if i < 0 {
		t.Fatalf("Devices does not list %q: %+v", name, devs)
	}
	return devs[i]
}

// TestServerDevicesListed: the sound server's sinks and sources are listed
// beside PortAudio's default and pulse, by their names and descriptions,
// numbered on; the PCM that opens them is not.
func TestServerDevicesListed(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	t.Setenv("PULSE_SERVER", pulse.Server())
	headset := pulse.DescribedSink(t, "headset", "USB Headset Analog Stereo")
	sys := newSystem(t)
	devs, err := sys.Devices()
	if err != nil {
		t.Fatal(err)
	}
	sink := serverDevice(t, devs, headset)
	if sink.Description != "USB Headset Analog Stereo" || sink.HostAPI != audio.ServerHostAPI ||
		sink.MaxOutputChannels != 1 || sink.MaxInputChannels != 0 || sink.Monitor ||
		sink.Label() != sink.Description {
		t.Errorf("the headset's sink is listed as %+v", sink)
	}
	mon := serverDevice(t, devs, pulsetest.Monitor(headset))
	if mon.Description != "Monitor of USB Headset Analog Stereo" || mon.MaxInputChannels != 1 ||
		mon.MaxOutputChannels != 0 || !mon.Monitor {
		t.Errorf("the headset's monitor is listed as %+v", mon)
	}
	seen := map[int]bool{}
	for _, d := range devs {
		if seen[d.Index] {
			t.Errorf("index %d is listed twice: %+v", d.Index, devs)
		}
		seen[d.Index] = true
		if d.Name == "parley_pulse" {
			t.Errorf("the PCM that opens the server's devices is listed: %+v", d)
		}
	}
	if !slices.ContainsFunc(devs, func(d audio.Device) bool { return d.Name == "pulse" }) {
		t.Errorf("PortAudio's pulse is not listed: %+v", devs)
	}
}

// TestServerSinkByName: a speaker opened by a sink's description, part of
// it, its name or its index plays into that sink, and not into the
// server's default sink; a microphone opened by a monitor's name records
// that sink.
func TestServerSinkByName(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	t.Setenv("PULSE_SERVER", pulse.Server())
	headset := pulse.DescribedSink(t, "headset", "USB Headset Analog Stereo")
	builtin := pulse.DescribedSink(t, "builtin", "Built-in Audio Analog Stereo")
	if _, err := pulse.Pactl(context.Background(), "set-default-sink", builtin); err != nil {
		t.Fatal(err)
	}
	sys := newSystem(t)
	devs, err := sys.Devices()
	if err != nil {
		t.Fatal(err)
	}
	index := serverDevice(t, devs, headset).Index
	for _, name := range []string{"USB Headset Analog Stereo", "usb headset", headset, strconv.Itoa(index)} {
		t.Run(name, func(t *testing.T) {
			sp, err := sys.OpenSpeaker(name, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			if got := sp.(interface{ Device() string }).Device(); got != "USB Headset Analog Stereo" {
				t.Errorf("the speaker's Device() = %q, want the sink's description", got)
			}
			on, off := playRecording(t, pulse, sp, 1000, pulsetest.Monitor(headset), pulsetest.Monitor(builtin))
			if f := audiotest.DominantFrequency(on); math.Abs(f-1000) > 5 || audiotest.DBFS(on) < -20 {
				t.Errorf("the headset's sink got %.1f Hz at %.1f dBFS, want the 1000 Hz tone", f, audiotest.DBFS(on))
			}
			if db := audiotest.DBFS(off); db > -60 {
				t.Errorf("the default sink got %.1f dBFS of %.1f Hz, want silence", db,
					audiotest.DominantFrequency(off))
			}
		})
	}

	pulse.Sine(t, headset, 700)
	mic, err := sys.OpenMic(pulsetest.Monitor(headset), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()
	got := make([]int16, audio.SampleRate/2)
	for range 3 { // the first frames may be the stream's start
		if err := mic.Read(got); err != nil {
			t.Fatal(err)
		}
	}
	if f := audiotest.DominantFrequency(got); math.Abs(f-700) > 5 {
		t.Errorf("the microphone on the headset's monitor hears %.1f Hz at %.1f dBFS, want 700 Hz", f,
			audiotest.DBFS(got))
	}
}

// playRecording writes a tone at hz to sp while it records half a second
// from each of the sources on and off, from the moment on hears it, and
// returns both recordings.
func playRecording(t *testing.T, pulse *pulsetest.Pulse, sp audio.Sink, hz float64, on, off string) ([]int16,
	[]int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	const n = audio.SampleRate / 2
	type rec struct {
		got []int16
		err error
	}
	heard, other := make(chan rec, 1), make(chan rec, 1)
	go func() {
		var got []int16
		err := pulse.Listen(ctx, on, func(chunk []int16, _ time.Time) bool {
			if len(got) == 0 {
				if i := audiotest.FirstAbove(chunk, 0.1); i >= 0 {
					chunk = chunk[i:]
				} else {
					return true
				}
				go func() { // the other sink, over the same half second
					got, err := pulse.RecordN(ctx, off, n)
					other <- rec{got, err}
				}()
			}
			got = append(got, chunk...)
			return len(got) < n
		})
		heard <- rec{got, err}
	}()
	tone := audio.NewTone(hz, 0.5, audio.FrameSamples)
	frame := make([]int16, audio.FrameSamples)
	var h, o rec
	for got := 0; got < 2; {
		select {
		case h = <-heard:
			got++
		case o = <-other:
			got++
		default:
			_ = tone.Read(frame) // a tone never fails
			if err := sp.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		if h.err != nil || o.err != nil {
			t.Fatal(fmt.Errorf("recording: %w", cmpErr(h.err, o.err)))
		}
	}
	return h.got[:n], o.got
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
