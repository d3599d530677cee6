package call

import (
	"math"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// Warning names, as the Twilio Voice SDK calls them (signaling's, with its
// thresholds).
const (
	WarnHighRTT    = signaling.WarnHighRTT    // round-trip time over 400 ms
	WarnHighJitter = signaling.WarnHighJitter // jitter over 30 ms
	WarnHighLoss   = signaling.WarnHighLoss   // loss over 3 %
	WarnLowMOS     = signaling.WarnLowMOS     // estimated MOS under 3.5
)

// warnAfter is how many consecutive seconds a figure must be over (or back
// under) its threshold before a warning is raised (or cleared), so that one
// bad second does not make the badge flicker.
const warnAfter = 3

// quality turns Pion's statistics into a Stats event each second and raises
// and clears warnings. It belongs to the phone's loop.
type quality struct {
	lost, received     int64 // packet counters at the previous sample
	concealed, decoded int64 // frame counters (decoded includes recovered) at the previous sample
	over, under        map[string]int
	raised             map[string]bool
}

func newQuality() *quality {
	return &quality{over: map[string]int{}, under: map[string]int{}, raised: map[string]bool{}}
}

// sample reads pc's statistics and what m played and returns the figures
// of a call (or a room) for the last second but the sender's, and the
// warnings that were raised or cleared by them; ok is false until the
// media path is chosen (there are no figures yet).
func (q *quality) sample(callID string, pc *webrtc.PeerConnection, m *played) (st Stats, changed []Warning, ok bool) {
	st = Stats{CallID: callID, Network: "udp", JitterBuffer: time.Duration(m.jbDelay.Load())}
	var lost, received int64
	var pair webrtc.ICECandidatePairStats
	candidates := map[string]webrtc.ICECandidateStats{}
	for _, s := range pc.GetStats() {
		switch s := s.(type) {
		case webrtc.ICECandidatePairStats:
			if s.Nominated && s.State == webrtc.StatsICECandidatePairStateSucceeded {
				pair = s
			}
		case webrtc.ICECandidateStats:
			candidates[s.ID] = s
		case webrtc.InboundRTPStreamStats:
			st.Jitter = max(st.Jitter, time.Duration(s.Jitter*float64(time.Second))) // a room's: its slots' worst
			lost += int64(s.PacketsLost)
			received += int64(s.PacketsReceived)
		}
	}
	if pair.ID == "" {
		return st, nil, false
	}
	st.RTT = time.Duration(pair.CurrentRoundTripTime * float64(time.Second))
	local, remote := candidates[pair.LocalCandidateID], candidates[pair.RemoteCandidateID]
	st.Relayed = local.CandidateType == webrtc.ICECandidateTypeRelay ||
		remote.CandidateType == webrtc.ICECandidateTypeRelay
	switch {
	case local.CandidateType == webrtc.ICECandidateTypeRelay && local.RelayProtocol != "":
		st.Network = local.RelayProtocol // the leg to the TURN server
	case local.Protocol != "":
		st.Network = local.Protocol
	}
	if dl, dr := lost-q.lost, received-q.received; dl > 0 && dl+dr > 0 {
		st.Loss = float64(dl) / float64(dl+dr)
	}
	q.lost, q.received = lost, received
	st.Decoded, st.Recovered, st.Concealed = m.frames.decoded.Load(), m.frames.recovered.Load(),
		m.frames.concealed.Load()
	// The loss a listener hears is what FEC could not recover: the share
	// of frames concealed in the last second. One-way delay: half the
	// round trip, the jitter buffer, and about 30 ms of framing, codec
	// look-ahead and device buffers.
	heard := 0.0
	if dc, dd := st.Concealed-q.concealed, st.Decoded+st.Recovered-q.decoded; dc+dd > 0 {
		heard = float64(dc) / float64(dc+dd)
	}
	q.concealed, q.decoded = st.Concealed, st.Decoded+st.Recovered
	st.MOS = signaling.MOS(st.RTT/2+st.JitterBuffer+30*time.Millisecond, heard)

	changed = q.warnings(st)
	return st, changed, true
}

// warnings raises and clears the warnings after a second's figures: a
// warning is raised once its figure has been over the threshold for
// warnAfter seconds in a row, and cleared once it has been back under for
// as long.
func (q *quality) warnings(st Stats) (changed []Warning) {
	check := func(name string, bad bool, value float64) {
		if bad {
			q.over[name]++
			q.under[name] = 0
		} else {
			q.under[name]++
			q.over[name] = 0
		}
		switch {
		case !q.raised[name] && q.over[name] >= warnAfter:
			q.raised[name] = true
			changed = append(changed, Warning{CallID: st.CallID, Name: name, Value: value, Raised: true})
		case q.raised[name] && q.under[name] >= warnAfter:
			q.raised[name] = false
			changed = append(changed, Warning{CallID: st.CallID, Name: name, Value: value})
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	over := signaling.Problems(st.RTT, st.Jitter, st.Loss, st.MOS)
	check(WarnHighRTT, slices.Contains(over, WarnHighRTT), ms(st.RTT))
	check(WarnHighJitter, slices.Contains(over, WarnHighJitter), ms(st.Jitter))
	check(WarnHighLoss, slices.Contains(over, WarnHighLoss), 100*st.Loss)
	check(WarnLowMOS, slices.Contains(over, WarnLowMOS), st.MOS)
	return changed
}

// adaptation is the sender's response to the receiver's reports: the
// expected loss that sizes Opus's in-band FEC, and the bitrate.
//
// Any reported loss sets the expected loss to at least 10 % (below that,
// libopus 1.3 sends no FEC), and higher loss to the loss itself, up to
// 50 %; after 10 s without loss it drops back to 0, and FEC stops costing
// bits. The bitrate steps down as loss grows, to leave room for FEC and to
// ease a congested link, but not below 20 kbit/s: under that, libopus 1.3
// leaves FEC out (its threshold for even narrowband FEC at 20 % loss is
// about 16 kbit/s after what it sets aside for the loss), just when the
// link needs it most.
func adaptation(lossFraction float64, sinceLoss time.Duration) (expectedLoss, bitrate int) {
	pct := int(math.Ceil(100 * lossFraction))
	switch {
	case pct == 0 && sinceLoss > 10*time.Second:
		return 0, 32000
	case pct < 10:
		return 10, 32000
	case pct < 20:
		return pct, 24000
	default:
		return min(pct, 50), 20000
	}
}
