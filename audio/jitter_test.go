package audio_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

const frameDur = audio.FrameDuration

// packet is one simulated RTP packet and when it arrives.
type packet struct {
	seq     uint16
	ts      uint32
	payload []byte
	arrive  time.Duration // since the simulation epoch
}

// stream encodes d of a 440 Hz tone into packets sent every 20 ms from
// time 0, starting at the given sequence number and timestamp.
func stream(t testing.TB, d time.Duration, seq0 uint16, ts0 uint32) []packet {
	t.Helper()
	enc, err := audio.NewEncoder(audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	pcm := audiotest.Tone(440, 0.5, int(d/frameDur)*audio.FrameSamples)
	var out []packet
	for i, p := range encodeAll(t, enc, pcm) {
		out = append(out, packet{
			seq:     seq0 + uint16(i),
			ts:      ts0 + uint32(i*audio.FrameSamples),
			payload: p,
			arrive:  time.Duration(i) * frameDur,
		})
	}
	return out
}

// delay adds a fixed network delay to every packet.
func delay(pkts []packet, d time.Duration) []packet {
	for i := range pkts {
		pkts[i].arrive += d
	}
	return pkts
}

// sim is the result of playing packets through a jitter buffer.
type sim struct {
	kinds []audio.FrameKind
	pcm   []int16             // everything Pop returned
	stats []audio.JitterStats // after each Pop
	jb    *audio.JitterBuffer
}

// run delivers packets in arrival order to a default jitter buffer and
// pops a frame every 20 ms (at phase within the period) until the last
// packet has been played.
func run(t testing.TB, pkts []packet, phase time.Duration) sim {
	t.Helper()
	return runWith(t, audio.JitterConfig{}, pkts, phase)
}

func runWith(t testing.TB, cfg audio.JitterConfig, pkts []packet, phase time.Duration) sim {
	t.Helper()
	return runPaused(t, cfg, pkts, phase, nil)
}

// runPaused is runWith whose speaker stops popping while paused(pop) says
// so, as a receiver stalled with its speaker; nil never pauses. A pause
// adds no frames to the result.
func runPaused(t testing.TB, cfg audio.JitterConfig, pkts []packet, phase time.Duration,
	paused func(pop time.Duration) bool) sim {
	t.Helper()
	jb, err := audio.NewJitterBuffer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pkts = slices.Clone(pkts)
	slices.SortStableFunc(pkts, func(a, b packet) int { return int(a.arrive - b.arrive) })
	epoch := time.Unix(1_700_000_000, 0)
	s := sim{jb: jb}
	frame := make([]int16, audio.FrameSamples)
	next := 0
	for pop := phase; ; pop += frameDur {
		for next < len(pkts) && pkts[next].arrive <= pop {
			p := pkts[next]
			jb.Push(p.seq, p.ts, p.payload, epoch.Add(p.arrive))
			next++
		}
		if paused != nil && paused(pop) {
			continue
		}
		k := jb.Pop(frame)
		st := jb.Stats()
		s.kinds = append(s.kinds, k)
		s.pcm = append(s.pcm, frame...)
		s.stats = append(s.stats, st)
		// That was the last buffered audio, but for less than a frame
		// when the delay was shrunk by a cut shorter than a frame.
		if next == len(pkts) && k != audio.Waiting && st.BufferedDelay < 2*frameDur {
			return s
		}
	}
}

// started returns the frames from the first non-Waiting one on, and fails
// the test if any of them is Waiting (a hole) or pure digital silence.
func (s sim) started(t testing.TB) []audio.FrameKind {
	t.Helper()
	first := slices.IndexFunc(s.kinds, func(k audio.FrameKind) bool { return k != audio.Waiting })
	if first < 0 {
		t.Fatal("playout never started")
	}
	for i := first; i < len(s.kinds); i++ {
		if s.kinds[i] == audio.Waiting {
			t.Fatalf("frame %d is Waiting after playout started at frame %d", i, first)
		}
		f := s.pcm[i*audio.FrameSamples : (i+1)*audio.FrameSamples]
		if !slices.ContainsFunc(f, func(v int16) bool { return v != 0 }) {
			t.Fatalf("frame %d (%v) is silent after playout started", i, s.kinds[i])
		}
	}
	return s.kinds[first:]
}

func count(kinds []audio.FrameKind, k audio.FrameKind) int {
	n := 0
	for _, v := range kinds {
		if v == k {
			n++
		}
	}
	return n
}

func checkTone(t testing.TB, pcm []int16) {
	t.Helper()
	if f := audiotest.DominantFrequency(pcm); math.Abs(f-440) > 3 {
		t.Errorf("output dominant frequency = %.1f Hz, want 440 ± 3", f)
	}
}

func TestJitterInOrder(t *testing.T) {
	t.Parallel()
	pkts := delay(stream(t, 2*time.Second, 1000, 12345), 10*time.Millisecond)
	s := run(t, pkts, 15*time.Millisecond)
	k := s.started(t)
	if w := len(s.kinds) - len(k); w > 3 {
		t.Errorf("%d Waiting frames before playout, want <= 3 (start delay 40 ms)", w)
	}
	st := s.jb.Stats()
	// Every packet is played, except at most one dropped to shrink the
	// 40 ms start delay to the 20 ms target.
	if got := int(st.Decoded + st.Dropped); got != len(pkts) {
		t.Errorf("decoded %d + dropped %d = %d, want %d packets", st.Decoded, st.Dropped, got, len(pkts))
	}
	if st.Concealed > 2 || st.Recovered != 0 || st.Late != 0 {
		t.Errorf("stats = %+v, want nothing concealed, recovered or late", st)
	}
	mid := s.stats[len(s.stats)/2]
	if mid.TargetDelay != 20*time.Millisecond || mid.BufferedDelay > 40*time.Millisecond {
		t.Errorf("steady state target %v buffered %v; want 20ms and <= 40ms", mid.TargetDelay, mid.BufferedDelay)
	}
	checkTone(t, s.pcm)
}

func TestJitterReordered(t *testing.T) {
	t.Parallel()
	pkts := delay(stream(t, 3*time.Second, 1, 0), 10*time.Millisecond)
	// Every tenth packet overtakes its predecessor.
	for i := 1; i+1 < len(pkts); i += 10 {
		pkts[i].arrive += 25 * time.Millisecond
	}
	s := run(t, pkts, 5*time.Millisecond)
	k := s.started(t)
	st := s.jb.Stats()
	t.Logf("reordered: %+v", st)
	// Until the jitter window learns that packets come 25 ms late, a couple
	// may miss their slot; after that, none.
	if st.Late > 2 {
		t.Errorf("%d late packets, want <= 2", st.Late)
	}
	if c := count(k[len(k)/2:], audio.Concealed); c != 0 {
		t.Errorf("%d concealed frames in the second half, want 0", c)
	}
	checkTone(t, s.pcm)
}

func TestJitterDuplicates(t *testing.T) {
	t.Parallel()
	pkts := delay(stream(t, 2*time.Second, 500, 0), 10*time.Millisecond)
	n := len(pkts)
	for i := range n {
		dup := pkts[i]
		dup.arrive += 3 * time.Millisecond
		pkts = append(pkts, dup)
	}
	s := run(t, pkts, 15*time.Millisecond)
	s.started(t)
	st := s.jb.Stats()
	// A duplicate of a packet already played is late, one still buffered a
	// duplicate; either way it is dropped and nothing is played twice.
	if got := int(st.Duplicate + st.Late); got != n {
		t.Errorf("duplicates %d + late %d = %d, want %d", st.Duplicate, st.Late, got, n)
	}
	if got := int(st.Decoded + st.Dropped); got != n {
		t.Errorf("decoded %d + dropped %d = %d, want %d", st.Decoded, st.Dropped, got, n)
	}
	checkTone(t, s.pcm)
}

func TestJitterRandomLoss(t *testing.T) {
	t.Parallel()
	for _, loss := range []float64{0.05, 0.10, 0.20, 0.30} {
		t.Run(pct(loss), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(loss*1000), 7))
			all := delay(stream(t, 10*time.Second, 60000, 0), 10*time.Millisecond)
			var pkts []packet
			for i, p := range all {
				if i < 3 || rng.Float64() >= loss { // the first few always arrive
					pkts = append(pkts, p)
				}
			}
			s := run(t, pkts, 15*time.Millisecond)
			k := s.started(t)
			st := s.jb.Stats()
			lost := len(all) - len(pkts)
			dec, rec, con := count(k, audio.Decoded), count(k, audio.Recovered), count(k, audio.Concealed)
			t.Logf("loss %s: %d lost of %d; frames decoded %d recovered %d concealed %d; dropped %d; target %v",
				pct(loss), lost, len(all), dec, rec, con, st.Dropped, st.TargetDelay)
			if rec+con < lost*9/10 || rec+con > lost+5 {
				t.Errorf("recovered %d + concealed %d frames for %d lost packets", rec, con, lost)
			}
			if loss >= 0.10 && rec*3 < lost {
				t.Errorf("FEC recovered %d of %d lost packets, want at least a third", rec, lost)
			}
			checkTone(t, s.pcm)
			checkNoHoles(t, s)
		})
	}
}

