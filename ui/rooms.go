package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/keymap"
)

// Rooms: the rooms pane (the team's rooms, enter joins one) and the room
// view while in a room, fed by the Phone's room events. The model owns the
// room (m.room); the host's keys act on the room view's selected
// participant.

// roomLogLines is how many of the room's latest happenings are kept.
const roomLogLines = 3

// roomsLoadedMsg carries the team's rooms.
type roomsLoadedMsg struct {
	rooms []signaling.Room
	err   error
}

// loadRooms returns a command that reads the team's rooms.
func loadRooms(r Rooms) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		rooms, err := r.Rooms(ctx)
		return roomsLoadedMsg{rooms: rooms, err: err}
	}
}

// DefaultRoomsEvery is how often the rooms pane is read again while open.
const DefaultRoomsEvery = 15 * time.Second

// roomsTickMsg reads the rooms again while the pane is open. gen tells the
// ticks of an earlier run, which are dropped, from the current run's.
type roomsTickMsg struct{ gen int }

// refreshRooms reads the rooms now, when there is a pane, and again every
// roomsEvery while the pane is open (on the home screen, under any
// overlay); a run of reads started earlier ends.
func (m *Model) refreshRooms() tea.Cmd {
	if m.roomsAPI == nil {
		return nil
	}
	m.roomsGen++
	m.roomsPane.Loading()
	return tea.Batch(loadRooms(m.roomsAPI), after(m.roomsEvery, m.done, roomsTickMsg{gen: m.roomsGen}))
}

// roomsTick reads the rooms again if the pane is still open.
func (m *Model) roomsTick(msg roomsTickMsg) tea.Cmd {
	if msg.gen != m.roomsGen || m.pane != paneRooms || m.base() != screenHome || m.phoneClosed {
		return nil
	}
	return m.refreshRooms()
}

// roomsLoaded shows the team's rooms.
func (m *Model) roomsLoaded(msg roomsLoadedMsg) {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the rooms", "err", msg.err)
	}
	for _, r := range msg.rooms {
		for _, p := range r.Participants {
			if p.Name != "" {
				m.names[p.User] = p.Name
			}
		}
	}
	m.roomsPane.SetRooms(msg.rooms, msg.err)
}

// joinRoom joins room name, unless a call or a room is up or ringing.
func (m *Model) joinRoom(name string) tea.Cmd {
	switch {
	case m.phoneClosed:
		m.setNotice(noticeError, "The phone has stopped; restart parley to join a room.")
		return nil
	case m.room != nil:
		m.setNotice(noticeError, "Leave the room "+m.room.Name+" first (l).")
		return nil
	case m.active != nil:
		m.setNotice(noticeError, "Hang up the current call first, then join the room.")
		return nil
	case m.incoming != nil:
		m.setNotice(noticeError, "Answer or reject the incoming call first.")
		return nil
	}
	m.notice = nil
	m.dropInvite(name) // joining answers it
	m.room = &common.Room{Name: name, Self: m.self, Joining: true}
	m.screen = screenRoom
	p := m.phone
	return m.phoneDo("JoinRoom", func() { p.JoinRoom(name, false, false) })
}

// leaveRoom leaves the room at once: the Phone is told, and later events
// about the room are ignored.
func (m *Model) leaveRoom() tea.Cmd {
	r := m.room
	text := "You left the room " + r.Name + "."
	if r.Joining {
		text = "You did not join the room " + r.Name + "."
	}
	m.room = nil
	m.setNotice(noticeInfo, text)
	p := m.phone
	var hangup tea.Cmd
	switch c := m.active; {
	case c == nil || !c.Moving:
	case r.Joining:
		c.Moving = false // the call stays as it was
	case !c.Ending:
		hangup = m.hangup() // leaving the room grown from the call leaves the call too
	}
	return tea.Batch(m.phoneDo("LeaveRoom", p.LeaveRoom), hangup, m.refreshRooms())
}

