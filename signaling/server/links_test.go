package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/turn/turntest"
)

// makeLink makes a guest link as the holder of token, or fails.
func (s *testServer) makeLink(t *testing.T, token string, req signaling.LinkRequest) signaling.Link {
	t.Helper()
	status, body := s.post(t, nil, signaling.PathLinks, token, req)
	var l signaling.Link
	if status != http.StatusOK || json.Unmarshal(body, &l) != nil || l.URL == "" {
		t.Fatalf("make link: %d %s", status, body)
	}
	return l
}

// post sends a JSON POST with a bearer token (if any) through hc (nil:
// the default client) and returns the status and body.
func (s *testServer) post(t *testing.T, hc *http.Client, path, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPost, s.url(path), r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// browser is a guest's browser: an HTTP client with its own cookies.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// join joins the link from hc and returns the answer, or the refusal.
func (s *testServer) join(t *testing.T, hc *http.Client, l signaling.Link) (signaling.Join, *signaling.Error) {
	t.Helper()
	status, body := s.post(t, hc, "/join/"+l.Code, "", nil)
	if status != http.StatusOK {
		var e signaling.Error
		if err := json.Unmarshal(body, &e); err != nil || e.Code == 0 {
			t.Fatalf("join: %d %s", status, body)
		}
		return signaling.Join{}, &e
	}
	var j signaling.Join
	if err := json.Unmarshal(body, &j); err != nil || j.Token == "" {
		t.Fatalf("join: %s (%v)", body, err)
	}
	return j, nil
}

// page fetches the link's page from hc and returns its status and body.
func page(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// guest connects a signaling client with a guest token.
func (s *testServer) guest(t *testing.T, j signaling.Join) *client {
	t.Helper()
	c := s.dial(t, "guest")
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: j.Token})
	w := c.next()
	if w.Type != signaling.TypeWelcome || w.User != j.Guest || w.Role != RoleGuest {
		t.Fatalf("guest connect: got %s", js(w))
	}
	c.user, c.session = w.User, w.Session
	return c
}