// checkNoHoles: after playout starts, no 10 ms window of the steady tone
// is below -40 dBFS (concealment faded out), and no step between samples
// is a click (a 440 Hz tone at half scale moves at most 943 per sample).
func checkNoHoles(t testing.TB, s sim) {
	t.Helper()
	first := slices.IndexFunc(s.kinds, func(k audio.FrameKind) bool { return k != audio.Waiting })
	pcm := s.pcm[first*audio.FrameSamples:]
	quiet, worst := 0, 0.0
	for _, e := range audiotest.Envelope(pcm) {
		if e < 0.01 {
			quiet++
		}
	}
	at := 0
	for i := 1; i < len(pcm); i++ {
		if d := math.Abs(float64(pcm[i]) - float64(pcm[i-1])); d > worst {
			worst, at = d, i
		}
	}
	t.Logf("windows below -40 dBFS: %d; largest step between samples: %.0f (at frame %d)", quiet, worst,
		at/audio.FrameSamples+first)
	if quiet > 0 {
		t.Errorf("%d 10 ms windows below -40 dBFS: concealment left holes", quiet)
	}
	if worst > 2500 {
		t.Errorf("a step of %.0f between samples: a click", worst)
	}
}

// TestJitterBurstLoss: losses in bursts of up to five packets are bridged
// without holes.
func TestJitterBurstLoss(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	all := delay(stream(t, 10*time.Second, 100, 0), 10*time.Millisecond)
	var pkts []packet
	for i := 0; i < len(all); i++ {
		if i > 10 && rng.Float64() < 0.04 {
			i += 1 + rng.IntN(5) // lose 2 to 6 in a row
			continue
		}
		pkts = append(pkts, all[i])
	}
	s := run(t, pkts, 15*time.Millisecond)
	s.started(t)
	t.Logf("lost %d of %d in bursts", len(all)-len(pkts), len(all))
	checkTone(t, s.pcm)
	checkNoHoles(t, s)
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

func TestJitterAdaptsToJitterAndCalm(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(42, 42))
	pkts := stream(t, 30*time.Second, 100, 0)
	// 10 s calm, 10 s with 0..30 ms random extra delay, 10 s calm.
	for i := range pkts {
		d := 10 * time.Millisecond
		if at := pkts[i].arrive; at >= 10*time.Second && at < 20*time.Second {
			d += time.Duration(rng.Float64() * float64(30*time.Millisecond))
		}
		pkts[i].arrive += d
	}
	s := run(t, pkts, 7*time.Millisecond)
	k := s.started(t)
	at := func(d time.Duration) audio.JitterStats { return s.stats[int(d/frameDur)] }
	for _, d := range []time.Duration{9 * time.Second, 12 * time.Second, 19 * time.Second, 22 * time.Second,
		25 * time.Second, 29 * time.Second} {
		st := at(d)
		t.Logf("t=%2.0fs target %5v jitter %6v buffered %5v playout %6v", d.Seconds(), st.TargetDelay,
			st.Jitter.Round(time.Millisecond), st.BufferedDelay, st.PlayoutDelay.Round(time.Millisecond))
	}
	calm, jittery, after := at(9*time.Second), at(19*time.Second), at(29*time.Second)
	if calm.TargetDelay > 25*time.Millisecond || calm.BufferedDelay > 40*time.Millisecond {
		t.Errorf("before jitter: target %v buffered %v, want <= 25ms and <= 40ms", calm.TargetDelay, calm.BufferedDelay)
	}
	if jittery.TargetDelay < 40*time.Millisecond || jittery.TargetDelay > 60*time.Millisecond {
		t.Errorf("under 30 ms jitter: target %v, want 40..60ms (20 ms + 95th percentile ≈ 28.5 ms)",
			jittery.TargetDelay)
	}
	// The playout delay at one instant depends on which packet came last;
	// its mean over the adapted jitter phase is what the target steers.
	var sum time.Duration
	phase := s.stats[int(12*time.Second/frameDur):int(20*time.Second/frameDur)]
	for _, st := range phase {
		sum += st.PlayoutDelay
	}
	mean := sum / time.Duration(len(phase))
	t.Logf("mean playout delay under jitter: %v", mean.Round(time.Millisecond))
	if mean < 35*time.Millisecond || mean > 70*time.Millisecond {
		t.Errorf("under 30 ms jitter: mean playout delay %v, want 35..70ms", mean)
	}
	// Once adapted (after 2 s of jitter), at most 3 % of frames are concealed.
	adapted := k[int(12*time.Second/frameDur):int(20*time.Second/frameDur)]
	if c := count(adapted, audio.Concealed); c*100 > 3*len(adapted) {
		t.Errorf("%d of %d frames concealed under jitter after adapting, want <= 3%%", c, len(adapted))
	}
	if after.TargetDelay > 25*time.Millisecond || after.BufferedDelay > 40*time.Millisecond {
		t.Errorf("9 s after calm: target %v buffered %v, want <= 25ms and <= 40ms", after.TargetDelay,
			after.BufferedDelay)
	}
	if d := after.Dropped - jittery.Dropped; d == 0 {
		t.Error("no frame dropped after calm returned; the delay cannot have shrunk")
	}
	checkTone(t, s.pcm)
}

