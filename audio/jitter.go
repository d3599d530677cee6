package audio

import (
	"fmt"
	"slices"
	"time"
)

// FrameKind says where the audio of a JitterBuffer.Pop came from.
type FrameKind uint8

// Frame kinds, in increasing order of repair.
const (
	// Waiting: playout has not started; the frame is silence.
	Waiting FrameKind = iota
	// Decoded: decoded from packets that arrived in time.
	Decoded
	// Recovered: at least part was rebuilt from the FEC data of the next packet.
	Recovered
	// Concealed: at least part was made up by packet loss concealment.
	Concealed
)

func (k FrameKind) String() string {
	switch k {
	case Waiting:
		return "waiting"
	case Decoded:
		return "decoded"
	case Recovered:
		return "recovered"
	case Concealed:
		return "concealed"
	}
	return fmt.Sprintf("FrameKind(%d)", uint8(k))
}

// JitterConfig configures a JitterBuffer. The zero value gives the defaults.
type JitterConfig struct {
	// FrameSamples is the number of samples Pop is usually asked for
	// (default FrameSamples, 20 ms).
	FrameSamples int
	// MinDelay is the lowest target delay (default one frame).
	MinDelay time.Duration
	// StartDelay is the target delay until enough packets have arrived to
	// measure jitter, and so how much is buffered before playout starts
	// (default 40 ms).
	StartDelay time.Duration
	// MaxDelay caps the target and the playout delay (default 500 ms).
	MaxDelay time.Duration
}

func (c JitterConfig) withDefaults() JitterConfig {
	if c.FrameSamples == 0 {
		c.FrameSamples = FrameSamples
	}
	if c.MinDelay == 0 {
		c.MinDelay = samplesDuration(int64(c.FrameSamples))
	}
	if c.StartDelay == 0 {
		c.StartDelay = max(c.MinDelay, 40*time.Millisecond)
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 500 * time.Millisecond
	}
	return c
}

// Validate reports whether the configuration (after defaults) is usable.
func (c JitterConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.FrameSamples < 120 || c.FrameSamples > MaxFrameSamples || c.FrameSamples%120 != 0:
		return fmt.Errorf("audio: jitter buffer: frame of %d samples is not a multiple of 2.5 ms up to 120 ms",
			c.FrameSamples)
	case c.MinDelay <= 0 || c.StartDelay < c.MinDelay || c.MaxDelay < c.StartDelay:
		return fmt.Errorf("audio: jitter buffer: want 0 < MinDelay (%v) <= StartDelay (%v) <= MaxDelay (%v)",
			c.MinDelay, c.StartDelay, c.MaxDelay)
	case c.MaxDelay > 2*time.Second:
		return fmt.Errorf("audio: jitter buffer: MaxDelay %v is over 2 s", c.MaxDelay)
	}
	return nil
}

// JitterStats describes a JitterBuffer's state and history.
type JitterStats struct {
	// TargetDelay is the delay the buffer aims for: one frame plus Jitter
	// (or, while delay peaks repeat, the highest they reached twice in
	// 10 s), plus one frame
	// while LossRate is over 2 % and packets carry FEC, kept within
	// [MinDelay, MaxDelay].
	TargetDelay time.Duration
	// BufferedDelay is the audio held ahead of the playout point (including
	// gaps not yet filled) at the last Pop.
	BufferedDelay time.Duration
	// PlayoutDelay estimates, at the last Pop, how long after the fastest
	// packet's arrival its audio is played: BufferedDelay plus how much later
	// than the fastest one the newest packet arrived.
	PlayoutDelay time.Duration
	// Jitter is the 95th percentile of arrival delay variation (each packet's
	// transit time minus the smallest) over the last 150 arrivals, a lone
	// delay peak (a burst after a stall) left out.
	Jitter time.Duration
	// LossRate is a moving average (over about 64 packets) of the share of
	// packets missing at their playout time.
	LossRate float64

	// Frames returned by Pop, by kind (Waiting frames are not counted).
	Decoded, Recovered, Concealed uint64
	// Late packets arrived after their audio was played or concealed.
	Late uint64
	// Duplicate packets were already buffered.
	Duplicate uint64
	// Dropped packets were discarded to shrink the delay or as unconfirmed
	// sequence jumps.
	Dropped uint64
	// Accelerated counts cuts of part of a packet's audio, where its
	// waveform repeats, to shrink the delay.
	Accelerated uint64
	// Inserted frames of concealment were played to raise the delay towards
	// the target; they are also counted in Concealed.
	Inserted uint64
	// Invalid packets were empty, oversized or undecodable.
	Invalid uint64
	// Resyncs counts restarts on a new sequence/timestamp origin.
	Resyncs uint64
}

