package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Reasons a call ends with, besides a client's own fail reason.
const (
	ReasonCanceled = "canceled"               // the caller hung up before an answer
	ReasonNoAnswer = signaling.ReasonNoAnswer // RingTimeout passed, or the caller's
	ReasonDeclined = "declined"               // the callee rejected (or hung up before answering)
	ReasonFailed   = "failed"                 // a fail without a reason
	// Dials refused because of the callee, recorded for both (history.go).
	ReasonOffline = "offline"            // the callee had no session
	ReasonBusy    = signaling.ReasonBusy // the callee was in another call
	ReasonDND     = "do not disturb"     // the callee had set do not disturb
)

// callSetup is what dial hands to startCall: a checked dial whose users are
// marked busy (at these revisions).
type callSetup struct {
	id, from, fromSession, to string
	team                      string // both parties'
	fromName, toName          string // display names
	ref, offer                string
	fromBusy, toBusy          uint64
	waiting                   bool   // the callee was in another call: it rings as a waiting call
	secondMark                bool   // the callee's busy mark is their WaitingKey
	link                      string // the guest link the caller came through, by key; "" for most calls
}

// fromKey and toKey are the parties' userKeys.
func (cs callSetup) fromKey() string { return store.UserKey(cs.team, cs.from) }
func (cs callSetup) toKey() string   { return store.UserKey(cs.team, cs.to) }

// toBusyKey is the key of the callee's busy mark: their second for a
// waiting call.
func (cs callSetup) toBusyKey() string {
	if cs.secondMark {
		return store.WaitingKey(cs.toKey())
	}
	return cs.toKey()
}

// busyMark is a busy mark taken for a callee.
type busyMark struct {
	key     string
	rev     uint64
	waiting bool // the callee is in another call
	second  bool // key is their WaitingKey
}

// busyRefusal is the refusal of a dial to someone who cannot take it.
func busyRefusal(user string) *signaling.Error {
	return signaling.Errorf(signaling.AlreadyBusyCall, "%s is in another call: wait for the other call to end", user)
}

// markCallee marks the callee with userKey key busy with call id. Someone
// in a call gets their second mark, for a call that rings as a waiting
// call, unless they turned call waiting off; someone in two calls, or in
// one with waiting off, is busy: jetstream.ErrKeyExists. A first mark
// taken while the second is held (the first call ended, the waiting one
// goes on) is a waiting call too: at most two calls at once.
func (s *Server) markCallee(ctx context.Context, key, id string) (busyMark, error) {
	rev, err := s.store.Busy.Create(ctx, key, []byte(id))
	if err == nil {
		m := busyMark{key: key, rev: rev}
		if _, err := s.store.Busy.Get(ctx, store.WaitingKey(key)); err == nil {
			m.waiting = true
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.releaseBusy(key, rev)
			return busyMark{}, err
		}
		return m, s.mayWait(ctx, key, m)
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return busyMark{}, err
	}
	m := busyMark{key: store.WaitingKey(key), waiting: true, second: true}
	if err := s.mayWait(ctx, key, m); err != nil {
		return busyMark{}, err
	}
	if m.rev, err = s.store.Busy.Create(ctx, m.key, []byte(id)); err != nil {
		return busyMark{}, err
	}
	return m, nil
}

// busyNow reports whether a dial to the user with userKey key would be
// refused as busy now (see markCallee); a failure to find out is not busy:
// the dial finds out.
func (s *Server) busyNow(ctx context.Context, key string) bool {
	if _, err := s.store.Busy.Get(ctx, key); err != nil {
		return false
	}
	if _, err := s.store.Busy.Get(ctx, store.WaitingKey(key)); err == nil {
		return true
	}
	st, err := s.manualState(ctx, key)
	return err == nil && st.NoWaiting
}

// mayWait refuses (jetstream.ErrKeyExists, as busy) a waiting call m to
// the user with userKey key who turned call waiting off, releasing m.
func (s *Server) mayWait(ctx context.Context, key string, m busyMark) error {
	if !m.waiting {
		return nil
	}
	st, err := s.manualState(ctx, key)
	if err == nil && st.NoWaiting {
		err = jetstream.ErrKeyExists
	}
	if err != nil {
		s.releaseBusy(m.key, m.rev)
	}
	return err
}

