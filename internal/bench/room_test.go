package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestRoomFrames: the pre-encoded frames of each tone decode to that tone
// (above 0.2 of full scale: it is sent at 0.25) and to none of the others
// (under RoomQuietBelow); the silence decodes to none.
func TestRoomFrames(t *testing.T) {
	frames, silence, err := roomFrames(RoomTones, roomToneAmp)
	if err != nil {
		t.Fatal(err)
	}
	for i, fs := range frames {
		if len(fs) != 50 {
			t.Fatalf("%g Hz: %d frames, want 50 (a second)", RoomTones[i], len(fs))
		}
		levels, packets := analyse([]slotRecord{{payloads: append(fs, fs...)}})
		if packets != 100 {
			t.Fatalf("%d packets analysed, want 100", packets)
		}
		for k, hz := range RoomTones {
			if k == i && levels[k] < 0.2 || k != i && levels[k] >= RoomQuietBelow {
				t.Errorf("frames of %g Hz: %g Hz at %.3f", RoomTones[i], hz, levels[k])
			}
		}
	}
	levels, _ := analyse([]slotRecord{{payloads: [][]byte{silence, silence, silence, silence}}})
	for k, hz := range RoomTones {
		if levels[k] >= RoomQuietBelow {
			t.Errorf("silence: %g Hz at %.3f", hz, levels[k])
		}
	}
}

// TestRoomSummarize: a listener counts as hearing only with every sent
// tone above RoomHeardAbove; a speaker only with the others' above it and
// its own under RoomQuietBelow; a tone nobody sent does not count.
func TestRoomSummarize(t *testing.T) {
	reports := []RoomPeerReport{
		{User: "s1", Tone: 440, Levels: []float64{0.001, 0.25, 0}, Packets: 10},
		{User: "s2", Tone: 700, Levels: []float64{0.25, 0.02, 0}, Packets: 10}, // hears itself
		{User: "l1", Levels: []float64{0.25, 0.25, 0}, Packets: 20},
		{User: "l2", Levels: []float64{0.25, 0.05, 0}, Packets: 20}, // 700 Hz too faint
		{User: "l3", Levels: []float64{0.25, 0.25, 0.3}, Packets: 20},
		{User: "l4", Packets: 0}, // nothing arrived
	}
	var r RoomRun
	r.summarize(reports)
	if r.Listeners != 4 || r.ListenersHeard != 2 || r.SpeakersHeard != 1 || r.Received != 80 {
		t.Fatalf("listeners %d, heard %d; speakers who heard %d; received %d; want 4, 2; 1; 80", r.Listeners,
			r.ListenersHeard, r.SpeakersHeard, r.Received)
	}
	if sizes, err := ParseRoomSizes("5, 10,25,50"); err != nil || !slices.Equal(sizes, []int{5, 10, 25, 50}) {
		t.Fatalf("room sizes %v, %v; want [5 10 25 50]", sizes, err)
	}
	for _, bad := range []string{"1", "5,x", "101", ""} {
		if _, err := ParseRoomSizes(bad); err == nil {
			t.Errorf("room sizes %q: no error", bad)
		}
	}
}

