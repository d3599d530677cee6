package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The explanations below were established while building the harness (by
// the measurements it makes, perf profiles of the clients in a call, heap
// profiles of the server and reading the code); the figures in them are
// this run's.

func (r *Results) floor(name string) *ContenderResult {
	for i := range r.Floors {
		if r.Floors[i].Contender.Name == name && r.Floors[i].Latency.N > 0 {
			return &r.Floors[i]
		}
	}
	return nil
}

// profileOf returns the first perf profile of a contender's calls.
func (r *Results) profileOf(name string) map[string]float64 {
	if c := r.contender(name); c != nil {
		for _, call := range c.Calls {
			if call.Profile != nil {
				return call.Profile
			}
		}
	}
	return nil
}

func shares(p map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var s []kv
	for k, v := range p {
		if v >= 0.01 {
			s = append(s, kv{k, v})
		}
	}
	slices.SortFunc(s, func(a, b kv) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, e := range s {
		parts = append(parts, fmt.Sprintf("%s %.0f %%", e.k, 100*e.v))
	}
	return strings.Join(parts, ", ")
}

// writeWhy explains the misses, and says what was changed in parley.
func (r *Results) writeWhy(f func(string, ...any)) {
	f("## Why the misses and what would fix them\n\n")
	p, low, noproc, bs, bs13 := r.contender("parley"), r.contender("parley --low-latency"),
		r.contender("parley, no processing"),
		r.contender("baresip"), r.contender("baresip jb 1-3")
	f20, f10 := r.floor("devices only, 20 ms"), r.floor("devices only, 10 ms")

	if p != nil {
		f("### Mouth-to-ear latency, 20 ms frames\n\n")
		f("parley's p50 of %s adds up from:\n\n", fms(p.Latency.P50))
		if f20 != nil {
			f("- **The devices: %s** (the \"devices only\" row's median: parley's microphone straight to its "+
				"speaker, no call; %s at best). ",
				fms(f20.Latency.P50), fms(f20.Latency.Min))
		} else {
			f("- **The devices.** ")
		}
		f("A frame is read only once complete (20 ms); the speaker asks for the next frame when one device period (5 " +
			"ms) is left queued; ")
		f("the rest is PortAudio, ALSA's PulseAudio plugin and PulseAudio, both ways (the speaker runs 5 ms periods, " +
			"the microphone one period a frame).\n")
		if r.ProcessingDelay20 > 0 {
			f("- **The microphone's processing: %s.** Echo cancellation, noise suppression and gain control are on "+
				"by default for a microphone, and speexdsp's preprocessor, ", fms(r.ProcessingDelay20))
			f("which runs for all three, works on overlapping windows and hands each frame back one frame late; " +
				"WebRTC's echo canceller, the default, adds 8 ms (measured by passing chirps through parley's " +
				"`audio.Processor`). ")
			if noproc != nil {
				f("The \"no processing\" row (%s) is about that much quicker.", fms(noproc.Latency.P50))
			}
			f("\n")
		}
		f("- **Opus**: 6.5 ms of algorithmic delay (its look-ahead).\n")
		f("- **The jitter buffer**")
		if p.JitterBuffer > 0 {
			f(": a median of %s in these calls, over a measured jitter of %s", fms(p.JitterBuffer), fms2(p.Jitter))
		}
		f(". Its target is one frame plus the jitter's 95th percentile. It starts at 40 ms and drops a frame once it " +
			"has held half a frame more than its target for a while, ")
		f("so on an idle loopback, with a jitter of about a millisecond, it settles at one packet. The load's jitter " +
			"raises it. ")
		f("On top, the phase between the sender's frames and the receiver's playout adds 0 to 20 ms, fixed for a " +
			"call, random from call to call.\n")
		f("- **The load.** On a busy machine the devices underrun: the speaker's margin grows by half a frame at " +
			"each underrun")
		if p.QueueGrowth > 0 {
			f(" (by up to %s in these calls)", fms(p.QueueGrowth))
		}
		f(", shrinking only after a calm minute; when the device itself runs dry (an xrun below PortAudio), the " +
			"speaker opens it again with twice the device latency (20, 40, 80 ms), which the echo canceller needs " +
			"more than the milliseconds")
		if p.SpeakerLatency > 0 {
			f(" (up to %s in these calls)", fms(p.SpeakerLatency))
		}
		f("; ")
		f("and the jitter buffer holds its clock when a packet comes late (the sender, starved, sends in bursts), " +
			"then drops back a frame at a time. ")
		f("That is the spread between p50 and p95, and between calls.\n\n")
		if bs13 != nil {
			rel := "below"
			if p.Latency.P50 >= bs13.Latency.P50 {
				rel = "not below"
			}
			f("On this rig baresip is slower (%s with its default jitter buffer, %s with its smallest safe one): "+
				"parley is %s baresip's low-latency setting, ", fms(bs.Latency.P50), fms(bs13.Latency.P50), rel)
			f("but baresip's own floor here is higher than the issue's figures (its ALSA periods are its packet " +
				"time, 20 ms, and its audio buffer holds 20 to 160 ms).\n\n")
		}
		f("**What would fix it** (not changed here: each is the design of the jitter buffer or the device layer, and " +
			"each trades away margin against underruns on a busy machine, which this one is):\n\n")
		f("1. Reaching PulseAudio (or PipeWire) through its own API instead of PortAudio over ALSA's plugin would " +
			"cut the devices' share, and their CPU (below).\n")
		f("2. Playing out in 10 ms frames while sending 20 ms packets would halve the frame-sized terms on the " +
			"receiving side.\n")
		if r.ProcessingDelay20 > 0 && r.ProcessingDelay10 > 0 {
			f("3. The microphone's processing could run on smaller blocks (speexdsp's preprocessor costs one block, "+
				"whatever its size): on 5 ms blocks, %s less. ", fms(r.ProcessingDelay20-r.ProcessingDelay10))
			f("The low-latency mode does (below), but at 20 ms frames it stays on the frame: on smaller blocks " +
				"speexdsp's echo canceller converges slower, and after 2 s of `TestProcessorCancelsEcho` took less " +
				"off the echo. ")
			f("On 5 ms blocks, 23.4 dB against 36.5 dB on 20 ms blocks with the echo 150 ms late, and 22.9 dB " +
				"against 27.9 dB in its reverberant room; on 10 ms blocks, 20.1 dB against 36.7 dB with the echo " +
				"300 ms late. ")
			f("Or the processing could run only where needed (no echo canceller with headphones).\n")
		}
		f("\n")
	}
	if low != nil {
		f("### Low-latency mode (10 ms frames)\n\n")
		f("The same terms, halved: ")
		if f10 != nil {
			f("the devices alone take %s; ", fms(f10.Latency.P50))
		}
		if low.JitterBuffer > 0 {
			f("the jitter buffer held %s over a jitter of %s (one 10 ms packet, as at 20 ms frames); ",
				fms(low.JitterBuffer), fms2(low.Jitter))
		}
		if r.ProcessingDelay10 > 0 {
			f("the microphone's processing %s (it runs on 5 ms blocks: at 10 ms frames the echo canceller takes as "+
				"much off the echo on them as on whole frames, `TestProcessorCancelsEcho`); ", fms(r.ProcessingDelay10))
		}
		f("Opus still adds 6.5 ms. p50 %s against 55 ms", fms(low.Latency.P50))
		if low.Latency.P50 > 55*time.Millisecond {
			f(": fixes 1 and 2 above apply")
		}
		f(".\n\n")
	}
	if p != nil && bs != nil {
		f("### CPU\n\n")
		f("parley uses %s of a core speaking and %s listening, baresip %s and %s. ", pct(p.CPUA), pct(p.CPUB),
			pct(bs.CPUA), pct(bs.CPUB))
		if prof := r.profileOf("parley"); prof != nil {
			f("Where a speaking parley's CPU went (perf, sampling the caller of the first call): %s. ", shares(prof))
		}
		if prof := r.profileOf("baresip"); prof != nil {
			f("baresip's: %s. ", shares(prof))
		}
		f("\n\n")
		if f20 != nil {
			f("- **The devices**: parley's microphone-to-speaker loop alone uses %s of a core", pct(f20.CPUA))
			if f20.CPUA > bs.CPUA {
				f(", more than baresip's whole client")
			}
			f(". Each PortAudio callback, through ALSA's PulseAudio plugin, wakes PortAudio's thread and the " +
				"plugin's PulseAudio thread, which take locks and poll (parley's reader and writer wake once a " +
				"frame, through a pipe). The speaker runs 5 ms periods, 200 callbacks a second; the microphone one " +
				"a frame, 50 a second at 20 ms frames (`TestMicWakeups` in `audio/`: it ran 5 ms periods too until " +
				"2026-12-07, 4 callbacks a frame, and the previous full run of this harness, that day, measured the " +
				"devices-only loop at 6.3 %% of a core: a quarter of the microphone's wake-ups took half a point). ")
			f("Most of it is the kernel switching between those threads: counted with strace over 4 s of a call " +
				"(2026-12-07), a speaking parley makes about 1,550 futex, 550 to 1,200 poll and 7,200 getpid system " +
				"calls a second (the last are libpulse's fork check, on each of its calls). baresip's ALSA periods " +
				"are 20 ms, both ways.\n")
		}
		if noproc != nil {
			f("- **Echo cancellation, noise suppression and gain control** (on by default for a microphone): without "+
				"them parley uses %s and %s.\n", pct(noproc.CPUA), pct(noproc.CPUB))
		}
		if m := r.micro("SendPath/20ms"); m != nil {
			f("- **Opus encoding** is most of the send path's %s of a core (micro-benchmarks below); receiving "+
				"costs little.\n", pct(m.PerOp.Seconds()/0.02))
		}
		f("\n**What would fix it**: the speaker's periods are the rest of the wake-ups, and longer ones cost " +
			"latency: in a trial of 2026-12-07 (two calls each, under load), 10 ms speaker periods took the " +
			"devices-only loop from about 5.9 %% to 4.3 %% of a core, and its latency from 56 ms to 73 ms; parley " +
			"keeps 5 ms. ")
		f("PulseAudio's own API, with one thread rather than PortAudio's and the ALSA plugin's, would cut the " +
			"wake-ups without the delay (issue 20 keeps PortAudio as the device layer); ")
		f("echo cancellation only where the speaker can reach the microphone (not with headphones).\n\n")
	}
	if p != nil {
		f("### Memory\n\n")
		f("parley's peak RSS is %.1f MB as the caller and %.1f MB as the callee", mb(p.RSSA), mb(p.RSSB))
		if bs != nil {
			f(", baresip's %.1f MB and %.1f MB", mb(bs.RSSA), mb(bs.RSSB))
		}
		f(". What parley owns alone, its anonymous memory, is %.1f MB", mb(p.AnonA))
		if bs != nil {
			f(" (baresip %.1f MB)", mb(bs.AnonA))
		}
		f("; RSS also counts whole every shared page the process maps.")
		if p.PartsA != nil {
			f(" At the end of a call the caller's resident set was: %s", parts(p.PartsA))
			if bs != nil && bs.PartsA != nil {
				f("; baresip's: %s", parts(bs.PartsA))
			}
			f(".")
		}
		f("\n\n")
		f("The calls ran the client build of parley (`make client`, `go build -tags client`: %s, without the server; "+
			"the full build is %s).\n\n", mbSize(r.ClientSize), mbSize(r.BinarySize))
		for _, b := range r.Baseline {
			f("- `%s`%s alone peaks at %.1f MB.", b.Command, b.Build, mb(b.RSS))
			switch {
			case b.Build != "":
				f(" The full build carries the server (NATS, JetStream, TURN) besides, and most of a Go " +
					"program's file is resident as soon as it runs: the client build saves that much in every call.")
			case b.Command == "parley --help":
				f(" The program alone: the client build's file, most of it resident from the start.")
			default:
				f(" PortAudio's start-up opens every PCM that ALSA's configuration defines, and the PulseAudio " +
					"connections. parley first drops ALSA's converters (a52, the rate converters, upmix…) from its " +
					"copy of the configuration: opening a52 or lavrate loaded libavcodec and the codec libraries it " +
					"links, 14 MB that stayed resident (`TestConvertersNotProbed` in `audio/`: a bare PortAudio " +
					"start peaks at about 30 MB in a test process, parley's at 15 MB).")
			}
			f("\n")
		}
		f("- PulseAudio's shared memory: its pool pages that the two device streams touched.\n\n")
		f("The program's file is the largest part, and it is resident whole as soon as a Go program runs, what " +
			"little of it a call uses: a 5 MB Go program that only sleeps (it imports net/http) has 3.3 of its " +
			"3.5 MB of mapped file resident, on ext4 and on tmpfs alike (2026-12-07). The client build maps " +
			"17.6 MB; with the shared libraries (baresip maps as much of them) and PulseAudio's pool, that alone " +
			"passes 25 MB, so the target cannot be met by parley's own memory.\n\n")
		f("**What would fix it**: a smaller program (the terminal UI, WebRTC and its DTLS are most of the client " +
			"build: a client without the TUI for scripts, say); opening PulseAudio directly rather than through " +
			"PortAudio and ALSA (their libraries and threads). ")
		f("The Go heap itself is small: the media path allocates nothing per frame.\n\n")
	}
	if s := r.Setup; s != nil {
		f("### Call setup\n\n")
		f("Dial to ringing (p95 %s) is a WebSocket message to the server, a NATS hop and the callee's peer "+
			"connection set-up (the offer is applied and the answer made while it rings, so that answering is quick). ",
			fms2(s.DialToRinging.P95))
		f("Answer to first audio (p95 %s to the caller) is ICE on loopback, the DTLS handshake, the first packets, "+
			"and the jitter buffer's 40 ms start. ", fms2(s.AnswerToAudioCaller.P95))
		if c := r.Capacity; c != nil && c.Setup != nil {
			f("With %d idle connections on the same server, dial to ringing reaches p95 %s and p99 %s: the server is "+
				"then busy with their presence heartbeats (%s of a core).",
				c.Connected, fms2(c.Setup.DialToRinging.P95), fms2(c.Setup.DialToRinging.P99), pct(c.IdleCPU))
		}
		f("\n\n")
	}
	if c := r.Capacity; c != nil {
		f("### Server capacity\n\n")
		f("%.1f KB per idle connection, against 20 KB, each watching 20 people. A connection costs one goroutine, "+
			"its reader, and nothing else that runs: ", float64(c.PerConn)/1024)
		f("one NATS subscription per node hands the users' messages to their connections, one goroutine per node " +
			"refreshes every session's presence record, spread over the heartbeat, ")
		f("and one goroutine per node follows everyone's presence with two JetStream consumers and tells each " +
			"connection of the people it watches (`feed.go`). ")
		f("In `TestIdleConnections` (5,000 connections, 20 contacts each, the server in the test's process), a " +
			"connection holds about 13.5 KB of heap and 4 KB of stack after a collection: ")
		f("the WebSocket's state with its 512-byte buffers, the connection's own, its 20 watches (48 bytes each, and " +
			"the feed's view of each person), the presence record in the embedded NATS; ")
		f("the reader waits for input in a shallow call (4 KB of stack, not 8). ")
		f("The rest of the resident set is the collector's headroom over what is live: `parley serve` runs it at " +
			"GOGC=50 (half Go's default) unless GOGC is set, ")
		f("which took 26.3 KB per connection at GOGC=100 down to 22.2 KB, for about 5 %% more of a core (trials of " +
			"2026-12-07); ")
		f("each connection rewrites its presence record every 5 s, which is the server's %s of a core while "+
			"they idle.\n\n", pct(c.IdleCPU))
		f("**What would fix it**: fewer heartbeats (a node's lease instead of each session's record: a dead node's " +
			"sessions removed by the others), which is most of the garbage and of the idle CPU; ")
		f("a WebSocket library that keeps less per connection (the WebSocket's own state is about 2 KB of " +
			"the 13.5).\n\n")
	}
	f("### What was changed in parley for this\n\n")
	f("- `call/media.go`: the receive path read each packet with `TrackRemote.ReadRTP`, which allocates a buffer and " +
		"a packet per read; it now reads into buffers from a fixed pool, ")
	f("parses the header in place, and the speaker hands each buffer back once the jitter buffer has copied the " +
		"payload. A malformed packet is now dropped instead of ending reception. ")
	f("The send and receive loops take small interfaces (what `TrackLocalStaticSample` and `TrackRemote` provide), " +
		"so that the benchmarks can drive them with in-memory tracks.\n")
	f("- `call/devices.go`: reading or writing a device put the error variable on the heap for every frame (its " +
		"address was taken for the failure report); the report now takes a copy. ")
	f("With both, neither media path allocates per frame (the last line of the micro-benchmarks).\n")
	f("- `parley call`, `answer` and `echo` take `--low-latency`: 10 ms frames.\n")
	f("- `signaling/server`: a connection had five goroutines (reader, writer, WebSocket pings, presence heartbeat, " +
		"presence watcher), a NATS subscription, net/http's 4 KB buffers and a send queue of 256 messages allocated " +
		"up front, 85.6 KB in all in the first run of this harness; ")
	f("it now has its reader alone (`hub.go`: one subscription per node; `heartbeat.go`: one goroutine refreshes " +
		"every session's presence; the writer and the watcher start when there is something to send or watch).\n")
	f("- `audio`' jitter buffer shrinks once it holds half a frame more than its target for a while (it waited for a " +
		"whole frame), so that a calm network plays one frame behind, not two.\n")
	f("- `audio`' speaker asks for the next frame when one device period (5 ms) is left queued, not half a frame (10 " +
		"ms at 20 ms frames); an underrun still raises that by half a frame.\n")
	f("- `audio`' microphone processing runs 10 ms frames (the low-latency mode) in 5 ms blocks: 5 ms less latency.\n")
	f("- `audio` drops ALSA's converter PCMs from its copy of ALSA's configuration before PortAudio probes the " +
		"devices (14 MB less: libavcodec and its codec libraries are no longer loaded).\n")
	f("- `audio`' microphone runs one PortAudio period a frame rather than 5 ms periods: a quarter of its device's " +
		"wake-ups at 20 ms frames, a half at 10 ms, with no delay added (a frame is read once whole either way).\n")
	f("- `make client` (`go build -tags client`) builds parley without the server: the calls above ran it.\n\n")
}

// mbSize says how large a binary is, if the run noted it.
func mbSize(size int64) string {
	if size == 0 {
		return "size not noted"
	}
	return fmt.Sprintf("%.0f MB", mb(size))
}

// writeFile writes path through write, atomically.
func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parts lists a resident set's parts, largest first.
func parts(p map[string]int64) string {
	var ks []string
	for k, v := range p {
		if v >= 512<<10 {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b string) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%s %.1f MB", k, mb(p[k])))
	}
	return strings.Join(out, ", ")
}
