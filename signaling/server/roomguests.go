package server

// Guests of a room and its lobby (docs/SERVER.md, "Guests and the lobby"):
// a room made with guests has a guest link for each (links.go, with Room
// set); the guest's browser joins the room with role guest and waits in
// the lobby, with no media at all (its offer is kept, not answered), until
// the host or a member lets them in (room_admit: then the offer is
// answered as any join's) or turns them away (room_deny: the link is
// spent).

import (
	"context"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// maxRoomGuests is how many guest links one room request may make.
const maxRoomGuests = 25

// roomGuestLinks checks the guests of a room request, before the room is
// made; the names to make links for and their expiry.
func (s *Server) roomGuestLinks(req signaling.RoomRequest, rec roomRecord, now time.Time) ([]string, time.Time,
	*signaling.Error) {
	if len(req.Guests) == 0 {
		if req.GuestTTL != "" {
			return nil, time.Time{}, signaling.Errorf(signaling.InvalidParameter,
				"guest_ttl is for the links of guests: name them in guests")
		}
		return nil, time.Time{}, nil
	}
	if len(req.Guests) > maxRoomGuests {
		return nil, time.Time{}, signaling.Errorf(signaling.InvalidParameter,
			"%d guests: a room is made with at most %d guest links", len(req.Guests), maxRoomGuests)
	}
	names := make([]string, 0, len(req.Guests))
	for _, g := range req.Guests {
		n := "Guest"
		if strings.TrimSpace(g) != "" {
			var err error
			if n, err = signaling.CheckName("the guest's name", g); err != nil {
				return nil, time.Time{}, signaling.AsError(err)
			}
		}
		names = append(names, n)
	}
	expires := now.Add(s.cfg.LinkTTL)
	if rec.End != nil {
		expires = *rec.End
	}
	if req.GuestTTL != "" {
		d, err := time.ParseDuration(req.GuestTTL)
		if err != nil || d < time.Second || d > MaxLinkTTL {
			return nil, time.Time{}, signaling.Errorf(signaling.InvalidParameter,
				"guest_ttl %.40q is not a duration from 1s to %v, such as 2h", req.GuestTTL, MaxLinkTTL)
		}
		expires = now.Add(d)
		if rec.End != nil && rec.End.Before(expires) {
			expires = *rec.End
		}
	}
	return names, expires.UTC().Truncate(time.Second), nil
}

// makeRoomLinks makes a guest link to room rec for each of names, by its
// host (hostName their display name).
func (s *Server) makeRoomLinks(ctx context.Context, rec roomRecord, hostName string, names []string,
	expires time.Time) ([]signaling.Link, *signaling.Error) {
	out := make([]signaling.Link, 0, len(names))
	now := time.Now().UTC().Truncate(time.Second)
	for _, n := range names {
		l := linkRecord{Team: rec.Team, Host: rec.Host, HostName: hostName, Guest: "guest-" + newID()[:12],
			GuestName: n, Created: now, Expires: expires, Room: rec.Name}
		code := linkCode()
		if e := s.countLink(ctx, hashHex(code), l); e != nil {
			return out, e
		}
		if err := s.store.PutLink(ctx, hashHex(code), l, 0, s.linkEnd(l.Expires)); err != nil {
			return out, signaling.Errorf(signaling.UnknownError, "could not record the link of %s: %v", n, err)
		}
		s.log.Info("room guest link made", "room", rec.Name, "team", rec.Team, "guest", l.Guest,
			"expires", l.Expires)
		out = append(out, signaling.Link{URL: s.publicLink("/join/" + code), Code: code, Host: l.Host,
			HostName: l.HostName, Guest: l.Guest, GuestName: l.GuestName, Expires: l.Expires, Room: l.Room})
	}
	return out, nil
}

// roomGuest checks a room message of a guest: a guest link's guest may
// join its room only, while the link works; other guests join no room.
// The guest's link key goes to the owner in the message's token (which
// clients cannot send in a room message), for room_deny to spend it.
func (c *conn) roomGuest(m *signaling.Message) *signaling.Error {
	switch {
	case c.link == nil:
		return signaling.Errorf(signaling.PermissionDenied,
			"a guest joins a room through its guest link only: ask a member for one")
	case c.link.Room == "":
		return signaling.Errorf(signaling.InvalidParameter,
			"a guest link is for a call with %s only: it opens no room", c.link.Host)
	case m.Room != c.link.Room:
		return signaling.Errorf(signaling.PermissionDenied, "your guest link is for room %s only", c.link.Room)
	}
	if m.Type == signaling.TypeRoomJoin {
		if _, err := c.s.guestLink(c.ctx, c.link.Key, c.user); err != nil {
			return signaling.AsError(err)
		}
		rec, _, found, err := c.s.readRoom(c.ctx, c.team, m.Room)
		switch {
		case err != nil:
			return signaling.Errorf(signaling.UnknownError, "%v", err)
		case !found || rec.over(time.Now()):
			return signaling.Errorf(signaling.NotFoundUserSessionID,
				"room %s has ended: ask %s for a new link if you are to meet again", m.Room, c.link.Host)
		}
	}
	m.Token = c.link.Key
	return nil
}

// waiting is a guest in a room's lobby.
type waiting struct {
	join  signaling.Message // their room_join: the offer, kept until they are let in
	since time.Time
	away  time.Time // since when their session is offline
}

// lobby is a room's guests waiting to be let in, and those let in (who
// join again without waiting), by user. The room's goroutine owns it.
type lobby struct {
	wait map[string]*waiting
	let  map[string]bool
}

// guestJoins handles a guest's join: one not let in yet knocks (done); one
// let in joins as anyone does, from their latest page: a guest link works
// in one browser, so a join from another session of theirs (the page
// reloaded) replaces the one in the room.
func (r *room) guestJoins(a signaling.Message) (e *signaling.Error, done bool) {
	if _, back := r.rec.Seats[a.User]; !r.lobby.let[a.User] && !back { // back: let in before the room moved
		return r.knock(a), true
	}
	if old := r.parts[a.User]; old != nil && old.session != a.Session {
		r.remove(old, "", "")
	}
	return nil, false
}

// knock puts a guest's join in the lobby (in place of their earlier one,
// from the same page or one reloaded) and tells the host and members.
func (r *room) knock(a signaling.Message) *signaling.Error {
	name := r.rec.Name
	switch w := r.lobby.wait[a.User]; {
	case r.rec.over(time.Now()):
		return roomOver(r.rec)
	case w == nil && r.rec.Locked:
		return signaling.Errorf(signaling.PermissionDenied, "room %s is locked: ask its host (%s) to unlock it",
			name, r.rec.Host)
	case w == nil && len(r.parts)+len(r.lobby.wait) >= r.s.cfg.roomLimit:
		return signaling.Errorf(signaling.AlreadyBusyCall,
			"room %s is full (%d people, the most a room holds): try again when someone leaves", name,
			r.s.cfg.roomLimit)
	}
	if r.lobby.wait == nil {
		r.lobby.wait = map[string]*waiting{}
	}
	again := r.lobby.wait[a.User] != nil
	r.lobby.wait[a.User] = &waiting{join: a, since: time.Now()}
	if !again {
		r.s.feed.followBox(r.s.callCtx, r.box, store.UserKey(r.rec.Team, a.User))
	}
	r.log.Info("guest knocks", "user", a.User, "session", a.Session)
	r.to(&participant{user: a.User, session: a.Session}, signaling.Message{Type: signaling.TypeRoomEvent, Ref: a.Ref,
		RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomLobby, User: a.User, Name: a.Name,
			Role: signaling.RoleGuest})})
	if !again {
		r.toLetters(signaling.RoomEvent{Kind: signaling.RoomKnock, User: a.User, Name: a.Name,
			Role: signaling.RoleGuest}, nil)
	}
	return nil
}