const (
	jbSlots       = 128  // packets held; at most MaxDelay of audio is ever buffered
	jbMaxPayload  = 1500 // bytes per packet, an Ethernet MTU
	jitterWindow  = 150  // arrivals in the jitter window: 3 s of 20 ms packets
	jbMinWindow   = 10   // arrivals before the measured target replaces StartDelay
	jbBlock       = 10   // pops per shrink decision, and how long a drop may wait for a quiet frame
	jbMaxMisorder = 100  // packets behind the playout point that count as late, not as a restart
	jbMaxJump     = 10 * SampleRate
	jbQuiet       = 0.25 // Level below which a frame is dropped without waiting (-45 dBFS)
	jbLossAlpha   = 1.0 / 64
	jbLossy       = 0.02 // loss rate above which the target keeps the next packet at hand for FEC
	// Delay peaks: the last jbPeaks are remembered for jbPeakPeriod each
	// (NetEQ's history and kMaxPeakPeriodMs). Transits over the threshold
	// again within jbPeakMerge of a peak's start are the same peak (a burst
	// reordered on its way); a peak that lasts jbPeakLong is a new path
	// delay, not a peak.
	jbPeaks      = 8
	jbPeakPeriod = 10 * time.Second
	jbPeakMerge  = 100 * time.Millisecond
	jbPeakLong   = time.Second
)

// jbPeak is a delay peak: when it began, and how high it rose over the
// fastest transit, ns.
type jbPeak struct {
	at     time.Time
	height int64
}

type jbState uint8

const (
	jbIdle      jbState = iota // no packet yet
	jbBuffering                // collecting StartDelay before playing
	jbPlaying
)

type jbPacket struct {
	used    bool
	seq     uint16
	ts      uint32
	dur     int // samples
	n       int // payload bytes
	arrival time.Time
	data    [jbMaxPayload]byte
}

func (p *jbPacket) payload() []byte { return p.data[:p.n] }

