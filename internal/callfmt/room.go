package callfmt

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// The --json forms of the room events. A room_event is written as the
// server sent it, named by its kind: {"event":"joined" (or
// participant_joined, participant_left, speaking, muted, locked, removed,
// room_ended, invited, quality, and of the lobby lobby_knock, admitted,
// turned_away),"time","room", and as the kind has them "user","name",
// "role","by","reason","muted","locked","status","slots","participants",
// "quality"}.
// "room_left" comes
// last, once the phone is out of the room ({"room","reason": left, removed,
// ended or failed, "error" when failed}); refusals are "error" events with
// "room". "room_rejoining" ({"room","reason"}) says the phone lost the room
// (its media, or the connection to the server) and joins it again by
// itself: "joined" follows again once it is back in, or "room_left" failed.
// "grew" ({"id","room","peer","host"}) says the call id moves into room, a
// room grown from it (by this side when host): the room's events follow,
// then the call's end, completed with reason "moved to room"; an invited
// event of a room grown from a call has that call's id in "call".
type (
	jsonGrew struct {
		Event  string `json:"event"` // "grew"
		Time   string `json:"time"`
		CallID string `json:"id"`
		Room   string `json:"room"`
		Peer   string `json:"peer"`
		Host   bool   `json:"host"`
	}
	jsonRoomEvent struct {
		Event        string                  `json:"event"`
		Time         string                  `json:"time"`
		Room         string                  `json:"room"`
		User         string                  `json:"user,omitempty"`
		Name         string                  `json:"name,omitempty"`
		Role         signaling.RoomRole      `json:"role,omitempty"`
		By           string                  `json:"by,omitempty"`
		Reason       string                  `json:"reason,omitempty"`
		Muted        *bool                   `json:"muted,omitempty"`
		Locked       *bool                   `json:"locked,omitempty"`
		Status       signaling.Status        `json:"status,omitempty"` // invited
		Call         string                  `json:"call,omitempty"`   // invited: the call the room grew from
		Slots        *[]string               `json:"slots,omitempty"`  // speaking: always, [] for nobody
		Participants []signaling.Participant `json:"participants,omitempty"`
		Quality      []signaling.Quality     `json:"quality,omitempty"`
	}
	jsonRoomLeft struct {
		Event  string           `json:"event"` // "room_left"
		Time   string           `json:"time"`
		Room   string           `json:"room"`
		Reason string           `json:"reason"`
		Error  *signaling.Error `json:"error,omitempty"`
	}
	jsonRoomRejoining struct {
		Event  string `json:"event"` // "room_rejoining"
		Time   string `json:"time"`
		Room   string `json:"room"`
		Reason string `json:"reason"`
	}
)

// printRoom prints the room events, for people or as JSON; it reports
// whether ev was one.
func (p *Printer) printRoom(ev call.Event) bool {
	var v any
	var text string
	switch ev := ev.(type) {
	case call.RoomChanged:
		e := ev.RoomEvent
		var slots *[]string
		if e.Kind == signaling.RoomSpeaking {
			s := append([]string{}, e.Slots...) // nobody: an empty list rather than none
			slots = &s
		}
		v = jsonRoomEvent{Event: string(e.Kind), Time: p.time(e.Time), Room: e.Room, User: e.User, Name: e.Name,
			Role: e.Role, By: e.By, Reason: e.Reason, Muted: e.Muted, Locked: e.Locked, Status: e.Status, Call: e.Call,
			Slots: slots, Participants: e.Participants, Quality: e.Quality}
		text = p.roomText(e)
	case call.RoomLeft:
		v = jsonRoomLeft{Event: "room_left", Time: p.time(time.Time{}), Room: ev.Room, Reason: ev.Reason, Error: ev.Err}
		if ev.Reason == signaling.LeftLeft {
			text = "you left room " + ev.Room
		} // the others were told by the event or the error before
	case call.Grew:
		v = jsonGrew{Event: "grew", Time: p.time(time.Time{}), CallID: ev.CallID, Room: ev.Room, Peer: ev.Peer,
			Host: ev.Host}
		text = fmt.Sprintf("%s added people: the call moves into room %s", p.who(ev.Peer), ev.Room)
		if ev.Host {
			text = fmt.Sprintf("the call moves into room %s, of which you are the host", ev.Room)
		}
	case call.RoomRejoining:
		v = jsonRoomRejoining{Event: "room_rejoining", Time: p.time(time.Time{}), Room: ev.Room, Reason: ev.Reason}
		text = fmt.Sprintf("lost room %s (%s): joining it again", ev.Room, ev.Reason)
	case call.RoomFailure:
		if p.json {
			writeJSON(p.w, jsonError{Event: "error", Time: p.time(time.Time{}), Room: ev.Room, Error: ev.Err})
		} else {
			Say(p.errw, "parley: %s (%d): %s", ev.Err.Name, ev.Err.Code, ev.Err.Message)
		}
		return true
	case call.RoomLevels, call.RoomStats:
		return true // for the UI only
	default:
		return false
	}
	switch {
	case p.json:
		writeJSON(p.w, v)
	case text != "":
		Say(p.w, "%s", text)
	}
	return true
}

// who is a participant as people read them: their name and id, "you" for
// the user themselves.
func (p *Printer) who(user string) string {
	if user == p.me && user != "" {
		return "you"
	}
	return signaling.Label(user, p.names[user])
}

