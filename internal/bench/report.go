package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ContenderResult is a contender's calls taken together.
type ContenderResult struct {
	Contender Contender
	Calls     []*CallResult
	Latency   Dist // every chirp of every call
	Missed    int
	Window    time.Duration // the calls' measured time, together
	// CPU: share of one core over all the calls' windows; RSS: the highest
	// peak of any call.
	CPUA, CPUB float64
	RSSA, RSSB int64
	// The highest proportional set size and anonymous memory of any call.
	PssA, PssB, AnonA, AnonB int64
	Load                     float64 // the mean load average at the end of the calls
	// parley: the median over the calls of the jitter buffer's median
	// delay, and the most the speaker queue grew in any call.
	JitterBuffer, Jitter, QueueGrowth time.Duration
	SpeakerLatency                    time.Duration // the highest device latency B's speaker ended a call with
	// A's resident set by what is mapped, at the end of its first call.
	PartsA map[string]int64
	Err    string // why it was not measured, if it was not
}

// Aggregate takes a contender's calls together.
func Aggregate(c Contender, calls []*CallResult) ContenderResult {
	r := ContenderResult{Contender: c, Calls: calls}
	var ds []time.Duration
	var cpuA, cpuB float64
	for _, call := range calls {
		for _, ev := range call.Events {
			ds = append(ds, ev.Delay)
		}
		r.Missed += len(call.Missed)
		w := call.Window.Seconds()
		cpuA += call.CPUA * w
		cpuB += call.CPUB * w
		r.Window += call.Window
		r.RSSA, r.RSSB = max(r.RSSA, call.RSSA), max(r.RSSB, call.RSSB)
		r.PssA, r.PssB = max(r.PssA, call.PssA), max(r.PssB, call.PssB)
		r.AnonA, r.AnonB = max(r.AnonA, call.AnonA), max(r.AnonB, call.AnonB)
		r.Load += call.Load / float64(len(calls))
	}
	if r.Window > 0 {
		r.CPUA, r.CPUB = cpuA/r.Window.Seconds(), cpuB/r.Window.Seconds()
	}
	r.Latency = NewDist(ds)
	var jbs, js []time.Duration
	for _, call := range calls {
		if call.JitterBuffer > 0 {
			jbs = append(jbs, call.JitterBuffer)
			js = append(js, call.Jitter)
		}
		r.QueueGrowth = max(r.QueueGrowth, call.QueueGrowth)
		r.SpeakerLatency = max(r.SpeakerLatency, call.SpeakerLatency)
		if r.PartsA == nil {
			r.PartsA = call.PartsA
		}
	}
	r.JitterBuffer, r.Jitter = Percentile(jbs, 50), Percentile(js, 50)
	return r
}

// Baseline is a command's peak RSS.
type Baseline struct {
	Command string
	Build   string // "": the client build the calls run; else which build, in words
	RSS     int64
}

// AllocFigure is the allocations per frame of a media path, as
// TestMediaPathAllocs measures them.
type AllocFigure struct {
	Path     string
	PerFrame float64
}

// Results is everything one run measured.
type Results struct {
	Date     time.Time
	Duration time.Duration
	Machine  Machine
	Versions []Version
	Rounds   int
	Chirps   time.Duration

	Latency  []ContenderResult // Contenders, in order
	Floors   []ContenderResult
	Stalls   []StallResult // each stall's calls, in the order of Stalls
	Setup    *SetupResult
	Capacity *CapacityResult
	Cluster  *ClusterResult
	Rooms    *RoomsResult
	Micro    []Micro
	Allocs   []AllocFigure
	Echo     []EchoResult // each canceller on each echo path
	// How late the microphone's processing gives audio back, at 20 ms and
	// 10 ms frames.
	ProcessingDelay20, ProcessingDelay10 time.Duration
	// Peak RSS of parley commands that make no call: "parley --help"
	// (the binary alone, client and full builds) and "parley devices"
	// (PortAudio's start-up).
	Baseline []Baseline
	// RoomsPlot is the rooms plot's path relative to the document, set by
	// whoever writes them ("": none).
	RoomsPlot  string   `json:"-"`
	BinarySize int64    // of the parley binary, bytes
	ClientSize int64    // of its client build, bytes
	Problems   []string // what could not be measured, and why
}