// actionReply is a call owner's answer to an action: nothing, a refusal,
// or (from an owner that stepped down, resume.go) ask again.
type actionReply struct {
	Error *signaling.Error `json:"error,omitempty"`
	Again bool             `json:"again,omitempty"`
}

// callRecord is the value of a key in the calls bucket.
type callRecord struct {
	ID          string           `json:"id"`
	Team        string           `json:"team,omitempty"`
	From        string           `json:"from"`
	FromSession string           `json:"from_session"`
	To          string           `json:"to"`
	FromName    string           `json:"from_name,omitempty"` // display names at the dial, for the history
	ToName      string           `json:"to_name,omitempty"`
	AnsweredBy  string           `json:"answered_by,omitempty"`
	Status      signaling.Status `json:"status"`
	Reason      string           `json:"reason,omitempty"`
	Code        signaling.Code   `json:"code,omitempty"`
	Node        string           `json:"node"`
	Started     time.Time        `json:"started"`
	Answered    *time.Time       `json:"answered,omitempty"`
	Ended       *time.Time       `json:"ended,omitempty"`
	Statuses    []statusChange   `json:"statuses,omitempty"`    // every status with its time (records.go)
	Link        string           `json:"link,omitempty"`        // the guest link's key, for a guest's call (links.go)
	Muted       []string         `json:"muted,omitempty"`       // the participants muted now, told to one who resumes
	Held        []string         `json:"held,omitempty"`        // the participants holding the call now, likewise
	Waiting     bool             `json:"waiting,omitempty"`     // it rang as a waiting call
	SecondMark  bool             `json:"second_mark,omitempty"` // the callee's busy mark is their WaitingKey
	key         string           // its key in the calls bucket, when read from there (records.go: storeKey)
}

// call is owned by the goroutine that runs it, on the node where it was
// dialed. It answers actions on parley.call.<id>, follows both parties'
// presence, runs the ring timer, keeps the busy marks alive, writes the
// call record and sends every status change to both parties.
type call struct {
	callSetup
	s    *Server
	log  *slog.Logger
	sub  *nats.Subscription
	reqs chan *nats.Msg // actions, from sub's callback
	done chan struct{}  // closed when run returns
	box  *presenceBox   // the parties' presence, from the node's feed

	rec        callRecord
	answeredBy string          // the callee's session that answered
	callerHere bool            // the caller's session is online
	calleeHere map[string]bool // the callee's online sessions, by key token
	ring       *time.Timer
	claim      uint64      // the record's revision that adopted the call here, after its owner went away (resume.go)
	grace      *time.Timer // running while a participant of the answered call is away
	away       bool        // grace is running
	candidates [2]int      // relayed so far, from the caller and from the callee
}

// startCall subscribes the call's subject and watches its parties'
// presence, so that the call is reachable before anyone hears of it, then
// runs it.
func (s *Server) startCall(cs callSetup) error {
	return s.launch(s.newCall(cs, callRecord{
		ID: cs.id, Team: cs.team, From: cs.from, FromSession: cs.fromSession, To: cs.to,
		FromName: cs.fromName, ToName: cs.toName,
		Status: signaling.Started, Node: s.cfg.NodeName, Started: time.Now().UTC(), Link: cs.link,
		Waiting: cs.waiting, SecondMark: cs.secondMark,
	}))
}

func (s *Server) newCall(cs callSetup, rec callRecord) *call {
	return &call{
		callSetup:  cs,
		s:          s,
		log:        s.log.With("call", cs.id, "from", cs.from, "to", cs.to),
		reqs:       make(chan *nats.Msg, 16),
		done:       make(chan struct{}),
		calleeHere: map[string]bool{},
		box:        newPresenceBox(""),
		rec:        rec,
	}
}

// launch subscribes the call's subject and follows its parties' presence,
// so that the call is reachable before anyone hears of it, then runs it.
func (s *Server) launch(c *call) error {
	if !s.track(&s.calls) {
		return errShutdown
	}
	if !s.feed.followBox(s.callCtx, c.box, c.fromKey(), c.toKey()) {
		s.calls.Done()
		return errShutdown
	}
	if err := c.subscribe(); err != nil {
		s.feed.unfollowBox(c.box, c.fromKey(), c.toKey())
		s.calls.Done()
		return fmt.Errorf("server: subscribe call %s: %w", c.id, err)
	}
	go c.run()
	return nil
}

