package ui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/prompt"
)

// Growing a call into a room: + in the answered call asks whom to add; the
// Phone makes a room of the call (call.Grew, here or from the other side),
// the room view replaces the call view, saying what it grew from, and the
// call ends quietly as both move into the room.

// openAddToCall opens the prompt for whom to add to the answered call.
func (m *Model) openAddToCall() tea.Cmd {
	m.screen = screenPrompt
	return m.prompt.Open(prompt.AddToCall())
}

// addToCall adds user to the answered call (common.AddToCallMsg).
func (m *Model) addToCall(user string) tea.Cmd {
	c := m.active
	switch {
	case prompt.Validate(user) != "":
		return nil
	case !c.Up() || c.Ending:
		m.setNotice(noticeError, "There is no call to add someone to: call them.")
		return nil
	case m.room != nil || c.Moving:
		m.setNotice(noticeError, "The call is moving into a room already.")
		return nil
	case user == m.self || user == c.Peer:
		m.setNotice(noticeError, capital(m.label(user))+" "+map[bool]string{true: "are", false: "is"}[user == m.self]+
			" in the call already.")
		return nil
	}
	m.setNotice(noticeInfo, "Adding "+m.label(user)+": the call becomes a room…")
	p := m.phone
	return m.phoneDo("Grow", func() { p.Grow(user) })
}

// grew shows the room the active call moves into.
func (m *Model) grew(ev call.Grew) tea.Cmd {
	c := m.active
	if c == nil || c.ID != ev.CallID || m.room != nil {
		m.common.Logger.Warn("ui: a call grew into a room, but not the call shown", "call", ev.CallID, "room", ev.Room)
		return nil
	}
	c.Moving = true
	m.notice = nil
	m.dropInvite(ev.Room)
	m.room = &common.Room{Name: ev.Room, Self: m.self, Joining: true, GrownFrom: m.label(c.Peer)}
	return nil
}

// moved ends the call that moved into the room: into the recent calls,
// without the notice of its end; the room says so.
func (m *Model) moved(c *common.Call, ev call.StatusChanged, at time.Time) tea.Cmd {
	cmd := m.finish(c, ev.Status, ev.Code, ev.Reason, at)
	m.notice = nil
	if r := m.room; r != nil && !r.Joining {
		m.roomLog("Your call with " + m.label(c.Peer) + " moved into the room")
	}
	return cmd
}

// movedAway tells whether ev ends a call that moved into the room shown.
func (m *Model) movedAway(c *common.Call, ev call.StatusChanged) bool {
	return c.Moving && m.room != nil && ev.Status == signaling.Completed && ev.Reason == signaling.ReasonMovedToRoom
}