// JitterBuffer turns Opus packets that arrive with variable delay, out of
// order, duplicated or not at all into a steady stream of PCM frames.
//
// Push files a packet; Pop, called once per frame at the playout clock,
// returns the next frame. The playout clock should be the speaker's: the
// owner loop drains the packets received so far into Push, then calls Pop
// and writes the frame to the Sink, whose Write paces the loop.
//
// The delay adapts like WebRTC's NetEQ. The target is one frame plus the
// 95th percentile of arrival delay variation (transit time minus the
// smallest) over the last 150 arrivals (3 s), plus one more frame while more
// than 2 % of packets go missing and packets carry FEC, so that the packet
// after a lost one is usually at hand to recover it; before ten packets have
// arrived the target is StartDelay. It is kept within [MinDelay, MaxDelay].
// A delay peak, as when a stalled sender or receiver catches up in a burst,
// is played but not taken for jitter; while peaks repeat, the target
// covers the highest delay they reached twice within 10 s (NetEQ's peak
// mode).
//
// A packet missing at its playout time is recovered from the next packet's
// FEC if that packet is here and carries it, else concealed (PLC). When
// nothing at all is buffered, the playout clock is held while concealing: a
// late packet is then played when it comes, growing the delay by what the
// network needed, while a lost one is skipped when the next arrives,
// without added delay. Every 200 ms block of pops compares the delay with
// the target: if even its lowest point was a whole frame above (and a frame
// would remain buffered), one frame is dropped; if even its highest was a
// frame below, or a lost packet's successor carried its FEC but came just
// after its playout time (and the drop rule would keep the frame), one frame
// of concealment is inserted. Both prefer a quiet frame and wait for one at
// most a block. An excess of three frames or more is accelerated at once,
// every 120 ms: voiced audio is cut where its waveform repeats (whole pitch
// periods, 10 to 20 ms, WSOLA-style as NetEQ's accelerate), other audio
// dropped by the frame. So the delay follows the network up and back down,
// from a 300 ms burst to under 150 ms in 1.3 s. It never exceeds MaxDelay:
// a burst that would pass it is cut back to the target. After the first frame is played the output
// never has a hole: every gap is filled by FEC or PLC.
//
// Sequence numbers and timestamps may wrap. A jump of more than 100 packets
// back, 128 forward, or 10 s of timestamp, confirmed by the packet after it,
// restarts the buffer on the new origin (a restarted sender), concealing
// until playout resumes; a single stray packet is dropped. A timestamp gap
// with contiguous sequence numbers (a sender pause) is concealed.
//
// A JitterBuffer is not safe for concurrent use: one goroutine owns it and
// calls both Push and Pop. Payloads are copied into preallocated slots, so
// Push and Pop do not allocate.
type JitterBuffer struct {
	frame                          int // samples per Pop, usually
	minDelay, startDelay, maxDelay int // in samples
	dec                            *Decoder

	slots []jbPacket // indexed by seq % jbSlots; hold seqs in [nextSeq, nextSeq+jbSlots)
	cand  jbPacket   // an unconfirmed jump

	state   jbState
	played  bool   // audio was played since creation or Reset
	nextSeq uint16 // sequence number of the next packet to play
	nextTS  uint32 // timestamp of the next sample to play
	count   int    // packets in slots
	endTS   uint32 // end timestamp of the newest buffered packet
	endLate int64  // transit of the newest buffered packet, ns
	credit  int    // samples concealed while holding the playout clock
	hold    int    // playout delay when the clock was last held, samples
	lastP   int    // playout delay at the last Pop that had packets, samples
	lastDur int    // duration of the last decoded packet
	waited  int    // samples output while buffering

	out            []int16  // decoded audio not yet returned by Pop
	exp            expander // stretches voiced audio over gaps
	expanded       bool     // out holds expanded audio
	outPos, outLen int

	// Arrival statistics.
	base     time.Time // arrival of the first packet since (re)start
	refTS    uint32    // newest timestamp seen, for unwrapping
	refUnwr  int64     // its unwrapped value (the first packet is 0)
	lastTr   int64     // last transit, ns
	win      []int64   // transits in arrival order (ring)
	winPos   int
	sorted   []int64         // the same transits, sorted
	jitter   int64           // ns
	inPeak   bool            // the last transit observed was a delay peak's
	peaks    [jbPeaks]jbPeak // the last delay peaks; peaks[peakPos] the newest
	peakPos  int
	peakTr   int64   // what the transits of the current peak enter the window as
	peakLvl  int64   // the highest delay peaks reached twice within jbPeakPeriod, ns
	loss     float64 // moving average of the packet loss rate at playout
	fec      bool    // the newest packet carried FEC
	target   int     // samples
	buffered int     // samples, at the last Pop
	playout  int     // samples, at the last Pop

	// Delay control: decisions per block of pops.
	blockPops, blockLen             int
	blockMinB, blockMinP, blockMaxP int
	adjust                          int  // -1: drop a frame, +1: insert one, 0: hold
	urgent                          bool // drop without waiting for a quiet frame
	dueFor                          int  // pops the adjustment has waited for a quiet frame
	lastQuiet                       bool // the last decoded frame was quiet
	missed                          bool // in this block, a lost packet's FEC came too late

	stats JitterStats
}

// NewJitterBuffer returns a JitterBuffer with its own Decoder.
func NewJitterBuffer(cfg JitterConfig) (*JitterBuffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dec, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	toSamples := func(d time.Duration) int { return int(d * SampleRate / time.Second) }
	j := &JitterBuffer{
		frame:      cfg.FrameSamples,
		minDelay:   toSamples(cfg.MinDelay),
		startDelay: toSamples(cfg.StartDelay),
		maxDelay:   toSamples(cfg.MaxDelay),
		dec:        dec,
		slots:      make([]jbPacket, jbSlots),
		out:        make([]int16, MaxFrameSamples),
		win:        make([]int64, jitterWindow),
		sorted:     make([]int64, 0, jitterWindow),
		lastDur:    cfg.FrameSamples,
	}
	j.Reset()
	return j, nil
}

