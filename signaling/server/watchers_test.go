//go:build e2e

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// The server's load test of the e2e tier (beside capacity_test.go's): 2,000
// signed-in connections in this process. It needs nothing installed, but it
// holds the fast tier up by a quarter of a minute.

// consumers counts the JetStream consumers of the presence and busy
// buckets.
func (s *testServer) consumers(t testing.TB) int {
	t.Helper()
	n := 0
	for _, b := range []string{store.BucketPresence, store.BucketBusy} {
		st, err := s.bus.js.Stream(t.Context(), "KV_"+b)
		if err != nil {
			t.Fatal(err)
		}
		n += st.CachedInfo().State.Consumers
	}
	return n
}

// TestManyWatchersLeaveCallingWorking: 2,000 connections, each watching a
// contact, plus calls, long-polls and directory requests, create no
// JetStream consumer beyond the node's own two; calling goes on. (Each
// watch, call and long-poll created one, and the stream allows 1,000:
// past them, no call could start.)
func TestManyWatchersLeaveCallingWorking(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 connections")
	}
	const n = 2000
	s := startServer(t)
	ctx := t.Context()
	base := s.consumers(t)
	tokens := make([]string, n)
	for i := range n {
		user := fmt.Sprintf("w%04d", i)
		tok, err := s.IssueToken(ctx, user, TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
		b, _ := json.Marshal(store.Contacts{Contacts: []string{fmt.Sprintf("w%04d", (i+1)%n)}})
		if _, err := s.store.Contacts.Put(ctx, store.UserKey(DefaultTeam, user), b); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	conns := make([]*quietConn, n)
	for i := range n {
		wg.Go(func() { conns[i] = s.connectQuiet(t, tokens[i]) })
		if i%50 == 49 {
			wg.Wait()
		}
	}
	wg.Wait()
	// Every connection is told of its contact: online, once everyone is.
	for i, q := range conns {
		q.waitState(t, fmt.Sprintf("w%04d", (i+1)%n), signaling.StateOnline)
	}
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	api := s.userAPI(s.token(t, "carol"))
	for i := range 20 {
		if _, err := api.Directory(ctx, "w00"); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		_, _ = api.Presence(wctx, fmt.Sprintf("w%04d", i), time.Minute) // a long-poll, cut short
		cancel()
		id := placeCall(t, alice, bob, "d")
		bob.send(msg(signaling.TypeRinging, id))
		alice.expect(status(ev(id, signaling.Ringing, out, "alice", "bob")))
		bob.expect(status(ev(id, signaling.Ringing, in, "alice", "bob")))
		alice.send(msg(signaling.TypeHangup, id))
		alice.expect(status(ended(id, signaling.Unanswered, out, "alice", "bob", ReasonCanceled, 0)))
		bob.expect(status(ended(id, signaling.Unanswered, in, "alice", "bob", ReasonCanceled, 0)))
	}
	if got := s.consumers(t); got > base {
		t.Errorf("presence and busy buckets: %d consumers with %d watching connections, 20 calls, "+
			"long-polls and directory requests; %d before", got, n, base)
	}
}
