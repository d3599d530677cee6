package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Calls that outlive their connections: an answered call waits
// Config.ReconnectGrace for a participant whose connection dropped to
// resume it; a call whose owner went away with its node is adopted from
// its record by the node that hears of it first, and only one of several
// adopters at once keeps it (claim, then confirm, each a compare and set
// of the record). docs/SERVER.md tells the design.

// actAdopting hands a participant's action (a resume, a hang-up…) to the
// call's owner; when it has none, the call is adopted here from its record
// and asked again. An owner that stepped down was one of several adopters
// at once: the one that won answers a moment later.
func (c *conn) actAdopting(m signaling.Message) {
	for try := range adoptTries {
		switch c.act(m) {
		case acted:
			return
		case askAgain:
			if !c.pause(time.Duration(try+1) * 10 * time.Millisecond) {
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
		again, e := c.s.adopt(ctx, c, m)
		cancel()
		switch {
		case e != nil:
			c.refuse(e, m.Ref, m.CallID)
			return
		case !again:
			return
		}
	}
	c.refuse(signaling.Errorf(signaling.UnknownError, "call %s could not be resumed: try again", m.CallID), m.Ref,
		m.CallID)
}

// adoptTries bounds actAdopting's asks: with the pauses after an owner
// stepped down, about half a second.
const adoptTries = 10

// pause waits d, or until the connection ends (false).
func (c *conn) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// adopt takes over the call of action m from its record, for the
// participant on connection c. For a resume, a call that has ended is told
// to c as it ended, and a call that was never answered cannot be resumed
// and ends as failed; any other action adopts only an answered call. again
// means that the call has an owner now, to ask again.
func (s *Server) adopt(ctx context.Context, c *conn, m signaling.Message) (again bool, _ *signaling.Error) {
	callID, resume := m.CallID, m.Type == signaling.TypeResume
	unknown := signaling.Errorf(signaling.NoConnectedCall, "there is no call %s: it has ended or never existed", callID)
	e, err := s.callEntry(ctx, c.team, callID) // records.go
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, unknown
	}
	if err != nil {
		return false, signaling.Errorf(signaling.UnknownError, "could not read call %s: %v", callID, err)
	}
	var rec callRecord
	if json.Unmarshal(e.Value(), &rec) != nil || cmp.Or(rec.Team, DefaultTeam) != c.team ||
		(c.user != rec.From && c.user != rec.To) {
		return false, unknown
	}
	rec.key = e.Key()
	call := s.recordedCall(rec)
	dir := signaling.Inbound
	if c.user == rec.From {
		dir = signaling.Outbound
	}
	if rec.Status != signaling.Answered {
		if !resume {
			return false, unknown
		}
		if !rec.Status.Terminal() {
			// It rang when its owner went away; nobody can answer it now.
			call.rec.Status, call.rec.Reason, call.rec.Code = signaling.Failed,
				"the server restarted before the call was answered", signaling.NoConnectedDestination
			call.save()
		}
		c.send(signaling.Message{Type: signaling.TypeCallStatusChanged, Event: call.event(dir)})
		return false, nil
	}
	switch c.act(m) {
	case acted:
		return false, nil // an owner came up since the first ask, and answered
	case askAgain:
		return true, nil
	}
	if err := s.claim(ctx, call, e.Revision()); err != nil {
		return false, signaling.Errorf(signaling.UnknownError, "could not resume call %s: %v", callID, err)
	}
	return true, nil
}

// recordedCall is the call of rec, to run from where its record left it.
func (s *Server) recordedCall(rec callRecord) *call {
	cs := callSetup{id: rec.ID, from: rec.From, fromSession: rec.FromSession, to: rec.To,
		team: cmp.Or(rec.Team, DefaultTeam), link: rec.Link, waiting: rec.Waiting,
		secondMark: rec.SecondMark}
	c := s.newCall(cs, rec)
	c.answeredBy = rec.AnsweredBy
	return c
}

// claim runs the answered call c here, read from its record at revision
// rev, unless another node claimed it since (then the caller asks that
// node's owner).
func (s *Server) claim(ctx context.Context, c *call, rev uint64) error {
	c.rec.Node = s.cfg.NodeName
	b, _ := json.Marshal(c.rec)
	rev, err := s.store.Calls.Update(ctx, c.rec.storeKey(), b, rev)
	if err != nil {
		return nil // another node adopted it first
	}
	c.claim = rev
	return s.launch(c)
}

// sweep adopts the answered calls that have no owner, a grace period
// after the server starts and every orphanSweep after, until ctx ends. A
// call whose node went away (a restart, a crash) is adopted when a
// participant comes back; when neither does, this adoption fails it once
// another grace period is over, instead of leaving it answered in its
// record.
func (s *Server) sweep(ctx context.Context) {
	defer s.calls.Done()
	t := time.NewTimer(s.cfg.ReconnectGrace)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.adoptOrphans(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("could not look for calls without an owner", "err", err)
		}
		t.Reset(orphanSweep)
	}
}