// Reset forgets all packets and statistics other than the counters; Pop
// returns Waiting until packets arrive again.
func (j *JitterBuffer) Reset() {
	j.clearSlots()
	j.cand.used = false
	j.state = jbIdle
	j.played = false
	j.outLen = 0
	j.credit = 0
	j.target = j.startDelay
	j.buffered, j.playout = 0, 0
	j.resetWindow()
	j.loss = 0
	j.exp.reset()
	j.adjusted()
}

// Stats returns the current figures.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.TargetDelay = samplesDuration(int64(j.target))
	s.BufferedDelay = samplesDuration(int64(j.buffered))
	s.PlayoutDelay = samplesDuration(int64(j.playout))
	s.Jitter = time.Duration(j.jitter)
	s.LossRate = j.loss
	return s
}

// Push files one RTP packet: its sequence number, timestamp (48 kHz clock),
// Opus payload and arrival time. The payload is copied.
func (j *JitterBuffer) Push(seq uint16, ts uint32, payload []byte, arrival time.Time) {
	dur, err := PacketSamples(payload)
	if err != nil || len(payload) > jbMaxPayload {
		j.stats.Invalid++
		return
	}
	if j.state == jbIdle {
		j.begin(seq, ts, arrival)
		j.store(seq, ts, dur, payload, arrival)
		return
	}
	ahead := seq - j.nextSeq
	tsAhead := int32(ts - j.nextTS)
	far := tsAhead > jbMaxJump || tsAhead < -jbMaxJump
	if ahead >= 0x8000 { // behind the playout point
		behind := 0x10000 - int(ahead)
		switch {
		case far || behind > jbMaxMisorder:
			j.candidate(seq, ts, dur, payload, arrival)
		case j.state == jbBuffering && j.canStartAt(seq):
			// Reordered ahead of the first packet, before playout began:
			// start from it instead.
			j.nextSeq, j.nextTS = seq, ts
			j.store(seq, ts, dur, payload, arrival)
		default:
			j.observe(j.transit(ts, arrival), arrival)
			j.stats.Late++
		}
		return
	}
	if far || int(ahead) >= jbSlots {
		j.candidate(seq, ts, dur, payload, arrival)
		return
	}
	if tsAhead < 0 { // its time has passed (the gap was concealed)
		j.observe(j.transit(ts, arrival), arrival)
		j.stats.Late++
		return
	}
	if s := &j.slots[seq%jbSlots]; s.used && s.seq == seq {
		j.stats.Duplicate++
		return
	}
	j.store(seq, ts, dur, payload, arrival)
}

// canStartAt reports whether playout may start at seq, before nextSeq,
// without a buffered packet falling outside the slot window.
func (j *JitterBuffer) canStartAt(seq uint16) bool {
	for i := range j.slots {
		if s := &j.slots[i]; s.used && int(s.seq-seq) >= jbSlots {
			return false
		}
	}
	return true
}

func (j *JitterBuffer) store(seq uint16, ts uint32, dur int, payload []byte, arrival time.Time) {
	if j.cand.used && j.cand.seq != seq {
		j.cand.used = false
		j.stats.Dropped++
	}
	tr := j.transit(ts, arrival)
	j.observe(tr, arrival)
	j.fec = PacketHasFEC(payload)
	s := &j.slots[seq%jbSlots]
	s.used, s.seq, s.ts, s.dur, s.arrival = true, seq, ts, dur, arrival
	s.n = copy(s.data[:], payload)
	end := ts + uint32(dur)
	if j.count == 0 || int32(end-j.endTS) > 0 {
		j.endTS, j.endLate = end, tr
	}
	j.count++
}

