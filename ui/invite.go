package ui

import (
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
)

// Invitations to rooms: a room's host invites you, and the server rings
// every device you are signed in on (a room event of kind invited, status
// ringing). It rings like a call, in the banner ("Bob invites you to room
// standup"), when no call rings and no guest knocks; a joins the room, r
// declines. The banner goes when the invitation is answered (here or on
// another device), rejected or unanswered. The host sees in the room's log
// how the others' invitations went.

// roomInvite is an invitation ringing here.
type roomInvite struct {
	room string
	by   string // the host who invites (a user id)
}

// inviting is the first invitation ringing, when it has the banner (no call
// rings, and no guest waits in the lobby of your room).
func (m *Model) inviting() (roomInvite, bool) {
	if m.incoming != nil || len(m.invites) == 0 {
		return roomInvite{}, false
	}
	if _, _, knock := m.knocking(); knock {
		return roomInvite{}, false
	}
	return m.invites[0], true
}

// inviteBusy is what to end before joining the invitation's room, or "".
func (m *Model) inviteBusy() string {
	switch {
	case m.active != nil:
		return "hang up to join"
	case m.room != nil:
		return "leave the room to join"
	}
	return ""
}

// dropInvite takes the invitation to room off; false when none rang.
func (m *Model) dropInvite(room string) bool {
	n := len(m.invites)
	m.invites = slices.DeleteFunc(m.invites, func(i roomInvite) bool { return i.room == room })
	return len(m.invites) < n
}

// inviteKey joins the room of the invitation that rings, or declines it;
// ok is false for another key, or when no invitation has the banner.
func (m *Model) inviteKey(k tea.KeyMsg) (tea.Cmd, bool) {
	km := m.common.KeyMap
	inv, up := m.inviting()
	if !up || m.typing() {
		return nil, false
	}
	p, room := m.phone, inv.room
	switch {
	case key.Matches(k, km.Answer):
		switch {
		case m.active != nil:
			m.setNotice(noticeError, "Hang up the current call first, then join the room "+room+".")
			return nil, true
		case m.room != nil:
			m.setNotice(noticeError, "Leave the room "+m.room.Name+" first (l), then join the room "+room+".")
			return nil, true
		}
		return m.joinRoom(room), true // it takes the invitation off: the server's answered follows
	case key.Matches(k, km.Reject):
		m.dropInvite(room) // the server's rejected follows
		m.setNotice(noticeInfo, "You declined the invitation to the room "+room+".")
		return m.phoneDo("DeclineRoom", func() { p.DeclineRoom(room) }), true
	}
	return nil, false
}

// inviteEvent applies an invited event: yours rings or stops ringing; the
// others' are logged in your room when you are its host. ok is false for
// other events.
func (m *Model) inviteEvent(ev signaling.RoomEvent) (tea.Cmd, bool) {
	if ev.Kind != signaling.RoomInvited {
		return nil, false
	}
	r := m.room
	if ev.User == m.self {
		if ev.Status != signaling.Ringing {
			m.dropInvite(ev.Room)
			return nil, true
		}
		in := r != nil && r.Name == ev.Room
		if in || slices.ContainsFunc(m.invites, func(i roomInvite) bool { return i.room == ev.Room }) {
			return nil, true
		}
		m.invites = append(m.invites, roomInvite{room: ev.Room, by: ev.By})
		m.common.Logger.Info("ui: invited to a room", "room", ev.Room, "by", ev.By)
		return ringBell(m.bell, m.common.Logger), true
	}
	if r == nil || r.Joining || r.Name != ev.Room || r.Role != signaling.RoleHost {
		return nil, true
	}
	who := m.label(ev.User)
	switch ev.Status {
	case signaling.Ringing:
		m.roomLog("Ringing " + who + "…")
	case signaling.Rejected:
		m.roomLog(capital(who) + " declined the invitation")
	case signaling.Unanswered:
		text := capital(who) + " did not answer the invitation"
		if ev.Reason != "" && ev.Reason != "no answer" {
			text = capital(who) + "'s invitation ended (" + ev.Reason + ")"
		}
		m.roomLog(text)
	}
	// answered: their participant_joined says so.
	return nil, true
}

// inviteText is the banner's text for inv.
func (m *Model) inviteText(inv roomInvite) string {
	if inv.by == "" {
		return "You are invited to room " + inv.room
	}
	return capital(m.label(inv.by)) + " invites you to room " + inv.room
}
