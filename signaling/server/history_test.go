package server

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// history reads tok's history with q, failing the test on an error.
func (s *testServer) history(t *testing.T, tok string, q signaling.HistoryQuery) signaling.History {
	t.Helper()
	h, err := s.userAPI(tok).History(context.Background(), q)
	if err != nil {
		t.Fatalf("history %+v: %v", q, err)
	}
	return h
}

// TestHistoryRefused: a dial refused because the callee is offline, busy
// or in do not disturb is in both parties' history (missed and unseen for
// the callee, with its reason and code); the seen mark is per person and
// never moves back; the filters and pages narrow the list.
func TestHistoryRefused(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	bobTok := s.token(t, "bob") // known, offline
	aliceTok := s.teamToken(t, s.APIKey(), "alice", url.Values{"name": {"Alice Liddell"}})
	alice := s.connectWith(t, "alice", aliceTok)

	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d1", To: "bob", SDP: "offer"})
	alice.expectError(signaling.NoConnectedDestination, "d1", "")

	// The record is written before the refusal is sent: no wait.
	h := s.history(t, bobTok, signaling.HistoryQuery{})
	if len(h.Calls) != 1 || h.Unseen != 1 || h.SeenUpTo != nil {
		t.Fatalf("bob's history after an offline dial: %s", js(h))
	}
	c := h.Calls[0]
	if c.From != "alice" || c.To != "bob" || c.FromName != "Alice Liddell" || c.ToName != "" ||
		c.Direction != signaling.Inbound || c.Status != signaling.Unanswered || c.Reason != ReasonOffline ||
		c.Code != signaling.NoConnectedDestination || !c.Missed || !c.Unseen || c.Ended == nil || c.DurationMS != 0 {
		t.Errorf("bob's record of the offline dial: %s", js(c))
	}
	mine := s.history(t, aliceTok, signaling.HistoryQuery{})
	if len(mine.Calls) != 1 || mine.Calls[0].ID != c.ID || mine.Calls[0].Direction != signaling.Outbound ||
		mine.Calls[0].Missed || mine.Unseen != 0 {
		t.Errorf("alice's history after her offline dial: %s", js(mine))
	}

	// Busy: bob, with call waiting off, answers carol's call; alice's dial
	// to him is refused.
	s.waitingOff(t, "bob")
	bob := s.connectWith(t, "bob", bobTok)
	carol := s.connect(t, "carol", "")
	placeCall(t, carol, bob, "c1")
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d2", To: "bob", SDP: "offer"})
	alice.expectError(signaling.AlreadyBusyCall, "d2", "")
	// Do not disturb.
	if _, err := s.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	dave := s.connect(t, "dave", "")
	dave.send(signaling.Message{Type: signaling.TypeDial, Ref: "d3", To: "bob", SDP: "offer"})
	dave.expectError(signaling.AlreadyBusyCall, "d3", "")

	h = s.history(t, bobTok, signaling.HistoryQuery{Missed: true})
	var reasons []string
	for _, c := range h.Calls {
		reasons = append(reasons, c.From+":"+c.Reason+":"+strconv.Itoa(int(c.Code)))
	}
	want := js([]string{"dave:do not disturb:80202", "alice:busy:80202", "alice:offline:80404"})
	if got := js(reasons); got != want || h.Unseen != 3 {
		t.Fatalf("bob's missed calls: got %s (%d unseen), want %s (3 unseen)", got, h.Unseen, want)
	}
	all := s.history(t, bobTok, signaling.HistoryQuery{})
	if len(all.Calls) != 4 || all.Calls[len(all.Calls)-2].From != "carol" || all.Calls[len(all.Calls)-2].Missed {
		t.Errorf("bob's history: want the 3 missed and carol's call (not missed, ringing), got %s", js(all))
	}

	// Filters and pages.
	for _, tc := range []struct {
		name string
		q    signaling.HistoryQuery
		want int
	}{
		{"with alice", signaling.HistoryQuery{With: "alice"}, 2},
		{"with carol", signaling.HistoryQuery{With: "carol"}, 1},
		{"since the busy one", signaling.HistoryQuery{Since: h.Calls[1].Started}, 2},
		{"limit", signaling.HistoryQuery{Missed: true, Limit: 1}, 1},
		{"next page", signaling.HistoryQuery{Missed: true, Before: h.Calls[0].Started}, 2},
		{"unseen", signaling.HistoryQuery{Unseen: true}, 3},
	} {
		if got := s.history(t, bobTok, tc.q); len(got.Calls) != tc.want || got.Unseen != 3 {
			t.Errorf("%s: got %d calls (%d unseen), want %d (3 unseen): %s", tc.name, len(got.Calls), got.Unseen,
				tc.want, js(got))
		}
	}

	// Seen up to the busy one: the dnd one is still unseen; the mark does
	// not move back.
	mark, err := s.userAPI(bobTok).SeeHistory(ctx, h.Calls[1].Started)
	if err != nil || !mark.Equal(h.Calls[1].Started) {
		t.Fatalf("see: got %v, %v; want %v", mark, err, h.Calls[1].Started)
	}
	if back, err := s.userAPI(bobTok).SeeHistory(ctx, h.Calls[2].Started); err != nil || !back.Equal(mark) {
		t.Errorf("seeing an older call moved the mark to %v (%v), want it kept at %v", back, err, mark)
	}
	// Another token of bob's (another device) reads the same mark.
	h = s.history(t, s.token(t, "bob"), signaling.HistoryQuery{Missed: true})
	if h.Unseen != 1 || !h.Calls[0].Unseen || h.Calls[1].Unseen || h.SeenUpTo == nil || !h.SeenUpTo.Equal(mark) {
		t.Errorf("after seeing up to the busy one: %s", js(h))
	}
	if _, err := s.userAPI(bobTok).SeeHistory(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if h = s.history(t, bobTok, signaling.HistoryQuery{Unseen: true}); h.Unseen != 0 || len(h.Calls) != 0 {
		t.Errorf("after seeing all: %s", js(h))
	}
	// Alice's mark is hers: her history is untouched by bob's.
	if h = s.history(t, aliceTok, signaling.HistoryQuery{}); h.SeenUpTo != nil || len(h.Calls) != 2 {
		t.Errorf("alice's history after bob saw his: %s", js(h))
	}
}

// TestHistoryPrivate: a member cannot read another's history (80101), an
// admin of the team can; nobody of another team finds anything, and a
// dial to a user of another team leaves no record.
func TestHistoryPrivate(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	s.token(t, "bob") // offline
	alice := s.connect(t, "alice", "")
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d1", To: "bob", SDP: "offer"})
	alice.expectError(signaling.NoConnectedDestination, "d1", "")

	carolTok := s.token(t, "carol")
	_, err := s.userAPI(carolTok).History(ctx, signaling.HistoryQuery{User: "bob"})
	var e *signaling.Error
	if !errors.As(err, &e) || e.Code != signaling.InvalidParameter {
		t.Errorf("carol reading bob's history: got %v, want a refusal %d", err, signaling.InvalidParameter)
	}
	if h := s.history(t, carolTok, signaling.HistoryQuery{With: "bob"}); len(h.Calls) != 0 {
		t.Errorf("carol's history with bob: %s", js(h))
	}
	adminTok := s.teamToken(t, s.APIKey(), "root", url.Values{"role": {"admin"}})
	if h := s.history(t, adminTok, signaling.HistoryQuery{User: "bob"}); len(h.Calls) != 1 || !h.Calls[0].Missed {
		t.Errorf("an admin reading bob's history: %s", js(h))
	}

	team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	acmeAdmin := s.teamToken(t, team.APIKey, "root", url.Values{"role": {"admin"}})
	for _, u := range []string{"bob", "alice", ""} {
		if h := s.history(t, acmeAdmin, signaling.HistoryQuery{User: u}); len(h.Calls) != 0 || h.Unseen != 0 {
			t.Errorf("acme's admin reading %q's history: %s", u, js(h))
		}
	}
	eve := s.connectWith(t, "eve", s.teamToken(t, team.APIKey, "eve", nil))
	eve.send(signaling.Message{Type: signaling.TypeDial, Ref: "d2", To: "bob", SDP: "offer"})
	eve.expectError(signaling.NotFoundUserSessionID, "d2", "")
	if h := s.history(t, s.token(t, "bob"), signaling.HistoryQuery{}); len(h.Calls) != 1 || h.Calls[0].From != "alice" {
		t.Errorf("bob's history after a dial from another team: want alice's call alone, got %s", js(h))
	}
	if calls, err := s.adminAPI(team.APIKey).Calls(ctx, signaling.CallsQuery{}); err != nil || len(calls) != 0 {
		t.Errorf("acme's call records: %s, %v", js(calls), err)
	}
}

// TestCallable: asking whether bob may be called is refused as a dial:
// 80102 for nobody (not recorded), 80404 while he is offline and 80202 in
// do not disturb, each then in both histories as a refused dial; once he
// is online, he is callable, and nothing more is recorded.
func TestCallable(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	bobTok, aliceTok := s.token(t, "bob"), s.token(t, "alice")
	alice := s.userAPI(aliceTok)
	code := func(err error) signaling.Code {
		var e *signaling.Error
		if errors.As(err, &e) {
			return e.Code
		}
		return 0
	}
	if _, err := alice.Callable(ctx, "nobody"); code(err) != signaling.NotFoundUserSessionID {
		t.Errorf("callable nobody: %v, want 80102", err)
	}
	if _, err := alice.Callable(ctx, "bob"); code(err) != signaling.NoConnectedDestination {
		t.Errorf("callable bob, offline: %v, want 80404", err)
	}
	s.connectWith(t, "bob", bobTok)
	if p, err := alice.Callable(ctx, "bob"); err != nil || p.User != "bob" || !p.Online {
		t.Errorf("callable bob, online: %s, %v", js(p), err)
	}
	if _, err := s.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Callable(ctx, "bob"); code(err) != signaling.AlreadyBusyCall {
		t.Errorf("callable bob, dnd: %v, want 80202", err)
	}
	for _, tok := range []string{aliceTok, bobTok} {
		h := s.history(t, tok, signaling.HistoryQuery{})
		if len(h.Calls) != 2 || h.Calls[0].Reason != ReasonDND || h.Calls[1].Reason != ReasonOffline ||
			h.Calls[1].Code != signaling.NoConnectedDestination || h.Calls[0].From != "alice" {
			t.Errorf("history: want the dnd and the offline refusals, got %s", js(h))
		}
	}
}

// TestHistoryTwoNodesRestart: the dials refused on node a (bob offline,
// then in do not disturb) and a call owned by a that rang bob on b and was
// given up are in bob's history read from b, the same as read from a; the
// seen mark bob sets through b is the one a reads; and all of it is the
// same after both nodes restart.
func TestHistoryTwoNodesRestart(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	cfg.NATSListen, cfg.NodeName = "127.0.0.1:0", "a"
	a := startWith(t, cfg, logs)
	b := startNode(t, a, "b")
	bobTok := a.token(t, "bob") // known, offline
	aliceTok := a.token(t, "alice")
	alice := a.connectWith(t, "alice", aliceTok)
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d1", To: "bob", SDP: "offer"})
	alice.expectError(signaling.NoConnectedDestination, "d1", "")
	// Carol's call, owned by a, rings bob on b and is given up: missed.
	bob := b.connectWith(t, "bob", bobTok)
	carol := a.connect(t, "carol", "")
	id := placeCall(t, carol, bob, "c1")
	carol.send(msg(signaling.TypeHangup, id))
	if m := carol.nextNotPresence(); m.Type != signaling.TypeCallStatusChanged || m.Event == nil ||
		!m.Event.Status.Terminal() {
		t.Fatalf("carol after giving up: %s", js(m)) // its record is written before she is told
	}
	if _, err := b.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d2", To: "bob", SDP: "offer"})
	alice.expectError(signaling.AlreadyBusyCall, "d2", "")

	hb := b.history(t, bobTok, signaling.HistoryQuery{})
	var got []string
	for _, c := range hb.Calls {
		got = append(got, c.From+":"+string(c.Status)+":"+c.Reason+":"+c.Node+":"+strconv.FormatBool(c.Unseen))
	}
	want := js([]string{"alice:unanswered:do not disturb:a:true", "carol:unanswered:canceled:a:true",
		"alice:unanswered:offline:a:true"})
	if js(got) != want || hb.Unseen != 3 || hb.Calls[1].ID != id {
		t.Fatalf("bob's history from b: %s; want %s, all missed on a", js(hb), want)
	}
	if ha := a.history(t, bobTok, signaling.HistoryQuery{}); js(ha) != js(hb) {
		t.Errorf("bob's history from a %s, from b %s", js(ha), js(hb))
	}
	// Seen through b up to carol's call: a reads the same mark.
	mark, err := b.userAPI(bobTok).SeeHistory(ctx, hb.Calls[1].Started)
	if err != nil {
		t.Fatal(err)
	}
	ha := a.history(t, bobTok, signaling.HistoryQuery{})
	if ha.Unseen != 1 || ha.SeenUpTo == nil || !ha.SeenUpTo.Equal(mark) || !ha.Calls[0].Unseen || ha.Calls[1].Unseen ||
		ha.Calls[2].Unseen {
		t.Fatalf("bob's history from a after he saw the first on b (mark %v): %s", mark, js(ha))
	}
	mine := a.history(t, aliceTok, signaling.HistoryQuery{})

	for _, s := range []*testServer{b, a} {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a = startWith(t, cfg, logs)
	b = startNode(t, a, "b")
	for _, s := range []*testServer{a, b} {
		if got := s.history(t, bobTok, signaling.HistoryQuery{}); js(got) != js(ha) {
			t.Errorf("bob's history from %s after the restart: %s, want %s", s.cfg.NodeName, js(got), js(ha))
		}
		if got := s.history(t, aliceTok, signaling.HistoryQuery{}); js(got) != js(mine) || len(mine.Calls) != 2 {
			t.Errorf("alice's history from %s after the restart: %s, want %s", s.cfg.NodeName, js(got), js(mine))
		}
	}
}