// candidate handles a packet far from the playout point: the first is held,
// and if the next packet follows it the buffer restarts on them.
func (j *JitterBuffer) candidate(seq uint16, ts uint32, dur int, payload []byte, arrival time.Time) {
	if j.cand.used && seq == j.cand.seq+1 {
		if d := int32(ts - j.cand.ts); d > 0 && int(d) <= MaxFrameSamples {
			j.stats.Resyncs++
			c := &j.cand
			j.begin(c.seq, c.ts, c.arrival)
			j.store(c.seq, c.ts, c.dur, c.payload(), c.arrival)
			j.store(seq, ts, dur, payload, arrival)
			return
		}
	}
	if j.cand.used {
		j.stats.Dropped++
	}
	c := &j.cand
	c.used, c.seq, c.ts, c.dur, c.arrival = true, seq, ts, dur, arrival
	c.n = copy(c.data[:], payload)
}

// begin (re)starts buffering at a packet.
func (j *JitterBuffer) begin(seq uint16, ts uint32, arrival time.Time) {
	j.clearSlots()
	j.cand.used = false
	j.state = jbBuffering
	j.nextSeq, j.nextTS = seq, ts
	j.credit, j.waited, j.outLen = 0, 0, 0
	j.base, j.refTS, j.refUnwr = arrival, ts, 0
	j.resetWindow()
	j.loss = 0
	j.adjusted()
}

func (j *JitterBuffer) clearSlots() {
	for i := range j.slots {
		j.slots[i].used = false
	}
	j.count = 0
}

// transit returns a packet's arrival time minus its media time, in ns,
// relative to the first packet's.
func (j *JitterBuffer) transit(ts uint32, arrival time.Time) int64 {
	u := j.refUnwr + int64(int32(ts-j.refTS))
	if u > j.refUnwr {
		j.refTS, j.refUnwr = ts, u
	}
	return int64(arrival.Sub(j.base) - samplesDuration(u))
}

func (j *JitterBuffer) resetWindow() {
	j.winPos = 0
	j.sorted = j.sorted[:0]
	j.jitter = 0
	j.inPeak, j.peaks, j.peakLvl = false, [jbPeaks]jbPeak{}, 0
	j.retarget()
}

// retarget sets the target delay: StartDelay until the window has enough
// arrivals, then one frame plus the jitter, plus one more frame while
// packets are being lost and carry FEC, so that the packet after a lost
// one is usually at hand to recover it.
func (j *JitterBuffer) retarget() {
	if len(j.sorted) < jbMinWindow {
		j.target = j.startDelay
		return
	}
	t := j.frame + int(max(j.jitter, j.peakLvl)*SampleRate/int64(time.Second))
	if j.protected() {
		t += j.frame
	}
	j.target = max(j.minDelay, min(j.maxDelay, t))
}

// protected reports whether packets are being lost and carry FEC: the
// delay should then keep the packet after a lost one at hand.
func (j *JitterBuffer) protected() bool { return j.fec && j.loss >= jbLossy }

// recoverable reports whether p, gap samples after the playout point, is
// the packet right after a single lost one and carries its FEC.
func (j *JitterBuffer) recoverable(p *jbPacket, gap int) bool {
	return p.seq == j.nextSeq+1 && gap == p.dur && PacketHasFEC(p.payload())
}

// noteLoss updates the loss rate for lost missing packets followed by a
// received one (received may be 0 when only losses are known).
func (j *JitterBuffer) noteLoss(lost, received int) {
	for range min(lost, 64) {
		j.loss += (1 - j.loss) * jbLossAlpha
	}
	for range received {
		j.loss -= j.loss * jbLossAlpha
	}
	j.retarget()
}

