// Package pulsetest gives tests a PulseAudio server with virtual devices:
// null sinks act as speakers, and their monitor sources as microphones.
// Audio played into sink X with Play can be captured by a process whose
// PULSE_SOURCE is X.monitor; audio a process plays with PULSE_SINK=X can be
// recorded from X.monitor with Record. Env builds that environment.
//
// Start shares one daemon between every test and test process; StartPrivate
// gives a test a daemon of its own, for measurements that other tests'
// streams and modules must not disturb. The package functions (Play, Record,
// Env, ...) talk to the shared daemon, the Pulse methods of the same names to
// the Pulse's own.
//
// The benchmark harness drives PulseAudio too, outside any test: the
// functions that do the work return errors (EnsureShared, Pactl,
// KeepAlive, PlaySamples, Capture, Listen, Record...), and those that take
// a testing.TB are thin wrappers over them for tests.
package pulsetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
)

// startTimeout bounds how long Start waits for a daemon it launched.
const startTimeout = 15 * time.Second

// Pulse is a reachable PulseAudio server.
type Pulse struct {
	sinks  atomic.Int64 // for unique sink names
	server string       // PULSE_SERVER of a private daemon; "" for the shared one

	mu      sync.Mutex
	modules map[string]string // module of each sink made, by name, until unloaded
}

// ErrNotInstalled is wrapped by EnsureShared's error when PulseAudio or
// its utilities are not installed.
var ErrNotInstalled = errors.New("pulsetest: PulseAudio is not installed (install pulseaudio and pulseaudio-utils)")

// Start ensures a PulseAudio daemon is reachable, as EnsureShared does. It
// skips the test if PulseAudio or its utilities are not installed and fails
// it if a daemon cannot be reached.
func Start(t testing.TB) *Pulse {
	t.Helper()
	p, err := EnsureShared(context.Background(), t.Logf)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// EnsureShared ensures the shared PulseAudio daemon is reachable, launching
// one if needed (it is left running for other tests and processes), and
// unloads the modules that processes which no longer exist left loaded (see
// Describe). A daemon it launches gets real-time priority (see StartPrivate)
// when this process may give it. logf (nil: nothing) hears which modules
// were unloaded, and when the daemon's priority could not be raised.
func EnsureShared(ctx context.Context, logf func(format string, args ...any)) (*Pulse, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for _, bin := range []string{"pactl", "pacat"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotInstalled, err)
		}
	}
	p := &Pulse{}
	if p.info(ctx) != nil {
		if err := launchShared(ctx, logf); err != nil {
			return nil, err
		}
	}
	p.sweep(ctx, logf)
	return p, nil
}

