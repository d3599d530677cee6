package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
)

// The tests of issue 4: invites and sign-in, access tokens and their
// renewal, revocation, teams, rich presence, do not disturb, guests, rate
// limits. TLS is in tls_test.go.

// adminAPI is the HTTP API with an API key.
func (s *testServer) adminAPI(key string) *signaling.API {
	return &signaling.API{Server: s.URL(), APIKey: key}
}

// userAPI is the HTTP API with a bearer token.
func (s *testServer) userAPI(tok string) *signaling.API {
	return &signaling.API{Server: s.URL(), Token: func(context.Context) (string, error) { return tok, nil }}
}

// teamToken gets a token for user from the token endpoint with key.
func (s *testServer) teamToken(t testing.TB, key, user string, q url.Values) string {
	t.Helper()
	u := s.tokenURL(user, q)
	code, body := get(t, u, map[string]string{"APP_API_KEY": key})
	if code != http.StatusOK {
		t.Fatalf("token for %s: %d %s", user, code, body)
	}
	tok, _, _ := strings.Cut(strings.TrimPrefix(string(body), `{"token":"`), `"`)
	return tok
}

// connectWith opens a WebSocket and connects it with tok.
func (s *testServer) connectWith(t testing.TB, name, tok string) *client {
	t.Helper()
	c := s.dial(t, name)
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: tok})
	w := c.next()
	if w.Type != signaling.TypeWelcome || w.Ref != "c" || w.Session == "" {
		t.Fatalf("%s: connect: got %s", name, js(w))
	}
	c.user, c.session = w.User, w.Session
	return c
}

// login invites user (with key) and signs in with the invite.
func (s *testServer) login(t testing.TB, key, user, name, role string) signaling.Login {
	t.Helper()
	ctx := context.Background()
	inv, err := s.adminAPI(key).Invite(ctx, signaling.InviteRequest{User: user, Name: name, Role: role})
	if err != nil {
		t.Fatalf("invite %s: %v", user, err)
	}
	l, err := s.adminAPI("").Login(ctx, inv.Code, "test device")
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return l
}

// accessToken trades a credential for an access token.
func (s *testServer) accessToken(t testing.TB, cred string) string {
	t.Helper()
	at, err := s.adminAPI("").AccessToken(context.Background(), cred)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return at.Token
}

// wantCode fails unless err is a refusal with code, and returns it.
func wantCode(t testing.TB, err error, code signaling.Code) *signaling.Error {
	t.Helper()
	var e *signaling.Error
	if !errors.As(err, &e) || e.Code != code || e.Name != code.Name() || e.Message == "" {
		t.Fatalf("got %v, want a refusal %d %s", err, code, code.Name())
	}
	return e
}

