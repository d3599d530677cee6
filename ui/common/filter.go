package common

import (
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/keymap"
)

// Filter is a list's filter, the same in every pane that has one (the
// contacts, the recent calls): / gives it the keyboard, what is typed
// narrows the list to the people whose id or display name contains it
// (ignoring case), enter keeps it and gives the keys back to the list, esc
// clears it.
type Filter struct {
	input textinput.Model
	on    bool // the filter has the keyboard
	km    *keymap.KeyMap
}

// NewInput returns a text input drawn with c's styles (the filters, the
// prompts, the search, the texts), its cursor still: it does not blink.
func NewInput(c Common, prompt, placeholder string, limit int) textinput.Model {
	st := c.Styles.Input
	ti := textinput.New()
	ti.Prompt, ti.Placeholder, ti.CharLimit = prompt, placeholder, limit
	ti.PromptStyle, ti.TextStyle, ti.PlaceholderStyle = st.Prompt, st.Text, st.Placeholder
	ti.Cursor.Style, ti.Cursor.TextStyle = st.Cursor, st.Text
	ti.Cursor.SetMode(cursor.CursorStatic)
	return ti
}

// NewFilter returns an empty filter drawn with c's styles.
func NewFilter(c Common) Filter {
	return Filter{input: NewInput(c, "/ ", "type to filter", 0), km: c.KeyMap}
}

// Filtering reports whether the filter has the keyboard: keys are text.
func (f *Filter) Filtering() bool { return f.on }

// HasFilter reports whether a filter narrows the list.
func (f *Filter) HasFilter() bool { return f.input.Value() != "" }

// Shown reports whether the filter's line is drawn above the list.
func (f *Filter) Shown() bool { return f.on || f.HasFilter() }

// Value is the text typed.
func (f *Filter) Value() string { return f.input.Value() }

// StopFiltering takes the keyboard from the filter, keeping what was typed.
func (f *Filter) StopFiltering() {
	f.on = false
	f.input.Blur()
}

// Clear empties the filter and takes the keyboard from it.
func (f *Filter) Clear() {
	f.StopFiltering()
	f.input.Reset()
}

// SetWidth fits the filter's line in width cells.
func (f *Filter) SetWidth(width int) {
	f.input.Width = max(1, width-lipgloss.Width(f.input.Prompt)-1)
}

// Matches reports whether the person user, called name, is in the
// filtered list.
func (f *Filter) Matches(user, name string) bool {
	q := strings.ToLower(strings.TrimSpace(f.input.Value()))
	return q == "" || strings.Contains(strings.ToLower(user), q) || strings.Contains(strings.ToLower(name), q)
}

// Update handles msg for the filter: / (Filter) and esc (Clear) when it
// does not have the keyboard; when it does, enter (Apply), esc and the
// text, but the arrows, which still move in the list. It reports whether it
// took msg, and whether the text changed (the list is to be filtered
// again).
func (f *Filter) Update(msg tea.Msg) (cmd tea.Cmd, took, changed bool) {
	km := f.km
	k, isKey := msg.(tea.KeyMsg)
	switch {
	case !isKey:
		if f.on {
			f.input, cmd = f.input.Update(msg)
		}
		return cmd, f.on, false
	case !f.on && key.Matches(k, km.Filter):
		f.on = true
		return f.input.Focus(), true, false
	case !f.on && key.Matches(k, km.Clear) && f.HasFilter():
		f.Clear()
		return nil, true, true
	case !f.on:
		return nil, false, false
	case key.Matches(k, km.Apply):
		f.StopFiltering()
		return nil, true, false
	case key.Matches(k, km.Clear):
		f.Clear()
		return nil, true, true
	case k.Type == tea.KeyUp || k.Type == tea.KeyDown:
		return nil, false, false // the arrows still move in the list
	}
	before := f.input.Value()
	f.input, cmd = f.input.Update(msg)
	return cmd, true, f.input.Value() != before
}

// ShortHelp is a pane's short help, keys, with the filter's: while the
// filter has the keyboard, apply and clear alone; otherwise keys, then /
// when the list has something to filter (some) and esc when a filter
// narrows it.
func (f *Filter) ShortHelp(keys []key.Binding, some bool) []key.Binding {
	km := f.km
	if f.on {
		return []key.Binding{km.Apply, km.Clear}
	}
	if some {
		keys = append(keys, km.Filter)
	}
	if f.HasFilter() {
		keys = append(keys, km.Clear)
	}
	return keys
}

// View is the filter's line.
func (f *Filter) View() string { return f.input.View() }
