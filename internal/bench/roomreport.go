package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// Issue 17's goals for rooms.
const (
	roomGoalSize   = 50
	roomGoalCPU    = 0.25 // of a core, the server, for the whole room
	roomGoalJoin   = 300 * time.Millisecond
	roomGoalExtra  = 5 * time.Millisecond // mouth-to-ear in a room over 1:1
	roomGoalClient = 1.3                  // a participant's CPU over its 1:1 figure
)

// roomTargets judges the rooms measurement against issue 17's targets.
func (r *Results) roomTargets() []Target {
	goalHear := fmt.Sprintf("a room of %d, three speaking at once with distinct tones: every listener hears all three "+
		"(issue 17)", roomGoalSize)
	goalCPU := "the server's CPU for that room ≤ a quarter of a core, and per forwarded stream"
	goalJoin := fmt.Sprintf("room join to first audio heard p95 ≤ %s", fms(roomGoalJoin))
	ts := []Target{{Goal: goalHear}, {Goal: goalCPU}, {Goal: goalJoin}, r.roomLatencyTarget(), r.roomClientTarget()}
	if r.Rooms == nil {
		return ts
	}
	run := r.Rooms.Largest()
	if run == nil {
		return ts
	}
	small := ""
	if run.Size < roomGoalSize {
		small = fmt.Sprintf("the largest room measured had %d participants", run.Size)
	}
	{
		t := &ts[0]
		t.Known = true
		t.Measured = fmt.Sprintf("room of %d: %d of %d listeners heard all %d tones, %d of %d speakers the others' "+
			"(not their own); %d of %d forwarded packets arrived", run.Size, run.ListenersHeard, run.Listeners,
			run.Speakers, run.SpeakersHeard, run.Speakers, run.Received, run.Expected)
		t.Met = small == "" && run.ListenersHeard == run.Listeners && run.SpeakersHeard == run.Speakers
		var by []string
		if small != "" {
			by = append(by, small)
		}
		if n := run.Listeners - run.ListenersHeard; n > 0 {
			by = append(by, fmt.Sprintf("%d listeners missed a tone", n))
		}
		if n := run.Speakers - run.SpeakersHeard; n > 0 {
			by = append(by, fmt.Sprintf("%d speakers missed another's tone or heard their own", n))
		}
		t.By = strings.Join(by, "; ")
	}
	{
		t := &ts[1]
		t.Known = true
		t.Measured = fmt.Sprintf("%s of a core for the room of %d, %s per forwarded stream (%d streams: %d speakers "+
			"to %d others each)", pct(run.ServerCPU), run.Size, pct2(run.StreamCPU()), run.Streams, run.Speakers,
			run.Size-1)
		t.Met = small == "" && run.ServerCPU <= roomGoalCPU
		var by []string
		if small != "" {
			by = append(by, small)
		}
		if run.ServerCPU > roomGoalCPU {
			by = append(by, fmt.Sprintf("%.1f points over (%.1f× the goal): see the rooms section",
				100*(run.ServerCPU-roomGoalCPU), run.ServerCPU/roomGoalCPU))
		}
		t.By = strings.Join(by, "; ")
	}
	{
		t := &ts[2]
		t.Known = run.Joins.N > 0
		t.Measured = fmt.Sprintf("p95 %s (p50 %s, max %s) over %d joins of the room of %d", fms2(run.Joins.P95),
			fms2(run.Joins.P50), fms2(run.Joins.Max), run.Joins.N, run.Size)
		if run.Missed > 0 {
			t.Measured += fmt.Sprintf("; %d heard nothing within 5 s", run.Missed)
		}
		t.Met = run.Joins.P95 <= roomGoalJoin && run.Missed == 0
		var by []string
		if run.Joins.P95 > roomGoalJoin {
			by = append(by, fms(run.Joins.P95-roomGoalJoin)+" over")
		}
		if run.Missed > 0 {
			by = append(by, fmt.Sprintf("%d joins heard nothing", run.Missed))
		}
		t.By = strings.Join(by, "; ")
	}
	return ts
}

