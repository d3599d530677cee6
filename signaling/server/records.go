package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Call records: every call's record lives in the calls bucket
// (team.call id, callKey) for Config.CallHistory, written by the call's
// owner; each status the call entered is kept in it with its time
// (noteStatus) and published as a webhook event.

// statusChange is one status of a call in its record.
type statusChange struct {
	Status signaling.Status `json:"status"`
	Time   time.Time        `json:"time"`
}

// noteStatus records rec's status in its history when it is a new one,
// at the time the record gives for it (started, answered, ended), and
// returns the webhook event of the change; nil when the status is the
// last one recorded (a save that changed no status).
func (s *Server) noteStatus(rec *callRecord) *signaling.WebhookEvent {
	n := len(rec.Statuses)
	if n > 0 && rec.Statuses[n-1].Status == rec.Status {
		return nil
	}
	if n == 0 && rec.Status != signaling.Started && !rec.Started.IsZero() {
		// A record written before statuses were kept.
		rec.Statuses = append(rec.Statuses, statusChange{Status: signaling.Started, Time: rec.Started})
	}
	at := time.Now().UTC()
	switch {
	case rec.Status == signaling.Started && !rec.Started.IsZero():
		at = rec.Started
	case rec.Status == signaling.Answered && rec.Answered != nil:
		at = *rec.Answered
	case rec.Status.Terminal():
		if rec.Ended == nil {
			rec.Ended = &at
		}
		at = *rec.Ended
	}
	rec.Statuses = append(rec.Statuses, statusChange{Status: rec.Status, Time: at})
	event := signaling.EventCallStatusChanged
	if rec.Status == signaling.Started {
		event = signaling.EventCall
	}
	return &signaling.WebhookEvent{
		Event: event, EventID: rec.ID + "." + strconv.Itoa(len(rec.Statuses)),
		ID: rec.ID, Status: rec.Status, Direction: signaling.Outbound, From: rec.From, To: rec.To,
		Time: at, Reason: rec.Reason, Code: rec.Code, Node: rec.Node, Guest: rec.Link != "",
	}
}

// public is the record as the API shows it, as seen by user (or by no
// one in particular when user is "").
func (rec callRecord) public(user string) signaling.CallRecord {
	out := signaling.CallRecord{
		ID: rec.ID, From: rec.From, To: rec.To, FromName: rec.FromName, ToName: rec.ToName, Status: rec.Status,
		Statuses: make([]signaling.StatusChange, 0, len(rec.Statuses)),
		Started:  rec.Started, Answered: rec.Answered, Ended: rec.Ended,
		Reason: rec.Reason, Code: rec.Code, Node: rec.Node, Guest: rec.Link != "",
	}
	switch user {
	case "":
	case rec.From:
		out.Direction = signaling.Outbound
	default:
		out.Direction = signaling.Inbound
	}
	for _, c := range rec.Statuses {
		out.Statuses = append(out.Statuses, signaling.StatusChange{Status: c.Status, Time: c.Time})
	}
	if rec.Answered != nil && rec.Ended != nil {
		out.DurationMS = rec.Ended.Sub(*rec.Answered).Milliseconds()
	}
	return out
}

// callsQuery reads the query of GET /v1/voice/calls.
func callsQuery(r *http.Request) (signaling.CallsQuery, *signaling.Error) {
	v := r.URL.Query()
	q := signaling.CallsQuery{User: v.Get("user"), Status: signaling.Status(v.Get("status")),
		Limit: signaling.DefaultCallsLimit}
	if q.User != "" {
		if err := checkStoredUser(q.User); err != nil {
			return q, signaling.AsError(err)
		}
	}
	if q.Status != "" && !q.Status.Valid() {
		return q, signaling.Errorf(signaling.InvalidParameter, "status %.20q is not a call status: use one of %v",
			q.Status, signaling.Statuses())
	}
	var e *signaling.Error
	if q.Limit, q.Before, e = listPage(v, q.Limit, "the started time of the last call"); e != nil {
		return q, e
	}
	return q, nil
}

// listPage reads the limit (default limit) and before of a listing's query;
// last says what before is: the time of the last record of the previous
// page.
func listPage(v url.Values, limit int, last string) (int, time.Time, *signaling.Error) {
	var before time.Time
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > signaling.MaxCallsLimit {
			return 0, before, signaling.Errorf(signaling.InvalidParameter, "limit %.20q is not a number from 1 to %d",
				s, signaling.MaxCallsLimit)
		}
		limit = n
	}
	if s := v.Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, before, signaling.Errorf(signaling.InvalidParameter,
				"before %.40q is not an RFC 3339 time such as 2026-01-02T15:04:05Z (use %s of the previous page)", s,
				last)
		}
		before = t
	}
	return limit, before, nil
}