// TestGuestLink: a link opens for the first browser only (and again for
// it); the guest knocks on its host alone, who sees a guest's call and lets
// them in; once the call completes the link is spent.
func TestGuestLink(t *testing.T) {
	s := startServer(t, func(c *Config) { c.LobbyTimeout = time.Minute })
	alice := s.connect(t, "alice", "")
	s.connect(t, "bob", "")
	l := s.makeLink(t, s.token(t, "alice"), signaling.LinkRequest{Name: "Carol"})
	if !strings.HasPrefix(l.URL, "http://"+s.Addr()+"/join/") || len(l.Code) != 26 || l.Host != "alice" ||
		l.GuestName != "Carol" ||
		!strings.HasPrefix(l.Guest, "guest-") || time.Until(l.Expires) < DefaultLinkTTL-time.Minute {
		t.Fatalf("link %+v", l)
	}

	carol, other := browser(t), browser(t)
	if st, body := page(t, carol, l.URL); st != http.StatusOK || !strings.Contains(body,
		"Call with <span id=\"host\">alice</span>") {
		t.Fatalf("the call page: %d\n%s", st, body)
	}
	j, e := s.join(t, carol, l)
	if e != nil {
		t.Fatalf("join: %v", e)
	}
	if _, e := s.join(t, carol, l); e != nil { // a reload
		t.Fatalf("join again from the same browser: %v", e)
	}
	if _, e := s.join(t, other, l); e == nil || e.Code != signaling.InvalidToken ||
		!strings.Contains(e.Message, "used already") {
		t.Fatalf("join from another browser: %v, want 80401 used already", e)
	}
	if st, body := page(t, other, l.URL); st != http.StatusGone ||
		!strings.Contains(body, "This link was used already") {
		t.Errorf("the page for another browser: %d\n%s", st, body)
	}

	g := s.guest(t, j)
	// Nothing but the one call.
	g.send(signaling.Message{Type: signaling.TypeDial, Ref: "d1", To: "bob", SDP: "offer"})
	if e := g.expectError(signaling.InvalidParameter, "d1", ""); !strings.Contains(e.Message, "alice only") {
		t.Errorf("dialing bob: %s", e.Message)
	}
	g.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: []string{"alice"}})
	g.expectError(signaling.InvalidParameter, "w", "")
	g.send(signaling.Message{Type: signaling.TypePresence, Ref: "p", State: signaling.StateDND})
	g.expectError(signaling.InvalidParameter, "p", "")
	for _, path := range []string{signaling.PathContacts, signaling.PathDirectory, "/v1/users/alice/presence",
		"/v1/voice/users/alice/session"} {
		if st, body := get(t, s.url(path), map[string]string{"Authorization": "Bearer " +
			j.Token}); st != http.StatusBadRequest || !strings.Contains(string(body), "80101") {
			t.Errorf("GET %s with a guest link's token: %d %s, want 400 80101", path, st, body)
		}
	}
	if st, body := s.post(t, nil, signaling.PathLinks, j.Token, signaling.LinkRequest{}); st != http.StatusBadRequest {
		t.Errorf("a guest making a link: %d %s", st, body)
	}
	// Nobody reaches the guest.
	bob2 := s.connect(t, "bob", "")
	bob2.send(signaling.Message{Type: signaling.TypeDial, Ref: "b", To: j.Guest, SDP: "offer"})
	bob2.expectError(signaling.NotFoundUserSessionID, "b", "")

	// The knock: a guest's call, answered like any.
	g.send(signaling.Message{Type: signaling.TypeDial, Ref: "k", To: "alice", SDP: "offer-k"})
	got := g.next()
	if got.Type != signaling.TypeCall || got.Event == nil || !got.Event.Guest {
		t.Fatalf("the guest's dial: %s", js(got))
	}
	id := got.Event.ID
	want := &signaling.CallEvent{ID: id, Status: signaling.Started, Direction: signaling.Inbound, From: j.Guest,
		To: "alice", FromName: "Carol", Guest: true}
	alice.expectMsg(alice.nextNotPresence(), signaling.Message{Type: signaling.TypeCall, SDP: "offer-k", Event: want})
	alice.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	if m := g.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Answered || m.SDP != "answer" {
		t.Fatalf("guest: %s, want answered", js(m))
	}
	alice.nextNotPresence()
	g.send(signaling.Message{Type: signaling.TypeMute, CallID: id, Muted: new(true)})
	if m := alice.nextNotPresence(); m.Type != signaling.TypeMute || m.User != j.Guest || !*m.Muted {
		t.Fatalf("alice: %s, want the guest's mute", js(m))
	}
	g.send(signaling.Message{Type: signaling.TypeHangup, CallID: id})
	for _, c := range []*client{g, alice} {
		if m := c.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Completed {
			t.Fatalf("%s: %s, want completed", c.name, js(m))
		}
	}

	// Spent: no more knocks, no more joins, and the page says so.
	g.send(signaling.Message{Type: signaling.TypeDial, Ref: "k2", To: "alice", SDP: "offer"})
	if e := g.expectError(signaling.InvalidToken, "k2", ""); !strings.Contains(e.Message, "call is over") {
		t.Errorf("knocking after the call: %s", e.Message)
	}
	if _, e := s.join(t, carol, l); e == nil || !strings.Contains(e.Message, "call is over") {
		t.Errorf("joining after the call: %v", e)
	}
	if st, body := page(t, carol, l.URL); st != http.StatusGone || !strings.Contains(body, "Your call is over") {
		t.Errorf("the page after the call: %d\n%s", st, body)
	}
}