// launchShared starts the shared daemon and waits until it answers.
func launchShared(ctx context.Context, logf func(format string, args ...any)) error {
	if _, err := exec.LookPath("pulseaudio"); err != nil {
		return fmt.Errorf("%w: no PulseAudio server reachable and no pulseaudio binary: %w", ErrNotInstalled, err)
	}
	// The daemon forks and may keep inherited descriptors, so its output
	// goes to a file rather than a pipe that would never close.
	logFile, err := os.CreateTemp("", "pulsetest-*.log")
	if err != nil {
		return fmt.Errorf("pulsetest: %w", err)
	}
	defer os.Remove(logFile.Name())
	defer func() { _ = logFile.Close() }() // the daemon writes to its own copy
	cmd := exec.CommandContext(ctx, "pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--system=false",
		"--disallow-exit", "--load=module-native-protocol-unix")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	runErr := cmd.Run() // may fail if another process started one first
	// There is no event to wait on, so poll with a bound.
	deadline := time.Now().Add(startTimeout)
	for {
		err := (&Pulse{}).info(ctx)
		if err == nil {
			if runErr == nil {
				logPriority(logf, realtimeShared())
			}
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			out, _ := os.ReadFile(logFile.Name())
			return fmt.Errorf("pulsetest: PulseAudio not reachable after starting it (start: %v): %w\n%s", runErr, err,
				out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartPrivate launches a PulseAudio daemon for this test alone, stopped
// when the test ends, with its socket in a directory of its own. Processes
// reach it with the environment Env returns (PULSE_SERVER), and this
// process's PortAudio with t.Setenv("PULSE_SERVER", p.Server()). It skips
// the test if PulseAudio is not installed.
//
// The daemon's main thread, which relays every stream's audio between the
// clients and the devices' threads, gets the real-time priority that its
// device threads have, when the test may give it (as root, or with an
// RLIMIT_RTPRIO): on a loaded machine a main thread at normal priority is
// held up for hundreds of milliseconds, and every stream runs dry. A
// desktop's sound server does not see the load of a CI machine running
// race-detector tests on two cores.
func StartPrivate(t testing.TB) *Pulse {
	t.Helper()
	for _, bin := range []string{"pulseaudio", "pactl", "pacat"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("pulsetest: %s not found (install pulseaudio and pulseaudio-utils): %v", bin, err)
		}
	}
	// A short path: a unix socket's must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "pulsetest-")
	if err != nil {
		t.Fatalf("pulsetest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "native")
	logf, err := os.Create(filepath.Join(dir, "pulseaudio.log"))
	if err != nil {
		t.Fatalf("pulsetest: %v", err)
	}
	defer func() { _ = logf.Close() }() // the daemon writes to its own copy
	cmd := exec.Command("pulseaudio", "-n", "--daemonize=no", "--use-pid-file=no", "--system=false",
		"--exit-idle-time=-1", "--disallow-exit",
		"--load=module-native-protocol-unix auth-anonymous=1 socket="+socket)
	cmd.Env = append(os.Environ(), "PULSE_RUNTIME_PATH="+dir, "PULSE_STATE_PATH="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("pulsetest: start pulseaudio: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	p := &Pulse{server: "unix:" + socket}
	// There is no event to wait on, so poll with a bound.
	deadline := time.Now().Add(startTimeout)
	for {
		err := p.info(context.Background())
		if err == nil {
			break
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("pulsetest: pulseaudio exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("pulsetest: private PulseAudio not reachable after %v: %v\n%s", startTimeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	logPriority(t.Logf, setRealtime(cmd.Process.Pid))
	return p
}

// setRealtime gives the main thread of the daemon with process id pid
// SCHED_RR at PulseAudio's own real-time priority (its default
// realtime-priority), as its device threads run; see StartPrivate.
func setRealtime(pid int) error {
	if out, err := exec.Command("chrt", "--rr", "--pid", "5", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("chrt: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// logPriority notes that a daemon's main thread could not be given
// real-time priority, if err says so.
func logPriority(logf func(format string, args ...any), err error) {
	if err != nil {
		logf("pulsetest: PulseAudio's main thread stays at normal priority: %v", err)
	}
}

// realtimeShared gives the shared daemon's main thread the real-time
// priority StartPrivate gives a private one, for the process that launched
// that daemon. pactl info's "Server String" says where the daemon is, and
// so its pid file. It needs root or an RLIMIT_RTPRIO.
func realtimeShared() error {
	out, err := exec.Command("pactl", "info").Output()
	if err != nil {
		return fmt.Errorf("pactl info: %w", err)
	}
	for line := range strings.Lines(string(out)) {
		if sock, ok := strings.CutPrefix(line, "Server String: "); ok {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(strings.TrimSpace(sock)), "pid"))
			if err != nil {
				return err
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return fmt.Errorf("the daemon's pid file: %w", err)
			}
			return setRealtime(pid)
		}
	}
	return errors.New("pactl info names no server")
}

// Server is the PULSE_SERVER of a private daemon, "" for the shared one.
func (p *Pulse) Server() string { return p.server }

// Command returns cmd (pactl, pacat, ...) set to talk to p's daemon.
func (p *Pulse) Command(name string, args ...string) *exec.Cmd {
	return p.commandContext(context.Background(), name, args...)
}

func (p *Pulse) commandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	if p.server != "" {
		cmd.Env = append(os.Environ(), "PULSE_SERVER="+p.server)
	}
	return cmd
}

func (p *Pulse) info(ctx context.Context) error {
	_, err := p.Pactl(ctx, "info")
	return err
}

// pactlTimeout bounds a pactl command: the daemon answers at once, or is
// stuck.
const pactlTimeout = 10 * time.Second

// Pactl runs pactl with args on p's daemon and returns its output, trimmed
// (load-module prints the module's number).
func (p *Pulse) Pactl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pactlTimeout)
	defer cancel()
	out, err := p.commandContext(ctx, "pactl", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pulsetest: pactl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// Describe returns the load-module argument that describes the device a
// module makes (kind "sink" or "source") as description, tagged with this
// process's id: EnsureShared unloads the tagged modules of processes that
// no longer exist (a test binary or a harness that was killed never
// unloaded its own).
func Describe(kind, description string) string {
	return fmt.Sprintf("%s_properties='device.description=%q %s%d'", kind, description, ownerProp, os.Getpid())
}

// NullSink loads a 48 kHz mono null sink with a unique name derived from
// name and returns that name; its monitor source is name + ".monitor". The
// sink is unloaded when the test ends. It keeps a silent stream playing
// into the sink (KeepAlive), so that the sink behaves like a sound card
// from the start; silence adds nothing to what the monitor carries.
func (p *Pulse) NullSink(t testing.TB, name string) string {
	t.Helper()
	return p.DescribedSink(t, name, "")
}

// DescribedSink is NullSink with the sink described as description, as a
// sound card's sink is ("USB Headset Analog Stereo"; its monitor is then
// "Monitor of USB Headset Analog Stereo"); "" describes it by its name.
func (p *Pulse) DescribedSink(t testing.TB, name, description string) string {
	t.Helper()
	ctx := context.Background()
	sink := fmt.Sprintf("%s_%d_%d", sanitize(name), os.Getpid(), p.sinks.Add(1))
	if description == "" {
		description = sink
	}
	module, err := p.Pactl(ctx, "load-module", "module-null-sink", "sink_name="+sink, "rate=48000", "channels=1",
		Describe("sink", description))
	if err != nil {
		t.Fatal(err)
	}
	p.loaded(sink, module)
	t.Cleanup(func() {
		if !p.unloading(sink) {
			return // Unload did
		}
		if _, err := p.Pactl(ctx, "unload-module", module); err != nil {
			t.Errorf("pulsetest: unload null sink %s: %v", sink, err)
		}
	})
	stop, err := p.KeepAlive(ctx, sink, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop) // before the sink's unloading: cleanups run last first
	return sink
}

// KeepAlive plays silence into sink (48 kHz, of channels channels) with a
// 10 ms stream until stop is called, and returns once the stream is
// connected. An idle null sink renders in 2 s blocks, which delays the
// first stream opened on it (or its monitor) by up to 2 s: with the
// keep-alive, and its clock restarted (a suspend and resume; only that
// makes a sink give up the 2 s block it was rendering), it runs like a
// sound card. The silence comes through a pipe from this process, so that
// if the process dies without calling stop, pacat sees the end of its
// input and exits.
func (p *Pulse) KeepAlive(ctx context.Context, sink string, channels int) (stop func(), err error) {
	keep := p.Command("pacat", "--verbose", "--playback", "--device="+sink, "--raw",
		"--format=s16le", "--rate=48000", fmt.Sprintf("--channels=%d", channels), "--latency-msec=10",
		"--client-name=pulsetest-keepalive")
	keep.Stdin = zeros{}
	stderr, err := keep.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("pulsetest: %w", err)
	}
	if err := keep.Start(); err != nil {
		return nil, fmt.Errorf("pulsetest: keep-alive stream for %s: %w", sink, err)
	}
	drained := make(chan struct{})
	stop = func() {
		keep.Process.Kill()
		<-drained
		keep.Wait()
	}
	// Wait for the stream to connect (pacat says so).
	connected := make(chan bool, 1)
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "Stream successfully created") {
				said = true
				connected <- true
			}
		}
		if !said {
			connected <- false
		}
	}()
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case ok := <-connected:
		if !ok {
			stop()
			return nil, fmt.Errorf("pulsetest: keep-alive stream for %s ended before connecting", sink)
		}
	case <-timeout.C:
		stop()
		return nil, fmt.Errorf("pulsetest: keep-alive stream for %s did not connect within %v", sink, startTimeout)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	for _, arg := range []string{"1", "0"} {
		if _, err := p.Pactl(ctx, "suspend-sink", sink, arg); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// Sine plays a sine at hz into sink until the test ends: PulseAudio's
// module-sine, a stream of the daemon's own, which no busy client process
// can hold up. Recorded from the sink's monitor it is at about -6 dBFS.
func (p *Pulse) Sine(t testing.TB, sink string, hz int) {
	t.Helper()
	module, err := p.Pactl(context.Background(), "load-module", "module-sine", "sink="+sink,
		fmt.Sprintf("frequency=%d", hz))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Gone already if its sink was unloaded: an error is expected then.
		_, _ = p.Pactl(context.Background(), "unload-module", module)
	})
}

// Unload removes a sink that NullSink made, now, as when a device is
// unplugged: PulseAudio moves the streams on it (and on its monitor) to
// another sink (source), or ends them if there is none.
func (p *Pulse) Unload(t testing.TB, name string) {
	t.Helper()
	p.mu.Lock()
	module, ok := p.modules[name]
	delete(p.modules, name)
	p.mu.Unlock()
	if !ok {
		t.Fatalf("pulsetest: Unload(%q): no such sink made by this Pulse", name)
	}
	if _, err := p.Pactl(context.Background(), "unload-module", module); err != nil {
		t.Fatalf("pulsetest: unload %s: %v", name, err)
	}
}

// loaded records the module that made a sink.
func (p *Pulse) loaded(name, module string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.modules == nil {
		p.modules = map[string]string{}
	}
	p.modules[name] = module
}

// unloading forgets a sink and reports whether it was still loaded.
func (p *Pulse) unloading(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.modules[name]
	delete(p.modules, name)
	return ok
}

// ownerProp tags the modules loaded with Describe with the process's pid.
const ownerProp = "pulsetest.pid="

// zeros is an endless source of silence.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// sweep unloads the modules that processes which no longer exist loaded
// with Describe's tag: a test binary that crashed or was killed never ran
// its cleanups. (Their keep-alive pacats end by themselves with their
// input.)
func (p *Pulse) sweep(ctx context.Context, logf func(format string, args ...any)) {
	out, err := p.Pactl(ctx, "list", "short", "modules")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 {
			continue
		}
		i := strings.Index(f[2], ownerProp)
		if i < 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimRight(strings.Fields(f[2][i+len(ownerProp):])[0], "'"))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if _, err := p.Pactl(ctx, "unload-module", f[0]); err == nil {
			logf("pulsetest: unloaded %s module %s left by dead process %d", f[1], f[0], pid)
		}
	}
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "sink"
	}
	return string(b)
}

// Monitor returns the monitor source of a sink.
func Monitor(sink string) string { return sink + ".monitor" }

// Env returns the environment that makes a child process capture from
// micSink's monitor (PULSE_SOURCE) and play into speakerSink (PULSE_SINK).
// An empty name leaves that variable out. Append it to os.Environ().
func Env(micSink, speakerSink string) []string { return (&Pulse{}).Env(micSink, speakerSink) }

// Env is as the package's Env, for p's daemon (with PULSE_SERVER when it is
// a private one).
func (p *Pulse) Env(micSink, speakerSink string) []string {
	var env []string
	if p.server != "" {
		env = append(env, "PULSE_SERVER="+p.server)
	}
	if micSink != "" {
		env = append(env, "PULSE_SOURCE="+Monitor(micSink))
	}
	if speakerSink != "" {
		env = append(env, "PULSE_SINK="+speakerSink)
	}
	return env
}

// Play plays samples (48 kHz mono) into sink with pacat and returns once
// they have been played. Failures are reported with t.Errorf, so Play may
// run in its own goroutine.
func Play(t testing.TB, sink string, samples []int16) {
	t.Helper()
	(&Pulse{}).Play(t, sink, samples)
}

// Play is as the package's Play, on p's daemon.
func (p *Pulse) Play(t testing.TB, sink string, samples []int16) {
	t.Helper()
	p.PlayContext(context.Background(), t, sink, samples)
}

// PlayContext is as Play, but stops playing when ctx is done, which is no
// failure: a test stops a background talker with it before its sinks go.
func (p *Pulse) PlayContext(ctx context.Context, t testing.TB, sink string, samples []int16) {
	t.Helper()
	if err := p.PlaySamples(ctx, sink, samples); err != nil && ctx.Err() == nil {
		t.Error(err)
	}
}

// PlaySamples plays samples (48 kHz mono) into sink with pacat and returns
// once they have been played, or ctx.Err() once ctx is done.
func (p *Pulse) PlaySamples(ctx context.Context, sink string, samples []int16) error {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	// 40 ms of buffering: enough that a busy machine does not make pacat
	// underrun (a gap would spoil frequency and SNR figures).
	cmd := p.commandContext(ctx, "pacat", "--playback", "--device="+sink, "--raw",
		"--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=40",
		"--client-name=pulsetest-play")
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("pulsetest: play into %s: %w: %s", sink, err, bytes.TrimSpace(out))
	}
	return ctx.Err()
}

// Loop plays samples into sink over and over, in the background, until
// the test ends; call it after making sink, so that it stops, and is
// waited for, before the sink is unloaded.
func Loop(t testing.TB, sink string, samples []int16) {
	(&Pulse{}).Loop(t, sink, samples)
}

// Loop is as the package's Loop, on p's daemon.
func (p *Pulse) Loop(t testing.TB, sink string, samples []int16) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		stop()
		<-done
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			p.PlayContext(ctx, t, sink, samples)
		}
	}()
}