// roomLatencyTarget compares mouth-to-ear in a room with 1:1, both parley
// with its defaults in the same run.
func (r *Results) roomLatencyTarget() Target {
	t := Target{Goal: fmt.Sprintf("mouth-to-ear in a room ≤ %s above the 1:1 figure of the same run (p50, both "+
		"without microphone processing)", fms(roomGoalExtra)), Measured: roomNotYet}
	p, room := r.contender(roomBaseline), r.contender(RoomContender)
	if p == nil || room == nil {
		return t
	}
	extra := room.Latency.P50 - p.Latency.P50
	t.Known = true
	t.Measured = fmt.Sprintf("in a room %s, 1:1 %s: %+.1f ms (fastest chirp %s and %s; p95 %s and %s)",
		fms2(room.Latency.P50), fms2(p.Latency.P50), float64(extra)/float64(time.Millisecond), fms2(room.Latency.Min),
		fms2(p.Latency.Min), fms2(room.Latency.P95), fms2(p.Latency.P95))
	if room.Missed > 0 {
		t.Measured += fmt.Sprintf(" (%d of %d chirps missed in the room)", room.Missed, room.Missed+room.Latency.N)
	}
	t.Met = extra <= roomGoalExtra
	if !t.Met {
		t.By = fms2(extra-roomGoalExtra) + " over"
	}
	return t
}

// roomClientTarget compares a listener's CPU in a room, hearing three
// speakers, with the listening side of a 1:1 call.
func (r *Results) roomClientTarget() Target {
	t := Target{Goal: fmt.Sprintf("a participant's client CPU with three speakers ≤ %.1f× its 1:1 figure (listening "+
		"sides, both without microphone processing)", roomGoalClient), Measured: roomNotYet}
	p, room := r.contender(roomBaseline), r.contender(RoomContender)
	if p == nil || room == nil || p.CPUB == 0 {
		return t
	}
	ratio := room.CPUB / p.CPUB
	t.Known = true
	t.Measured = fmt.Sprintf("listening to three speakers %s, 1:1 listening %s: %.2f×; the room's speaker %s "+
		"(hearing two), 1:1 %s", pct(room.CPUB), pct(p.CPUB), ratio, pct(room.CPUA), pct(p.CPUA))
	t.Met = ratio <= roomGoalClient
	if !t.Met {
		t.By = fmt.Sprintf("%.2f× (%.1f points over %.1f×)", ratio, 100*(room.CPUB-roomGoalClient*p.CPUB),
			roomGoalClient)
	}
	return t
}

const roomNotYet = "not measured yet: the latency set-up \"" + RoomContender + "\" did not run"

// RoomContender is the latency set-up of parley in a room, and
// roomBaseline the 1:1 set-up it compares with: the same flags (no
// microphone processing: see Contenders).
const (
	RoomContender = "parley, in a room"
	roomBaseline  = "parley, no processing"
)

func pct2(v float64) string { return fmt.Sprintf("%.2f %%", 100*v) }

func (r *Results) writeRooms(f func(string, ...any)) {
	room := r.contender(RoomContender)
	if (r.Rooms == nil || len(r.Rooms.Runs) == 0) && room == nil {
		return
	}
	f("## Rooms\n\n")
	if r.Rooms != nil && len(r.Rooms.Runs) > 0 {
		r.writeRoomRuns(f)
	}
	if room != nil {
		r.writeRoomCall(f, room)
	}
}

// writeRoomCall tells how mouth-to-ear in a room was measured, against
// 1:1.
func (r *Results) writeRoomCall(f func(string, ...any), room *ContenderResult) {
	f("**Mouth-to-ear in a room** is the latency set-up \"%s\" above, on the same rig in the same rounds: A and B "+
		"run `parley join` in a room of their own on the latency's `parley serve`, ", RoomContender)
	f("two harness peers speak quiet tones (%s Hz at -33 dBov) in it, so that B hears three speakers and A two; "+
		"B's speaker carries A's chirps through the server's forwarder. ", joinFloats(RoomTones[:2]))
	f("A's microphone also carries a %d Hz tone at -43 dBov under the chirps all along: the server frees a "+
		"speaker's slot after 600 ms of quiet and gives one again at the first packet louder than -60 dBov, ",
		roomBedHz)
	f("so that a chirp after a longer pause would lose its first packet (20 ms) to that choice; the tone keeps A's " +
		"slot, and each chirp arrives whole. ")
	f("The tone would be taken away by noise suppression, so the set-up runs without microphone processing and "+
		"compares with \"%s\". ", roomBaseline)
	if p := r.contender(roomBaseline); p != nil {
		f("Its fastest chirp took %s, against %s 1:1 (the path without any wait of a buffer); CPU of the listening "+
			"side %s against %s 1:1.", fms2(room.Latency.Min), fms2(p.Latency.Min), pct(room.CPUB), pct(p.CPUB))
	}
	f("\n\n")
}