// mayLet tells whether p may let guests in or turn them away: the host
// and members may.
func mayLet(p *participant) bool {
	return p.role == signaling.RoleHost || p.role == signaling.RoleMember && !p.listenOnly
}

// toLetters sends an event to everyone in the room who may let guests in,
// but except.
func (r *room) toLetters(e signaling.RoomEvent, except *participant) {
	m := signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(e)}
	for _, p := range r.parts {
		if p != except && mayLet(p) {
			r.to(p, m)
		}
	}
}

// tellKnocks tells p, who just joined, of the guests waiting.
func (r *room) tellKnocks(p *participant) {
	if !mayLet(p) {
		return
	}
	for user, w := range r.lobby.wait {
		r.to(p, signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(signaling.RoomEvent{
			Kind: signaling.RoomKnock, User: user, Name: w.join.Name, Role: signaling.RoleGuest, Time: w.since})})
	}
}

// lobbyAction handles an action of a guest waiting in the lobby: leaving
// it, or anything else (refused); ok is false for anyone else.
func (r *room) lobbyAction(a signaling.Message) (out roomReply, ok bool) {
	w := r.lobby.wait[a.User]
	if w == nil || w.join.Session != a.Session || a.Type == signaling.TypeRoomJoin {
		return out, false
	}
	if a.Type == signaling.TypeRoomLeave {
		r.leaveLobby(a.User, w, signaling.LeftLeft)
		return out, true
	}
	out.Error = signaling.Errorf(signaling.PermissionDenied,
		"you wait in the lobby of room %s: someone in it lets you in", r.rec.Name)
	return out, true
}