func TestInviteAndLogin(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	admin := s.adminAPI(s.APIKey())
	inv, err := admin.Invite(ctx, signaling.InviteRequest{User: "bob", Name: "Bob Builder", Role: RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	if normalizeCode(inv.Code) == "" || inv.URL != s.URL()+"/invite/"+inv.Code || inv.Team != DefaultTeam ||
		inv.Role != RoleMember {
		t.Fatalf("invite %+v", inv)
	}
	if d := time.Until(inv.Expires); d < DefaultInviteTTL-time.Minute || d > DefaultInviteTTL {
		t.Errorf("invite expires in %v, want %v", d, DefaultInviteTTL)
	}
	// A browser that follows the link is told what to do.
	code, page := get(t, inv.URL, nil)
	if code != http.StatusOK || !strings.Contains(string(page), "parley login "+inv.URL) {
		t.Errorf("invite page: %d %s", code, page)
	}

	// A typed code may differ in case and dashes.
	typed := strings.ToUpper(strings.ReplaceAll(inv.Code, "-", " "))
	l, err := s.adminAPI("").Login(ctx, typed, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if l.User != "bob" || l.Name != "Bob Builder" || l.Role != RoleMember || l.Team != DefaultTeam ||
		!strings.HasPrefix(l.Device, "dev-") || !strings.HasPrefix(l.Credential, credentialPrefix+".") {
		t.Fatalf("login %+v", l)
	}
	// Single use.
	_, err = s.adminAPI("").Login(ctx, inv.Code, "phone")
	wantCode(t, err, signaling.InvalidToken)
	_, err = s.adminAPI("").Login(ctx, "aaaa-bbbb-cccc", "phone")
	wantCode(t, err, signaling.InvalidToken)

	at, err := s.adminAPI("").AccessToken(ctx, l.Credential)
	if err != nil {
		t.Fatal(err)
	}
	if at.User != "bob" || at.Name != "Bob Builder" || time.Until(at.Expires) > DefaultAccessTokenTTL {
		t.Fatalf("access token %+v", at)
	}
	c, err := s.VerifyToken(at.Token)
	if err != nil || c.Device != l.Device || c.Team != "" || c.Subject != "bob" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	// The access token connects, with the name in the welcome.
	w := s.dial(t, "bob")
	w.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: at.Token})
	if m := w.next(); m.Type != signaling.TypeWelcome || m.User != "bob" || m.Name != "Bob Builder" {
		t.Errorf("welcome %s", js(m))
	}
	w.ping("up")

	// Bad credentials.
	for _, cred := range []string{"", "pd1.x.y.z", l.Credential + "x", strings.Replace(l.Credential, l.Device,
		"dev-nothere00", 1)} {
		_, err := s.adminAPI("").AccessToken(ctx, cred)
		wantCode(t, err, signaling.InvalidToken)
	}
	// An expired invite.
	short, err := admin.Invite(ctx, signaling.InviteRequest{User: "carol", TTL: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = s.adminAPI("").Login(ctx, short.Code, "")
	wantCode(t, err, signaling.InvalidToken)
	// Invites need the key.
	_, err = s.adminAPI("wrong").Invite(ctx, signaling.InviteRequest{User: "dave"})
	wantCode(t, err, signaling.InvalidToken)
	_, err = s.userAPI(at.Token).Invite(ctx, signaling.InviteRequest{User: "dave"})
	wantCode(t, err, signaling.InvalidParameter) // a member, not an admin
}

func TestCallEventsCarryNames(t *testing.T) {
	s := startServer(t)
	a := s.connectWith(t, "alice", s.teamToken(t, s.APIKey(), "alice", url.Values{"name": {"Alice Liddell"}}))
	b := s.connectWith(t, "bob", s.teamToken(t, s.APIKey(), "bob", url.Values{"name": {"Bob Builder"}}))
	a.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	for _, c := range []*client{a, b} {
		m := c.next()
		if m.Type != signaling.TypeCall || m.Event.FromName != "Alice Liddell" || m.Event.ToName != "Bob Builder" {
			t.Fatalf("%s: got %s", c.name, js(m))
		}
	}
	_, err := signaling.CheckName("name", strings.Repeat("x", signaling.MaxNameLength+1))
	wantCode(t, err, signaling.InvalidParameter)
	code, body := get(t, s.tokenURL("x", url.Values{"name": {"bad\x07name"}}),
		map[string]string{"APP_API_KEY": s.APIKey()})
	checkHTTPError(t, code, body, http.StatusBadRequest, signaling.InvalidParameter)
}

// TestTokenRenewal: a connection lasts as long as its token; a refresh
// before the expiry keeps it up across several expiries, and one that was
// not refreshed is closed with 80401.
func TestTokenRenewal(t *testing.T) {
	// Token times are in whole seconds, so a token of 3 s may last 2 s.
	const ttl = 3 * time.Second
	s := startServer(t, func(c *Config) { c.AccessTokenTTL = ttl })
	l := s.login(t, s.APIKey(), "bob", "", "")
	renewed := s.connectWith(t, "renewed", s.accessToken(t, l.Credential))
	lapsed := s.connectWith(t, "lapsed", s.accessToken(t, l.Credential))

	// Renew every second, four times: past the first token's expiry.
	start := time.Now()
	for i := range 4 {
		time.Sleep(time.Second)
		ref := fmt.Sprint("r", i)
		renewed.send(signaling.Message{Type: signaling.TypeRefresh, Ref: ref, Token: s.accessToken(t, l.Credential)})
		for m := renewed.next(); m.Type != signaling.TypeRefreshed; m = renewed.next() {
			if m.Type != signaling.TypePresence {
				t.Fatalf("refresh %d: got %s", i, js(m))
			}
		}
	}
	renewed.ping("alive")
	if d := time.Since(start); d < ttl {
		t.Fatalf("test too quick: %v", d)
	}
	// The other one was closed at its expiry.
	lapsed.expectError(signaling.InvalidToken, "", "")
	if code := lapsed.closed(); code != websocket.StatusPolicyViolation {
		t.Errorf("lapsed: close status %v", code)
	}

	// A refresh must be for the same user and device.
	other := s.login(t, s.APIKey(), "eve", "", "")
	renewed.send(signaling.Message{Type: signaling.TypeRefresh, Ref: "x", Token: s.accessToken(t, other.Credential)})
	renewed.expectError(signaling.InvalidToken, "x", "")
	renewed.send(signaling.Message{Type: signaling.TypeRefresh, Ref: "y", Token: "nonsense"})
	renewed.expectError(signaling.InvalidToken, "y", "")
	renewed.ping("still")
}

// TestRevocation: a revoked device is disconnected at once and cannot come
// back; revoking a user does that to every device and token of theirs.
func TestRevocation(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	admin := s.adminAPI(s.APIKey())
	laptop := s.login(t, s.APIKey(), "bob", "Bob", "")
	phone := s.login(t, s.APIKey(), "bob", "Bob", "")
	laptopTok, phoneTok := s.accessToken(t, laptop.Credential), s.accessToken(t, phone.Credential)
	onLaptop := s.connectWith(t, "bob/laptop", laptopTok)
	onPhone := s.connectWith(t, "bob/phone", phoneTok)
	gitple := s.connectWith(t, "bob/gitple", s.token(t, "bob"))

	devs, err := admin.Devices(ctx, "bob")
	if err != nil || len(devs) != 2 || devs[0].ID != laptop.Device || devs[1].ID != phone.Device ||
		devs[0].Name != "test device" {
		t.Fatalf("devices %+v, %v", devs, err)
	}

	start := time.Now()
	r, err := admin.Revoke(ctx, laptop.Device)
	if err != nil || r.User != "bob" || r.All || len(r.Devices) != 1 {
		t.Fatalf("revoke %+v, %v", r, err)
	}
	onLaptop.expectError(signaling.InvalidToken, "", "")
	if code := onLaptop.closed(); code != websocket.StatusPolicyViolation {
		t.Errorf("laptop: close status %v", code)
	}
	took := time.Since(start)
	t.Logf("device revoked and disconnected in %v", took)
	if took > 5*time.Second {
		t.Errorf("disconnected after %v, want within 5 s", took)
	}
	onPhone.ping("p")
	gitple.ping("g")
	// It cannot renew or reconnect.
	_, err = s.adminAPI("").AccessToken(ctx, laptop.Credential)
	if e := wantCode(t, err, signaling.InvalidToken); !strings.Contains(e.Message, "revoked") {
		t.Errorf("message %q does not say it was revoked", e.Message)
	}
	again := s.dial(t, "again")
	again.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: laptopTok})
	again.expectError(signaling.InvalidToken, "c", "")
	_, err = s.userAPI(laptopTok).Contacts(ctx)
	wantCode(t, err, signaling.InvalidToken)
	devs, _ = admin.Devices(ctx, "bob")
	if devs[0].Revoked == nil || devs[1].Revoked != nil {
		t.Errorf("devices after revoke %+v", devs)
	}

	// The whole user: the phone and the token from the endpoint go too.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // a fresh second
	start = time.Now()
	r, err = admin.Revoke(ctx, "bob")
	if err != nil || !r.All || len(r.Devices) != 1 || r.Devices[0] != phone.Device {
		t.Fatalf("revoke bob %+v, %v", r, err)
	}
	for _, c := range []*client{onPhone, gitple} {
		c.expectError(signaling.InvalidToken, "", "")
		c.closed()
	}
	t.Logf("user revoked and both connections closed in %v", time.Since(start))
	_, err = s.adminAPI("").AccessToken(ctx, phone.Credential)
	wantCode(t, err, signaling.InvalidToken)
	// A token issued after the revocation works: the admin let them back.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	s.connectWith(t, "bob/new", s.token(t, "bob"))

	// Logout revokes the device it names, and only that.
	carol := s.login(t, s.APIKey(), "carol", "", "")
	onCarol := s.connectWith(t, "carol", s.accessToken(t, carol.Credential))
	if err := s.adminAPI("").Logout(ctx, carol.Credential); err != nil {
		t.Fatal(err)
	}
	onCarol.expectError(signaling.InvalidToken, "", "")
	onCarol.closed()
	err = s.adminAPI("").Logout(ctx, carol.Credential)
	wantCode(t, err, signaling.InvalidToken)

	_, err = admin.Revoke(ctx, "nobody")
	wantCode(t, err, signaling.NotFoundUserSessionID)
	users, err := admin.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, fmt.Sprintf("%s:%d", u.User, u.Devices))
	}
	if got := strings.Join(names, " "); got != "bob:0 carol:0" {
		t.Errorf("users %s, want bob:0 carol:0", got)
	}
}