// roomGone ends the room view because the room ended or you were removed.
func (m *Model) roomGone(kind noticeKind, text string) tea.Cmd {
	m.room = nil
	m.setNotice(kind, text)
	if m.screen == screenRoomConfirm {
		m.screen = m.base()
	}
	return m.refreshRooms()
}

// label is user as shown in running text: their display name, or the id;
// "you" for yourself.
func (m *Model) label(user string) string {
	switch {
	case user == m.self:
		return "you"
	case m.names[user] != "":
		return m.names[user]
	}
	return user
}

// roomLog adds a line to what happened in the room.
func (m *Model) roomLog(text string) {
	r := m.room
	r.Log = append(r.Log, common.RoomLogLine{At: m.common.Now(), Text: text})
	if len(r.Log) > roomLogLines {
		r.Log = r.Log[len(r.Log)-roomLogLines:]
	}
}

// roomChanged applies a room event.
func (m *Model) roomChanged(ev signaling.RoomEvent) tea.Cmd {
	if cmd, ok := m.inviteEvent(ev); ok { // invite.go
		return cmd
	}
	r := m.room
	if ev.Kind == signaling.RoomJoined && (r == nil || r.Name == ev.Room) {
		return m.roomJoined(ev)
	}
	if r == nil || r.Joining || ev.Room != r.Name {
		m.common.Logger.Debug("ui: event of a room not shown", "room", ev.Room, "kind", ev.Kind)
		return nil
	}
	if ev.User != "" && ev.Name != "" {
		m.names[ev.User] = ev.Name
	}
	if cmd, ok := m.lobbyEvent(ev); ok { // lobby.go
		return cmd
	}
	switch ev.Kind {
	case signaling.ParticipantJoined:
		if ev.User == r.Self {
			return nil // you are in it already
		}
		if _, ok := r.Person(ev.User); !ok {
			r.People = append(r.People, common.RoomPerson{User: ev.User, Name: ev.Name, Role: ev.Role,
				Muted: ev.Muted != nil && *ev.Muted})
		}
		m.roomLog(m.label(ev.User) + " joined" + asRole(ev.Role))
	case signaling.ParticipantLeft:
		if ev.User == r.Self {
			return m.roomGone(noticeError, "You are no longer in the room "+r.Name+": you "+
				leftText(ev.Reason, ev.By, m.label)+".")
		}
		r.People = slices.DeleteFunc(r.People, func(p common.RoomPerson) bool { return p.User == ev.User })
		m.roomLog(m.label(ev.User) + " " + leftText(ev.Reason, ev.By, m.label))
	case signaling.RoomSpeaking:
		// Who is heard is in the levels; a participant no longer on a slot
		// is silent.
		for i := range r.People {
			if !slices.Contains(ev.Slots, r.People[i].User) {
				r.People[i].Level = 0
			}
		}
	case signaling.RoomQuality:
		for _, q := range ev.Quality {
			if p, ok := r.Person(q.User); ok {
				p.Quality = &q
			}
		}
	case signaling.RoomMuted:
		return m.roomMuted(ev)
	case signaling.RoomLocked:
		if ev.Locked != nil {
			r.Locked = *ev.Locked
			word := "unlocked"
			if r.Locked {
				word = "locked"
			}
			m.roomLog(capital(m.label(ev.By)) + " " + word + " the room")
		}
	case signaling.RoomRemoved:
		by := ""
		if ev.By != "" {
			by = " by " + m.label(ev.By)
		}
		return m.roomGone(noticeError, "You were removed from the room "+r.Name+by+".")
	case signaling.RoomEnded:
		why := ""
		switch ev.Reason {
		case signaling.EndedByHost:
			why = ": its host ended it"
		case signaling.EndedTimeOver:
			why = ": its time is over"
		case "":
		default:
			why = " (" + ev.Reason + ")"
		}
		return m.roomGone(noticeInfo, "The room "+r.Name+" ended"+why+".")
	}
	return nil
}