// TestGuestLinkLobby: a knock rings for LobbyTimeout, not RingTimeout; a
// knock nobody answered leaves the link open, one turned away spends it;
// an expired or unknown link is refused with a page that says why.
func TestGuestLinkLobby(t *testing.T) {
	s := startServer(t,
		func(c *Config) { c.RingTimeout = 50 * time.Millisecond; c.LobbyTimeout = 700 * time.Millisecond })
	alice := s.connect(t, "alice", "")
	tok := s.token(t, "alice")
	l := s.makeLink(t, tok, signaling.LinkRequest{})
	if l.GuestName != "Guest" {
		t.Errorf("a link without a name is for %q, want Guest", l.GuestName)
	}
	carol := browser(t)
	j, e := s.join(t, carol, l)
	if e != nil {
		t.Fatal(e)
	}
	g := s.guest(t, j)

	knock := func(ref string) string {
		t.Helper()
		g.send(signaling.Message{Type: signaling.TypeDial, Ref: ref, To: "alice", SDP: "offer"})
		m := g.next()
		if m.Type != signaling.TypeCall {
			t.Fatalf("knock: %s", js(m))
		}
		alice.nextNotPresence()
		return m.Event.ID
	}
	at := time.Now()
	id := knock("k1")
	alice.send(signaling.Message{Type: signaling.TypeRinging, CallID: id})
	for m := g.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Unanswered; m = g.nextNotPresence() {
	}
	if d := time.Since(at); d < 700*time.Millisecond {
		t.Errorf("the knock rang for %v, want the lobby's 700ms (not the 50ms of other calls)", d)
	}
	// Still open: knock again, and be turned away.
	id = knock("k2")
	alice.send(signaling.Message{Type: signaling.TypeReject, CallID: id})
	for m := g.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Rejected; m = g.nextNotPresence() {
	}
	if st, body := page(t, carol, l.URL); st != http.StatusGone || !strings.Contains(body, "did not let you in") {
		t.Errorf("the page after being turned away: %d\n%s", st, body)
	}

	// Expired, and unknown.
	short := s.makeLink(t, tok, signaling.LinkRequest{Name: "Dan", TTL: "1s"})
	if st, body := page(t, browser(t), short.URL); st != http.StatusOK {
		t.Fatalf("a fresh link: %d %s", st, body)
	}
	time.Sleep(time.Until(short.Expires.Add(100 * time.Millisecond))) // the link's own clock
	if st, body := page(t, browser(t), short.URL); st != http.StatusGone ||
		!strings.Contains(body, "This link has expired") {
		t.Errorf("an expired link: %d\n%s", st, body)
	}
	if _, e := s.join(t, browser(t), short); e == nil || e.Code != signaling.InvalidToken {
		t.Errorf("joining an expired link: %v", e)
	}
	if st, body := page(t, browser(t), s.url("/join/"+strings.Repeat("a", 26))); st != http.StatusNotFound ||
		!strings.Contains(body, "This link does not work") {
		t.Errorf("an unknown link: %d\n%s", st, body)
	}
	for _, bad := range []signaling.LinkRequest{{TTL: "200h"}, {TTL: "forever"}, {Name: strings.Repeat("x", 65)}} {
		if st, body := s.post(t, nil, signaling.PathLinks, tok, bad); st != http.StatusBadRequest ||
			!strings.Contains(string(body), "80101") {
			t.Errorf("link %+v: %d %s, want 400 80101", bad, st, body)
		}
	}
	if st, _ := s.post(t, nil, signaling.PathLinks, "", signaling.LinkRequest{}); st != http.StatusUnauthorized {
		t.Errorf("a link without a token: %d, want 401", st)
	}
}

// guestRefused connects with the guest token of j and returns the refusal,
// which must be 80401; "" when the connect was welcomed.
func (s *testServer) guestRefused(t *testing.T, j signaling.Join) string {
	t.Helper()
	c := s.dial(t, "guest")
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: j.Token})
	m := c.next()
	if m.Type == signaling.TypeWelcome {
		return ""
	}
	if m.Type != signaling.TypeError || m.Error == nil || m.Error.Code != signaling.InvalidToken {
		t.Fatalf("guest connect: got %s, want 80401", js(m))
	}
	return m.Error.Message
}

// guestRelay allocates a TURN relay with the credentials of j, or of
// another pair of STUN and TURN servers.
func guestRelay(t *testing.T, j signaling.Join, ice ...signaling.ICEServer) error {
	t.Helper()
	if ice == nil {
		ice = j.ICEServers
	}
	if len(ice) != 2 {
		t.Fatalf("ICE servers %+v, want STUN and TURN", ice)
	}
	_, err := turntest.Allocate(t, turntest.Addr(ice[0]), ice[1].Username, ice[1].Credential)
	return err
}