func TestJitterNeverExceedsMaxDelay(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pkts := stream(t, 20*time.Second, 7, 0)
	for i := range pkts {
		at := pkts[i].arrive
		d := 10 * time.Millisecond
		switch {
		case at >= 3*time.Second && at < 10*time.Second: // wild jitter: 0..800 ms
			d += time.Duration(rng.Float64() * float64(800*time.Millisecond))
		case at >= 12*time.Second && at < 13500*time.Millisecond: // 1.5 s outage, then a burst
			d += 13500*time.Millisecond - at
		}
		pkts[i].arrive += d
	}
	s := run(t, pkts, 3*time.Millisecond)
	s.started(t)
	var maxTarget, maxBuf, maxPlay time.Duration
	for _, st := range s.stats {
		maxTarget = max(maxTarget, st.TargetDelay)
		maxBuf = max(maxBuf, st.BufferedDelay)
		maxPlay = max(maxPlay, st.PlayoutDelay)
	}
	t.Logf("max target %v, buffered %v, playout %v; final %+v", maxTarget, maxBuf, maxPlay, s.jb.Stats())
	const limit = 500 * time.Millisecond
	if maxTarget != limit {
		t.Errorf("max target %v, want exactly %v under 800 ms jitter", maxTarget, limit)
	}
	if maxBuf > limit+frameDur {
		t.Errorf("max buffered delay %v, want <= %v", maxBuf, limit+frameDur)
	}
	if end := s.stats[len(s.stats)-1]; end.BufferedDelay > 40*time.Millisecond {
		t.Errorf("buffered %v at the end, 6 s after the outage; want <= 40ms", end.BufferedDelay)
	}
}

