package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Rich presence over HTTP, contacts and the directory (docs/SERVER.md
// tells the design; the WebSocket side is watch.go).

// maxDirectory is the most people one directory answer lists.
const maxDirectory = 100

// presenceRecord is the value of a presence key: one connected session.
type presenceRecord struct {
	Node    string    `json:"node"`
	Conn    string    `json:"conn"`
	Since   time.Time `json:"since"`
	Updated time.Time `json:"updated,omitzero"` // the last heartbeat
	Device  string    `json:"device,omitempty"`
	Name    string    `json:"name,omitempty"` // the user's display name
	Idle    bool      `json:"idle,omitempty"` // the session's user is away from it
	// Manual is the state the user set by hand (away or dnd; "" for none),
	// set at ManualSince.
	Manual      signaling.State `json:"manual,omitempty"`
	ManualSince time.Time       `json:"manual_since,omitzero"`
}

// decodePresence reads the value of a presence key written at time at. A
// record it cannot read is a plain session.
func decodePresence(value []byte, at time.Time) presenceRecord {
	var r presenceRecord
	_ = json.Unmarshal(value, &r)
	if r.Updated.IsZero() {
		r.Updated = at
	}
	return r
}

// presenceNow reads the presence records of the keys that match filters,
// by key, as they are now (see store.Store.Latest: a watch can be behind).
func (s *Server) presenceNow(ctx context.Context, filters ...string) (map[string]presenceRecord, error) {
	msgs, err := s.store.Latest(ctx, store.BucketPresence, filters...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]presenceRecord, len(msgs))
	for k, m := range msgs {
		out[k] = decodePresence(m.Data, m.Time)
	}
	return out, nil
}

// isBusy reports whether the user with userKey key is in a call.
func (s *Server) isBusy(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, err := s.store.Busy.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// person is u as others see them, with their presence now.
func (s *Server) person(ctx context.Context, team string, u store.User) (signaling.Person, error) {
	ps, err := s.people(ctx, team, []store.User{u})
	if err != nil {
		return signaling.Person{}, err
	}
	return ps[0], nil
}

// people is users as others see them, with their presence now, in one
// sync of the node's feed and one read of when the offline were last
// seen.
func (s *Server) people(ctx context.Context, team string, users []store.User) ([]signaling.Person, error) {
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = store.UserKey(team, u.User)
	}
	if err := s.feed.sync(ctx); err != nil {
		s.log.Warn("going by the presence this node has", "err", err)
	}
	views := s.feed.views(ctx, keys)
	var offline []string
	for _, k := range keys {
		if v := views[k]; !v.state.Online() && v.lastSeen.IsZero() {
			offline = append(offline, k)
		}
	}
	seen, err := s.seenAll(ctx, offline)
	if err != nil {
		return nil, err
	}
	out := make([]signaling.Person, len(users))
	for i, u := range users {
		v := views[keys[i]]
		p := signaling.Person{User: u.User, Name: u.Name, Role: u.EffectiveRole(), State: v.state,
			Online: v.state.Online()}
		if t := cmp.Or(v.lastSeen, seen[keys[i]]); !p.Online && !t.IsZero() {
			p.LastSeen = &t
		}
		out[i] = p
	}
	return out, nil
}

// findVisible looks up user of team for viewer (with role): a user of
// another team, unknown, or hidden from a guest reads as unknownUser.
func (s *Server) findVisible(ctx context.Context, team, viewer, role, user string) (store.User, *signaling.Error) {
	if err := signaling.CheckUserID(user); err != nil {
		return store.User{}, signaling.AsError(err)
	}
	u, found, err := s.lookup(ctx, team, user)
	if err != nil {
		return u, signaling.Errorf(signaling.UnknownError, "%v", err)
	}
	if !found {
		return u, unknownUser(user)
	}
	ok, err := s.visible(ctx, team, viewer, role, user)
	if err != nil {
		return u, signaling.Errorf(signaling.UnknownError, "%v", err)
	}
	if !ok {
		return u, unknownUser(user)
	}
	return u, nil
}

// handlePresence tells a user's presence: GET /v1/users/{user}/presence,
// with ?wait=DUR to wait for an offline user to come online.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > signaling.MaxWait {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
				"wait %.40q is not a duration up to %v", v, signaling.MaxWait))
			return
		}
		wait = d
	}
	u, e := s.findVisible(r.Context(), c.TeamID(), c.Subject, c.Role, user)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	team, key := c.TeamID(), store.UserKey(c.TeamID(), user)
	var box *presenceBox
	if wait > 0 {
		// Follow before reading, so that nothing is missed in between.
		box = newPresenceBox(store.UserKey(team, c.Subject))
		if !s.feed.followBox(r.Context(), box, key) {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
				"you wait for %d people to come online already, the most there may be: wait for one of them first",
				maxWaits))
			return
		}
		defer s.feed.unfollowBox(box, key)
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + s.cfg.WriteTimeout))
	}
	p, err := s.person(r.Context(), team, u)
	if err == nil && box != nil && !p.Online {
		if !waitOnline(r.Context(), box, key, wait) {
			return // the client went away
		}
		p, err = s.person(r.Context(), team, u)
	}
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not read presence: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// waitOnline waits until the user with userKey key, followed by box, is
// online, or for wait; false when ctx ends first.
func waitOnline(ctx context.Context, box *presenceBox, key string, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-box.ready:
			if box.take()[key].state.Online() {
				return true
			}
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

// setManual sets the state a user chose by hand (online clears it) and
// tells their sessions, which rewrite their presence at once.
func (s *Server) setManual(ctx context.Context, team, user string, state signaling.State) error {
	return s.setStatus(ctx, team, user, func(st *store.Status) {
		st.State, st.Since = state, time.Now().UTC()
	})
}

// setStatus changes what a user set by hand (their state, call waiting)
// and tells their sessions, which rewrite their presence at once. A
// status with nothing set is not stored.
func (s *Server) setStatus(ctx context.Context, team, user string, change func(*store.Status)) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	key := store.UserKey(team, user)
	rec, err := s.manualState(ctx, key)
	if err != nil {
		return signaling.Errorf(signaling.UnknownError, "could not read your state: %v", err)
	}
	change(&rec)
	if rec.State == signaling.StateOnline {
		rec.State = ""
	}
	if rec.State == "" && !rec.NoWaiting {
		err = s.store.Status.Delete(ctx, key)
	} else {
		b, _ := json.Marshal(rec)
		_, err = s.store.Status.Put(ctx, key, b)
	}
	if err != nil {
		return signaling.Errorf(signaling.UnknownError, "could not save your state: %v", err)
	}
	b, _ := json.Marshal(rec)
	s.control(key, ctlStatus, "", b)
	s.log.Info("state set", "user", user, "team", team, "state", rec.State, "no_waiting", rec.NoWaiting)
	return nil
}

