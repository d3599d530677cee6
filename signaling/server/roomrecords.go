package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Room records (docs/SERVER.md, "Room records and webhooks"): what happened
// in each room is kept in the room records bucket under RoomKey(team,
// room id) for Config.CallHistory, as call records are. The room's owner
// keeps it while it runs (roomBook), adds an entry for each thing that
// happens, publishes the webhook events among them at once, and writes the
// record once a second when it changed, and when it stops.

// maxRoomEntries bounds a record (a value must fit in a NATS message):
// past it, mute and lock entries are only counted (Dropped), and past
// maxRoomAll every entry but the room's end.
const (
	maxRoomEntries = 1000
	maxRoomAll     = 1500
)

// roomHistory is the value of a key in the room records bucket.
type roomHistory struct {
	signaling.RoomRecord
	Team string `json:"team"`
	Seq  int    `json:"seq"` // entries numbered so far, dropped ones included: the N of event ids
}

// roomBook is what a room's owner keeps besides the room: its record, and
// the invitations ringing (roominvites.go).
type roomBook struct {
	hist   roomHistory
	dirty  bool                 // hist changed since it was written
	legs   map[string]time.Time // invited users ringing, since when
	mutes  map[string][2]bool   // each participant's muted and locked, as last recorded
	rang   bool                 // some invitation rang since the owner started
	loaded bool
}

// newHistory is the record of a room just made.
func newHistory(rec roomRecord) roomHistory {
	h := roomHistory{Team: cmp.Or(rec.Team, DefaultTeam), RoomRecord: signaling.RoomRecord{
		ID: rec.ID, Room: rec.Name, Host: rec.Host, Status: signaling.RoomRecordOpen, Created: rec.Created,
		Start: rec.Start, End: rec.End, Events: []signaling.RoomEntry{},
	}}
	for _, u := range rec.Invited {
		h.Invited = append(h.Invited, signaling.RoomInvite{User: u})
	}
	return h
}

// historyKey is where a room's record is kept.
func historyKey(team, id string) string { return store.RoomKey(cmp.Or(team, DefaultTeam), id) }

// add appends an entry and returns its number.
func (h *roomHistory) add(e signaling.RoomEntry) int {
	h.Seq++
	minor := false
	switch e.Event {
	case signaling.EntryMuted, signaling.EntryUnmuted, signaling.EntryLocked, signaling.EntryUnlocked:
		minor = true
	}
	if n := len(h.Events); n >= maxRoomEntries && minor || n >= maxRoomAll && e.Event != signaling.EventRoomEnded {
		h.Dropped++
		return h.Seq
	}
	h.Events = append(h.Events, e)
	return h.Seq
}

// webhook is the webhook event of entry number seq, or nil when the entry
// is not one of the four the webhooks receive.
func (h *roomHistory) webhook(seq int, e signaling.RoomEntry, in int, node string) *signaling.RoomWebhookEvent {
	switch e.Event {
	case signaling.EventRoomStarted, signaling.EventParticipantJoined, signaling.EventParticipantLeft,
		signaling.EventRoomEnded:
	default:
		return nil
	}
	return &signaling.RoomWebhookEvent{Event: e.Event, EventID: h.ID + "." + strconv.Itoa(seq), RoomID: h.ID,
		Room: h.Room, Host: h.Host, Time: e.Time, User: e.User, Name: e.Name, Role: e.Role, By: e.By,
		Reason: e.Reason, Participants: in, Node: node}
}

// readHistory reads a room's record; found is false when there is none.
func (s *Server) readHistory(ctx context.Context, team, id string) (h roomHistory, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, found, err = store.GetJSON(ctx, s.store.RoomRecords, historyKey(team, id), &h)
	return h, found, err
}

// saveHistory writes a room's record.
func (s *Server) saveHistory(ctx context.Context, h roomHistory) error {
	b, _ := json.Marshal(h)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, err := s.store.RoomRecords.Put(ctx, historyKey(h.Team, h.ID), b)
	return err
}

// roomMade writes the record of a room just made, and rings its invited
// members when it starts now, or arms the ring for its start.
func (s *Server) roomMade(ctx context.Context, rec roomRecord) {
	if err := s.saveHistory(ctx, newHistory(rec)); err != nil {
		s.log.Warn("could not save the room record", "room", rec.Name, "err", err)
	}
	s.ringAt(rec) // roominvites.go
}

