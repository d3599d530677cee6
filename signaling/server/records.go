package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
)

// Call records.
//
// Every call's record lives in the calls bucket (call id → callRecord)
// for Config.CallHistory, written by the call's owner on whichever node
// it runs; so the records API answers the same on every node. Each status
// the call entered is kept in the record with its time (noteStatus), and
// each one is also published as a webhook event (webhooks.go).

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
		ID: rec.ID, From: rec.From, To: rec.To, Status: rec.Status,
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
	q := signaling.CallsQuery{User: v.Get("user"), Status: signaling.Status(v.Get("status")), Limit: signaling.DefaultCallsLimit}
	if q.User != "" {
		if err := signaling.CheckUserID(q.User); err != nil {
			return q, signaling.AsError(err)
		}
	}
	if q.Status != "" && !q.Status.Valid() {
		return q, signaling.Errorf(signaling.InvalidParameter, "status %.20q is not a call status: use one of %v", q.Status, signaling.Statuses())
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > signaling.MaxCallsLimit {
			return q, signaling.Errorf(signaling.InvalidParameter, "limit %.20q is not a number from 1 to %d", s, signaling.MaxCallsLimit)
		}
		q.Limit = n
	}
	if s := v.Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, signaling.Errorf(signaling.InvalidParameter, "before %.40q is not an RFC 3339 time such as 2026-01-02T15:04:05Z (use the started time of the last call of the previous page)", s)
		}
		q.Before = t
	}
	return q, nil
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
	recs, err := s.callRecords(r.Context(), a.team, q)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not list calls: %v", err))
		return
	}
	out := signaling.CallRecords{Calls: make([]signaling.CallRecord, 0, len(recs))}
	for _, rec := range recs {
		out.Calls = append(out.Calls, rec.public(q.User))
	}
	writeJSON(w, http.StatusOK, out)
}

// callRecords reads the records of team's calls that match q, newest
// first. It reads the whole bucket with one watcher (the bucket holds
// CallHistory's calls, of every team).
func (s *Server) callRecords(ctx context.Context, team string, q signaling.CallsQuery) ([]callRecord, error) {
	var out []callRecord
	err := s.eachCall(ctx, func(rec callRecord, _ uint64) {
		if rec.matches(team, q) {
			out = append(out, rec)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b callRecord) int { return b.Started.Compare(a.Started) })
	return out[:min(len(out), q.Limit)], nil
}

// eachCall calls f with every call record and its revision, as a watch of
// the calls bucket reads them.
func (s *Server) eachCall(ctx context.Context, f func(rec callRecord, rev uint64)) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	wt, err := s.bus.calls.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("server: watch the calls: %w", err)
	}
	defer func() { _ = wt.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: read the calls: %w", ctx.Err())
		case e, ok := <-wt.Updates():
			if !ok {
				return fmt.Errorf("server: read the calls: the watch ended")
			}
			if e == nil { // every record has been read
				return nil
			}
			var rec callRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				s.log.Warn("damaged call record", "key", e.Key())
				continue
			}
			f(rec, e.Revision())
		}
	}
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
