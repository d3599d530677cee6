package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/token"
)

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkHTTPError checks a JSON refusal: status, exactly code, name and
// message, with the code's name and a message.
func checkHTTPError(t *testing.T, gotStatus int, body []byte, status int, code signaling.Code) {
	t.Helper()
	if gotStatus != status {
		t.Fatalf("status %d, want %d (%s)", gotStatus, status, body)
	}
	if ks := keys(t, body); !reflect.DeepEqual(ks, []string{"code", "message", "name"}) {
		t.Fatalf("body %s has keys %v, want code, message, name and no token", body, ks)
	}
	var e signaling.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Code != code || e.Name != code.Name() || e.Message == "" {
		t.Fatalf("got %s, want code %d name %s and a message", body, code, code.Name())
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := startServer(t)
	before := time.Now().Truncate(time.Second)
	code, body := get(t, s.tokenURL("alice", nil), map[string]string{"APP_API_KEY": s.APIKey()})
	if code != http.StatusOK || !reflect.DeepEqual(keys(t, body), []string{"token"}) {
		t.Fatalf("got %d %s, want 200 {\"token\"}", code, body)
	}
	var r tokenResponse
	_ = json.Unmarshal(body, &r)
	c, err := s.VerifyToken(r.Token)
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	if c.Subject != "alice" || c.Role != RoleMember || c.Issuer != "parley" || c.ID == "" || c.Data != "" {
		t.Errorf("claims %+v", c)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != 24*time.Hour {
		t.Errorf("lifetime %v, want 24h", got)
	}
	if c.IssuedAt.Before(before) || c.IssuedAt.After(time.Now()) {
		t.Errorf("iat %v is not now", c.IssuedAt)
	}
	// The header name is case-insensitive, as HTTP wants.
	if code, body := get(t, s.tokenURL("alice", nil),
		map[string]string{"app_api_key": s.APIKey()}); code != http.StatusOK {
		t.Errorf("lower-case header: %d %s", code, body)
	}

	ws := s.dial(t, "alice")
	ws.send(signaling.Message{Type: signaling.TypeConnect, Ref: "1", Token: r.Token, Session: "desk"})
	ws.expect(signaling.Message{Type: signaling.TypeWelcome, Ref: "1", User: "alice", Session: "desk",
		Role: RoleMember})
}

func TestTokenOptions(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name  string
		user  string
		query url.Values
		code  signaling.Code // 0: issued
		check func(t *testing.T, c Claims)
	}{
		{"ttl", "u1", url.Values{"ttl": {"1h30m"}}, 0, func(t *testing.T, c Claims) {
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != 90*time.Minute {
				t.Errorf("lifetime %v, want 1h30m", got)
			}
		}},
		{"ttl 30 days", "u1", url.Values{"ttl": {"720h"}}, 0, func(t *testing.T, c Claims) {
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != 720*time.Hour {
				t.Errorf("lifetime %v, want 720h", got)
			}
		}},
		{"ttl over 30 days", "u1", url.Values{"ttl": {"721h"}}, signaling.InvalidParameter, nil},
		{"ttl not a duration", "u1", url.Values{"ttl": {"soon"}}, signaling.InvalidParameter, nil},
		{"ttl negative", "u1", url.Values{"ttl": {"-1h"}}, signaling.InvalidParameter, nil},
		{"ttl zero", "u1", url.Values{"ttl": {"0s"}}, signaling.InvalidParameter, nil},
		{"role admin", "u1", url.Values{"role": {"admin"}}, 0, func(t *testing.T, c Claims) {
			if c.Role != RoleAdmin {
				t.Errorf("role %q", c.Role)
			}
		}},
		{"role guest", "u1", url.Values{"role": {"guest"}}, 0, func(t *testing.T, c Claims) {
			if c.Role != RoleGuest {
				t.Errorf("role %q", c.Role)
			}
		}},
		{"role unknown", "u1", url.Values{"role": {"king"}}, signaling.InvalidParameter, nil},
		{"data of 1000 characters", "u1", url.Values{"data": {strings.Repeat("é", 1000)}}, 0,
			func(t *testing.T, c Claims) {
				if c.Data != strings.Repeat("é", 1000) {
					t.Errorf("data of %d bytes", len(c.Data))
				}
			}},
		{"data of 1001 characters", "u1", url.Values{"data": {strings.Repeat("x", 1001)}}, signaling.InvalidParameter,
			nil},
		{"user with a space", "bad user", nil, signaling.InvalidParameter, nil},
		{"user of 65 characters", strings.Repeat("u", 65), nil, signaling.InvalidParameter, nil},
		{"user with dots and at", "bob.smith@example.com", nil, 0, func(t *testing.T, c Claims) {
			if c.Subject != "bob.smith@example.com" {
				t.Errorf("sub %q", c.Subject)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, s.tokenURL(tt.user, tt.query), map[string]string{"APP_API_KEY": s.APIKey()})
			if tt.code != 0 {
				checkHTTPError(t, code, body, http.StatusBadRequest, tt.code)
				return
			}
			if code != http.StatusOK {
				t.Fatalf("got %d %s", code, body)
			}
			var r tokenResponse
			_ = json.Unmarshal(body, &r)
			c, err := s.VerifyToken(r.Token)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestTokenAPIKey(t *testing.T) {
	s := startServer(t, func(c *Config) { c.APIKey = "right-key" })
	for name, h := range map[string]map[string]string{
		"missing":   nil,
		"empty":     {"APP_API_KEY": ""},
		"wrong":     {"APP_API_KEY": "wrong-key"},
		"prefix":    {"APP_API_KEY": "right"},
		"other hdr": {"Authorization": "Bearer right-key"},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, s.tokenURL("alice", nil), h)
			checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
		})
	}
	// Refused before the user id is even looked at.
	code, body := get(t, s.tokenURL("bad user", nil), map[string]string{"APP_API_KEY": "nope"})
	checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
	if code, _ := get(t, s.tokenURL("alice", nil),
		map[string]string{"APP_API_KEY": "right-key"}); code != http.StatusOK {
		t.Fatalf("right key: %d", code)
	}
}

// badTokens are tokens this server must refuse, by what is wrong with them.
func badTokens(t *testing.T, s *testServer) map[string]string {
	t.Helper()
	member := token.Options{Role: RoleMember, TTL: time.Hour}
	expired, err := s.tokens.Sign("alice", member, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other := token.NewSigner([]byte(strings.Repeat("k", 32)), time.Hour)
	forged, err := other.Sign("alice", member, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := s.token(t, "alice")
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"mallory"`, 1)))
	tampered := strings.Join(parts, ".")
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone,
		Claims{Role: RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := loadSecret(s.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256,
		Claims{Role: RoleMember, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: "alice",
		}}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"expired":       expired,
		"bad signature": forged,
		"tampered":      tampered,
		"alg none":      none,
		"no expiry":     noExp,
		"garbage":       "not-a-token",
	}
}

func TestBadTokensRefused(t *testing.T) {
	s := startServer(t)
	for name, tok := range badTokens(t, s) {
		t.Run(name, func(t *testing.T) {
			c := s.dial(t, "alice")
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c1", Token: tok})
			e := c.expectError(signaling.InvalidToken, "c1", "")
			if !strings.Contains(e.Message, "parley token") {
				t.Errorf("message %q does not say how to get a token", e.Message)
			}
			if name == "expired" && !strings.Contains(e.Message, "expired") {
				t.Errorf("message %q does not say it expired", e.Message)
			}
			if code := c.closed(); code != websocket.StatusPolicyViolation {
				t.Errorf("close status %v, want %v", code, websocket.StatusPolicyViolation)
			}
			code, body := get(t, s.url("/v1/voice/users/bob/session"), map[string]string{"Authorization": "Bearer " +
				tok})
			checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
		})
	}
	code, body := get(t, s.url("/v1/voice/users/bob/session"), nil)
	checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
}

func TestHealthz(t *testing.T) {
	s := startServer(t)
	code, body := get(t, s.url(PathHealth), nil)
	if code != http.StatusOK || string(body) != `{"status":"ok"}`+"\n" {
		t.Fatalf("got %d %s", code, body)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAPIKeyGeneratedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !s1.GeneratedAPIKey() || len(s1.APIKey()) < 20 {
		t.Fatalf("generated %v, key %q", s1.GeneratedAPIKey(), s1.APIKey())
	}
	for file, want := range map[string]os.FileMode{apiKeyFile: 0o600, secretFile: 0o600, ".": 0o700} {
		if got := mode(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s: mode %v, want %v", file, got, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, apiKeyFile)); string(b) != s1.APIKey()+"\n" {
		t.Errorf("api_key holds %q, want %q", b, s1.APIKey())
	}
	tok, err := s1.tokens.Sign("alice", token.Options{Role: RoleMember, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	s2, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s2.GeneratedAPIKey() || s2.APIKey() != s1.APIKey() {
		t.Errorf("restart: generated %v, key %q, want the saved %q", s2.GeneratedAPIKey(), s2.APIKey(), s1.APIKey())
	}
	if _, err := s2.VerifyToken(tok); err != nil {
		t.Errorf("a token of the first start is refused after a restart: %v", err)
	}

	given := t.TempDir()
	s3, err := New(Config{DataDir: given, APIKey: "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if s3.GeneratedAPIKey() || s3.APIKey() != "from-env" {
		t.Errorf("given key: generated %v, key %q", s3.GeneratedAPIKey(), s3.APIKey())
	}
	if _, err := os.Stat(filepath.Join(given, apiKeyFile)); !os.IsNotExist(err) {
		t.Errorf("a given key was saved: %v", err)
	}
}

// TestDataSurvivesRestart: the users bucket and the other people buckets
// are stored under DataDir, so a user known before a restart is still known
// after it (TestPeopleSurviveRestart checks the rest).
func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	logs := &logBuffer{}
	s1 := startWith(t, testConfig(dir, logs), logs)
	s1.token(t, "bob")
	if err := s1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	var streams []string
	_ = filepath.WalkDir(filepath.Join(dir, "jetstream"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "KV_") {
			streams = append(streams, d.Name())
		}
		return nil
	})
	sort.Strings(streams)
	var want []string
	for _, b := range []string{store.BucketCalls, store.BucketContacts, store.BucketDevices,
		store.BucketHistorySeen, store.BucketInvites, store.BucketLinks, store.BucketRoomRecords, store.BucketRooms,
		store.BucketSeen, store.BucketStatus, store.BucketTeams, store.BucketTextDelivered, store.BucketTextRead,
		store.BucketUsers, store.BucketVoiceMessages, store.BucketWebhooks} {
		want = append(want, "KV_"+b)
	}
	if !reflect.DeepEqual(streams, want) {
		t.Fatalf("file streams under DataDir/jetstream: %v, want %v", streams, want)
	}

	s2 := startWith(t, testConfig(dir, logs), logs)
	alice := s2.connect(t, "alice", "")
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "1", To: "bob", SDP: "o"})
	alice.expectError(signaling.NoConnectedDestination, "1", "") // known, offline
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "2", To: "zed", SDP: "o"})
	alice.expectError(signaling.NotFoundUserSessionID, "2", "") // never known
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" valid, else a part of the error
	}{
		{"defaults", Config{DataDir: "d"}, ""},
		{"no data dir", Config{}, "DataDir is required"},
		{"bad listen", Config{DataDir: "d", Listen: "7700"}, "Listen"},
		{"token ttl too long", Config{DataDir: "d", TokenTTL: MaxTokenTTL + time.Second}, "TokenTTL"},
		{"negative ring", Config{DataDir: "d", RingTimeout: -time.Second}, "RingTimeout"},
		{"negative lobby", Config{DataDir: "d", LobbyTimeout: -time.Second}, "LobbyTimeout"},
		{"link ttl too long", Config{DataDir: "d", LinkTTL: MaxLinkTTL + time.Second}, "LinkTTL"},
		{"short heartbeat", Config{DataDir: "d", Heartbeat: time.Millisecond}, "Heartbeat"},
		{"both nats", Config{DataDir: "d", NATSURL: "nats://x:4222", NATSListen: "127.0.0.1:0"}, "exclude"},
		{"bad node name", Config{DataDir: "d", NodeName: "a b"}, "NodeName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) ||
				!strings.HasPrefix(err.Error(), "server: ")):
				t.Errorf("got %v, want a server: error about %s", err, tt.want)
			}
		})
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a config without DataDir")
	}
}

func TestConnectTimeout(t *testing.T) {
	s := startServer(t, func(c *Config) { c.ConnectTimeout = 200 * time.Millisecond })
	late := s.dial(t, "late")
	start := time.Now()
	late.expectError(signaling.NoConnectedSession, "", "")
	if code := late.closed(); code != websocket.StatusPolicyViolation {
		t.Errorf("close status %v", code)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the timeout", d)
	}
	// A connected one stays.
	c := s.connect(t, "alice", "")
	late2 := s.dial(t, "late2")
	late2.expectError(signaling.NoConnectedSession, "", "")
	c.ping("p")
}

// usersWritten is the number of writes to the users bucket so far.
func usersWritten(t *testing.T, s *testServer) uint64 {
	t.Helper()
	st, err := s.bus.js.Stream(t.Context(), "KV_"+store.BucketUsers)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.LastSeq
}

// concurrentTokens asks for n tokens for user at once, the i-th with query
// q(i), and returns the count of each HTTP status and the bodies of the
// answers that were not 200.
func concurrentTokens(t *testing.T, s *testServer, user string, n int, q func(i int) url.Values) (
	statuses map[int]int, refused []string,
) {
	t.Helper()
	type answer struct {
		status int
		retry  string
		body   []byte
	}
	answers := make(chan answer, n)
	// Each request on a connection of its own, closed after it: none is
	// left for the server's shutdown to wait for.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range n {
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.tokenURL(user, q(i)), nil)
			req.Header[HeaderAPIKey] = []string{s.APIKey()}
			resp, err := hc.Do(req)
			if err != nil {
				answers <- answer{body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			answers <- answer{resp.StatusCode, resp.Header.Get("Retry-After"), body}
		}()
	}
	statuses = map[int]int{}
	bad := 0
	for range n {
		a := <-answers
		statuses[a.status]++
		if a.status == http.StatusOK {
			continue
		}
		refused = append(refused, fmt.Sprintf("%d (Retry-After %q) %s", a.status, a.retry, bytes.TrimSpace(a.body)))
		var e signaling.Error
		if a.status != http.StatusTooManyRequests || a.retry != "1" || json.Unmarshal(a.body, &e) != nil ||
			e.Code != signaling.InvalidParameter || !strings.Contains(e.Message, "try again") {
			if bad == 0 {
				t.Errorf("answer %s: want 200, or 429 with Retry-After 1 and %d saying to try again",
					refused[len(refused)-1], signaling.InvalidParameter)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d answers were neither 200 nor such a 429: %v", bad, n, statuses)
	}
	return statuses, refused
}

// TestConcurrentTokens: 400 token requests for one user at once are all
// answered with a token, and the user's record is written once (it
// changes only when the role or the name does, or LastToken is an hour
// old); 400 at once that each change the name are answered 200, or 429
// with Retry-After (to try again), never 5xx, even on a loaded machine, and
// each 200 wrote the record.
func TestConcurrentTokens(t *testing.T) {
	s := startServer(t)
	const n = 400
	before := usersWritten(t, s)
	statuses, _ := concurrentTokens(t, s, "alice", n, func(int) url.Values { return nil })
	written := usersWritten(t, s) - before
	t.Logf("%d token requests at once: %v; the user record written %d times", n, statuses, written)
	if statuses[http.StatusOK] != n {
		t.Errorf("got %v, want %d of 200", statuses, n)
	}
	if written != 1 {
		t.Errorf("the user record was written %d times, want once", written)
	}

	before = usersWritten(t, s)
	statuses, refused := concurrentTokens(t, s, "alice", n, func(i int) url.Values {
		return url.Values{"name": {fmt.Sprintf("Alice %d", i)}}
	})
	written = usersWritten(t, s) - before
	t.Logf("%d token requests at once, each with another name: %v; the user record written %d times", n, statuses,
		written)
	if len(refused) > 0 {
		t.Logf("a refusal: %s", refused[0])
	}
	// Each 200 wrote the record; a 429 may have too, when the store took
	// its write but answered after the request's time was up (a loaded
	// machine): the caller tries again, which does no harm.
	if statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != n || written < uint64(statuses[http.StatusOK]) {
		t.Errorf("got %v and %d writes, want only 200 (each one write) and 429", statuses, written)
	}

	// LastToken is written again once it is an hour old.
	ctx := t.Context()
	rec, err := store.Update(ctx, s.store.Users, store.UserKey(DefaultTeam, "alice"), func(u *store.User, _ bool) bool {
		u.LastToken = u.LastToken.Add(-lastTokenEvery)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	before = usersWritten(t, s)
	s.token(t, "alice")
	s.token(t, "alice")
	got, _, err := s.lookup(ctx, DefaultTeam, "alice")
	if err != nil {
		t.Fatal(err)
	}
	written = usersWritten(t, s) - before
	if written != 1 || !got.LastToken.After(rec.LastToken.Add(lastTokenEvery-time.Second)) {
		t.Errorf("after an hour, two tokens wrote the record %d times (want 1), LastToken %v (was %v)",
			written, got.LastToken, rec.LastToken)
	}
}

// TestUpdateGivesUp: a change that another writer beats every time is
// tried store.MaxTries times, with short waits between, then refused with
// 80101 and, over HTTP, 429 and Retry-After: 1, saying to try again.
func TestUpdateGivesUp(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	tries := 0
	start := time.Now()
	_, err := s.saveUser(ctx, DefaultTeam, "bob", func(u *store.User) {
		tries++
		// Another writer changes bob between this read and its write.
		if _, err := s.store.Users.Put(ctx, store.UserKey(DefaultTeam, "bob"), []byte(`{"user":"bob"}`)); err != nil {
			t.Fatal(err)
		}
		u.Name = "Bob"
	})
	took := time.Since(start)
	t.Logf("gave up after %d tries in %v: %v", tries, took.Round(time.Millisecond), err)
	if tries != store.MaxTries || !errors.Is(err, store.ErrContended) || took > 2*time.Second {
		t.Fatalf("%d tries in %v: %v; want %d tries and store.ErrContended", tries, took, err, store.MaxTries)
	}
	w := httptest.NewRecorder()
	s.httpRefuse(w, httptest.NewRequest(http.MethodGet, "/v1/voice/users/bob/token", nil), "bob", err)
	var e signaling.Error
	err = json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || err != nil ||
		e.Code != signaling.InvalidParameter || !strings.Contains(e.Message, "try again") {
		t.Errorf("answered %d (Retry-After %q) %s, want 429, Retry-After 1, 80101 saying to try again",
			w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// TestNewUserIDs: the token endpoint and invites take a new user id only
// when it starts with a letter or digit and has no two punctuation marks in
// a row (80101 otherwise); a token issued before to a user with another id
// still verifies and connects, and an admin can still revoke that user.
func TestNewUserIDs(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	api := s.adminAPI(s.APIKey())
	// pathID puts id in a path with its dots escaped, so that ".." is an
	// id and not the parent of the path.
	pathID := func(id string) string { return strings.ReplaceAll(url.PathEscape(id), ".", "%2E") }
	for _, id := range []string{"..", "...@+", ".bob", "a..b", "bob-_x", "@bob"} {
		code, body := get(t, s.url("/v1/voice/users/"+pathID(id)+"/token"), map[string]string{HeaderAPIKey: s.APIKey()})
		var e signaling.Error
		if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Code != signaling.InvalidParameter {
			t.Errorf("token for %q: got %d %s, want 400 %d", id, code, body, signaling.InvalidParameter)
		}
		_, err := api.Invite(ctx, signaling.InviteRequest{User: id})
		if e := signaling.AsError(err); e == nil || e.Code != signaling.InvalidParameter {
			t.Errorf("invite for %q: got %v, want %d", id, err, signaling.InvalidParameter)
		}
	}
	for _, id := range []string{"a.b@c.com", "first_last", "bob-2", "7seas", "a+tag@example.org"} {
		code, body := get(t, s.url("/v1/voice/users/"+pathID(id)+"/token"), map[string]string{HeaderAPIKey: s.APIKey()})
		if code != http.StatusOK {
			t.Errorf("token for %q: got %d %s, want 200", id, code, body)
		}
		if _, err := api.Invite(ctx, signaling.InviteRequest{User: id}); err != nil {
			t.Errorf("invite for %q: %v", id, err)
		}
	}

	// An invite made for ".." before ids were checked so makes no user.
	code := newInviteCode()
	now := time.Now()
	b, _ := json.Marshal(store.Invite{User: "..", Team: DefaultTeam, Role: RoleMember, Created: now,
		Expires: now.Add(time.Hour)})
	if _, err := s.store.Invites.Create(ctx, hashHex(normalizeCode(code)), b); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Login(ctx, code, "laptop"); err == nil || signaling.AsError(err).Code != signaling.InvalidToken {
		t.Errorf("login with an old invite for \"..\": got %v, want %d", err, signaling.InvalidToken)
	}
	if _, found, _ := s.lookup(ctx, DefaultTeam, ".."); found {
		t.Errorf("the old invite made user \"..\"")
	}

	// A token issued to ".." before ids were checked so still works.
	o, err := s.tokens.Check("old", token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.tokens.Sign("..", o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.VerifyToken(tok); err != nil || c.Subject != ".." {
		t.Fatalf("an old token for \"..\": %v %v", c.Subject, err)
	}
	dots := s.connectWith(t, "..", tok)
	if dots.user != ".." {
		t.Errorf("connected as %q, want \"..\"", dots.user)
	}
	devices := s.url(strings.Replace(signaling.PathDevices, "{user}", pathID(".."), 1))
	if code, body := get(t, devices, map[string]string{HeaderAPIKey: s.APIKey()}); code != http.StatusOK {
		t.Errorf("devices of \"..\": got %d %s, want 200", code, body)
	}
	if r, err := api.Revoke(ctx, ".."); err != nil || r.User != ".." || !r.All {
		t.Errorf("revoke \"..\": %+v %v", r, err)
	}
	for range dots.in { // closed: revoked
	}
}
