package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// A member's call history: their call records (records.go), read from the
// calls bucket by the member themselves, and their seen mark in the
// history seen bucket, which every device of theirs reads, so that a
// missed call seen on one is seen on all. A dial refused because of the
// callee (offline, busy, do not disturb) starts no call: recordRefused
// writes its record, so that both parties find it.

// recordRefused writes the record of a dial refused before it rang: rec
// has the parties, the reason and the code; it is unanswered, started and
// ended now. It is written before the refusal is sent, so that a caller
// told of the refusal finds the record. The team's webhooks learn of it as
// of any call: its start and its end (unanswered, with the reason and the
// code), each status noted as a call's are (noteStatus).
func (s *Server) recordRefused(ctx context.Context, rec callRecord) {
	now := time.Now().UTC()
	reason, code := rec.Reason, rec.Code // the end's, not the start's
	rec.ID, rec.Status, rec.Node, rec.Started, rec.Reason, rec.Code = newID(), signaling.Started, s.cfg.NodeName, now,
		"", 0
	started := s.noteStatus(&rec) // records.go
	rec.Status, rec.Ended, rec.Reason, rec.Code = signaling.Unanswered, &now, reason, code
	ended := s.noteStatus(&rec)
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.store.Calls.Put(ctx, rec.storeKey(), b); err != nil {
		s.log.Warn("could not record the refused call", "from", rec.From, "to", rec.To, "reason", rec.Reason,
			"err", err)
	}
	team := cmp.Or(rec.Team, DefaultTeam)
	s.hooks.Publish(team, started) // package webhook
	s.hooks.Publish(team, ended)
}

// calleeRefusal is why a dial to callee, of team, is refused because of
// them: offline (NoConnectedDestination) or in do not disturb
// (AlreadyBusyCall), with the reason to record; nil when neither. A
// failure to find out has no reason: it is not the callee's doing.
func (s *Server) calleeRefusal(ctx context.Context, team string, callee store.User) (string, *signaling.Error) {
	key := store.UserKey(team, callee.User)
	online, err := s.online(ctx, key)
	if err != nil {
		return "", signaling.Errorf(signaling.UnknownError, "could not read the presence of %s: %v", callee.User, err)
	}
	if !online {
		return ReasonOffline, signaling.Errorf(signaling.NoConnectedDestination,
			"%s is not connected: try again when they are online (watch them to be told)", callee.User)
	}
	st, err := s.manualState(ctx, key)
	if err != nil {
		return "", signaling.Errorf(signaling.UnknownError, "could not read the state of %s: %v", callee.User, err)
	}
	if st.State == signaling.StateDND {
		return ReasonDND, signaling.Errorf(signaling.AlreadyBusyCall,
			"%s does not want to be disturbed (do not disturb): try again later; watch them to see when that changes",
			signaling.Label(callee.User, callee.Name))
	}
	return "", nil
}

// handleCallable answers whether the caller may call a user now: POST
// /v1/users/{user}/callable, refused as a dial would be (unknown user,
// offline, do not disturb, busy) and recorded as one in both histories
// when refused because of the callee; the person when callable. `parley
// call` asks before it opens the audio devices: a call that cannot ring
// is refused, and kept, without them.
func (s *Server) handleCallable(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	to := r.PathValue("user")
	if to == c.Subject {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.SameCallerAndDestination,
			"you cannot call yourself: dial another user"))
		return
	}
	team := c.TeamID()
	callee, e := s.findVisible(r.Context(), team, c.Subject, c.Role, to)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	reason, e := s.calleeRefusal(r.Context(), team, callee)
	if e == nil {
		if s.busyNow(r.Context(), store.UserKey(team, to)) {
			reason, e = ReasonBusy, busyRefusal(to)
		}
	}
	if e != nil && reason != "" {
		// Counted as the dial it stands for: no more records than dials.
		if ok, retry := s.dials.Allow(store.UserKey(team, c.Subject)); !ok {
			e = signaling.Errorf(signaling.InvalidParameter,
				"you placed %d calls in a minute, the most there may be: try again in %s", s.cfg.DialLimit,
				seconds(retry))
			reason = ""
		}
	}
	if e != nil {
		if reason != "" {
			s.recordRefused(r.Context(), callRecord{Team: team, From: c.Subject, FromName: u.Name, To: to,
				ToName: callee.Name, Reason: reason, Code: e.Code})
		}
		s.httpError(w, r, c.Subject, e)
		return
	}
	p, err := s.person(r.Context(), team, callee)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// historyQuery reads the query of GET /v1/me/history.