// answerKnock has the guest g knock on host, who answers; it returns the
// call id.
func answerKnock(t *testing.T, g, host *client) string {
	t.Helper()
	g.send(signaling.Message{Type: signaling.TypeDial, Ref: "k", To: host.user, SDP: "offer"})
	m := g.next()
	if m.Type != signaling.TypeCall || m.Event == nil {
		t.Fatalf("knock: %s", js(m))
	}
	host.nextNotPresence()
	host.send(signaling.Message{Type: signaling.TypeAnswer, CallID: m.Event.ID, SDP: "answer"})
	for _, c := range []*client{g, host} {
		if m := c.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Answered {
			t.Fatalf("%s: %s, want answered", c.name, js(m))
		}
	}
	return m.Event.ID
}

// hangUp has c hang up call id and both c and other hear it completed.
func hangUp(t *testing.T, id string, c, other *client) {
	t.Helper()
	c.send(signaling.Message{Type: signaling.TypeHangup, CallID: id})
	for _, c := range []*client{c, other} {
		if m := c.nextNotPresence(); m.Event == nil || m.Event.Status != signaling.Completed {
			t.Fatalf("%s: %s, want completed", c.name, js(m))
		}
	}
}

// TestGuestLinkSpent: once the call of a link completes, its guest can
// neither connect again nor use the relay.
func TestGuestLinkSpent(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TURNListen = "127.0.0.1:0" })
	alice := s.connect(t, "alice", "")
	j, e := s.join(t, browser(t), s.makeLink(t, s.token(t, "alice"), signaling.LinkRequest{Name: "Carol"}))
	if e != nil {
		t.Fatal(e)
	}
	stunServer, relay := welcomeICE(t, s, "guest", j.Token)
	for _, ice := range [][]signaling.ICEServer{j.ICEServers, {stunServer, relay}} {
		if err := guestRelay(t, j, ice...); err != nil {
			t.Fatalf("relay as %s before the call: %v", ice[1].Username, err)
		}
	}
	g := s.guest(t, j)
	hangUp(t, answerKnock(t, g, alice), g, alice)

	if msg := s.guestRefused(t, j); !strings.Contains(msg, "call is over") {
		t.Errorf("connect after the call: %q, want refused: the call is over", msg)
	}
	turntest.WantRefused(t, "relay with the join's credentials after the call", guestRelay(t, j))
	turntest.WantRefused(t, "relay with the welcome's credentials after the call", guestRelay(t, j, stunServer, relay))
}

// TestGuestLinkExpired: once its link expires, a guest can neither connect
// nor use the relay, unless in a call that started before: that call keeps
// both until it ends. The guest's token and relay credentials end with the
// link's life and the margin for such a call, not 12 h later.
func TestGuestLinkExpired(t *testing.T) {
	const margin = 4 * time.Hour // guestCallMargin
	s := startServer(t, func(c *Config) { c.TURNListen = "127.0.0.1:0" })
	alice := s.connect(t, "alice", "")
	in, e := s.join(t, browser(t), s.makeLink(t, s.token(t, "alice"), signaling.LinkRequest{Name: "Carol", TTL: "3s"}))
	if e != nil {
		t.Fatal(e)
	}
	idle, e := s.join(t, browser(t), s.makeLink(t, s.token(t, "bob"), signaling.LinkRequest{Name: "Dan", TTL: "3s"}))
	if e != nil {
		t.Fatal(e)
	}
	end := idle.Expires.Add(margin)
	c, err := s.tokens.Verify(idle.Token)
	if err != nil || c.ExpiresAt.After(end.Add(time.Second)) || c.ExpiresAt.Before(end.Add(-time.Second)) {
		t.Errorf("the guest token expires at %v (%v), want %v: the link's expiry and %v", c.ExpiresAt, err, end, margin)
	}
	exp, _, _ := strings.Cut(idle.ICEServers[1].Username, ":")
	if at, err := strconv.ParseInt(exp, 10, 64); err != nil || time.Unix(at, 0).After(end.Add(time.Second)) {
		t.Errorf("the guest's TURN credential %q expires after %v", idle.ICEServers[1].Username, end)
	}
	g := s.guest(t, in)
	id := answerKnock(t, g, alice)

	time.Sleep(time.Until(in.Expires.Add(100 * time.Millisecond))) // the links' own clock
	if msg := s.guestRefused(t, idle); !strings.Contains(msg, "expired") {
		t.Errorf("connect after the link expired: %q, want refused: expired", msg)
	}
	turntest.WantRefused(t, "relay after the link expired", guestRelay(t, idle))
	if err := guestRelay(t, in); err != nil {
		t.Errorf("relay in a call that outlives its link: %v", err)
	}
	if msg := s.guestRefused(t, in); msg != "" {
		t.Errorf("a reconnect in a call that outlives its link: refused %q", msg)
	}
	hangUp(t, id, g, alice)
	turntest.WantRefused(t, "relay after that call", guestRelay(t, in))
}

