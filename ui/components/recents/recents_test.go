package recents

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

func TestWhen(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC) // a Friday
	tests := []struct {
		t    time.Time
		want string
	}{
		{now, "15:04"},
		{time.Date(2025, 3, 14, 0, 1, 0, 0, time.UTC), "00:01"},
		{time.Date(2025, 3, 13, 23, 59, 0, 0, time.UTC), "Thu 23:59"},
		{time.Date(2025, 3, 8, 12, 0, 0, 0, time.UTC), "Sat 12:00"},
		{time.Date(2025, 3, 7, 12, 0, 0, 0, time.UTC), "Mar 7 12:00"},
		{time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC), "Dec 31 2024"},
		{time.Date(2025, 3, 14, 16, 4, 0, 0, berlin), "15:04"}, // shown in now's zone
	}
	for _, tt := range tests {
		if got := When(tt.t, now); got != tt.want {
			t.Errorf("When(%v) = %q; want %q", tt.t, got, tt.want)
		}
	}
}

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

// press presses keys ("enter", "esc", "down" or runes, each typed) and
// returns the message of the last command, if any.
func press(m *Model, ks ...string) tea.Msg {
	var last tea.Cmd
	for _, k := range ks {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		}
		_, last = m.Update(msg)
	}
	if last == nil {
		return nil
	}
	return last()
}

// TestFilter: / narrows the calls to those whose peer's id, directory name
// or name in the call contains the text, ignoring case; enter keeps it and
// calls back the selected one of them; esc clears it.
func TestFilter(t *testing.T) {
	now := testCommon().Now()
	people := map[string]common.Person{"carol": {Name: "Carol Jones"}}
	m := New(testCommon(), func(u string) common.Person { return people[u] })
	m.SetSize(80, 10)
	m.SetRecords([]history.Record{
		{Peer: "bob", Start: now.Add(-time.Minute), Direction: signaling.Outbound, Status: signaling.Completed},
		{Peer: "carol", Start: now.Add(-time.Hour), Direction: signaling.Inbound, Status: signaling.Unanswered},
		{Peer: "dave", PeerName: "Dave Ng", Start: now.Add(-2 * time.Hour), Direction: signaling.Outbound,
			Status: signaling.Failed},
		{Peer: "carol", Start: now.Add(-3 * time.Hour), Direction: signaling.Outbound, Status: signaling.Completed},
	})
	peers := func() (out []string) {
		for _, i := range m.visible {
			out = append(out, m.records[i].Peer)
		}
		return out
	}
	for _, tc := range []struct {
		typed string
		want  []string
	}{
		{"JONES", []string{"carol", "carol"}}, // the directory's name
		{"ng", []string{"dave"}},              // the name in the call's record
		{"b", []string{"bob"}},                // the id
		{"zed", nil},
	} {
		press(m, "esc")
		press(m, append([]string{"/"}, strings.Split(tc.typed, "")...)...)
		if got := peers(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("filtered by %q: %v, want %v", tc.typed, got, tc.want)
		}
		if !m.Filtering() || !strings.HasPrefix(m.View(), "/ "+tc.typed) {
			t.Errorf("filtered by %q: filtering %v, view\n%s", tc.typed, m.Filtering(), m.View())
		}
	}
	if v := m.View(); !strings.Contains(v, `No recent call with anyone matching "zed".`) {
		t.Errorf("nothing matches: view\n%s", v)
	}
	// Kept: enter gives the keys back to the list; down, enter calls the
	// second match back.
	press(m, "esc", "/", "c", "a", "r", "enter", "down")
	if m.Filtering() || !m.HasFilter() {
		t.Fatalf("after enter: filtering %v, filter %v", m.Filtering(), m.HasFilter())
	}
	if got := press(m, "enter"); got != (common.DialMsg{User: "carol"}) || m.records[m.visible[m.selected]].Start !=
		now.Add(-3*time.Hour) {
		t.Errorf("enter on the second of carol's calls: %#v", got)
	}
	press(m, "esc")
	if m.HasFilter() || len(m.visible) != 4 || strings.HasPrefix(m.View(), "/") {
		t.Errorf("after esc: %v shown, view\n%s", peers(), m.View())
	}
}