// subscribe subscribes the call's subject: the actions queue for run. It
// is a queue group: while two nodes that adopted the call at once find out
// which owns it (resume.go), each action goes to one of them.
func (c *call) subscribe() (err error) {
	c.sub, err = c.s.bus.nc.QueueSubscribe(callSubject(c.id), "owner", func(m *nats.Msg) {
		select {
		case c.reqs <- m:
		case <-c.done:
			respond(m, signaling.Errorf(signaling.NoConnectedCall, "call %s has ended", c.id))
		}
	})
	return err
}

// run is the call's owner loop.
func (c *call) run() {
	defer c.s.calls.Done()
	defer close(c.done)
	defer c.s.feed.unfollowBox(c.box, c.fromKey(), c.toKey())
	ringFor := c.s.cfg.RingTimeout
	if c.link != "" {
		ringFor = c.s.cfg.LobbyTimeout // a guest waits in the lobby
	}
	c.ring = time.NewTimer(ringFor)
	defer c.ring.Stop()
	hb := time.NewTicker(c.s.cfg.Heartbeat)
	defer hb.Stop()

	c.grace = time.NewTimer(time.Hour)
	c.grace.Stop()
	defer c.grace.Stop()
	if c.claim != 0 {
		if !c.confirm() {
			return
		}
		c.ring.Stop()
		c.refreshBusy() // the busy marks went with the old owner's NATS
		// confirm saved the record.
		c.log.Info("call adopted", "status", c.rec.Status)
	} else {
		c.save()
		c.log.Info("call started", "session", c.fromSession)
		c.toCaller(signaling.Message{Type: signaling.TypeCall, Ref: c.ref, Event: c.event(signaling.Outbound)})
		c.toCallee(signaling.Message{Type: signaling.TypeCall, SDP: c.offer, Event: c.event(signaling.Inbound)}, "")
	}

	for !c.rec.Status.Terminal() {
		select {
		case <-c.s.callCtx.Done():
			// Graceful shutdown: the call is not failed, its media may go
			// on; it is only no longer signaled.
			_ = c.sub.Unsubscribe()
			c.releaseBusy()
			c.log.Info("call left at shutdown", "status", c.rec.Status)
			return
		case m := <-c.reqs:
			c.handle(m)
		case <-c.box.ready:
			c.onPresence(c.box.take())
		case <-c.ring.C:
			c.end(signaling.Unanswered, ReasonNoAnswer, 0)
		case <-c.grace.C:
			c.graceOver()
		case <-hb.C:
			c.refreshBusy()
		}
	}
	c.drain(c.handle) // refuses what is still in flight
}

// drain unsubscribes the call's subject, and answers the actions still in
// flight with answer until none is left.
func (c *call) drain(answer func(*nats.Msg)) {
	closed := c.sub.StatusChanged(nats.SubscriptionClosed)
	if err := c.sub.Drain(); err != nil {
		_ = c.sub.Unsubscribe()
		c.answerQueued(answer)
		return
	}
	for {
		select {
		case m := <-c.reqs:
			answer(m)
		case <-closed:
			c.answerQueued(answer)
			return
		case <-c.s.callCtx.Done():
			return
		}
	}
}

// answerQueued answers the actions queued for run, once the subscription
// is closed: every callback has run, so what they queued is all there is.
func (c *call) answerQueued(answer func(*nats.Msg)) {
	for {
		select {
		case m := <-c.reqs:
			answer(m)
		default:
			return
		}
	}
}

// handle answers one action.
func (c *call) handle(m *nats.Msg) {
	var a signaling.Message
	if err := json.Unmarshal(m.Data, &a); err != nil {
		respond(m, signaling.Errorf(signaling.UnknownError, "call %s could not read the action: %v", c.id, err))
		return
	}
	respond(m, c.apply(a, m.Header.Get(hdrTeam)))
}

func respond(m *nats.Msg, e *signaling.Error) {
	reply(m, actionReply{Error: e})
}

func reply(m *nats.Msg, r actionReply) {
	b, _ := json.Marshal(r)
	_ = m.Respond(b) // the requester gave up: nothing to do
}

