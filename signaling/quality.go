package signaling

import (
	"math"
	"time"
)

// Connection quality: what a call (call.Stats) and a room (room_event
// "quality", docs/PROTOCOL.md) rate a connection by. A figure over its
// threshold is a problem, named as the Twilio Voice SDK names its
// warnings; the estimated MOS grades the connection.
const (
	WarnHighRTT    = "high-rtt"         // round-trip time over HighRTT
	WarnHighJitter = "high-jitter"      // jitter over HighJitter
	WarnHighLoss   = "high-packet-loss" // loss over HighLoss
	WarnLowMOS     = "low-mos"          // estimated MOS under LowMOS
)

// The thresholds of the problems, and the least MOS of a good connection.
const (
	HighRTT    = 400 * time.Millisecond
	HighJitter = 30 * time.Millisecond
	HighLoss   = 0.03
	LowMOS     = 3.5
	GoodMOS    = 4.0
)

// Grade is a connection's quality in one word.
type Grade string

// The grades: good (MOS GoodMOS or more and no problem), fair (a problem,
// or MOS under GoodMOS) and poor (MOS under LowMOS: people hear it).
const (
	GradeGood Grade = "good"
	GradeFair Grade = "fair"
	GradePoor Grade = "poor"
)

// MOS estimates the mean opinion score (1 to 4.5) of a connection from its
// one-way mouth-to-ear delay and packet loss, with the ITU-T G.107 E-model:
//
//	R = 93.2 − Id − Ie,eff
//	Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)    (d in ms)
//	Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)      (Ppl in %)
//	MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)
//
// Opus at these bitrates is taken as Ie = 0 with Bpl = 20 (its packet loss
// concealment and in-band FEC make it more robust than G.711's 25.1 without
// them would suggest, by the figures of ITU-T G.113 Appendix I).
func MOS(delay time.Duration, loss float64) float64 {
	const ie, bpl = 0.0, 20.0
	d := float64(delay) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := 100 * math.Max(0, math.Min(1, loss))
	ieEff := ie + (95-ie)*ppl/(ppl+bpl)
	r := 93.2 - id - ieEff
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
}

// Problems names the figures over their thresholds, in the order of the
// Warn constants.
func Problems(rtt, jitter time.Duration, loss, mos float64) []string {
	var out []string
	for _, p := range []struct {
		name string
		over bool
	}{
		{WarnHighRTT, rtt > HighRTT},
		{WarnHighJitter, jitter > HighJitter},
		{WarnHighLoss, loss > HighLoss},
		{WarnLowMOS, mos < LowMOS},
	} {
		if p.over {
			out = append(out, p.name)
		}
	}
	return out
}

// Rate grades a connection by its MOS and problems.
func Rate(mos float64, problems []string) Grade {
	switch {
	case mos < LowMOS:
		return GradePoor
	case mos < GoodMOS || len(problems) > 0:
		return GradeFair
	}
	return GradeGood
}

// Quality is a room participant's connection as the room's node sees what
// they send (room_event "quality"): the share of their packets lost on the
// way and the jitter of their arrival over the last few seconds, the round
// trip of their media path, the MOS estimated from these, its grade and
// the problems behind it. A listener sends nothing and has none.
type Quality struct {
	User     string   `json:"user"`
	Grade    Grade    `json:"grade"`
	Problems []string `json:"problems,omitempty"` // of the Warn names
	Loss     float64  `json:"loss"`               // 0..1
	JitterMs float64  `json:"jitter_ms"`
	RTTMs    float64  `json:"rtt_ms"`
	MOS      float64  `json:"mos"`
}
