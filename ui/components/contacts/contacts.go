// Package contacts is the contacts pane: every contact with their display
// name and a live presence marker and word (with the last seen when
// offline), a filter, enter to call the selected one, w to be told when they
// come online.
package contacts

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// Model is the contacts pane.
type Model struct {
	common   common.Common
	contacts []string
	people   common.PersonOf
	filter   common.Filter
	visible  []int  // indexes into contacts that match the filter
	selected int    // index into visible
	offset   int    // first visible row shown
	current  string // the selected contact, kept while a filter hides it
}

// New returns the pane for contacts (shown in this order, duplicates
// dropped), whose names and presence are looked up with people.
func New(c common.Common, contacts []string, people common.PersonOf) *Model {
	m := &Model{common: c, people: people, filter: common.NewFilter(c)}
	m.SetContacts(contacts)
	return m
}

// SetContacts replaces the contacts (shown in this order, duplicates
// dropped); the selection stays on the same contact when it is still there.
func (m *Model) SetContacts(contacts []string) {
	seen := map[string]bool{}
	m.contacts = nil
	for _, u := range contacts {
		if u = strings.TrimSpace(u); u != "" && !seen[u] {
			seen[u] = true
			m.contacts = append(m.contacts, u)
		}
	}
	m.refilter()
}

// Filtering reports whether the filter has the keyboard: keys are text.
func (m *Model) Filtering() bool { return m.filter.Filtering() }

// StopFiltering takes the keyboard from the filter, keeping what was typed.
func (m *Model) StopFiltering() { m.filter.StopFiltering() }

// Selected returns the selected contact, if any.
func (m *Model) Selected() (string, bool) {
	if len(m.visible) == 0 {
		return "", false
	}
	return m.contacts[m.visible[m.selected]], true
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.filter.SetWidth(width)
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.visible))
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: moving, filtering, and enter, which sends
// common.DialMsg for the selected contact.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	cmd, took, changed := m.filter.Update(msg)
	if changed {
		m.refilter()
	}
	k, ok := msg.(tea.KeyMsg)
	if took || !ok {
		return m, cmd
	}
	switch {
	case key.Matches(k, km.Up):
		m.move(-1)
	case key.Matches(k, km.Down):
		m.move(1)
	case key.Matches(k, km.Call):
		if u, ok := m.Selected(); ok {
			return m, common.Dial(u)
		}
	case key.Matches(k, km.Notify):
		if u, ok := m.Selected(); ok {
			return m, common.Notify(u)
		}
	}
	return m, nil
}

// HasFilter reports whether a filter narrows the list.
func (m *Model) HasFilter() bool { return m.filter.HasFilter() }

func (m *Model) move(by int) {
	if len(m.visible) == 0 {
		return
	}
	m.selected = max(0, min(len(m.visible)-1, m.selected+by))
	m.current, _ = m.Selected()
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.visible))
}

// refilter recomputes the visible contacts: those whose id or name contains
// the filter, ignoring case. The selection stays on the same contact when it
// is visible.
func (m *Model) refilter() {
	keep := m.current
	m.visible = m.visible[:0]
	m.selected = 0
	for i, u := range m.contacts {
		if m.filter.Matches(u, m.people(u).Name) {
			if u == keep {
				m.selected = len(m.visible)
			}
			m.visible = append(m.visible, i)
		}
	}
	if u, ok := m.Selected(); ok {
		m.current = u
	}
	m.offset = common.Scroll(m.selected, 0, m.listHeight(), len(m.visible))
}

// listHeight is the rows left for contacts under the filter line.
func (m *Model) listHeight() int {
	if m.filter.Shown() {
		return m.common.Height - 1
	}
	return m.common.Height
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	var b []key.Binding
	if len(m.visible) > 0 {
		b = append(b, m.common.KeyMap.Call)
	}
	return m.filter.ShortHelp(b, len(m.contacts) > 0)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Call, km.Notify, km.Filter, km.Apply, km.Clear}}
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles
	width, height := m.common.Width, m.common.Height
	if width <= 0 || height <= 0 {
		return ""
	}
	var lines []string
	if m.filter.Shown() {
		lines = append(lines, m.filter.View())
	}
	switch {
	case len(m.contacts) == 0:
		lines = append(lines, st.Dim.Width(width).Render("No contacts yet. Press + to add one from your team's "+
			"directory, or c to call any user id."))
	case len(m.visible) == 0:
		lines = append(lines, st.Dim.Render(common.Truncate(fmt.Sprintf("No contact matches %q.", m.filter.Value()),
			width)))
	}

	// cursor(2) marker(2) name gap(2) status; the name column (the display
	// name and the id) fits the longest when there is room, and the status
	// (the word, the last seen, "will notify") takes the rest.
	const minStatus = len("do not disturb")
	nameWidth := 0
	for _, i := range m.visible {
		u := m.contacts[i]
		nameWidth = max(nameWidth, lipgloss.Width(m.people(u).Label(u)))
	}
	nameWidth = max(1, min(nameWidth, width-2-2-2-minStatus))
	statusWidth := max(1, width-2-2-2-nameWidth)
	now := m.common.Now()

	rows := m.listHeight()
	for r := m.offset; r < len(m.visible) && r < m.offset+rows; r++ {
		u := m.contacts[m.visible[r]]
		p := m.people(u)
		pst := p.Presence.Style(st)
		cur, nameStyle := "  ", st.List.Item
		if r == m.selected {
			cur, nameStyle = "› ", st.List.Selected
		}
		status := p.Status(now)
		if p.Unread > 0 {
			status = fmt.Sprintf("%d unread · %s", p.Unread, status) // their texts
		}
		line := nameStyle.Render(cur) + pst.Render(p.Presence.Marker()) + " " +
			nameStyle.Render(common.PadRight(p.Label(u), nameWidth)) + "  " +
			pst.Render(common.Truncate(status, statusWidth))
		lines = append(lines, line)
	}
	return common.FitLines(strings.Join(lines, "\n"), height)
}
