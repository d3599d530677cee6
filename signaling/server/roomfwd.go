package server

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// The forwarder's choice of speakers. Levels are RFC 6464's -dBov (0
// loudest, 127 silence); each speaker's loudness (127 minus the level)
// follows a louder packet at once and a quieter one smoothed over about
// 100 ms of packets. A speaker takes a
// free slot once their smoothed level is at startLevel or louder (the
// loudest first) and keeps it while they go on talking: they lose it after
// keepFor below keepLevel, or when their packets stop for staleAfter, or
// once muted. The gap between the two levels and keepFor are the
// hysteresis that keeps slots from flapping between speakers.
const (
	startLevel   = 60 // -dBov
	keepLevel    = 70
	keepFor      = 600 * time.Millisecond
	staleAfter   = time.Second
	levelSmooth  = 0.2 // the weight of a packet's level in the smoothed one
	noLevel      = 50  // what a packet without the level extension counts as: talking, not loud
	selectEvery  = 20 * time.Millisecond
	fwdQueue     = 512 // packets waiting for the forwarder
	opusClock    = 48000
	minTimestamp = opusClock / 50 // one 20 ms frame: the least a slot's timestamp advances at a change
)

// rtpWriter is where the forwarder writes a receiver's slot: a
// *webrtc.TrackLocalStaticRTP, or in a benchmark, nothing.
type rtpWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// inPacket is an RTP packet a participant sent, read into a buffer of the
// forwarder's pool by the goroutine that reads the participant's track.
type inPacket struct {
	from  int   // the source's id
	level uint8 // its RFC 6464 level, noLevel when it carries none
	buf   [1500]byte
	pkt   rtp.Packet // parsed from buf
}

// fwdSource is a participant as a speaker.
type fwdSource struct {
	user  string
	speak bool    // may be heard: not muted, not a listener
	loud  float64 // smoothed loudness, 127 - level
	last  time.Time
	quiet time.Time // since when they are below keepLevel; zero when not
	up    uplink    // what arrives of their packets (roomquality.go)
}

