package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// roomIdle is how long the owner of a room nobody joined waits for
// someone before it lets the room go (the next join claims it again).
const roomIdle = time.Minute

// A room's owner holds it by a lease (docs/SERVER.md, "When a room's node
// freezes"): it writes the room's record at least every roomRenew, each
// write at the revision it wrote last. A node whose request the owner does
// not answer takes the room over once the record's revision stayed the same
// for roomLease (room.go, askRoom), by compare-and-set at that revision, so
// two nodes never both own it. The owner acts only within roomHold of the
// start of its last write that passed; past it (its node was frozen, or
// cut off from NATS) it writes again first, and a write that finds the
// record changed means the room was taken over: it gives it up. roomHold
// is a second short of roomLease: the margin for the taker's reads.
const (
	roomRenew = time.Second
	roomLease = 3 * time.Second
	roomHold  = roomLease - time.Second
)

// participant is someone in a room, as its owner keeps them.
type participant struct {
	id            int // in the forwarder
	user, session string
	name          string
	role          signaling.RoomRole
	listenOnly    bool // joined listen-only (a host keeps their role)
	muted         bool
	micLocked     bool // the host muted them and locked it
	joined        time.Time
	pc            *webrtc.PeerConnection
	away          time.Time   // since when their session is offline; zero while it is online
	slots         []string    // who they hear on each slot, as last told
	quality       partQuality // their connection's rating (roomquality.go)
}

// speaks tells whether they may be heard.
func (p *participant) speaks() bool {
	return p.role != signaling.RoleListener && !p.listenOnly && !p.muted
}

func (p *participant) view() signaling.Participant {
	return signaling.Participant{User: p.user, Name: p.name, Role: p.role, Muted: p.muted, MicLocked: p.micLocked,
		Joined: p.joined}
}

// room is owned by the goroutine that runs it (run), on the node that
// claimed it. It answers actions on its subject (subjectRoom), keeps the
// participants, their roles and mutes and the lock, answers their offers
// with peer connections on this node, has the forwarder carry their media,
// follows their sessions' presence, writes the room's record and sends
// room events to the participants. Pion's callbacks and the forwarder only
// post to it.
type room struct {
	s      *Server
	log    *slog.Logger
	rec    roomRecord
	rev    uint64    // rec's revision in the rooms bucket, as this owner last wrote it
	held   time.Time // when the last write of rec that passed started: the lease runs from then
	api    *webrtc.API
	sub    *nats.Subscription
	reqs   chan *nats.Msg // actions, from sub's callback
	events chan func()    // from Pion's callbacks
	done   chan struct{}  // closed when run returns
	final  roomReply      // the answer to actions once done is closed
	box    *presenceBox   // the participants' presence, from the node's feed
	fwd    *forwarder

	speakMu    sync.Mutex
	speakNext  map[int][]string // the forwarder's latest choices, by participant id
	speakReady chan struct{}    // choices are waiting

	parts   map[string]*participant // by user
	book    roomBook                // its record and invitations (roomrecords.go, roominvites.go)
	lobby   lobby                   // guests waiting to be let in (roomguests.go)
	serial  int
	joined  bool // someone joined since the owner started
	stopped bool // ended, let go or lost: run returns
	taken   bool // lost to another node: it writes nothing more
}

// startRoom starts the owner of a room this node claimed (rec, written at
// revision rev by a write that started at held) and subscribes its
// subject. Every owner of the room subscribes, not one of a queue group: a
// frozen owner, still subscribed, would get its share of the requests;
// this way the live one answers, and one that wakes up finds its lease
// lost before it acts (hold).
func (s *Server) startRoom(rec roomRecord, rev uint64, held time.Time) error {
	if !s.track(&s.calls) {
		return errShutdown
	}
	api, err := newRoomAPI(s.cfg, s.log, s.media)
	if err != nil {
		s.calls.Done()
		return err
	}
	r := &room{
		s: s, log: s.log.With("room", rec.Name, "team", rec.Team), rec: rec, rev: rev, held: held, api: api,
		reqs: make(chan *nats.Msg, 16), events: make(chan func(), 256), done: make(chan struct{}),
		box: newPresenceBox(""), speakReady: make(chan struct{}, 1), speakNext: map[int][]string{},
		parts: map[string]*participant{},
	}
	r.fwd = newForwarder(r.postSpeaking)
	r.sub, err = s.bus.nc.Subscribe(roomSubject(rec.Team, rec.Name), func(m *nats.Msg) {
		select {
		case r.reqs <- m:
		case <-r.done:
			r.answer(m, r.final)
		}
	})
	if err != nil {
		s.calls.Done()
		return fmt.Errorf("server: subscribe room %s: %w", rec.Name, err)
	}
	r.fwd.start()
	go r.run()
	return nil
}