// TestRoomReport: the rooms section, its targets and its plot come out of
// made-up runs: met for the room of 50 as measured, missed (and by how
// much) when its server takes more than a quarter of a core and a join
// takes 400 ms; the mouth-to-ear and client CPU targets say they were not
// measured.
func TestRoomReport(t *testing.T) {
	run := func(n int, cpu float64, join time.Duration) RoomRun {
		return RoomRun{Size: n, Speakers: 3, Settle: 3 * time.Second, Window: 20 * time.Second, Streams: 3 * (n - 1),
			ServerCPU: cpu, IdleRSS: 40 << 20, RSS: int64(40+n/2) << 20, PeakRSS: int64(41+n/2) << 20, PeersCPU: 0.2,
			Joins: NewDist([]time.Duration{join, join, 2 * join}), Listeners: n - 3, ListenersHeard: n - 3,
			SpeakersHeard: 3, Received: 3 * (n - 1) * 1000, Expected: 3 * (n - 1) * 1000}
	}
	r := &Results{Date: time.Now(), Machine: ReadMachine(), RoomsPlot: "x-rooms.svg", Rooms: &RoomsResult{
		Runs: []RoomRun{run(5, 0.02, 40*time.Millisecond), run(10, 0.04, 40*time.Millisecond),
			run(25, 0.08, 40*time.Millisecond), run(50, 0.16, 40*time.Millisecond)}}}
	verdicts := func() map[string]Target {
		m := map[string]Target{}
		for _, tg := range r.Targets() {
			m[strings.SplitN(tg.Goal, " ", 4)[0]+" "+strings.SplitN(tg.Goal, " ", 4)[1]] = tg
		}
		return m
	}
	v := verdicts()
	for _, k := range []string{"a room", "the server's", "room join"} {
		if !v[k].Known || !v[k].Met {
			t.Errorf("%s: %+v, want met", k, v[k])
		}
	}
	for _, k := range []string{"mouth-to-ear in", "a participant's"} {
		if v[k].Known || !strings.Contains(v[k].Measured, "not measured yet") {
			t.Errorf("%s: %+v, want not measured yet", k, v[k])
		}
	}
	if !strings.Contains(v["the server's"].Measured, "0.11 % per forwarded stream (147 streams") {
		t.Errorf("server CPU: %q", v["the server's"].Measured)
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Rooms", "![server CPU and memory by room size](x-rooms.svg)",
		"| 50 | 147 | 16.0 % | 0.11 % | 40.0 → 65.0 MB (66.0 MB) | 40.0 ms / 76.0 ms / 80.0 ms | 47 of 47 | 3 of 3 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}

	big := r.Rooms.Runs[3]
	big.ServerCPU, big.ListenersHeard, big.Joins = 0.3, 45, NewDist([]time.Duration{400 * time.Millisecond})
	r.Rooms.Runs[3] = big
	v = verdicts()
	for k, by := range map[string]string{"a room": "2 listeners missed a tone", "the server's": "5.0 points over",
		"room join": "100 ms over"} {
		if !v[k].Known || v[k].Met || !strings.Contains(v[k].By, by) {
			t.Errorf("%s: %+v, want missed by %q", k, v[k], by)
		}
	}

	path := filepath.Join(t.TempDir(), "rooms.svg")
	if err := r.Rooms.WritePlot(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Polylines []struct {
			Class  string `xml:"class,attr"`
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
		Texts []string `xml:"text"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the plot is not XML: %v", err)
	}
	lines := 0
	for _, p := range doc.Polylines {
		if p.Class == "growth" {
			lines++
			if n := len(strings.Fields(p.Points)); n != 4 {
				t.Errorf("a line of %d points, want 4 (one per room)", n)
			}
		}
	}
	if lines != 4 || !strings.Contains(string(raw), "goal for 50: a quarter of a core") {
		t.Errorf("%d lines (want 4: CPU, RSS, peak, idle RSS), or no goal line", lines)
	}
}

// TestRoomPeers: a room of three harness peers on a server in this
// process, two speaking: every packet of the window arrives, the listener
// hears both tones and each speaker the other's and not its own, and the
// second and third joins hear their first audio.
func TestRoomPeers(t *testing.T) {
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), TURNListen: "127.0.0.1:0",
		DialLimit: -1, RingLimit: -1, MessageLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	})
	url := "http://" + srv.Addr()
	cfg := RoomPeersConfig{Server: url, Room: "tiny", Speakers: 2, Settle: 500 * time.Millisecond,
		Window: 1500 * time.Millisecond}
	for _, u := range []string{"ann", "ben", "cat"} {
		tok, err := srv.IssueToken(ctx, u, server.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Users, cfg.Tokens = append(cfg.Users, u), append(cfg.Tokens, tok)
	}
	api := signaling.API{Server: url, Token: func(context.Context) (string, error) { return cfg.Tokens[0], nil }}
	if _, err := api.CreateRoom(ctx, signaling.RoomRequest{Name: "tiny"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := RunRoomPeers(ctx, cfg, &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	var words []string
	var reports []RoomPeerReport
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		word, rest, _ := strings.Cut(sc.Text(), " ")
		words = append(words, word)
		var i int
		var ns int64
		if word == "joined" {
			_, _ = fmt.Sscanf(rest, "%d %d", &i, &ns)
		}
		if i > 0 && ns <= 0 {
			t.Errorf("join %d: %q, want the time to its first audio", i, rest)
		}
		if word == "result" {
			if err := json.Unmarshal([]byte(rest), &reports); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := strings.Join(words, " "); got != "joined joined joined ready window end result" {
		t.Fatalf("lines %q: %s", got, out.String())
	}
	run := RoomRun{Speakers: 2}
	run.summarize(reports)
	// Two streams to the listener, one to each speaker: 4 streams of 75
	// packets over 1.5 s, give or take a packet at either end.
	if run.ListenersHeard != 1 || run.SpeakersHeard != 2 || run.Received < 4*73 || run.Received > 4*77 {
		t.Fatalf("listener heard both: %d, speakers heard the other: %d; %d packets (want about 300): %s",
			run.ListenersHeard, run.SpeakersHeard, run.Received, out.String())
	}
	for _, r := range reports {
		t.Logf("%s (tone %g): %d packets, levels %v", r.User, r.Tone, r.Packets, r.Levels)
	}
}