func TestJitterWrapAround(t *testing.T) {
	t.Parallel()
	pkts := delay(stream(t, 2*time.Second, 65500, uint32(math.MaxUint32-30*audio.FrameSamples)), 10*time.Millisecond)
	// Reorder across the sequence wrap (packet 35 is seq 65535). Reordering
	// needs 20 ms of delay headroom, so ask for 60 ms.
	pkts[35].arrive += 25 * time.Millisecond
	s := runWith(t, audio.JitterConfig{MinDelay: 60 * time.Millisecond, StartDelay: 60 * time.Millisecond}, pkts,
		15*time.Millisecond)
	k := s.started(t)
	st := s.jb.Stats()
	if c := count(k, audio.Concealed); c != 0 || st.Late != 0 || st.Resyncs != 0 {
		t.Errorf("across wrap-around: %d concealed, stats %+v", c, st)
	}
	if got := int(st.Decoded + st.Dropped); got != len(pkts) {
		t.Errorf("decoded %d + dropped %d, want %d", st.Decoded, st.Dropped, len(pkts))
	}
	checkTone(t, s.pcm)
}

func TestJitterResyncOnRestart(t *testing.T) {
	t.Parallel()
	a := delay(stream(t, 2*time.Second, 100, 5000), 10*time.Millisecond)
	b := delay(stream(t, 2*time.Second, 40000, 3_000_000_000), 2*time.Second+10*time.Millisecond)
	pkts := append(a, b...)
	s := run(t, pkts, 15*time.Millisecond)
	k := s.started(t)
	st := s.jb.Stats()
	if st.Resyncs != 1 {
		t.Errorf("resyncs = %d, want 1", st.Resyncs)
	}
	if c := count(k, audio.Concealed); c > 4 {
		t.Errorf("%d concealed frames around the restart, want <= 4", c)
	}
	if got := int(st.Decoded + st.Dropped); got < len(pkts)-1 {
		t.Errorf("decoded %d + dropped %d, want >= %d", st.Decoded, st.Dropped, len(pkts)-1)
	}
	second := s.pcm[len(s.pcm)-audio.SampleRate:]
	checkTone(t, second)
}