// observe adds the transit time of a packet that arrived at arrival to the
// window and updates jitter and target.
//
// A transit far above the jitter (more than twice it, and more than two
// frames over it) is a delay peak, as when a stalled sender or receiver
// catches up: the packets held up arrive at once, the first one a stall's
// length late. Like NetEQ, the buffer plays such a peak (its clock is held
// meanwhile) but does not take it for jitter: the packets of the peak enter
// the window at the jitter measured before it, so that one burst cannot
// hold the target up for the window's 3 s (entered as they are, the 15
// packets of a 300 ms stall are 10 % of the window; at the threshold, they
// would ratchet it up). Peaks that repeat raise the target instead, to the
// highest delay they reached twice within jbPeakPeriod (NetEQ's peak mode,
// which takes the highest of two or more): stalls every few seconds are
// then absorbed, while a lone long stall among short hiccups is not taken
// as their height. A peak that lasts jbPeakLong is a new path delay: its
// transits then enter the window as they are.
func (j *JitterBuffer) observe(tr int64, arrival time.Time) {
	if d := tr - j.lastTr; len(j.sorted) > 0 && (d > int64(time.Second) || d < -int64(time.Second)) {
		// The sender's clock jumped; old transits mean nothing now.
		j.resetWindow()
	}
	j.lastTr = tr
	peak := false
	if len(j.sorted) >= jbMinWindow {
		frame := int64(samplesDuration(int64(j.frame)))
		limit := j.sorted[0] + max(2*j.jitter, j.jitter+2*frame)
		p := &j.peaks[j.peakPos]
		if peak = tr > limit; peak {
			if !j.inPeak && (p.at.IsZero() || arrival.Sub(p.at) > jbPeakMerge) {
				j.peakPos = (j.peakPos + 1) % jbPeaks
				p = &j.peaks[j.peakPos]
				*p = jbPeak{at: arrival}
				j.peakTr = j.sorted[0] + j.jitter
			}
			if arrival.Sub(p.at) < jbPeakLong {
				p.height = max(p.height, tr-j.sorted[0])
				tr = j.peakTr
			} else {
				p.height = 0
			}
		}
	}
	j.inPeak = peak
	j.peakLvl = 0
	var top int64
	for _, p := range j.peaks {
		if !p.at.IsZero() && arrival.Sub(p.at) <= jbPeakPeriod {
			if p.height > top {
				top, j.peakLvl = p.height, top
			} else {
				j.peakLvl = max(j.peakLvl, p.height)
			}
		}
	}
	if len(j.sorted) == len(j.win) {
		old := j.win[j.winPos]
		i, _ := slices.BinarySearch(j.sorted, old)
		copy(j.sorted[i:], j.sorted[i+1:])
		j.sorted = j.sorted[:len(j.sorted)-1]
	}
	j.win[j.winPos] = tr
	j.winPos = (j.winPos + 1) % len(j.win)
	i, _ := slices.BinarySearch(j.sorted, tr)
	j.sorted = j.sorted[:len(j.sorted)+1]
	copy(j.sorted[i+1:], j.sorted[i:])
	j.sorted[i] = tr

	if n := len(j.sorted); n >= jbMinWindow {
		j.jitter = j.sorted[(n*95+99)/100-1] - j.sorted[0]
	}
	j.retarget()
}

// level is the audio buffered ahead of the playout point, in samples.
func (j *JitterBuffer) level() int {
	l := j.outLen
	if j.count > 0 {
		l += max(0, int(int32(j.endTS-j.nextTS)))
	}
	return l
}

// lateness is how much later than the fastest packet in the window the
// newest buffered packet arrived, in samples.
func (j *JitterBuffer) lateness() int {
	if j.count == 0 || len(j.sorted) == 0 {
		return 0
	}
	return max(0, int((j.endLate-j.sorted[0])*SampleRate/int64(time.Second)))
}

// first returns the buffered packet with the lowest sequence number at or
// after nextSeq, or nil.
func (j *JitterBuffer) first() *jbPacket {
	if j.count == 0 {
		return nil
	}
	for i := range jbSlots {
		seq := j.nextSeq + uint16(i)
		if s := &j.slots[seq%jbSlots]; s.used && s.seq == seq {
			return s
		}
	}
	return nil
}

func (j *JitterBuffer) remove(p *jbPacket) {
	p.used = false
	j.count--
}

// Pop fills pcm with the next audio at the playout clock and says where it
// came from. It does not allocate.
func (j *JitterBuffer) Pop(pcm []int16) FrameKind {
	if len(pcm) == 0 {
		return Waiting
	}
	switch j.state {
	case jbIdle:
		clear(pcm)
		return Waiting
	case jbBuffering:
		lvl := j.level()
		if lvl < j.target && j.waited < j.target {
			j.waited += len(pcm)
			j.buffered, j.playout = lvl, lvl
			if !j.played {
				clear(pcm)
				return Waiting
			}
			// Restarting after a resync: keep the output continuous.
			for filled := 0; filled < len(pcm); {
				if j.outLen == 0 {
					j.conceal(min(concealLen(len(pcm)-filled), MaxFrameSamples))
					j.exp.note(j.out[:j.outLen], false, j.expanded)
				}
				filled += j.take(pcm[filled:])
			}
			j.stats.Concealed++
			return Concealed
		}
		j.state = jbPlaying
	}
	j.regulate()
	kind := Decoded
	for filled := 0; filled < len(pcm); {
		if j.outLen == 0 {
			j.expanded = false
			k := j.produce(len(pcm) - filled)
			j.exp.note(j.out[j.outPos:j.outPos+j.outLen], k != Concealed, j.expanded)
			kind = max(kind, k)
		}
		filled += j.take(pcm[filled:])
	}
	j.played = true
	switch kind {
	case Decoded:
		j.stats.Decoded++
	case Recovered:
		j.stats.Recovered++
	default:
		j.stats.Concealed++
	}
	return kind
}