// roomJoined shows the room you are in now.
func (m *Model) roomJoined(ev signaling.RoomEvent) tea.Cmd {
	r := m.room
	if r == nil {
		// Joined by other means (the Phone rejoining): show it.
		r = &common.Room{Name: ev.Room}
		m.room = r
	}
	if ev.User != "" {
		r.Self = ev.User
	} else {
		r.Self = m.self
	}
	m.dropInvite(ev.Room)
	if r.Rejoining != "" {
		// Back in: the server tells the guests waiting in the lobby again.
		r.Rejoining, r.Lobby = "", nil
	}
	r.Joining, r.Role = false, ev.Role
	if r.Joined.IsZero() {
		r.Joined = ev.Time
		if r.Joined.IsZero() {
			r.Joined = m.common.Now()
		}
	}
	if ev.Locked != nil {
		r.Locked = *ev.Locked
	}
	r.People = r.People[:0]
	for _, p := range ev.Participants {
		if p.Name != "" {
			m.names[p.User] = p.Name
		}
		r.People = append(r.People, common.RoomPerson{User: p.User, Name: p.Name, Role: p.Role, Muted: p.Muted,
			MicLocked: p.MicLocked})
		if p.User == r.Self && r.Role == "" {
			r.Role = p.Role
		}
	}
	if _, ok := r.Me(); !ok {
		r.People = slices.Insert(r.People, 0, common.RoomPerson{User: r.Self, Role: r.Role})
	}
	if m.screen == screenHome {
		m.screen = screenRoom
	}
	return nil
}

// roomMuted applies a change of someone's muted state; you are told who
// muted you.
func (m *Model) roomMuted(ev signaling.RoomEvent) tea.Cmd {
	r := m.room
	p, ok := r.Person(ev.User)
	if !ok || ev.Muted == nil {
		return nil
	}
	p.Muted = *ev.Muted
	p.MicLocked = p.Muted && ev.Locked != nil && *ev.Locked
	byOther := ev.By != "" && ev.By != ev.User
	if ev.User != r.Self {
		if byOther {
			word := "unmuted"
			if p.Muted {
				word = "muted"
			}
			text := capital(m.label(ev.By)) + " " + word + " " + p.Who()
			if p.MicLocked {
				text += " and locked their microphone"
			}
			m.roomLog(text)
		}
		return nil
	}
	switch {
	case !p.Muted:
		r.MutedBy = ""
		if byOther {
			m.setNotice(noticeInfo, capital(m.label(ev.By))+" unmuted you: you are heard again.")
		}
	case byOther:
		r.MutedBy = m.label(ev.By)
		text := r.MutedBy + ", the host, muted you"
		if p.MicLocked {
			text += " and locked your microphone: only the host can unmute you."
		} else {
			text += ": press m to unmute."
		}
		m.setNotice(noticeError, capital(text))
	default:
		r.MutedBy = ""
	}
	return nil
}

// roomLevels applies the room's levels.
func (m *Model) roomLevels(ev call.RoomLevels) {
	r := m.room
	if r == nil || r.Joining || (ev.Room != "" && ev.Room != r.Name) {
		return
	}
	r.Mic, r.MicSpeaking = ev.Mic, ev.MicSpeaking
	for i := range r.People {
		r.People[i].Level = ev.Heard[r.People[i].User]
	}
}

// roomStats shows the figures of what the room sends you.
func (m *Model) roomStats(ev call.RoomStats) {
	r := m.room
	if r == nil || r.Joining || ev.Room != r.Name {
		return
	}
	s := ev.Stats
	r.Stats = &s
}

// roomRejoining shows that the Phone lost the room and joins it again by
// itself: the room view stays, with who was in it, until joined again.
func (m *Model) roomRejoining(ev call.RoomRejoining) {
	r := m.room
	if r == nil || r.Joining || ev.Room != r.Name {
		return
	}
	r.Rejoining = ev.Reason
	if r.Rejoining == "" {
		r.Rejoining = "the room was lost"
	}
	for i := range r.People {
		r.People[i].Level = 0 // nobody is heard meanwhile
	}
	m.common.Logger.Info("ui: rejoining the room", "room", r.Name, "reason", ev.Reason)
}