// TestTeams: teams do not see each other; a user of another team looks
// exactly like a user who does not exist.
func TestTeams(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	if err != nil || team.Team != "acme" || len(team.APIKey) < 20 {
		t.Fatalf("add team: %+v, %v", team, err)
	}
	_, err = s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	wantCode(t, err, signaling.InvalidParameter)
	_, err = s.adminAPI(team.APIKey).AddTeam(ctx, "other")
	wantCode(t, err, signaling.InvalidParameter) // only the server's key
	_, err = s.adminAPI(s.APIKey()).AddTeam(ctx, DefaultTeam)
	wantCode(t, err, signaling.InvalidParameter)

	// bob in the default team, online; alice and a second "bob" in acme.
	bob := s.connect(t, "bob", "")
	aliceTok := s.teamToken(t, team.APIKey, "alice", nil)
	if c, _ := s.VerifyToken(aliceTok); c.Team != "acme" {
		t.Fatalf("acme token has team %q", c.Team)
	}
	alice := s.connectWith(t, "alice", aliceTok)
	s.teamToken(t, team.APIKey, "carol", nil) // known in acme, offline

	refusal := func(to string) *signaling.Error {
		alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: to, SDP: "o"})
		return alice.expectError(signaling.NotFoundUserSessionID, "d", "")
	}
	same := func(what string, got, nobody *signaling.Error) {
		t.Helper()
		if got.Code != nobody.Code || got.Name != nobody.Name ||
			strings.ReplaceAll(got.Message, "bob", "X") != strings.ReplaceAll(nobody.Message, "nobody", "X") {
			t.Errorf("%s: %+v, not like a user who does not exist: %+v", what, got, nobody)
		}
	}
	same("dial", refusal("bob"), refusal("nobody"))

	alice.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: []string{"bob", "nobody", "carol"}})
	for _, u := range []string{"bob", "nobody", "carol"} {
		if m := alice.expectPresence(u, signaling.StateOffline, "w"); m.Name != "" || m.LastSeen != nil {
			t.Errorf("watch %s: %s", u, js(m))
		}
	}
	api := s.userAPI(aliceTok)
	_, errBob := api.Presence(ctx, "bob", 0)
	_, errNobody := api.Presence(ctx, "nobody", 0)
	same("presence", wantCode(t, errBob, signaling.NotFoundUserSessionID),
		wantCode(t, errNobody, signaling.NotFoundUserSessionID))
	_, errBob = api.AddContact(ctx, "bob")
	_, errNobody = api.AddContact(ctx, "nobody")
	same("add contact", wantCode(t, errBob, signaling.NotFoundUserSessionID),
		wantCode(t, errNobody, signaling.NotFoundUserSessionID))
	code, body := get(t, s.url("/v1/voice/users/bob/session"), map[string]string{"Authorization": "Bearer " + aliceTok})
	if code != http.StatusOK || string(body) != `{"user":"bob","online":false}`+"\n" {
		t.Errorf("session of bob from acme: %d %s", code, body)
	}
	dir, err := api.Directory(ctx, "")
	if err != nil || len(dir) != 1 || dir[0].User != "carol" {
		t.Errorf("acme directory %+v, %v", dir, err)
	}
	// Admin with the team key sees the team only.
	users, err := s.adminAPI(team.APIKey).Users(ctx)
	if err != nil || len(users) != 2 || users[0].User != "alice" || users[1].User != "carol" ||
		users[0].Team != "acme" {
		t.Errorf("acme users %+v, %v", users, err)
	}
	_, errBob = s.adminAPI(team.APIKey).Devices(ctx, "bob")
	_, errNobody = s.adminAPI(team.APIKey).Devices(ctx, "nobody")
	same("devices", wantCode(t, errBob, signaling.NotFoundUserSessionID),
		wantCode(t, errNobody, signaling.NotFoundUserSessionID))
	_, errBob = s.adminAPI(team.APIKey).Revoke(ctx, "bob")
	_, errNobody = s.adminAPI(team.APIKey).Revoke(ctx, "nobody")
	same("revoke", wantCode(t, errBob, signaling.NotFoundUserSessionID),
		wantCode(t, errNobody, signaling.NotFoundUserSessionID))

	// The same id in both teams is two people.
	acmeBob := s.connectWith(t, "acme/bob", s.teamToken(t, team.APIKey, "bob", nil))
	alice.waitPresence("bob", signaling.StateOnline)
	id := placeCall(t, alice, acmeBob, "d2")
	bob.ping("default bob heard nothing")
	acmeBob.send(msg(signaling.TypeHangup, id))
	// Over once the callee hears it (dave calls acme's bob below).
	acmeBob.expectMsg(acmeBob.nextNotPresence(), status(ended(id, signaling.Rejected, in, "alice", "bob",
		ReasonDeclined, 0)))
	// And a default-team user cannot reach acme's alice either.
	bob.send(signaling.Message{Type: signaling.TypeDial, Ref: "x", To: "alice", SDP: "o"})
	bob.expectError(signaling.NotFoundUserSessionID, "x", "")
	// Invites and logins of a team stay in it.
	l := s.login(t, team.APIKey, "dave", "Dave", "")
	if l.Team != "acme" {
		t.Errorf("login team %q", l.Team)
	}
	dave := s.connectWith(t, "dave", s.accessToken(t, l.Credential))
	dave.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"}) // acme's bob
	if m := dave.next(); m.Type != signaling.TypeCall || m.Event.To != "bob" {
		t.Fatalf("dave: %s", js(m))
	}
}