// take copies pending decoded audio into p.
func (j *JitterBuffer) take(p []int16) int {
	n := copy(p, j.out[j.outPos:j.outPos+j.outLen])
	j.outPos += n
	j.outLen -= n
	return n
}

// concealLen rounds n up to whole 2.5 ms blocks, as Opus PLC needs.
func concealLen(n int) int { return min(MaxFrameSamples, (n+119)/120*120) }

func (j *JitterBuffer) conceal(n int) {
	if err := j.dec.Conceal(j.out[:n]); err != nil {
		clear(j.out[:n])
	}
	j.expanded = j.exp.fill(j.out[:n])
	j.outPos, j.outLen = 0, n
}

// regulate measures the buffer before a Pop, enforces MaxDelay and decides
// whether to drop or insert a frame to bring the delay to the target.
//
// Over each block of pops it tracks the lowest buffered level and the
// lowest and highest playout delay. If even the lowest playout delay was a
// whole frame over the target, and a frame would remain buffered, one frame
// is dropped; at three frames or more over, blocks shorten and the drop does
// not wait for a quiet frame but cuts whole pitch periods out of voiced
// audio (expander.cut), so a large excess goes within a second or two.
// If even the highest was a frame under the target, or FEC came too late
// for a lost packet while the lowest was more than half a frame under, one
// frame of concealment is inserted (growth otherwise happens by holding the
// clock on underruns). Both prefer a quiet moment but wait for one at most a block.
func (j *JitterBuffer) regulate() {
	lvl := j.level()
	p := lvl + j.lateness()
	if p > j.maxDelay {
		j.skip()
		lvl = j.level()
		p = lvl + j.lateness()
		j.adjusted()
	}
	j.buffered, j.playout = lvl, p
	if j.count > 0 {
		j.lastP = p
	}

	j.blockPops++
	j.blockMinB = min(j.blockMinB, lvl)
	j.blockMinP = min(j.blockMinP, p)
	j.blockMaxP = max(j.blockMaxP, p)
	if j.blockPops >= j.blockLen {
		excess := min(j.blockMinP-j.target, j.blockMinB-j.frame)
		adjust := 0
		switch {
		case excess >= j.frame/2:
			adjust = -1
		case j.blockMaxP+j.frame <= j.target:
			adjust = +1
		case j.missed && j.blockMinP+j.frame/2 < j.target:
			// FEC came too late for a lost packet: one more frame, unless
			// the drop rule would take it back.
			adjust = +1
		}
		j.missed = false
		if adjust != j.adjust {
			j.dueFor = 0
		}
		j.adjust, j.urgent = adjust, excess >= 3*j.frame
		j.blockLen = jbBlock
		if j.urgent {
			j.blockLen = jbBlock / 2
		}
		j.resetBlock()
	}
	if j.adjust != 0 {
		j.dueFor++
	}
}

func (j *JitterBuffer) resetBlock() {
	j.blockPops = 0
	j.blockMinB, j.blockMinP, j.blockMaxP = 1<<31-1, 1<<31-1, 0
}

// adjusted ends a drop or insertion and starts a fresh block.
func (j *JitterBuffer) adjusted() {
	j.adjust, j.urgent, j.dueFor, j.blockLen = 0, false, 0, jbBlock
	j.resetBlock()
}