func TestJitterStrayPacketIsIgnored(t *testing.T) {
	t.Parallel()
	pkts := delay(stream(t, 2*time.Second, 100, 0), 10*time.Millisecond)
	stray := pkts[40]
	stray.seq += 20000
	stray.ts += 1 << 30
	stray.arrive += 5 * time.Millisecond
	pkts = append(pkts, stray)
	s := run(t, pkts, 15*time.Millisecond)
	k := s.started(t)
	st := s.jb.Stats()
	if st.Resyncs != 0 || count(k, audio.Concealed) != 0 {
		t.Errorf("a single stray packet disturbed playout: %+v", st)
	}
}

func TestJitterSenderPause(t *testing.T) {
	t.Parallel()
	// The sender stops for 300 ms; its timestamps and the arrivals both
	// jump, sequence numbers do not.
	pkts := delay(stream(t, 4*time.Second, 0, 0), 10*time.Millisecond)
	for i := 100; i < len(pkts); i++ {
		pkts[i].seq -= 15
		pkts[i].ts += 0 // the timestamp of packet i still says i*20 ms
	}
	pkts = append(pkts[:85], pkts[100:]...) // 300 ms of packets never sent
	s := run(t, pkts, 15*time.Millisecond)
	s.started(t)
	before, after := s.stats[int(1500*time.Millisecond/frameDur)], s.stats[len(s.stats)-10]
	t.Logf("before pause: %v buffered, after: %v; %+v", before.BufferedDelay, after.BufferedDelay, s.jb.Stats())
	if after.BufferedDelay > before.BufferedDelay+frameDur {
		t.Errorf("buffered delay grew from %v to %v over a pause", before.BufferedDelay, after.BufferedDelay)
	}
	if st := s.jb.Stats(); st.Late != 0 || st.Resyncs != 0 {
		t.Errorf("pause caused late packets or a resync: %+v", st)
	}
}

