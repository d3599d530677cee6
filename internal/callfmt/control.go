package callfmt

import (
	"time"

	"github.com/parley-voice/parley/signaling"
)

// The answers to the commands a running call reads on standard input (see
// the README's "Scripts"): a reply when the command was taken, an error
// event with its code when it was refused.
type jsonReply struct {
	Event   string `json:"event"` // "reply"
	Time    string `json:"time"`
	Command string `json:"command"`
	Ref     string `json:"ref,omitempty"` // the command's, when it had one
}

// Reply says that command (with ref, from a JSON command) was taken.
func (p *Printer) Reply(command, ref string) {
	if p.json {
		writeJSON(p.w, jsonReply{Event: "reply", Time: p.time(time.Time{}), Command: command, Ref: ref})
		return
	}
	Say(p.w, "%s: ok", command)
}

// Answer prints the answer to a command that asks for something (status):
// v as one JSON object with --json, else lines.
func (p *Printer) Answer(v any, lines []string) {
	if p.json {
		writeJSON(p.w, v)
		return
	}
	for _, l := range lines {
		Say(p.w, "%s", l)
	}
}

// Refused says why command (with ref) was refused.
func (p *Printer) Refused(command, ref string, e *signaling.Error) {
	if p.json {
		writeJSON(p.w, jsonError{Event: "error", Time: p.time(time.Time{}), Command: command, Ref: ref, Error: e})
		return
	}
	Say(p.errw, "parley: %s: %s (%d): %s", command, e.Name, e.Code, e.Message)
}
