package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// RoomQuietBelow is the Goertzel amplitude under which a speaker's own
// tone counts as not sent back to it: 28 dB under the tone.
const RoomQuietBelow = 0.01

// RoomRun is what one room measured: Size participants on a `parley
// serve` of its own, Speakers of them speaking at once.
type RoomRun struct {
	Size, Speakers int
	// Settle is how long the room ran, everyone in, before the window.
	Settle, Window time.Duration
	// Streams is how many streams the server forwards: each speaker's to
	// everyone else.
	Streams int
	// The server's CPU over the window, share of one core.
	ServerCPU float64
	// The server's resident set with the room's users signed up but
	// before anyone connected (IdleRSS), at the end of the window (RSS),
	// and its peak.
	IdleRSS, RSS, PeakRSS int64
	// The participants' own process over the window (0: they ran in the
	// harness's process).
	PeersCPU float64
	// Joins runs from each room_join to the first packet on a slot, for
	// the joins made while someone spoke in the room (all but the first);
	// Missed counts those that heard nothing within 5 s.
	Joins  Dist
	Missed int
	// Listeners (the silent participants) and those who heard every
	// speaker's tone; speakers and those who heard every other speaker's
	// tone and not their own.
	Listeners, ListenersHeard int
	SpeakersHeard             int
	// Packets received over the window on every participant's slots, and
	// how many the forwarded streams would carry in that time.
	Received, Expected int
	// Load is the machine's 1-minute load average at the end of the window
	// (2 cores: above 2, something else was running).
	Load  float64
	Peers []RoomPeerReport
}

// StreamCPU is the server's CPU per forwarded stream, share of a core.
func (r RoomRun) StreamCPU() float64 {
	if r.Streams == 0 {
		return 0
	}
	return r.ServerCPU / float64(r.Streams)
}

// RoomsResult is the rooms measurement: a room of each size.
type RoomsResult struct {
	Runs []RoomRun
}

// Largest is the run of the largest room, nil if none.
func (r *RoomsResult) Largest() *RoomRun {
	var best *RoomRun
	for i := range r.Runs {
		if best == nil || r.Runs[i].Size > best.Size {
			best = &r.Runs[i]
		}
	}
	return best
}

// RoomSpeakers is how many participants speak at once in the measured
// rooms: as many as a participant hears.
const RoomSpeakers = signaling.RoomSlots

// MeasureRooms measures a room of each of sizes, one after another, each
// on a `parley serve` of its own (its memory is the room's): the
// participants (harness peers, RunRoomPeers) join one by one, the room
// runs for settle, then the server's CPU and memory are read over window
// while every participant records its slots; the recordings are searched
// for the speakers' tones afterwards. With e.Self set, the participants
// live in a helper process (e.Self roompeers); without, in this one.
func MeasureRooms(ctx context.Context, e *Env, sizes []int, settle, window time.Duration) (*RoomsResult, error) {
	res := &RoomsResult{}
	for _, n := range sizes {
		e.Logf("rooms: a room of %d, %d speaking", n, min(n, RoomSpeakers))
		run, err := measureRoom(ctx, e, n, settle, window)
		if err != nil {
			return res, fmt.Errorf("room of %d: %w", n, err)
		}
		e.Logf("rooms: %d: server CPU %s (%s per stream of %d), RSS %.1f MB (%.1f MB idle); join to audio p50 %s "+
			"p95 %s; %d of %d listeners heard all speakers, %d of %d speakers the others; packets %d of %d",
			n, pct(run.ServerCPU), pct(run.StreamCPU()), run.Streams, mb(run.RSS), mb(run.IdleRSS),
			fms(run.Joins.P50), fms(run.Joins.P95), run.ListenersHeard, run.Listeners, run.SpeakersHeard,
			run.Speakers, run.Received, run.Expected)
		res.Runs = append(res.Runs, *run)
	}
	return res, nil
}

