package common

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/styles"
)

// QualityText formats the quality figures of a call, or of what a room
// sends you: "RTT 42 ms · jitter 3 ms · loss 0.5% · MOS 4.3 · buffer 60
// ms · direct · udp".
func QualityText(s call.Stats) string {
	path := "direct"
	if s.Relayed {
		path = "relayed"
	}
	parts := []string{
		"RTT " + ms(s.RTT),
		"jitter " + ms(s.Jitter),
		fmt.Sprintf("loss %.1f%%", 100*max(0, min(1, s.Loss))),
	}
	if s.MOS > 0 {
		parts = append(parts, fmt.Sprintf("MOS %.1f", s.MOS), "buffer "+ms(s.JitterBuffer))
	}
	parts = append(parts, path)
	if s.Network != "" {
		parts = append(parts, s.Network)
	}
	return strings.Join(parts, " · ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// ProblemText names a quality problem (a call's warning, a room
// participant's problem) for people.
func ProblemText(name string) string {
	switch name {
	case signaling.WarnHighRTT:
		return "high latency"
	case signaling.WarnHighJitter:
		return "high jitter"
	case signaling.WarnHighLoss:
		return "packet loss"
	case signaling.WarnLowMOS:
		return "poor quality"
	}
	return name
}

// GradeWidth is the width of GradeMark.
const GradeWidth = 3

// GradeMark is a connection's grade as signal bars, GradeWidth cells: ▂▄▆
// good, ▂▄· fair, ▂·· poor; blank when there is none. The bars tell the
// grade without their colour.
func GradeMark(st *styles.Styles, g signaling.Grade) string {
	switch g {
	case signaling.GradeGood:
		return st.Call.Good.Render("▂▄▆")
	case signaling.GradeFair:
		return st.Call.Fair.Render("▂▄") + st.Dim.Render("·")
	case signaling.GradePoor:
		return st.Call.Poor.Render("▂") + st.Dim.Render("··")
	}
	return strings.Repeat(" ", GradeWidth)
}

// Grade rates Stats as a room rates a participant (signaling.Rate).
func Grade(s call.Stats) signaling.Grade {
	return signaling.Rate(s.MOS, signaling.Problems(s.RTT, s.Jitter, s.Loss, s.MOS))
}
