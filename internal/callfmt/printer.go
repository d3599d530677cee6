package callfmt

import (
	"fmt"
	"io"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// Printer writes a phone's events for people, one line each, or as JSON
// lines (--json). For people, errors go to a writer of their own (stderr),
// as every command's do; with --json they are events like the others. It
// remembers when the call was answered, to say how long it lasted: one
// goroutine uses it, the one that reads the events.
type Printer struct {
	w, errw    io.Writer
	json       bool
	untoldWait time.Duration
	answeredAt time.Time
	me         string            // the user, in the room joined
	names      map[string]string // the display names of a room's participants

	// Now is the clock of the events' "time" (nil: time.Now); tests set
	// it.
	Now func() time.Time
}

// NewPrinter writes to w, as JSON lines when asJSON; errors for people go
// to errw. untoldWait is how long the command waits to tell the server of
// a hang-up made while it was unreachable: the line that says so names it.
func NewPrinter(w, errw io.Writer, asJSON bool, untoldWait time.Duration) *Printer {
	return &Printer{w: w, errw: errw, json: asJSON, untoldWait: untoldWait}
}

func (p *Printer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Print writes ev; events that people are not told of (stats) are written
// as JSON only.
func (p *Printer) Print(ev call.Event) {
	if p.printRoom(ev) || p.printAudio(ev) { // rooms (room.go), device changes and microphone warnings (audio.go)
		return
	}
	if p.json {
		p.printJSON(ev)
		return
	}
	if f, ok := ev.(call.Failure); ok {
		Say(p.errw, "parley: %s (%d): %s", f.Err.Name, f.Err.Code, f.Err.Message)
		return
	}
	if line := p.text(ev); line != "" {
		// Names, reasons and messages come from the other side and the
		// server: Say makes them harmless.
		Say(p.w, "%s", line)
	}
}

// Error writes a refusal that came before any call, as a call.Failure.
func (p *Printer) Error(e *signaling.Error) {
	p.Print(call.Failure{Err: e})
}

// text is the line that tells ev to people, or "".
func (p *Printer) text(ev call.Event) string {
	switch ev := ev.(type) {
	case call.StatusChanged:
		return p.describe(ev)
	case call.Muted:
		switch {
		case ev.Local && ev.Muted:
			return "you are muted"
		case ev.Local:
			return "you are unmuted"
		case ev.Muted:
			return "the other side muted"
		default:
			return "the other side unmuted"
		}
	case call.Held:
		switch {
		case ev.Local && ev.Held:
			return "you put the call on hold"
		case ev.Local:
			return "you resumed the call"
		case ev.Held:
			return ev.By + " put you on hold"
		default:
			return ev.By + " resumed the call"
		}
	case call.Switched:
		if ev.HeldID == "" {
			return fmt.Sprintf("now in call %s", ev.CallID)
		}
		return fmt.Sprintf("now in call %s; call %s is held (swap to go back)", ev.CallID, ev.HeldID)
	case call.Warning:
		if ev.Raised {
			return fmt.Sprintf("warning: %s (%.1f)", ev.Name, ev.Value)
		}
		return fmt.Sprintf("cleared: %s", ev.Name)
	case call.Verification:
		return fmt.Sprintf("verification code: %s (the other side must see the same)", ev.Code)
	case call.VoiceMessage:
		return fmt.Sprintf("voice message from %s (%s): parley play %s", signaling.Label(ev.From, ev.FromName),
			(time.Duration(ev.DurationMS) * time.Millisecond).Round(100*time.Millisecond), ev.ID)
	case call.Connected:
		if ev.Up {
			return fmt.Sprintf("signed in as %s", signaling.Label(ev.User, ev.Name))
		}
		return fmt.Sprintf("disconnected: %v", ev.Err)
	}
	return ""
}

func (p *Printer) describe(ev call.StatusChanged) string {
	peer := signaling.Label(ev.Peer(), ev.PeerName())
	switch ev.Status {
	case signaling.Started:
		if ev.Direction == signaling.Outbound {
			return fmt.Sprintf("calling %s (call %s)", peer, ev.ID)
		}
		if ev.Guest {
			return fmt.Sprintf("Guest %s is waiting, from your guest link (call %s)", peer, ev.ID)
		}
		if ev.Waiting {
			return fmt.Sprintf("waiting call from %s (call %s): answer holds the call you are in, reject leaves it",
				peer, ev.ID)
		}
		return fmt.Sprintf("incoming call from %s (call %s)", peer, ev.ID)
	case signaling.Ringing:
		return "ringing"
	case signaling.Answered:
		p.answeredAt = ev.At
		if ev.Reason != "" {
			return "answered: " + ev.Reason
		}
		return "answered"
	case signaling.Completed:
		s := "completed"
		if !p.answeredAt.IsZero() {
			s = fmt.Sprintf("completed after %s", ev.At.Sub(p.answeredAt).Round(100*time.Millisecond))
		}
		if ev.Reason == signaling.ReasonMovedToRoom {
			s += ": " + ev.Reason
		}
		if ev.Untold {
			s += fmt.Sprintf(" here; the server is unreachable: waiting up to %s to tell it, "+
				"which ends the call for the other side", p.untoldWait)
		}
		return s
	case signaling.Rejected:
		switch {
		case ev.Direction == signaling.Outbound:
			return fmt.Sprintf("%s rejected the call", peer)
		case ev.Guest:
			return fmt.Sprintf("you turned guest %s away", peer)
		}
		return fmt.Sprintf("you rejected the call from %s", peer) // here, or on another device of yours
	case signaling.Unanswered:
		return "unanswered" + reason(ev.Reason)
	case signaling.Failed:
		return "failed" + reason(ev.Reason)
	}
	return string(ev.Status)
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}
