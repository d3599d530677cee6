// Package helpview is the help screen: every key binding of the KeyMap,
// grouped and titled, laid out in as many columns as fit.
package helpview

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// Model is the help screen.
type Model struct {
	common common.Common
	help   help.Model
	offset int // first line shown when the keys do not fit
}

// New returns the help screen.
func New(c common.Common) *Model {
	h := help.New()
	h.Styles = c.Styles.Help
	return &Model{common: c, help: h}
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Reset scrolls back to the top.
func (m *Model) Reset() { m.offset = 0 }

// Update implements tea.Model: esc or ? closes (common.CloseMsg); up and
// down scroll when the keys do not fit.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.KeyMap
	switch {
	case key.Matches(k, km.Close) || key.Matches(k, km.Help):
		return m, common.Close
	case key.Matches(k, km.Up):
		m.offset = max(0, m.offset-1)
	case key.Matches(k, km.Down):
		m.offset = max(0, min(m.offset+1, m.maxOffset()))
	}
	return m, nil
}

// maxOffset is the last first line that still fills the screen.
func (m *Model) maxOffset() int {
	return max(0, lipgloss.Height(m.content())-(m.common.Height-1))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.common.KeyMap.Close}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return m.common.KeyMap.FullHelp() }

// View implements tea.Model.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	out := m.content()
	if lipgloss.Height(out) <= h {
		return out
	}
	// Too tall: a window of h-1 lines and a line that says there is more.
	lines := strings.Split(out, "\n")
	off := min(m.offset, len(lines)-(h-1))
	var more []string
	if off > 0 {
		more = append(more, "↑ more above")
	}
	if off+h-1 < len(lines) {
		more = append(more, "↓ more below")
	}
	hint := m.common.Styles.Dim.Render(common.Truncate(strings.Join(more, " · ")+" (↑/↓ scroll)", w))
	return strings.Join(append(lines[off:off+h-1], hint), "\n")
}

// content is the whole help, however tall.
func (m *Model) content() string {
	st := m.common.Styles
	w := m.common.Width
	// One block per group: its title over the bubbles/help columns of keys
	// and descriptions. Blocks go left to right, wrapping to a new row of
	// blocks when the line is full.
	const gap = 4
	var rows []string
	var row []string
	rowWidth := 0
	for _, g := range m.common.KeyMap.Groups() {
		block := st.Title.Render(g.Title) + "\n" + m.help.FullHelpView([][]key.Binding{g.Bindings})
		bw := lipgloss.Width(block)
		if len(row) > 0 && rowWidth+gap+bw > w {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, rowWidth = nil, 0
		}
		if len(row) > 0 {
			row = append(row, strings.Repeat(" ", gap))
			rowWidth += gap
		}
		row = append(row, block)
		rowWidth += bw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	out := st.Title.Render("Keys") + "\n\n" + strings.Join(rows, "\n\n")
	if lipgloss.Height(out) > m.common.Height {
		// Too tall: drop the blank lines between rows of blocks.
		out = st.Title.Render("Keys") + "\n" + strings.Join(rows, "\n")
	}
	return out
}