// apply carries out an action of a participant, or says why not. The
// participant is a.User of team (a user of another team with the same id
// is someone else).
func (c *call) apply(a signaling.Message, team string) *signaling.Error {
	ours := team == c.team
	isCaller := ours && a.User == c.from && a.Session == c.fromSession
	isCallee := ours && a.User == c.to && (c.answeredBy == "" || a.Session == c.answeredBy)
	switch {
	case isCaller || isCallee:
	case !ours:
		return signaling.Errorf(signaling.NoConnectedCall, "you are not part of call %s", c.id)
	case a.User == c.to:
		return signaling.Errorf(signaling.NoConnectedCall, "call %s was answered on another of your devices", c.id)
	case a.User == c.from:
		return signaling.Errorf(signaling.NoConnectedCall, "call %s was placed from another of your sessions", c.id)
	default:
		return signaling.Errorf(signaling.NoConnectedCall, "you are not part of call %s", c.id)
	}
	if a.Type == signaling.TypeResume {
		return c.resumed(a, isCaller) // whatever the status, even ended
	}
	st := c.rec.Status
	if st.Terminal() {
		return signaling.Errorf(signaling.NoConnectedCall, "call %s has ended (%s)", c.id, st)
	}
	notInState := func(what string) *signaling.Error {
		return signaling.Errorf(signaling.NoConnectedCall, "call %s is %s: %s", c.id, st, what)
	}
	onlyCallee := func(what string) *signaling.Error {
		return signaling.Errorf(signaling.InvalidParameter, "you placed call %s: only %s can %s", c.id, c.to, what)
	}
	switch a.Type {
	case signaling.TypeRinging:
		switch {
		case isCaller:
			return onlyCallee("report ringing")
		case st == signaling.Ringing:
			return nil // another of the callee's devices rings too
		case !signaling.CanTransition(st, signaling.Ringing):
			return notInState("it can no longer ring")
		}
		c.transition(signaling.Ringing, "")
	case signaling.TypeAnswer:
		switch {
		case isCaller:
			return onlyCallee("answer it")
		case !signaling.CanTransition(st, signaling.Answered):
			return notInState("it was already answered")
		}
		c.answeredBy = a.Session
		c.rec.AnsweredBy = a.Session
		now := time.Now().UTC()
		c.rec.Answered = &now
		c.ring.Stop()
		c.transition(signaling.Answered, a.SDP)
	case signaling.TypeReject:
		switch {
		case isCaller:
			return onlyCallee("reject it; hang up to cancel")
		case !signaling.CanTransition(st, signaling.Rejected):
			return notInState("hang up to end it")
		case a.Reason == ReasonBusy: // the callee's phone cannot take it beside their call
			c.end(signaling.Rejected, ReasonBusy, signaling.AlreadyBusyCall)
		case a.Reason == signaling.ReasonLeaveMessage: // the callee asks for a voice message (voicemail.go)
			c.end(signaling.Rejected, a.Reason, 0)
		default:
			c.end(signaling.Rejected, ReasonDeclined, 0)
		}
	case signaling.TypeHangup:
		switch {
		case st == signaling.Answered && a.Reason == signaling.ReasonMovedToRoom:
			c.end(signaling.Completed, a.Reason, 0)
		case st == signaling.Answered:
			c.end(signaling.Completed, "", 0)
		case isCaller && a.Reason == signaling.ReasonNoAnswer: // the caller's ring timeout
			c.end(signaling.Unanswered, ReasonNoAnswer, 0)
		case isCaller:
			c.end(signaling.Unanswered, ReasonCanceled, 0)
		default:
			c.end(signaling.Rejected, ReasonDeclined, 0)
		}
	case signaling.TypeFail:
		reason := a.Reason
		if reason == "" {
			reason = ReasonFailed
		}
		c.end(signaling.Failed, reason, 0)
	case signaling.TypeCandidate:
		side := 1
		if isCaller {
			side = 0
		}
		if c.candidates[side]++; c.candidates[side] > maxCandidates {
			return signaling.Errorf(signaling.InvalidParameter,
				"you sent %d candidates for call %s, the most there may be: the call has all it can use", maxCandidates,
				c.id)
		}
		m := signaling.Message{Type: signaling.TypeCandidate, CallID: c.id, Candidate: a.Candidate}
		switch {
		case isCaller:
			c.toCallee(m, c.answeredBy)
		case c.answeredBy == "":
			return notInState("answer it before sending candidates")
		default:
			c.toCaller(m)
		}
	case signaling.TypeRenegotiate:
		if st != signaling.Answered {
			return notInState("media can be renegotiated once it is answered")
		}
		m := signaling.Message{Type: signaling.TypeRenegotiate, CallID: c.id, SDP: a.SDP, SDPType: a.SDPType}
		c.toOther(isCaller, m)
	case signaling.TypeMoved:
		if st != signaling.Answered {
			return notInState("only an answered call moves into a room")
		}
		m := signaling.Message{Type: signaling.TypeMoved, CallID: c.id}
		c.toOther(isCaller, m)
	case signaling.TypeMute:
		if st != signaling.Answered {
			return notInState("mute works once it is answered")
		}
		c.rec.Muted = setMember(c.rec.Muted, a.User, *a.Muted)
		c.save()
		c.toOther(isCaller, signaling.Message{Type: signaling.TypeMute, CallID: c.id, User: a.User, Muted: a.Muted})
	case signaling.TypeHold:
		if st != signaling.Answered {
			return notInState("hold works once it is answered: hang up to cancel it")
		}
		c.rec.Held = setMember(c.rec.Held, a.User, *a.Held)
		c.save()
		c.toOther(isCaller, signaling.Message{Type: signaling.TypeHold, CallID: c.id, User: a.User, Held: a.Held})
	default:
		return signaling.Errorf(signaling.InvalidParameter, "%.40q is not an action on a call", string(a.Type))
	}
	return nil
}

