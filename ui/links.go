package ui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
)

// Guest links (g): a call page for someone without parley, in their
// browser. The link is made on the server, copied to the clipboard and
// shown; when the guest knocks, the incoming banner says so.

// Clipboard copies text to the system's clipboard (parley's writes an OSC
// 52 sequence to the terminal). It is called from a command's goroutine.
type Clipboard func(text string) error

// linkMadeMsg carries a guest link the server made, and whether it was
// copied.
type linkMadeMsg struct {
	link   signaling.Link
	copied bool
	err    error
}

// makeLink returns a command that makes a guest link for a guest called
// name and copies it.
func makeLink(p People, copyText Clipboard, name string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		link, err := p.MakeLink(ctx, signaling.LinkRequest{Name: name})
		if err != nil {
			return linkMadeMsg{err: err}
		}
		copied := copyText != nil && copyText(link.URL) == nil
		return linkMadeMsg{link: link, copied: copied}
	}
}

// linkMade shows the new link in the notice, on a line of its own.
func (m *Model) linkMade(msg linkMadeMsg) {
	if msg.err != nil {
		m.common.Logger.Warn("ui: making a guest link", "err", msg.err)
		m.setNotice(noticeError, "Could not make a guest link: "+signaling.AsError(msg.err).Message)
		return
	}
	l := msg.link
	how := "copy it from here"
	if msg.copied {
		how = "copied"
	}
	m.setNotice(noticeSuccess, "Guest link for "+l.GuestName+" ("+how+"), until "+
		l.Expires.In(m.common.Now().Location()).Format("15:04")+":\n"+l.URL)
}
