// Package directory is the add-contact dialog: it searches the team's
// directory as you type (by id or display name), lists who matches with
// their presence, and enter adds the selected person to the contacts kept
// on the server. The root model runs the searches and the adding.
package directory

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

// Model is the add-contact dialog.
type Model struct {
	common   common.Common
	input    textinput.Model
	seq      int  // the latest search asked for
	loading  bool // its answer has not come
	results  []signaling.Person
	err      string
	selected int
	offset   int
	adding   string // the person being added
}

// New returns a closed dialog.
func New(c common.Common) *Model {
	return &Model{common: c, input: common.NewInput(c, "Search: ", "a name or an id", signaling.MaxNameLength)}
}

// Open empties the dialog, gives it the keyboard and asks for the whole
// directory.
func (m *Model) Open() tea.Cmd {
	m.input.Reset()
	m.results, m.err, m.adding = nil, "", ""
	m.selected, m.offset = 0, 0
	return tea.Batch(m.input.Focus(), m.search())
}

// search asks for the people matching what is typed.
func (m *Model) search() tea.Cmd {
	m.seq++
	m.loading = true
	return common.Search(strings.TrimSpace(m.input.Value()), m.seq)
}

// SetResults shows the answer to search seq; answers to older searches are
// dropped.
func (m *Model) SetResults(seq int, people []signaling.Person, err error) {
	if seq != m.seq {
		return
	}
	m.loading = false
	m.results, m.err = people, ""
	if err != nil {
		m.results, m.err = nil, errText(err)
	}
	m.selected, m.offset = 0, 0
}

// Added reports that adding user failed (the root model closes the dialog
// when it worked).
func (m *Model) Added(user string, err error) {
	m.adding = ""
	if err != nil {
		m.err = fmt.Sprintf("Could not add %s: %s", user, errText(err))
	}
}

func errText(err error) string {
	if e := signaling.AsError(err); e != nil {
		return e.Message
	}
	return err.Error()
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) {
	m.common.SetSize(width, height)
	m.input.Width = max(1, m.inner()-lipgloss.Width(m.input.Prompt)-1)
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.results))
}

// maxInner is the widest the dialog's content gets.
const maxInner = 60

func (m *Model) inner() int {
	return min(m.common.Width-m.common.Styles.Dialog.GetHorizontalFrameSize(), maxInner)
}

// listHeight is the rows left for results: the dialog less its frame, the
// title, the input and the blank lines between, and a line for a message.
func (m *Model) listHeight() int {
	return max(1, m.common.Height-m.common.Styles.Dialog.GetVerticalFrameSize()-5)
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: typing searches, ↑/↓ move, enter sends
// common.AddContactMsg for the selected person, esc closes.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, km.Close):
			m.input.Blur()
			return m, common.Close
		case k.Type == tea.KeyUp:
			m.move(-1)
			return m, nil
		case k.Type == tea.KeyDown:
			m.move(1)
			return m, nil
		case key.Matches(k, km.Choose):
			if m.adding != "" || len(m.results) == 0 {
				return m, nil
			}
			m.adding = m.results[m.selected].User
			m.err = ""
			return m, common.AddContact(m.adding)
		}
	}
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() != before {
		return m, tea.Batch(cmd, m.search())
	}
	return m, cmd
}

func (m *Model) move(by int) {
	if len(m.results) == 0 {
		return
	}
	m.selected = max(0, min(len(m.results)-1, m.selected+by))
	m.offset = common.Scroll(m.selected, m.offset, m.listHeight(), len(m.results))
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	add := km.Choose
	add.SetHelp(add.Help().Key, "add")
	cancel := km.Close
	cancel.SetHelp(cancel.Help().Key, "close")
	if len(m.results) == 0 {
		return []key.Binding{cancel}
	}
	return []key.Binding{add, cancel}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// View implements tea.Model: the dialog, centred.
func (m *Model) View() string {
	st := m.common.Styles
	w, h := m.common.Width, m.common.Height
	inner := m.inner()
	if w <= 0 || h <= 0 || inner <= 0 {
		return ""
	}
	body := []string{st.Title.Render("Add a contact from your team"), "", m.input.View(), ""}
	switch {
	case m.err != "":
		body = append(body, st.Error.Width(inner).Render(m.err))
	case m.adding != "":
		body = append(body, st.Dim.Render(common.Truncate("Adding "+m.adding+"…", inner)))
	case m.loading && len(m.results) == 0:
		body = append(body, st.Dim.Render("Searching…"))
	case len(m.results) == 0 && m.input.Value() == "":
		body = append(body, st.Dim.Width(inner).Render("No one else in your team yet."))
	case len(m.results) == 0:
		body = append(body, st.Dim.Render(common.Truncate(fmt.Sprintf("No one matches %q.", m.input.Value()), inner)))
	}
	rows := m.listHeight()
	for i := m.offset; i < len(m.results) && i < m.offset+rows; i++ {
		p := m.results[i]
		state := common.PresenceOfState(p.State)
		cur, style := "  ", st.List.Item
		if i == m.selected {
			cur, style = "› ", st.List.Selected
		}
		word := state.Word()
		if p.Role == "guest" {
			word += " · guest"
		}
		label := common.Truncate(signaling.Label(p.User, p.Name), max(1, inner-4-2-len(word)))
		gap := max(2, inner-4-lipgloss.Width(label)-lipgloss.Width(word))
		body = append(body, style.Render(cur)+state.Style(st).Render(state.Marker())+" "+
			style.Render(label)+strings.Repeat(" ", gap)+state.Style(st).Render(word))
	}
	box := common.Box(st.Dialog, inner+st.Dialog.GetHorizontalFrameSize(), 0, strings.Join(body, "\n"))
	return st.Renderer.Place(w, h, lipgloss.Center, lipgloss.Center, common.FitLines(box, h))
}
