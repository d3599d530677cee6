package ui

import (
	"errors"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/history"
)

// harmless returns msg with the text in it that came from elsewhere made
// harmless with signaling.Printable: names, user and call ids, reasons and
// error messages that other people and the server sent, and the records of
// the history file. Every message goes through it before the model sees it,
// so that no escape sequence in them reaches the terminal and a name stays
// on one line, whichever component shows it. The audio devices' names are
// this machine's, and are kept as they are: they name the device to open.
func harmless(msg tea.Msg) tea.Msg {
	switch msg := msg.(type) {
	case eventMsg:
		msg.event = harmlessEvent(msg.event)
		return msg
	case historyLoadedMsg:
		recs := make([]history.Record, len(msg.records))
		for i, r := range msg.records {
			recs[i] = harmlessRecord(r)
		}
		msg.records = recs
		return msg
	case contactsLoadedMsg:
		msg.people, msg.err = harmlessPeople(msg.people), harmlessErr(msg.err)
		return msg
	case serverHistoryMsg:
		for i, r := range msg.records {
			msg.records[i] = harmlessRecord(r)
		}
		msg.err = harmlessErr(msg.err)
		return msg
	case missedMsg:
		lines := make([]string, len(msg.lines))
		for i, l := range msg.lines {
			lines[i] = signaling.Printable(l)
		}
		msg.lines, msg.err = lines, harmlessErr(msg.err)
		return msg
	case textsLoadedMsg:
		texts := make([]signaling.Text, len(msg.texts.Texts))
		for i, t := range msg.texts.Texts {
			texts[i] = harmlessText(t)
		}
		unread := make(map[string]int, len(msg.texts.Unread))
		for u, n := range msg.texts.Unread {
			unread[signaling.Printable(u)] = n
		}
		msg.texts = signaling.Texts{Texts: texts, Unread: unread}
		msg.err = harmlessErr(msg.err)
		return msg
	case textSentMsg:
		msg.text, msg.err = harmlessText(msg.text), harmlessErr(msg.err)
		return msg
	case directoryMsg:
		msg.people, msg.err = harmlessPeople(msg.people), harmlessErr(msg.err)
		return msg
	case contactAddedMsg:
		msg.person, msg.err = harmlessPerson(msg.person), harmlessErr(msg.err)
		return msg
	case roomsLoadedMsg:
		if msg.rooms != nil {
			rooms := make([]signaling.Room, len(msg.rooms))
			for i, r := range msg.rooms {
				rooms[i] = harmlessRoom(r)
			}
			msg.rooms = rooms
		}
		msg.err = harmlessErr(msg.err)
		return msg
	case linkMadeMsg:
		l := &msg.link
		for _, s := range []*string{&l.URL, &l.Code, &l.Host, &l.HostName, &l.Guest, &l.GuestName} {
			*s = signaling.Printable(*s)
		}
		msg.err = harmlessErr(msg.err)
		return msg
	}
	return msg
}