// presenceLatency waits for c to hear user in state, and returns how long
// that took since start.
func presenceLatency(t *testing.T, c *client, user string, state signaling.State, start time.Time) time.Duration {
	t.Helper()
	c.waitPresence(user, state)
	return time.Since(start)
}

// TestPresenceStates: every state reaches a person who has the user as a
// contact, within a second.
func TestPresenceStates(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	s.teamToken(t, s.APIKey(), "bob", url.Values{"name": {"Bob Builder"}})
	aliceTok := s.token(t, "alice")
	if _, err := s.userAPI(aliceTok).AddContact(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	// alice's connection watches her contacts by itself.
	alice := s.connectWith(t, "alice", aliceTok)
	if m := alice.expectPresence("bob", signaling.StateOffline, ""); m.Name != "Bob Builder" || m.LastSeen != nil {
		t.Errorf("bob never seen: %s", js(m))
	}
	var worst time.Duration
	measure := func(what string, state signaling.State, act func()) {
		t.Helper()
		start := time.Now()
		act()
		d := presenceLatency(t, alice, "bob", state, start)
		t.Logf("%-28s → %-8s in %v", what, state, d.Round(100*time.Microsecond))
		worst = max(worst, d)
		if d > time.Second {
			t.Errorf("%s: %s reached the contact after %v, want within 1 s", what, state, d)
		}
	}
	var bob *client
	bobTok := s.token(t, "bob")
	measure("bob connects", signaling.StateOnline, func() { bob = s.connectWith(t, "bob", bobTok) })
	measure("bob sets away", signaling.StateAway, func() {
		bob.send(signaling.Message{Type: signaling.TypePresence, State: signaling.StateAway})
	})
	measure("bob sets dnd (HTTP)", signaling.StateDND, func() {
		if p, err := s.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil ||
			p.State != signaling.StateDND {
			t.Errorf("set dnd: %+v, %v", p, err)
		}
	})
	measure("bob sets online", signaling.StateOnline, func() {
		bob.send(signaling.Message{Type: signaling.TypePresence, State: signaling.StateOnline})
	})
	idle, active := true, false
	measure("bob's session idle", signaling.StateAway, func() {
		bob.send(signaling.Message{Type: signaling.TypePresence, Idle: &idle})
	})
	// A second session that is not idle makes him online again.
	var bob2 *client
	measure("bob active elsewhere", signaling.StateOnline, func() { bob2 = s.connectWith(t, "bob2", bobTok) })
	bob2.send(signaling.Message{Type: signaling.TypePresence, Idle: &idle})
	alice.waitPresence("bob", signaling.StateAway)
	measure("bob back at a session", signaling.StateOnline, func() {
		bob.send(signaling.Message{Type: signaling.TypePresence, Idle: &active})
	})
	carol := s.connect(t, "carol", "")
	var id string
	measure("bob called", signaling.StateInCall, func() {
		carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
		id = carol.next().Event.ID
	})
	measure("call ends", signaling.StateOnline, func() { carol.send(msg(signaling.TypeHangup, id)) })
	_ = bob2.ws.Close(websocket.StatusNormalClosure, "") // idle: bob stays online
	before := time.Now().Add(-time.Second)
	start := time.Now()
	_ = bob.ws.Close(websocket.StatusNormalClosure, "")
	m := alice.waitPresence("bob", signaling.StateOffline)
	d := time.Since(start)
	t.Logf("%-28s → %-8s in %v", "bob disconnects", signaling.StateOffline, d.Round(100*time.Microsecond))
	worst = max(worst, d)
	if m.LastSeen == nil || m.LastSeen.Before(before) {
		t.Errorf("offline without last seen: %s", js(m))
	}
	t.Logf("worst presence push: %v", worst)

	// The presence endpoint says the same, with the last seen.
	p, err := s.userAPI(aliceTok).Presence(ctx, "bob", 0)
	if err != nil || p.State != signaling.StateOffline || p.LastSeen == nil || p.Name != "Bob Builder" {
		t.Errorf("presence %+v, %v", p, err)
	}
	// The state set by hand stays across sessions: dnd.
	if _, err := s.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	measure("bob comes back in dnd", signaling.StateDND, func() { bob = s.connectWith(t, "bob3", bobTok) })

	// --wait: the endpoint answers when the user comes online.
	_ = bob.ws.Close(websocket.StatusNormalClosure, "")
	alice.waitPresence("bob", signaling.StateOffline)
	got := make(chan signaling.Person, 1)
	go func() {
		p, err := s.userAPI(aliceTok).Presence(ctx, "bob", 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	time.Sleep(200 * time.Millisecond)
	start = time.Now()
	s.connectWith(t, "bob4", bobTok)
	select {
	case p := <-got:
		if !p.Online {
			t.Errorf("wait answered %+v", p)
		}
		t.Logf("presence?wait answered %v after bob connected", time.Since(start))
	case <-time.After(patience):
		t.Fatal("presence?wait did not answer")
	}
	code, body := get(t, s.url("/v1/users/bob/presence?wait=2m"), map[string]string{"Authorization": "Bearer " +
		aliceTok})
	checkHTTPError(t, code, body, http.StatusBadRequest, signaling.InvalidParameter)
	bad := s.connect(t, "mallory", "")
	bad.send(signaling.Message{Type: signaling.TypePresence, Ref: "p", State: signaling.StateInCall})
	bad.expectError(signaling.InvalidParameter, "p", "")
	bad.send(signaling.Message{Type: signaling.TypePresence, Ref: "q"})
	bad.expectError(signaling.InvalidParameter, "q", "")
}

// TestDoNotDisturb: a call to someone in dnd is refused at once, with a
// code and a message that say why; they hear nothing.
func TestDoNotDisturb(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connectWith(t, "bob", s.teamToken(t, s.APIKey(), "bob", url.Values{"name": {"Bob Builder"}}))
	bob.send(signaling.Message{Type: signaling.TypePresence, Ref: "dnd", State: signaling.StateDND})
	bob.ping("set") // the state is saved before the ping is answered
	start := time.Now()
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	e := alice.expectError(signaling.AlreadyBusyCall, "d", "")
	if !strings.Contains(e.Message, "do not disturb") || !strings.Contains(e.Message, "Bob Builder") {
		t.Errorf("message %q does not say why", e.Message)
	}
	t.Logf("dnd refusal after %v: %s", time.Since(start), e.Message)
	bob.ping("nothing rang") // bob got nothing before the pong
	bob.send(signaling.Message{Type: signaling.TypePresence, State: signaling.StateOnline})
	bob.ping("unset")
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d2", To: "bob", SDP: "o"})
	if m := alice.next(); m.Type != signaling.TypeCall {
		t.Fatalf("dial after dnd: %s", js(m))
	}
}

// TestGuests: a guest reaches, and is reached by, only the people who have
// them as a contact, and cannot list the directory.
func TestGuests(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	guestTok := s.teamToken(t, s.APIKey(), "gus", url.Values{"role": {RoleGuest}})
	hostTok, otherTok := s.token(t, "host"), s.token(t, "other")
	if _, err := s.userAPI(hostTok).AddContact(ctx, "gus"); err != nil {
		t.Fatal(err)
	}
	host := s.connectWith(t, "host", hostTok)
	host.expectPresence("gus", signaling.StateOffline, "")
	other := s.connectWith(t, "other", otherTok)
	gus := s.connectWith(t, "gus", guestTok)
	host.expectPresence("gus", signaling.StateOnline, "")

	// The guest sees the host, and not the other member: like nobody.
	gus.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: []string{"host", "other"}})
	gus.expectPresence("host", signaling.StateOnline, "w")
	gus.expectPresence("other", signaling.StateOffline, "w")
	gus.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "other", SDP: "o"})
	gus.expectError(signaling.NotFoundUserSessionID, "d", "")
	api := s.userAPI(guestTok)
	_, err := api.Presence(ctx, "other", 0)
	wantCode(t, err, signaling.NotFoundUserSessionID)
	_, err = api.AddContact(ctx, "other")
	wantCode(t, err, signaling.NotFoundUserSessionID)
	if _, err := api.AddContact(ctx, "host"); err != nil {
		t.Errorf("guest adds the host: %v", err)
	}
	_, err = api.Directory(ctx, "")
	if e := wantCode(t, err, signaling.InvalidParameter); !strings.Contains(e.Message, "guest") {
		t.Errorf("directory refusal %q", e.Message)
	}
	code, body := get(t, s.url("/v1/voice/users/other/session"), map[string]string{"Authorization": "Bearer " +
		guestTok})
	if code != http.StatusOK || !strings.Contains(string(body), `"online":false`) {
		t.Errorf("guest session of other: %d %s", code, body)
	}

	// A member without the guest as a contact cannot call them.
	other.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "gus", SDP: "o"})
	if e := other.expectError(signaling.InvalidParameter, "d", ""); !strings.Contains(e.Message, "guest") {
		t.Errorf("message %q does not say gus is a guest", e.Message)
	}
	// The host can, and the guest can call the host.
	id := placeCall(t, host, gus, "h")
	host.send(msg(signaling.TypeHangup, id))
	host.expectMsg(host.nextNotPresence(), status(ended(id, signaling.Unanswered, out, "host", "gus", ReasonCanceled,
		0)))
	gus.nextNotPresence()
	gus.send(signaling.Message{Type: signaling.TypeDial, Ref: "g", To: "host", SDP: "o"})
	if m := gus.nextNotPresence(); m.Type != signaling.TypeCall {
		t.Fatalf("guest dials the host: %s", js(m))
	}
	// Members may list the directory, guests included.
	dir, err := s.userAPI(otherTok).Directory(ctx, "g")
	if err != nil || len(dir) != 1 || dir[0].User != "gus" || dir[0].Role != RoleGuest {
		t.Errorf("directory %+v, %v", dir, err)
	}
}