// post hands fn to the owner's goroutine; dropped once the room is done.
func (r *room) post(fn func()) {
	select {
	case r.events <- fn:
	case <-r.done:
	}
}

// postSpeaking takes the forwarder's choice of speakers for participant
// id, on its goroutine.
func (r *room) postSpeaking(id int, slots []string) {
	r.speakMu.Lock()
	r.speakNext[id] = slots
	r.speakMu.Unlock()
	select {
	case r.speakReady <- struct{}{}:
	default:
	}
}

func (r *room) run() {
	defer r.s.calls.Done()
	defer close(r.done)
	defer r.fwd.stop()
	r.openBook()
	defer r.flushBook()
	r.log.Info("room opened here", "node", r.s.cfg.NodeName)
	endAt := time.NewTimer(time.Hour)
	endAt.Stop()
	if r.rec.End != nil {
		endAt.Reset(time.Until(*r.rec.End))
	}
	defer endAt.Stop()
	idle := time.NewTimer(roomIdle)
	defer idle.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	quality := time.NewTicker(qualityEvery)
	defer quality.Stop()
	for !r.stopped {
		select {
		case <-r.s.callCtx.Done():
			// Shutdown: the room is not ended; the next join opens it on
			// a node that runs.
			r.closeAll()
			_ = r.sub.Unsubscribe()
			r.final = roomReply{Again: true}
			r.log.Info("room left at shutdown", "participants", len(r.parts))
			return
		case m := <-r.reqs:
			switch {
			case r.hold():
				r.handle(m)
			case r.stopped: // lost: the new owner answers
				r.answer(m, r.final)
			} // else unanswered: the requester takes the room over if the lease lapses
		// What happens to the participants' media and presence is acted on
		// unless the room was lost: a write that fails for want of NATS
		// does not stop the media meanwhile.
		case fn := <-r.events:
			if r.hold() || !r.stopped {
				fn()
			}
		case <-r.speakReady:
			if r.hold() || !r.stopped {
				r.onSpeaking()
			}
		case <-r.box.ready:
			views := r.box.take()
			if r.hold() || !r.stopped {
				r.onPresence(views)
			}
		case <-tick.C:
			r.save() // renews the lease
			if r.holding() {
				r.checkAway()
				r.checkRings()
				r.flushBook()
			}
		case <-quality.C:
			if r.holding() {
				r.checkQuality() // roomquality.go
			}
		case <-endAt.C:
			if !r.hold() {
				endAt.Reset(roomRenew) // once it holds the room again, or not at all
				break
			}
			r.end(signaling.EndedTimeOver)
		case <-idle.C:
			if !r.hold() {
				idle.Reset(roomRenew)
				break
			}
			if !r.joined && len(r.parts) == 0 && !r.ringing() && len(r.lobby.wait) == 0 {
				r.letGo()
			}
		}
	}
	_ = r.sub.Unsubscribe()
	for { // what was queued before the unsubscribe
		select {
		case m := <-r.reqs:
			r.answer(m, r.final)
		default:
			return
		}
	}
}

// handle answers one action.
func (r *room) handle(m *nats.Msg) {
	var a signaling.Message
	var out roomReply
	if err := json.Unmarshal(m.Data, &a); err != nil {
		out.Error = signaling.Errorf(signaling.UnknownError, "room %s could not read the action: %v", r.rec.Name, err)
	} else {
		out = r.apply(a, m.Header.Get(hdrTeam))
	}
	r.answer(m, out)
}

func (r *room) answer(m *nats.Msg, out roomReply) {
	b, _ := json.Marshal(out)
	_ = m.Respond(b) // the requester gave up: nothing to do
}