// endedUnowned records the end of a room nobody was in, by its host or an
// admin (room.go, unowned).
func (s *Server) endedUnowned(ctx context.Context, rec roomRecord) {
	if rec.ID == "" {
		return // made before records were kept
	}
	h, found, err := s.readHistory(ctx, rec.Team, rec.ID)
	if err != nil || !found {
		h = newHistory(rec)
	}
	h.Status, h.Ended, h.Reason = signaling.RoomRecordEnded, rec.Ended, rec.Reason
	h.Node = s.cfg.NodeName
	e := signaling.RoomEntry{Event: signaling.EventRoomEnded, Time: *rec.Ended, Reason: rec.Reason}
	seq := h.add(e)
	if err := s.saveHistory(ctx, h); err != nil {
		s.log.Warn("could not save the room record", "room", rec.Name, "err", err)
	}
	if h.Started != nil { // room.ended follows a room.started
		ev := h.webhook(seq, e, 0, s.cfg.NodeName)
		s.hooks.PublishBody(h.Team, ev.EventID, ev)
	}
}

// openBook reads the room's record, or starts it (a room made before
// records were kept gets its id now).
func (r *room) openBook() {
	b := &r.book
	b.legs, b.mutes = map[string]time.Time{}, map[string][2]bool{}
	if r.rec.ID == "" {
		r.rec.ID = newID()
		r.save()
	}
	h, found, err := r.s.readHistory(context.Background(), r.rec.Team, r.rec.ID)
	switch {
	case err != nil:
		r.log.Warn("could not read the room record: a new one is started", "err", err)
		fallthrough
	case !found:
		h = newHistory(r.rec)
		b.dirty = true
	}
	h.Node = r.s.cfg.NodeName
	b.hist, b.loaded = h, true
}

// flushBook writes the room's record when it changed.
func (r *room) flushBook() {
	b := &r.book
	if !b.loaded || !b.dirty || r.taken { // taken: the history is the new owner's
		return
	}
	if err := r.s.saveHistory(context.Background(), b.hist); err != nil {
		r.log.Warn("could not save the room record", "err", err)
		return
	}
	b.dirty = false
}

