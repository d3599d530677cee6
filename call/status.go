package call

import "github.com/parley-voice/parley/signaling"

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

// Status returns the calls in progress: none, the current call, or it and
// the other one (a waiting call, or the call held beside it). It
// asks the phone's loop, which owns them.
func (p *Phone) Status() ([]State, error) {
	res := make(chan []State, 1)
	if !p.post(func() { res <- p.status() }) {
		return nil, errStopped
	}
	select {
	case s := <-res:
		return s, nil
	case <-p.done:
		return nil, errStopped
	}
}

func (p *Phone) status() []State {
	var out []State
	for _, a := range []*active{p.cur, p.other} {
		if a == nil {
			continue
		}
		s := State{Event: a.ev, Muted: a.muted, Held: a.held, RemoteHeld: a.remoteHeld}
		if a.stats != nil {
			st := *a.stats
			s.Stats = &st
		}
		out = append(out, s)
	}
	return out
}
