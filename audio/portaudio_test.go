//go:build e2e

package audio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gordonklaus/portaudio"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// These tests drive real PortAudio streams through PulseAudio null sinks.
// PortAudio reaches PulseAudio through ALSA's pulse plugin, which reads
// PULSE_SOURCE and PULSE_SINK when a stream opens, so each test sets them
// with t.Setenv (which also keeps the test from running in parallel).

func newSystem(t *testing.T) *audio.System {
	t.Helper()
	sys, err := audio.NewSystem(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sys.Close(); err != nil {
			t.Error(err)
		}
	})
	devs, err := sys.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(devs, func(d audio.Device) bool { return d.Name == "pulse" }) {
		t.Skipf("PortAudio sees no ALSA \"pulse\" device (devices: %v)", devs)
	}
	return sys
}

// onset is when a tone starts, estimated from a frame that Read returned
// at readAt: the frame's last sample had just been captured.
func onset(readAt time.Time, frameLen, index int) time.Time {
	return readAt.Add(-time.Duration(frameLen-index) * time.Second / audio.SampleRate)
}

func TestMicCapturesTone(t *testing.T) {
	p := pulsetest.Start(t)
	micSink := p.NullSink(t, "mic")
	t.Setenv("PULSE_SOURCE", pulsetest.Monitor(micSink))
	sys := newSystem(t)
	mic, err := sys.OpenMic("default", audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	playAt := time.Now()
	go func() {
		defer wg.Done()
		pulsetest.PlayTone(t, micSink, 440, 0.5, 2500*time.Millisecond)
	}()

	frame := make([]int16, audio.FrameSamples)
	var (
		heardAt time.Time
		got     []int16
	)
	for k := 0; len(got) < 2*audio.SampleRate; k++ {
		if k > 200 {
			t.Fatal("no tone within 4 s")
		}
		if err := mic.Read(frame); err != nil {
			t.Fatal(err)
		}
		if heardAt.IsZero() {
			i := audiotest.FirstAbove(frame, 0.25)
			if i < 0 {
				continue
			}
			heardAt = onset(time.Now(), len(frame), i)
			continue // skip the partial first frame
		}
		got = append(got, frame...)
	}
	t.Logf("capture: tone heard %v after pacat started (an upper bound: includes pacat start-up and its 40 ms buffer)",
		heardAt.Sub(playAt).Round(100*time.Microsecond))
	if f := audiotest.DominantFrequency(got); math.Abs(f-440) > 5 {
		t.Errorf("captured %.2f Hz, want 440 ± 5", f)
	}
	if lvl := audio.Level(got); math.Abs(lvl-0.8495) > 0.02 {
		t.Errorf("captured level %.3f, want 0.85 ± 0.02 (-9 dBFS)", lvl)
	}
	wantClean(t, "captured", got, 440)
}

// wantClean checks that a tone through a device is clean nearly all the
// time: per 100 ms, an SNR of 40 dB or more in the median window and in
// all but a fifth of them. (A device that has just been opened may run dry
// once or twice on a busy machine, as the speaker finds its latency; each
// time spoils a window or two.)
func wantClean(t *testing.T, what string, s []int16, hz float64) {
	t.Helper()
	var snrs []float64
	for w := s; len(w) >= audio.SampleRate/10; w = w[audio.SampleRate/10:] {
		snrs = append(snrs, audiotest.ToneSNR(w[:audio.SampleRate/10], hz))
	}
	low := audiotest.CountBelow(snrs, 40)
	t.Logf("%s SNR per 100 ms: %.1f dB", what, snrs)
	if med := audiotest.Median(snrs); med < 40 || low > len(snrs)/5 {
		t.Errorf("%s: SNR median %.1f dB, under 40 dB in %d of %d windows of 100 ms; want a median of 40 dB or more "+
			"and at most %d under",
			what, med, low, len(snrs), len(snrs)/5)
	}
}

func TestSpeakerPlaysTone(t *testing.T) {
	p := pulsetest.Start(t)
	spkSink := p.NullSink(t, "spk")
	t.Setenv("PULSE_SINK", spkSink)
	sys := newSystem(t)
	spk, err := sys.OpenSpeaker("default", audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Play 200 ms of silence, then the tone, until the recording is done.
	// The speaker sets the pace.
	writeAt := make(chan time.Time, 1)
	writerDone := make(chan error, 1)
	go func() {
		tone := audiotest.Tone(660, 0.5, 20*audio.SampleRate)
		silence := make([]int16, audio.FrameSamples)
		for k := 0; ctx.Err() == nil; k++ {
			out := silence
			if k >= 10 {
				at := (k - 10) * audio.FrameSamples % len(tone)
				out = tone[at : at+audio.FrameSamples]
			}
			if k == 10 {
				writeAt <- time.Now()
			}
			if err := spk.Write(out); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()

	var (
		got     []int16
		heardAt time.Time
	)
	err = pulsetest.Listen(ctx, pulsetest.Monitor(spkSink), func(chunk []int16, at time.Time) bool {
		if heardAt.IsZero() {
			i := audiotest.FirstAbove(chunk, 0.25)
			if i < 0 {
				return true
			}
			heardAt = onset(at, len(chunk), i)
			chunk = chunk[i:]
		}
		got = append(got, chunk...)
		return len(got) < audio.SampleRate*21/10
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	spk.Close()
	if err := <-writerDone; err != nil && !errors.Is(err, audio.ErrClosed) {
		t.Fatal(err)
	}
	t.Logf("playback: tone reached the sink %v after Write was called (includes parec's 10 ms fragments)",
		heardAt.Sub(<-writeAt).Round(100*time.Microsecond))
	got = got[audio.SampleRate/10:] // past the onset
	if f := audiotest.DominantFrequency(got); math.Abs(f-660) > 5 {
		t.Errorf("played %.2f Hz, want 660 ± 5", f)
	}
	wantClean(t, "played", got, 660)
	if lvl := audio.Level(got); math.Abs(lvl-0.8495) > 0.02 {
		t.Errorf("played level %.3f, want 0.85 ± 0.02", lvl)
	}
}

// TestLoopbackLatency plays bursts from a PortAudio speaker into a null
// sink whose monitor a PortAudio microphone captures, and measures the time
// from Write to Read: the device part of mouth-to-ear latency.
func TestLoopbackLatency(t *testing.T) {
	p := pulsetest.Start(t)
	lb := p.NullSink(t, "loopback")
	t.Setenv("PULSE_SINK", lb)
	t.Setenv("PULSE_SOURCE", pulsetest.Monitor(lb))
	sys := newSystem(t)
	spk, err := sys.OpenSpeaker("default", audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	defer spk.Close()
	mic, err := sys.OpenMic("default", audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()

	const bursts = 5
	sent := make(chan time.Time, bursts)
	go func() {
		burst := audiotest.Tone(1000, 0.5, audio.FrameSamples)
		silence := make([]int16, audio.FrameSamples)
		for k := 0; ; k++ {
			out := silence
			if k%15 == 10 && k/15 < bursts { // a 20 ms burst every 300 ms
				out = burst
				sent <- time.Now()
			}
			if err := spk.Write(out); err != nil {
				return
			}
		}
	}()
	var lat []time.Duration
	frame := make([]int16, audio.FrameSamples)
	quiet := true
	for k := 0; len(lat) < bursts; k++ {
		if k > 500 {
			t.Fatalf("heard %d of %d bursts in 10 s", len(lat), bursts)
		}
		if err := mic.Read(frame); err != nil {
			t.Fatal(err)
		}
		readAt := time.Now()
		i := audiotest.FirstAbove(frame, 0.25)
		switch {
		case i >= 0 && quiet:
			lat = append(lat, onset(readAt, len(frame), i).Sub(<-sent))
			quiet = false
		case i < 0:
			quiet = true
		}
	}
	slices.Sort(lat)
	t.Logf("speaker→mic loopback latency over %d bursts: min %v, median %v, max %v", bursts,
		lat[0].Round(100*time.Microsecond), lat[bursts/2].Round(100*time.Microsecond),
		lat[bursts-1].Round(100*time.Microsecond))
	if lat[bursts/2] > 150*time.Millisecond {
		t.Errorf("median loopback latency %v, want < 150ms", lat[bursts/2])
	}
}

func TestDeviceNames(t *testing.T) {
	// A daemon with no sink has no source either: this test's own sink
	// gives "default" and "pulse" something to open.
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "names")
	t.Setenv("PULSE_SOURCE", pulsetest.Monitor(sink))
	t.Setenv("PULSE_SINK", sink)
	sys := newSystem(t)
	devs, _ := sys.Devices()
	var pulse audio.Device
	for _, d := range devs {
		t.Logf("device %d %q in %d out %d default in %v out %v host %s", d.Index, d.Name, d.MaxInputChannels,
			d.MaxOutputChannels, d.DefaultInput, d.DefaultOutput, d.HostAPI)
		if d.Name == "pulse" {
			pulse = d
		}
	}
	if !slices.ContainsFunc(devs, func(d audio.Device) bool { return d.DefaultInput }) ||
		!slices.ContainsFunc(devs, func(d audio.Device) bool { return d.DefaultOutput }) {
		t.Error("no default input or output device flagged")
	}
	for _, name := range []string{"", "default", "pulse", "PULS", fmt.Sprint(pulse.Index)} {
		mic, err := sys.OpenMic(name, 0)
		if err != nil {
			t.Errorf("OpenMic(%q): %v", name, err)
			continue
		}
		mic.Close()
	}
	for _, name := range []string{"no such device", "99", "-1"} {
		_, err := sys.OpenSpeaker(name, 0)
		if !errors.Is(err, audio.ErrDeviceNotFound) {
			t.Errorf("OpenSpeaker(%q) = %v, want ErrDeviceNotFound", name, err)
		} else if !strings.Contains(err.Error(), `"pulse"`) {
			t.Errorf("OpenSpeaker(%q) error does not list the available devices: %v", name, err)
		}
	}
	// "e" is in both "pulse" and "default".
	if _, err := sys.OpenMic("e", 0); !errors.Is(err, audio.ErrDeviceNotFound) ||
		!strings.Contains(err.Error(), "several") {
		t.Errorf("ambiguous OpenMic(\"e\") = %v, want ErrDeviceNotFound naming several", err)
	}
}

func TestSystemCloseStopsStreams(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "close")
	t.Setenv("PULSE_SOURCE", pulsetest.Monitor(sink))
	t.Setenv("PULSE_SINK", sink)
	sys, err := audio.NewSystem(nil)
	if err != nil {
		t.Fatal(err)
	}
	mic, err := sys.OpenMic("default", 0)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := sys.OpenSpeaker("default", 0)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, audio.FrameSamples)
	if err := mic.Read(frame); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error)
	go func() {
		for {
			if err := mic.Read(frame); err != nil {
				readErr <- err
				return
			}
		}
	}()
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, audio.ErrClosed) {
			t.Errorf("Read during System.Close = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return after System.Close")
	}
	if err := spk.Write(frame); !errors.Is(err, audio.ErrClosed) {
		t.Errorf("Write after System.Close = %v, want ErrClosed", err)
	}
	if err := errors.Join(mic.Close(), spk.Close(), sys.Close()); err != nil {
		t.Errorf("Close after System.Close: %v", err)
	}
	if _, err := sys.OpenMic("default", 0); !errors.Is(err, audio.ErrClosed) {
		t.Errorf("OpenMic after Close = %v, want ErrClosed", err)
	}
}

// runAudioChild runs TestAudioChild in a child process in mode, with sink
// as its microphone (monitor) and speaker, and returns what it printed.
func runAudioChild(t *testing.T, mode, sink string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAudioChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PARLEY_AUDIO_CHILD="+mode)
	cmd.Env = append(cmd.Env, pulsetest.Env(sink, sink)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("child %s: %v\nstdout:\n%s\nstderr:\n%s", mode, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// TestPortAudioIsQuiet runs the device code in a child process and checks
// that nothing reaches its stderr, while a bare PortAudio initialisation in
// the same environment does print (so the check means something).
func TestPortAudioIsQuiet(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "quiet")
	_, noisy := runAudioChild(t, "raw", sink)
	if noisy == "" {
		t.Log("bare PortAudio printed nothing here; the quiet check below is vacuous")
	} else {
		t.Logf("bare PortAudio printed %d lines to stderr, e.g. %q", strings.Count(noisy, "\n"),
			strings.SplitN(noisy, "\n", 2)[0])
	}
	out, errs := runAudioChild(t, "quiet", sink)
	if !strings.Contains(out, "child ok") {
		t.Fatalf("child did not finish:\n%s", out)
	}
	if errs != "" {
		t.Errorf("stderr of NewSystem/Devices/OpenMic/OpenSpeaker/Close was not empty:\n%s", errs)
	}
}

// TestConvertersNotProbed checks that listing devices leaves ALSA's
// converter plugins unloaded: a bare PortAudio initialisation opens a52 and
// lavrate, which load libavcodec and its codec libraries, and keeps them
// mapped; a System skips them, peaks at least 5 MB lower, and still lists
// "pulse" and "default".
func TestConvertersNotProbed(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "probe")
	raw, _ := runAudioChild(t, "raw", sink)
	rawMapped, rawPeak := parseMaps(t, raw)
	if !rawMapped {
		t.Skipf("a bare PortAudio initialisation loads no libavcodec here (no a52 or lavrate ALSA plugin?):\n%s", raw)
	}
	out, _ := runAudioChild(t, "list", sink)
	mapped, peak := parseMaps(t, out)
	t.Logf("peak RSS: bare PortAudio %d KB (libavcodec mapped), System %d KB (mapped: %v)", rawPeak, peak, mapped)
	if mapped {
		t.Errorf("listing devices with a System loaded libavcodec: ALSA's converters were probed")
	}
	if peak > rawPeak-5<<10 {
		t.Errorf("a System peaks at %d KB, a bare PortAudio start at %d KB: want at least 5 MB less", peak, rawPeak)
	}
	for _, dev := range []string{`"pulse"`, `"default"`} {
		if !strings.Contains(out, dev) {
			t.Errorf("the System lists no %s device:\n%s", dev, out)
		}
	}
}

// mapsReport says whether the process maps libavcodec, and its peak
// resident set in KB, for parseMaps.
func mapsReport() string {
	maps, _ := os.ReadFile("/proc/self/maps")
	status, _ := os.ReadFile("/proc/self/status")
	peak := "?"
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return fmt.Sprintf("maps: libavcodec=%v peak_kb=%s", bytes.Contains(maps, []byte("/libavcodec.so")), peak)
}

// parseMaps reads the line mapsReport printed in a child's output.
func parseMaps(t *testing.T, out string) (libavcodec bool, peakKB int) {
	t.Helper()
	for line := range strings.Lines(out) {
		if _, err := fmt.Sscanf(line, "maps: libavcodec=%t peak_kb=%d", &libavcodec, &peakKB); err == nil {
			return libavcodec, peakKB
		}
	}
	t.Fatalf("the child printed no maps report:\n%s", out)
	return false, 0
}

// TestAudioChild is the child of TestPortAudioIsQuiet and
// TestConvertersNotProbed.
func TestAudioChild(t *testing.T) {
	switch os.Getenv("PARLEY_AUDIO_CHILD") {
	case "raw":
		if err := portaudio.Initialize(); err != nil {
			t.Fatal(err)
		}
		_, _ = portaudio.Devices() // the probe is what loads the libraries; the list is not needed
		fmt.Println(mapsReport())
		_ = portaudio.Terminate()
	case "list":
		sys, err := audio.NewSystem(nil)
		if err != nil {
			t.Fatal(err)
		}
		devs, err := sys.Devices()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			fmt.Printf("device %q\n", d.Name)
		}
		fmt.Println(mapsReport())
		sys.Close()
	case "quiet":
		sys, err := audio.NewSystem(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Devices(); err != nil {
			t.Fatal(err)
		}
		mic, err := sys.OpenMic("default", 0)
		if err != nil {
			t.Fatal(err)
		}
		spk, err := sys.OpenSpeaker("pulse", 0)
		if err != nil {
			t.Fatal(err)
		}
		frame := make([]int16, audio.FrameSamples)
		for range 10 {
			if err := errors.Join(mic.Read(frame), spk.Write(frame)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sys.OpenMic("missing", 0); err == nil {
			t.Fatal("opened a missing device")
		}
		if err := errors.Join(mic.Close(), spk.Close(), sys.Close()); err != nil {
			t.Fatal(err)
		}
		fmt.Println("child ok")
	default:
		t.Skip("only run as a child of TestPortAudioIsQuiet or TestConvertersNotProbed")
	}
}
