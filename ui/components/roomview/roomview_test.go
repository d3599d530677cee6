package roomview

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

var t0 = time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC)

func newView(w, h int) *Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(common.Common{Styles: styles.DefaultStyles(r), KeyMap: keymap.DefaultKeyMap(),
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	m.SetSize(w, h)
	return m
}

// bigRoom is a room of n people: you, then user01..user(n-1).
func bigRoom(n int) common.Room {
	r := common.Room{Name: "all-hands", Self: "alice", Role: signaling.RoleHost, Joined: t0.Add(-time.Minute),
		People: []common.RoomPerson{{User: "alice", Role: signaling.RoleHost}}}
	for i := 1; i < n; i++ {
		r.People = append(r.People, common.RoomPerson{User: fmt.Sprintf("user%02d", i), Role: signaling.RoleMember})
	}
	return r
}

// TestWindowKeepsYouAndTheSelected: in a room taller than the view, your
// row stays on top and the selected participant stays in view as the
// selection moves down, and every line fits.
func TestWindowKeepsYouAndTheSelected(t *testing.T) {
	m := newView(56, 12)
	m.SetRoom(bigRoom(30))
	down := tea.KeyMsg{Type: tea.KeyDown}
	for i := 1; i < 30; i++ {
		sel, ok := m.Selected()
		if !ok || sel.User != fmt.Sprintf("user%02d", i) {
			t.Fatalf("after %d downs the selection is %q, %t; want user%02d", i-1, sel.User, ok, i)
		}
		view := m.View()
		lines := strings.Split(view, "\n")
		if len(lines) > 12 {
			t.Fatalf("the view has %d lines; want at most 12", len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > 56 {
				t.Fatalf("line %q is wider than 56", l)
			}
		}
		if !strings.Contains(view, "You ") {
			t.Fatalf("your row is not shown:\n%s", view)
		}
		var marked []string // the lines with the selection's mark
		for _, l := range lines {
			if strings.Contains(l, "› ") {
				marked = append(marked, l)
			}
		}
		if len(marked) != 1 || !strings.Contains(marked[0], sel.User) {
			t.Fatalf("the selected %s is not the one marked row:\n%s", sel.User, view)
		}
		m.Update(down)
	}
	// The selection stops at the last one.
	if sel, _ := m.Selected(); sel.User != "user29" {
		t.Errorf("past the end the selection is %q; want user29", sel.User)
	}
}

// TestSelectionFollowsThePerson: the selection stays on the same person
// when others join or leave, and moves to the first other when they leave.
func TestSelectionFollowsThePerson(t *testing.T) {
	m := newView(80, 20)
	r := bigRoom(4)
	m.SetRoom(r)
	m.Update(tea.KeyMsg{Type: tea.KeyDown})
	if sel, _ := m.Selected(); sel.User != "user02" {
		t.Fatalf("selected %q; want user02", sel.User)
	}
	r.People = append(r.People[:1], r.People[2:]...) // user01 leaves
	m.SetRoom(r)
	if sel, _ := m.Selected(); sel.User != "user02" {
		t.Errorf("after user01 left, selected %q; want user02", sel.User)
	}
	r.People = r.People[:1] // all but you leave
	m.SetRoom(r)
	if sel, ok := m.Selected(); ok {
		t.Errorf("alone, selected %q; want none", sel.User)
	}
}

// TestSpeaker: the active speaker is the loudest at or above
// common.SpeakingLevel; a muted one never is; you are by your microphone's
// speech.
func TestSpeaker(t *testing.T) {
	r := bigRoom(4)
	if got := r.Speaker(); got != "" {
		t.Errorf("silent room: speaker %q; want none", got)
	}
	r.People[1].Level, r.People[2].Level = 0.5, 0.29
	if got := r.Speaker(); got != "user01" {
		t.Errorf("speaker %q; want user01 (0.5; user02 at 0.29 is below %v)", got, common.SpeakingLevel)
	}
	r.People[2].Level = 0.8
	if got := r.Speaker(); got != "user02" {
		t.Errorf("speaker %q; want user02 (0.8)", got)
	}
	r.People[2].Muted = true
	if got := r.Speaker(); got != "user01" {
		t.Errorf("speaker %q; want user01 (user02 is muted)", got)
	}
	r.Mic, r.MicSpeaking = 0.9, true
	if got := r.Speaker(); got != "alice" {
		t.Errorf("speaker %q; want alice (you, 0.9)", got)
	}
	r.Mic, r.MicSpeaking = 0.9, false // loud, but not speech (noise)
	if got := r.Speaker(); got != "user01" {
		t.Errorf("speaker %q; want user01 (your microphone carries no speech)", got)
	}
}