// skip discards the oldest audio until the delay is back at the target.
func (j *JitterBuffer) skip() {
	j.outLen = 0
	j.credit = 0
	for j.count > 0 {
		excess := j.level() - j.target
		if excess <= 0 {
			return
		}
		p := j.first()
		if gap := int(int32(p.ts - j.nextTS)); gap > 0 {
			j.nextTS += uint32(min(gap, excess))
			if j.nextTS == p.ts {
				j.nextSeq = p.seq
			}
			continue
		}
		j.nextTS, j.nextSeq = p.ts+uint32(p.dur), p.seq+1
		j.remove(p)
		j.stats.Dropped++
	}
}

// produce puts the next piece of audio into j.out: a decoded packet, a
// frame recovered from FEC or concealed, and says which.
func (j *JitterBuffer) produce(need int) FrameKind {
	if j.adjust > 0 && j.count > 0 && (j.lastQuiet || j.dueFor >= jbBlock) {
		// Raise the delay: play concealment and hold the clock.
		j.adjusted()
		j.conceal(concealLen(need))
		j.stats.Inserted++
		return Concealed
	}
	for {
		p := j.first()
		if p == nil {
			// Underrun. Conceal, and hold the playout clock while the delay
			// allows: the packet may be late rather than lost, and if it is
			// lost the next one will make up for the held time.
			n := concealLen(need)
			j.conceal(n)
			if j.credit == 0 {
				j.hold = j.lastP
			}
			if j.hold+j.credit+n <= j.maxDelay {
				j.credit += n
			} else {
				j.nextTS += uint32(n)
			}
			return Concealed
		}
		gap := int(int32(p.ts - j.nextTS))
		if gap > 0 && j.credit > 0 {
			// Audio concealed while holding the clock already covered (part
			// of) this gap. If it was one lost packet whose successor, with
			// its FEC, came just too late, the delay is too short for FEC.
			j.missed = j.missed || (j.protected() && j.recoverable(p, gap))
			c := min(gap, j.credit)
			j.nextTS += uint32(c)
			gap -= c
		}
		if gap <= 0 {
			j.credit = 0
			j.noteLoss(int(p.seq-j.nextSeq), 1)
			j.nextTS, j.nextSeq = p.ts+uint32(p.dur), p.seq+1
			j.remove(p)
			n, err := j.dec.Decode(p.payload(), j.out)
			if err != nil {
				j.stats.Invalid++
				j.conceal(concealLen(p.dur))
				return Concealed
			}
			j.nextTS = p.ts + uint32(n)
			j.lastDur = n
			j.outPos, j.outLen = 0, n
			j.lastQuiet = Level(j.out[:n]) < jbQuiet
			if j.adjust < 0 && j.count > 0 && j.level()-n >= j.frame &&
				(j.urgent || j.lastQuiet || j.dueFor >= jbBlock) {
				// Drop the frame, or while far over the target,
				// accelerate: cut voiced audio where its waveform
				// repeats, and decide again after a short block.
				cut := n
				if j.urgent && !j.lastQuiet {
					cut = j.exp.cut(j.out[:n])
				}
				j.exp.drop(j.out[:n])
				urgent := j.urgent
				j.adjusted()
				if urgent {
					j.blockLen = jbBlock / 2
				}
				if cut < n {
					j.outPos, j.outLen = cut, n-cut
					j.stats.Accelerated++
					return Decoded
				}
				j.outLen = 0
				j.stats.Dropped++
				continue
			}
			return Decoded
		}
		j.credit = 0
		if j.recoverable(p, gap) {
			if err := j.dec.DecodeFEC(p.payload(), j.out[:gap]); err == nil {
				j.outPos, j.outLen = 0, gap
				j.noteLoss(1, 0)
				j.nextTS, j.nextSeq = p.ts, p.seq
				return Recovered
			}
		}
		n := min(gap/120*120, concealLen(need))
		if n == 0 { // less than 2.5 ms missing: close the gap silently
			j.noteLoss(int(p.seq-j.nextSeq), 0)
			j.nextTS, j.nextSeq = p.ts, p.seq
			continue
		}
		j.conceal(n)
		j.nextTS += uint32(n)
		if j.nextTS == p.ts {
			j.noteLoss(int(p.seq-j.nextSeq), 0)
			j.nextSeq = p.seq
		}
		return Concealed
	}
}