// handleCalls lists the team's call records, newest first: GET
// /v1/voice/calls with the team's API key (or an admin's token).
func (s *Server) handleCalls(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	q, e := callsQuery(r)
	if e != nil {
		s.httpError(w, r, "", e)
		return
	}
	recs, read, err := s.callRecords(r.Context(), a.team, q)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not list calls: %v", err))
		return
	}
	s.log.Debug("calls listed", "team", a.team, "read", read, "listed", len(recs))
	out := signaling.CallRecords{Calls: make([]signaling.CallRecord, 0, len(recs))}
	for _, rec := range recs {
		out.Calls = append(out.Calls, rec.public(q.User))
	}
	writeJSON(w, http.StatusOK, out)
}

// callRecords reads the records of team's calls that match q, newest
// first, and says how many records it read. It reads the team's records
// only (callKey), and those written before records were kept by team
// (legacyCalls) until they expire.
func (s *Server) callRecords(ctx context.Context, team string, q signaling.CallsQuery) ([]callRecord, int, error) {
	var out []callRecord
	read, err := s.readCalls(ctx, func(rec callRecord, _ uint64) {
		if rec.matches(team, q) {
			out = append(out, rec)
		}
	}, teamCalls(team), legacyCalls)
	if err != nil {
		return nil, read, err
	}
	slices.SortFunc(out, func(a, b callRecord) int { return b.Started.Compare(a.Started) })
	return out[:min(len(out), q.Limit)], read, nil
}

// callKey is the key of a new call record: the team's token, a dot and
// the call's, so that one team's records are read alone (teamCalls).
func callKey(team, id string) string {
	if team == "" {
		team = DefaultTeam
	}
	return store.Token(team) + "." + store.Token(id)
}

// teamCalls matches the keys of team's call records.
func teamCalls(team string) string { return callKey(team, "") + "*" }

// legacyCalls matches the records written before records were kept by
// team, under the call's token alone (so "*", one token, matches them and
// no callKey). They are read, and written again, where they are, until
// they expire (Config.CallHistory after they were last written).
const legacyCalls = "*"

// storeKey is where rec is kept: where it was read from, or else its
// callKey.
func (rec callRecord) storeKey() string {
	if rec.key != "" {
		return rec.key
	}
	return callKey(rec.Team, rec.ID)
}

// callEntry reads the record of call id of team: under its callKey, or
// else under the call's token alone (legacyCalls). A record under the old
// key may be of another team: the caller checks.
func (s *Server) callEntry(ctx context.Context, team, id string) (jetstream.KeyValueEntry, error) {
	e, err := s.store.Calls.Get(ctx, callKey(team, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s.store.Calls.Get(ctx, store.Token(id))
	}
	return e, err
}

// eachCall is readCalls without the count.
func (s *Server) eachCall(ctx context.Context, f func(rec callRecord, rev uint64), filters ...string) error {
	_, err := s.readCalls(ctx, f, filters...)
	return err
}

// readCalls calls f with the record of every key that matches one of
// filters (every key when none is given), and its revision, and returns
// how many messages it read (see store.Store.Scan).
func (s *Server) readCalls(ctx context.Context, f func(callRecord, uint64), filters ...string) (read int, _ error) {
	return s.store.Scan(ctx, store.BucketCalls, filters, func(key string, m *jetstream.RawStreamMsg) {
		var rec callRecord
		if json.Unmarshal(m.Data, &rec) != nil {
			s.log.Warn("damaged call record", "key", key)
			return
		}
		rec.key = key
		f(rec, m.Sequence)
	})
}

// matches reports whether the record is of team's and matches q.
func (rec callRecord) matches(team string, q signaling.CallsQuery) bool {
	recTeam := rec.Team
	if recTeam == "" {
		recTeam = DefaultTeam
	}
	switch {
	case recTeam != team:
		return false
	case q.User != "" && rec.From != q.User && rec.To != q.User:
		return false
	case q.Status != "" && rec.Status != q.Status:
		return false
	case !q.Before.IsZero() && !rec.Started.Before(q.Before):
		return false
	}
	return true
}