// PlayTone plays a sine at hz with peak amplitude amp (0..1) for d into
// sink, as Play.
func PlayTone(t testing.TB, sink string, hz, amp float64, d time.Duration) {
	t.Helper()
	(&Pulse{}).PlayTone(t, sink, hz, amp, d)
}

// PlayTone is as the package's PlayTone, on p's daemon.
func (p *Pulse) PlayTone(t testing.TB, sink string, hz, amp float64, d time.Duration) {
	t.Helper()
	p.Play(t, sink, audiotest.Tone(hz, amp, int(d*audiotest.SampleRate/time.Second)))
}

// Record captures 48 kHz mono audio from source (for example a sink's
// monitor) until ctx is done and returns it. ctx ending is the normal way to
// stop, not an error.
func Record(ctx context.Context, source string) ([]int16, error) {
	var out []int16
	err := Listen(ctx, source, func(chunk []int16, _ time.Time) bool {
		out = append(out, chunk...)
		return true
	})
	if err != nil && ctx.Err() == nil {
		return out, err
	}
	return out, nil
}

// RecordN captures exactly n samples from source, or fails if ctx ends
// first.
func RecordN(ctx context.Context, source string, n int) ([]int16, error) {
	return (&Pulse{}).RecordN(ctx, source, n)
}

