package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
)

// quietConn is a signed-in WebSocket that counts the presence messages it
// is sent and keeps the last state of each user: for tests that hold many
// connections, where a client each would be too heavy.
type quietConn struct {
	ws       *websocket.Conn
	presence atomic.Int64 // presence messages received
	done     chan struct{}
	news     chan struct{} // a message came
	hold     sync.Mutex    // held by pause: the reader stops before its next read
	paused   bool          // hold is held
	mu       sync.Mutex
	last     map[string]signaling.State
	counts   map[signaling.Type]int
}

// pause stops reading (after the read under way, if any); resume reads on.
// pause and resume are called on the test's goroutine, as is the cleanup
// that resumes a paused reader (after a Fatal between the two) so that it
// can end.
func (q *quietConn) pause() {
	q.hold.Lock()
	q.paused = true
}

func (q *quietConn) resume() {
	q.paused = false
	q.hold.Unlock()
}

// count tells how many messages of typ came.
func (q *quietConn) count(typ signaling.Type) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[typ]
}

// waitType waits until a message of typ came.
func (q *quietConn) waitType(t testing.TB, typ signaling.Type) {
	t.Helper()
	timeout := time.After(patience)
	for q.count(typ) == 0 {
		select {
		case <-q.news:
		case <-timeout:
			t.Fatalf("no %s within %v", typ, patience)
		}
	}
}

// connectQuiet signs in with tok and reads on in the background.
func (s *testServer) connectQuiet(t testing.TB, tok string) *quietConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr()+PathWS, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	b, _ := json.Marshal(signaling.Message{Type: signaling.TypeConnect, Token: tok})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, b, err = ws.Read(ctx); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	if m, _ := signaling.DecodeServer(b); m.Type != signaling.TypeWelcome {
		t.Fatalf("welcome: got %s", b)
	}
	q := &quietConn{ws: ws, done: make(chan struct{}), news: make(chan struct{}, 1),
		last: map[string]signaling.State{}, counts: map[signaling.Type]int{}}
	go func() {
		defer close(q.done)
		for {
			// A gate: wait here while pause holds the lock.
			q.hold.Lock()
			q.hold.Unlock() //nolint:staticcheck // SA2001: the empty critical section is the gate

			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			m, _ := signaling.DecodeServer(b)
			q.mu.Lock()
			q.counts[m.Type]++
			if m.Type == signaling.TypePresence {
				q.last[m.User] = m.State
				q.presence.Add(1)
			}
			q.mu.Unlock()
			select {
			case q.news <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		if q.paused {
			q.resume()
		}
		<-q.done
	})
	return q
}

// waitState waits until the last presence q heard of user is state.
func (q *quietConn) waitState(t testing.TB, user string, state signaling.State) {
	t.Helper()
	timeout := time.After(patience)
	for {
		q.mu.Lock()
		got := q.last[user]
		q.mu.Unlock()
		if got == state {
			return
		}
		select {
		case <-q.news:
		case <-timeout:
			t.Fatalf("never told %s is %s (last: %q)", user, state, got)
		}
	}
}

// TestPresenceFloodCoalesced: a user who toggles their state 2,000 times
// costs a watcher a handful of presence messages, and the watcher ends up
// with the last state. (Each change the presence bucket saw reached every
// watcher: hundreds.)
func TestPresenceFloodCoalesced(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Heartbeat = 200 * time.Millisecond })
	aliceTok := s.token(t, "alice")
	s.token(t, "bob")
	if _, err := s.userAPI(aliceTok).AddContact(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	s.connect(t, "bob", "")
	alice := s.connectQuiet(t, aliceTok)
	alice.waitState(t, "bob", signaling.StateOnline)
	start := time.Now()
	const toggles = 2000
	api := s.userAPI(s.token(t, "bob"))
	for i := range toggles + 1 {
		state := signaling.StateOnline // the last leaves him online
		if i%2 == 0 && i < toggles {
			state = signaling.StateAway
		}
		if _, err := api.SetPresence(t.Context(), state); err != nil {
			t.Fatal(err)
		}
	}
	last := time.Now().Add(-time.Second / 10) // the last state was set after this
	// Once bob's session wrote the last state (its records follow the
	// state set by hand a moment later), and the feed has it with nothing
	// due, what alice was sent is all she gets.
	deadline := time.Now().Add(patience)
	for {
		recs, err := s.presenceNow(t.Context(), presenceFilter("bob"))
		if err != nil {
			t.Fatal(err)
		}
		r := recs[slices.Collect(maps.Keys(recs))[0]]
		if len(recs) == 1 && r.Manual == "" && r.ManualSince.After(last) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's session never wrote the last state: %v", recs)
		}
		time.Sleep(time.Millisecond)
	}
	for due := true; due; {
		if err := s.feed.sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.feed.do(t.Context(), func() { due = len(s.feed.due) > 0 })
	}
	took := time.Since(start)
	alice.waitState(t, "bob", signaling.StateOnline)
	got := alice.presence.Load() - 1
	limit := int64(presenceBurst + presenceRate*took.Seconds() + 1)
	t.Logf("%d toggles in %v: %d presence messages to a watcher (at most %d)", toggles, took.Round(time.Millisecond),
		got, limit)
	if got > limit {
		t.Errorf("%d presence messages for %d toggles in %v, want at most %d", got, toggles, took, limit)
	}
}

// TestWatchLimitCountedAsFollowed: two watches of one connection that both
// found room for one more user (the reader's, and a contact added
// elsewhere, on a goroutine of its own) do not take it past
// signaling.MaxWatch: the feed counts again as it follows. (Both were
// followed: 1,001 users.)
func TestWatchLimitCountedAsFollowed(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	c := &conn{} // only a key here: its users are hidden from it, and it is never told
	defer s.feed.unwatch(c)
	follow := func(users ...string) (int, bool) {
		t.Helper()
		var entries []*watchEntry
		for _, u := range users {
			entries = append(entries, &watchEntry{c: c, user: u})
		}
		hidden := make([]string, len(users))
		_, watched, ok := s.feed.follow(ctx, c, entries, hidden, hidden, nil, "")
		return watched, ok
	}
	var users []string
	for i := range signaling.MaxWatch - 1 {
		users = append(users, fmt.Sprint("w", i))
	}
	if _, ok := follow(users...); !ok {
		t.Fatalf("%d users refused", len(users))
	}
	for _, u := range []string{"a", "b"} {
		if fresh, watched := s.feed.unwatched(ctx, c, []string{u}); len(fresh) != 1 || watched != len(users) {
			t.Fatalf("unwatched %s: %v, %d watched; want it fresh, %d watched", u, fresh, watched, len(users))
		}
	}
	if _, ok := follow("a"); !ok {
		t.Errorf("the %dth user refused", signaling.MaxWatch)
	}
	if watched, ok := follow("b"); ok || watched != signaling.MaxWatch {
		t.Errorf("one user over the limit: followed %v with %d watched; want it refused with %d", ok, watched,
			signaling.MaxWatch)
	}
	if _, watched := s.feed.unwatched(ctx, c, nil); watched != signaling.MaxWatch {
		t.Errorf("%d users watched, want %d", watched, signaling.MaxWatch)
	}
}