// roomLeft ends the room view when the Phone gave the room up after a
// failure (such as a rejoin that did not get back in time); the other ways
// out of a room are shown when they happen.
func (m *Model) roomLeft(ev call.RoomLeft) tea.Cmd {
	r := m.room
	if r == nil || r.Joining || ev.Room != r.Name || ev.Reason != call.RoomLeftFailed {
		return nil
	}
	why := "its connection failed"
	if ev.Err != nil && ev.Err.Message != "" {
		why = ev.Err.Message
	}
	return m.roomGone(noticeError, "You are no longer in the room "+r.Name+": "+why+".")
}

// roomFailure shows a refused room action; a refused join leaves the room
// view.
func (m *Model) roomFailure(ev call.RoomFailure) tea.Cmd {
	e := ev.Err
	if e == nil {
		e = signaling.Errorf(signaling.UnknownError, "the room action failed; try again")
	}
	m.common.Logger.Info("ui: room failure", "room", ev.Room, "code", e.Code, "message", e.Message)
	if r := m.room; r != nil && r.Joining && (ev.Room == "" || ev.Room == r.Name) {
		m.room = nil
		m.setNotice(noticeError, "Could not join the room "+r.Name+": "+roomFailureText("", e))
		return m.refreshRooms()
	}
	m.setNotice(noticeError, roomFailureText(ev.Room, e))
	return nil
}

// roomFailureText is a room refusal in words: the server's message, which
// says what to do, and its code.
func roomFailureText(room string, e *signaling.Error) string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Name()
	}
	if room != "" {
		msg = "Room " + room + ": " + msg
	}
	return fmt.Sprintf("%s (%d)", msg, e.Code)
}

// roomKey handles a key on the room screen.
func (m *Model) roomKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	if cmd, ok := m.globalKey(k); ok {
		return cmd
	}
	r := m.room
	if r.Joining {
		if key.Matches(k, km.LeaveRoom) || key.Matches(k, km.Cancel) {
			return m.leaveRoom()
		}
		return nil
	}
	switch {
	case key.Matches(k, km.Mute):
		return m.roomToggleMute()
	case key.Matches(k, km.LeaveRoom):
		return m.leaveRoom()
	case key.Matches(k, km.MuteOther), key.Matches(k, km.LockMic), key.Matches(k, km.Remove),
		key.Matches(k, km.LockRoom), key.Matches(k, km.EndRoom):
		return m.hostKey(k)
	case key.Matches(k, km.Dismiss) && m.notice != nil:
		m.notice = nil
		return nil
	}
	_, cmd := m.roomView.Update(k)
	return cmd
}

// roomToggleMute mutes or unmutes you in the room, unless you may not.
func (m *Model) roomToggleMute() tea.Cmd {
	r := m.room
	me, ok := r.Me()
	switch {
	case !ok:
		return nil
	case me.Role == signaling.RoleListener:
		m.setNotice(noticeError, "You joined as a listener: you are never heard, so there is nothing to mute.")
		return nil
	case me.Muted && me.MicLocked:
		by := r.MutedBy
		if by == "" {
			by = "the host"
		}
		m.setNotice(noticeError, capital(by)+" locked your microphone: only the host can unmute you.")
		return nil
	}
	me.Muted = !me.Muted
	if !me.Muted {
		r.MutedBy = ""
	}
	muted := me.Muted
	p := m.phone
	return m.phoneDo("SetMuted", func() { p.SetMuted(muted) })
}

