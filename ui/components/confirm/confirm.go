// Package confirm is a yes/no question in a small centred dialog (the quit
// confirmation).
package confirm

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// Model is the question.
type Model struct {
	common   common.Common
	question string
}

// New returns a dialog that asks question.
func New(c common.Common, question string) *Model {
	return &Model{common: c, question: question}
}

// SetQuestion sets the question asked.
func (m *Model) SetQuestion(q string) { m.question = q }

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: y sends common.ConfirmMsg{Yes: true}, n or
// esc common.ConfirmMsg{Yes: false}.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, m.common.KeyMap.Yes):
			return m, common.Confirm(true)
		case key.Matches(k, m.common.KeyMap.No):
			return m, common.Confirm(false)
		}
	}
	return m, nil
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.common.KeyMap.Yes, m.common.KeyMap.No}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// View implements tea.Model: the dialog, centred.
func (m *Model) View() string {
	st := m.common.Styles
	w, h := m.common.Width, m.common.Height
	inner := w - st.Dialog.GetHorizontalFrameSize()
	if inner <= 0 || h <= 0 {
		return ""
	}
	text := st.Title.Render(m.question)
	if lipgloss.Width(text) > inner {
		text = st.Title.Width(inner).Render(m.question)
	}
	box := common.Box(st.Dialog, min(w, lipgloss.Width(text)+st.Dialog.GetHorizontalFrameSize()), 0, text)
	return st.Renderer.Place(w, h, lipgloss.Center, lipgloss.Center, common.FitLines(box, h))
}
