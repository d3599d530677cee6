//go:build e2e

package pulsetest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// TestPlayIntoSinkRecordFromMonitor: a tone played into a null sink comes
// out of its monitor at its frequency and level (the sink is transparent).
// Virtual devices skip now and then on a loaded machine, and one skip in
// the measured half second moves the frequency by a hertz or two: the tone
// is played again, up to three times in all, until one comes out whole.
func TestPlayIntoSinkRecordFromMonitor(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "roundtrip")
	for try := 1; ; try++ {
		f, lvl := playAndRecord(t, p, sink, 440)
		ok := math.Abs(f-440) <= 1 && math.Abs(lvl+9.03) <= 0.5
		switch {
		case ok:
			t.Logf("try %d: recorded %.2f Hz at %.2f dBFS", try, f, lvl)
			return
		case try < 3:
			t.Logf("try %d: recorded %.2f Hz at %.2f dBFS (a skip?): again", try, f, lvl)
		default:
			// A null sink at 100 % volume is transparent.
			t.Fatalf("recorded %.2f Hz at %.2f dBFS, want 440 ± 1 Hz at -9.03 ± 0.5 dBFS", f, lvl)
		}
	}
}

// playAndRecord plays a 1 s tone of hz at half scale into sink while
// recording its monitor, and returns the frequency and level of half a
// second of it.
func playAndRecord(t *testing.T, p *pulsetest.Pulse, sink string, hz float64) (float64, float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		wg  sync.WaitGroup
		got []int16
		err error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err = p.RecordN(ctx, pulsetest.Monitor(sink), 2*audiotest.SampleRate)
	}()
	p.PlayTone(t, sink, hz, 0.5, time.Second)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	on := audiotest.FirstAbove(got, 0.25)
	if on < 0 || on+audiotest.SampleRate*3/4 > len(got) {
		t.Fatalf("tone onset at sample %d of %d; want a whole tone", on, len(got))
	}
	tone := got[on+2400 : on+2400+audiotest.SampleRate/2]
	return audiotest.DominantFrequency(tone), audiotest.DBFS(tone)
}

func TestNullSinkNamesAreUnique(t *testing.T) {
	p := pulsetest.Start(t)
	a, b := p.NullSink(t, "same name"), p.NullSink(t, "same name")
	if a == b {
		t.Fatalf("two sinks named %q", a)
	}
}

func TestEnv(t *testing.T) {
	got := pulsetest.Env("mic1", "spk1")
	want := []string{"PULSE_SOURCE=mic1.monitor", "PULSE_SINK=spk1"}
	if !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	if got := pulsetest.Env("", "spk1"); !slices.Equal(got, want[1:]) {
		t.Errorf("Env without mic = %q, want %q", got, want[1:])
	}
}

// TestPrivateDaemon: a private daemon has its own sinks, which audio
// crosses as on the shared one, and which the shared daemon does not see.
func TestPrivateDaemon(t *testing.T) {
	p := pulsetest.StartPrivate(t)
	if p.Server() == "" {
		t.Fatal("a private daemon without a server address")
	}
	sink := p.NullSink(t, "private")
	f, _ := playAndRecord(t, p, sink, 660)
	// ± 5 Hz: a test machine busy enough to hold pacat up makes a gap
	// that spreads the tone a little.
	if math.Abs(f-660) > 5 {
		t.Errorf("recorded %.2f Hz, want 660 ± 5", f)
	}
	if env := p.Env("m", "s"); !slices.Contains(env, "PULSE_SERVER="+p.Server()) {
		t.Errorf("Env = %q, want PULSE_SERVER=%s in it", env, p.Server())
	}
	// The shared daemon, if one runs, knows nothing of it.
	if out, err := exec.Command("pactl", "list", "short", "sinks").Output(); err == nil &&
		strings.Contains(string(out), sink) {
		t.Errorf("the shared daemon lists the private sink %s:\n%s", sink, out)
	}
}

// TestEnsureSharedSweeps: a module that a process which no longer exists
// loaded with Describe's tag (a remap source, as the benchmark's rig has)
// is unloaded; those of this process stay.
func TestEnsureSharedSweeps(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "sweep")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := sink + "_left"
	module, err := p.Pactl(ctx, "load-module", "module-remap-source", "source_name="+name,
		"master="+pulsetest.Monitor(sink), fmt.Sprintf("source_properties='device.description=%s pulsetest.pid=%d'",
			name, dead.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = p.Pactl(ctx, "unload-module", module) }) // if the sweep missed it (gone: an error)
	var said []string
	logf := func(f string, args ...any) { said = append(said, fmt.Sprintf(f, args...)) }
	if _, err := pulsetest.EnsureShared(ctx, logf); err != nil {
		t.Fatal(err)
	}
	modules, err := p.Pactl(ctx, "list", "short", "modules")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(modules, "source_name="+name+" ") {
		t.Errorf("module %s of dead process %d still loaded", module, dead.Process.Pid)
	}
	if !strings.Contains(modules, "sink_name="+sink+" ") {
		t.Errorf("this process's null sink %s was unloaded", sink)
	}
	want := fmt.Sprintf("pulsetest: unloaded module-remap-source module %s left by dead process %d",
		module, dead.Process.Pid)
	if !slices.Contains(said, want) {
		t.Errorf("EnsureShared said %q; want %q among it", said, want)
	}
}

// TestKeepAliveNoSink: a keep-alive stream for a sink that does not exist
// is an error, and leaves no pacat behind.
func TestKeepAliveNoSink(t *testing.T) {
	p := pulsetest.Start(t)
	stop, err := p.KeepAlive(context.Background(), "pulsetest_no_such_sink", 1)
	if err == nil {
		stop()
		t.Fatal("KeepAlive into no sink succeeded")
	}
	want := "keep-alive stream for pulsetest_no_such_sink ended before connecting"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("KeepAlive: %v; want %q", err, want)
	}
}

// TestPlaySamplesStops: PlaySamples returns ctx's error when ctx ends
// before the samples have been played.
func TestPlaySamplesStops(t *testing.T) {
	p := pulsetest.Start(t)
	sink := p.NullSink(t, "stop")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.PlaySamples(ctx, sink, audiotest.Tone(440, 0.5, 10*audiotest.SampleRate))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("PlaySamples of 10 s cut after 0.2 s: %v after %v; want context.DeadlineExceeded at once",
			err, time.Since(start))
	}
}