// hostKey handles a host's key: on the selected participant (M, K, x) or
// the room (L, E). A member is told at once that only the host may.
func (m *Model) hostKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	r := m.room
	if r.Role != signaling.RoleHost {
		host := "the host"
		if h, ok := r.Host(); ok {
			host = "the host, " + h.Label() + ","
		}
		role := string(r.Role)
		if role == "" {
			role = string(signaling.RoleMember)
		}
		m.setNotice(noticeError, "Only "+host+" can "+hostAction(km, k)+"; you are a "+role+" here.")
		return nil
	}
	p := m.phone
	switch {
	case key.Matches(k, km.LockRoom):
		locked := !r.Locked
		return m.phoneDo("LockRoom", func() { p.LockRoom(locked) })
	case key.Matches(k, km.EndRoom):
		return m.askRoom(roomQuestion{end: true}, "End the room "+r.Name+" for everyone? y/n")
	}
	sel, ok := m.roomView.Selected()
	if !ok {
		m.setNotice(noticeInfo, "Nobody else is in the room.")
		return nil
	}
	target := sel.User
	switch {
	case key.Matches(k, km.MuteOther):
		if sel.Role == signaling.RoleListener {
			m.setNotice(noticeInfo, sel.Label()+" listens only: they are never heard.")
			return nil
		}
		muted := !sel.Muted
		return m.phoneDo("MuteParticipant", func() { p.MuteParticipant(target, muted, false) })
	case key.Matches(k, km.LockMic):
		if sel.Role == signaling.RoleListener {
			m.setNotice(noticeInfo, sel.Label()+" listens only: they are never heard.")
			return nil
		}
		lock := !sel.MicLocked
		return m.phoneDo("MuteParticipant", func() { p.MuteParticipant(target, true, lock) })
	case key.Matches(k, km.Remove):
		return m.askRoom(roomQuestion{remove: target}, "Remove "+sel.Label()+" from the room? y/n")
	}
	return nil
}

// hostAction is what a host key does, in words.
func hostAction(km *keymap.KeyMap, k tea.KeyMsg) string {
	switch {
	case key.Matches(k, km.MuteOther):
		return "mute others"
	case key.Matches(k, km.LockMic):
		return "lock a microphone"
	case key.Matches(k, km.Remove):
		return "remove people"
	case key.Matches(k, km.LockRoom):
		return "lock the room"
	case key.Matches(k, km.EndRoom):
		return "end the room for all"
	}
	return "do that"
}

// roomQuestion is a host action waiting for its confirmation.
type roomQuestion struct {
	remove string // the participant to remove
	end    bool   // end the room for all
}

// askRoom asks to confirm a host action.
func (m *Model) askRoom(q roomQuestion, text string) tea.Cmd {
	m.roomAsk = q
	m.roomConfirm.SetQuestion(text)
	m.screen = screenRoomConfirm
	return nil
}

// roomConfirmed carries out the host action confirmed, or drops it.
func (m *Model) roomConfirmed(yes bool) tea.Cmd {
	q := m.roomAsk
	m.roomAsk = roomQuestion{}
	m.screen = m.base()
	if !yes || m.room == nil {
		return nil
	}
	p := m.phone
	switch {
	case q.end:
		return m.phoneDo("EndRoom", p.EndRoom)
	case q.remove != "":
		target := q.remove
		return m.phoneDo("RemoveParticipant", func() { p.RemoveParticipant(target) })
	}
	return nil
}

// asRole is " as a listener" for the roles worth saying.
func asRole(r signaling.RoomRole) string {
	switch r {
	case signaling.RoleListener:
		return " as a listener"
	case signaling.RoleHost:
		return " as the host"
	case signaling.RoleGuest:
		return " as a guest"
	}
	return ""
}

// leftText is why someone left: "left", "was removed by host",
// "disconnected".
func leftText(reason, by string, label func(string) string) string {
	switch reason {
	case signaling.LeftRemoved:
		if by == "" {
			return "was removed by host"
		}
		if who := label(by); who != "you" {
			return "was removed by " + who + " (host)"
		}
		return "was removed by you"
	case signaling.LeftDisconnected:
		return "left (disconnected)"
	case signaling.LeftLeft, "":
		return "left"
	}
	return "left (" + reason + ")"
}

// capital starts a sentence that begins with "you" with "You"; names and
// ids are kept as they are.
func capital(s string) string {
	if strings.HasPrefix(s, "you") {
		return "Y" + s[1:]
	}
	return s
}