func (r *Results) contender(name string) *ContenderResult {
	for i := range r.Latency {
		if r.Latency[i].Contender.Name == name && r.Latency[i].Latency.N > 0 {
			return &r.Latency[i]
		}
	}
	return nil
}

func (r *Results) micro(name string) *Micro {
	for i := range r.Micro {
		if r.Micro[i].Name == name {
			return &r.Micro[i]
		}
	}
	return nil
}

// Target is one of issue 7's targets, judged.
type Target struct {
	Goal     string
	Measured string
	Met      bool
	Known    bool   // false: not measured in this run
	By       string // how far from the goal, when missed
}

func fms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func pct(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) }

// Targets judges the run against the targets.
func (r *Results) Targets() []Target {
	var ts []Target
	add := func(t Target) { ts = append(ts, t) }
	p, low, bs, bs13 := r.contender("parley"), r.contender("parley --low-latency"), r.contender("baresip"),
		r.contender("baresip jb 1-3")
	{
		t := Target{Goal: "mouth-to-ear p50 ≤ 70 ms with the adaptive jitter buffer and 20 ms frames, and below " +
			"baresip's low-latency setting (jb 1-3)"}
		if p != nil {
			t.Known = true
			t.Measured = "parley " + fms(p.Latency.P50)
			t.Met = p.Latency.P50 <= 70*time.Millisecond
			var by []string
			if !t.Met {
				by = append(by, fms(p.Latency.P50-70*time.Millisecond)+" over 70 ms")
			}
			if bs13 != nil {
				t.Measured += ", baresip jb 1-3 " + fms(bs13.Latency.P50)
				if p.Latency.P50 >= bs13.Latency.P50 {
					t.Met = false
					by = append(by, fms(p.Latency.P50-bs13.Latency.P50)+" over baresip jb 1-3")
				}
			}
			t.By = strings.Join(by, "; ")
		}
		add(t)
	}
	{
		t := Target{Goal: "low-latency mode (10 ms frames) mouth-to-ear p50 ≤ 55 ms"}
		if low != nil {
			t.Known, t.Measured, t.Met = true, fms(low.Latency.P50), low.Latency.P50 <= 55*time.Millisecond
			if !t.Met {
				t.By = fms(low.Latency.P50-55*time.Millisecond) + " over"
			}
		}
		add(t)
	}
	{
		t := Target{Goal: "each client's CPU ≤ baresip's in the same run (speaking side against speaking side, " +
			"listening against listening)"}
		if p != nil && bs != nil {
			t.Known = true
			t.Measured = fmt.Sprintf("parley %s speaking, %s listening; baresip %s, %s", pct(p.CPUA), pct(p.CPUB),
				pct(bs.CPUA), pct(bs.CPUB))
			t.Met = p.CPUA <= bs.CPUA && p.CPUB <= bs.CPUB
			if !t.Met {
				t.By = fmt.Sprintf("%.1f× and %.1f× baresip's", p.CPUA/bs.CPUA, p.CPUB/bs.CPUB)
			}
		}
		add(t)
	}
	{
		t := Target{Goal: "each client's peak RSS ≤ 25 MB (the client build; issue 20, where issue 7 asked 30 MB)"}
		if p != nil {
			hi := max(p.RSSA, p.RSSB)
			for _, c := range r.Latency {
				if c.Contender.Client == "parley" && c.Latency.N > 0 {
					hi = max(hi, c.RSSA, c.RSSB)
				}
			}
			t.Known = true
			t.Measured = fmt.Sprintf("parley %.1f MB caller, %.1f MB callee (up to %.1f MB in any set-up)", mb(p.RSSA),
				mb(p.RSSB), mb(hi))
			t.Met = hi <= 25<<20
			if !t.Met {
				t.By = fmt.Sprintf("%.1f MB over", mb(hi-25<<20))
			}
		}
		add(t)
	}
	if s := r.Setup; s != nil {
		d := s.DialToRinging
		t := Target{Goal: "dial to ringing p95 ≤ 50 ms", Known: true, Measured: fmt.Sprintf("p95 %s (p50 %s, p99 %s)",
			fms2(d.P95), fms2(d.P50), fms2(d.P99)),
			Met: d.P95 <= 50*time.Millisecond}
		if !t.Met {
			t.By = fms(d.P95-50*time.Millisecond) + " over"
		}
		add(t)
		worst := max(s.AnswerToAudioCaller.P95, s.AnswerToAudioCallee.P95)
		t = Target{Goal: "answer to first audio ≤ 150 ms (p95, both directions)", Known: true,
			Measured: fmt.Sprintf("p95 %s to the caller, %s to the callee", fms2(s.AnswerToAudioCaller.P95),
				fms2(s.AnswerToAudioCallee.P95)),
			Met: worst <= 150*time.Millisecond}
		if !t.Met {
			t.By = fms(worst-150*time.Millisecond) + " over"
		}
		add(t)
	} else {
		add(Target{Goal: "dial to ringing p95 ≤ 50 ms"})
		add(Target{Goal: "answer to first audio ≤ 150 ms"})
	}
	if c := r.Cluster; c != nil {
		if d, ok := c.ExtraHop(); ok {
			t := Target{Goal: "crossing nodes adds ≤ 1 ms to dial to ringing p99 (issue 8)", Known: true,
				Measured: fmt.Sprintf("%+.2f ms (p99 %s across the three nodes, %s within one of them)",
					float64(d)/float64(time.Millisecond), fms2(c.Runs[2].DialToRinging.P99),
					fms2(c.Runs[2].SameNodeDialToRinging.P99)),
				Met: d <= time.Millisecond}
			if !t.Met {
				t.By = fms2(d-time.Millisecond) + " over"
			}
			add(t)
		}
	}
	if c := r.Capacity; c != nil {
		t := Target{Goal: "≥ 20,000 idle connections, 20 contacts watched each, at ≤ 20 KB each", Known: true,
			Measured: fmt.Sprintf("%d connected, %.1f KB each", c.Connected, float64(c.PerConn)/1024),
			Met:      c.Connected >= 20000 && c.PerConn <= 20<<10}
		var by []string
		if c.Connected < 20000 {
			short := fmt.Sprintf("%d connections short", 20000-c.Connected)
			if c.Tried < c.Target && c.Connected == c.Tried {
				short += fmt.Sprintf(" (this machine's limit of %d open files per process, which root cannot "+
					"raise here)", c.FileLimit)
			}
			by = append(by, short)
		}
		if c.PerConn > 20<<10 {
			by = append(by, fmt.Sprintf("%.1f KB (%.1f×) over per connection", float64(c.PerConn-20<<10)/1024,
				float64(c.PerConn)/(20<<10)))
		}
		t.By = strings.Join(by, "; ")
		add(t)
	} else {
		add(Target{Goal: "≥ 20,000 idle connections, 20 contacts watched each, at ≤ 20 KB each"})
	}
	{
		t := Target{Goal: "zero allocations per frame on parley's own media path"}
		if len(r.Allocs) > 0 {
			t.Known, t.Met = true, true
			worst := 0.0
			for _, a := range r.Allocs {
				worst = max(worst, a.PerFrame)
			}
			t.Met = worst < 0.05
			t.Measured = fmt.Sprintf("at most %.3f per frame over %d paths", worst, len(r.Allocs))
			if !t.Met {
				t.By = fmt.Sprintf("%.2f per frame", worst)
			}
		}
		add(t)
	}
	ts = append(ts, r.roomTargets()...)
	return append(ts, r.stallTarget(), r.echoTarget())
}