// roomText is the line that tells a room event to people.
func (p *Printer) roomText(e signaling.RoomEvent) string {
	if p.names == nil {
		p.names = map[string]string{}
	}
	if e.Name != "" {
		p.names[e.User] = e.Name
	}
	switch e.Kind {
	case signaling.RoomJoined:
		p.me = e.User
		var others []string
		for _, pt := range e.Participants {
			if pt.Name != "" {
				p.names[pt.User] = pt.Name
			}
			if pt.User != e.User {
				others = append(others, fmt.Sprintf("%s (%s%s)", signaling.Label(pt.User, pt.Name), pt.Role,
					mutedMark(pt)))
			}
		}
		s := fmt.Sprintf("joined room %s as %s", e.Room, e.Role)
		if len(others) == 0 {
			return s + "; nobody else is here yet"
		}
		return s + "; here: " + strings.Join(others, ", ")
	case signaling.ParticipantJoined:
		return fmt.Sprintf("%s joined (%s)", p.who(e.User), e.Role)
	case signaling.ParticipantLeft:
		switch e.Reason {
		case signaling.LeftRemoved:
			return fmt.Sprintf("%s was removed", p.who(e.User))
		case signaling.LeftDisconnected:
			return fmt.Sprintf("%s left: disconnected", p.who(e.User))
		}
		return fmt.Sprintf("%s left", p.who(e.User))
	case signaling.RoomSpeaking:
		var heard []string
		for _, u := range e.Slots {
			if u != "" {
				heard = append(heard, p.who(u))
			}
		}
		if len(heard) == 0 {
			return "nobody is speaking"
		}
		return "speaking: " + strings.Join(heard, ", ")
	case signaling.RoomMuted:
		return p.mutedText(e)
	case signaling.RoomLocked:
		state := "unlocked"
		if e.Locked != nil && *e.Locked {
			state = "locked"
		}
		return fmt.Sprintf("%s %s the room", p.who(e.By), state)
	case signaling.RoomRemoved:
		return fmt.Sprintf("%s removed you from room %s", p.who(e.By), e.Room)
	case signaling.RoomEnded:
		return "room " + e.Room + " ended" + reason(e.Reason)
	case signaling.RoomInvited:
		return p.invitedText(e)
	case signaling.RoomKnock:
		return fmt.Sprintf("guest %s is waiting in the lobby: let them in (admit %s) or turn them away (deny %s)",
			p.who(e.User), e.User, e.User)
	case signaling.RoomAdmitted:
		return fmt.Sprintf("%s let guest %s in", p.who(e.By), p.who(e.User))
	case signaling.RoomTurnedAway:
		return fmt.Sprintf("%s turned guest %s away", p.who(e.By), p.who(e.User))
	case signaling.RoomLobby:
		return "you wait in the lobby of room " + e.Room + " to be let in"
	case signaling.RoomQuality:
		return p.qualityText(e.Quality)
	}
	return string(e.Kind)
}

func mutedMark(pt signaling.Participant) string {
	switch {
	case pt.MicLocked:
		return ", muted by the host"
	case pt.Muted:
		return ", muted"
	}
	return ""
}

func (p *Printer) mutedText(e signaling.RoomEvent) string {
	muted := e.Muted != nil && *e.Muted
	locked := e.Locked != nil && *e.Locked
	state := "unmuted"
	if muted {
		state = "muted"
	}
	self := e.By == "" || e.By == e.User
	switch {
	case e.User == p.me && self:
		return "you are " + state
	case e.User == p.me && muted && locked:
		return fmt.Sprintf("%s muted you and locked your microphone: only the host can unmute you", p.who(e.By))
	case e.User == p.me && !muted:
		return fmt.Sprintf("%s lets you speak: unmute yourself to be heard", p.who(e.By))
	case e.User == p.me:
		return fmt.Sprintf("%s %s you", p.who(e.By), state)
	case self:
		return fmt.Sprintf("%s is %s", p.who(e.User), state)
	}
	return fmt.Sprintf("%s %s %s", p.who(e.By), state, p.who(e.User))
}

// invitedText tells an invitation's status: to the invited member (who is
// in no room, or is its subject), or to the room's participants.
func (p *Printer) invitedText(e signaling.RoomEvent) string {
	if p.me == "" || e.User == p.me {
		switch e.Status {
		case signaling.Ringing:
			return fmt.Sprintf("%s invites you to room %s: join it with `parley join %s`, or `parley answer`",
				p.who(e.By), e.Room, e.Room)
		case signaling.Answered:
			return fmt.Sprintf("invitation to room %s answered", e.Room)
		case signaling.Rejected:
			return fmt.Sprintf("invitation to room %s rejected", e.Room)
		}
		return fmt.Sprintf("invitation to room %s not answered%s", e.Room, reason(e.Reason))
	}
	who := p.who(e.User)
	switch e.Status {
	case signaling.Ringing:
		return "ringing " + who
	case signaling.Answered:
		return who + " answered"
	case signaling.Rejected:
		return who + " rejected the invitation"
	}
	return who + " did not answer" + reason(e.Reason)
}

// qualityText tells participants' connections: "connection: alice poor
// (high-packet-loss 10.5 %, low-mos 3.1), bob good".
func (p *Printer) qualityText(qs []signaling.Quality) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = p.who(q.User) + " " + string(q.Grade)
		var why []string
		for _, name := range q.Problems {
			switch name {
			case signaling.WarnHighRTT:
				why = append(why, fmt.Sprintf("%s %.0f ms", name, q.RTTMs))
			case signaling.WarnHighJitter:
				why = append(why, fmt.Sprintf("%s %.0f ms", name, q.JitterMs))
			case signaling.WarnHighLoss:
				why = append(why, fmt.Sprintf("%s %.1f %%", name, 100*q.Loss))
			case signaling.WarnLowMOS:
				why = append(why, fmt.Sprintf("%s %.1f", name, q.MOS))
			}
		}
		if len(why) > 0 {
			parts[i] += " (" + strings.Join(why, ", ") + ")"
		}
	}
	return "connection: " + strings.Join(parts, ", ")
}
