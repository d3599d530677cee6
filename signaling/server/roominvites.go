package server

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Invitations (docs/PROTOCOL.md, "Invitations"): a room made with invited
// members rings each of them at its start (at once when it has none), as a
// call rings its callee: a room_event "invited" with status ringing goes
// to all of the member's sessions. Joining the room answers it;
// room_leave while it rings rejects it; after Config.RingTimeout it is
// unanswered. Each status goes to the member's sessions (so that their
// other devices stop ringing) and to the participants, and into the
// room's record. The room's owner rings, once (roomRecord.Rung): the node
// that made the room asks it to at the start (ringAt), and every node
// looks for rooms whose start passed unrung (ringSweep), for a node that
// restarted or died in between.

// typeRoomRing asks a room's owner to ring its invited members; an
// unowned room is claimed for it, as for a join. It is the server's own:
// clients cannot send it (signaling.DecodeClient).
const typeRoomRing signaling.Type = "room_ring"

const (
	ringSweepEvery = 15 * time.Second // how often each node looks for rooms to ring
	ringLate       = 10 * time.Minute // a room whose start is older is not rung any more
)

// ringsAt is when a room's invited members are rung.
func (rec roomRecord) ringsAt() time.Time {
	if rec.Start != nil {
		return *rec.Start
	}
	return rec.Created
}

// dueToRing tells whether a room's invited members should be rung now.
func (rec roomRecord) dueToRing(now time.Time) bool {
	at := rec.ringsAt()
	return len(rec.Invited) > 0 && rec.Rung == nil && !rec.over(now) && !now.Before(at) && now.Sub(at) < ringLate
}

// ringAt rings rec's invited members at its start: at once when that is
// now, else from a timer of this node.
func (s *Server) ringAt(rec roomRecord) {
	if len(rec.Invited) == 0 {
		return
	}
	d := time.Until(rec.ringsAt())
	if d <= 0 {
		s.ringRoom(s.callCtx, rec.Team, rec.Name)
		return
	}
	if !s.track(&s.calls) {
		return
	}
	go func() {
		defer s.calls.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			s.ringRoom(s.callCtx, rec.Team, rec.Name)
		case <-s.callCtx.Done():
		}
	}()
}

// ringRoom asks a room's owner to ring its invited members.
func (s *Server) ringRoom(ctx context.Context, team, name string) {
	r, e := s.roomRequest(ctx, team, signaling.Message{Type: typeRoomRing, Room: name})
	if e == nil {
		e = r.Error
	}
	if e != nil && ctx.Err() == nil {
		s.log.Warn("could not ring a room's invited members", "room", name, "team", team, "err", e.Message)
	}
}

// ringSweep rings, every ringSweepEvery, the rooms whose start passed and
// whose invited members were not rung.
func (s *Server) ringSweep(ctx context.Context) {
	defer s.calls.Done()
	t := time.NewTicker(cmp.Or(s.cfg.ringSweep, ringSweepEvery))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var due []roomRecord
		_, err := s.store.Scan(ctx, store.BucketRooms, nil, func(_ string, m *jetstream.RawStreamMsg) {
			var rec roomRecord
			if json.Unmarshal(m.Data, &rec) == nil && rec.dueToRing(now) {
				due = append(due, rec)
			}
		})
		if err != nil {
			s.log.Debug("ring sweep: could not read the rooms", "err", err)
			continue
		}
		for _, rec := range due {
			s.ringRoom(ctx, rec.Team, rec.Name)
		}
	}
}

// ring rings the room's invited members who are not in it, once.
func (r *room) ring() {
	if r.rec.Rung != nil {
		return
	}
	now := time.Now().UTC()
	r.rec.Rung = &now
	r.save()
	for _, u := range r.rec.Invited {
		if r.parts[u] != nil {
			continue
		}
		r.book.legs[u] = now
		r.book.rang = true
		r.invited(u, signaling.Ringing, "")
		r.log.Info("invited member rung", "user", u)
	}
}

