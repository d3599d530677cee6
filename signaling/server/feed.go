package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// How often the connections that watch a user are told of the user's
// changes: at once, up to presenceBurst changes in a row, then at most
// presenceRate a second, the changes between told together. A user who
// toggles their state thousands of times a second costs each watcher two
// messages a second; one who changes state now and then is told in
// milliseconds.
const (
	presenceBurst = 5
	presenceRate  = 2
)

// maxWaits bounds the presence long-polls (GET …/presence?wait=) that one
// user may hold open on a node at once.
const maxWaits = 4

// feed is this node's view of everyone's presence: one KV watch of the
// presence bucket and one of the busy bucket, however many connections,
// calls and long-polls follow someone (docs/SERVER.md tells why).
//
// The feed's goroutine owns the view and who follows whom. Others ask it
// through do, which runs a function on that goroutine. It tells followers
// of changes without ever blocking: a watching connection gets a presence
// message queued (see presenceBurst), a call or a long-poll the user's
// latest view in its presenceBox. sync returns once the feed has applied
// every change the buckets held when sync was called.
type feed struct {
	s    *Server
	log  *slog.Logger
	reqs chan func()
	ctx  context.Context // ends with close
	stop context.CancelFunc
	done chan struct{} // closed when run returns

	// Owned by run.
	pw, bw         jetstream.KeyWatcher
	users          map[string]*feedUser // by userKey: everyone with a session, a busy mark, or a follower
	conns          map[*conn][]*watchEntry
	pRev, bRev     uint64 // the last revisions applied, of each bucket
	pStart, bStart uint64 // the buckets' last revisions when the watches started
	syncs          []feedSync
	due            map[*feedUser]bool // users whose watchers wait for their allowance
	timer          *time.Timer
	gen            int // the current watch's generation: see restart
}

// The busy marks a user can hold (store.WaitingKey).
const (
	busyFirst   uint8 = 1 << iota // their key
	busyWaiting                   // their waiting key: a call that rang as a waiting call
)

// feedUser is one user in the view.
type feedUser struct {
	key      string
	sessions []feedSession // most have one; a slice is a tenth of a map's size
	busy     uint8         // busyFirst and busyWaiting: the busy marks held
	lastSeen time.Time     // when their last session went, while the feed watched
	recName  string        // their name in the users bucket, for when no session names them

	state signaling.State // as of the last change
	name  string
	// The watchers' allowance of changes (see presenceBurst), as of
	// refilled.
	allowance float64
	refilled  time.Time

	watchers []*watchEntry
	boxes    []*presenceBox
}

// feedSession is what the feed keeps of a presence record.
type feedSession struct {
	token       string // the session's key token
	name        string
	idle        bool
	manual      signaling.State
	manualSince time.Time
	updated     time.Time
	gen         int
	rev         uint64 // the revision that first put it (for a restarted watch, its latest)
}

func newFeedSession(token string, r presenceRecord, gen int) feedSession {
	return feedSession{token: token, name: r.Name, idle: r.Idle, manual: r.Manual, manualSince: r.ManualSince,
		updated: r.Updated, gen: gen}
}

// same reports whether s and o differ only in their heartbeat.
func (s feedSession) same(o feedSession) bool {
	return s.name == o.name && s.idle == o.idle && s.manual == o.manual && s.manualSince.Equal(o.manualSince)
}

// watchEntry is one user a connection watches.
type watchEntry struct {
	c    *conn
	user string    // the id the connection watches
	u    *feedUser // nil for a user hidden from the connection: always offline

	// The feed's: what the connection was last told (told's hash of the
	// state and name: a watch is a third the size with it than with
	// them), and whether it may be told more (its first presence is
	// queued).
	told  uint64
	ready bool
}

// now is the state and name of w's user as the feed has them.
func (w *watchEntry) now() (signaling.State, string) {
	if w.u == nil {
		return signaling.StateOffline, ""
	}
	return w.u.state, cmp.Or(w.u.name, w.u.recName)
}

// stale reports whether w's connection was told otherwise than now.
func (w *watchEntry) stale() bool { return told(w.now()) != w.told }

// told is the hash of a state and name that a watchEntry keeps (FNV-1a).
func told(state signaling.State, name string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{string(state), "\x00", name} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
	}
	return h
}

// feedSync is a sync waiting for the feed to reach these revisions.
type feedSync struct {
	pRev, bRev uint64
	done       chan struct{}
}

// presenceView is one user's presence, for calls and long-polls.
type presenceView struct {
	sessions []string // the key tokens of their sessions
	state    signaling.State
	name     string
	lastSeen time.Time
}