func measureRoom(ctx context.Context, e *Env, n int, settle, window time.Duration) (*RoomRun, error) {
	// The participants sign in and join as fast as they can, from one
	// address: no limit on them.
	srv, err := StartServer(ctx, e.Parley, filepath.Join(e.Dir, fmt.Sprintf("room-%d", n)), "--limit-rate", "10000",
		"--limit-burst", "10000")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	cfg := RoomPeersConfig{Server: srv.URL, Room: fmt.Sprintf("bench-%d", n), Speakers: min(n, RoomSpeakers),
		Settle: settle, Window: window, Patience: 5 * time.Second}
	for i := range n {
		u := fmt.Sprintf("room%03d", i)
		tok, err := srv.Token(ctx, nil, u)
		if err != nil {
			return nil, err
		}
		cfg.Users, cfg.Tokens = append(cfg.Users, u), append(cfg.Tokens, tok)
	}
	api := signaling.API{Server: srv.URL, Token: func(context.Context) (string, error) { return cfg.Tokens[0], nil }}
	if _, err := api.CreateRoom(ctx, signaling.RoomRequest{Name: cfg.Room}); err != nil {
		return nil, fmt.Errorf("bench: create room %s: %w", cfg.Room, err)
	}
	run := &RoomRun{Size: n, Speakers: cfg.Speakers, Settle: settle, Window: window, Streams: cfg.Speakers * (n - 1)}
	run.Expected = run.Streams * int(window/(20*time.Millisecond))
	if run.IdleRSS, _, err = Memory(srv.Pid()); err != nil {
		return nil, err
	}
	next, pid, stop, err := startRoomPeers(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	defer stop()
	var joins []time.Duration
	var server, peers *CPUMeter
	for {
		l, err := next(2*time.Minute, "the room's progress")
		if err != nil {
			return nil, err
		}
		word, rest, _ := strings.Cut(l, " ")
		switch word {
		case "joined":
			var i int
			var ns int64
			if _, err := fmt.Sscanf(rest, "%d %d", &i, &ns); err != nil {
				return nil, fmt.Errorf("bench: room peers printed %q", l)
			}
			if ns > 0 {
				joins = append(joins, time.Duration(ns))
			}
		case "missed":
			run.Missed++
		case "ready":
			e.Logf("rooms: %d joined", n)
		case "window":
			if server, err = StartCPU(srv.Pid()); err != nil {
				return nil, err
			}
			if pid > 0 {
				if peers, err = StartCPU(pid); err != nil {
					return nil, err
				}
			}
		case "end":
			if server == nil {
				return nil, errors.New("bench: room peers ended a window they did not start")
			}
			if run.ServerCPU, err = server.Share(); err != nil {
				return nil, err
			}
			if peers != nil {
				if run.PeersCPU, err = peers.Share(); err != nil {
					return nil, err
				}
			}
			if run.RSS, run.PeakRSS, err = Memory(srv.Pid()); err != nil {
				return nil, err
			}
			run.Load = LoadAverage()
		case "result":
			var reports []RoomPeerReport
			if err := json.Unmarshal([]byte(rest), &reports); err != nil {
				return nil, fmt.Errorf("bench: room peers' results: %w", err)
			}
			run.Joins = NewDist(joins)
			run.summarize(reports)
			return run, nil
		case "failed:":
			return nil, fmt.Errorf("bench: room peers: %s", rest)
		}
	}
}

// summarize judges what each participant heard.
func (r *RoomRun) summarize(reports []RoomPeerReport) {
	r.Peers = reports
	r.Listeners, r.ListenersHeard, r.SpeakersHeard, r.Received = 0, 0, 0, 0
	var sent []float64
	for _, p := range reports {
		if p.Tone > 0 {
			sent = append(sent, p.Tone)
		}
	}
	for _, p := range reports {
		r.Received += p.Packets
		heard := len(p.Levels) == len(RoomTones)
		for k, hz := range RoomTones {
			if !heard {
				break
			}
			switch {
			case hz == p.Tone:
				heard = p.Levels[k] < RoomQuietBelow
			case slices.Contains(sent, hz):
				heard = p.Levels[k] > RoomHeardAbove
			}
		}
		switch {
		case p.Tone == 0:
			r.Listeners++
			if heard {
				r.ListenersHeard++
			}
		case heard:
			r.SpeakersHeard++
		}
	}
}

// startRoomPeers runs the participants of cfg, in a helper process when
// e.Self is set (pid is its id) or else in this one; next returns their
// next line.
func startRoomPeers(ctx context.Context, e *Env, cfg RoomPeersConfig) (next func(time.Duration, string) (string,
	error), pid int, stop func(), err error) {
	if e.Self != "" {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, 0, nil, err
		}
		file := filepath.Join(e.Dir, cfg.Room+".json")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return nil, 0, nil, err
		}
		p, err := StartProc(cfg.Room+"-peers", e.Dir, nil, e.Self, "roompeers", "-config", file)
		if err != nil {
			return nil, 0, nil, err
		}
		next = func(timeout time.Duration, what string) (string, error) {
			return p.WaitLine(ctx, timeout, what, func(string) bool { return true })
		}
		return next, p.Pid(), func() { p.Stop(syscall.SIGTERM) }, nil
	}
	pr, pw := io.Pipe()
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = RunRoomPeers(pctx, cfg, pw) // its error is its last line
		_ = pw.Close()
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next = func(timeout time.Duration, what string) (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", errors.New("bench: the room's participants stopped")
			}
			return l, nil
		case <-time.After(timeout):
			return "", fmt.Errorf("bench: no %s within %v", what, timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return next, 0, func() {
		cancel()
		_ = pr.Close()
		<-done
	}, nil
}

// ParseRoomSizes reads a comma-separated list of room sizes.
func ParseRoomSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > signaling.MaxRoomParticipants {
			return nil, fmt.Errorf("room size %q: want a number from 2 to %d", f, signaling.MaxRoomParticipants)
		}
		out = append(out, n)
	}
	return out, nil
}
