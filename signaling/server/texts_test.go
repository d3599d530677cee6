package server

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-voice/parley/signaling"
)

// texts lists tok's texts with q, failing the test on an error.
func (s *testServer) texts(t *testing.T, tok string, q signaling.TextsQuery) signaling.Texts {
	t.Helper()
	l, err := s.userAPI(tok).Texts(context.Background(), q)
	if err != nil {
		t.Fatalf("texts %+v: %v", q, err)
	}
	return l
}

// newTexts takes the texts new to tok's device and marks them delivered,
// failing the test on an error; it returns their words.
func (s *testServer) newTexts(t *testing.T, tok string) []string {
	t.Helper()
	api := s.userAPI(tok)
	l, err := api.NewTexts(context.Background())
	if err != nil {
		t.Fatalf("new texts: %v", err)
	}
	words := []string{}
	for _, x := range l.Texts {
		words = append(words, x.From+":"+x.Text)
	}
	if n := len(l.Texts); n > 0 {
		if m, err := api.Delivered(context.Background(), l.Texts[n-1].Seq); err != nil || m.Seq != l.Texts[n-1].Seq {
			t.Fatalf("delivered %d: %+v, %v", l.Texts[n-1].Seq, m, err)
		}
	}
	return words
}

// hostileText moves the cursor, clears the screen and retitles the window.
const hostileText = "\x1b]0;pwned\x07\x1b[2J\x1b[10;10Hgotcha"

