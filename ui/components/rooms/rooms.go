// Package rooms is the rooms pane: the team's rooms that have not ended,
// with who is in each, whether it is locked, and when a session opens;
// enter joins the selected one.
package rooms

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/recents"
)

// Model is the rooms pane.
type Model struct {
	common   common.Common
	rooms    []signaling.Room
	loading  bool
	loaded   bool // a list came at least once
	err      error
	selected int
	offset   int
}

// New returns an empty pane.
func New(c common.Common) *Model { return &Model{common: c} }

// Loading marks the list as being read (again).
func (m *Model) Loading() { m.loading = true }

// SetRooms sets the rooms to show, or the error that kept them from being
// read (the rooms shown before stay). The selection stays on the same room
// when it is still there.
func (m *Model) SetRooms(rooms []signaling.Room, err error) {
	m.loading = false
	m.err = err
	if err != nil {
		return
	}
	keep, _ := m.Selected()
	m.rooms, m.loaded = rooms, true
	m.selected = 0
	for i, r := range rooms {
		if r.Name == keep {
			m.selected = i
		}
	}
	m.offset = common.Scroll(m.selected, m.offset, m.common.Height, len(m.rooms))
}

// Len is the number of rooms shown.
func (m *Model) Len() int { return len(m.rooms) }

// Selected returns the selected room's name, if any.
func (m *Model) Selected() (string, bool) {
	if len(m.rooms) == 0 {
		return "", false
	}
	return m.rooms[m.selected].Name, true
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.offset = common.Scroll(m.selected, m.offset, height, len(m.rooms))
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: moving, and enter, which sends
// common.JoinRoomMsg for the selected room.
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
	case key.Matches(k, km.JoinRoom):
		if name, ok := m.Selected(); ok {
			return m, common.JoinRoom(name)
		}
	}
	return m, nil
}

func (m *Model) move(by int) {
	if len(m.rooms) == 0 {
		return
	}
	m.selected = max(0, min(len(m.rooms)-1, m.selected+by))
	m.offset = common.Scroll(m.selected, m.offset, m.common.Height, len(m.rooms))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	if len(m.rooms) == 0 {
		return nil
	}
	b := m.common.KeyMap.JoinRoom
	b.SetHelp(b.Help().Key, "join")
	return []key.Binding{b}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.JoinRoom}}
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles
	width, height := m.common.Width, m.common.Height
	if width <= 0 || height <= 0 {
		return ""
	}
	var top []string
	if m.err != nil {
		top = append(top, st.Error.Width(width).Render("Could not read the rooms: "+
			signaling.AsError(m.err).Message))
	}
	switch {
	case !m.loaded && m.err == nil:
		return st.Dim.Render(common.Truncate("Reading your team's rooms…", width))
	case len(m.rooms) == 0 && m.loaded:
		top = append(top, st.Dim.Width(width).Render("No open rooms in your team. "+
			"parley room create NAME makes one."))
	}
	rows := max(0, height-lipgloss.Height(strings.Join(top, "\n")))
	if len(top) == 0 {
		rows = height
	}

	// cursor(2) name gap(2) count gap(2) who (the host first, then the
	// others) and the room's state.
	nameWidth := 0
	for _, r := range m.rooms {
		nameWidth = max(nameWidth, lipgloss.Width(r.Name))
	}
	const countWidth = len("100 in")
	nameWidth = max(1, min(nameWidth, width/3))
	restWidth := max(1, width-2-nameWidth-2-countWidth-2)
	now := m.common.Now()

	var lines []string
	for i := m.offset; i < len(m.rooms) && i < m.offset+rows; i++ {
		r := m.rooms[i]
		cur, nameStyle := "  ", st.List.Item
		if i == m.selected {
			cur, nameStyle = "› ", st.List.Selected
		}
		count := fmt.Sprintf("%d in", len(r.Participants))
		countStyle := st.List.Online
		if len(r.Participants) == 0 {
			countStyle = st.Dim
		}
		var state []string
		if r.Locked {
			state = append(state, "locked")
		}
		if r.Start != nil && r.Start.After(now) {
			state = append(state, "opens "+recents.When(*r.Start, now))
		}
		rest := who(r)
		if len(state) > 0 {
			rest = strings.Join(state, " · ") + " · " + rest
		}
		lines = append(lines, nameStyle.Render(cur)+nameStyle.Render(common.PadRight(r.Name, nameWidth))+"  "+
			countStyle.Render(common.PadRight(count, countWidth))+"  "+st.Dim.Render(common.Truncate(rest, restWidth)))
	}
	return common.FitLines(strings.Join(append(top, lines...), "\n"), height)
}

// who is who is in room r, the host first and marked: "Bob Builder (host),
// carol", or who hosts it when nobody is in it.
func who(r signaling.Room) string {
	if len(r.Participants) == 0 {
		return "empty · host " + r.Host
	}
	var names []string
	for _, p := range r.Participants {
		n := p.Name
		if n == "" {
			n = p.User
		}
		switch p.Role {
		case signaling.RoleHost:
			names = append([]string{n + " (host)"}, names...)
		case signaling.RoleListener:
			names = append(names, n+" (listening)")
		default:
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}