// apply carries out an action of a.User (of team), or says why not.
func (r *room) apply(a signaling.Message, team string) roomReply {
	fail := func(e *signaling.Error) roomReply { return roomReply{Error: e} }
	if team != r.rec.Team {
		return fail(noRoom(r.rec.Name))
	}
	switch a.Type {
	case typeRoomShow:
		v := r.rec.view()
		v.Participants = r.list()
		return roomReply{Room: &v}
	case signaling.TypeRoomJoin:
		return fail(r.join(a))
	case typeRoomRing:
		r.ring()
		return roomReply{}
	case signaling.TypeRoomEnd:
		if e := mayEnd(r.rec, a); e != nil {
			return fail(e)
		}
		r.log.Info("room ended by", "user", a.User)
		r.end(signaling.EndedByHost)
		return roomReply{}
	}
	if out, ok := r.lobbyAction(a); ok {
		return out
	}
	me := r.parts[a.User]
	if me == nil && a.Type == signaling.TypeRoomLeave && r.decline(a.User) { // roominvites.go
		return roomReply{}
	}
	if me == nil || me.session != a.Session {
		return fail(signaling.Errorf(signaling.NotFoundUserSessionID,
			"you are not in room %s: join it with `parley join %s`", r.rec.Name, r.rec.Name))
	}
	switch a.Type {
	case signaling.TypeRoomLeave:
		r.remove(me, signaling.LeftLeft, "")
	case signaling.TypeRoomMute:
		return fail(r.mute(me, a))
	case signaling.TypeRoomRemove:
		if e := r.hostOnly(me, "remove someone"); e != nil {
			return fail(e)
		}
		t := r.parts[a.Target]
		switch {
		case a.Target == me.user:
			return fail(signaling.Errorf(signaling.InvalidParameter,
				"you cannot remove yourself: leave the room, or end it for everyone"))
		case t == nil:
			return fail(r.notHere(a.Target))
		}
		r.log.Info("participant removed", "user", t.user, "by", me.user)
		r.remove(t, signaling.LeftRemoved, me.user)
	case signaling.TypeRoomLock:
		if e := r.hostOnly(me, "lock or unlock it"); e != nil {
			return fail(e)
		}
		r.rec.Locked = *a.Locked
		r.save()
		locked := r.rec.Locked
		r.noteLocked(me.user, locked)
		r.broadcast(signaling.RoomEvent{Kind: signaling.RoomLocked, By: me.user, Locked: &locked}, nil)
	case signaling.TypeRoomAdmit, signaling.TypeRoomDeny:
		return fail(r.letIn(me, a))
	default:
		return fail(signaling.Errorf(signaling.InvalidParameter, "%.40q is not an action on a room", string(a.Type)))
	}
	return roomReply{}
}

// hostOnly refuses an action only the host may take.
func (r *room) hostOnly(me *participant, what string) *signaling.Error {
	if me.role == signaling.RoleHost {
		return nil
	}
	return signaling.Errorf(signaling.PermissionDenied, "only the host of room %s (%s) can %s: ask them", r.rec.Name,
		r.rec.Host, what)
}

func (r *room) notHere(user string) *signaling.Error {
	return signaling.Errorf(signaling.NotFoundUserSessionID,
		"%s is not in room %s: see who is with `parley room show %s`", user, r.rec.Name, r.rec.Name)
}