// TestRateLimits: failures of a secret from one address are slowed, then
// refused for a while, with 429, the error table and when to retry.
func TestRateLimits(t *testing.T) {
	lim := Limits{Rate: 1000, Burst: 1000, SlowAfter: 2, Delay: 150 * time.Millisecond, MaxDelay: time.Second,
		LockAfter: 5, LockFor: 1500 * time.Millisecond, Forget: time.Minute}
	s := startServer(t, func(c *Config) { c.Limits = lim })
	try := func(key string) (int, []byte, http.Header, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, s.tokenURL("alice", nil), nil)
		req.Header[HeaderAPIKey] = []string{key}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header, time.Since(start)
	}
	for i := 1; i <= lim.LockAfter; i++ {
		code, body, _, took := try("wrong")
		checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
		slow := i > lim.SlowAfter
		t.Logf("failure %d: %v", i, took.Round(time.Millisecond))
		if slow && took < lim.Delay {
			t.Errorf("failure %d answered in %v, want slowed by %v", i, took, lim.Delay)
		}
		if !slow && took > lim.Delay {
			t.Errorf("failure %d answered in %v, before any slowing", i, took)
		}
	}
	// Refused now, even with the right key.
	for _, key := range []string{"wrong", s.APIKey()} {
		code, body, h, _ := try(key)
		checkHTTPError(t, code, body, http.StatusTooManyRequests, signaling.InvalidParameter)
		if !strings.Contains(string(body), "try again in") || h.Get("Retry-After") == "" {
			t.Errorf("refusal %s (Retry-After %q) does not say when to retry", body, h.Get("Retry-After"))
		}
	}
	if n := len(s.logs.records("refused")); n < lim.LockAfter+2 {
		t.Errorf("%d refusals logged", n)
	}
	// Other endpoints count for themselves.
	if _, err := s.adminAPI("").Login(context.Background(), "aaaa-bbbb-cccc", ""); err == nil {
		t.Error("a bad invite was accepted")
	} else {
		wantCode(t, err, signaling.InvalidToken)
	}
	time.Sleep(lim.LockFor)
	if code, body, _, _ := try(s.APIKey()); code != http.StatusOK {
		t.Errorf("after the lock: %d %s", code, body)
	}

	// Logins: a run of bad invites locks the address out of logging in.
	var last error
	for range lim.LockAfter + 1 {
		_, last = s.adminAPI("").Login(context.Background(), "zzzz-zzzz-zzzz", "")
	}
	if e := wantCode(t, last, signaling.InvalidParameter); !strings.Contains(e.Message, "try again in") {
		t.Errorf("login refusal %q", e.Message)
	}
	// The WebSocket's tokens: TestTokensAreNotLockedOut, TestWebSocketSlowsFailures.

	// A steady rate: over the burst, requests wait their turn.
	s2 := startServer(t, func(c *Config) { c.Limits = Limits{Rate: 1, Burst: 3} })
	var codes []int
	for range 5 {
		code, _ := get(t, s2.tokenURL("alice", nil), map[string]string{"APP_API_KEY": s2.APIKey()})
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Errorf("codes %v, want three then 429", codes)
	}
}