// TestGuestLinkHostRevoked: revoking a link's host ends its guest's access:
// the guest's connection is closed, and neither a connect, a join nor the
// relay works any more.
func TestGuestLinkHostRevoked(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TURNListen = "127.0.0.1:0" })
	carol := browser(t)
	l := s.makeLink(t, s.token(t, "alice"), signaling.LinkRequest{Name: "Carol"})
	j, e := s.join(t, carol, l)
	if e != nil {
		t.Fatal(e)
	}
	g := s.guest(t, j)
	if _, err := s.adminAPI(s.APIKey()).Revoke(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if msg := s.guestRefused(t, j); !strings.Contains(msg, "alice") {
		t.Errorf("connect after the host's revocation: %q, want refused, naming the host", msg)
	}
	turntest.WantRefused(t, "relay after the host's revocation", guestRelay(t, j))
	if _, e := s.join(t, carol, l); e == nil || e.Code != signaling.InvalidToken {
		t.Errorf("join after the host's revocation: %v, want 80401", e)
	}
	if st, body := page(t, carol, l.URL); st != http.StatusGone {
		t.Errorf("the page after the host's revocation: %d\n%s", st, body)
	}
	g.expectError(signaling.InvalidToken, "", "")
	g.closed()
}

// TestLinkStorage: a link is kept for its own life (its ttl, and the margin
// for a call that outlives it), claimed or not, not for MaxLinkTTL.
func TestLinkStorage(t *testing.T) {
	s := startServer(t, func(c *Config) { c.linkMargin = time.Second })
	tok := s.token(t, "alice")
	for _, claim := range []bool{false, true} {
		l := s.makeLink(t, tok, signaling.LinkRequest{TTL: "1s"})
		if claim { // an update of the record
			if _, e := s.join(t, browser(t), l); e != nil {
				t.Fatal(e)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		w, err := s.store.Links.Watch(ctx, hashHex(l.Code))
		if err != nil {
			t.Fatal(err)
		}
		gone := false
		for e := range w.Updates() {
			if e != nil && e.Operation() != jetstream.KeyValuePut {
				gone = true
				break
			}
		}
		_ = w.Stop()
		for range w.Updates() { // until the watcher closes it, so that it ends
		}
		cancel()
		if !gone {
			t.Errorf("claimed %v: the link (expired at %v) still in the bucket at %v", claim, l.Expires, time.Now())
		}
		if _, err := s.store.Links.Get(t.Context(), hashHex(l.Code)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("claimed %v: get after it went: %v, want not found", claim, err)
		}
	}
}

// TestLinkCap: a member has at most MaxOpenLinks links open (neither
// expired nor used); more are refused with 80101 until one is.
func TestLinkCap(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	tok := s.token(t, "alice")
	short := s.makeLink(t, tok, signaling.LinkRequest{TTL: "1s"})
	time.Sleep(time.Until(short.Expires.Add(100 * time.Millisecond))) // expired: not open
	used := s.makeLink(t, tok, signaling.LinkRequest{})
	for range MaxOpenLinks - 1 {
		s.makeLink(t, tok, signaling.LinkRequest{})
	}
	over := func() {
		t.Helper()
		st, body := s.post(t, nil, signaling.PathLinks, tok, signaling.LinkRequest{})
		if st != http.StatusBadRequest || !strings.Contains(string(body), "80101") ||
			!strings.Contains(string(body), "100 open guest links") {
			t.Fatalf("link %d: %d %s, want 400 80101", MaxOpenLinks+1, st, body)
		}
	}
	over()
	j, e := s.join(t, browser(t), used)
	if e != nil {
		t.Fatal(e)
	}
	g := s.guest(t, j)
	hangUp(t, answerKnock(t, g, alice), g, alice) // used: no longer open
	s.makeLink(t, tok, signaling.LinkRequest{})
	over()
}