// join lets a.User in: checks, then a peer connection answering the
// offer; the joiner is told with joined (the answer in sdp), the others
// with participant_joined.
func (r *room) join(a signaling.Message) *signaling.Error {
	if a.Role == RoleGuest {
		if e, done := r.guestJoins(a); done { // roomguests.go
			return e
		}
	}
	now := time.Now().UTC()
	name := r.rec.Name
	seat, back := r.rec.Seats[a.User] // in the room before it moved, or before their connection dropped
	switch old := r.parts[a.User]; {
	case r.rec.over(now):
		return roomOver(r.rec)
	case r.rec.Start != nil && now.Before(r.rec.Start.Add(-sessionEarly)):
		return signaling.Errorf(signaling.PermissionDenied,
			"room %s opens at %s; you may join from %v before: join then", name,
			r.rec.Start.Format("2006-01-02 15:04 MST"), sessionEarly)
	case old != nil && old.session != a.Session:
		return signaling.Errorf(signaling.AlreadyConnectedSession,
			"you are in room %s from another session: leave it there first", name)
	case old != nil: // the same session joins again: its media starts afresh
		r.remove(old, "", "")
	case r.rec.Locked && a.User != r.rec.Host && !back:
		return signaling.Errorf(signaling.PermissionDenied, "room %s is locked: ask its host (%s) to unlock it",
			name, r.rec.Host)
	case len(r.parts) >= r.s.cfg.roomLimit:
		return signaling.Errorf(signaling.AlreadyBusyCall,
			"room %s is full (%d people, the most a room holds): try again when someone leaves", name,
			r.s.cfg.roomLimit)
	}
	r.serial++
	id := r.serial
	p := &participant{id: id, user: a.User, session: a.Session, name: a.Name, role: signaling.RoleMember,
		listenOnly: a.ListenOnly, muted: a.Muted != nil && *a.Muted || seat.Muted, micLocked: seat.Locked,
		joined: now}
	switch {
	case a.User == r.rec.Host:
		p.role = signaling.RoleHost
	case a.Role == RoleGuest:
		p.role = signaling.RoleGuest
	case a.ListenOnly:
		p.role = signaling.RoleListener
	}
	ctx, cancel := context.WithTimeout(r.s.callCtx, r.s.cfg.RequestTimeout)
	defer cancel()
	peer, answer, err := newRoomPeer(ctx, r.api, a.SDP,
		func(tr *webrtc.TrackRemote, rc *webrtc.RTPReceiver) { r.post(func() { r.trackArrived(id, tr, rc) }) },
		func(st webrtc.PeerConnectionState) { r.post(func() { r.peerState(id, st) }) })
	if err != nil {
		r.log.Info("could not answer an offer", "user", a.User, "err", err)
		return signaling.AsError(err)
	}
	p.pc = peer.pc
	peer.readRTCP()
	r.parts[p.user] = p
	r.joined = true
	user, speak := p.user, p.speaks()
	r.fwd.do(func() { r.fwd.add(id, user, speak, peer.extID, peer.slots) })
	r.s.feed.followBox(r.s.callCtx, r.box, store.UserKey(r.rec.Team, p.user))
	r.log.Info("participant joined", "user", p.user, "session", p.session, "role", p.role)
	r.to(p, signaling.Message{Type: signaling.TypeRoomEvent, Ref: a.Ref, SDP: answer,
		RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomJoined, User: p.user, Name: p.name, Role: p.role,
			Participants: r.list()})})
	r.broadcast(signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: p.user, Name: p.name, Role: p.role},
		p)
	r.noteJoined(p) // roomrecords.go
	r.seat(p.user, seat, true)
	r.tellKnocks(p)
	r.tellInvites(p) // roominvites.go
	return nil
}

// mute changes the mute of me or (the host's) of a.Target.
func (r *room) mute(me *participant, a signaling.Message) *signaling.Error {
	muted := *a.Muted
	t := me
	if a.Target != "" && a.Target != me.user {
		if e := r.hostOnly(me, "mute others"); e != nil {
			return e
		}
		if t = r.parts[a.Target]; t == nil {
			return r.notHere(a.Target)
		}
		t.micLocked = muted && a.Locked != nil && *a.Locked
	} else if !muted && me.micLocked {
		return signaling.Errorf(signaling.PermissionDenied,
			"the host of room %s (%s) muted you and locked your microphone: ask them to unmute you", r.rec.Name,
			r.rec.Host)
	}
	t.muted = muted
	r.noteMuted(t, me.user)
	switch {
	case t != me:
		r.seat(t.user, roomSeat{Muted: muted, Locked: t.micLocked}, true)
	case !muted: // their own unmute: the host's mute is over
		r.seat(t.user, roomSeat{}, true)
	}
	speak, id := t.speaks(), t.id
	r.fwd.do(func() { r.fwd.setSpeak(id, speak) })
	e := signaling.RoomEvent{Kind: signaling.RoomMuted, User: t.user, Name: t.name, By: me.user, Muted: &muted}
	if t.micLocked {
		locked := true
		e.Locked = &locked
	}
	r.broadcast(e, nil)
	return nil
}

