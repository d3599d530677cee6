package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
)

// watchRequest adds users to a connection's watch list.
type watchRequest struct {
	ref   string
	users []string
	auto  bool // the server's own watch of the user's contacts
}

// watcher follows the presence of the users a connection watches, with two
// KV watches over their keys: their sessions in the presence bucket
// (coming and going on any node, sessions of dead nodes expiring, and each
// session's idle flag and the state set by hand), and their busy marks. It
// sends presence {user, online, state, name, last_seen} for every user
// named in a watch at once, and then whenever a watched user's state or
// name changes.
//
// It owns the watch list and what it has seen; it runs on its own
// goroutine from the first watch (the connection's own, of the user's
// contacts, or the client's) until the connection ends.
type watcher struct {
	c      *conn
	pw, bw jetstream.KeyWatcher // presence, busy; nil when none
	users  map[string]*watched  // by user id
	byKey  map[string]*watched  // by userKey, the users not hidden
}

// watched is one watched user.
type watched struct {
	user, key string
	name      string // from the users bucket
	// hidden users are not to be seen by a guest: always offline, with
	// nothing else, like a user who does not exist. (A user of another
	// team is not in this team's keys: offline, like one who does not
	// exist, without hiding.)
	hidden   bool
	sessions map[string]presenceRecord // by session key token
	busy     bool
	lastSeen time.Time

	told     bool // a presence was sent
	toldWhat signaling.State
	toldName string
}

func (c *conn) watcher(reqs <-chan watchRequest, kick <-chan struct{}) {
	defer c.wg.Done()
	w := &watcher{c: c, users: map[string]*watched{}, byKey: map[string]*watched{}}
	defer w.stop()
	for {
		var pu, bu <-chan jetstream.KeyValueEntry
		if w.pw != nil {
			pu = w.pw.Updates()
		}
		if w.bw != nil {
			bu = w.bw.Updates()
		}
		select {
		case <-c.ctx.Done():
			return
		case req := <-reqs:
			w.add(req)
		case <-kick:
			if adds := c.takeWatchAdds(); len(adds) > 0 {
				w.add(watchRequest{users: adds, auto: true})
			}
		case e, ok := <-pu:
			if !ok {
				w.pw = nil
				w.ended()
				continue
			}
			if e != nil {
				if u := w.applyPresence(e); u != nil {
					w.tell(u, "", false)
				}
			}
		case e, ok := <-bu:
			if !ok {
				w.bw = nil
				w.ended()
				continue
			}
			if e != nil {
				if u := w.applyBusy(e); u != nil {
					w.tell(u, "", false)
				}
			}
		}
	}
}

func (w *watcher) ended() {
	if w.c.ctx.Err() == nil {
		w.c.log.Warn("presence watch ended")
	}
}

func (w *watcher) stop() {
	for _, kw := range []*jetstream.KeyWatcher{&w.pw, &w.bw} {
		if *kw != nil {
			_ = (*kw).Stop()
			*kw = nil
		}
	}
}

// add starts watching more users: the KV watches are started again over the
// whole list, the state rebuilt from their initial values, and then every
// new user of req is told about, along with any change to the others.
func (w *watcher) add(req watchRequest) {
	c := w.c
	var fresh []*watched // in the order asked, once each
	for _, u := range req.users {
		if _, ok := w.users[u]; ok || slices.ContainsFunc(fresh, func(f *watched) bool { return f.user == u }) {
			continue
		}
		fresh = append(fresh, &watched{user: u, key: userKey(c.team, u)})
	}
	if len(fresh) == 0 {
		return
	}
	if len(w.users)+len(fresh) > signaling.MaxWatch {
		if req.auto {
			c.log.Warn("too many contacts to watch", "watched", len(w.users), "more", len(fresh))
			return
		}
		c.refuse(signaling.Errorf(signaling.InvalidParameter,
			"a connection can watch at most %d users; it watches %d already", signaling.MaxWatch, len(w.users)), req.ref, "")
		return
	}
	for _, u := range fresh {
		if err := w.describe(u); err != nil {
			if c.ctx.Err() == nil {
				c.refuse(signaling.Errorf(signaling.UnknownError, "could not watch presence: %v", err), req.ref, "")
			}
			return
		}
	}
	for _, u := range fresh {
		w.users[u.user] = u
		if !u.hidden {
			w.byKey[u.key] = u
		}
	}
	if err := w.restart(); err != nil {
		w.failed(req, fresh, err)
		return
	}
	for _, u := range w.users {
		if !slices.Contains(fresh, u) {
			w.tell(u, "", false)
		}
	}
	for _, u := range fresh {
		if !u.hidden && len(u.sessions) == 0 {
			u.lastSeen = c.s.lastSeen(c.ctx, u.key)
		}
		w.tell(u, req.ref, true)
	}
}

// describe reads what does not change while watching: the name, and
// whether the user is hidden from this connection.
func (w *watcher) describe(u *watched) error {
	c := w.c
	rec, found, err := c.s.lookup(c.ctx, c.team, u.user)
	if err != nil {
		return err
	}
	if !found {
		// Followed all the same, as before anyone knew them: they may
		// join the team later. A guest sees nobody unknown.
		u.hidden = c.role == RoleGuest
		return nil
	}
	vis, err := c.s.visible(c.ctx, c.team, c.user, c.role, u.user)
	if err != nil {
		return err
	}
	u.hidden, u.name = !vis, rec.Name
	if u.hidden {
		u.name = ""
	}
	return nil
}