// slotOut is one receiver's slot: the stream it gets, continuous across
// changes of speaker.
type slotOut struct {
	w       rtpWriter
	src     int // the source its offsets are for; 0 after a change
	started bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

// fwdReceiver is a participant as a listener: who they hear on each slot,
// and their slot tracks.
type fwdReceiver struct {
	extID uint8                    // the audio level extension's id in their answer, 0 for none
	held  [signaling.RoomSlots]int // the source heard on each slot, 0 for none
	slots [signaling.RoomSlots]slotOut
	told  bool // held changed since the owner was told
}

// forwarder forwards a room's RTP: to each participant, the RoomSlots
// loudest other speakers who may be heard. Its goroutine (run) owns every
// source, receiver and slot; the room's owner changes them with do, the
// readers of the tracks post packets with post, and it tells the owner of
// a participant's new choice of speakers through speaking (which must not
// block).
type forwarder struct {
	in       chan *inPacket
	ctl      chan func()
	done     chan struct{} // closed by stop
	finished chan struct{} // closed when run returns
	pool     sync.Pool
	speaking func(receiver int, slots []string)
	now      func() time.Time
	epoch    time.Time // arrival times count from here (uplink)

	// Owned by run.
	sources   map[int]*fwdSource
	receivers map[int]*fwdReceiver
	waiting   []int      // the sources that may take a slot, loudest first (choose)
	out       rtp.Packet // the packet as written, reused
	ext       [1]rtp.Extension
	level     [1]byte
	stopOnce  sync.Once
}

func newForwarder(speaking func(receiver int, slots []string)) *forwarder {
	f := &forwarder{
		in:        make(chan *inPacket, fwdQueue),
		ctl:       make(chan func(), 64),
		done:      make(chan struct{}),
		finished:  make(chan struct{}),
		speaking:  speaking,
		now:       time.Now,
		epoch:     time.Now(),
		sources:   map[int]*fwdSource{},
		receivers: map[int]*fwdReceiver{},
	}
	f.pool.New = func() any { return new(inPacket) }
	return f
}

// start runs the forwarder on a goroutine of its own until stop.
func (f *forwarder) start() {
	go func() {
		defer close(f.finished)
		f.run()
	}()
}

// stop ends the forwarder and waits for it.
func (f *forwarder) stop() {
	f.stopOnce.Do(func() { close(f.done) })
	<-f.finished
}

// do runs fn on the forwarder's goroutine.
func (f *forwarder) do(fn func()) {
	select {
	case f.ctl <- fn:
	case <-f.done:
	}
}

func (f *forwarder) run() {
	tick := time.NewTicker(selectEvery)
	defer tick.Stop()
	for {
		select {
		case <-f.done:
			return
		case fn := <-f.ctl:
			fn()
		case p := <-f.in:
			f.packet(p)
		case <-tick.C:
			f.choose()
		}
	}
}

// add makes participant id a source (speak: may be heard) and a receiver
// with its slot tracks (extID: the level extension's id in their answer).
// On the forwarder's goroutine (do).
func (f *forwarder) add(id int, user string, speak bool, extID uint8, slots [signaling.RoomSlots]rtpWriter) {
	f.sources[id] = &fwdSource{user: user, speak: speak}
	r := &fwdReceiver{extID: extID}
	for i, w := range slots {
		r.slots[i].w = w
	}
	f.receivers[id] = r
}

// remove forgets participant id; on the forwarder's goroutine.
func (f *forwarder) remove(id int) {
	delete(f.sources, id)
	delete(f.receivers, id)
	f.freeAll(id)
	f.tell()
}

// setSpeak says whether participant id may be heard; on the forwarder's
// goroutine. Someone muted leaves their slots at once.
func (f *forwarder) setSpeak(id int, speak bool) {
	src := f.sources[id]
	if src == nil {
		return
	}
	src.speak = speak
	if !speak {
		f.freeAll(id)
		f.choose()
		f.tell()
	}
}

// freeAll takes source id off every receiver's slots.
func (f *forwarder) freeAll(id int) {
	for _, r := range f.receivers {
		for k, h := range r.held {
			if h == id {
				r.free(k)
			}
		}
	}
}

// free empties slot k; its stream starts afresh for whoever comes next.
func (r *fwdReceiver) free(k int) {
	r.held[k] = 0
	r.slots[k].src = 0
	r.told = true
}

// post hands the forwarder a packet; false once the forwarder has stopped.
func (f *forwarder) post(p *inPacket) bool {
	select {
	case f.in <- p:
		return true
	case <-f.done:
		f.pool.Put(p)
		return false
	}
}

// read reads a participant's track until it ends, and posts its packets.
// extID is the id of the level extension on it (0: none).
func (f *forwarder) read(from int, track *webrtc.TrackRemote, extID uint8) {
	for {
		p, _ := f.pool.Get().(*inPacket)
		n, _, err := track.Read(p.buf[:])
		if err != nil {
			f.pool.Put(p)
			return
		}
		if p.pkt.Unmarshal(p.buf[:n]) != nil {
			f.pool.Put(p)
			continue
		}
		p.from, p.level = from, noLevel
		if extID != 0 {
			if e := p.pkt.GetExtension(extID); len(e) > 0 {
				p.level = e[0] & 0x7f
			}
		}
		if !f.post(p) {
			return
		}
	}
}

// packet takes a packet: its level counts towards its source's, and it
// goes to everyone who hears that source on one of their slots.
func (f *forwarder) packet(p *inPacket) {
	defer f.pool.Put(p)
	src := f.sources[p.from]
	if src == nil {
		return
	}
	now := f.now()
	us := int64(now.Sub(f.epoch) / time.Microsecond)
	src.up.count(p.pkt.SequenceNumber, p.pkt.Timestamp, uint32(us*opusClock/1e6))
	// Loudness rises at once and falls smoothed: a speaker is heard from
	// their first loud packet (smoothing it up too took 100 ms, lost at the
	// start of every turn), and kept through the dips of speech.
	if l := float64(127 - p.level); l > src.loud {
		src.loud = l
	} else {
		src.loud += levelSmooth * (l - src.loud)
	}
	src.last = now
	switch {
	case src.loud >= 127-keepLevel:
		src.quiet = time.Time{}
	case src.quiet.IsZero():
		src.quiet = now
	}
	out := &f.out
	first := true
	for id, r := range f.receivers {
		if id == p.from {
			continue
		}
		for k, h := range r.held {
			if h != p.from {
				continue
			}
			if first {
				out.Header = p.pkt.Header
				out.Payload = p.pkt.Payload
				out.PaddingSize, out.Padding = 0, false
				f.level[0] = p.level
				first = false
			}
			f.write(r, k, p, now)
		}
	}
}

// write writes a packet of the source on slot k of receiver r, with the
// slot's own sequence numbers and timestamps.
func (f *forwarder) write(r *fwdReceiver, k int, p *inPacket, now time.Time) {
	s := &r.slots[k]
	if s.w == nil {
		return
	}
	out := &f.out
	seq, ts, first := s.rewrite(p.pkt.SequenceNumber, p.pkt.Timestamp, p.from, now)
	out.SequenceNumber, out.Timestamp = seq, ts
	out.Marker = p.pkt.Marker || first
	out.Extension, out.Extensions = false, f.ext[:0]
	if r.extID != 0 {
		_ = out.SetExtension(r.extID, f.level[:])
	}
	_ = s.w.WriteRTP(out) // a receiver going away: the owner hears of it from its peer connection
}

// rewrite maps a packet of source src to the slot's stream: when the
// source changed, the stream goes on one sequence number later, and its
// timestamp by the time since its last packet (at least one frame). first
// tells that this packet starts a source's turn.
func (s *slotOut) rewrite(seq uint16, ts uint32, src int, now time.Time) (uint16, uint32, bool) {
	first := false
	switch {
	case !s.started:
		s.started, s.src, s.seqOff, s.tsOff, first = true, src, 0, 0, true
	case s.src != src:
		step := uint32(now.Sub(s.lastAt) * opusClock / time.Second)
		step = max(step, minTimestamp)
		s.seqOff = s.lastSeq + 1 - seq
		s.tsOff = s.lastTS + step - ts
		s.src, first = src, true
	}
	seq, ts = seq+s.seqOff, ts+s.tsOff
	if first || int16(seq-s.lastSeq) > 0 {
		s.lastSeq, s.lastTS, s.lastAt = seq, ts, now
	}
	return seq, ts, first
}

// choose frees, for every receiver, the slots of speakers who stopped, and
// gives free slots to the loudest others who speak; then tells the owner
// of what changed.
func (f *forwarder) choose() {
	now := f.now()
	f.waiting = f.waiting[:0]
	for id, src := range f.sources {
		if src.speak && now.Sub(src.last) <= staleAfter && src.loud >= 127-startLevel {
			f.waiting = append(f.waiting, id)
		}
	}
	slices.SortFunc(f.waiting, func(a, b int) int {
		if la, lb := f.sources[a].loud, f.sources[b].loud; la != lb {
			return cmp.Compare(lb, la)
		}
		return cmp.Compare(a, b)
	})
	for rid, r := range f.receivers {
		for k, id := range r.held {
			src := f.sources[id]
			switch {
			case id == 0:
			case src == nil, !src.speak, now.Sub(src.last) > staleAfter,
				!src.quiet.IsZero() && now.Sub(src.quiet) > keepFor:
				r.free(k)
			}
		}
		for _, id := range f.waiting {
			k := slices.Index(r.held[:], 0)
			if k < 0 {
				break
			}
			if id != rid && !slices.Contains(r.held[:], id) {
				r.held[k] = id
				r.slots[k].src = 0
				r.told = true
			}
		}
	}
	f.tell()
}

// tell hands the owner who each receiver whose slots changed hears on
// them.
func (f *forwarder) tell() {
	for id, r := range f.receivers {
		if !r.told {
			continue
		}
		r.told = false
		names := make([]string, len(r.held))
		for i, h := range r.held {
			if src := f.sources[h]; src != nil {
				names[i] = src.user
			}
		}
		f.speaking(id, names)
	}
}
