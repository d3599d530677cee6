// Package recents is the recent-calls pane: peer, direction, how each call
// ended, when and how long; enter calls the peer back. Voice messages left
// for you are among them, with their length; p plays one. / filters them by
// the peer's id or display name, as in the contacts (common.Filter).
package recents

import (
	"cmp"
	"fmt"
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
	filter   common.Filter
	visible  []int // indexes into records that match the filter
	selected int   // index into visible
	offset   int   // first visible row shown
}

// New returns an empty pane; people looks up the peers' names and
// presence.
func New(c common.Common, people common.PersonOf) *Model {
	return &Model{common: c, people: people, filter: common.NewFilter(c)}
}

// SetRecords sets the calls to show, newest first, through the filter. The
// selection goes back to the newest call.
func (m *Model) SetRecords(records []history.Record) {
	m.records = records
	m.refilter()
}

// Len is the number of calls, filtered or not.
func (m *Model) Len() int { return len(m.records) }

// Filtering reports whether the filter has the keyboard: keys are text.
func (m *Model) Filtering() bool { return m.filter.Filtering() }

// StopFiltering takes the keyboard from the filter, keeping what was typed.
func (m *Model) StopFiltering() { m.filter.StopFiltering() }

// HasFilter reports whether a filter narrows the list.
func (m *Model) HasFilter() bool { return m.filter.HasFilter() }

// refilter recomputes the calls shown: those whose peer's id or display
// name contains the filter, ignoring case; the selection goes to the
// newest.
func (m *Model) refilter() {
	m.visible = m.visible[:0]
	for i, r := range m.records {
		if m.filter.Matches(r.Peer, m.name(r)) {
			m.visible = append(m.visible, i)
		}
	}
	m.selected, m.offset = 0, 0
}

// name is the display name of r's peer: the directory's, else the call's.
func (m *Model) name(r history.Record) string {
	return cmp.Or(m.people(r.Peer).Name, r.PeerName)
}

// listHeight is the rows left for calls under the filter line.
func (m *Model) listHeight() int {
	if m.filter.Shown() {
		return m.common.Height - 1
	}
	return m.common.Height
}

// current is the selected call, if any.
func (m *Model) current() (history.Record, bool) {
	if len(m.visible) == 0 {
		return history.Record{}, false
	}
	return m.records[m.visible[m.selected]], true
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.filter.SetWidth(width)
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.visible))
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: filtering, moving, and enter, which sends
// common.DialMsg for the selected call's peer.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd, took, changed := m.filter.Update(msg)
	if changed {
		m.refilter()
	}
	k, ok := msg.(tea.KeyMsg)
	if took || !ok {
		return m, cmd
	}
	km := m.common.KeyMap
	r, has := m.current()
	switch {
	case key.Matches(k, km.Up):
		m.move(-1)
	case key.Matches(k, km.Down):
		m.move(1)
	case key.Matches(k, km.Call):
		if has && !r.Guest {
			return m, common.Dial(r.Peer)
		}
	case key.Matches(k, km.Play):
		if has && r.VoiceID != "" {
			return m, common.PlayVoice(r.VoiceID)
		}
	}
	return m, nil
}

func (m *Model) move(by int) {
	if len(m.visible) == 0 {
		return
	}
	m.selected = max(0, min(len(m.visible)-1, m.selected+by))
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.visible))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	var b []key.Binding
	if r, ok := m.current(); ok {
		call := km.Call
		call.SetHelp(call.Help().Key, "call back")
		b = append(b, call)
		if r.VoiceID != "" {
			b = append(b, km.Play)
		}
	}
	return m.filter.ShortHelp(b, len(m.records) > 0)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Call, km.Play, km.Filter, km.Apply, km.Clear}}
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
	var lines []string
	if m.filter.Shown() {
		lines = append(lines, m.filter.View())
	}
	if len(m.visible) == 0 {
		lines = append(lines, st.Dim.Render(common.Truncate(fmt.Sprintf("No recent call with anyone matching %q.",
			m.filter.Value()), width)))
	}

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

	for i := m.offset; i < len(m.visible) && i < m.offset+m.listHeight(); i++ {
		r := m.records[m.visible[i]]
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
		person.Name = m.name(r)
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
	return common.FitLines(strings.Join(lines, "\n"), height)
}

// length is what the duration column shows: how long a call was up, or
// how long a voice message lasts.
func length(r history.Record) time.Duration {
	if r.VoiceID != "" {
		return time.Duration(r.VoiceMS) * time.Millisecond
	}
	return r.Duration()
}
