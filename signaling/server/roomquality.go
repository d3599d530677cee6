package server

import (
	"cmp"
	"slices"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Each participant's connection quality (room_event "quality"): the
// forwarder counts what arrives of each participant's packets (RFC 3550
// A.3: expected from the highest sequence number, against received) and
// their interarrival jitter (RFC 3550 6.4.1); every qualityEvery the owner
// takes the counts, with the round trip of the participant's ICE pair,
// rates each participant over the last qualityWindow samples and tells the
// room of the grades that changed.
const (
	qualityEvery  = 2 * time.Second
	qualityWindow = 4 // samples the loss is counted over: 8 s, 400 packets (10 % reads ± 1.5)
	qualityAgree  = 2 // samples in a row a new grade must hold before it is told
	// qualityDelay is what a listener's delay adds to half the round trip
	// (for the MOS): 20 ms of framing and device buffers, 10 ms of codec,
	// and a jitter buffer of a frame and twice the jitter.
	qualityDelay = 50 * time.Millisecond
)

// uplink counts a source's packets as they arrive; the forwarder owns it.
type uplink struct {
	started  bool
	base     uint16 // the first sequence number
	max      uint16 // the highest so far
	cycles   int64  // wraps of max, times 65536
	received int64
	transit  uint32  // the last packet's arrival minus its timestamp, in clock units
	jitter   float64 // RFC 3550's estimate, in clock units
}

// uplinkCount is what a source's uplink counted so far.
type uplinkCount struct {
	received, expected int64
	jitter             time.Duration
}

// count counts a packet with sequence number seq and timestamp ts that
// arrived at at (clock units since any fixed time: when the forwarder
// takes it, which its queue delays by little).
func (u *uplink) count(seq uint16, ts, at uint32) {
	transit := at - ts
	if !u.started {
		u.started, u.base, u.max, u.transit = true, seq, seq, transit
		u.received = 1
		return
	}
	u.received++
	if d := int16(seq - u.max); d > 0 {
		if seq < u.max {
			u.cycles += 1 << 16
		}
		u.max = seq
	}
	d := float64(int32(transit - u.transit))
	u.transit = transit
	u.jitter += (max(d, -d) - u.jitter) / 16
}

func (u *uplink) counts() uplinkCount {
	return uplinkCount{received: u.received, expected: u.cycles + int64(u.max) - int64(u.base) + 1,
		jitter: time.Duration(u.jitter * float64(time.Second) / opusClock)}
}

// uplinks returns the counts of every source that sent anything, by id;
// nil once the forwarder has stopped.
func (f *forwarder) uplinks() map[int]uplinkCount {
	reply := make(chan map[int]uplinkCount, 1)
	f.do(func() {
		out := make(map[int]uplinkCount, len(f.sources))
		for id, src := range f.sources {
			if src.up.started {
				out[id] = src.up.counts()
			}
		}
		reply <- out
	})
	select {
	case out := <-reply:
		return out
	case <-f.done:
		return nil
	}
}

// partQuality is a participant's quality as the owner follows it.
type partQuality struct {
	samples []uplinkCount     // the last qualityWindow+1 counts, oldest first
	shown   signaling.Quality // as last told; Grade "" before
	next    signaling.Quality // the latest rating
	agree   int               // samples in a row whose rating differs from shown as next does
	told    bool              // they were told everyone's shown quality
}

// rate takes a new count and the pair's round trip, and reports whether
// what is shown of the participant changed.
func (q *partQuality) rate(user string, c uplinkCount, rtt time.Duration) bool {
	q.samples = append(q.samples, c)
	if len(q.samples) > qualityWindow+1 {
		q.samples = q.samples[1:]
	}
	if len(q.samples) <= qualityWindow {
		return false // a full window first: 200 packets would read 10 % loss ± 2, not ± 1.5
	}
	first := q.samples[0]
	recv, exp := c.received-first.received, c.expected-first.expected
	if exp <= 0 {
		return false // nothing came: no figures (they are gone, or muted by a client that stops sending)
	}
	loss := max(0, float64(exp-recv)/float64(exp))
	mos := signaling.MOS(rtt/2+qualityDelay+2*c.jitter, loss)
	problems := signaling.Problems(rtt, c.jitter, loss, mos)
	ms := func(d time.Duration) float64 {
		return float64(d.Round(100*time.Microsecond)) / float64(time.Millisecond)
	}
	n := signaling.Quality{User: user, Grade: signaling.Rate(mos, problems), Problems: problems,
		Loss: float64(int(loss*1000+0.5)) / 1000, JitterMs: ms(c.jitter), RTTMs: ms(rtt),
		MOS: float64(int(mos*100+0.5)) / 100}
	if n.Grade == q.shown.Grade && slices.Equal(n.Problems, q.shown.Problems) {
		q.agree = 0
		return false
	}
	if n.Grade == q.next.Grade && slices.Equal(n.Problems, q.next.Problems) {
		q.agree++
	} else {
		q.agree = 1
	}
	q.next = n
	if q.agree < qualityAgree {
		return false
	}
	q.shown, q.agree = n, 0
	return true
}

// checkQuality rates everyone's connection and tells the room what
// changed: those who were told before get the changes (if any), and
// those who joined since everyone's quality as shown.
func (r *room) checkQuality() {
	if len(r.parts) == 0 {
		return
	}
	counts := r.fwd.uplinks()
	var changed []signaling.Quality
	for _, p := range r.parts {
		c, ok := counts[p.id]
		if !ok {
			continue
		}
		if p.quality.rate(p.user, c, roundTrip(p)) {
			changed = append(changed, p.quality.shown)
		}
	}
	slices.SortFunc(changed, func(a, b signaling.Quality) int { return cmp.Compare(a.User, b.User) })
	var all []signaling.Quality
	for _, p := range r.parts {
		if p.quality.shown.Grade != "" {
			all = append(all, p.quality.shown)
		}
	}
	slices.SortFunc(all, func(a, b signaling.Quality) int { return cmp.Compare(a.User, b.User) })
	sent := 0
	for _, p := range r.parts {
		tell := changed
		if !p.quality.told {
			tell, p.quality.told = all, true
		}
		if len(tell) > 0 {
			sent++
			r.to(p, signaling.Message{Type: signaling.TypeRoomEvent,
				RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomQuality, Quality: tell})})
		}
	}
	if sent > 0 {
		r.log.Debug("quality told", "changed", len(changed), "messages", sent)
	}
}

// roundTrip is the round trip of a participant's media path, as their ICE
// pair last measured it (by the STUN checks that keep it open); 0 before.
func roundTrip(p *participant) time.Duration {
	st, ok := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePairStats()
	if !ok {
		return 0
	}
	return time.Duration(st.CurrentRoundTripTime * float64(time.Second))
}
