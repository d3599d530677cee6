package ui

import (
	"io"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// Desktop notifications (issue 18), with the terminal's own escape
// sequences, for a call coming in (a waiting call too), a call missed, a
// text from someone whose conversation is not in view, and what waited at
// sign-in. A terminal that knows none of them ignores them: they are never
// required.

// Notifications says where and how desktop notifications are written.
type Notifications struct {
	// Out is the terminal; nil writes none (the config's "notifications":
	// false). As Bell, it takes writes from a command's goroutine: each
	// notification is one Write, which an *os.File never interleaves with
	// the renderer's frames (one Write each), so it lands between two and
	// draws nothing over the view.
	Out io.Writer
	// OSC777 writes VTE's form (GNOME Terminal, Tilix: $VTE_VERSION is
	// set), OSC 777 ; notify ; title ; body, instead of OSC 9 ; body
	// (iTerm2, WezTerm, kitty, Windows Terminal, Ghostty, foot). Not both:
	// a terminal that knows both would show two.
	OSC777 bool
	// Tmux wraps each in tmux's pass-through (DCS tmux; … ST, its ESCs
	// doubled), for parley in tmux ($TMUX is set): tmux hands it to the
	// terminal outside with `set -g allow-passthrough on`, and drops it
	// otherwise.
	Tmux bool
}

// notifyTitle is the title of an OSC 777 notification (OSC 9 has none:
// the terminal names itself).
const notifyTitle = "parley"

// maxNotifyWidth is the most cells a notification's text takes: a
// notification is a glance, and a long text is read in the UI.
const maxNotifyWidth = 200

// Sequence returns the escape sequence that shows body as a desktop
// notification. body goes through signaling.Printable first: no ESC, BEL,
// C1 ST or other control of a name or a text ends the sequence early or
// starts another one.
func (n Notifications) Sequence(body string) string {
	body = common.Truncate(signaling.Printable(body), maxNotifyWidth)
	var seq string
	if n.OSC777 {
		// VTE splits the sequence at every ';': one in the body would cut it.
		seq = "\x1b]777;notify;" + notifyTitle + ";" + strings.ReplaceAll(body, ";", ",") + "\a"
	} else {
		seq = "\x1b]9;" + body + "\a"
	}
	if n.Tmux {
		seq = "\x1bPtmux;" + strings.ReplaceAll(seq, "\x1b", "\x1b\x1b") + "\x1b\\"
	}
	return seq
}

// desktopNotify returns a command that writes a desktop notification of
// each body, in one Write; nil when notifications are off.
func (m *Model) desktopNotify(bodies ...string) tea.Cmd {
	n, log := m.notifications, m.common.Logger
	if n.Out == nil || len(bodies) == 0 {
		return nil
	}
	var b strings.Builder
	for _, body := range bodies {
		b.WriteString(n.Sequence(body))
	}
	return writeTerminal(n.Out, b.String(), log, "ui: desktop notification")
}

// incomingNotice is what the notification of call c coming in says:
// "Incoming call from Bob (bob)", or "Call waiting from Bob (bob)" when
// another call is up.
func incomingNotice(c *common.Call, waiting bool) string {
	who := c.Label()
	if c.Guest {
		who = "guest " + c.Who()
	}
	if waiting {
		return "Call waiting from " + who
	}
	return "Incoming call from " + who
}
