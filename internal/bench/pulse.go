package bench

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/internal/syncbuf"
)

// ownerTag marks the PulseAudio modules a harness process loads, with its
// pid, so that a later run can unload those of a run that died.
const ownerTag = "parleybench.pid="

// EnsurePulse makes sure a PulseAudio server answers, starting a daemon
// (left running) when none does. A daemon it starts gets the real-time
// priority the tests give theirs (pulsetest.RealtimeShared), when this
// process may give it: at normal priority, on a loaded machine, the
// daemon's main thread is held up and the streams run dry.
func EnsurePulse(ctx context.Context) error {
	for _, bin := range []string{"pactl", "pacat", "pulseaudio"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("bench: %s not found (install pulseaudio and pulseaudio-utils): %w", bin, err)
		}
	}
	if pactl(ctx, "info") == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--system=false",
		"--disallow-exit", "--load=module-native-protocol-unix")
	out, runErr := cmd.CombinedOutput() // may fail if another process started one first
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := pactl(ctx, "info")
		if err == nil {
			if runErr == nil {
				_ = pulsetest.RealtimeShared() // without the privilege, the daemon runs as it is
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: PulseAudio not reachable after starting it (%v: %s): %w", runErr, bytes.TrimSpace(out), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pactl(ctx context.Context, args ...string) error {
	_, err := pactlOut(ctx, args...)
	return err
}

func pactlOut(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pactl", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bench: pactl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// Rig is the PulseAudio set-up of a latency measurement. One stereo null
// sink carries, sample-aligned, A's microphone on the left and B's speaker
// on the right:
//
//	stimulus ─▶ AMic (remap sink) ─▶ Rig left ─▶ AMicSource (remap source) ─▶ A
//	B ─▶ BSpk (remap sink) ─▶ Rig right
//	Rig.monitor ─▶ one stereo recording
//
// so that one recording of the Rig's monitor shows, on one clock, when
// each sound was rendered into A's microphone and when B rendered it into
// its speaker. ASpk and BMic are plain mono null sinks: A's speaker, and
// B's microphone, which stays silent.
type Rig struct {
	Sink       string // the stereo null sink
	AMic       string // play the stimulus here
	AMicSource string // A captures from here (PULSE_SOURCE)
	BSpk       string // B plays here (PULSE_SINK)
	ASpk       string // A plays here
	BMic       string // B captures from its monitor

	modules []string // in load order
	keep    []*exec.Cmd
}

// NewRig loads the rig's modules, named after name and this process. Close
// unloads them.
func NewRig(ctx context.Context, name string) (*Rig, error) {
	sweep(ctx)
	p := fmt.Sprintf("bench_%s_%d", name, os.Getpid())
	r := &Rig{
		Sink: p + "_rig", AMic: p + "_amic", AMicSource: p + "_amic_src", BSpk: p + "_bspk",
		ASpk: p + "_aspk", BMic: p + "_bmic",
	}
	desc := func(what, n string) string {
		return fmt.Sprintf("%s_properties='device.description=%s %s%d'", what, n, ownerTag, os.Getpid())
	}
	loads := [][]string{
		{"module-null-sink", "sink_name=" + r.Sink, "rate=48000", "channels=2", "channel_map=front-left,front-right", desc("sink", r.Sink)},
		{"module-remap-sink", "sink_name=" + r.AMic, "master=" + r.Sink, "rate=48000", "channels=1", "channel_map=mono",
			"master_channel_map=front-left", "remix=no", desc("sink", r.AMic)},
		{"module-remap-sink", "sink_name=" + r.BSpk, "master=" + r.Sink, "rate=48000", "channels=1", "channel_map=mono",
			"master_channel_map=front-right", "remix=no", desc("sink", r.BSpk)},
		{"module-remap-source", "source_name=" + r.AMicSource, "master=" + r.Sink + ".monitor", "rate=48000", "channels=1",
			"channel_map=mono", "master_channel_map=front-left", "remix=no", desc("source", r.AMicSource)},
		{"module-null-sink", "sink_name=" + r.ASpk, "rate=48000", "channels=1", desc("sink", r.ASpk)},
		{"module-null-sink", "sink_name=" + r.BMic, "rate=48000", "channels=1", desc("sink", r.BMic)},
	}
	for _, l := range loads {
		id, err := pactlOut(ctx, append([]string{"load-module"}, l...)...)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.modules = append(r.modules, id)
	}
	// An idle null sink renders in 2 s blocks, which would delay the first
	// streams by up to 2 s: keep each playing silence at 10 ms latency and
	// restart its clock, so that it runs like a sound card from the start.
	for _, s := range []string{r.Sink, r.ASpk, r.BMic} {
		if err := r.keepAlive(ctx, s); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Rig) keepAlive(ctx context.Context, sink string) error {
	ch := "1"
	if sink == r.Sink {
		ch = "2"
	}
	cmd := exec.Command("pacat", "--verbose", "--playback", "--device="+sink, "--raw", "--format=s16le", "--rate=48000",
		"--channels="+ch, "--latency-msec=10", "--client-name=parleybench-keepalive")
	cmd.Stdin = zeros{} // through a pipe from here: if this process dies, pacat ends too
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: keep-alive stream for %s: %w", sink, err)
	}
	r.keep = append(r.keep, cmd)
	connected := make(chan bool, 1)
	go func() {
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
	select {
	case ok := <-connected:
		if !ok {
			return fmt.Errorf("bench: keep-alive stream for %s ended before connecting", sink)
		}
	case <-time.After(15 * time.Second):
		return fmt.Errorf("bench: keep-alive stream for %s did not connect", sink)
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, arg := range []string{"1", "0"} {
		if err := pactl(ctx, "suspend-sink", sink, arg); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the keep-alive streams and unloads the modules.
func (r *Rig) Close() error {
	for _, k := range r.keep {
		k.Process.Kill()
		k.Wait()
	}
	var errs []error
	for i := len(r.modules) - 1; i >= 0; i-- {
		errs = append(errs, pactl(context.Background(), "unload-module", r.modules[i]))
	}
	return errors.Join(errs...)
}

// PulseEnv is the environment that makes a PulseAudio client (parley through
// PortAudio and ALSA's pulse plugin, baresip through ALSA) capture from
// source and play into sink.
func PulseEnv(source, sink string) []string {
	return []string{"PULSE_SOURCE=" + source, "PULSE_SINK=" + sink}
}

// Play plays samples (48 kHz mono) into sink and returns once they have
// been played or ctx ends.
func Play(ctx context.Context, sink string, pcm []int16) error {
	cmd := exec.CommandContext(ctx, "pacat", "--playback", "--device="+sink, "--raw", "--format=s16le", "--rate=48000",
		"--channels=1", "--latency-msec=40", "--client-name=parleybench-stimulus")
	cmd.Stdin = bytes.NewReader(pcmBytes(pcm))
	if out, err := cmd.CombinedOutput(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("bench: play into %s: %w: %s", sink, err, bytes.TrimSpace(out))
	}
	return ctx.Err()
}

func pcmBytes(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

// Recording is a stereo capture of a source in progress.
type Recording struct {
	cmd    *exec.Cmd
	source string
	stderr *syncbuf.Buffer
	mu     sync.Mutex
	buf    []byte
	done   chan error
	ended  chan struct{} // closed when pacat's output ends
}

// Record starts capturing source (2 channels, 48 kHz) until Stop.
func Record(source string) (*Recording, error) {
	cmd := exec.Command("pacat", "--record", "--device="+source, "--raw", "--format=s16le", "--rate=48000",
		"--channels=2", "--latency-msec=10", "--client-name=parleybench-record")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: record %s: %w", source, err)
	}
	r := &Recording{cmd: cmd, source: source, stderr: stderr, done: make(chan error, 1), ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		b := make([]byte, 8192)
		for {
			n, err := out.Read(b)
			r.mu.Lock()
			r.buf = append(r.buf, b[:n]...)
			r.mu.Unlock()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
					err = nil
				}
				r.done <- err
				return
			}
		}
	}()
	return r, nil
}

// Started waits until the recording holds d, and fails if pacat ends
// first or delivers nothing for timeout.
func (r *Recording) Started(ctx context.Context, d, timeout time.Duration) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for r.Seconds() < d.Seconds() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.ended:
			return fmt.Errorf("bench: recording %s: pacat ended: %s", r.source, bytes.TrimSpace(r.stderr.Bytes()))
		case <-deadline:
			return fmt.Errorf("bench: recording %s: nothing for %v: %s", r.source, timeout, bytes.TrimSpace(r.stderr.Bytes()))
		case <-tick.C:
		}
	}
	return nil
}

// Seconds is how much has been recorded.
func (r *Recording) Seconds() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return float64(len(r.buf)) / 4 / SampleRate
}

// Stop ends the capture and returns the left and right channels.
func (r *Recording) Stop() (left, right []int16, err error) {
	r.cmd.Process.Signal(syscall.SIGTERM)
	err = <-r.done
	r.cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.buf) / 4
	left, right = make([]int16, n), make([]int16, n)
	for i := range n {
		left[i] = int16(binary.LittleEndian.Uint16(r.buf[4*i:]))
		right[i] = int16(binary.LittleEndian.Uint16(r.buf[4*i+2:]))
	}
	return left, right, err
}

// zeros is an endless source of silence.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// sweep unloads the modules that harness processes which no longer exist
// left loaded.
func sweep(ctx context.Context) {
	out, err := pactlOut(ctx, "list", "short", "modules")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 {
			continue
		}
		i := strings.Index(f[2], ownerTag)
		if i < 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimRight(strings.Fields(f[2][i+len(ownerTag):])[0], "'"))
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		pactl(ctx, "unload-module", f[0])
	}
}