// handleMyPresence sets your state by hand: PUT /v1/me/presence {state}.
func (s *Server) handleMyPresence(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var req signaling.PresenceRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if !req.State.Settable() && (req.State != "" || req.CallWaiting == nil) {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"state %.20q cannot be set: use online, away or dnd", string(req.State)))
		return
	}
	err := s.setStatus(r.Context(), c.TeamID(), c.Subject, func(st *store.Status) {
		if req.State != "" {
			st.State, st.Since = req.State, time.Now().UTC()
		}
		if req.CallWaiting != nil {
			st.NoWaiting = !*req.CallWaiting
		}
	})
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.AsError(err))
		return
	}
	p, err := s.person(r.Context(), c.TeamID(), u)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	if p.Online && p.State != signaling.StateInCall {
		// The sessions rewrite their records in a moment: say what was set.
		switch req.State {
		case signaling.StateAway, signaling.StateDND:
			p.State = req.State
		}
	}
	writeJSON(w, http.StatusOK, p)
}

// handleContacts lists your contacts with their presence: GET
// /v1/me/contacts.
func (s *Server) handleContacts(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	list, err := s.contactsOf(r.Context(), c.TeamID(), c.Subject)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	found, err := s.lookupAll(r.Context(), c.TeamID(), list)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	var users []store.User
	for _, user := range list {
		if u, ok := found[user]; ok {
			users = append(users, u)
		}
	}
	people, err := s.people(r.Context(), c.TeamID(), users)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.People{People: append([]signaling.Person{}, people...)})
}

// handleAddContact adds a contact: PUT /v1/me/contacts/{user}.
func (s *Server) handleAddContact(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if user == c.Subject {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.SameCallerAndDestination, "you cannot be your "+
			"own contact"))
		return
	}
	u, e := s.findVisible(r.Context(), c.TeamID(), c.Subject, c.Role, user)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	key := store.UserKey(c.TeamID(), c.Subject)
	full := false
	_, err := store.Update(ctx, s.store.Contacts, key, func(rec *store.Contacts, _ bool) bool {
		switch {
		case slices.Contains(rec.Contacts, user):
			return false
		case len(rec.Contacts) >= MaxContacts:
			full = true
			return false
		}
		rec.Contacts = append(rec.Contacts, user)
		return true
	})
	switch {
	case err != nil:
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not save your contacts: %v", err))
		return
	case full:
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"you have %d contacts, the most there may be: remove some first", MaxContacts))
		return
	}
	s.control(key, ctlContacts, "", []byte(user))
	p, err := s.person(r.Context(), c.TeamID(), u)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handleRemoveContact removes a contact: DELETE /v1/me/contacts/{user}.
func (s *Server) handleRemoveContact(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if err := signaling.CheckUserID(user); err != nil {
		s.httpError(w, r, c.Subject, signaling.AsError(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	had := false
	key := store.UserKey(c.TeamID(), c.Subject)
	_, err := store.Update(ctx, s.store.Contacts, key, func(rec *store.Contacts, _ bool) bool {
		i := slices.Index(rec.Contacts, user)
		if i < 0 {
			return false
		}
		had = true
		rec.Contacts = slices.Delete(rec.Contacts, i, i+1)
		return true
	})
	switch {
	case err != nil:
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not save your contacts: %v", err))
	case !had:
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter, "%s is not one of your contacts",
			user))
	default:
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// handleDirectory lists the people of your team whose id or name contains
// q, with online or offline: GET /v1/directory?q=. Guests may not.
func (s *Server) handleDirectory(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if c.Role == RoleGuest {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"guests cannot list the directory: ask the person you want to reach to add you as a contact"))
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if len(q) > signaling.MaxNameLength*4 {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter, "the search is too long"))
		return
	}
	team := c.TeamID()
	users, err := s.listUsers(r.Context(), team)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not list the directory: %v", err))
		return
	}
	var match []store.User
	for _, u := range users {
		if u.User != c.Subject && (q == "" || strings.Contains(strings.ToLower(u.User), q) ||
			strings.Contains(strings.ToLower(u.Name), q)) {
			if match = append(match, u); len(match) == maxDirectory {
				break
			}
		}
	}
	keys := make([]string, len(match))
	for i, u := range match {
		keys[i] = store.UserKey(team, u.User)
	}
	views := s.feed.views(r.Context(), keys)
	out := signaling.People{People: []signaling.Person{}}
	for i, u := range match {
		st := views[keys[i]].state
		out.People = append(out.People,
			signaling.Person{User: u.User, Name: u.Name, Role: u.EffectiveRole(), State: st, Online: st.Online()})
	}
	writeJSON(w, http.StatusOK, out)
}