func fms2(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// WriteMarkdown writes the report; plotFile is the plot's path relative to
// the document.
func (r *Results) WriteMarkdown(w io.Writer, plotFile string) error {
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f("# Benchmarks: parley beside baresip\n\n")
	f("Written by `make bench` (the harness is `cmd/parleybench`, its measurements package `internal/bench`) ")
	f("on %s, in %s. ", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Duration.Round(time.Second))
	f("Every figure below was measured in that one run, parley and baresip on the same machine under the same " +
		"conditions; ")
	f("run `make bench` again to measure yours. The machine is shared and noisy: read medians and ratios, not single " +
		"figures.\n\n")

	f("## Machine and versions\n\n| | |\n|---|---|\n")
	f("| machine | %s |\n", r.Machine)
	if len(r.Latency) > 0 {
		var loads []float64
		for _, c := range append(slices.Clone(r.Latency), r.Floors...) {
			for _, call := range c.Calls {
				loads = append(loads, call.Load)
			}
		}
		if len(loads) > 0 {
			f("| load during the calls | 1-minute load average %.1f to %.1f (2 cores: above 2, something else was "+
				"running) |\n", slices.Min(loads), slices.Max(loads))
		}
	}
	for _, v := range r.Versions {
		f("| %s | %s |\n", v.Name, v.Version)
	}
	f("\n")

	f("## Targets (issue 7; rooms: issue 17; stalls and echo: issue 20)\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range r.Targets() {
		verdict := "not measured"
		switch {
		case t.Known && t.Met:
			verdict = "**met**"
		case t.Known:
			verdict = "**missed**: " + t.By
		}
		f("| %s | %s | %s |\n", t.Goal, t.Measured, verdict)
	}
	f("\nWhy each miss happens, and what would fix it: [below](#why-the-misses-and-what-would-fix-them).\n\n")

	r.writeLatency(f, plotFile)
	r.writeStalls(f)
	r.writeEcho(f)
	r.writeCPU(f)
	r.writeSetup(f)
	r.writeCapacity(f)
	r.writeCluster(f)
	r.writeRooms(f)
	r.writeMicro(f)
	r.writeWhy(f)
	if len(r.Problems) > 0 {
		f("## Not measured in this run\n\n")
		for _, p := range r.Problems {
			f("- %s\n", p)
		}
		f("\n")
	}
	f("## How to run it\n\n")
	f("`make bench` installs what it needs (baresip-core, PulseAudio, sox…), builds parley, ")
	f("and runs `go run ./cmd/parleybench`, which writes this file and its plot. ")
	f("`go run ./cmd/parleybench -h` lists the knobs (rounds, chirp time, numbers of calls and connections). ")
	f("A short version of every measurement runs with the e2e tier of the tests " +
		"(`go test -tags e2e ./internal/bench`), ")
	f("asserting only that each produces sane figures.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Results) writeLatency(f func(string, ...any), plotFile string) {
	f("## Mouth-to-ear latency\n\n")
	f("**Rig.** PulseAudio null sinks, loopback network, real devices: parley opens them through PortAudio and " +
		"ALSA's PulseAudio plugin, ")
	f("baresip through its ALSA module and the same plugin. One stereo null sink carries A's microphone on its left " +
		"channel and B's speaker on its right ")
	f("(remap sinks and a remap source route the clients to their channel), so that one recording of its monitor " +
		"shows, sample-aligned on one clock, ")
	f("when a sound was rendered into A's microphone and when B rendered it into its speaker. ")
	f("The stimulus is linear chirps (50–90 ms, random sweeps between 400 and 3400 Hz) at irregular intervals " +
		"(250–600 ms): periodic clicks would alias. ")
	f("Each chirp's onset is found on the left channel and a 100 ms window around it cross-correlated with the right " +
		"channel (normalised; below 0.5 the chirp counts as missed): ")
	f("one delay per chirp. Each set-up made %d calls (A calls B, B answers; each call's first 2 s are left to "+
		"settle) of %v of chirps, in rounds that interleave the set-ups, ",
		r.Rounds, r.Chirps)
	f("so that a load from elsewhere falls on all of them alike. Several calls per set-up matter: the phase between " +
		"the sender's frames and the receiver's playout is fixed for a call ")
	f("but random from call to call, which moves a call's latency by up to a frame.\n\n")
	if plotFile != "" {
		f("![latency distributions](%s)\n\n", plotFile)
	}
	f("| set-up | calls | chirps (missed) | p50 | p95 | min | max | jitter buffer | what it is " +
		"|\n|---|---|---|---|---|---|---|---|---|\n")
	row := func(c ContenderResult) {
		if c.Latency.N == 0 {
			f("| %s | – | – | – | – | – | – | – | not measured: %s |\n", c.Contender.Name, c.Err)
			return
		}
		jb := "–"
		if c.JitterBuffer > 0 {
			jb = fmt.Sprintf("%s (jitter %s)", fms(c.JitterBuffer), fms2(c.Jitter))
			if c.QueueGrowth > 0 {
				jb += fmt.Sprintf("; speaker queue up to +%s", fms(c.QueueGrowth))
			}
			if c.SpeakerLatency > 0 {
				jb += fmt.Sprintf("; speaker device latency up to %s", fms(c.SpeakerLatency))
			}
		}
		f("| %s | %d | %d (%d) | %s | %s | %s | %s | %s | %s |\n", c.Contender.Name, len(c.Calls), c.Latency.N,
			c.Missed,
			fms2(c.Latency.P50), fms2(c.Latency.P95), fms2(c.Latency.Min), fms2(c.Latency.Max), jb, c.Contender.About)
	}
	for _, c := range r.Latency {
		row(c)
	}
	for _, c := range r.Floors {
		row(c)
	}
	f("\n")
	var calls []string
	for _, c := range r.Latency {
		if c.Latency.N == 0 {
			continue
		}
		var p []string
		for _, call := range c.Calls {
			p = append(p, fms(call.Latency.P50))
		}
		calls = append(calls, fmt.Sprintf("%s %s", c.Contender.Name, strings.Join(p, ", ")))
	}
	if len(calls) > 0 {
		f("Each call's own p50: %s.\n\n", strings.Join(calls, "; "))
	}
	f("\"Jitter buffer\" is parley's own figure: the median of the delay its jitter buffer reported every second on " +
		"B (the `jitter_buffer_ms` of its stats events; the jitter is their `jitter_ms`), ")
	f("and how far B's speaker queue grew after underruns (it starts at one device period, 5 ms, grows by half a " +
		"frame at each underrun and shrinks after a calm minute).\n\n")
}

func (r *Results) writeCPU(f func(string, ...any)) {
	f("## CPU and memory of each client\n\n")
	f("Measured over the same calls: CPU time (user and system, all threads, from `/proc/PID/stat`) over the wall " +
		"time while the chirps played, ")
	f("as a share of one core; peak resident set size (`VmHWM`), and, at the end of the chirps, the proportional set " +
		"size (shared pages divided among ")
	f("the processes that map them) and the anonymous memory (heaps and stacks: the process's own) from " +
		"`smaps_rollup`. ")
	f("A speaks (the chirps), B listens; both send and receive all along (neither uses DTX or silence " +
		"suppression).\n\n")
	f("| set-up | CPU, A speaking | CPU, B listening | peak RSS, A / B | PSS, A / B | anonymous, A / B " +
		"|\n|---|---|---|---|---|---|\n")
	for _, c := range r.Latency {
		if c.Latency.N == 0 {
			continue
		}
		f("| %s | %s | %s | %.1f / %.1f MB | %.1f / %.1f MB | %.1f / %.1f MB |\n", c.Contender.Name, pct(c.CPUA),
			pct(c.CPUB),
			mb(c.RSSA), mb(c.RSSB), mb(c.PssA), mb(c.PssB), mb(c.AnonA), mb(c.AnonB))
	}
	f("\n")
}

func (r *Results) writeSetup(f func(string, ...any)) {
	s := r.Setup
	if s == nil {
		return
	}
	f("## Call setup\n\n")
	f("%d calls on loopback, one after the other, between two phones of the `call` package in the harness's process "+
		"(real signaling over WebSocket to a `parley serve` process, ", s.Calls)
	f("real Pion peer connections, ICE with the server's TURN among the candidates, DTLS-SRTP), with a tone as each " +
		"microphone and paced null sinks as speakers. ")
	f("Dial to ringing runs from `Phone.Dial` on the caller to the callee's ringing event (when its ringtone " +
		"starts); answer to first audio from `Phone.Answer` on the callee ")
	f("to the first frame of the other side's tone handed to each speaker (ICE, DTLS, the first packets, and the " +
		"jitter buffer's 40 ms start).\n\n")
	setupTable(f, s)
}

func setupTable(f func(string, ...any), s *SetupResult) {
	f("| | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		d    Dist
	}{
		{"dial → ringing at the callee", s.DialToRinging},
		{"answer → first audio at the caller", s.AnswerToAudioCaller},
		{"answer → first audio at the callee", s.AnswerToAudioCallee},
	} {
		f("| %s | %s | %s | %s | %s |\n", row.name, fms2(row.d.P50), fms2(row.d.P95), fms2(row.d.P99), fms2(row.d.Max))
	}
	f("\n")
}

func (r *Results) writeCapacity(f func(string, ...any)) {
	c := r.Capacity
	if c == nil {
		return
	}
	f("## Server capacity\n\n")
	where := "the harness's process"
	if c.Procs > 0 {
		where = fmt.Sprintf("%d helper processes of the harness", c.Procs)
	}
	f("One `parley serve` (embedded NATS, default settings) and %d clients of the `signaling` package in %s, each a "+
		"user with its own token ", c.Tried, where)
	f("and %d contacts on the server (the next %d users: so each connection watches %d people, and is watched "+
		"by as many): ", Contacts, Contacts, Contacts)
	f("WebSocket, connect, welcome (with its TURN credentials), the contacts' presence, then idle, answering the " +
		"server's pings and hearing of the others' comings. ")
	f("They leave from %d loopback addresses (200 each: each address has its own ephemeral ports). ", c.Addrs)
	f("The contacts are added first, over HTTP, with the per-address limits raised for that; nothing else is changed. ")
	if c.Tried < c.Target {
		f("**%d rather than %d:** this machine limits every process to %d open files, a limit that root cannot raise "+
			"here, and the server had %d open before the connections (its stores, listeners and logs) and needs a "+
			"few more for the calls that follow; ",
			c.Tried, c.Target, c.FileLimit, c.ServerFiles)
		f("on a machine that allows more (`LimitNOFILE` in a systemd unit, `ulimit -n`), the same run "+
			"connects all %d. ", c.Target)
	}
	f("Memory per connection is the server's resident set growth from before the connections (their users already " +
		"created by issuing the tokens) ")
	f("to 10 s after the last one (the median of five readings), over the connections.\n\n")
	f("| | |\n|---|---|\n")
	f("| connected | %d of %d tried, in %v |\n", c.Connected, c.Tried, c.ConnectTime.Round(100*time.Millisecond))
	f("| server RSS | %.1f MB before, %.1f MB with them |\n", mb(c.BaseRSS), mb(c.LoadedRSS))
	f("| per connection | %.1f KB |\n", float64(c.PerConn)/1024)
	f("| server CPU while they idle | %s of one core (presence heartbeats: each connection rewrites its presence "+
		"record every 5 s) |\n", pct(c.IdleCPU))
	f("\n")
	if c.Setup != nil {
		f("Then %d calls between two more clients, with all of them still connected:\n\n", c.Setup.Calls)
		setupTable(f, c.Setup)
	}
}

func (r *Results) writeMicro(f func(string, ...any)) {
	if len(r.Micro) == 0 {
		return
	}
	f("## Go micro-benchmarks\n\n")
	f("`go test -bench -benchmem`, median of %d runs each. The call package's paths run through the same goroutines "+
		"as a call, with in-memory ends: ", r.Micro[0].Runs)
	f("a source that never waits, a track that keeps nothing (send); a track that serves pre-encoded RTP packets and " +
		"a sink that never waits (receive). ")
	f("They leave out Pion's own work (packetisation, SRTP, interceptors, sockets). \"+dsp\" passes the source for a " +
		"microphone, so echo cancellation, ")
	f("noise suppression and gain control run too. The share of a core is the time per op over the op's audio (20 ms " +
		"or 10 ms).\n\n")
	f("| benchmark | time per op | share of a core | allocs/op | B/op | one op |\n|---|---|---|---|---|---|\n")
	for _, m := range r.Micro {
		frame := 20 * time.Millisecond
		if strings.Contains(m.Name, "10ms") {
			frame = 10 * time.Millisecond
		}
		share := "–"
		if m.Name != "Level" {
			share = pct(m.PerOp.Seconds() / frame.Seconds())
		}
		f("| %s.%s | %s | %s | %d | %d | %s |\n", m.Package, m.Name, fmtDur(m.PerOp), share, m.Allocs, m.Bytes, m.About)
	}
	f("\n")
	if len(r.Allocs) > 0 {
		f("Allocations per frame once a path runs (`TestMediaPathAllocs` in `call/`, which fails above 0.05: counted " +
			"over 1000 frames, whole process): ")
		var parts []string
		for _, a := range r.Allocs {
			parts = append(parts, fmt.Sprintf("%s %.3f", a.Path, a.PerFrame))
		}
		f("%s. (The B/op above are the set-up's, spread over the ops.)\n\n", strings.Join(parts, ", "))
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d.Nanoseconds())
}

func (r *Results) writeCluster(f func(string, ...any)) {
	c := r.Cluster
	if c == nil {
		return
	}
	f("## Several nodes\n\n")
	f("Calls on loopback between raw signaling clients (no media: the servers' part of a call): dial, ringing from " +
		"the callee, hang-up. ")
	f("Dial to ringing runs from the caller's dial to the ringing status it gets back, which on three nodes crossed " +
		"from the caller's node to the callee's and back ")
	f("through nats-server %s (JetStream). %d calls one at a time give dial to ringing alone; %d more, from %d pairs "+
		"at once, give calls per second ", c.NATS, c.Calls, c.Calls, c.Pairs)
	f("(whole calls, dial to both ends told it ended) and dial to ringing under that load (on 2 cores, three nodes, " +
		"nats-server and the clients share them).\n\n")
	f("| | dial → ringing p50 | p99 | calls/s, %d pairs at once | dial → ringing p50 | p99 "+
		"|\n|---|---|---|---|---|---|\n", c.Pairs)
	for _, run := range c.Runs {
		d, l := run.DialToRinging, run.LoadedDialToRinging
		f("| %s | %s | %s | %.0f | %s | %s |\n", run.Name, fms2(d.P50), fms2(d.P99), run.CallsPerSecond, fms2(l.P50),
			fms2(l.P99))
	}
	f("\n")
	if d, ok := c.ExtraHop(); ok {
		s := c.Runs[2].SameNodeDialToRinging
		f("On the three nodes, calls between two users of one node took turns with the calls across nodes: dial to "+
			"ringing p50 %s, p99 %s. ", fms2(s.P50), fms2(s.P99))
		f("Crossing nodes added %+.2f ms at p99 (every message goes through nats-server either way; crossing changes "+
			"which node handles the callee's side).\n\n", float64(d)/float64(time.Millisecond))
	}
}
