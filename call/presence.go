package call

import (
	"github.com/parley-voice/parley/signaling"
)

// ReasonAnsweredElsewhere is the Reason of the answered StatusChanged that
// a device gets when another device of the same user took the call: the
// call is over here.
const ReasonAnsweredElsewhere = "answered on another device"

// SetPresence sets the user's state by hand: signaling.StateAway or
// StateDND, which stay (on every device, across sessions) until
// StateOnline clears them.
func (p *Phone) SetPresence(state signaling.State) {
	p.post(func() {
		if !state.Settable() {
			p.fail("", signaling.Errorf(signaling.InvalidParameter, "state %q cannot be set: use online, away or dnd",
				state))
			return
		}
		p.send(signaling.Message{Type: signaling.TypePresence, State: state})
	})
}

// SetIdle tells the server whether the user is away from this session (no
// key pressed for a while): when every session of theirs is idle, others
// see them away. It is sent again after a reconnect.
func (p *Phone) SetIdle(idle bool) {
	p.post(func() {
		p.idle = idle
		p.send(signaling.Message{Type: signaling.TypePresence, Idle: &idle})
	})
}

// answeredElsewhere reports whether m tells that another session of this
// user answered the call ringing here; the call is then no longer this
// device's to answer, even if it tried to.
func (p *Phone) answeredElsewhere(m signaling.Message) bool {
	ev := m.Event
	return ev != nil && ev.Status == signaling.Answered && ev.Direction == signaling.Inbound &&
		m.Session != "" && p.sig != nil && m.Session != p.sig.Session &&
		p.cur != nil && p.cur.ev.ID == ev.ID
}

// lostTheAnswer reports (and logs) the refusal of this device's answer to
// a call that another device of the user answered first. It may come
// before the answered status that says so, which then ends the call here,
// or after it; either way it is not a failure to report.
func (p *Phone) lostTheAnswer(m signaling.Message) bool {
	if m.CallID == "" || m.Error.Code != signaling.NoConnectedCall {
		return false
	}
	a := p.cur
	lost := m.CallID == p.lostCall // the status came first and ended it here
	if !lost && (a == nil || m.CallID != a.ev.ID || a.ev.Direction != signaling.Inbound || !a.answered ||
		a.ev.Status == signaling.Answered) {
		return false
	}
	p.log.Info("another device answered first", "call", m.CallID, "err", m.Error.Message)
	return true
}

// presence is the Presence event of a presence message.
func presence(m signaling.Message) Presence {
	ev := Presence{User: m.User, Online: *m.Online, State: m.State, Name: m.Name}
	if ev.State == "" { // a server without rich presence
		ev.State = signaling.StateOffline
		if ev.Online {
			ev.State = signaling.StateOnline
		}
	}
	if m.LastSeen != nil {
		ev.LastSeen = *m.LastSeen
	}
	return ev
}
