package call

// Growing a call into a room (docs/PROTOCOL.md, "Grown from a call"): in an
// answered 1:1 call, Grow makes a room of which this side is the host, with
// the peer and the people added invited, and the call's id on the
// invitations. Both sides join it while the call still plays (p.cur and
// p.room at once: each has its own devices, which the sound system mixes),
// the peer at once, unrung, as it sees its call on the invitation. Once a
// side's room plays the peer, the call's speaker is hushed (the peer is not
// heard twice) and the peer is told (signaling.TypeMoved, relayed). A side
// whose room plays the peer and that was told the peer's plays it too hangs
// up the call, with signaling.ReasonMovedToRoom; the other side, told that
// end, stays in the room. Neither side hears a gap: each hears the call
// until its room plays the other, and the call goes on until both do.

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Grew says that the answered call CallID is moving into Room, a room
// grown from it (Grow here, or the peer's: Host is false). RoomChanged and
// RoomLeft follow as for JoinRoom; the call ends a moment after the room
// plays the peer, with StatusChanged completed, reason
// signaling.ReasonMovedToRoom.
type Grew struct {
	CallID string
	Room   string
	Peer   string // the other person of the call
	Host   bool   // this side grew it: it is the room's host
}

func (Grew) event() {}

// The move of a call into its room.
const (
	// moveSilent is how long after the room's media flows the call is hung
	// up when the peer's room plays us but ours does not play the peer: a
	// peer who does not speak has no slot, and has nothing to lose.
	moveSilent = 2 * time.Second
	// moveWait is how long the call goes on, at most, once the room's
	// media flows, when the peer does not say that its room plays us (an
	// older client's, or a room that does not play us).
	moveWait = 10 * time.Second
	// growTimeout bounds a room's creation (Grow, CallMany).
	growTimeout = 15 * time.Second
)

// move is the call a room grew from, while it plays alongside the room.
type move struct {
	call      *active
	peer      string
	heard     time.Time // when the room first played the peer; zero before
	flowed    time.Time // when the room's media was first up (joined and connected); zero before
	peerHeard bool      // the peer said its room plays us (signaling.TypeMoved)
}

// movedRef is the ref of a moved message, so that its refusal (the call
// ended meanwhile) is known for what it is.
const movedRef = "moved"

// Grow adds users to the answered call: it becomes a room, of which this
// side is the host, with the peer and users invited (Grew, then the
// room's events). A refusal (no answered call, a room the server would not
// make) is a RoomFailure: the call, if any, goes on.
func (p *Phone) Grow(users ...string) {
	users = slices.Clone(users)
	p.post(func() { p.grow(users) })
}

func (p *Phone) grow(users []string) {
	a := p.cur
	switch {
	case a == nil || a.ev.ID == "" || a.ev.Status != signaling.Answered:
		p.roomFail("", signaling.Errorf(signaling.NoConnectedCall,
			"there is no answered call to add someone to: call them, or make a room with `parley room create`"))
		return
	case p.room != nil || a.growing != "":
		p.roomFail("", signaling.Errorf(signaling.AlreadyBusyCall,
			"the call is moving into a room already: invite more people from the room"))
		return
	case a.ev.Guest:
		p.roomFail("", signaling.Errorf(signaling.PermissionDenied,
			"a guest's call cannot grow into a room: make a room and send them its guest link"))
		return
	case len(users) == 0:
		p.roomFail("", signaling.Errorf(signaling.InvalidParameter, "name someone to add to the call"))
		return
	}
	peer := a.ev.Peer()
	invite := []string{peer}
	for _, u := range users {
		if err := signaling.CheckUserID(u); err != nil {
			p.roomFail("", err)
			return
		}
		if u == peer || p.sig != nil && u == p.sig.User {
			p.roomFail("", signaling.Errorf(signaling.InvalidParameter, "%s is in the call already: add someone else",
				u))
			return
		}
		if !slices.Contains(invite, u) {
			invite = append(invite, u)
		}
	}
	name := growName()
	a.growing = name
	p.log.Info("growing the call into a room", "call", a.ev.ID, "room", name, "invite", invite)
	p.makeRoom(signaling.RoomRequest{Name: name, Invite: invite, Call: a.ev.ID}, func(err error) {
		p.grown(a, name, err)
	})
}

// CallMany calls users together: a room, of which this side is the host,
// with users invited (they ring as for any invitation), joined at once.
// RoomChanged and RoomLeft report what follows, as for JoinRoom; the
// room's name is call- and 8 random letters and digits.
func (p *Phone) CallMany(users ...string) {
	users = slices.Clone(users)
	p.post(func() {
		name := growName()
		switch {
		case p.cur != nil || p.room != nil:
			p.joinFailed(name, signaling.Errorf(signaling.AlreadyBusyCall,
				"you are in a call or a room: hang up or leave first"))
			return
		case len(users) == 0:
			p.joinFailed(name, signaling.Errorf(signaling.InvalidParameter, "name the people to call"))
			return
		}
		for _, u := range users {
			if err := signaling.CheckUserID(u); err != nil {
				p.joinFailed(name, err)
				return
			}
		}
		p.makeRoom(signaling.RoomRequest{Name: name, Invite: users}, func(err error) {
			if err != nil {
				p.joinFailed(name, err)
				return
			}
			p.joinRoom(name, RoomOptions{})
		})
	})
}

