package bench

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// EchoResult is how much one echo canceller took off the echo of one path
// of audiotest.EchoPaths (dB).
type EchoResult struct {
	Canceller audio.Canceller
	Path      string
	Jump      bool // the path's delay jumps: Before and After, else From2 and From4to9
	// From 2 s to the end, and from 4 to 9 s.
	From2, From4to9 float64
	// From 2 s to the jump, and from 1 s after it to the end.
	Before, After float64
	PerSecond     []float64
	CPU           time.Duration // the processing's CPU time per 20 ms frame
}

// MeasureEcho runs each echo canceller on each path of
// audiotest.EchoPaths, with 10 s of speech from the far end and nobody
// talking at the microphone, in 20 ms frames, echo cancellation and noise
// suppression on (as audio's TestProcessorDrift).
func MeasureEcho() ([]EchoResult, error) {
	far := audiotest.Speech(1, 10*time.Second)
	var out []EchoResult
	for _, kind := range audio.Cancellers() {
		for i, path := range audiotest.EchoPaths() {
			mic, clean, cpu, err := echoRun(kind, audiotest.NewDriftPath(path.Delay, 0.5, uint64(21+2*i)), far)
			if err != nil {
				return nil, err
			}
			off := func(from, to float64) float64 {
				a, b := int(from*audio.SampleRate), int(to*audio.SampleRate)
				return audiotest.DBFS(mic[a:b]) - audiotest.DBFS(clean[a:b])
			}
			r := EchoResult{Canceller: kind, Path: path.Name, Jump: path.JumpAt > 0, CPU: cpu}
			if r.Jump {
				at := float64(path.JumpAt) / audio.SampleRate
				r.Before, r.After = off(2, at), off(at+1, 10)
			} else {
				r.From2, r.From4to9 = off(2, 10), off(4, 9)
			}
			for s := 0; s < 10; s++ {
				r.PerSecond = append(r.PerSecond, off(float64(s), float64(s+1)))
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// echoRun plays far through path into a Processor with kind, and returns
// what the microphone heard, what the processor made of it and the CPU
// time it took per frame (the thread's: the machine may be shared).
func echoRun(kind audio.Canceller, path *audiotest.DriftPath, far []int16) (mic, out []int16, cpu time.Duration,
	err error) {
	n := audio.FrameSamples
	p, err := audio.NewProcessorWith(kind, n, 0, audio.ProcessorOptions{EchoCancellation: true,
		NoiseSuppression: true})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("bench: echo: %w", err)
	}
	defer p.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	frame := make([]int16, n)
	frames := 0
	for at := 0; at+n <= len(far); at += n {
		path.Played = append(path.Played, far[at:at+n]...)
		path.Mic(at, frame)
		mic = append(mic, frame...)
		t0 := threadCPU()
		p.Playback(far[at : at+n])
		p.Process(frame)
		cpu += threadCPU() - t0
		frames++
		out = append(out, frame...)
	}
	return mic, out, cpu / time.Duration(frames), nil
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// echoTarget judges issue 20's echo target: each path ≥ 25 dB off after
// 2 s (4 to 9 s as well), and after a 40 ms jump from 1 s after, with the
// canceller that does best.
func (r *Results) echoTarget() Target {
	t := Target{Goal: "echo cancellation takes ≥ 25 dB off the echo after 2 s on one clock and on two that drift " +
		"(0.1 %, 0.5 %, ±0.3 %), and again within 1 s of a 40 ms jump of its delay (issue 20)"}
	if len(r.Echo) == 0 {
		return t
	}
	t.Known = true
	var measured, by []string
	for _, kind := range audio.Cancellers() {
		worst, where := 1e9, ""
		for _, e := range r.Echo {
			if e.Canceller != kind {
				continue
			}
			v := min(e.From2, e.From4to9)
			if e.Jump {
				v = min(e.Before, e.After)
			}
			if v < worst {
				worst, where = v, e.Path
			}
		}
		measured = append(measured, fmt.Sprintf("%s at worst %.1f dB (%s)", kind.Title(), worst, where))
		if worst >= 25 {
			t.Met = true
		} else {
			by = append(by, fmt.Sprintf("%s %.1f dB short", kind.Title(), 25-worst))
		}
	}
	t.Measured = strings.Join(measured, ", ") + "; the worst of each path's windows"
	if !t.Met {
		t.By = strings.Join(by, ", ")
	}
	return t
}

// writeEcho writes the echo cancellers' section.
func (r *Results) writeEcho(f func(string, ...any)) {
	if len(r.Echo) == 0 {
		return
	}
	f("## Echo cancellation\n\n")
	f("parley's microphone processing (`audio.Processor`, echo cancellation and noise suppression on, 20 ms " +
		"frames) in-process, with each echo canceller, on the echo paths of `audiotest.EchoPaths`: 10 s of speech " +
		"from the far end reaches the microphone 80 ms later at -6 dB over a little noise, nobody talking at the " +
		"microphone. On two clocks the delay moves as the microphone's clock runs against the speaker's: the " +
		"speaker's signal is resampled at each microphone sample with a windowed sinc. \"dB off\" is the echo's " +
		"level at the microphone less what is left of it after the processing. audio's `TestProcessorDrift` " +
		"asserts the same figures.\n\n")
	f("| canceller | echo path | from 2 s | 4 to 9 s | before the jump | from 1 s after it | each second | " +
		"CPU per frame |\n")
	f("|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.Echo {
		secs := make([]string, len(e.PerSecond))
		for i, v := range e.PerSecond {
			secs[i] = fmt.Sprintf("%.0f", v)
		}
		if e.Jump {
			f("| %s | %s | – | – | %.1f dB | %.1f dB | %s | %s |\n", e.Canceller.Title(), e.Path, e.Before, e.After,
				strings.Join(secs, " "), fmtDur(e.CPU))
		} else {
			f("| %s | %s | %.1f dB | %.1f dB | – | – | %s | %s |\n", e.Canceller.Title(), e.Path, e.From2,
				e.From4to9, strings.Join(secs, " "), fmtDur(e.CPU))
		}
	}
	f("\nspeexdsp's canceller is an adaptive filter over the echo's tail (120 ms here, after parley's own delay " +
		"estimate): an echo that moves by a millisecond a second leaves it behind, and a longer (250 ms) or " +
		"shorter (40 ms) tail takes no more off (3.1 and 3.4 dB on clocks 0.1 %% apart). WebRTC's (" +
		"webrtc-audio-processing 0.3, delay-agnostic, with the extended filter) follows the delay as it moves and " +
		"suppresses what it is unsure of. What that costs: during double talk (audio's " +
		"`TestProcessorCancelsEcho`) it lets the near end through 5 to 11 dB down, its envelope correlating at " +
		"0.52 to 0.76, where speexdsp's passes it 1 dB down at 0.95 to 1.00; and it gives the microphone's audio " +
		"back 8 ms later (28 ms against 20 ms at 20 ms frames, 13 ms against 5 ms at 10 ms frames). WebRTC's is the " +
		"default (`--aec on`, or `--aec webrtc`): issue 20's target is 25 dB off on both kinds of path, which " +
		"speexdsp's misses wherever the speaker and the microphone run on two clocks (a USB microphone, a " +
		"Bluetooth headset); speexdsp's is `--aec speex`, for a laptop's own speaker and microphone (one clock), " +
		"where it keeps the near end clearer during double talk. \"CPU per frame\" is the processing's (echo " +
		"cancellation and noise suppression) CPU time per 20 ms frame, the thread's own, so that other " +
		"processes' do not count.\n\n")
}