// RecordN is as the package's RecordN, on p's daemon.
func (p *Pulse) RecordN(ctx context.Context, source string, n int) ([]int16, error) {
	out := make([]int16, 0, n)
	err := p.Listen(ctx, source, func(chunk []int16, _ time.Time) bool {
		out = append(out, chunk[:min(len(chunk), n-len(out))]...)
		return len(out) < n
	})
	if err != nil {
		return out, fmt.Errorf("pulsetest: record %d samples from %s: %w", n, source, err)
	}
	return out, nil
}

// Listen captures 48 kHz mono audio from source and calls fn with each
// chunk as it arrives (about every 10 ms) and the time it was read, until fn
// returns false (Listen then returns nil) or ctx ends (Listen returns
// ctx.Err()). The times let tests measure latency against a wall clock.
func Listen(ctx context.Context, source string, fn func(chunk []int16, at time.Time) bool) error {
	return (&Pulse{}).Listen(ctx, source, fn)
}

// Listen is as the package's Listen, on p's daemon.
func (p *Pulse) Listen(ctx context.Context, source string, fn func(chunk []int16, at time.Time) bool) error {
	return p.Capture(ctx, source, 1, fn)
}

// Capture is as Listen, with channels channels: a chunk holds interleaved
// samples, and may end within a frame (the next chunk goes on with it).
func (p *Pulse) Capture(ctx context.Context, source string, channels int,
	fn func(chunk []int16, at time.Time) bool) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := p.commandContext(rctx, "pacat", "--record", "--device="+source, "--raw",
		"--format=s16le", "--rate=48000", fmt.Sprintf("--channels=%d", channels), "--latency-msec=10",
		"--client-name=pulsetest-record")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pulsetest: record %s: %w", source, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pulsetest: record %s: %w", source, err)
	}
	defer cmd.Wait()
	defer cancel()
	buf := make([]byte, 4096)
	var chunk []int16
	odd := []byte(nil) // a sample split across reads
	for {
		n, err := stdout.Read(buf)
		at := time.Now()
		if n > 0 {
			b := append(odd, buf[:n]...)
			chunk = chunk[:0]
			for i := 0; i+1 < len(b); i += 2 {
				chunk = append(chunk, int16(binary.LittleEndian.Uint16(b[i:])))
			}
			odd = append(odd[:0], b[len(b)&^1:]...)
			if !fn(chunk, at) {
				return nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("pulsetest: record %s: pacat ended: %s", source, bytes.TrimSpace(stderr.Bytes()))
			}
			return fmt.Errorf("pulsetest: record %s: %w", source, err)
		}
	}
}

