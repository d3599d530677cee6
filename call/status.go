package call

import (
	"slices"

	"github.com/parley-voice/parley/signaling"
)

// State is a call in progress as Status reports it (parley ctl
// status): who, its status, mute and hold, and its quality over the last
// second once there are figures.
type State struct {
	Event      signaling.CallEvent
	Muted      bool
	Held       bool // this side holds the call
	RemoteHeld bool // the other side holds it
	Stats      *Stats
}

// RoomState is the room the phone is in as Status reports it: its name,
// this phone's part in it, who is in it (as the room's events told it,
// with the last grade of each one's connection the server sent) and what
// this phone received over the last second once there are figures.
type RoomState struct {
	Name         string
	Joined       bool // false while the join (or a rejoin) is under way
	Role         signaling.RoomRole
	Muted        bool
	MicLocked    bool // the host muted this phone and locked its microphone
	ListenOnly   bool
	Locked       bool // the room: nobody but the host may join
	Participants []signaling.Participant
	Grades       map[string]signaling.Quality // by user
	Stats        *Stats
}

// Snapshot is what Status returns: the calls in progress and the room.
type Snapshot struct {
	// Calls are none, the current call, or it and the other one (a
	// waiting call, or the call held beside it).
	Calls []State
	Room  *RoomState // nil: in no room
}

// Status returns the calls in progress and the room the phone is in. It
// asks the phone's loop, which owns them.
func (p *Phone) Status() (Snapshot, error) {
	res := make(chan Snapshot, 1)
	if !p.post(func() { res <- p.status() }) {
		return Snapshot{}, errStopped
	}
	select {
	case s := <-res:
		return s, nil
	case <-p.done:
		return Snapshot{}, errStopped
	}
}

func (p *Phone) status() Snapshot {
	var out Snapshot
	for _, a := range []*active{p.cur, p.other} {
		if a == nil {
			continue
		}
		s := State{Event: a.ev, Muted: a.muted, Held: a.held, RemoteHeld: a.remoteHeld}
		if a.stats != nil {
			st := *a.stats
			s.Stats = &st
		}
		out.Calls = append(out.Calls, s)
	}
	if r := p.room; r != nil {
		rs := &RoomState{Name: r.name, Joined: r.joined, Role: r.role, Muted: r.muted || r.opts.ListenOnly,
			MicLocked: r.locked, ListenOnly: r.opts.ListenOnly, Locked: r.roomLocked,
			Participants: slices.Clone(r.people), Grades: make(map[string]signaling.Quality, len(r.grades))}
		for u, q := range r.grades {
			q.Problems = slices.Clone(q.Problems)
			rs.Grades[u] = q
		}
		if r.stats != nil {
			st := *r.stats
			rs.Stats = &st
		}
		out.Room = rs
	}
	return out
}