// ringing tells whether an invitation is ringing.
func (r *room) ringing() bool { return len(r.book.legs) > 0 }

// invited records u's invitation in status st (for reason), and tells u's
// sessions and the participants.
func (r *room) invited(u string, st signaling.Status, reason string) {
	now := time.Now().UTC()
	h := &r.book.hist
	i := slices.IndexFunc(h.Invited, func(x signaling.RoomInvite) bool { return x.User == u })
	if i < 0 {
		h.Invited = append(h.Invited, signaling.RoomInvite{User: u})
		i = len(h.Invited) - 1
	}
	h.Invited[i].Status, h.Invited[i].Time = st, &now
	r.note(signaling.RoomEntry{Event: signaling.EntryInvited, Time: now, User: u, By: r.rec.Host, Status: st,
		Reason: reason}, len(r.parts))
	e := signaling.RoomEvent{Kind: signaling.RoomInvited, User: u, By: r.rec.Host, Status: st, Reason: reason,
		Call: r.rec.Call}
	m := signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: r.event(e)}
	if err := r.s.deliver(store.UserKey(r.rec.Team, u), "", m); err != nil {
		r.log.Error("deliver", "user", u, "type", m.Type, "err", err)
	}
	r.broadcast(e, r.parts[u]) // u's sessions have it
}

// answered notes the join of an invited member whose invitation rings.
func (r *room) answered(u string) {
	if _, ok := r.book.legs[u]; ok {
		delete(r.book.legs, u)
		r.invited(u, signaling.Answered, "")
	}
}

// decline rejects u's invitation when it rings (their room_leave); false
// when it does not.
func (r *room) decline(u string) bool {
	if _, ok := r.book.legs[u]; !ok {
		return false
	}
	delete(r.book.legs, u)
	r.log.Info("invitation rejected", "user", u)
	r.invited(u, signaling.Rejected, ReasonDeclined)
	r.idleAfterRings()
	return true
}

// checkRings ends the invitations that rang for Config.RingTimeout:
// unanswered.
func (r *room) checkRings() {
	now := time.Now()
	for _, u := range r.legUsers() {
		if now.Sub(r.book.legs[u]) >= r.s.cfg.RingTimeout {
			delete(r.book.legs, u)
			r.log.Info("invitation unanswered", "user", u)
			r.invited(u, signaling.Unanswered, ReasonNoAnswer)
		}
	}
	r.idleAfterRings()
}

// stopRings ends every invitation still ringing in status st.
func (r *room) stopRings(st signaling.Status, reason string) {
	for _, u := range r.legUsers() {
		delete(r.book.legs, u)
		r.invited(u, st, reason)
	}
}

// legUsers are the users whose invitation rings, in order.
func (r *room) legUsers() []string {
	out := make([]string, 0, len(r.book.legs))
	for u := range r.book.legs {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// idleAfterRings lets the room go once its invitations rang out and nobody
// joined it (the next join opens it again).
func (r *room) idleAfterRings() {
	if r.book.rang && !r.ringing() && !r.joined && len(r.parts) == 0 && !r.stopped {
		r.letGo()
	}
}

// tellInvites tells the host who joins, after their joined, the status of
// each invitation so far: those who were rung, answered or not, before
// the host was in the room (`parley call bob carol` rings them as it
// makes the room, and they may join before the host does).
func (r *room) tellInvites(p *participant) {
	if p.role != signaling.RoleHost {
		return
	}
	for _, inv := range r.book.hist.Invited {
		if inv.Status == "" {
			continue // not rung yet (a session that starts later)
		}
		reason := ""
		switch inv.Status {
		case signaling.Rejected:
			reason = ReasonDeclined
		case signaling.Unanswered:
			reason = ReasonNoAnswer
		}
		e := r.event(signaling.RoomEvent{Kind: signaling.RoomInvited, User: inv.User, By: r.rec.Host,
			Status: inv.Status, Reason: reason, Call: r.rec.Call})
		if inv.Time != nil {
			e.Time = *inv.Time
		}
		r.to(p, signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: e})
	}
}