// leaveLobby takes a waiting guest out of the lobby, for reason; the host
// and members are told with participant_left.
func (r *room) leaveLobby(user string, w *waiting, reason string) {
	delete(r.lobby.wait, user)
	r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, user))
	r.log.Info("guest left the lobby", "user", user, "reason", reason)
	r.toLetters(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: user, Name: w.join.Name,
		Role: signaling.RoleGuest, Reason: reason}, nil)
}

// letIn lets a.Target in from the lobby (room_admit) or turns them away
// (room_deny), as me.
func (r *room) letIn(me *participant, a signaling.Message) *signaling.Error {
	if !mayLet(me) {
		what := "a guest"
		if me.role == signaling.RoleGuest {
			what = "another guest"
		}
		return signaling.Errorf(signaling.PermissionDenied,
			"only the host or a member of room %s can let %s in or turn them away", r.rec.Name, what)
	}
	w := r.lobby.wait[a.Target]
	if w == nil {
		return signaling.Errorf(signaling.NotFoundUserSessionID,
			"nobody called %s waits in the lobby of room %s: they left, or someone let them in or turned them away "+
				"already", a.Target, r.rec.Name)
	}
	guest := &participant{user: a.Target, session: w.join.Session}
	delete(r.lobby.wait, a.Target)
	r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, a.Target))
	if a.Type == signaling.TypeRoomDeny {
		r.log.Info("guest turned away", "user", a.Target, "by", me.user)
		if w.join.Token != "" { // before anyone is told: the guest's page finds it spent
			r.s.spendLink(w.join.Token, spentRejected)
		}
		e := signaling.RoomEvent{Kind: signaling.RoomTurnedAway, User: a.Target, Name: w.join.Name,
			Role: signaling.RoleGuest, By: me.user}
		r.to(guest, signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(e)})
		r.toLetters(e, nil)
		return nil
	}
	r.log.Info("guest let in", "user", a.Target, "by", me.user)
	if r.lobby.let == nil {
		r.lobby.let = map[string]bool{}
	}
	r.lobby.let[a.Target] = true
	e := signaling.RoomEvent{Kind: signaling.RoomAdmitted, User: a.Target, Name: w.join.Name,
		Role: signaling.RoleGuest, By: me.user}
	r.to(guest, signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(e)})
	r.broadcast(e, nil)
	if err := r.join(w.join); err != nil {
		r.to(guest, signaling.Message{Type: signaling.TypeError, Ref: w.join.Ref, Error: err})
	}
	return nil
}

// lobbyPresence notes the waiting guests whose session went offline, and
// those back (onPresence).
func (r *room) lobbyPresence(views map[string]presenceView, now time.Time) {
	for user, w := range r.lobby.wait {
		v, ok := views[store.UserKey(r.rec.Team, user)]
		switch {
		case !ok:
		case v.has(store.Token(w.join.Session)):
			w.away = time.Time{}
		case w.away.IsZero():
			w.away = now
		}
	}
}

// lobbyAway drops the waiting guests whose session stayed offline for the
// reconnect grace (checkAway).
func (r *room) lobbyAway() {
	for user, w := range r.lobby.wait {
		if !w.away.IsZero() && time.Since(w.away) > r.s.cfg.ReconnectGrace {
			r.leaveLobby(user, w, signaling.LeftDisconnected)
		}
	}
}

// closeLobby tells the waiting guests the room ended (end).
func (r *room) closeLobby(reason string) {
	for user, w := range r.lobby.wait {
		r.to(&participant{user: user, session: w.join.Session}, signaling.Message{Type: signaling.TypeRoomEvent,
			RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomEnded, Reason: reason})})
		r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, user))
	}
	clear(r.lobby.wait)
}