// SteadyTone waits until sink plays a steady tone at hz: the last two
// seconds pass audiotest.SteadyTone, judged every quarter second. A stream
// that has just been opened, or a path on a loaded machine, may skip a few
// times before it settles. It returns the two seconds that passed and
// audiotest.SteadyTone's account of them, or, when ctx ends first, an
// error that tells what the last two seconds held.
func SteadyTone(ctx context.Context, sink string, hz float64) ([]int16, string, error) {
	return (&Pulse{}).SteadyTone(ctx, sink, hz)
}

// SteadyTone is as the package's SteadyTone, on p's daemon.
func (p *Pulse) SteadyTone(ctx context.Context, sink string, hz float64) ([]int16, string, error) {
	const window = 2 * audiotest.SampleRate
	var got []int16
	last, judged := "nothing", 0
	err := p.Listen(ctx, Monitor(sink), func(chunk []int16, _ time.Time) bool {
		got = append(got, chunk...)
		if len(got) < window || len(got)-judged < audiotest.SampleRate/4 {
			return true
		}
		judged = len(got)
		ok, found := audiotest.SteadyTone(got[len(got)-window:], hz)
		last = found
		return !ok
	})
	if err != nil {
		return nil, "", fmt.Errorf("no steady %.0f Hz on %s; the last two seconds: %s: %w", hz, sink, last, err)
	}
	return got[len(got)-window:], last, nil
}