func (v presenceView) has(session string) bool { return slices.Contains(v.sessions, session) }

// presenceBox keeps the latest views of the users one call or long-poll
// follows, for its own goroutine: the feed puts, the owner takes after
// Ready.
type presenceBox struct {
	owner string // the userKey of a long-poll's user; "" for a call
	ready chan struct{}
	mu    sync.Mutex
	views map[string]presenceView // by userKey; changed since the last take
}

func newPresenceBox(owner string) *presenceBox {
	return &presenceBox{owner: owner, ready: make(chan struct{}, 1), views: map[string]presenceView{}}
}

func (b *presenceBox) put(key string, v presenceView) {
	b.mu.Lock()
	b.views[key] = v
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take returns the views that changed since the last take.
func (b *presenceBox) take() map[string]presenceView {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.views
	b.views = map[string]presenceView{}
	return v
}

func startFeed(s *Server) (*feed, error) {
	ctx, stop := context.WithCancel(context.Background())
	f := &feed{
		s: s, log: s.log.With("component", "feed"),
		reqs: make(chan func()), ctx: ctx, stop: stop, done: make(chan struct{}),
		users: map[string]*feedUser{}, conns: map[*conn][]*watchEntry{}, due: map[*feedUser]bool{},
		timer: time.NewTimer(time.Hour),
	}
	f.timer.Stop()
	if err := f.watch(); err != nil {
		stop()
		return nil, err
	}
	go f.run()
	return f, nil
}

// watch starts the two KV watches. Their context must outlive this call:
// NATS uses it again to restart their consumers after a gap.
func (f *feed) watch() (err error) {
	// What the watches' initial values cover: once they are read, the
	// view is as of these revisions at least.
	if f.pStart, err = f.s.store.LastRevision(f.ctx, store.BucketPresence); err != nil {
		return err
	}
	if f.bStart, err = f.s.store.LastRevision(f.ctx, store.BucketBusy); err != nil {
		return err
	}
	if f.pw, err = f.s.store.Presence.WatchAll(f.ctx); err != nil {
		return fmt.Errorf("server: watch presence: %w", err)
	}
	if f.bw, err = f.s.store.Busy.WatchAll(f.ctx, jetstream.MetaOnly()); err != nil {
		_ = f.pw.Stop()
		return fmt.Errorf("server: watch busy marks: %w", err)
	}
	return nil
}

// close stops the feed and waits for it.
func (f *feed) close() {
	if f == nil {
		return
	}
	f.stop()
	<-f.done
}

func (f *feed) run() {
	defer close(f.done)
	defer f.timer.Stop()
	defer func() {
		_ = f.pw.Stop()
		_ = f.bw.Stop()
	}()
	for {
		select {
		case <-f.ctx.Done():
			return
		case fn := <-f.reqs:
			fn()
		case e, ok := <-f.pw.Updates():
			if !ok {
				f.restart()
				continue
			}
			if e != nil {
				f.applyPresence(e)
			} else {
				f.pRev = max(f.pRev, f.pStart)
				f.sweep()
			}
			f.release()
		case e, ok := <-f.bw.Updates():
			if !ok {
				f.restart()
				continue
			}
			if e != nil {
				f.applyBusy(e)
			} else {
				f.bRev = max(f.bRev, f.bStart)
			}
			f.release()
		case <-f.timer.C:
			f.flushDue()
		}
	}
}

// do runs fn on the feed's goroutine and waits for it; false when the feed
// stopped first.
func (f *feed) do(ctx context.Context, fn func()) bool {
	done := make(chan struct{})
	select {
	case f.reqs <- func() { fn(); close(done) }:
	case <-f.done:
		return false
	case <-ctx.Done():
		return false
	}
	<-done
	return true
}

// restart watches again after a watch ended by itself (NATS gave up on
// it): every entry is read again, and the sessions not read again by the
// end of the initial values (sweep) are gone.
func (f *feed) restart() {
	if f.ctx.Err() != nil {
		return
	}
	f.log.Error("presence watch ended: watching again")
	_ = f.pw.Stop()
	_ = f.bw.Stop()
	f.gen++
	for f.watch() != nil {
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	for _, u := range f.users {
		u.busy = 0 // the busy watch tells again
	}
}

// sweep drops the sessions that a restarted watch did not read again,
// and tells what changed meanwhile.
func (f *feed) sweep() {
	if f.gen == 0 {
		return
	}
	for _, u := range f.users {
		n := len(u.sessions)
		u.sessions = slices.DeleteFunc(u.sessions, func(r feedSession) bool { return r.gen != f.gen })
		f.changed(u, len(u.sessions) != n)
		f.forget(u)
	}
}

// user returns the view of key, making it.
func (f *feed) user(key string) *feedUser {
	u := f.users[key]
	if u == nil {
		u = &feedUser{key: key, state: signaling.StateOffline}
		f.users[key] = u
	}
	return u
}

// forget drops u from the view once nothing keeps it.
func (f *feed) forget(u *feedUser) {
	if len(u.sessions) == 0 && u.busy == 0 && len(u.watchers) == 0 && len(u.boxes) == 0 {
		delete(f.users, u.key)
		delete(f.due, u)
	}
}

func (f *feed) applyPresence(e jetstream.KeyValueEntry) {
	f.pRev = max(f.pRev, e.Revision())
	key, sess, ok := splitLast(e.Key())
	if !ok {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		u := f.user(key)
		r := newFeedSession(sess, decodePresence(e.Value(), e.Created()), f.gen)
		i := u.session(sess)
		if i < 0 {
			r.rev = e.Revision()
			u.sessions = append(u.sessions, r)
			f.changed(u, true)
			return
		}
		old := u.sessions[i]
		r.rev = old.rev
		u.sessions[i] = r
		if !old.same(r) {
			f.changed(u, false)
		}
		return
	}
	u := f.users[key]
	if u == nil {
		return
	}
	i := u.session(sess)
	if i < 0 {
		return
	}
	r := u.sessions[i]
	u.sessions = slices.Delete(u.sessions, i, i+1)
	// Gone now (a goodbye), or at its last heartbeat (an expiry).
	seen := r.updated
	if e.Operation() == jetstream.KeyValueDelete {
		seen = time.Now()
	}
	if seen.After(u.lastSeen) {
		u.lastSeen = seen.UTC().Truncate(time.Second)
	}
	f.changed(u, true)
	f.forget(u)
}

func (f *feed) applyBusy(e jetstream.KeyValueEntry) {
	f.bRev = max(f.bRev, e.Revision())
	key, bit := e.Key(), busyFirst
	if k, ok := strings.CutSuffix(key, store.WaitingKey("")); ok {
		key, bit = k, busyWaiting
	}
	put := e.Operation() == jetstream.KeyValuePut
	u := f.users[key]
	if u == nil {
		if !put {
			return
		}
		u = f.user(key)
	}
	was := u.busy != 0
	if put {
		u.busy |= bit
	} else {
		u.busy &^= bit
	}
	if was != (u.busy != 0) {
		f.changed(u, false)
	}
	f.forget(u)
}

// changed follows a change of u: its boxes hear of it at once, its
// watchers when its state or name changed, within their allowance.
func (f *feed) changed(u *feedUser, sessions bool) {
	state, name := u.aggregate()
	stateChanged := state != u.state || name != u.name
	u.state, u.name = state, name
	if sessions || stateChanged {
		if len(u.boxes) > 0 {
			v := u.view()
			for _, b := range u.boxes {
				b.put(u.key, v)
			}
		}
	}
	if !stateChanged || len(u.watchers) == 0 || f.due[u] {
		return
	}
	if wait := u.spend(); wait > 0 {
		f.due[u] = true
		if len(f.due) == 1 {
			f.timer.Reset(wait)
		}
		return
	}
	f.tell(u)
}

// spend takes one change from u's allowance: 0 when there was one, else
// how long until there is.
func (u *feedUser) spend() time.Duration {
	now := time.Now()
	if u.refilled.IsZero() {
		u.allowance = presenceBurst
	} else {
		u.allowance = min(presenceBurst, u.allowance+now.Sub(u.refilled).Seconds()*presenceRate)
	}
	u.refilled = now
	if u.allowance >= 1 {
		u.allowance--
		return 0
	}
	return time.Duration((1 - u.allowance) / presenceRate * float64(time.Second))
}

// aggregate is u's state now (see signaling.State), and the display name
// of its latest session.
func (u *feedUser) aggregate() (signaling.State, string) {
	if len(u.sessions) == 0 {
		return signaling.StateOffline, ""
	}
	var name string
	var named, manualAt time.Time
	var manual signaling.State
	idle := true
	for _, r := range u.sessions {
		if r.name != "" && r.updated.After(named) {
			name, named = r.name, r.updated
		}
		if manual == "" || r.manualSince.After(manualAt) {
			manual, manualAt = r.manual, r.manualSince
		}
		idle = idle && r.idle
	}
	switch {
	case u.busy != 0:
		return signaling.StateInCall, name
	case manual == signaling.StateDND:
		return signaling.StateDND, name
	case manual == signaling.StateAway, idle:
		return signaling.StateAway, name
	}
	return signaling.StateOnline, name
}

// session is the index of u's session with key token tok, or -1.
func (u *feedUser) session(tok string) int {
	return slices.IndexFunc(u.sessions, func(r feedSession) bool { return r.token == tok })
}

func (u *feedUser) view() presenceView {
	v := presenceView{state: u.state, name: u.name, lastSeen: u.lastSeen}
	for _, r := range u.sessions {
		v.sessions = append(v.sessions, r.token)
	}
	return v
}

// tell queues u's presence for each watcher that was told otherwise.
func (f *feed) tell(u *feedUser) {
	delete(f.due, u)
	for _, w := range u.watchers {
		if w.ready && w.stale() {
			f.send(w)
		}
	}
}

// flushDue tells the users whose allowance came back, and sets the timer
// for the next.
func (f *feed) flushDue() {
	var next time.Duration
	for u := range f.due {
		if wait := u.spend(); wait > 0 {
			next = min(cmp.Or(next, wait), wait)
			continue
		}
		f.tell(u)
	}
	if len(f.due) > 0 {
		f.timer.Reset(next)
	}
}

// send queues the presence of w's user for its connection.
func (f *feed) send(w *watchEntry) {
	if b := f.presence(w, ""); b != nil {
		w.c.enqueue(b)
	}
}

// presence is the wire form of the presence of w's user as the feed has
// it, answering ref; w is told so.
func (f *feed) presence(w *watchEntry, ref string) []byte {
	state, name := w.now()
	w.told = told(state, name)
	online := state.Online()
	m := signaling.Message{Type: signaling.TypePresence, Ref: ref, User: w.user, Online: &online, State: state,
		Name: name}
	if !online && w.u != nil && !w.u.lastSeen.IsZero() {
		t := w.u.lastSeen
		m.LastSeen = &t
	}
	b, err := signaling.Encode(m)
	if err != nil {
		f.log.Error("encode presence", "err", err)
	}
	return b
}

// release answers the syncs that the revisions applied have reached.
func (f *feed) release() {
	if len(f.syncs) == 0 {
		return
	}
	f.syncs = slices.DeleteFunc(f.syncs, func(s feedSync) bool {
		if f.pRev >= s.pRev && f.bRev >= s.bRev {
			close(s.done)
			return true
		}
		return false
	})
}

// sync returns once the feed has applied every change that the presence
// and busy buckets held when it was called, or when ctx ends (then the
// view may be a moment behind, and it says so).
func (f *feed) sync(ctx context.Context) error {
	pRev, err := f.s.store.LastRevision(ctx, store.BucketPresence)
	if err != nil {
		return err
	}
	bRev, err := f.s.store.LastRevision(ctx, store.BucketBusy)
	if err != nil {
		return err
	}
	return f.syncTo(ctx, pRev, bRev)
}

// syncTo returns once the feed has applied the presence bucket up to
// revision pRev and the busy bucket up to bRev, or when ctx ends.
func (f *feed) syncTo(ctx context.Context, pRev, bRev uint64) error {
	done := make(chan struct{})
	if !f.do(ctx, func() {
		f.syncs = append(f.syncs, feedSync{pRev: pRev, bRev: bRev, done: done})
		f.release()
	}) {
		return errors.New("server: the presence feed stopped")
	}
	select {
	case <-done:
		return nil
	case <-f.done:
		return errors.New("server: the presence feed stopped")
	case <-ctx.Done():
		return fmt.Errorf("server: presence not up to date: %w", ctx.Err())
	}
}

// views returns the presence of the users with these keys, as the feed
// has it now.
func (f *feed) views(ctx context.Context, keys []string) map[string]presenceView {
	out := make(map[string]presenceView, len(keys))
	f.do(ctx, func() {
		for _, k := range keys {
			if u := f.users[k]; u != nil {
				out[k] = u.view()
			} else {
				out[k] = presenceView{state: signaling.StateOffline}
			}
		}
	})
	return out
}

// sessions tells how many sessions the user with userKey key has, as far
// as the feed has applied.
func (f *feed) sessions(ctx context.Context, key string) int {
	n := 0
	f.do(ctx, func() {
		if u := f.users[key]; u != nil {
			n = len(u.sessions)
		}
	})
	return n
}

// sessionsUpTo tells how many sessions the user with userKey key had once
// the presence bucket reached revision rev: it waits for the feed to apply
// rev, and counts the sessions put at rev or before. Two connects racing
// on any nodes thus agree on which came first.
func (f *feed) sessionsUpTo(ctx context.Context, key string, rev uint64) (int, error) {
	if err := f.syncTo(ctx, rev, 0); err != nil {
		return 0, err
	}
	n := 0
	f.do(ctx, func() {
		if u := f.users[key]; u != nil {
			for _, r := range u.sessions {
				if r.rev <= rev {
					n++
				}
			}
		}
	})
	return n, nil
}

// followBox has box follow the users with these keys, and puts their
// views in it now. A long-poll's box (with an owner) is refused when its
// owner holds maxWaits already.
func (f *feed) followBox(ctx context.Context, box *presenceBox, keys ...string) bool {
	ok := true
	f.do(ctx, func() {
		if box.owner != "" && f.waits(box.owner) >= maxWaits {
			ok = false
			return
		}
		for _, k := range keys {
			u := f.user(k)
			u.boxes = append(u.boxes, box)
			box.put(k, u.view())
		}
	})
	return ok
}

// waits counts the long-polls of the user with userKey owner.
func (f *feed) waits(owner string) int {
	seen := map[*presenceBox]bool{}
	for _, u := range f.users {
		for _, b := range u.boxes {
			if b.owner == owner {
				seen[b] = true
			}
		}
	}
	return len(seen)
}

// unfollowBox undoes followBox.
func (f *feed) unfollowBox(box *presenceBox, keys ...string) {
	f.do(context.Background(), func() {
		for _, k := range keys {
			if u := f.users[k]; u != nil {
				u.boxes = slices.DeleteFunc(u.boxes, func(b *presenceBox) bool { return b == box })
				f.forget(u)
			}
		}
	})
}

// unwatched returns the users of users (in order, once each) that c does
// not watch yet, and how many it watches.
func (f *feed) unwatched(ctx context.Context, c *conn, users []string) (fresh []string, watched int) {
	f.do(ctx, func() {
		have := f.conns[c]
		watched = len(have)
		for _, u := range users {
			if !watching(have, u) && !slices.Contains(fresh, u) {
				fresh = append(fresh, u)
			}
		}
	})
	return fresh, watched
}

// follow has c watch the users of entries, unless it does already, and
// returns their presence in wire form, answering ref, for c to queue in
// that order. keys and names hold each one's userKey ("" for one hidden
// from c) and name in the users bucket; seen when each (by userKey) was
// last seen, from the seen bucket. Until ready, the feed tells c nothing
// more about them. When c would watch more than signaling.MaxWatch users,
// it follows none of them and returns false with how many c watches: a
// watch of c's on another goroutine (a contact added elsewhere) may have
// been followed since unwatched counted.
func (f *feed) follow(ctx context.Context, c *conn, entries []*watchEntry, keys, names []string,
	seen map[string]time.Time, ref string) (out [][]byte, watched int, ok bool) {
	ok = true
	f.do(ctx, func() {
		have := f.conns[c]
		watched = len(have)
		more := 0
		for _, w := range entries {
			if !watching(have, w.user) {
				more++
			}
		}
		if watched+more > signaling.MaxWatch {
			ok = false
			return
		}
		for i, w := range entries {
			if watching(have, w.user) {
				continue
			}
			have = append(have, w)
			if keys[i] != "" {
				w.u = f.user(keys[i])
				w.u.watchers = append(w.u.watchers, w)
				w.u.recName = names[i]
				if t := seen[keys[i]]; t.After(w.u.lastSeen) {
					w.u.lastSeen = t
				}
			}
			out = append(out, f.presence(w, ref))
		}
		f.conns[c] = have
	})
	return out, watched, ok
}

// ready lets the feed tell c of changes to the users of entries, and tells
// what changed since follow.
func (f *feed) ready(ctx context.Context, entries []*watchEntry) {
	f.do(ctx, func() {
		for _, w := range entries {
			w.ready = true
			if w.stale() && !f.due[w.u] {
				f.send(w)
			}
		}
	})
}

// watching reports whether have holds user.
func watching(have []*watchEntry, user string) bool {
	return slices.ContainsFunc(have, func(w *watchEntry) bool { return w.user == user })
}

// unwatch forgets everything c watches.
func (f *feed) unwatch(c *conn) {
	f.do(context.Background(), func() {
		for _, w := range f.conns[c] {
			if w.u != nil {
				w.u.watchers = slices.DeleteFunc(w.u.watchers, func(o *watchEntry) bool { return o == w })
				f.forget(w.u)
			}
		}
		delete(f.conns, c)
	})
}