func harmlessEvent(ev call.Event) call.Event {
	p := signaling.Printable
	switch ev := ev.(type) {
	case call.Connected:
		ev.User, ev.Name, ev.Err = p(ev.User), p(ev.Name), harmlessErr(ev.Err)
		return ev
	case call.StatusChanged:
		e := &ev.CallEvent
		for _, s := range []*string{&e.ID, &e.From, &e.To, &e.FromName, &e.ToName, &e.Reason} {
			*s = p(*s)
		}
		return ev
	case call.Presence:
		ev.User, ev.Name = p(ev.User), p(ev.Name)
		return ev
	case call.VoiceMessage:
		ev.ID, ev.From, ev.FromName, ev.To = p(ev.ID), p(ev.From), p(ev.FromName), p(ev.To)
		return ev
	case call.TextReceived:
		ev.Text = harmlessText(ev.Text)
		return ev
	case call.Failure:
		ev.CallID = p(ev.CallID)
		ev.Err = harmlessSignalingErr(ev.Err)
		return ev
	case call.RoomChanged:
		e := &ev.RoomEvent
		for _, s := range []*string{&e.Room, &e.User, &e.Name, &e.By, &e.Reason} {
			*s = p(*s)
		}
		e.Role = signaling.RoomRole(p(string(e.Role)))
		e.Status = signaling.Status(p(string(e.Status)))
		e.Slots = harmlessStrings(e.Slots)
		e.Participants = harmlessParticipants(e.Participants)
		if e.Quality != nil {
			qs := make([]signaling.Quality, len(e.Quality))
			for i, q := range e.Quality {
				q.User, q.Grade = p(q.User), signaling.Grade(p(string(q.Grade)))
				q.Problems = harmlessStrings(q.Problems)
				qs[i] = q
			}
			e.Quality = qs
		}
		return ev
	case call.RoomStats:
		ev.Room = p(ev.Room)
		return ev
	case call.RoomLevels:
		ev.Room = p(ev.Room)
		if ev.Heard != nil {
			heard := make(map[string]float64, len(ev.Heard))
			for u, l := range ev.Heard {
				heard[p(u)] = l
			}
			ev.Heard = heard
		}
		return ev
	case call.RoomFailure:
		ev.Room = p(ev.Room)
		ev.Err = harmlessSignalingErr(ev.Err)
		return ev
	case call.RoomRejoining:
		ev.Room, ev.Reason = p(ev.Room), p(ev.Reason)
		return ev
	case call.RoomLeft:
		ev.Room, ev.Reason = p(ev.Room), p(ev.Reason)
		ev.Err = harmlessSignalingErr(ev.Err)
		return ev
	}
	return ev
}

// harmlessRoom returns r with its names and ids made harmless.
func harmlessRoom(r signaling.Room) signaling.Room {
	p := signaling.Printable
	r.Name, r.Host = p(r.Name), p(r.Host)
	r.Invited = harmlessStrings(r.Invited)
	r.Participants = harmlessParticipants(r.Participants)
	return r
}

func harmlessParticipants(ps []signaling.Participant) []signaling.Participant {
	if ps == nil {
		return nil
	}
	out := make([]signaling.Participant, len(ps))
	for i, pt := range ps {
		pt.User, pt.Name = signaling.Printable(pt.User), signaling.Printable(pt.Name)
		pt.Role = signaling.RoomRole(signaling.Printable(string(pt.Role)))
		out[i] = pt
	}
	return out
}

func harmlessRecord(r history.Record) history.Record {
	for _, s := range []*string{&r.CallID, &r.Peer, &r.PeerName, &r.Reason} {
		*s = signaling.Printable(*s)
	}
	r.Status = signaling.Status(signaling.Printable(string(r.Status))) // shown as it is when not one of ours
	return r
}

func harmlessPerson(p signaling.Person) signaling.Person {
	p.User, p.Name = signaling.Printable(p.User), signaling.Printable(p.Name)
	return p
}

func harmlessPeople(people []signaling.Person) []signaling.Person {
	if people == nil {
		return nil
	}
	out := make([]signaling.Person, len(people))
	for i, p := range people {
		out[i] = harmlessPerson(p)
	}
	return out
}

// harmlessErr returns err with its text made harmless: a signaling error
// keeps its code; another error that needs it becomes one with the text
// alone.
func harmlessErr(err error) error {
	var se *signaling.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return harmlessSignalingErr(se)
	case signaling.Printable(err.Error()) != err.Error():
		return errors.New(signaling.Printable(err.Error()))
	}
	return err
}

// harmlessSignalingErr returns e with its name and message made harmless;
// nil stays nil.
func harmlessSignalingErr(e *signaling.Error) *signaling.Error {
	if e == nil {
		return nil
	}
	return &signaling.Error{Code: e.Code, Name: signaling.Printable(e.Name), Message: signaling.Printable(e.Message)}
}

// harmlessStrings returns a copy of ss made harmless; nil stays nil.
func harmlessStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = signaling.Printable(s)
	}
	return out
}

// harmlessText is a text message with its ids, names and text Printable:
// the text is another person's, escape sequences and all.
func harmlessText(t signaling.Text) signaling.Text {
	p := signaling.Printable
	t.From, t.FromName, t.To, t.ToName, t.Text = p(t.From), p(t.FromName), p(t.To), p(t.ToName), p(t.Text)
	return t
}