// TestPeopleSurviveRestart: accounts, devices, contacts, the state set by
// hand and teams are all still there after a restart.
func TestPeopleSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	logs := &logBuffer{}
	ctx := context.Background()
	s1 := startWith(t, testConfig(dir, logs), logs)
	team, err := s1.adminAPI(s1.APIKey()).AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	l := s1.login(t, team.APIKey, "bob", "Bob Builder", RoleMember)
	bobTok := s1.accessToken(t, l.Credential)
	if _, err := s1.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	s1.login(t, team.APIKey, "alice", "Alice", "")
	if _, err := s1.userAPI(bobTok).AddContact(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := startWith(t, testConfig(dir, logs), logs)
	bobTok = s2.accessToken(t, l.Credential) // the device is still signed in
	contacts, err := s2.userAPI(bobTok).Contacts(ctx)
	if err != nil || len(contacts) != 1 || contacts[0].User != "alice" || contacts[0].Name != "Alice" {
		t.Errorf("contacts %+v, %v", contacts, err)
	}
	users, err := s2.adminAPI(team.APIKey).Users(ctx)
	if err != nil || len(users) != 2 || users[1].Name != "Bob Builder" || users[1].Devices != 1 {
		t.Errorf("users %+v, %v", users, err)
	}
	bob := s2.connectWith(t, "bob", bobTok)
	alice := s2.connectWith(t, "alice", s2.teamToken(t, team.APIKey, "alice", nil))
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	alice.expectError(signaling.AlreadyBusyCall, "d", "") // still dnd
	bob.waitPresence("alice", signaling.StateOnline)
}

