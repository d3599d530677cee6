package devices

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
		Now:    time.Now,
	}
}

func press(m *Model, ks ...tea.KeyType) tea.Msg {
	var last tea.Cmd
	for _, k := range ks {
		_, last = m.Update(tea.KeyMsg{Type: k})
	}
	if last == nil {
		return nil
	}
	return last()
}

func TestPicker(t *testing.T) {
	m := New(testCommon())
	m.SetSize(60, 12)
	if got := press(m, tea.KeyDown, tea.KeyEnter); got != nil {
		t.Errorf("keys while loading sent %#v", got)
	}
	m.SetDevices([]string{"default", "Mic A", "Mic B"}, []string{"Out A"}, "Mic B", "default", nil)
	if got := m.lists[Inputs].names; strings.Join(got, ",") != "default,Mic A,Mic B" {
		t.Errorf("inputs = %v; want default listed once, first", got)
	}
	// The selection starts on the current device.
	if got := press(m, tea.KeyEnter); got != (common.ChooseDevicesMsg{Input: "Mic B", Output: "default"}) {
		t.Errorf("enter sent %#v", got)
	}
	if got := press(m, tea.KeyUp, tea.KeyUp, tea.KeyUp, tea.KeyEnter); got !=
		(common.ChooseDevicesMsg{Input: "default", Output: "default"}) {
		t.Errorf("up×3 enter sent %#v", got)
	}
	got := press(m, tea.KeyRight, tea.KeyDown, tea.KeyDown, tea.KeyEnter)
	if got != (common.ChooseDevicesMsg{Input: "Mic B", Output: "Out A"}) {
		t.Errorf("right down×2 enter sent %#v; want Out A with the current input", got)
	}
	m.Saving()
	if got := press(m, tea.KeyEnter); got != nil {
		t.Errorf("enter while saving sent %#v", got)
	}
	m.Saved("Mic B", "Out A", nil)
	if !strings.Contains(m.View(), "● Out A (current)") {
		t.Errorf("saved output not marked current:\n%s", m.View())
	}
	m.Saved("Mic A", "Out A", errors.New("config: read-only file system"))
	if v := m.View(); !strings.Contains(v, "Error: config: read-only file system") ||
		!strings.Contains(v, "● Mic B (current)") {
		t.Errorf("failed save:\n%s", v)
	}
	if got := press(m, tea.KeyEsc); got != (common.CloseMsg{}) {
		t.Errorf("esc sent %#v; want CloseMsg", got)
	}
}
