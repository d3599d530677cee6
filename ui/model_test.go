package ui

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/keymap"
)

func TestQueueRunsInOrder(t *testing.T) {
	var ran []string
	q := queue{id: phoneQueue}
	cmd := func(s string) tea.Cmd { return func() tea.Msg { ran = append(ran, s); return nil } }
	first := q.push(cmd("a"))
	if first == nil || q.push(cmd("b")) != nil || q.push(cmd("c")) != nil {
		t.Fatal("push returned a command while one was running")
	}
	if q.idle() {
		t.Fatal("idle with commands waiting")
	}
	for c := first; c != nil; {
		msg := c().(queueDoneMsg)
		if msg.queue != phoneQueue {
			t.Fatalf("done message of queue %d", msg.queue)
		}
		c = q.next()
	}
	if strings.Join(ran, "") != "abc" || !q.idle() {
		t.Errorf("ran %v, idle %v; want a b c, idle", ran, q.idle())
	}
}

// TestHelpListsEveryBinding checks that the help screen is generated from
// the KeyMap: every binding's key and description is on it.
func TestHelpListsEveryBinding(t *testing.T) {
	m := newGoldenModel(scenario{}, 120, 40)
	drive(m, msgs(press("?")))
	view := m.View()
	for _, g := range keymap.DefaultKeyMap().Groups() {
		if !strings.Contains(view, g.Title) {
			t.Errorf("help has no group %q", g.Title)
		}
		for _, b := range g.Bindings {
			line := regexp.MustCompile(regexp.QuoteMeta(b.Help().Key) + ` +` + regexp.QuoteMeta(b.Help().Desc))
			if !line.MatchString(view) {
				t.Errorf("help has no %q %q", b.Help().Key, b.Help().Desc)
			}
		}
	}
}

// TestColourBanner draws the incoming call with colours: the banner is on
// a bright background and bold.
func TestColourBanner(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	r.SetHasDarkBackground(true)
	opts := testOptions(newFakePhone(), newFakeDevices(), &clock{t: t0})
	opts.Renderer = r
	m := New(opts)
	drive(m, concat(msgs(tea.WindowSizeMsg{Width: 80, Height: 24}), startMsgs(), msgs(inbound(signaling.Ringing, t0))))
	view := m.View()
	if !strings.Contains(view, "\x1b[1;38;5;16;48;5;221mINCOMING CALL from carol") {
		t.Errorf("banner text is not bold black on bright yellow:\n%q", view)
	}
	golden.RequireEqual(t, []byte(view))
}

// TestNoColor checks that the default renderer honours NO_COLOR.
func TestNoColor(t *testing.T) {
	esc := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, tt := range []struct {
		noColor    string
		wantColour bool
	}{{"", true}, {"1", false}} {
		t.Run(fmt.Sprintf("NO_COLOR=%q", tt.noColor), func(t *testing.T) {
			t.Setenv("CLICOLOR_FORCE", "1") // colours although the output is no terminal
			t.Setenv("NO_COLOR", tt.noColor)
			opts := testOptions(newFakePhone(), nil, &clock{t: t0})
			opts.Renderer, opts.Output = nil, io.Discard
			m := New(opts)
			drive(m, concat(msgs(tea.WindowSizeMsg{Width: 80, Height: 24}), startMsgs()))
			if got := esc.MatchString(m.View()); got != tt.wantColour {
				t.Errorf("colour codes in the view: %v; want %v", got, tt.wantColour)
			}
		})
	}
}

func TestDialIsRefusedWhileBusy(t *testing.T) {
	m := newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), inCall()))
	drive(m, msgs(common.DialMsg{User: "carol"}))
	if m.active.Peer != "bob" || m.notice == nil || m.notice.text != "Hang up the current call first." {
		t.Errorf("dial during a call: active %s, notice %+v", m.active.Peer, m.notice)
	}

	m = newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), msgs(inbound(signaling.Ringing, t0), common.DialMsg{User: "bob"})))
	if m.active != nil || m.notice == nil || m.notice.text != "Answer or reject the incoming call first." {
		t.Errorf("dial while a call rings: active %+v, notice %+v", m.active, m.notice)
	}

	m = newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), msgs(common.DialMsg{User: "alice"})))
	if m.active != nil || m.notice == nil || m.notice.text != "You cannot call yourself." {
		t.Errorf("dial yourself: active %+v, notice %+v", m.active, m.notice)
	}
}