// note adds an entry to the room's record, timed now unless it has a time,
// and publishes its webhook event; in is how many are in the room after it.
func (r *room) note(e signaling.RoomEntry, in int) {
	b := &r.book
	if !b.loaded || r.taken {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	seq := b.hist.add(e)
	b.dirty = true
	if ev := b.hist.webhook(seq, e, in, r.s.cfg.NodeName); ev != nil {
		r.s.hooks.PublishBody(b.hist.Team, ev.EventID, ev)
	}
}

// noteJoined records a join: the room's start first, for the first one.
func (r *room) noteJoined(p *participant) {
	h := &r.book.hist
	if h.Started == nil {
		at := p.joined
		h.Started, h.Status = &at, signaling.RoomRecordStarted
		r.note(signaling.RoomEntry{Event: signaling.EventRoomStarted, Time: at}, len(r.parts))
	}
	r.book.mutes[p.user] = [2]bool{p.muted, p.micLocked}
	if !slices.Contains(h.Participants, p.user) {
		h.Participants = append(h.Participants, p.user)
	}
	r.note(signaling.RoomEntry{Event: signaling.EventParticipantJoined, Time: p.joined, User: p.user, Name: p.name,
		Role: p.role}, len(r.parts))
	r.answered(p.user) // roominvites.go
}

// noteLeft records that p left, for reason, by whom.
func (r *room) noteLeft(p *participant, reason, by string) {
	r.note(signaling.RoomEntry{Event: signaling.EventParticipantLeft, User: p.user, Name: p.name, Reason: reason,
		By: by}, len(r.parts))
}

// noteMuted records t's mute as it is now, changed by by, when it changed.
func (r *room) noteMuted(t *participant, by string) {
	now := [2]bool{t.muted, t.micLocked}
	if was, ok := r.book.mutes[t.user]; ok && was == now {
		return // muted again: nothing changed
	}
	r.book.mutes[t.user] = now
	e := signaling.RoomEntry{Event: signaling.EntryUnmuted, User: t.user, Name: t.name, By: by}
	if t.muted {
		e.Event, e.Locked = signaling.EntryMuted, t.micLocked
	}
	r.note(e, len(r.parts))
}

// noteLocked records a lock or unlock of the room, by by.
func (r *room) noteLocked(by string, locked bool) {
	e := signaling.RoomEntry{Event: signaling.EntryUnlocked, By: by}
	if locked {
		e.Event = signaling.EntryLocked
	}
	r.note(e, len(r.parts))
}

// noteEnded records the end of the room at now, for reason: those still
// in it leave with it, invitations still ringing go unanswered; the
// record is written at once.
func (r *room) noteEnded(now time.Time, reason string) {
	r.stopRings(signaling.Unanswered, "room ended") // roominvites.go
	in := r.list()
	for i, p := range in {
		r.note(signaling.RoomEntry{Event: signaling.EventParticipantLeft, Time: now, User: p.User, Name: p.Name,
			Reason: signaling.LeftRoomEnded}, len(in)-i-1)
	}
	h := &r.book.hist
	h.Status, h.Ended, h.Reason = signaling.RoomRecordEnded, &now, reason
	e := signaling.RoomEntry{Event: signaling.EventRoomEnded, Time: now, Reason: reason}
	if h.Started == nil { // no room.ended without a room.started
		h.add(e)
		r.book.dirty = true
	} else {
		r.note(e, 0)
	}
	r.flushBook()
}

// public is the record as the API shows it: a session whose time is over
// ended then, whether or not anyone was in it to see.
func (h roomHistory) public(now time.Time) signaling.RoomRecord {
	out := h.RoomRecord
	if out.Status != signaling.RoomRecordEnded && out.End != nil && !now.Before(*out.End) {
		out.Status, out.Ended, out.Reason = signaling.RoomRecordEnded, out.End, signaling.EndedTimeOver
	}
	if out.Events == nil {
		out.Events = []signaling.RoomEntry{}
	}
	return out
}

// matches reports whether the record matches q.
func (h roomHistory) matches(q signaling.RoomRecordsQuery, now time.Time) bool {
	pub := h.public(now)
	switch {
	case q.Status != "" && pub.Status != q.Status:
		return false
	case !q.Before.IsZero() && !h.Created.Before(q.Before):
		return false
	case q.User == "" || h.Host == q.User || slices.Contains(h.Participants, q.User):
		return true
	}
	return slices.ContainsFunc(h.Invited, func(i signaling.RoomInvite) bool { return i.User == q.User })
}

// roomRecordsQuery reads the query of GET /v1/admin/rooms.
func roomRecordsQuery(r *http.Request) (signaling.RoomRecordsQuery, *signaling.Error) {
	v := r.URL.Query()
	q := signaling.RoomRecordsQuery{User: v.Get("user"), Status: v.Get("status"), Limit: signaling.DefaultCallsLimit}
	if q.User != "" {
		if err := checkStoredUser(q.User); err != nil {
			return q, signaling.AsError(err)
		}
	}
	if q.Status != "" && !slices.Contains(signaling.RoomRecordStatuses(), q.Status) {
		return q, signaling.Errorf(signaling.InvalidParameter, "status %.20q is not a room's status: use one of %v",
			q.Status, signaling.RoomRecordStatuses())
	}
	var e *signaling.Error
	if q.Limit, q.Before, e = listPage(v, q.Limit, "the created time of the last room"); e != nil {
		return q, e
	}
	return q, nil
}

// handleRoomRecords lists the team's room records, newest first: GET
// /v1/admin/rooms with the team's API key (or an admin's token).
func (s *Server) handleRoomRecords(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	q, e := roomRecordsQuery(r)
	if e != nil {
		s.httpError(w, r, "", e)
		return
	}
	now := time.Now()
	var recs []roomHistory
	_, err := s.store.Scan(r.Context(), store.BucketRoomRecords, []string{store.RoomFilter(a.team)},
		func(key string, m *jetstream.RawStreamMsg) {
			var h roomHistory
			if json.Unmarshal(m.Data, &h) != nil {
				s.log.Warn("damaged room record", "key", key)
				return
			}
			if h.matches(q, now) {
				recs = append(recs, h)
			}
		})
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not list rooms: %v", err))
		return
	}
	slices.SortFunc(recs, func(a, b roomHistory) int { return b.Created.Compare(a.Created) })
	out := signaling.RoomRecords{Rooms: make([]signaling.RoomRecord, 0, min(len(recs), q.Limit))}
	for _, h := range recs[:min(len(recs), q.Limit)] {
		out.Rooms = append(out.Rooms, h.public(now))
	}
	writeJSON(w, http.StatusOK, out)
}
