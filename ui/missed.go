package ui

import (
	"context"
	"errors"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/history"
)

// CallHistory is the user's call history kept on the server; the
// signaling.API is one. The UI reads it as it starts, to say what was
// missed while away, and for the recent calls, which it marks seen when
// they are shown.
type CallHistory interface {
	History(ctx context.Context, q signaling.HistoryQuery) (signaling.History, error)
	SeeHistory(ctx context.Context, upTo time.Time) (time.Time, error)
}

// missedMsg carries the sign-in notice's lines: the missed calls not
// seen yet, then the unread texts (none: nothing waits).
type missedMsg struct {
	lines []string
	err   error
}

// loadMissed returns a command that reads the missed calls not seen yet
// (with h) and the unread texts (with t; nil: not asked).
func loadMissed(h CallHistory, t Texts) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		var msg missedMsg
		if h != nil {
			got, err := h.History(ctx, signaling.HistoryQuery{Unseen: true, Limit: signaling.MaxCallsLimit})
			if line := signaling.MissedNotice(got); err == nil && line != "" {
				msg.lines = append(msg.lines, line)
			}
			msg.err = err
		}
		if t != nil {
			line, err := signaling.UnreadNotice(ctx, t)
			if err == nil && line != "" {
				msg.lines = append(msg.lines, line)
			}
			msg.err = errors.Join(msg.err, err)
		}
		return msg
	}
}

// missedLoaded says what waited, a line each, unless something else is
// said already, and notifies it. A server that cannot tell (an older one)
// is only logged: the notice is a courtesy.
func (m *Model) missedLoaded(msg missedMsg) tea.Cmd {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the missed calls and unread texts", "err", msg.err)
	}
	if len(msg.lines) == 0 {
		return nil
	}
	if m.notice == nil {
		m.setNotice(noticeInfo, strings.Join(msg.lines, "\n"))
	}
	return m.desktopNotify(msg.lines...)
}

// serverHistoryMsg carries the recent calls kept on the server, newest
// first, and how many missed ones were not seen yet.
type serverHistoryMsg struct {
	records []history.Record
	unseen  int
	err     error
}

// loadServerHistory returns a command that reads the recent calls kept on
// the server: the same on every device, calls made with the CLI included.
func loadServerHistory(h CallHistory) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		got, err := h.History(ctx, signaling.HistoryQuery{Limit: history.MaxRecords})
		if err != nil {
			return serverHistoryMsg{err: err}
		}
		msg := serverHistoryMsg{unseen: got.Unseen}
		for _, c := range got.Calls {
			if c.Status.Terminal() { // a call still going is not recent yet
				msg.records = append(msg.records, asRecord(c))
			}
		}
		return msg
	}
}

// asRecord is a call record of the server's history as a recent call.
func asRecord(c signaling.CallRecord) history.Record {
	peer, name := c.To, c.ToName
	if c.Direction == signaling.Inbound {
		peer, name = c.From, c.FromName
	}
	r := history.Record{
		CallID: c.ID, Peer: peer, PeerName: name, Guest: c.Guest, Direction: c.Direction, Status: c.Status,
		Cancelled: c.Direction == signaling.Outbound && c.Status == signaling.Unanswered && c.Reason == "canceled",
		Code:      c.Code, Reason: c.Reason, Start: c.Started,
	}
	if c.Answered != nil {
		r.Answered = *c.Answered
	}
	if c.Ended != nil {
		r.End = *c.Ended
	}
	return r
}

// serverHistoryLoaded shows the server's recent calls in place of this
// device's file (which is kept, for a server that cannot tell), with the
// count of missed calls not seen yet. A failure keeps the file's.
func (m *Model) serverHistoryLoaded(msg serverHistoryMsg) tea.Cmd {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the recent calls kept on the server", "err", msg.err)
		return nil
	}
	m.fromServer = true
	m.records = msg.records
	m.showRecents() // voicemail.go
	m.unseen = msg.unseen
	return tea.Batch(m.seeRecents(), m.watch())
}

// seeRecents marks the missed calls seen, on every device, when the recent
// calls are on screen and some are new.
func (m *Model) seeRecents() tea.Cmd {
	if m.unseen == 0 || m.pane != paneRecents || m.screen != screenHome || len(m.records) == 0 {
		return nil
	}
	m.unseen = 0
	h, upTo, log := m.callHistory, m.records[0].Start, m.common.Logger
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		if _, err := h.SeeHistory(ctx, upTo); err != nil {
			log.Warn("ui: marking the missed calls seen", "err", err)
		}
		return nil
	}
}