// TestBadRequests: malformed requests to the HTTP API are refused with the
// error table, and the server goes on.
func TestBadRequests(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "alice")
	post := func(path, auth, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, s.url(path), strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header[HeaderAPIKey] = []string{s.APIKey()}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	cases := []struct {
		name, path, auth, body string
		status                 int
		code                   signaling.Code
	}{
		{"login not JSON", signaling.PathLogin, "", "{", 400, signaling.InvalidParameter},
		{"login unknown field", signaling.PathLogin, "", `{"invite":"x","admin":true}`, 400,
			signaling.InvalidParameter},
		{"login huge", signaling.PathLogin, "", `{"invite":"` + strings.Repeat("a", 1<<20) + `"}`, 400,
			signaling.InvalidParameter},
		{"login device name too long", signaling.PathLogin, "", `{"invite":"aaaa-bbbb-cccc","device":"` +
			strings.Repeat("d", 65) + `"}`, 400, signaling.InvalidParameter},
		{"login device name control", signaling.PathLogin, "", `{"invite":"aaaa-bbbb-cccc","device":"a\u0000b"}`, 400,
			signaling.InvalidParameter},
		{"invite bad user", signaling.PathInvites, "", `{"user":"a b"}`, 400, signaling.InvalidParameter},
		{"invite bad role", signaling.PathInvites, "", `{"user":"ab","role":"root"}`, 400, signaling.InvalidParameter},
		{"invite bad ttl", signaling.PathInvites, "", `{"user":"ab","ttl":"999h"}`, 400, signaling.InvalidParameter},
		{"invite long name", signaling.PathInvites, "", `{"user":"ab","name":"` + strings.Repeat("n", 65) + `"}`, 400,
			signaling.InvalidParameter},
		{"revoke nothing", signaling.PathRevoke, "", `{"target":""}`, 400, signaling.InvalidParameter},
		{"team bad name", signaling.PathTeams, "", `{"name":"a/b"}`, 400, signaling.InvalidParameter},
		{"token bad credential", signaling.PathAccessToken, "Device " + strings.Repeat("x", 5000), "", 401,
			signaling.InvalidToken},
		{"token no credential", signaling.PathAccessToken, "", "", 401, signaling.InvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(c.path, c.auth, c.body)
			checkHTTPError(t, code, body, c.status, c.code)
		})
	}
	req, _ := http.NewRequest(http.MethodPut, s.url(signaling.PathMyPresence), strings.NewReader(`{"state":"in_call"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkHTTPError(t, resp.StatusCode, b, 400, signaling.InvalidParameter)
	for _, p := range []string{"/v1/users/a%20b/presence", "/v1/users/bob/presence?wait=forever"} {
		code, body := get(t, s.url(p), map[string]string{"Authorization": "Bearer " + tok})
		checkHTTPError(t, code, body, 400, signaling.InvalidParameter)
	}
	if n := len(s.logs.records("refused")); n < len(cases) {
		t.Errorf("%d refusals logged, want every one", n)
	}
	stillServes(t, s, nil, 99)
}

// TestRevokeUserWhileDevicesRenew: revoking a user whose devices are
// renewing their tokens at that moment revokes every one of them. (A key
// listing over a KV watch can miss a key that is being written: see
// store.Store.Latest.)
func TestRevokeUserWhileDevicesRenew(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	admin := s.adminAPI(s.APIKey())
	const rounds, devices = 10, 3
	renewals := 0
	for i := range rounds {
		user := "bob" + strconv.Itoa(i)
		var creds []string
		for range devices {
			creds = append(creds, s.login(t, s.APIKey(), user, "", "").Credential)
		}
		rctx, stop := context.WithCancel(ctx)
		renewed := make(chan int)
		for _, cred := range creds {
			go func() {
				n := 0
				for rctx.Err() == nil {
					if _, err := s.adminAPI("").AccessToken(rctx, cred); err != nil {
						break // revoked
					}
					n++
				}
				renewed <- n
			}()
		}
		r, err := admin.Revoke(ctx, user)
		stop()
		for range creds {
			renewals += <-renewed
		}
		if err != nil || !r.All || len(r.Devices) != devices {
			t.Fatalf("round %d: revoke %s while its devices renew: %+v, %v; want %d devices", i, user, r, err, devices)
		}
		for _, cred := range creds {
			_, err := s.adminAPI("").AccessToken(ctx, cred)
			wantCode(t, err, signaling.InvalidToken)
		}
	}
	t.Logf("%d users of %d devices revoked whole, during %d renewals", rounds, devices, renewals)
}

// TestRenewalsWriteLastUseOncePerSecond: a device's renewals write its
// record once a second at most (its last use is to the second), so that a
// device renewing in a loop does not win every race for the record against
// a revocation. (Each renewal wrote it; TestRevokeUserWhileDevicesRenew
// failed under load with the revocation's update given up after 12 tries.)
func TestRenewalsWriteLastUseOncePerSecond(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	l := s.login(t, s.APIKey(), "bob", "", "")
	key := deviceKey(l.Team, l.User, l.Device)
	revision := func() uint64 {
		t.Helper()
		e, err := s.store.Devices.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision()
	}
	before, start := revision(), time.Now()
	const renewals = 20
	for range renewals {
		if _, err := s.adminAPI("").AccessToken(ctx, l.Credential); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing else writes the devices: each write is one revision more.
	writes, seconds := revision()-before, uint64(time.Now().Unix()-start.Unix()+1)
	t.Logf("%d renewals in %d seconds: %d writes of the device", renewals, seconds, writes)
	if writes > seconds {
		t.Errorf("%d renewals wrote the device %d times in %d seconds, want at most once a second", renewals, writes,
			seconds)
	}
}

// TestLinksIgnoreHost: without a public URL, invite and guest links are on
// the listener's own address whatever Host the request named, and so is
// the invite page's; a listener on every address (0.0.0.0, ::) makes no
// link at all.
func TestLinksIgnoreHost(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "alice")
	post := func(path, body string, header map[string]string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.url(path), strings.NewReader(body))
		req.Host = "evil.example"
		for k, v := range header {
			req.Header[k] = []string{v}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	var inv signaling.Invite
	_ = json.Unmarshal(post(signaling.PathInvites, `{"user":"bob"}`, map[string]string{HeaderAPIKey: s.APIKey()}), &inv)
	var l signaling.Link
	_ = json.Unmarshal(post(signaling.PathLinks, `{}`, map[string]string{"Authorization": "Bearer " + tok}), &l)
	if inv.URL != s.URL()+"/invite/"+inv.Code || l.URL != s.URL()+"/join/"+l.Code {
		t.Errorf("with Host: evil.example, links %q and %q, want them on %s", inv.URL, l.URL, s.URL())
	}
	req, _ := http.NewRequest(http.MethodGet, s.url("/invite/"+inv.Code), nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "evil") || !strings.Contains(string(page), "parley login "+inv.URL) {
		t.Errorf("invite page with Host: evil.example:\n%s", page)
	}

	for addr, want := range map[string]bool{
		"0.0.0.0:7700": true, "[::]:7700": true, "127.0.0.1:7700": false, "[::1]:7700": false, "192.0.2.7:7700": false,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := everyAddress(a); got != want {
			t.Errorf("everyAddress(%s) = %v, want %v", addr, got, want)
		}
	}
}
