package ui

import (
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// The lobby of the room you are in: a guest who knocks rings like a call,
// in the banner ("Guest Dana is waiting"), when no call rings; a lets them
// in, r turns them away. Guests wait in the order they knocked; the banner
// shows the first.

// knocking is the first guest waiting in the lobby of your room, as shown,
// and how many more wait; ok is false when nobody waits (or a call rings,
// which has the banner).
func (m *Model) knocking() (guest string, more int, ok bool) {
	r := m.room
	if m.incoming != nil || r == nil || r.Joining || len(r.Lobby) == 0 {
		return "", 0, false
	}
	return r.Lobby[0].Who(), len(r.Lobby) - 1, true
}

// bannerUp tells whether the banner shows: a call rings, a guest waits, or
// an invitation to a room rings (invite.go).
func (m *Model) bannerUp() bool {
	_, _, ok := m.knocking()
	_, inv := m.inviting()
	return m.incoming != nil || ok || inv
}

// lobbyKey lets the first guest waiting in, or turns them away; ok is
// false for another key, or when nobody waits.
func (m *Model) lobbyKey(k tea.KeyMsg) (tea.Cmd, bool) {
	km := m.common.KeyMap
	if _, _, up := m.knocking(); !up || m.typing() {
		return nil, false
	}
	admit := key.Matches(k, km.Answer)
	if !admit && !key.Matches(k, km.Reject) {
		return nil, false
	}
	r := m.room
	g := r.Lobby[0]
	r.Lobby = r.Lobby[1:] // the server's admitted or turned_away follows; a refusal is a notice
	p, user := m.phone, g.User
	if admit {
		return m.phoneDo("Admit", func() { p.Admit(user) }), true
	}
	return m.phoneDo("TurnAway", func() { p.TurnAway(user) }), true
}

// lobbyEvent applies a room event about the lobby; ok is false for the
// others.
func (m *Model) lobbyEvent(ev signaling.RoomEvent) (tea.Cmd, bool) {
	r := m.room
	out := func(user string) bool {
		n := len(r.Lobby)
		r.Lobby = slices.DeleteFunc(r.Lobby, func(p common.RoomPerson) bool { return p.User == user })
		return len(r.Lobby) < n
	}
	switch ev.Kind {
	case signaling.RoomKnock:
		if slices.ContainsFunc(r.Lobby, func(p common.RoomPerson) bool { return p.User == ev.User }) {
			return nil, true
		}
		r.Lobby = append(r.Lobby, common.RoomPerson{User: ev.User, Name: ev.Name, Role: signaling.RoleGuest})
		m.roomLog("Guest " + m.label(ev.User) + " knocked")
		return ringBell(m.bell, m.common.Logger), true
	case signaling.RoomAdmitted:
		out(ev.User)
		m.roomLog(capital(m.label(ev.By)) + " let " + m.label(ev.User) + " in")
		return nil, true
	case signaling.RoomTurnedAway:
		out(ev.User)
		m.roomLog(capital(m.label(ev.By)) + " turned " + m.label(ev.User) + " away")
		return nil, true
	case signaling.ParticipantLeft:
		if out(ev.User) {
			m.roomLog("Guest " + m.label(ev.User) + " left the lobby")
			return nil, true
		}
	}
	return nil, false
}
