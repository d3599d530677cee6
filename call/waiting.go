package call

// Call waiting: a second call while in one rings beside it (the server
// marks it waiting, signaling.CallEvent.Waiting). The phone then has two
// calls: cur, the one in focus, that every action and most of the code
// work on, and other, a waiting call that rings or a call held to take
// the other one. Each has its own peer connection and media; the waiting
// call rings on its own speaker stream with a soft beep (the system mixes
// it into the call's audio) rather than the ringtone. Answering the
// waiting call holds the current one; Swap moves between the two; when the
// current call ends, the other one is current (a waiting call then rings
// as any call). A third call is refused by the server.

import (
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Switched reports that another call is current: CallID, with HeldID
// the other call, held, or "" when there is no other any more.
type Switched struct {
	CallID string
	HeldID string
}

func (Switched) event() {}

// The waiting beep: two 200 ms beeps at 440 Hz, 200 ms apart, every 3 s,
// at -24 dBFS (the hold tone's level): heard under the call, not over it.
const (
	waitBeepHz     = 440
	waitBeepOn     = 200 * time.Millisecond
	waitBeepPeriod = 3 * time.Second
)

// waitBeepCycle is one cycle of the waiting beep.
func waitBeepCycle() []int16 {
	return beepCycle(waitBeepHz, 2, waitBeepOn, waitBeepPeriod)
}

// onCall runs f with a as the current call, so that the waiting or held
// call's messages and Pion's callbacks about it are handled by the code
// written for the current one; then the calls are put back. If f ended a,
// teardown already made the other call current again.
func (p *Phone) onCall(a *active, f func()) {
	if a == nil || a != p.other {
		f()
		return
	}
	p.cur, p.other = a, p.cur
	p.borrowed = true
	f()
	p.borrowed = false
	if p.cur == a {
		p.cur, p.other = p.other, a
	}
}

// callOf is the call with id: the current or the other one, or nil.
func (p *Phone) callOf(id string) *active {
	for _, a := range []*active{p.cur, p.other} {
		if a != nil && id != "" && a.ev.ID == id {
			return a
		}
	}
	return nil
}

// waitingCall is the waiting call that rings beside the current one, or
// nil.
func (p *Phone) waitingCall() *active {
	if a := p.other; a != nil && a.ev.Direction == signaling.Inbound && !a.answered {
		return a
	}
	return nil
}

// promote makes the other call current once the current one has ended
// (teardown): a waiting call then rings as any call; a held call stays
// held until resumed.
func (p *Phone) promote() {
	a := p.other
	p.cur, p.other = a, nil
	if p.borrowed {
		return // onCall's own call ended: the current call did not change
	}
	if a.waiting && !a.answered {
		a.waiting = false
		a.media.cue(p.cfg.Sounds.Ringtone)
	}
	p.emit(Switched{CallID: a.ev.ID})
}

// answerWaiting holds the current call and makes the waiting call current,
// to be answered; false (with the failure reported) when the current call
// cannot be held. A current call that is not answered yet is left alone:
// Answer answers it if it rings here, and is refused otherwise.
func (p *Phone) answerWaiting() bool {
	if p.waitingCall() == nil || p.cur.ev.Status != signaling.Answered {
		return true
	}
	if !p.cur.held {
		if err := p.setHeld(true); err != nil {
			p.fail(p.cur.ev.ID, err)
			return false
		}
	}
	p.cur, p.other = p.other, p.cur
	p.emit(Switched{CallID: p.cur.ev.ID, HeldID: p.other.ev.ID})
	return true
}

// Swap holds the current call and resumes the other, held one.
func (p *Phone) Swap() {
	p.post(func() {
		if err := p.swap(); err != nil {
			p.fail("", err)
		}
	})
}

// swap moves to the held call, or says why it cannot.
func (p *Phone) swap() error {
	switch {
	case p.other == nil:
		return signaling.Errorf(signaling.NoConnectedCall, "there is no other call to swap to")
	case p.waitingCall() != nil:
		return signaling.Errorf(signaling.NoConnectedCall, "the other call still rings: answer it (which holds "+
			"this one) or reject it")
	}
	if p.cur.ev.Status == signaling.Answered && !p.cur.held {
		if err := p.setHeld(true); err != nil {
			return err
		}
	}
	p.cur, p.other = p.other, p.cur
	p.emit(Switched{CallID: p.cur.ev.ID, HeldID: p.other.ev.ID})
	if p.cur.held {
		return p.setHeld(false)
	}
	return nil
}

// busyReject refuses an incoming call this phone cannot take beside the
// current one (a third, in a room, or one that would ring an answering
// machine): the caller is told busy, as the server would have.
func (p *Phone) busyReject(ev signaling.CallEvent) {
	p.log.Info("call refused as busy", "call", ev.ID)
	p.send(signaling.Message{Type: signaling.TypeReject, CallID: ev.ID, Reason: signaling.ReasonBusy})
}