// writeRoomRuns writes the rooms of the rooms measurement.
func (r *Results) writeRoomRuns(f func(string, ...any)) {
	runs := r.Rooms.Runs
	where := "the harness's process"
	if runs[0].PeersCPU > 0 {
		where = "one helper process of the harness"
	}
	f("Each room runs on a `parley serve` of its own (loopback, default settings), its participants in %s: "+
		"a real signaling connection each and a real Pion peer connection laid out as a room's is ", where)
	f("(one sendonly audio transceiver, %d recvonly; ICE gathered before the offer, loopback candidates). ",
		RoomSpeakers)
	f("The first %d to join speak, each a distinct tone (%s Hz, -15 dBov) as pre-encoded 20 ms Opus packets "+
		"carrying the tone's RFC 6464 level (15); ", RoomSpeakers, joinFloats(RoomTones))
	f("everyone else sends pre-encoded silence marked 127, as a muted-by-silence microphone would. " +
		"They join one after another; join to first audio runs from sending `room_join` ")
	f("to the first packet on any of the joiner's slots (the server's answer, ICE, DTLS, the forwarder giving the " +
		"joiner its slots), over the joins made while someone spoke (all but the first). ")
	f("Once everyone is in and the room has run %v, the server's CPU (all threads, `/proc/PID/stat`) is read over a "+
		"window of %v ", runs[0].Settle, runs[0].Window)
	f("while every participant keeps what arrives on its slots; after the window each participant's slots are " +
		"decoded (libopus) and each tone looked for by Goertzel: ")
	f("heard above %.2f of full scale (the sent tone is 0.25), a speaker's own tone must be under %.2f. "+
		"\"Streams\" are the streams the server forwards: each speaker's to everyone else; \"packets arrived\" counts "+
		"what every participant received over the window against what those streams carry in that time (a shortfall "+
		"the same for everyone is the senders', whose ticks a loaded machine delays); \"load\" is the 1-minute load "+
		"average at the end of the window (2 cores: above 2, other work shared them).\n\n",
		RoomHeardAbove, RoomQuietBelow)
	if r.RoomsPlot != "" {
		f("![server CPU and memory by room size](%s)\n\n", r.RoomsPlot)
	}
	f("| participants | streams | server CPU | per stream | server RSS: idle → in the room (peak) | join → first " +
		"audio p50 / p95 / max | listeners who heard all | speakers who heard the others | packets arrived | " +
		"harness peers' CPU | load |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range runs {
		peers := "–"
		if run.PeersCPU > 0 {
			peers = pct(run.PeersCPU)
		}
		joins := "–"
		if run.Joins.N > 0 {
			joins = fmt.Sprintf("%s / %s / %s", fms2(run.Joins.P50), fms2(run.Joins.P95), fms2(run.Joins.Max))
		}
		if run.Missed > 0 {
			joins += fmt.Sprintf(" (%d heard nothing)", run.Missed)
		}
		f("| %d | %d | %s | %s | %.1f → %.1f MB (%.1f MB) | %s | %d of %d | %d of %d | %d of %d | %s | %.1f |\n",
			run.Size, run.Streams, pct(run.ServerCPU), pct2(run.StreamCPU()), mb(run.IdleRSS), mb(run.RSS),
			mb(run.PeakRSS), joins, run.ListenersHeard, run.Listeners, run.SpeakersHeard, run.Speakers, run.Received,
			run.Expected, peers, run.Load)
	}
	f("\n")
	if len(runs) >= 2 {
		a, b := runs[0], runs[len(runs)-1]
		if b.Size > a.Size {
			f("From %d to %d participants the server's CPU grew by %s of a core and its memory by %.0f KB per "+
				"participant added; ", a.Size, b.Size, pct((b.ServerCPU - a.ServerCPU)), float64(b.RSS-a.RSS)/
				float64(b.Size-a.Size)/1024)
		}
	}
	f("every participant costs the server a peer connection (DTLS, SRTP, ICE keep-alives every second) and a " +
		"stream in, silent or not; ")
	f("only the speakers' packets are forwarded, once per receiver (SRTP per receiver: nothing is decoded).\n\n")
}

func joinFloats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%g", x))
	}
	return strings.Join(s, ", ")
}

// RoomsPlotName is the rooms plot's file name beside the document.
func RoomsPlotName(doc string) string {
	return strings.TrimSuffix(filepath.Base(doc), filepath.Ext(doc)) + "-rooms.svg"
}