// restart starts the KV watches over every watched user that is not
// hidden, and rebuilds their state from the initial values.
func (w *watcher) restart() error {
	c := w.c
	w.stop()
	var pf, bf []string
	for k := range w.byKey {
		pf = append(pf, presenceFilter(k))
		bf = append(bf, k)
	}
	for _, u := range w.byKey {
		u.sessions, u.busy = map[string]presenceRecord{}, false
	}
	if len(pf) == 0 {
		return nil // only hidden users: nothing to follow
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	var err error
	// The watches' context must outlive this call: NATS uses it again to
	// restart their consumers after a gap.
	// (WatchFiltered prefixes the filters in place: it gets a copy.)
	if w.pw, err = c.s.bus.presence.WatchFiltered(c.ctx, slices.Clone(pf)); err != nil {
		return err
	}
	if w.bw, err = c.s.bus.busy.WatchFiltered(c.ctx, bf); err != nil {
		return err
	}
	for _, kw := range []struct {
		w     jetstream.KeyWatcher
		apply func(jetstream.KeyValueEntry) *watched
	}{{w.pw, w.applyPresence}, {w.bw, w.applyBusy}} {
		for synced := false; !synced; {
			select {
			case e, ok := <-kw.w.Updates():
				switch {
				case !ok:
					return errors.New("watch closed")
				case e == nil:
					synced = true
				default:
					kw.apply(e)
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	// The presence watch may have called itself synced before every
	// session came (see latest); what it missed is read here. It
	// goes on from there: a later change comes through it.
	now, err := c.s.presenceNow(ctx, pf...)
	if err != nil {
		c.log.Warn("could not read the contacts' presence: going by the watch", "err", err)
	}
	for k, r := range now {
		w.setSession(k, r)
	}
	return nil
}

// failed refuses a watch that could not start; the fresh users are
// forgotten again, and the others are followed again from the next watch.
func (w *watcher) failed(req watchRequest, fresh []*watched, err error) {
	w.stop()
	for _, u := range fresh {
		delete(w.users, u.user)
		delete(w.byKey, u.key)
	}
	if w.c.ctx.Err() != nil {
		return
	}
	if req.auto {
		w.c.log.Warn("could not watch the contacts", "err", err)
		return
	}
	w.c.refuse(signaling.Errorf(signaling.UnknownError, "could not watch presence: %v", err), req.ref, "")
}

// applyPresence records one presence entry; it returns the user it is
// about, or nil.
func (w *watcher) applyPresence(e jetstream.KeyValueEntry) *watched {
	if e.Operation() == jetstream.KeyValuePut {
		return w.setSession(e.Key(), decodePresence(e.Value(), e.Created()))
	}
	u, sess := w.sessionOf(e.Key())
	if u == nil {
		return nil
	}
	if r, ok := u.sessions[sess]; ok {
		delete(u.sessions, sess)
		// Gone now (a goodbye), or at its last heartbeat (an expiry).
		seen := r.Updated
		if e.Operation() == jetstream.KeyValueDelete {
			seen = time.Now()
		}
		if seen.After(u.lastSeen) {
			u.lastSeen = seen.UTC().Truncate(time.Second)
		}
	}
	return u
}

// setSession records that the session with presence key k is here; it
// returns the user it is about, or nil.
func (w *watcher) setSession(k string, r presenceRecord) *watched {
	u, sess := w.sessionOf(k)
	if u != nil {
		u.sessions[sess] = r
	}
	return u
}

// sessionOf returns the watched user and the session of presence key k;
// nil when nobody watched has that key.
func (w *watcher) sessionOf(k string) (*watched, string) {
	key, sess, ok := splitLast(k)
	if !ok {
		return nil, ""
	}
	return w.byKey[key], sess
}

// applyBusy records one busy mark; it returns the user it is about.
func (w *watcher) applyBusy(e jetstream.KeyValueEntry) *watched {
	u := w.byKey[e.Key()]
	if u == nil {
		return nil
	}
	u.busy = e.Operation() == jetstream.KeyValuePut
	return u
}

// tell sends u's presence when it changed since it was last told, or when
// always is set (the answer to a watch, with its ref).
func (w *watcher) tell(u *watched, ref string, always bool) {
	state := signaling.StateOffline
	name := u.name
	if !u.hidden {
		recs := make([]presenceRecord, 0, len(u.sessions))
		var latest time.Time
		for _, r := range u.sessions {
			recs = append(recs, r)
			if r.Name != "" && r.Updated.After(latest) {
				name, latest = r.Name, r.Updated
			}
		}
		state = aggregate(recs, u.busy)
	}
	if !always && u.told && u.toldWhat == state && u.toldName == name {
		return
	}
	u.told, u.toldWhat, u.toldName = true, state, name
	online := state.Online()
	m := signaling.Message{Type: signaling.TypePresence, Ref: ref, User: u.user, Online: &online, State: state, Name: name}
	if !online && !u.lastSeen.IsZero() && !u.hidden {
		t := u.lastSeen
		m.LastSeen = &t
	}
	b, err := signaling.Encode(m)
	if err != nil {
		w.c.log.Error("encode presence", "err", err)
		return
	}
	w.c.enqueueWait(b)
}
