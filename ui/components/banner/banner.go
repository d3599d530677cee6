// Package banner is the incoming-call banner (and the lobby's: a guest
// waiting to be let into your room; and an invitation to a room): full width, bright and bold,
// with a heavy border so that it stands out without colour too. It is drawn
// over whatever pane is open.
package banner

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// Model is the banner.
type Model struct {
	common common.Common
	call   common.Call
	busy   string // what must end before this call is answered ("hang up to answer"), or ""
	knock  string // a guest waiting in the lobby of your room, as shown, when no call rings
	more   int    // how many more guests wait
	invite string // an invitation to a room ("Bob invites you to room standup"), when nothing else rings
	holds  string // call waiting: who the call you are in is with, held when this one is answered
}

// New returns a banner with no call.
func New(c common.Common) *Model { return &Model{common: c} }

// SetCall sets the incoming call; busy, when another call or a room is
// up, says what to do first ("hang up to answer").
func (m *Model) SetCall(c common.Call, busy string) {
	m.call, m.busy, m.knock, m.invite, m.holds = c, busy, "", "", ""
}

// SetWaiting shows c as a waiting call, ringing while you are in a call
// with holds (a name): a answers it and holds that call, r rejects it and
// leaves that call as it is.
func (m *Model) SetWaiting(c common.Call, holds string) {
	m.SetCall(c, "")
	m.holds = holds
}

// SetKnock shows guest, who waits in the lobby of your room, and how many
// more guests wait after them: a or r lets the guest in or turns them
// away. The banner shows a call's ringing rather than that (SetCall).
func (m *Model) SetKnock(guest string, more int) {
	m.call, m.busy, m.knock, m.more, m.invite, m.holds = common.Call{}, "", guest, more, "", ""
}

// SetInvite shows an invitation to a room, text ("Bob invites you to room
// standup"): a joins the room, r declines; busy, when a call or another
// room is up, says what to end first ("leave the room to join"). A call's
// ringing or a guest's knock has the banner rather than that.
func (m *Model) SetInvite(text, busy string) {
	m.call, m.busy, m.knock, m.more, m.invite, m.holds = common.Call{}, busy, "", 0, text, ""
}

// SetSize implements common.Component; the banner's height is its own.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model; the root model handles answer and reject.
func (m *Model) Update(tea.Msg) (tea.Model, tea.Cmd) { return m, nil }

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	switch {
	case m.knock != "":
		return []key.Binding{relabel(km.Answer, "let in"), relabel(km.Reject, "turn away")}
	case m.invite != "" && m.busy != "":
		return []key.Binding{relabel(km.Reject, "decline")}
	case m.invite != "":
		return []key.Binding{relabel(km.Answer, "join"), relabel(km.Reject, "decline")}
	case m.call.Answering || m.call.Rejecting:
		return nil
	case m.busy != "":
		return []key.Binding{m.word(km.Reject, "turn away")}
	case m.holds != "":
		return []key.Binding{relabel(km.Answer, "answer (holds "+m.holds+")"), km.Reject}
	}
	return []key.Binding{m.word(km.Answer, "let in"), m.word(km.Reject, "turn away")}
}

// word renames b's action for a guest, who is let in or turned away.
func (m *Model) word(b key.Binding, guest string) key.Binding {
	if m.call.Guest {
		b.SetHelp(b.Help().Key, guest)
	}
	return b
}

func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles.Banner
	inner := m.common.Width - st.Box.GetHorizontalFrameSize()
	if inner <= 0 {
		return ""
	}
	text := "INCOMING CALL from " + m.call.Label()
	if m.holds != "" {
		text = m.call.Who() + " is calling"
	}
	if m.call.Guest {
		text = "Guest " + m.call.Who() + " is waiting (from your guest link)"
	}
	if m.knock != "" {
		text = "Guest " + m.knock + " is waiting"
		if m.more > 0 {
			text += fmt.Sprintf(" (%d more after them)", m.more)
		}
	}
	if m.invite != "" {
		text = m.invite
	}
	var keys string
	switch {
	case m.call.Answering:
		keys = "answering…"
	case m.call.Rejecting:
		keys = "rejecting…"
	default:
		var parts []string
		for _, b := range m.ShortHelp() {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
		if m.busy != "" {
			parts = append(parts, m.busy)
		}
		keys = strings.Join(parts, " · ")
	}
	// The text first; the keys on the same line when they fit, else on the
	// next one.
	var content string
	if lipgloss.Width(text)+2+lipgloss.Width(keys) <= inner {
		gap := inner - lipgloss.Width(text) - lipgloss.Width(keys)
		content = st.Text.Render(text) + st.Keys.Render(strings.Repeat(" ", gap)+keys)
	} else {
		content = st.Text.Render(common.PadRight(text, inner)) + "\n" +
			st.Keys.Render(common.PadRight(keys, inner))
	}
	return common.Box(st.Box, m.common.Width, 0, content)
}
