// Package settings is the audio settings screen: echo cancellation, noise
// suppression and automatic gain, each on or off. up and down move, enter
// or space switches the selected one (it applies at once, to the call in
// progress too, and is saved), esc closes.
package settings

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/ui/common"
)

// item is one switch: its name, what it does, and where it lives in a
// call.Processing; by, if set, names what does it.
type item struct {
	name, help string
	field      func(*call.Processing) *bool
	by         func(call.Processing) string
}

var items = []item{
	{"Echo cancellation", "the other side does not hear itself through your speaker",
		func(p *call.Processing) *bool { return &p.EchoCancellation },
		func(p call.Processing) string { return p.EchoCanceller().Title() }},
	{"Noise suppression", "fans and hiss are pushed down",
		func(p *call.Processing) *bool { return &p.NoiseSuppression }, nil},
	{"Automatic gain", "your voice reaches the other side at a steady loudness",
		func(p *call.Processing) *bool { return &p.AutoGain }, nil},
}

// Model is the settings screen.
type Model struct {
	common   common.Common
	proc     call.Processing
	selected int
	saving   bool
	err      error
}

// New returns the settings screen showing proc.
func New(c common.Common) *Model { return &Model{common: c} }

// Open shows proc, with the selection on the first switch.
func (m *Model) Open(proc call.Processing) {
	m.proc, m.selected, m.saving, m.err = proc, 0, false, nil
}

// Saving shows that a change is being saved; Saved shows the outcome.
func (m *Model) Saving() { m.saving, m.err = true, nil }

// Saved records the outcome of saving proc: on failure the screen goes
// back to what was in effect before.
func (m *Model) Saved(proc call.Processing, err error) {
	m.saving, m.err = false, err
	if err == nil {
		m.proc = proc
	}
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: moving, switching (common.SetProcessingMsg
// with the new settings) and esc (common.CloseMsg).
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.KeyMap
	switch {
	case key.Matches(k, km.Close):
		return m, common.Close
	case m.saving:
	case key.Matches(k, km.Up):
		m.selected = max(0, m.selected-1)
	case key.Matches(k, km.Down):
		m.selected = min(len(items)-1, m.selected+1)
	case key.Matches(k, km.Toggle):
		p := m.proc
		f := items[m.selected].field(&p)
		*f = !*f
		return m, common.SetProcessing(p)
	}
	return m, nil
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	return []key.Binding{km.Toggle, km.Close}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Toggle, km.Close}}
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := []string{st.Title.Render(common.Truncate("Audio settings", w)), ""}
	for i, it := range items {
		cur, style := "  ", st.List.Item
		if i == m.selected {
			cur, style = "› ", st.List.Selected
		}
		state := "[ ] off"
		if *it.field(&m.proc) {
			state = "[x] on "
		}
		name := it.name
		if it.by != nil {
			name += " · " + it.by(m.proc)
		}
		lines = append(lines,
			style.Render(common.PadRight(cur+state+"  "+name, w)),
			st.Dim.Render(common.Truncate("           "+it.help, w)))
	}
	foot := "Changes apply at once, to a call in progress too, and are saved."
	switch {
	case m.saving:
		foot = "Saving…"
	case m.err != nil:
		lines = append(lines, "", st.Error.Render(common.Truncate("Error: "+m.err.Error(), w)))
		return common.FitLines(strings.Join(lines, "\n"), h)
	}
	lines = append(lines, "", st.Dim.Render(common.Truncate(foot, w)))
	return common.FitLines(strings.Join(lines, "\n"), h)
}
