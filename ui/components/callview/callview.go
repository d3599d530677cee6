// Package callview draws the current call: an outgoing call as it rings,
// then the call in progress with its timer, mute states, level meters and
// quality figures. It only draws; the root model owns the call and handles
// its keys.
package callview

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
)

// Model is the call view.
type Model struct {
	common common.Common
	call   common.Call
	grow   bool   // + adds someone to the answered call (the UI has rooms)
	held   string // who the call held beside this one is with (call waiting), or ""
}

// SetHeld sets who the call held beside this one is with ("" for none):
// it is shown, and x swaps to it.
func (m *Model) SetHeld(who string) { m.held = who }

// SetGrow says whether + adds someone to the answered call.
func (m *Model) SetGrow(on bool) { m.grow = on }

// New returns a call view with no call.
func New(c common.Common) *Model { return &Model{common: c} }

// SetCall sets the call to draw.
func (m *Model) SetCall(c common.Call) { m.call = c }

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model; the root model handles the call's keys.
func (m *Model) Update(tea.Msg) (tea.Model, tea.Cmd) { return m, nil }

// ShortHelp implements help.KeyMap: the keys that act on the call now.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	c := m.call
	switch {
	case c.Ending:
		return nil
	case c.Up():
		mute := km.Mute
		if c.Muted {
			mute.SetHelp(mute.Help().Key, "unmute")
		} else {
			mute.SetHelp(mute.Help().Key, "mute")
		}
		hold := km.Hold
		if c.Held {
			hold.SetHelp(hold.Help().Key, "resume")
		} else {
			hold.SetHelp(hold.Help().Key, "hold")
		}
		keys := []key.Binding{mute, hold, km.Hangup}
		if m.held != "" {
			keys = append(keys, km.Swap)
		}
		if m.grow && m.held == "" {
			keys = append(keys, km.AddToCall)
		}
		return keys
	}
	return []key.Binding{km.Cancel}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	if m.grow {
		return [][]key.Binding{{km.Mute, km.Hold, km.Hangup, km.AddToCall, km.Cancel}}
	}
	if m.held != "" {
		return [][]key.Binding{{km.Mute, km.Hold, km.Hangup, km.Swap, km.Cancel}}
	}
	return [][]key.Binding{{km.Mute, km.Hold, km.Hangup, km.Cancel}}
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.common.Width <= 0 || m.common.Height <= 0 {
		return ""
	}
	var lines []string
	if m.call.Up() {
		lines = m.inCall()
	} else {
		lines = m.ringing()
	}
	return fit(lines, m.common.Height)
}

// fit drops blank spacer lines ("") from the bottom up until lines fit in
// height, then cuts.
func fit(lines []string, height int) string {
	for i := len(lines) - 1; len(lines) > height && i >= 0; i-- {
		if lines[i] == "" {
			lines = append(lines[:i], lines[i+1:]...)
		}
	}
	return common.FitLines(strings.Join(lines, "\n"), height)
}

// statusText is the outgoing call's status in words.
func (m *Model) statusText() string {
	c := m.call
	switch {
	case c.Ending:
		return "cancelling…"
	case c.Status == "":
		return "dialing…"
	case c.Status == signaling.Started:
		return "started · waiting for " + c.Who() + "'s phone"
	case c.Status == signaling.Ringing:
		return "ringing · " + c.Who() + "'s phone is ringing"
	}
	return string(c.Status)
}

func (m *Model) ringing() []string {
	st := m.common.Styles
	w := m.common.Width
	c := m.call
	title := "Calling " + c.Label() + "…"
	if c.Direction == signaling.Inbound {
		title = "Connecting the call from " + c.Label() + "…"
	}
	return []string{
		st.Call.Peer.Render(common.Truncate(title, w)),
		"",
		st.Call.Status.Render(common.Truncate("Status: "+m.statusText(), w)),
	}
}

func (m *Model) inCall() []string {
	st := m.common.Styles
	w := m.common.Width
	c := m.call

	timer := history.Clock(m.common.Now().Sub(c.Answered))
	title := common.Truncate("In call with "+c.Label(), max(1, w-lipgloss.Width(timer)-1))
	titleLine := st.Call.Peer.Render(title) +
		strings.Repeat(" ", max(1, w-lipgloss.Width(title)-lipgloss.Width(timer))) +
		st.Call.Timer.Render(timer)

	dir := "↗ outgoing"
	if c.Direction == signaling.Inbound {
		dir = "↙ incoming"
	}
	status := dir + " · answered"
	switch {
	case c.Ending:
		status = dir + " · hanging up…"
	case c.Status == signaling.Reconnecting:
		status = dir + " · reconnecting… the audio stopped; trying to restore it"
	case c.Held || c.RemoteHeld:
		status = dir + " · answered · on hold"
	}

	// Meters: a label column as wide as the longer of "You" and the peer
	// (at most a third of the line), the bar, and a column for "muted" or
	// "speaking" (speaking.go).
	const mutedWord = "muted"
	label := min(max(len("You"), lipgloss.Width(c.Who())), max(3, w/3))
	bar := max(1, w-label-1-1-len(speakingWord))
	meter := func(name string, level float64, muted bool, speaking bool) string {
		s := st.Call.Label.Render(common.PadRight(name, label)) + " " + common.Meter(m.common.Styles, level, bar)
		if muted {
			s += " " + st.Call.Muted.Render(mutedWord)
		} else if speaking {
			s += " " + st.Call.Speaking.Render(speakingWord)
		}
		return s
	}

	quality := "Quality: measuring…"
	if c.Stats != nil {
		quality = "Quality: " + common.QualityText(*c.Stats)
	}
	lines := []string{
		titleLine,
		st.Call.Status.Render(common.Truncate(status, w)),
	}
	// The hold banner: who holds, and what is heard meanwhile.
	if c.RemoteHeld {
		banner := c.Who() + " put you on hold: you hear the hold tone"
		lines = append(lines, st.Call.Muted.Render(common.Truncate(banner, w)))
	}
	if c.Held {
		lines = append(lines, st.Call.Muted.Render(common.Truncate("On hold: neither of you hears the other · "+
			m.common.KeyMap.Hold.Help().Key+" resumes", w)))
	}
	if m.held != "" { // call waiting: the other call, held
		lines = append(lines, st.Call.Muted.Render(common.Truncate("Held: your call with "+m.held+" · "+
			m.common.KeyMap.Swap.Help().Key+" swaps to it", w)))
	}
	lines = append(lines,
		"",
		meter("You", c.Levels.Mic, c.Muted, c.Levels.MicSpeaking),
		meter(c.Who(), c.Levels.Speaker, c.RemoteMuted, c.Levels.RemoteSpeaking),
	)
	lines = append(lines, m.audioLines()...) // speaking.go
	lines = append(lines,
		"",
		st.Call.Quality.Width(w).Render(quality),
	)
	if c.Verification != "" {
		// Both sides see the same code unless someone sits in the middle.
		lines = append(lines, st.Call.Quality.Width(w).Render(
			"Verification code: "+c.Verification+" (compare it with "+c.Who()+")"))
	}
	if len(c.Warnings) > 0 {
		badges := make([]string, len(c.Warnings))
		for i, name := range c.Warnings {
			badges[i] = "⚠ " + common.ProblemText(name)
		}
		lines = append(lines, st.Call.Muted.Render(common.Truncate(strings.Join(badges, "  "), w)))
	}
	return lines
}
