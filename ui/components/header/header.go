// Package header is the top line of the UI: parley, who you are, the server
// and the state of the signaling connection.
package header

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// State is the state of the signaling connection.
type State int

// The connection states.
const (
	Connecting   State = iota // before the first report
	Connected                 // up
	Reconnecting              // down, the phone is trying again
	Offline                   // down for good (a refusal such as an invalid token), or the phone stopped
)

// Model is the header.
type Model struct {
	common common.Common
	user   string
	server string
	state  State
	detail string
}

// New returns a header for user signed in to server.
func New(c common.Common, user, server string) *Model {
	return &Model{common: c, user: user, server: server}
}

// SetUser sets the signed-in user.
func (m *Model) SetUser(user string) { m.user = user }

// SetState sets the connection state; detail says why it is down.
func (m *Model) SetState(s State, detail string) { m.state, m.detail = s, detail }

// State returns the connection state.
func (m *Model) State() State { return m.state }

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model; the header takes no input.
func (m *Model) Update(tea.Msg) (tea.Model, tea.Cmd) { return m, nil }

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return nil }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return nil }

// View implements tea.Model: one line, the full width.
func (m *Model) View() string {
	st := m.common.Styles.Header
	width := m.common.Width - st.Bar.GetHorizontalFrameSize()
	if width <= 0 {
		return ""
	}

	var conn string
	var connStyle lipgloss.Style
	switch m.state {
	case Connected:
		conn, connStyle = "● connected", st.Connected
	case Reconnecting:
		conn, connStyle = "◌ reconnecting…", st.Reconnecting
		if m.detail != "" {
			conn += " " + m.detail
		}
	case Offline:
		conn, connStyle = "✕ offline", st.Offline
		if m.detail != "" {
			conn += ": " + m.detail
		}
	default:
		conn, connStyle = "◌ connecting…", st.Connecting
	}
	// The connection state gets up to half the line; the brand and user come
	// next; the server takes what is left.
	conn = common.Truncate(conn, width/2)
	left := "parley"
	user := ""
	if m.user != "" {
		user = " · " + m.user
	}
	rest := width - lipgloss.Width(conn) - lipgloss.Width(left) - 1
	user = common.Truncate(user, max(0, rest))
	rest -= lipgloss.Width(user)
	server := ""
	if m.server != "" && rest > 3 {
		server = common.Truncate("  "+m.server, rest-1)
	}
	gap := width - lipgloss.Width(left) - lipgloss.Width(user) - lipgloss.Width(server) - lipgloss.Width(conn)
	line := st.Brand.Render(left) +
		st.User.Render(user) +
		st.Server.Render(server) +
		st.Server.Render(strings.Repeat(" ", max(0, gap))) +
		connStyle.Render(conn)
	return common.Box(st.Bar, m.common.Width, 0, line)
}