// onPresence follows the parties' sessions. A call whose caller session
// is gone, whose answering session is gone, or (before an answer) whose
// callee has no session left, fails.
func (c *call) onPresence(views map[string]presenceView) {
	if v, ok := views[c.fromKey()]; ok {
		c.callerHere = v.has(store.Token(c.fromSession))
	}
	if v, ok := views[c.toKey()]; ok {
		clear(c.calleeHere)
		for _, sess := range v.sessions {
			c.calleeHere[sess] = true
		}
	}
	if c.rec.Status.Terminal() {
		return
	}
	if c.rec.Status == signaling.Answered {
		c.watchAbsence() // resume.go: a grace period, not the end
		return
	}
	if !c.callerHere || c.answeredBy == "" && len(c.calleeHere) == 0 {
		c.readPresence() // confirm it first: the feed may be a moment behind
	}
	switch {
	case !c.callerHere:
		c.end(signaling.Failed, c.from+" disconnected", signaling.NoConnectedDestination)
	case c.answeredBy == "" && len(c.calleeHere) == 0:
		c.end(signaling.Failed, c.to+" disconnected", signaling.NoConnectedDestination)
	}
}

// readPresence sets who is here from the presence as it is now: the
// feed can be behind when it says that someone is missing.
func (c *call) readPresence() {
	callerKey := presenceKey(c.fromKey(), c.fromSession)
	now, err := c.s.presenceNow(c.s.callCtx, callerKey, presenceFilter(c.toKey()))
	if err != nil {
		c.log.Warn("could not read presence: going by the watch", "err", err)
		return
	}
	_, c.callerHere = now[callerKey]
	clear(c.calleeHere)
	for k := range now {
		if sess, ok := strings.CutPrefix(k, c.toKey()+"."); ok {
			c.calleeHere[sess] = true
		}
	}
}

// transition moves to a status that goes on and tells both parties; the
// caller's copy carries sdp (the answer).
func (c *call) transition(to signaling.Status, sdp string) {
	c.rec.Status = to
	c.save()
	c.log.Info("call "+string(to), "answered_by", c.answeredBy)
	c.publishStatus(sdp)
}

// end moves to a final status. The busy marks are released before the
// parties hear of it, so that they can dial again at once.
func (c *call) end(to signaling.Status, reason string, code signaling.Code) {
	c.rec.Status, c.rec.Reason, c.rec.Code = to, reason, code
	now := time.Now().UTC()
	c.rec.Ended = &now
	c.ring.Stop()
	c.releaseBusy()
	c.save()
	c.log.Info("call "+string(to), "reason", reason, "code", int(code))
	if c.link != "" && (to == signaling.Completed || to == signaling.Rejected) {
		c.s.spendLink(c.link, string(to)) // links.go
	}
	c.publishStatus("")
}

