package signaling

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A member's own call history: every call they placed or were called in,
// those refused at dial (the callee offline, busy or in do not disturb)
// included, and how far they have seen it, the same on every device.
const (
	PathHistory     = "/v1/me/history"      // GET [?missed=1&unseen=1&with=&since=&limit=&before=] → History
	PathHistorySeen = "/v1/me/history/seen" // POST HistorySeen → HistorySeen, the mark as it is now
	// PathCallable: POST → Person when USER may be called now; else refused
	// as a dial would be, and kept in both histories as one.
	PathCallable = "/v1/users/{user}/callable"
)

// HistoryQuery narrows GET /v1/me/history.
type HistoryQuery struct {
	Missed bool      // only calls missed: to you, never answered, not declined
	Unseen bool      // only missed calls started after the seen mark
	With   string    // only calls from or to this user
	Since  time.Time // only calls started at or after this time
	Limit  int       // at most this many (0: DefaultCallsLimit)
	Before time.Time // calls started before this time: the next page
	User   string    // whose history: yours when empty; another's for an admin only
}

// History is the answer of GET /v1/me/history: the calls, newest first, as
// seen by the user (Direction set; Missed and Unseen on the calls missed);
// the user's seen mark; and how many of their missed calls are unseen, of
// all, not only of this page.
type History struct {
	Calls    []CallRecord `json:"calls"`
	SeenUpTo *time.Time   `json:"seen_up_to,omitempty"`
	Unseen   int          `json:"unseen"`
}

// HistorySeen is a seen mark: the calls started up to UpTo were seen. The
// mark never moves back; a zero UpTo means now.
type HistorySeen struct {
	UpTo time.Time `json:"up_to,omitzero"`
}

// MissedBy reports whether the record, as seen by user, is a call they
// missed: one to them that ended without an answer, other than declined.
func (r CallRecord) MissedBy(user string) bool {
	return r.To == user && r.Answered == nil && r.Status.Terminal() && r.Status != Rejected
}

// History lists the signed-in user's calls, newest first.
func (a *API) History(ctx context.Context, q HistoryQuery) (History, error) {
	v := url.Values{}
	for _, kv := range [][2]string{{"with", q.With}, {"user", q.User}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q.Missed {
		v.Set("missed", "1")
	}
	if q.Unseen {
		v.Set("unseen", "1")
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if !q.Before.IsZero() {
		v.Set("before", q.Before.UTC().Format(time.RFC3339Nano))
	}
	p := PathHistory
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out History
	err := a.do(ctx, http.MethodGet, p, a.bearer, nil, &out)
	return out, err
}

// SeeHistory marks the signed-in user's calls started up to upTo as seen
// (zero: now), on every device, and returns the mark.
func (a *API) SeeHistory(ctx context.Context, upTo time.Time) (time.Time, error) {
	var out HistorySeen
	err := a.do(ctx, http.MethodPost, PathHistorySeen, a.bearer, HistorySeen{UpTo: upTo}, &out)
	return out.UpTo, err
}

// Callable asks whether user may be called now, as a dial would: refused
// (unknown, offline, busy, do not disturb) as the dial would be, and then
// kept in both parties' history as a refused dial; the person otherwise.
func (a *API) Callable(ctx context.Context, user string) (Person, error) {
	var out Person
	if err := CheckUserID(user); err != nil {
		return out, err
	}
	err := a.do(ctx, http.MethodPost, strings.Replace(PathCallable, "{user}", url.PathEscape(user), 1), a.bearer,
		nil, &out)
	return out, err
}

// MissedCalls is "1 missed call" or "N missed calls".
func MissedCalls(n int) string { return counted(n, "missed call") }

// counted is "1 thing" or "N things".
func counted(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// MissedNotice is the line a client says as it signs in when missed calls
// wait unseen, from the history of them (HistoryQuery.Unseen): "3 missed
// calls while you were away: Alice (2), Bob": the count, then who called,
// by display name, most recent first, with a count when more than once.
// "" when there are none.
func MissedNotice(h History) string {
	if h.Unseen == 0 {
		return ""
	}
	var who senders
	for _, c := range h.Calls {
		who.add(c.From, c.FromName, 1)
	}
	return MissedCalls(h.Unseen) + " while you were away: " + who.String()
}

// senders tallies who sent what a sign-in notice counts (missed calls,
// voice messages, texts), in the order each first came.
type senders struct {
	order  []string
	names  map[string]string
	counts map[string]int
}

// add counts n more from user, named name (user when empty) if first. The
// name is made Printable: it came from someone else and is about to be
// shown.
func (s *senders) add(user, name string, n int) {
	if s.counts == nil {
		s.names, s.counts = map[string]string{}, map[string]int{}
	}
	if s.counts[user] == 0 {
		s.order = append(s.order, user)
		s.names[user] = Printable(cmp.Or(name, user))
	}
	s.counts[user] += n
}

// String is "Alice (2), Bob": each by name, with a count when more than one.
func (s *senders) String() string {
	who := make([]string, 0, len(s.order))
	for _, u := range s.order {
		w := s.names[u]
		if s.counts[u] > 1 {
			w += " (" + strconv.Itoa(s.counts[u]) + ")"
		}
		who = append(who, w)
	}
	return strings.Join(who, ", ")
}
