// Package recents is the recent-calls pane: peer, direction, how each call
// ended, when and how long; enter calls the peer back. Voice messages left
// for you are among them, with their length; p plays one.
package recents

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
)

// Model is the recent-calls pane.
type Model struct {
	common   common.Common
	records  []history.Record // newest first
	people   common.PersonOf
	selected int
	offset   int
}

// New returns an empty pane; people looks up the peers' names and
// presence.
func New(c common.Common, people common.PersonOf) *Model {
	return &Model{common: c, people: people}
}

// SetRecords sets the calls to show, newest first. The selection goes back
// to the newest call.
func (m *Model) SetRecords(records []history.Record) {
	m.records = records
	m.selected, m.offset = 0, 0
}

// Len is the number of calls shown.
func (m *Model) Len() int { return len(m.records) }

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.offset = common.Scroll(m.selected, m.offset, height, len(m.records))
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: moving, and enter, which sends
// common.DialMsg for the selected call's peer.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.KeyMap
	switch {
	case key.Matches(k, km.Up):
		m.move(-1)
	case key.Matches(k, km.Down):
		m.move(1)
	case key.Matches(k, km.Call):
		if len(m.records) > 0 && !m.records[m.selected].Guest {
			return m, common.Dial(m.records[m.selected].Peer)
		}
	case key.Matches(k, km.Play):
		if len(m.records) > 0 && m.records[m.selected].VoiceID != "" {
			return m, common.PlayVoice(m.records[m.selected].VoiceID)
		}
	}
	return m, nil
}

func (m *Model) move(by int) {
	if len(m.records) == 0 {
		return
	}
	m.selected = max(0, min(len(m.records)-1, m.selected+by))
	m.offset = common.Scroll(m.selected, m.offset, m.common.Height, len(m.records))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	if len(m.records) == 0 {
		return nil
	}
	b := m.common.KeyMap.Call
	b.SetHelp(b.Help().Key, "call back")
	if m.records[m.selected].VoiceID != "" {
		return []key.Binding{b, m.common.KeyMap.Play}
	}
	return []key.Binding{b}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Call, km.Play}}
}

// When formats t relative to now: "15:04" today, "Mon 15:04" this week,
// "Jan 2 15:04" this year, "Jan 2 2006" before; in now's time zone.
func When(t, now time.Time) string {
	t = t.In(now.Location())
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	today := time.Date(y2, m2, d2, 0, 0, 0, 0, now.Location())
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return t.Format("15:04")
	case t.After(today.AddDate(0, 0, -6)) && t.Before(today):
		return t.Format("Mon 15:04")
	case y1 == y2:
		return t.Format("Jan 2 15:04")
	}
	return t.Format("Jan 2 2006")
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles
	width, height := m.common.Width, m.common.Height
	if width <= 0 || height <= 0 {
		return ""
	}
	if len(m.records) == 0 {
		return st.Dim.Render(common.Truncate("No recent calls yet.", width))
	}
	now := m.common.Now()

	// Columns: cursor, direction, peer, status, duration, when. The direction
	// is "↗ outgoing" when the peer column keeps at least minPeer cells,
	// else "↗ out".
	const (
		minPeer   = 10
		gap       = 2
		statusCol = len("unknown user")
		whenCol   = len("Jan 22 15:04")
	)
	durCol := len("00:00")
	for _, r := range m.records {
		durCol = max(durCol, len(history.Clock(length(r))))
	}
	dirCol := len("↗ outgoing") - 2 // the arrow is 3 bytes, 1 cell
	fixed := 2 + dirCol + gap + gap + statusCol + gap + durCol + gap + whenCol
	long := width-fixed >= minPeer
	if !long {
		dirCol = len("↗ out") - 2
		fixed = 2 + dirCol + gap + gap + statusCol + gap + durCol + gap + whenCol
	}
	peerCol := max(3, width-fixed) // "● bob": the peer's presence, then the peer

	var lines []string
	for i := m.offset; i < len(m.records) && i < m.offset+height; i++ {
		r := m.records[i]
		cur, rowStyle := "  ", st.List.Item
		if i == m.selected {
			cur, rowStyle = "› ", st.List.Selected
		}
		dir := r.Arrow() + " " + r.DirectionWord()
		if !long {
			dir = r.Arrow() + " out"
			if r.Direction == signaling.Inbound {
				dir = r.Arrow() + " in"
			}
		}
		dirStyle := st.List.Incoming
		if r.Direction == signaling.Outbound {
			dirStyle = st.List.Outgoing
		}
		statusStyle := st.Dim
		if r.Status == signaling.Failed || (r.Status == signaling.Unanswered && r.Direction == signaling.Inbound) ||
			r.VoiceID != "" && !r.VoiceHeard {
			statusStyle = st.List.Failed
		}
		dur := ""
		if length(r) > 0 {
			dur = history.Clock(length(r))
		}
		person := m.people(r.Peer)
		if person.Name == "" {
			person.Name = r.PeerName
		}
		p := person.Presence
		line := rowStyle.Render(cur) +
			dirStyle.Render(common.PadRight(dir, dirCol)) + strings.Repeat(" ", gap) +
			p.Style(st).Render(p.Marker()) + " " +
			rowStyle.Render(common.PadRight(person.Label(r.Peer), peerCol-2)) + strings.Repeat(" ", gap) +
			statusStyle.Render(common.PadRight(r.StatusWord(), statusCol)) + strings.Repeat(" ", gap) +
			st.Dim.Render(strings.Repeat(" ", durCol-len(dur))+dur) + strings.Repeat(" ", gap) +
			st.Dim.Render(common.PadRight(When(r.Start, now), whenCol))
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// length is what the duration column shows: how long a call was up, or
// how long a voice message lasts.
func length(r history.Record) time.Duration {
	if r.VoiceID != "" {
		return time.Duration(r.VoiceMS) * time.Millisecond
	}
	return r.Duration()
}
