package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/internal/pulsetest"
)

// Env is what the measurements share: a work directory, the parley
// binary, a `parley serve` for the calls, and a log.
type Env struct {
	Dir    string
	Parley string
	// Client is the client build of parley (BuildParley with "client"),
	// which the calls run; empty, they run Parley.
	Client string
	Server *Server
	Logf   func(format string, args ...any)
	// Self is a command that runs DevLoop when given "devloop -frame N"
	// (the harness's own); empty, the device floors are not measured.
	Self string
	// Profile, when set and true for a contender, has perf sample A's
	// CPU during the call (if perf is installed).
	Profile func(Contender) bool
	// Settle is how long a call runs before the chirps (default 2 s).
	Settle time.Duration
}

// client is the parley binary the calls run.
func (e *Env) client() string {
	if e.Client != "" {
		return e.Client
	}
	return e.Parley
}

// Contender is one client set-up measured on the rig.
type Contender struct {
	Name   string   // as the report names it
	Client string   // "parley", "room" (parley in a room), "baresip" or "devloop"
	Args   []string // parley: flags for both call and answer
	Jitter string   // baresip: its jitter_buffer_delay setting, in frames
	About  string   // what the set-up is, for the report
	Stall  *Stall   // parley: a client stopped for a while during the chirps
}

// Contenders are the set-ups `make bench` measures.
var Contenders = []Contender{
	{Name: "parley", Client: "parley",
		About: "20 ms frames, adaptive jitter buffer, echo cancellation, noise suppression and gain control on " +
			"(the defaults)"},
	{Name: "parley --low-latency", Client: "parley", Args: []string{"--low-latency"},
		About: "10 ms frames, otherwise the defaults"},
	{Name: "parley, no processing", Client: "parley", Args: []string{"--aec", "off", "--noise-suppression", "off",
		"--agc", "off"},
		About: "20 ms frames, echo cancellation, noise suppression and gain control off: like for like with baresip, " +
			"which runs none"},
	{Name: RoomContender, Client: "room", Args: []string{"--aec", "off", "--noise-suppression", "off", "--agc", "off"},
		About: "as \"no processing\", A and B `parley join` in a room of four on the same server, which forwards A's " +
			"packets to B; two harness peers speak quiet tones, so that B hears three speakers, and a quiet tone " +
			"under the chirps keeps A a speaker for the server (processing off: noise suppression would take it away)"},
	{Name: "baresip", Client: "baresip", Jitter: "5-10",
		About: "Opus, 20 ms packets, its default jitter buffer (jitter_buffer_delay 5-10)"},
	{Name: "baresip jb 1-3", Client: "baresip", Jitter: "1-3",
		About: "its smallest safe jitter buffer (jitter_buffer_delay 1-3)"},
	{Name: "baresip, no jb", Client: "baresip", Jitter: "0-0",
		About: "no jitter buffer (jitter_buffer_delay 0-0): not safe beyond loopback"},
}

// Floors are diagnostics beside the contenders: parley's audio devices
// alone, microphone straight to speaker in one process (no codec, network
// or jitter buffer), at each frame size.
var Floors = []Contender{
	{Name: "devices only, 20 ms", Client: "devloop", Args: []string{"960"},
		About: "parley's microphone read in 20 ms frames, the newest frame played on its speaker: no call"},
	{Name: "devices only, 10 ms", Client: "devloop", Args: []string{"480"},
		About: "the same in 10 ms frames"},
}

// CallResult is what one call on the rig measured.
type CallResult struct {
	Contender Contender
	Events    []Event // chirps found in B's speaker
	Missed    []Event // chirps not found
	Latency   Dist    // of Events' delays
	Window    time.Duration
	// Share of one core used during the window: A (speaking, the caller)
	// and B (listening, the callee).
	CPUA, CPUB float64
	// Peak resident set size, bytes.
	RSSA, RSSB int64
	// At the end of the window: proportional set size and anonymous
	// memory, bytes.
	PssA, PssB, AnonA, AnonB int64
	// At the end of the window: A's resident set by what is mapped (see
	// MemoryParts).
	PartsA map[string]int64
	Load   float64 // the machine's 1-minute load average at the end
	// parley only: the median of the jitter buffer's delay that B reported
	// every second (its stats event), and how far B's speaker queue grew
	// after underruns (0: it stayed where it started, one device period).
	JitterBuffer time.Duration
	QueueGrowth  time.Duration
	Jitter       time.Duration // the median of the jitter B measured (its stats' jitter_ms)
	// parley only: the device latency B's speaker ended the call with (it
	// starts at the device's lowest and doubles at an xrun).
	SpeakerLatency time.Duration
	// Where A's CPU went, share of perf's samples by library ("kernel",
	// "parley" for the Go code, ...), when profiled.
	Profile map[string]float64
	// With a Stall: where in the recording it ended, and B's jitter
	// buffer delay from its stats events, by time since it ended.
	StallEnd time.Duration
	JBAfter  []Sample
}

