// Package prompt is a small dialog that asks for one line: the dial prompt
// (any user id, to call it), the add prompt (a user id, to add to the call)
// and the guest-link prompt (the guest's name).
package prompt

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// Kind is what a prompt asks for and what it does with the answer.
type Kind struct {
	Title, Prompt, Placeholder string
	CharLimit                  int
	Action                     string               // the help of enter: "call"
	Validate                   func(string) string  // "" when the answer is fine
	Submit                     func(string) tea.Cmd // the command for a valid answer
}

// Dial asks for any user id and calls it (common.DialMsg).
func Dial() Kind {
	return Kind{
		Title: "Call a user", Prompt: "User id: ", Placeholder: "e.g. bob",
		CharLimit: signaling.MaxIDLength, Action: "call",
		Validate: Validate, Submit: common.Dial,
	}
}

// AddToCall asks for a user id to add to the answered call
// (common.AddToCallMsg): the call grows into a room.
func AddToCall() Kind {
	return Kind{
		Title: "Add someone to the call", Prompt: "User id: ", Placeholder: "e.g. carol",
		CharLimit: signaling.MaxIDLength, Action: "add",
		Validate: Validate, Submit: common.AddToCall,
	}
}

// GuestLink asks for a guest's name, which may be left empty, and makes a
// guest link for them (common.MakeLinkMsg).
func GuestLink() Kind {
	return Kind{
		Title: "Invite a guest from a browser", Prompt: "Guest's name: ", Placeholder: "optional, e.g. Carol",
		CharLimit: signaling.MaxNameLength, Action: "make link",
		Validate: validName, Submit: common.MakeLink,
	}
}

// validName checks a guest's name as typed; empty is fine.
func validName(name string) string {
	if name == "" {
		return ""
	}
	if _, err := signaling.CheckName("the name", name); err != nil {
		return fmt.Sprintf("A name is at most %d printable characters.", signaling.MaxNameLength)
	}
	return ""
}

// Model is the prompt.
type Model struct {
	common common.Common
	kind   Kind
	input  textinput.Model
	err    string
}

// New returns an empty prompt.
func New(c common.Common) *Model {
	m := &Model{common: c, input: common.NewInput(c, "", "", 0)} // setKind sets them
	m.setKind(Dial())
	return m
}

func (m *Model) setKind(k Kind) {
	m.kind = k
	m.input.Prompt, m.input.Placeholder, m.input.CharLimit = k.Prompt, k.Placeholder, k.CharLimit
	m.SetSize(m.common.Width, m.common.Height)
}

// Open empties the prompt, makes it ask for kind, and gives it the
// keyboard.
func (m *Model) Open(kind Kind) tea.Cmd {
	m.setKind(kind)
	m.input.Reset()
	m.err = ""
	return m.input.Focus()
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.input.Width = max(1, m.inner()-lipgloss.Width(m.input.Prompt)-1)
}

// maxInner is the widest the dialog's content gets.
const maxInner = 48

// inner is the width of the dialog's content.
func (m *Model) inner() int {
	return min(m.common.Width-m.common.Styles.Dialog.GetHorizontalFrameSize(), maxInner)
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Validate checks a user id as typed, by the protocol's rule
// (signaling.ValidID); "" means it is fine.
func Validate(id string) string {
	switch {
	case id == "":
		return "Type a user id."
	case !signaling.ValidID(id):
		return fmt.Sprintf("A user id is 1 to %d letters, digits and . _ - @ +", signaling.MaxIDLength)
	}
	return ""
}

// Update implements tea.Model: enter runs the kind's Submit for a valid
// answer, esc closes (common.CloseMsg), anything else is typing.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, km.Close):
			m.input.Blur()
			return m, common.Close
		case key.Matches(k, km.Choose):
			v := strings.TrimSpace(m.input.Value())
			if m.err = m.kind.Validate(v); m.err != "" {
				return m, nil
			}
			m.input.Blur()
			return m, tea.Batch(common.Close, m.kind.Submit(v))
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if _, ok := msg.(tea.KeyMsg); ok {
		m.err = ""
	}
	return m, cmd
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	ok := km.Choose
	ok.SetHelp(ok.Help().Key, m.kind.Action)
	cancel := km.Close
	cancel.SetHelp(cancel.Help().Key, "cancel")
	return []key.Binding{ok, cancel}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// View implements tea.Model: the dialog, centred.
func (m *Model) View() string {
	st := m.common.Styles
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	inner := m.inner()
	if inner <= 0 {
		return ""
	}
	body := []string{st.Title.Render(m.kind.Title), "", m.input.View()}
	if m.err != "" {
		body = append(body, "", st.Error.Render(common.Truncate(m.err, inner)))
	}
	box := common.Box(st.Dialog, inner+st.Dialog.GetHorizontalFrameSize(), 0, strings.Join(body, "\n"))
	return st.Renderer.Place(w, h, lipgloss.Center, lipgloss.Center, common.FitLines(box, h))
}
