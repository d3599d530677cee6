package rooms

import (
	"errors"
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
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

func newPane() *Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(common.Common{Styles: styles.DefaultStyles(r), KeyMap: keymap.DefaultKeyMap(),
		Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	m.SetSize(70, 10)
	return m
}

func named(names ...string) []signaling.Room {
	var rs []signaling.Room
	for _, n := range names {
		rs = append(rs, signaling.Room{Name: n, Host: "bob"})
	}
	return rs
}

// TestSelectionKeptAcrossReads: a new list keeps the selection on the same
// room; an error keeps the list and says so; enter joins the selected.
func TestSelectionKeptAcrossReads(t *testing.T) {
	m := newPane()
	m.SetRooms(named("a", "b", "c"), nil)
	m.Update(tea.KeyMsg{Type: tea.KeyDown})
	m.Update(tea.KeyMsg{Type: tea.KeyDown})
	m.SetRooms(named("new", "a", "c"), nil)
	if got, _ := m.Selected(); got != "c" {
		t.Errorf("after a new read the selection is %q; want c", got)
	}
	m.SetRooms(nil, errors.New("connection refused"))
	if got, _ := m.Selected(); got != "c" || m.Len() != 3 {
		t.Errorf("after an error: selected %q of %d; want c of 3", got, m.Len())
	}
	v := m.View()
	if !strings.Contains(v, "Could not read the rooms: connection refused") || !strings.Contains(v, "› c") {
		t.Errorf("the view does not show the error over the rooms:\n%s", v)
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter made no command")
	}
	if msg, ok := cmd().(common.JoinRoomMsg); !ok || msg.Name != "c" {
		t.Errorf("enter sent %#v; want JoinRoomMsg{c}", cmd())
	}
}