// callPair is a call in progress between two client processes.
type callPair struct {
	a, b *Proc
	stop func()
}

// RunCall places a call from A to B with contender c over rig, plays d of
// chirps into A's microphone once media flows, records A's microphone and
// B's speaker in one stereo capture, and measures the delay of every chirp,
// and both clients' CPU and memory over those d.
func RunCall(ctx context.Context, e *Env, rig *Rig, c Contender, d time.Duration, seed uint64) (*CallResult, error) {
	dir := filepath.Join(e.Dir, "call_"+strings.NewReplacer(" ", "_", ",", "", "-", "").Replace(c.Name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var (
		pair *callPair
		err  error
	)
	switch c.Client {
	case "parley":
		pair, err = startParley(ctx, e, rig, c, dir)
	case "baresip":
		pair, err = startBaresip(ctx, rig, c, dir)
	case "devloop":
		pair, err = startDevLoop(ctx, e, rig, c, dir)
	case "room":
		pair, err = startRoom(ctx, e, rig, c, dir)
	default:
		err = fmt.Errorf("bench: unknown client %q", c.Client)
	}
	if err != nil {
		return nil, err
	}
	defer pair.stop()
	// Media flows; let both sides settle (a jitter buffer's first second).
	settle := e.Settle
	if settle == 0 {
		settle = 2 * time.Second
	}
	if err := sleep(ctx, settle); err != nil {
		return nil, err
	}
	rec := rig.Record(pulsetest.Monitor(rig.Sink))
	stopRec := func() ([]int16, []int16, error) { return rec.Stop() }
	defer func() {
		if rec != nil {
			_, _, _ = stopRec() // a run that failed before it stopped the recording
		}
	}()
	if err := rec.Started(ctx, 200*time.Millisecond, 10*time.Second); err != nil {
		return nil, err
	}
	cpuA, err := StartCPU(pair.a.Pid())
	if err != nil {
		return nil, err
	}
	cpuB, err := StartCPU(pair.b.Pid())
	if err != nil {
		return nil, err
	}
	var prof *perfRun
	if e.Profile != nil && e.Profile(c) {
		prof = startPerf(dir, pair.a.Pid(), d)
	}
	start := time.Now()
	stalled := make(chan stallEnd, 1)
	if c.Stall != nil {
		go func() { stalled <- c.Stall.run(ctx, pair, rec) }()
	}
	if err := rig.Play(ctx, rig.AMic, Chirps(seed, d)); err != nil {
		return nil, err
	}
	r := &CallResult{Contender: c, Window: time.Since(start), Load: LoadAverage()}
	var stall stallEnd
	if c.Stall != nil {
		if stall = <-stalled; stall.err != nil {
			return nil, stall.err
		}
		r.StallEnd = stall.inRecording
	}
	if prof != nil {
		r.Profile = prof.shares()
	}
	if r.CPUA, err = cpuA.Share(); err != nil {
		return nil, fmt.Errorf("%w (did %s exit? see %s)", err, pair.a.Name, dir)
	}
	if r.CPUB, err = cpuB.Share(); err != nil {
		return nil, fmt.Errorf("%w (did %s exit? see %s)", err, pair.b.Name, dir)
	}
	if _, r.RSSA, err = Memory(pair.a.Pid()); err != nil {
		return nil, err
	}
	if _, r.RSSB, err = Memory(pair.b.Pid()); err != nil {
		return nil, err
	}
	if r.PssA, r.AnonA, err = Mapped(pair.a.Pid()); err != nil {
		return nil, err
	}
	if r.PssB, r.AnonB, err = Mapped(pair.b.Pid()); err != nil {
		return nil, err
	}
	if r.PartsA, err = MemoryParts(pair.a.Pid()); err != nil {
		return nil, err
	}
	// The last chirp's way through.
	if err := sleep(ctx, defaultMaxLag+200*time.Millisecond); err != nil {
		return nil, err
	}
	left, right, err := stopRec()
	rec = nil
	if err != nil {
		return nil, err
	}
	r.Events, r.Missed = Delays(left, right, defaultMaxLag)
	switch c.Client {
	case "parley":
		pair.stop() // so that the logs are complete
		r.JitterBuffer, r.Jitter, r.QueueGrowth, r.SpeakerLatency = parleyFigures(dir, "parley-answer")
		if c.Stall != nil {
			for _, st := range parleyStats(dir, "parley-answer") {
				r.JBAfter = append(r.JBAfter, Sample{At: st.At.Sub(stall.at), Delay: st.Delay})
			}
		}
	case "room":
		pair.stop()
		r.JitterBuffer, r.Jitter, r.QueueGrowth, r.SpeakerLatency = parleyFigures(dir, roomListener)
	}
	var ds []time.Duration
	for _, ev := range r.Events {
		ds = append(ds, ev.Delay)
	}
	r.Latency = NewDist(ds)
	e.Logf("%s: %d chirps (%d missed): p50 %v p95 %v; CPU A %.1f%% B %.1f%%; peak RSS A %.1f MB B %.1f MB; load %.1f",
		c.Name, len(r.Events), len(r.Missed), ms(r.Latency.P50), ms(r.Latency.P95), 100*r.CPUA, 100*r.CPUB, mb(r.RSSA),
		mb(r.RSSB), r.Load)
	return r, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mb(b int64) float64        { return float64(b) / (1 << 20) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startParley starts `parley answer` as B and `parley call` as A, and
// returns once both say the call is answered.
func startParley(ctx context.Context, e *Env, rig *Rig, c Contender, dir string) (*callPair, error) {
	alice, err := e.Server.Token(ctx, nil, "alice")
	if err != nil {
		return nil, err
	}
	bob, err := e.Server.Token(ctx, nil, "bob")
	if err != nil {
		return nil, err
	}
	env := func(who, token string) []string {
		return []string{
			"PARLEY_SERVER=" + e.Server.URL, "PARLEY_TOKEN=" + token,
			"PARLEY_CONFIG=" + filepath.Join(dir, "none.json"),
			"XDG_STATE_HOME=" + filepath.Join(dir, who), "XDG_DATA_HOME=" + filepath.Join(dir, who),
		}
	}
	b, err := StartProc("parley-answer", dir, append(env("b", bob), PulseEnv(pulsetest.Monitor(rig.BMic), rig.BSpk)...),
		e.client(), append([]string{"answer", "--json"}, c.Args...)...)
	if err != nil {
		return nil, err
	}
	pair := &callPair{b: b}
	pair.stop = func() {
		if pair.a != nil {
			pair.a.Stop(syscall.SIGINT) // hangs up
		}
		pair.b.Stop(syscall.SIGINT)
	}
	fail := func(err error) (*callPair, error) {
		pair.stop()
		return nil, err
	}
	const wait = 30 * time.Second
	if err := b.WaitEvent(ctx, wait, map[string]string{"event": "connected", "up": "true"}); err != nil {
		return fail(err)
	}
	a, err := StartProc("parley-call", dir, append(env("a", alice), PulseEnv(rig.AMicSource, rig.ASpk)...),
		e.client(), append([]string{"call", "bob", "--json"}, c.Args...)...)
	if err != nil {
		return fail(err)
	}
	pair.a = a
	for _, p := range []*Proc{a, b} {
		if err := p.WaitEvent(ctx, wait, map[string]string{"event": "call_status_changed",
			"status": "answered"}); err != nil {
			return fail(err)
		}
	}
	return pair, nil
}

var errNoBaresip = errors.New("bench: baresip is not installed (apt-get install baresip-core)")

// startDevLoop runs DevLoop from A's microphone to B's speaker; it is both
// sides of the "call".
func startDevLoop(ctx context.Context, e *Env, rig *Rig, c Contender, dir string) (*callPair, error) {
	if e.Self == "" {
		return nil, errors.New("bench: no command to run the device loop")
	}
	p, err := StartProc("devloop", dir, PulseEnv(rig.AMicSource, rig.BSpk), e.Self, "devloop", "-frame", c.Args[0])
	if err != nil {
		return nil, err
	}
	if _, err := p.WaitLine(ctx, 30*time.Second, "the device loop",
		func(l string) bool { return l == "devloop running" }); err != nil {
		p.Stop(syscall.SIGINT)
		return nil, err
	}
	return &callPair{a: p, b: p, stop: func() { p.Stop(syscall.SIGINT) }}, nil
}

// parleyFigures reads what B (the process named b) reported: the median
// of its jitter buffer delay from its stats events (a call's), and the
// speaker queue's growth and the speaker's device latency at the end from
// its log.
func parleyFigures(dir, b string) (jb, jitter, growth, speaker time.Duration) {
	var ds, js []time.Duration
	for _, st := range parleyStats(dir, b) {
		ds = append(ds, st.Delay)
		js = append(js, st.Jitter)
	}
	first := time.Duration(0)
	if b, err := os.ReadFile(filepath.Join(dir, "b", "parley", "parley.log")); err == nil {
		for i, m := range queueMs.FindAllSubmatch(b, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			q := time.Duration(v) * time.Millisecond
			if i == 0 {
				first = q // the speaker's start
			}
			growth = max(growth, q)
		}
		for _, m := range speakerLatency.FindAllSubmatch(b, -1) {
			if d, err := time.ParseDuration(string(m[1])); err == nil {
				speaker = max(speaker, d)
			}
		}
	}
	growth -= first
	return Percentile(ds, 50), Percentile(js, 50), growth, speaker
}

// statsEvent is what a parley process's stats event says of its jitter
// buffer, and when.
type statsEvent struct {
	At            time.Time
	Delay, Jitter time.Duration // jitter_buffer_ms, jitter_ms
}

// parleyStats reads the stats events the process named b printed.
func parleyStats(dir, b string) []statsEvent {
	var out []statsEvent
	data, err := os.ReadFile(filepath.Join(dir, b+".stdout"))
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(data), "\n") {
		var ev struct {
			Event string  `json:"event"`
			Time  string  `json:"time"`
			JB    float64 `json:"jitter_buffer_ms"`
			J     float64 `json:"jitter_ms"`
		}
		if json.Unmarshal([]byte(l), &ev) != nil || ev.Event != "stats" {
			continue
		}
		at, _ := time.Parse(callfmt.TimeFormat, ev.Time)
		out = append(out, statsEvent{At: at, Delay: time.Duration(ev.JB * float64(time.Millisecond)),
			Jitter: time.Duration(ev.J * float64(time.Millisecond))})
	}
	return out
}

var (
	queueMs        = regexp.MustCompile(`speaker (?:open|underrun: queueing more)" .*?queue_ms=(\d+)`)
	speakerLatency = regexp.MustCompile(`speaker closed" .* latency=(\S+)`)
)

// perfRun is perf sampling a process's CPU.
type perfRun struct {
	out  string
	done chan error
}

// startPerf samples process pid's CPU for d with perf, if installed.
func startPerf(dir string, pid int, d time.Duration) *perfRun {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil
	}
	p := &perfRun{out: filepath.Join(dir, "perf.data"), done: make(chan error, 1)}
	cmd := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-o", p.out, "-p", strconv.Itoa(pid),
		"--", "sleep", strconv.Itoa(int(d.Seconds())))
	go func() { p.done <- cmd.Run() }()
	return p
}

// shares waits for perf and returns the share of samples of each part.
func (p *perfRun) shares() map[string]float64 {
	if err := <-p.done; err != nil {
		return nil
	}
	out, err := exec.Command("perf", "report", "-i", p.out, "--no-children", "--sort", "dso", "--stdio", "-g",
		"none").Output()
	if err != nil {
		return nil
	}
	shares := map[string]float64{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		shares[dsoPart(f[1])] += v / 100
	}
	return shares
}

// dsoPart groups a library under what it does.
func dsoPart(dso string) string {
	switch {
	case strings.Contains(dso, "kernel"):
		return "kernel (scheduling, system calls)"
	case strings.Contains(dso, "speexdsp"):
		return "echo cancellation and noise suppression (speexdsp)"
	case strings.Contains(dso, "webrtc_audio_processing"):
		return "echo cancellation (WebRTC)"
	case strings.Contains(dso, "opus"):
		return "Opus"
	case strings.Contains(dso, "pulse") || strings.Contains(dso, "asound") || strings.Contains(dso, "portaudio") ||
		dso == "alsa.so":
		return "PortAudio, ALSA and PulseAudio client libraries"
	case strings.HasPrefix(dso, "libc.") || strings.HasPrefix(dso, "libm.") || strings.Contains(dso, "vdso") ||
		strings.Contains(dso, "ld-linux"):
		return "C library"
	case dso == "parley":
		return "parley's Go code (with Pion and the Go runtime)"
	case dso == "baresip" || strings.HasPrefix(dso, "libre.") || strings.HasPrefix(dso, "librem.") ||
		strings.Contains(dso, "/baresip/"):
		return "baresip and its libre"
	}
	return "other"
}