func TestJitterDelaySpikeHoldsClock(t *testing.T) {
	t.Parallel()
	// The path delay jumps by 50 ms for 100 ms, then drops back (a queue
	// filling and draining): the buffer holds its clock, conceals, plays the
	// delayed packets when they come and then returns to the lower delay.
	pkts := delay(stream(t, 6*time.Second, 0, 0), 10*time.Millisecond)
	for i := 100; i < 105; i++ {
		pkts[i].arrive += 50 * time.Millisecond
	}
	s := run(t, pkts, 15*time.Millisecond)
	k := s.started(t)
	st := s.jb.Stats()
	t.Logf("%+v", st)
	if st.Late != 0 {
		t.Errorf("late = %d, want 0: the packet should be waited for", st.Late)
	}
	if c := count(k, audio.Concealed); c < 1 || c > 3 {
		t.Errorf("%d concealed frames, want 1..3", c)
	}
	// A frame cut short to shrink the delay (Accelerated) plays part of
	// one packet and part of the next.
	if got := int(st.Decoded + st.Dropped + st.Accelerated); got != len(pkts) {
		t.Errorf("decoded %d + dropped %d + accelerated %d, want %d", st.Decoded, st.Dropped, st.Accelerated,
			len(pkts))
	}
	if end := s.stats[len(s.stats)-1]; end.BufferedDelay > 40*time.Millisecond {
		t.Errorf("buffered %v at the end, want back at <= 40ms", end.BufferedDelay)
	}
}

func TestJitterWaitingUntilFirstPacket(t *testing.T) {
	jb, err := audio.NewJitterBuffer(audio.JitterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, audio.FrameSamples)
	for i := range frame {
		frame[i] = 1
	}
	if k := jb.Pop(frame); k != audio.Waiting || slices.ContainsFunc(frame, func(v int16) bool { return v != 0 }) {
		t.Errorf("Pop before any packet = %v with non-zero samples, want Waiting and silence", k)
	}
	jb.Push(1, 0, nil, time.Now())
	jb.Push(2, 960, make([]byte, 2000), time.Now())
	if st := jb.Stats(); st.Invalid != 2 {
		t.Errorf("invalid = %d, want 2 (empty and oversized payloads)", st.Invalid)
	}
	if err := (audio.JitterConfig{MinDelay: time.Second, MaxDelay: 100 * time.Millisecond}).Validate(); err == nil {
		t.Error("Validate accepted MinDelay > MaxDelay")
	}
}

func BenchmarkJitterPushPop(b *testing.B) {
	pkts := stream(b, 2*time.Second, 0, 0)
	jb, err := audio.NewJitterBuffer(audio.JitterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, audio.FrameSamples)
	epoch := time.Now()
	// Prime to steady state.
	for i := range 3 {
		jb.Push(pkts[i].seq, pkts[i].ts, pkts[i].payload, epoch.Add(time.Duration(i)*frameDur))
	}
	b.ReportAllocs()
	i := 3
	for b.Loop() {
		p := pkts[i%len(pkts)]
		seq := uint16(i)
		ts := uint32(i * audio.FrameSamples)
		jb.Push(seq, ts, p.payload, epoch.Add(time.Duration(i)*frameDur))
		jb.Pop(frame)
		i++
	}
	if st := jb.Stats(); st.Concealed > 3 {
		b.Fatalf("benchmark stream not in steady state: %+v", st)
	}
}

// TestJitterLossPopsRightAfterArrival: the speaker pops within a few
// milliseconds of each packet's arrival, sometimes just before it. After 3 s
// of a calm network the buffer plays one frame behind, where the packet
// after a lost one is often not at hand yet; once loss starts it must grow
// until FEC can recover lost packets. (Before the buffer grew on late FEC,
// it recovered 32 of the 99 lost packets here.)
func TestJitterLossPopsRightAfterArrival(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(20, 11))
	all := stream(t, 13*time.Second, 100, 0)
	const calm = 150 // packets before the loss starts
	var pkts []packet
	for i, p := range all {
		p.arrive += 10*time.Millisecond + time.Duration(rng.Int64N(int64(3*time.Millisecond)))
		if i < calm || rng.Float64() >= 0.2 {
			pkts = append(pkts, p)
		}
	}
	s := run(t, pkts, 11500*time.Microsecond)
	k := s.started(t)
	lost := len(all) - len(pkts)
	rec, con := count(k, audio.Recovered), count(k, audio.Concealed)
	t.Logf("%d lost of %d: recovered %d, concealed %d; target %v", lost, len(all), rec, con, s.jb.Stats().TargetDelay)
	if rec*2 < lost {
		t.Errorf("FEC recovered %d of %d lost packets, want at least half", rec, lost)
	}
	checkTone(t, s.pcm)
	checkNoHoles(t, s)
}