// remove takes p out of the room, for reason (signaling.LeftLeft and so
// on; "" for a session that joins again), by whom; the room ends when the
// last one leaves.
func (r *room) remove(p *participant, reason, by string) {
	delete(r.parts, p.user)
	id := p.id
	r.fwd.do(func() { r.fwd.remove(id) })
	r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, p.user))
	if r.s.track(&r.s.calls) { // closing takes a moment: the room goes on meanwhile
		go func() {
			defer r.s.calls.Done()
			_ = p.pc.Close()
		}()
	} else {
		_ = p.pc.Close()
	}
	if reason == "" {
		return
	}
	r.log.Info("participant left", "user", p.user, "reason", reason)
	r.noteLeft(p, reason, by)
	if reason != signaling.LeftDisconnected { // one whose connection dropped may come back
		r.seat(p.user, roomSeat{}, false)
	}
	if reason == signaling.LeftRemoved {
		r.to(p, signaling.Message{Type: signaling.TypeRoomEvent,
			RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomRemoved, User: p.user, By: by})})
	}
	r.broadcast(signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: p.user, Name: p.name, Reason: reason,
		By: by}, nil)
	if len(r.parts) == 0 {
		r.end(signaling.EndedEmpty)
	}
}

// trackArrived starts reading a participant's microphone.
func (r *room) trackArrived(id int, tr *webrtc.TrackRemote, rc *webrtc.RTPReceiver) {
	if r.byID(id) == nil {
		return
	}
	go r.fwd.read(id, tr, receiverExtID(rc))
}

// peerState follows a participant's peer connection: failed or closed,
// they are gone.
func (r *room) peerState(id int, st webrtc.PeerConnectionState) {
	p := r.byID(id)
	if p == nil {
		return
	}
	r.log.Debug("participant media", "user", p.user, "state", st.String())
	if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
		r.remove(p, signaling.LeftDisconnected, "")
	}
}

func (r *room) byID(id int) *participant {
	for _, p := range r.parts {
		if p.id == id {
			return p
		}
	}
	return nil
}

// onPresence notes the participants whose session went offline, and those
// back.
func (r *room) onPresence(views map[string]presenceView) {
	now := time.Now()
	for _, p := range r.parts {
		v, ok := views[store.UserKey(r.rec.Team, p.user)]
		switch {
		case !ok:
		case v.has(store.Token(p.session)):
			p.away = time.Time{}
		case p.away.IsZero():
			p.away = now
		}
	}
	r.lobbyPresence(views, now)
}

// checkAway removes the participants whose session stayed offline for the
// reconnect grace.
func (r *room) checkAway() {
	r.lobbyAway()
	for _, p := range r.parts {
		if !p.away.IsZero() && time.Since(p.away) > r.s.cfg.ReconnectGrace {
			r.remove(p, signaling.LeftDisconnected, "")
			if r.stopped {
				return
			}
		}
	}
}

// onSpeaking tells participants of who they hear now on each slot.
func (r *room) onSpeaking() {
	r.speakMu.Lock()
	next := r.speakNext
	r.speakNext = map[int][]string{}
	r.speakMu.Unlock()
	for id, slots := range next {
		p := r.byID(id)
		if p == nil || slices.Equal(slots, p.slots) {
			continue
		}
		p.slots = slots
		r.to(p, signaling.Message{Type: signaling.TypeRoomEvent,
			RoomEvent: r.event(signaling.RoomEvent{Kind: signaling.RoomSpeaking, Slots: slots})})
	}
}

// end ends the room for everyone, for reason.
func (r *room) end(reason string) {
	now := time.Now().UTC()
	r.rec.Status, r.rec.Ended, r.rec.Reason, r.rec.Seats = roomEnded, &now, reason, nil
	r.save()
	if r.taken {
		return
	}
	r.log.Info("room ended", "reason", reason)
	r.noteEnded(now, reason)
	r.broadcast(signaling.RoomEvent{Kind: signaling.RoomEnded, Reason: reason}, nil)
	r.closeLobby(reason)
	r.closeAll()
	// Those who ask meanwhile are sent to the record, which answers as it
	// does with no owner: the room as it ended for a show, "has ended"
	// for the rest.
	r.final = roomReply{Again: true}
	r.stopped = true
}

// letGo stops owning a room nobody joined.
func (r *room) letGo() {
	r.rec.Node = ""
	r.save()
	r.final = roomReply{Again: true}
	r.stopped = true
	r.log.Info("room let go: nobody joined", "after", roomIdle)
}