// orphanSweep is how often a node looks for answered calls without an
// owner, after the first look.
const orphanSweep = 10 * time.Minute

// adoptOrphans adopts each answered call whose owner does not answer.
func (s *Server) adoptOrphans(ctx context.Context) error {
	type entry struct {
		rec callRecord
		rev uint64
	}
	var answered []entry
	err := s.eachCall(ctx, func(rec callRecord, rev uint64) {
		if rec.Status == signaling.Answered {
			answered = append(answered, entry{rec, rev})
		}
	})
	if err != nil {
		return err
	}
	for _, e := range answered {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		_, err := s.bus.nc.RequestWithContext(rctx, callSubject(e.rec.ID), []byte("{}"))
		if errors.Is(err, nats.ErrNoResponders) {
			s.log.Info("adopting a call without an owner", "call", e.rec.ID)
			err = s.claim(rctx, s.recordedCall(e.rec), e.rev)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("could not find or replace the owner of a call", "call", e.rec.ID, "err", err)
		}
	}
	return nil
}

// confirm makes the adoption of c final, or tells that another node
// claimed the call since c's claim (see above).
func (c *call) confirm() bool {
	b, _ := json.Marshal(c.rec)
	ctx, cancel := context.WithTimeout(c.s.callCtx, c.s.cfg.RequestTimeout)
	defer cancel()
	if _, err := c.s.store.Calls.Update(ctx, c.rec.storeKey(), b, c.claim); err != nil {
		c.log.Info("call adopted by another node at the same time: stepping down", "err", err)
		c.drain(func(m *nats.Msg) { reply(m, actionReply{Again: true}) })
		return false
	}
	return true
}

// resumed answers a participant's resume with the call's status and
// whether the other side is muted and holds the call (it may have changed meanwhile), to that
// session only. A call that has ended (as the participant came back, its
// resume on the way) is told as it ended, like a call without an owner.
func (c *call) resumed(a signaling.Message, isCaller bool) *signaling.Error {
	c.log.Info("call resumed", "user", a.User, "session", a.Session)
	key, session, dir, other := c.toKey(), a.Session, signaling.Inbound, c.from
	if isCaller {
		key, session, dir, other = c.fromKey(), c.fromSession, signaling.Outbound, c.to
	}
	c.deliver(key, session, signaling.Message{Type: signaling.TypeCallStatusChanged, Event: c.event(dir)})
	if c.rec.Status.Terminal() {
		return nil
	}
	muted := slices.Contains(c.rec.Muted, other)
	c.deliver(key, session, signaling.Message{Type: signaling.TypeMute, CallID: c.id, User: other, Muted: &muted})
	held := slices.Contains(c.rec.Held, other)
	c.deliver(key, session, signaling.Message{Type: signaling.TypeHold, CallID: c.id, User: other, Held: &held})
	return nil
}

// watchAbsence runs the grace period while a participant of the answered
// call is away, and stops it when both are back.
func (c *call) watchAbsence() {
	away := !c.callerHere || !c.calleeHere[store.Token(c.answeredBy)]
	switch {
	case away && !c.away:
		c.away = true
		c.grace.Reset(c.s.cfg.ReconnectGrace)
		c.log.Info("participant away: waiting for a reconnect", "grace", c.s.cfg.ReconnectGrace)
	case !away && c.away:
		c.away = false
		c.grace.Stop()
		c.log.Info("participant back")
	}
}

// graceOver ends the call whose participant did not come back in time.
func (c *call) graceOver() {
	c.away = false
	switch {
	case !c.callerHere:
		c.end(signaling.Failed, c.from+" disconnected", signaling.NoConnectedDestination)
	case !c.calleeHere[store.Token(c.answeredBy)]:
		c.end(signaling.Failed, c.to+" disconnected", signaling.NoConnectedDestination)
	}
}