// publishStatus tells both parties of the status. Every session of the
// callee hears of it; an answered one names the session that answered, so
// that the others know it was not them.
func (c *call) publishStatus(callerSDP string) {
	c.toCaller(signaling.Message{Type: signaling.TypeCallStatusChanged, SDP: callerSDP,
		Event: c.event(signaling.Outbound)})
	m := signaling.Message{Type: signaling.TypeCallStatusChanged, Event: c.event(signaling.Inbound)}
	if c.rec.Status == signaling.Answered {
		m.Session = c.answeredBy
	}
	c.toCallee(m, "")
}

// event is the call's event payload as seen from dir's side.
func (c *call) event(dir signaling.Direction) *signaling.CallEvent {
	return &signaling.CallEvent{
		ID: c.id, Status: c.rec.Status, Direction: dir, From: c.from, To: c.to,
		FromName: c.fromName, ToName: c.toName,
		Reason: c.rec.Reason, Code: c.rec.Code, Guest: c.link != "",
		Waiting: c.waiting && dir == signaling.Inbound,
	}
}

// toOther sends m to the other party of the call: to the callee's answering
// session when the caller (isCaller) sent what m relays, else to the caller.
func (c *call) toOther(isCaller bool, m signaling.Message) {
	if isCaller {
		c.toCallee(m, c.answeredBy)
	} else {
		c.toCaller(m)
	}
}

// setMember returns users with user in it when in, without it otherwise.
func setMember(users []string, user string, in bool) []string {
	users = slices.DeleteFunc(users, func(u string) bool { return u == user })
	if in {
		users = append(users, user)
	}
	return users
}

func (c *call) toCaller(m signaling.Message) { c.deliver(c.fromKey(), c.fromSession, m) }

// toCallee sends to one of the callee's sessions, or to all of them.
func (c *call) toCallee(m signaling.Message, session string) { c.deliver(c.toKey(), session, m) }

func (c *call) deliver(key, session string, m signaling.Message) {
	if err := c.s.deliver(key, session, m); err != nil {
		c.log.Error("deliver", "key", key, "type", m.Type, "err", err)
	}
}

// deliver sends a message to every connection of the user with userKey
// key, or with session set, to that session's only.
func (s *Server) deliver(key, session string, m signaling.Message) error {
	b, err := signaling.Encode(m)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	msg := nats.NewMsg(userSubject(key))
	msg.Data = b
	if session != "" {
		msg.Header.Set(hdrSession, session)
	}
	if err := s.bus.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("server: publish to %s: %w", key, err)
	}
	return nil
}

// save writes the call record; a failure is logged, the call goes on.
func (c *call) save() {
	event := c.s.noteStatus(&c.rec) // records.go: nil when the status did not change
	b, _ := json.Marshal(c.rec)
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RequestTimeout)
	defer cancel()
	if _, err := c.s.store.Calls.Put(ctx, c.rec.storeKey(), b); err != nil {
		c.log.Warn("could not save the call record", "err", err)
	}
	c.s.hooks.Publish(cmp.Or(c.team, DefaultTeam), event) // package webhook
}

// refreshBusy keeps both busy marks from expiring.
func (c *call) refreshBusy() {
	ctx, cancel := context.WithTimeout(c.s.callCtx, c.s.cfg.RequestTimeout)
	defer cancel()
	for _, p := range []struct {
		key string
		rev *uint64
	}{{c.fromKey(), &c.fromBusy}, {c.toBusyKey(), &c.toBusy}} {
		rev, err := c.s.store.Busy.Update(ctx, p.key, []byte(c.id), *p.rev)
		if err != nil {
			// Expired while NATS was away: take it again if it is free.
			rev, err = c.s.store.Busy.Create(ctx, p.key, []byte(c.id))
		}
		if err != nil {
			c.log.Warn("could not refresh busy mark", "key", p.key, "err", err)
			continue
		}
		*p.rev = rev
	}
}

func (c *call) releaseBusy() {
	c.s.releaseBusy(c.fromKey(), c.fromBusy)
	c.s.releaseBusy(c.toBusyKey(), c.toBusy)
	c.fromBusy, c.toBusy = 0, 0
}

// releaseBusy removes the busy mark of the user with userKey key if it is
// still at rev.
func (s *Server) releaseBusy(key string, rev uint64) {
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	err := s.store.Busy.Delete(ctx, key, jetstream.LastRevision(rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		s.log.Warn("could not release busy mark; it expires by itself", "key", key, "err", err)
	}
}
