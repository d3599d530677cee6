package contacts

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

func testCommon() common.Common {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return common.Common{
		Styles: styles.DefaultStyles(r),
		KeyMap: keymap.DefaultKeyMap(),
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC) },
	}
}

func keys(s ...string) []tea.KeyMsg {
	var out []tea.KeyMsg
	for _, k := range s {
		switch k {
		case "enter":
			out = append(out, tea.KeyMsg{Type: tea.KeyEnter})
		case "esc":
			out = append(out, tea.KeyMsg{Type: tea.KeyEsc})
		case "down":
			out = append(out, tea.KeyMsg{Type: tea.KeyDown})
		default:
			out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
		}
	}
	return out
}

// run presses keys and returns the message of the last command, if any.
func run(m *Model, ks ...string) tea.Msg {
	var last tea.Cmd
	for _, k := range keys(ks...) {
		_, last = m.Update(k)
	}
	if last == nil {
		return nil
	}
	return last()
}

func newPane() *Model {
	people := map[string]common.Person{"bob": {Presence: common.Online}, "carol": {Presence: common.Offline}}
	m := New(testCommon(), []string{"bob", " carol ", "dave", "bob", "", "Karl"},
		func(u string) common.Person { return people[u] })
	m.SetSize(40, 10)
	return m
}

func TestContactsDedupeAndPresenceWords(t *testing.T) {
	m := newPane()
	want := "› ● bob    online\n  ○ carol  offline\n  ◌ dave   unknown\n  ◌ Karl   unknown"
	if got := m.View(); got != want {
		t.Errorf("View =\n%s\nwant\n%s", got, want)
	}
}

func TestContactsEnterDials(t *testing.T) {
	m := newPane()
	if got := run(m, "j", "enter"); got != (common.DialMsg{User: "carol"}) {
		t.Errorf("j enter sent %#v; want DialMsg{carol}", got)
	}
}

func TestContactsFilter(t *testing.T) {
	m := newPane()
	run(m, "/", "k", "A") // ignores case; k and j are text while typing
	if !m.Filtering() {
		t.Fatal("not filtering after /")
	}
	if got, _ := m.Selected(); got != "Karl" || len(m.visible) != 1 {
		t.Errorf("filter ka selects %q of %d; want Karl of 1", got, len(m.visible))
	}
	if !strings.HasPrefix(m.View(), "/ kA") {
		t.Errorf("View does not show the filter:\n%s", m.View())
	}
	if got := run(m, "enter"); got != nil || m.Filtering() {
		t.Errorf("enter while typing: sent %#v, filtering %v; want it to keep the filter", got, m.Filtering())
	}
	if got := run(m, "enter"); got != (common.DialMsg{User: "Karl"}) {
		t.Errorf("enter sent %#v; want DialMsg{Karl}", got)
	}
	run(m, "esc")
	if m.HasFilter() || len(m.visible) != 4 {
		t.Errorf("esc left filter %v with %d visible", m.HasFilter(), len(m.visible))
	}
	if got, _ := m.Selected(); got != "Karl" {
		t.Errorf("selection after clearing = %q; want it to stay on Karl", got)
	}
	run(m, "/", "z", "z")
	if !strings.Contains(m.View(), `No contact matches "zz".`) {
		t.Errorf("View for no match:\n%s", m.View())
	}
	if got := run(m, "esc", "enter"); got != (common.DialMsg{User: "Karl"}) {
		t.Errorf("esc enter sent %#v; want DialMsg{Karl}", got)
	}
}

func TestContactsScroll(t *testing.T) {
	var names []string
	for _, c := range "abcdefghij" {
		names = append(names, string(c))
	}
	m := New(testCommon(), names, func(string) common.Person { return common.Person{} })
	m.SetSize(30, 3)
	for range 5 {
		run(m, "down")
	}
	view := m.View()
	if !strings.Contains(view, "› ◌ f") || strings.Count(view, "\n") != 2 {
		t.Errorf("after 5 downs in 3 rows the view should end on f:\n%s", view)
	}
}

// TestContactsStates: every state has its marker and its word; names,
// the last seen and a notification asked for are shown; w asks for one;
// the filter matches names.
func TestContactsStates(t *testing.T) {
	now := testCommon().Now()
	people := map[string]common.Person{
		"ann":  {Name: "Ann Lee", Presence: common.Online},
		"ben":  {Presence: common.Away},
		"cat":  {Presence: common.DND},
		"dan":  {Name: "Dan", Presence: common.InCall},
		"eve":  {Presence: common.Offline, LastSeen: now.Add(-3 * time.Hour), Notify: true},
		"fred": {Presence: common.Unknown},
	}
	m := New(testCommon(), []string{"ann", "ben", "cat", "dan", "eve", "fred"},
		func(u string) common.Person { return people[u] })
	m.SetSize(60, 10)
	want := strings.Join([]string{
		"› ● Ann Lee (ann)  online",
		"  ◐ ben            away",
		"  ⊘ cat            do not disturb",
		"  ◉ Dan (dan)      in a call",
		"  ○ eve            offline, seen 3 hours ago · will notify",
		"  ◌ fred           unknown",
	}, "\n")
	if got := m.View(); got != want {
		t.Errorf("View =\n%s\nwant\n%s", got, want)
	}
	if got := run(m, "j", "j", "j", "j", "w"); got != (common.NotifyMsg{User: "eve"}) {
		t.Errorf("w on eve sent %#v", got)
	}
	run(m, "/", "l", "e", "e")
	if got, _ := m.Selected(); got != "ann" || len(m.visible) != 1 {
		t.Errorf("filter lee selects %q of %d; want ann (Ann Lee) of 1", got, len(m.visible))
	}
	m.SetContacts([]string{"ann", "zed"})
	if got, _ := m.Selected(); got != "ann" {
		t.Errorf("after SetContacts the selection is %q", got)
	}
}
