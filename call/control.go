package call

import (
	"errors"

	"github.com/parley-voice/parley/signaling"
)

// Command is an action on the running call, as a script sends it (parley
// call and parley answer read them on standard input). Mute, unmute and
// hangup (which leaves) work in a room too.
type Command string

// The commands.
const (
	CommandMute   Command = "mute"
	CommandUnmute Command = "unmute"
	CommandHold   Command = "hold"
	CommandResume Command = "resume"
	CommandHangup Command = "hangup"
	CommandAnswer Command = "answer"
	CommandReject Command = "reject"
	CommandSwap   Command = "swap" // to the held call, holding the current one (waiting.go)
)

// Commands lists every command.
func Commands() []Command {
	return []Command{CommandMute, CommandUnmute, CommandHold, CommandResume, CommandHangup, CommandAnswer,
		CommandReject, CommandSwap}
}

// errStopped: the phone stopped before it took a command.
var errStopped = errors.New("call: the phone has stopped")

// Do carries out cmd and returns its refusal, with its code, instead of
// reporting it as a Failure: a script is answered command by command, and
// a refused command does not end its call. What goes wrong after the
// command was taken (a microphone that cannot open at the answer) is still
// a Failure. Do waits for the phone's loop, which must not wait for Do's
// caller (Events is buffered).
func (p *Phone) Do(cmd Command) error {
	res := make(chan error, 1)
	if !p.post(func() { res <- p.do(cmd) }) {
		return errStopped
	}
	select {
	case err := <-res:
		return err
	case <-p.done:
		return errStopped
	}
}

func (p *Phone) do(cmd Command) error {
	switch cmd {
	case CommandMute, CommandUnmute:
		if err := p.mutable(); err != nil {
			return err
		}
		p.setMuted(cmd == CommandMute)
	case CommandHold, CommandResume:
		return p.setHeld(cmd == CommandHold)
	case CommandHangup:
		if p.room != nil { // a room is left (a call moving into it with it: grow.go)
			p.leaveRoom(signaling.LeftLeft)
			return nil
		}
		if p.cur == nil {
			return signaling.Errorf(signaling.NoConnectedCall, "there is no call to hang up")
		}
		p.hangup()
	case CommandAnswer, CommandReject:
		if err := p.ringing(string(cmd)); err != nil {
			return err
		}
		if cmd == CommandAnswer && p.ringingCall() != p.cur && p.cur.ev.Status != signaling.Answered {
			return signaling.Errorf(signaling.NoConnectedCall, "the call you are in is not answered yet: hang it "+
				"up to answer the waiting call")
		}
		if cmd == CommandAnswer {
			p.answer()
		} else {
			p.reject("")
		}
	case CommandSwap:
		return p.swap()
	default:
		return signaling.Errorf(signaling.InvalidParameter, "%.40q is no command: use mute, unmute, hold, resume, "+
			"hangup, answer, reject or swap", string(cmd))
	}
	return nil
}