// seat keeps user's seat in the room's record (in the room, or out of it),
// and writes the record when it changed.
func (r *room) seat(user string, seat roomSeat, in bool) {
	if old, was := r.rec.Seats[user]; was == in && (!in || old == seat) {
		return
	}
	if in {
		if r.rec.Seats == nil {
			r.rec.Seats = map[string]roomSeat{}
		}
		r.rec.Seats[user] = seat
	} else {
		delete(r.rec.Seats, user)
	}
	r.save()
}

// closeAll closes every participant's peer connection.
func (r *room) closeAll() {
	for _, p := range r.parts {
		r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, p.user))
		_ = p.pc.Close()
	}
	clear(r.parts)
}

// save writes the room's record at the revision it last wrote, which
// renews the owner's lease. A write refused because the record changed
// means another node took the room over (unless the change was this
// owner's own write, which passed although its answer was lost: mine): the
// owner gives it up (lost). Any other failure is logged, the room goes on
// (and the lease runs out unless a later write passes).
func (r *room) save() {
	for try := 0; !r.taken; try++ {
		start := time.Now()
		rev, err := r.s.saveRoom(context.Background(), r.rec, r.rev)
		switch {
		case err == nil:
			r.rev, r.held = rev, start
			return
		case !store.LostRace(err):
			r.log.Warn("could not save the room record", "err", err)
			return
		case try > 0 || !r.mine():
			r.lost()
			return
		}
	}
}

// mine tells whether the record, whose write was refused, is still this
// owner's claim (a write of its own passed unanswered), and if so goes on
// from its revision.
func (r *room) mine() bool {
	rec, rev, found, err := r.s.readRoom(context.Background(), r.rec.Team, r.rec.Name)
	if err != nil || !found || rec.Node != r.rec.Node || !rec.Claimed.Equal(r.rec.Claimed) {
		return false
	}
	r.rev = rev
	return true
}

// holding tells whether the owner holds the room: within roomHold of the
// start of its last write that passed.
func (r *room) holding() bool { return !r.stopped && time.Since(r.held) < roomHold }

// hold tells whether the owner holds the room, writing the record first
// when its last write is too old (the node was frozen, or NATS slow): that
// write, refused, finds the room lost.
func (r *room) hold() bool {
	if !r.holding() && !r.stopped {
		r.save()
	}
	return r.holding()
}

// lost gives up a room another node took over while this one did not
// renew its lease (frozen, or cut off from NATS): its participants' peer
// connections close, so their clients join again, which reaches the new
// owner. Nothing is written: the record and the room's history are the new
// owner's now.
func (r *room) lost() {
	r.log.Warn("room lost to another node: giving it up", "participants", len(r.parts),
		"unrenewed", time.Since(r.held).Round(time.Millisecond))
	r.closeAll()
	for user := range r.lobby.wait { // their knocks are lost: they knock again
		r.s.feed.unfollowBox(r.box, store.UserKey(r.rec.Team, user))
	}
	clear(r.lobby.wait)
	r.taken = true
	r.final = roomReply{Again: true}
	r.stopped = true
}

// list is everyone in the room, in the order they joined.
func (r *room) list() []signaling.Participant {
	out := make([]signaling.Participant, 0, len(r.parts))
	for _, p := range r.parts {
		out = append(out, p.view())
	}
	slices.SortFunc(out, func(a, b signaling.Participant) int { return a.Joined.Compare(b.Joined) })
	return out
}

// event fills in the room and the time of an event.
func (r *room) event(e signaling.RoomEvent) *signaling.RoomEvent {
	e.Room, e.Time = r.rec.Name, time.Now().UTC()
	return &e
}

// broadcast sends an event to everyone in the room but except.
func (r *room) broadcast(e signaling.RoomEvent, except *participant) {
	m := signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(e)}
	for _, p := range r.parts {
		if p != except {
			r.to(p, m)
		}
	}
}

// to sends a message to a participant's session.
func (r *room) to(p *participant, m signaling.Message) {
	if err := r.s.deliver(store.UserKey(r.rec.Team, p.user), p.session, m); err != nil {
		r.log.Error("deliver", "user", p.user, "type", m.Type, "err", err)
	}
}