// TestTexts: texts sent while Bob is offline are kept across a restart
// and taken once by each of his two devices, in order, escape sequences
// kept as data; connected devices of both parties are told at once; read
// marks are per person and never move back; the refusals carry their
// codes.
func TestTexts(t *testing.T) {
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	s := startWith(t, cfg, logs)
	ctx := context.Background()
	aliceTok := s.accessToken(t, s.login(t, s.APIKey(), "alice", "Alice", "").Credential)
	laptop := s.accessToken(t, s.login(t, s.APIKey(), "bob", "Bob", "").Credential)
	phone := s.accessToken(t, s.login(t, s.APIKey(), "bob", "Bob", "").Credential)
	alice := s.userAPI(aliceTok)

	var sent []signaling.Text
	for _, w := range []string{"one", hostileText, "three"} {
		x, err := alice.SendText(ctx, "bob", w)
		if err != nil {
			t.Fatalf("send %q: %v", w, err)
		}
		if x.From != "alice" || x.FromName != "Alice" || x.To != "bob" || x.ToName != "Bob" || x.Text != w ||
			x.Sent.IsZero() || len(sent) > 0 && x.Seq <= sent[len(sent)-1].Seq {
			t.Errorf("sent %s", js(x))
		}
		sent = append(sent, x)
	}
	for _, tc := range []struct {
		name, to, text string
		code           signaling.Code
	}{
		{"to herself", "alice", "hi", signaling.SameCallerAndDestination},
		{"to nobody", "nobody", "hi", signaling.NotFoundUserSessionID},
		{"empty", "bob", "", signaling.InvalidParameter},
		{"too long", "bob", strings.Repeat("x", signaling.MaxTextBytes+1), signaling.InvalidParameter},
	} {
		_, err := alice.SendText(ctx, tc.to, tc.text)
		if e := signaling.AsError(err); e == nil || e.Code != tc.code {
			t.Errorf("%s: got %v, want %d", tc.name, err, tc.code)
		}
	}
	long := strings.Repeat("é", signaling.MaxTextBytes/2)
	if _, err := alice.SendText(ctx, "bob", long); err != nil {
		t.Errorf("a text of exactly %d bytes: %v", signaling.MaxTextBytes, err)
	}

	// The server restarts: the texts are in JetStream.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Listen = s.Addr()
	s = startWith(t, cfg, logs)

	want := "alice:one alice:" + hostileText + " alice:three alice:LONG"
	for name, tok := range map[string]string{"laptop": laptop, "phone": phone} {
		if got := strings.ReplaceAll(strings.Join(s.newTexts(t, tok), " "), long, "LONG"); got != want {
			t.Errorf("bob's %s, first: got %q, want %q", name, got, want)
		}
		if got := s.newTexts(t, tok); len(got) != 0 {
			t.Errorf("bob's %s, again: got %q, want nothing", name, got)
		}
	}

	// Live: both of Bob's devices and Alice's connection hear of a text at
	// once; only the laptop takes it (the phone is not shown it yet).
	bobWS, phoneWS := s.connectWith(t, "bob", laptop), s.connectWith(t, "bob", phone)
	aliceWS := s.connectWith(t, "alice", aliceTok)
	four, err := alice.SendText(ctx, "bob", "four")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{bobWS, phoneWS, aliceWS} {
		if m := c.nextNotPresence(); m.Type != signaling.TypeText || m.Text == nil || js(*m.Text) != js(four) {
			t.Errorf("%s's connection: got %s, want the text %s", c.name, js(m), js(four))
		}
	}
	if got := strings.Join(s.newTexts(t, laptop), " "); got != "alice:four" {
		t.Errorf("the laptop after four: %q", got)
	}
	if _, err := s.userAPI(laptop).Delivered(ctx, 1); err != nil { // never back
		t.Fatal(err)
	}
	if got := s.newTexts(t, laptop); len(got) != 0 {
		t.Errorf("the laptop after a delivery mark back: %q", got)
	}
	if got := s.newTexts(t, phone); len(got) != 1 {
		t.Errorf("the phone after four: %q", got)
	}

	// A reply: in both conversations; Bob's unread count is his.
	reply, err := s.userAPI(phone).SendText(ctx, "alice", "hi alice")
	if err != nil {
		t.Fatal(err)
	}
	l := s.texts(t, laptop, signaling.TextsQuery{With: "alice"})
	if len(l.Texts) != 6 || js(l.Texts[5]) != js(reply) || l.Texts[1].Text != hostileText || l.Unread["alice"] != 5 {
		t.Errorf("bob's conversation with alice: %s; want %s last", js(l), js(reply))
	}
	if l := s.texts(t, aliceTok, signaling.TextsQuery{}); len(l.Texts) != 6 || l.Unread["bob"] != 1 {
		t.Errorf("alice's texts: %s", js(l))
	}
	if l := s.texts(t, laptop, signaling.TextsQuery{Limit: 2}); len(l.Texts) != 2 || js(l.Texts[1]) != js(reply) {
		t.Errorf("bob's last 2 texts: %s", js(l))
	}
	if l := s.texts(t, laptop, signaling.TextsQuery{After: sent[0].Seq, Limit: 1}); len(l.Texts) != 1 ||
		l.Texts[0].Seq != sent[1].Seq {
		t.Errorf("the page after the first: %s", js(l))
	}

	// Read on the phone, up to the third: read on the laptop; not back.
	if m, err := s.userAPI(phone).ReadTexts(ctx, "alice", sent[2].Seq); err != nil || m.Seq != sent[2].Seq {
		t.Fatalf("read: %+v, %v", m, err)
	}
	if m, err := s.userAPI(phone).ReadTexts(ctx, "alice", sent[0].Seq); err != nil || m.Seq != sent[2].Seq {
		t.Errorf("read back: %+v, %v, want the mark kept at %d", m, err, sent[2].Seq)
	}
	if l := s.texts(t, laptop, signaling.TextsQuery{}); l.Unread["alice"] != 2 {
		t.Errorf("bob's unread after reading 3 of 5: %v", l.Unread)
	}
	if _, err := s.userAPI(laptop).ReadTexts(ctx, "alice", 0); err != nil {
		t.Fatal(err)
	}
	if l := s.texts(t, phone, signaling.TextsQuery{}); len(l.Unread) != 0 {
		t.Errorf("bob's unread after reading all: %v", l.Unread)
	}

	// A token that is not a device's has nothing delivered to it.
	_, err = s.userAPI(s.token(t, "bob")).NewTexts(ctx)
	if e := signaling.AsError(err); e == nil || e.Code != signaling.NotFoundDevice {
		t.Errorf("new texts without a device: %v, want %d", err, signaling.NotFoundDevice)
	}
}

// TestTextsTeamsAndLimits: nobody texts, or reads of, a user of another
// team (unknown to them, 80102), and a user who sends too many texts in a
// minute is refused with 80101 and when to try again.
func TestTextsTeamsAndLimits(t *testing.T) {
	s := startServer(t, func(c *Config) { c.TextLimit = 6 }) // 2 at once
	ctx := context.Background()
	team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	bobTok := s.token(t, "bob")
	eve := s.userAPI(s.teamToken(t, team.APIKey, "eve", nil))
	s.teamToken(t, team.APIKey, "bob", nil) // acme has a bob too
	_, err = eve.SendText(ctx, "alice", "hi")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.NotFoundUserSessionID {
		t.Errorf("eve of acme to alice: %v, want 80102", err)
	}
	if _, err := eve.SendText(ctx, "bob", "hi acme bob"); err != nil {
		t.Fatal(err)
	}
	if l := s.texts(t, bobTok, signaling.TextsQuery{}); len(l.Texts) != 0 || len(l.Unread) != 0 {
		t.Errorf("the default team's bob has acme's text: %s", js(l))
	}
	if l := s.texts(t, bobTok, signaling.TextsQuery{With: "eve"}); len(l.Texts) != 0 {
		t.Errorf("the default team's bob reads eve's: %s", js(l))
	}

	alice := s.userAPI(s.token(t, "alice"))
	for i := range 2 {
		if _, err := alice.SendText(ctx, "bob", "hi"); err != nil {
			t.Fatalf("text %d: %v", i+1, err)
		}
	}
	_, err = alice.SendText(ctx, "bob", "hi")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.InvalidParameter ||
		!strings.Contains(e.Message, "try again in") {
		t.Errorf("a third text at once: %v, want 80101 with when to try again", err)
	}
	if l := s.texts(t, bobTok, signaling.TextsQuery{}); len(l.Texts) != 2 || l.Unread["alice"] != 2 {
		t.Errorf("bob's texts: %s", js(l))
	}
}

