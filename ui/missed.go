package ui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-voice/parley/signaling"
)

// CallHistory is the user's call history kept on the server; the
// signaling.API is one. The UI reads it as it starts, to say what was
// missed while away.
type CallHistory interface {
	History(ctx context.Context, q signaling.HistoryQuery) (signaling.History, error)
}

// missedMsg carries the sign-in notice of the missed calls not seen yet
// ("" for none).
type missedMsg struct {
	line string
	err  error
}

// loadMissed returns a command that reads the missed calls not seen yet.
func loadMissed(h CallHistory) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		got, err := h.History(ctx, signaling.HistoryQuery{Unseen: true, Limit: signaling.MaxCallsLimit})
		return missedMsg{line: signaling.MissedNotice(got), err: err}
	}
}

// missedLoaded says what was missed, unless something else is said
// already. A server that cannot tell (an older one) is only logged: the
// notice is a courtesy.
func (m *Model) missedLoaded(msg missedMsg) {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the missed calls", "err", msg.err)
		return
	}
	if msg.line != "" && m.notice == nil {
		m.setNotice(noticeInfo, msg.line)
	}
}