func historyQuery(r *http.Request) (signaling.HistoryQuery, *signaling.Error) {
	v := r.URL.Query()
	q := signaling.HistoryQuery{With: v.Get("with"), User: v.Get("user"), Limit: signaling.DefaultCallsLimit}
	for _, u := range []string{q.With, q.User} {
		if u != "" {
			if err := checkStoredUser(u); err != nil {
				return q, signaling.AsError(err)
			}
		}
	}
	for _, f := range []struct {
		name string
		to   *bool
	}{{"missed", &q.Missed}, {"unseen", &q.Unseen}} {
		if s := v.Get(f.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return q, signaling.Errorf(signaling.InvalidParameter, "%s %.20q is not a boolean: use 1 or 0",
					f.name, s)
			}
			*f.to = b
		}
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, signaling.Errorf(signaling.InvalidParameter,
				"since %.40q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
		}
		q.Since = t
	}
	var e *signaling.Error
	if q.Limit, q.Before, e = listPage(v, q.Limit, "the started time of the last call"); e != nil {
		return q, e
	}
	return q, nil
}

// handleHistory lists the caller's own calls, newest first: GET
// /v1/me/history with their token. Nobody reads another's history but an
// admin of their team (?user=).
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	q, e := historyQuery(r)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	user := cmp.Or(q.User, c.Subject)
	if user != c.Subject && c.Role != RoleAdmin {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"you may read only your own history (you are a %s): leave out user, or ask an admin of your team",
			c.Role))
		return
	}
	team := c.TeamID()
	mark, err := s.seenMark(r.Context(), team, user)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not read your seen mark: %v", err))
		return
	}
	var all []signaling.CallRecord
	read, err := s.readCalls(r.Context(), func(rec callRecord, _ uint64) {
		if rec.matches(team, signaling.CallsQuery{User: user}) {
			all = append(all, rec.public(user))
		}
	}, teamCalls(team), legacyCalls)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not list calls: %v", err))
		return
	}
	slices.SortFunc(all, func(a, b signaling.CallRecord) int { return b.Started.Compare(a.Started) })
	out := signaling.History{Calls: []signaling.CallRecord{}}
	if !mark.IsZero() {
		out.SeenUpTo = &mark
	}
	for _, rec := range all {
		rec.Missed = rec.MissedBy(user)
		rec.Unseen = rec.Missed && rec.Started.After(mark)
		if rec.Unseen {
			out.Unseen++
		}
		switch {
		case q.Missed && !rec.Missed, q.Unseen && !rec.Unseen:
		case q.With != "" && rec.From != q.With && rec.To != q.With:
		case !q.Since.IsZero() && rec.Started.Before(q.Since):
		case !q.Before.IsZero() && !rec.Started.Before(q.Before):
		case len(out.Calls) == q.Limit:
		default:
			out.Calls = append(out.Calls, rec)
		}
	}
	s.log.Debug("history listed", "user", user, "by", c.Subject, "read", read, "listed", len(out.Calls))
	writeJSON(w, http.StatusOK, out)
}

// handleHistorySeen moves the caller's seen mark: POST /v1/me/history/seen.
// The mark never moves back, nor past now.
func (s *Server) handleHistorySeen(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var req signaling.HistorySeen
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	now := time.Now().UTC()
	upTo := req.UpTo.UTC()
	if upTo.IsZero() || upTo.After(now) {
		upTo = now
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	v, err := store.Update(ctx, s.store.HistorySeen, store.UserKey(c.TeamID(), c.Subject),
		func(v *store.HistorySeen, _ bool) bool {
			if !upTo.After(v.UpTo) {
				return false
			}
			v.UpTo = upTo
			return true
		})
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not save your seen mark: %v: try again", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.HistorySeen{UpTo: v.UpTo})
}

// seenMark is how far user has seen their history (zero: never marked).
func (s *Server) seenMark(ctx context.Context, team, user string) (time.Time, error) {
	var v store.HistorySeen
	_, _, err := store.GetJSON(ctx, s.store.HistorySeen, store.UserKey(team, user), &v)
	return v.UpTo, err
}