func TestEventsOfOtherCallsAreIgnored(t *testing.T) {
	m := newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), inCall()))
	drive(m, msgs(
		ev(call.Stats{CallID: "other", RTT: time.Second}),
		ev(call.Muted{CallID: "other", Muted: true}),
		ev(call.StatusChanged{CallEvent: signaling.CallEvent{ID: "other", Status: signaling.Completed,
			Direction: signaling.Outbound, From: "alice", To: "erin"}}),
	))
	if m.active == nil || m.active.Stats != nil || m.active.RemoteMuted {
		t.Errorf("events of another call changed this one: %+v", m.active)
	}
	if len(m.records) != len(sampleHistory()) {
		t.Errorf("another call's end was recorded")
	}
}

// TestHangupWhileServerDown: a call hung up while the server is
// unreachable ends here at once, and says that the server is told later.
func TestHangupWhileServerDown(t *testing.T) {
	m := newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), inCall(), msgs(
		press("h"),
		ev(call.StatusChanged{
			CallEvent: signaling.CallEvent{ID: "c1", Status: signaling.Completed, Direction: signaling.Outbound,
				From: "alice", To: "bob"},
			At: t0, Untold: true,
		}),
	)))
	want := "Call with bob completed · 02:13 · the server is told when it is back"
	if m.active != nil || m.notice == nil || m.notice.text != want {
		t.Errorf("active %+v, notice %+v; want %q", m.active, m.notice, want)
	}
}

// TestHangupTwiceEndsWithoutThePhone checks the way out when the Phone
// never reports the end of a call.
func TestHangupTwiceEndsWithoutThePhone(t *testing.T) {
	m := newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), inCall(), msgs(press("h"))))
	if m.active == nil || !m.active.Ending {
		t.Fatalf("after h: %+v; want the call ending", m.active)
	}
	drive(m, msgs(press("h")))
	if m.active != nil || m.screen != screenHome || m.notice.text != "Call with bob completed · 02:13" {
		t.Errorf("after h h: active %+v, screen %d, notice %+v", m.active, m.screen, m.notice)
	}
	// The Phone's late report changes nothing.
	drive(m, msgs(ended(signaling.Completed, 0, "", t0.Add(time.Second))))
	if len(m.records) != len(sampleHistory())+1 {
		t.Errorf("%d records; want the call recorded once", len(m.records))
	}
}

func TestTickStopsWithTheCall(t *testing.T) {
	m := newGoldenModel(scenario{}, 80, 24)
	drive(m, concat(startMsgs(), inCall()))
	gen := m.tickGen
	if _, cmd := m.Update(tickMsg{gen: gen}); cmd == nil {
		t.Error("a tick of the call in progress was not re-armed")
	}
	drive(m, msgs(ended(signaling.Completed, 0, "", t0)))
	if _, cmd := m.Update(tickMsg{gen: gen}); cmd != nil {
		t.Error("a tick of an ended call was re-armed")
	}
}

func TestUntilNextSecond(t *testing.T) {
	a := t0
	for _, tt := range []struct {
		now  time.Time
		want time.Duration
	}{
		{a, time.Second},
		{a.Add(300 * time.Millisecond), 700 * time.Millisecond},
		{a.Add(5*time.Second + 999*time.Millisecond), time.Millisecond},
	} {
		if got := untilNextSecond(a, tt.now); got != tt.want {
			t.Errorf("untilNextSecond(+%v) = %v; want %v", tt.now.Sub(a), got, tt.want)
		}
	}
}
