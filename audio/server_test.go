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

// TestWatchServer: a sink plugged in (a null sink loaded) is reported
// with its description, and its monitor with it, well within 2 s; unloaded,
// both are reported gone.
func TestWatchServer(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	t.Setenv("PULSE_SERVER", pulse.Server())
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan audio.ServerEvent, 16)
	watched := make(chan error, 1)
	go func() {
		watched <- audio.WatchServer(ctx, func(ev audio.ServerEvent) {
			select {
			case events <- ev:
			case <-ctx.Done():
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-watched; err != nil {
			t.Error(err)
		}
	}()
	// WatchServer has subscribed once a sink loaded now is reported; one
	// loaded before it did is in its first list, and not reported.
	var (
		headset string
		monitor bool // its monitor was reported
		loaded  time.Time
	)
	for headset == "" {
		loaded = time.Now()
		name := pulse.DescribedSink(t, "plugged", "USB Headset Analog Stereo")
		late := time.After(2 * time.Second)
	events:
		for {
			select {
			case ev := <-events:
				if isMonitor(ev, name) {
					monitor = true
				}
				if ev.Device.Name == name && !ev.Removed {
					headset = name
					break events
				}
			case err := <-watched:
				t.Fatalf("WatchServer ended: %v", err)
			case <-late: // loaded before the subscription
				break events
			}
		}
	}
	wait := func(what string, want func(audio.ServerEvent) bool) time.Duration {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev := <-events:
				if want(ev) {
					return time.Since(loaded)
				}
			case err := <-watched:
				t.Fatalf("WatchServer ended: %v", err)
			case <-timeout:
				t.Fatalf("no event for %s within 5 s", what)
			}
		}
	}
	took := time.Since(loaded)
	t.Logf("the sink was reported %v after it was loaded", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the sink was reported %v after it was loaded, want within 2 s", took)
	}
	if !monitor {
		wait("the monitor", func(ev audio.ServerEvent) bool { return isMonitor(ev, headset) })
	}

	loaded = time.Now()
	pulse.Unload(t, headset)
	gone := wait("the sink unloaded", func(ev audio.ServerEvent) bool {
		return ev.Removed && ev.Device.Name == headset && ev.Device.Description == "USB Headset Analog Stereo" &&
			ev.Device.MaxOutputChannels == 1
	})
	t.Logf("the sink was reported gone %v after it was unloaded", gone.Round(time.Millisecond))
	if gone > 2*time.Second {
		t.Errorf("the sink was reported gone %v after it was unloaded, want within 2 s", gone)
	}
}

// isMonitor reports whether ev tells of the monitor of the sink named
// sink, plugged in.
func isMonitor(ev audio.ServerEvent, sink string) bool {
	d := ev.Device
	return !ev.Removed && d.Name == pulsetest.Monitor(sink) && d.Monitor && d.MaxInputChannels == 1 &&
		d.Description == "Monitor of USB Headset Analog Stereo"
}