// TestTextsTwoNodes: a text sent through one node is told at once to the
// recipient connected to the other, and both nodes list the same texts.
func TestTextsTwoNodes(t *testing.T) {
	a := startServer(t, func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" })
	b := startNode(t, a, "b")
	ctx := context.Background()
	bobTok := a.accessToken(t, a.login(t, a.APIKey(), "bob", "", "").Credential)
	bob := b.connectWith(t, "bob", bobTok)
	x, err := a.userAPI(a.token(t, "alice")).SendText(ctx, "bob", "across")
	if err != nil {
		t.Fatal(err)
	}
	if m := bob.nextNotPresence(); m.Type != signaling.TypeText || m.Text == nil || js(*m.Text) != js(x) {
		t.Errorf("bob on b: got %s, want %s", js(m), js(x))
	}
	la, lb := a.texts(t, bobTok, signaling.TextsQuery{}), b.texts(t, bobTok, signaling.TextsQuery{})
	if js(la) != js(lb) || len(la.Texts) != 1 {
		t.Errorf("the texts on a %s and on b %s", js(la), js(lb))
	}
	if got := b.newTexts(t, bobTok); len(got) != 1 || a.newTexts(t, bobTok) == nil ||
		len(a.newTexts(t, bobTok)) != 0 {
		t.Errorf("bob's device on b, then a: %q", got)
	}
}

// TestTextsGuest: a guest of a guest link texts its host alone (anyone
// else: 80101) and the host replies; once the link is spent (its call
// completed), the guest texts nobody and the host no longer reaches it.
func TestTextsGuest(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	aliceTok := s.token(t, "alice")
	s.token(t, "bob")
	alice := s.connectWith(t, "alice", aliceTok)
	j, e := s.join(t, browser(t), s.makeLink(t, aliceTok, signaling.LinkRequest{Name: "Carol"}))
	if e != nil {
		t.Fatal(e)
	}
	guest := s.userAPI(j.Token)
	hi, err := guest.SendText(ctx, "alice", "hi, it is Carol")
	if err != nil || hi.From != j.Guest || hi.FromName != "Carol" || hi.To != "alice" {
		t.Fatalf("the guest texts its host: %s, %v", js(hi), err)
	}
	if m := alice.nextNotPresence(); m.Type != signaling.TypeText || m.Text == nil || m.Text.Text != hi.Text {
		t.Errorf("alice's connection: %s, want the guest's text", js(m))
	}
	_, err = guest.SendText(ctx, "bob", "hi bob")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.InvalidParameter {
		t.Errorf("the guest texts bob: %v, want 80101", err)
	}
	reply, err := s.userAPI(aliceTok).SendText(ctx, j.Guest, "come in")
	if err != nil || reply.ToName != "Carol" {
		t.Fatalf("alice replies to the guest: %s, %v", js(reply), err)
	}
	if m := alice.nextNotPresence(); m.Type != signaling.TypeText || m.Text == nil || m.Text.Seq != reply.Seq {
		t.Errorf("alice's connection after her reply: %s, want it", js(m))
	}
	if l := s.texts(t, j.Token, signaling.TextsQuery{}); len(l.Texts) != 2 || l.Unread["alice"] != 1 {
		t.Errorf("the guest's texts: %s", js(l))
	}
	_, err = s.userAPI(s.token(t, "bob")).SendText(ctx, j.Guest, "who are you?")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.NotFoundUserSessionID {
		t.Errorf("bob texts alice's guest: %v, want 80102", err)
	}

	g := s.guest(t, j)
	hangUp(t, answerKnock(t, g, alice), g, alice)
	_, err = guest.SendText(ctx, "alice", "thanks")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.InvalidToken {
		t.Errorf("the guest texts once the link is spent: %v, want 80401", err)
	}
	_, err = s.userAPI(aliceTok).SendText(ctx, j.Guest, "bye")
	if e := signaling.AsError(err); e == nil || e.Code != signaling.NotFoundUserSessionID {
		t.Errorf("alice texts the guest once the link is spent: %v, want 80102", err)
	}
}