// makeRoom makes the room req asks for, through the API (in a worker), and
// then runs then on the loop with the error, if any.
func (p *Phone) makeRoom(req signaling.RoomRequest, then func(err error)) {
	api := &signaling.API{Server: p.server, HTTP: p.cfg.HTTPClient, Token: p.cfg.token}
	p.spawn(func() {
		ctx, cancel := context.WithTimeout(p.ctx, growTimeout)
		defer cancel()
		_, err := api.CreateRoom(ctx, req)
		p.post(func() { then(err) })
	})
}

// grown follows the creation of the room a grew into: the move starts,
// or, when the room could not be made, the call goes on.
func (p *Phone) grown(a *active, name string, err error) {
	a.growing = ""
	switch {
	case err != nil:
		p.roomFail(name, err) // the call goes on
	case p.cur != a || p.room != nil:
		// The call ended meanwhile: the room is made and its invitations
		// ring; join it as any other.
		p.joinRoom(name, RoomOptions{})
	default:
		p.move(a, name, true)
	}
}

// grownInvitation joins, unrung, the room the peer of our answered call
// grew it into; false when ev is not that.
func (p *Phone) grownInvitation(ev signaling.RoomEvent) bool {
	a := p.cur
	if ev.Kind != signaling.RoomInvited || ev.Call == "" || ev.Status != signaling.Ringing || p.room != nil ||
		a == nil || a.ev.ID != ev.Call || a.ev.Status != signaling.Answered || ev.By != a.ev.Peer() {
		return false
	}
	p.move(a, ev.Room, false)
	return true
}

// move joins room name alongside the answered call a.
func (p *Phone) move(a *active, name string, host bool) {
	p.log.Info("moving the call into a room", "call", a.ev.ID, "room", name)
	p.emit(Grew{CallID: a.ev.ID, Room: name, Peer: a.ev.Peer(), Host: host})
	p.enterRoom(name, RoomOptions{Muted: a.muted}, &move{call: a, peer: a.ev.Peer()})
}

// growName is a new name for a room grown from a call: call-, then 8
// random lower-case letters and digits.
func growName() string { return "call-" + strings.ToLower(rand.Text()[:8]) }

// checkMove follows the move of r's call: once the room plays the peer,
// the call is hushed and the peer told; the call is hung up once the peer's
// room plays us too (or moveSilent after our room's media flowed, when the
// peer is silent to us; or moveWait after, when the peer never tells). It
// runs on the level ticker, when a slot starts playing or changes hands,
// and when the peer tells.
func (p *Phone) checkMove(r *room) {
	mv := r.move
	if mv == nil {
		return
	}
	a := mv.call
	if p.cur != a || a.ev.Status.Terminal() {
		r.move = nil // the call ended: the room goes on
		return
	}
	now := time.Now()
	if mv.flowed.IsZero() && r.sending {
		mv.flowed = now
	}
	if mv.heard.IsZero() && r.plays(mv.peer) {
		mv.heard = now
		a.media.hushed.Store(true)
		p.log.Info("the room plays the call's peer: the call is hushed", "call", a.ev.ID, "room", r.name)
		p.send(signaling.Message{Type: signaling.TypeMoved, Ref: movedRef, CallID: a.ev.ID})
	}
	since := func(t time.Time, d time.Duration) bool { return !t.IsZero() && now.Sub(t) >= d }
	if mv.peerHeard && (!mv.heard.IsZero() || since(mv.flowed, moveSilent)) || since(mv.flowed, moveWait) {
		r.move = nil
		p.log.Info("the call moved into the room: hanging up", "call", a.ev.ID, "room", r.name)
		p.send(signaling.Message{Type: signaling.TypeHangup, Ref: hangupRef, CallID: a.ev.ID,
			Reason: signaling.ReasonMovedToRoom})
	}
}

// plays tells whether the room plays user now: they are heard on a slot
// whose audio is playing.
func (r *room) plays(user string) bool {
	for i, u := range r.slots {
		if u == user && i < len(r.media.slotPlaying) && r.media.slotPlaying[i].Load() {
			return true
		}
	}
	return false
}

// peerMoved notes that the peer's room plays us (signaling.TypeMoved).
func (p *Phone) peerMoved(callID string) {
	r := p.room
	if r == nil || r.move == nil || r.move.call.ev.ID != callID {
		return
	}
	r.move.peerHeard = true
	p.checkMove(r)
}

// moveOff ends the move of r when it leaves: the call, if it goes on, is
// heard again.
func (p *Phone) moveOff(r *room) {
	if mv := r.move; mv != nil && p.cur == mv.call {
		mv.call.media.hushed.Store(false)
	}
	r.move = nil
}
