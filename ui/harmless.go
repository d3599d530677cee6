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
	case directoryMsg:
		msg.people, msg.err = harmlessPeople(msg.people), harmlessErr(msg.err)
		return msg
	case contactAddedMsg:
		msg.person, msg.err = harmlessPerson(msg.person), harmlessErr(msg.err)
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
	case call.Failure:
		ev.CallID = p(ev.CallID)
		if ev.Err != nil {
			ev.Err = &signaling.Error{Code: ev.Err.Code, Name: p(ev.Err.Name), Message: p(ev.Err.Message)}
		}
		return ev
	}
	return ev
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
		return &signaling.Error{Code: se.Code, Name: signaling.Printable(se.Name),
			Message: signaling.Printable(se.Message)}
	case signaling.Printable(err.Error()) != err.Error():
		return errors.New(signaling.Printable(err.Error()))
	}
	return err
}
