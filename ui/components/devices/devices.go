// Package devices is the audio device picker: the microphones and speakers
// the phone can use, the current ones marked; enter chooses, esc closes.
package devices

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// Default is the name of the system's default device, which the picker
// always offers.
const Default = "default"

// Column is one of the picker's two lists.
type Column int

// The columns.
const (
	Inputs Column = iota
	Outputs
)

type list struct {
	title    string
	names    []string
	current  string
	selected int
	offset   int
}

// Model is the device picker.
type Model struct {
	common  common.Common
	lists   [2]list
	labels  map[string]string // what a name is shown as, if not itself
	col     Column
	loading bool
	saving  bool
	err     error
}

// New returns a picker that is loading its lists.
func New(c common.Common) *Model {
	return &Model{
		common: c,
		lists: [2]list{
			{title: "Microphone (input)"},
			{title: "Speaker (output)"},
		},
		loading: true,
	}
}

// Loading clears the lists and shows that they are being listed.
func (m *Model) Loading() {
	m.loading, m.saving, m.err = true, false, nil
	m.col = Inputs
}

// SetDevices sets the lists and the devices in use ("default" when none is
// chosen), or the error that listing them gave. Each list offers "default"
// first; the selection starts on the device in use.
func (m *Model) SetDevices(inputs, outputs []string, input, output string, err error) {
	m.loading, m.err = false, err
	for i, names := range [][]string{inputs, outputs} {
		cur := []string{input, output}[i]
		if cur == "" {
			cur = Default
		}
		l := &m.lists[i]
		l.names = withDefault(names)
		l.current = cur
		l.selected, l.offset = 0, 0
		for j, n := range l.names {
			if n == cur {
				l.selected = j
			}
		}
	}
}

// SetLabels sets what the devices are shown as, by name (the sound
// server's descriptions); a name without one is shown as itself.
func (m *Model) SetLabels(labels map[string]string) { m.labels = labels }

func (m *Model) label(name string) string {
	if l := m.labels[name]; l != "" {
		return l
	}
	return name
}

// Saving shows that the choice is being saved; Saved shows the result.
func (m *Model) Saving() { m.saving, m.err = true, nil }

// Saved records the outcome of saving input and output.
func (m *Model) Saved(input, output string, err error) {
	m.saving, m.err = false, err
	if err == nil {
		m.lists[Inputs].current, m.lists[Outputs].current = input, output
	}
}

func withDefault(names []string) []string {
	out := []string{Default}
	for _, n := range names {
		if n != Default && strings.TrimSpace(n) != "" {
			out = append(out, n)
		}
	}
	return out
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: moving, switching lists, enter (sends
// common.ChooseDevicesMsg with the selected device and the other list's
// current one) and esc (common.CloseMsg).
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.KeyMap
	switch {
	case key.Matches(k, km.Close):
		return m, common.Close
	case m.loading || m.saving:
	case key.Matches(k, km.Up):
		m.move(-1)
	case key.Matches(k, km.Down):
		m.move(1)
	case key.Matches(k, km.SwitchList):
		m.col = 1 - m.col
	case key.Matches(k, km.Choose):
		l := &m.lists[m.col]
		if len(l.names) == 0 {
			return m, nil
		}
		in, out := m.lists[Inputs].current, m.lists[Outputs].current
		if m.col == Inputs {
			in = l.names[l.selected]
		} else {
			out = l.names[l.selected]
		}
		return m, common.ChooseDevices(in, out)
	}
	return m, nil
}

func (m *Model) move(by int) {
	l := &m.lists[m.col]
	if len(l.names) == 0 {
		return
	}
	l.selected = max(0, min(len(l.names)-1, l.selected+by))
	_, _, rows := m.layout()
	l.offset = common.Scroll(l.selected, l.offset, max(1, rows[m.col]-1), len(l.names))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	if m.loading || m.saving {
		return []key.Binding{km.Close}
	}
	return []key.Binding{km.Choose, km.SwitchList, km.Close}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Up, km.Down, km.Choose, km.SwitchList, km.Close}}
}

// View implements tea.Model.
func (m *Model) View() string {
	st := m.common.Styles
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	head := []string{st.Title.Render(common.Truncate("Audio devices", w))}
	var foot string
	switch {
	case m.loading:
		return strings.Join(append(head, "", st.Dim.Render("Listing devices…")), "\n")
	case m.saving:
		foot = st.Dim.Render(common.Truncate("Saving…", w))
	case m.err != nil:
		foot = st.Error.Render(common.Truncate("Error: "+m.err.Error(), w))
	default:
		foot = st.Dim.Render(common.Truncate("A new choice applies at once, to a call in progress too.", w))
	}
	var body string
	if side, cw, rows := m.layout(); side {
		body = lipgloss.JoinHorizontal(lipgloss.Top,
			m.column(Inputs, cw, rows[Inputs]), strings.Repeat(" ", colGap),
			m.column(Outputs, w-colGap-cw, rows[Outputs]))
	} else {
		body = m.column(Inputs, w, rows[Inputs]) + "\n" + m.column(Outputs, w, rows[Outputs])
	}
	return common.FitLines(strings.Join(append(head, body, "", foot), "\n"), h)
}

// The columns are side by side when both get at least colMin cells, colGap
// apart; else one above the other.
const colMin, colGap = 24, 2

// layout returns whether the columns are side by side, the width of the
// first column, and the lines each column may take (its title included).
// The picker's title, a blank line and a footer line take the rest.
func (m *Model) layout() (side bool, width int, rows [2]int) {
	w := m.common.Width
	avail := max(2, m.common.Height-3)
	if (w-colGap)/2 >= colMin {
		return true, (w - colGap) / 2, [2]int{avail, avail}
	}
	top := max(2, avail/2)
	return false, w, [2]int{top, max(2, avail-top)}
}

// column draws one list in width cells and at most height lines: its title
// and its rows, scrolled to keep the selection visible.
func (m *Model) column(c Column, width, height int) string {
	st := m.common.Styles
	l := &m.lists[c]
	title := l.title
	titleStyle := st.Dim
	if c == m.col {
		titleStyle = st.Title
		title = "▸ " + title
	} else {
		title = "  " + title
	}
	lines := []string{titleStyle.Render(common.PadRight(title, width))}
	rows := max(1, height-1)
	offset := common.Scroll(l.selected, l.offset, rows, len(l.names))
	for i := offset; i < len(l.names) && i < offset+rows; i++ {
		n := l.names[i]
		cur, style := "  ", st.List.Item
		if i == l.selected && c == m.col {
			cur, style = "› ", st.List.Selected
		}
		mark, suffix := "○ ", ""
		if n == l.current {
			mark, suffix = "● ", " (current)"
		}
		name := common.Truncate(m.label(n), max(1, width-2-2-lipgloss.Width(suffix)))
		markStyle := st.Dim
		if n == l.current {
			markStyle = st.List.Current
		}
		line := style.Render(cur) + markStyle.Render(mark) + style.Render(name) + st.Dim.Render(suffix)
		lines = append(lines, common.PadRight(line, width))
	}
	return strings.Join(lines, "\n")
}