// WritePlot draws how the server's CPU and memory grow with a room's
// participants, as an SVG: CPU (share of a core, with the goal of a
// quarter of a core for 50) on the left, resident set (idle and in the
// room) on the right.
func (r *RoomsResult) WritePlot(path string) error {
	if len(r.Runs) == 0 {
		return fmt.Errorf("bench: no rooms to plot")
	}
	const w, h = 1134, 420
	xmax := 0.0
	cpuMax, rssMax := 100*roomGoalCPU, 0.0
	for _, run := range r.Runs {
		xmax = max(xmax, float64(run.Size))
		cpuMax = max(cpuMax, 100*run.ServerCPU)
		rssMax = max(rssMax, mb(run.PeakRSS), mb(run.RSS))
	}
	xmax = math.Ceil(xmax/10) * 10
	cpuMax = math.Ceil(cpuMax*1.15/5) * 5
	rssMax = math.Ceil(rssMax*1.15/10) * 10
	return writeFile(path, func(wr io.Writer) error {
		s := &svg{w: bufio.NewWriter(wr)}
		s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" `+
			`font-family="Liberation Serif, Times New Roman, serif">`+"\n", w, h, w, h)
		s.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
		cpu := panel{x0: 70, x1: 545, y0: panelTop, y1: 350, xmax: xmax, ymax: cpuMax}
		growth(s, cpu, "The server's CPU, three speaking", "% of one core", r.Runs, []series{
			{name: "server CPU", color: rgb{31, 119, 180}, y: func(run RoomRun) float64 { return 100 * run.ServerCPU }},
		})
		goal := cpu.py(100 * roomGoalCPU)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="6 4"/>`+"\n",
			cpu.x0, goal, cpu.x1, goal)
		s.text(cpu.x1-4, goal-5, smallFont, "end", ` class="legend"`, "goal for 50: a quarter of a core")
		growth(s, panel{x0: 650, x1: 1120, y0: panelTop, y1: 350, xmax: xmax, ymax: rssMax},
			"The server's memory", "MB", r.Runs, []series{
				{name: "RSS in the room", color: rgb{44, 160, 44}, y: func(run RoomRun) float64 { return mb(run.RSS) }},
				{name: "peak RSS", color: rgb{255, 127, 14}, dashed: true,
					y: func(run RoomRun) float64 { return mb(run.PeakRSS) }},
				{name: "RSS before the room", color: rgb{127, 127, 127}, dashed: true,
					y: func(run RoomRun) float64 { return mb(run.IdleRSS) }},
			})
		s.f("</svg>\n")
		return s.flush()
	})
}

// series is a line of a growth panel.
type series struct {
	name   string
	color  rgb
	dashed bool
	y      func(RoomRun) float64
}

// growth draws a panel of figures by participants, a line and points per
// series, with a legend top left.
func growth(s *svg, p panel, title, unit string, runs []RoomRun, ss []series) {
	s.text((p.x0+p.x1)/2, 24, fontSize+2, "middle", "", title)
	s.text((p.x0+p.x1)/2, p.y1+40, fontSize+2, "middle", "", "participants")
	s.text(p.x0-45, (p.y0+p.y1)/2, fontSize+2, "middle",
		fmt.Sprintf(` transform="rotate(-90 %.1f %.1f)"`, p.x0-45, (p.y0+p.y1)/2), unit)
	for _, v := range ticks(p.ymax) {
		y := p.py(v)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>`+"\n", p.x0, y, p.x1, y)
		s.text(p.x0-8, y+4, fontSize, "end", "", fmt.Sprintf("%g", v))
	}
	for _, run := range runs {
		x := p.px(float64(run.Size))
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>`+"\n", x, p.y0, x, p.y1)
		s.text(x, p.y1+18, fontSize, "middle", "", fmt.Sprintf("%d", run.Size))
	}
	axes(s, p)
	for i, se := range ss {
		dash := ""
		if se.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		s.f(`<polyline class="growth" fill="none" stroke="%s" stroke-width="1.5"%s points="`, hex(se.color), dash)
		for _, run := range runs {
			s.f("%.1f,%.1f ", p.px(float64(run.Size)), p.py(se.y(run)))
		}
		s.f("\"/>\n")
		for _, run := range runs {
			s.f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", p.px(float64(run.Size)), p.py(se.y(run)),
				hex(se.color))
		}
		y := p.y0 + 14 + float64(i)*(smallFont+4)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>`+"\n",
			p.x0+10, y-3, p.x0+36, y-3, hex(se.color), dash)
		s.text(p.x0+42, y, smallFont, "start", ` class="legend"`, se.name)
	}
}
