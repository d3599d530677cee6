package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// The tests of the limits of issue 21: what a lock refuses (guesses, not
// holders), what it counts (per target, successes forgive nothing), the
// client's address behind a proxy, and the WebSocket's slowed failures.
// TestRateLimits (people_test.go) has the rest.

// lockLimits turn the limits on with a lock that lasts until a test's clock
// moves, and delays short enough not to slow the tests.
var lockLimits = Limits{Rate: 1000, Burst: 1000, SlowAfter: 2, Delay: 5 * time.Millisecond,
	MaxDelay: 10 * time.Millisecond, LockAfter: 5, LockFor: time.Hour, Forget: 2 * time.Hour}

// clock is a limiter clock that a test moves (Config.clock).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withKey sends a token request with key (and X-Forwarded-For xff, if
// any) and returns the status and body.
func (s *testServer) withKey(t *testing.T, key, xff string) (int, string) {
	t.Helper()
	h := map[string]string{HeaderAPIKey: key}
	if xff != "" {
		h["X-Forwarded-For"] = xff
	}
	code, body := get(t, s.tokenURL("alice", nil), h)
	return code, string(body)
}

// wantLocked fails unless err is the refusal of a lock.
func wantLocked(t *testing.T, err error) {
	t.Helper()
	if e := wantCode(t, err, signaling.InvalidParameter); !strings.Contains(e.Message, "try again in") {
		t.Errorf("refusal %q does not say when to try again", e.Message)
	}
}

// TestSuccessesDoNotForgiveGuesses: joining one's own guest link between
// wrong invites does not reset the count of wrong invites (hole 8), nor do
// wrong invites lock joins.
func TestSuccessesDoNotForgiveGuesses(t *testing.T) {
	lim := lockLimits
	s := startServer(t, func(c *Config) { c.Limits = lim })
	ctx := context.Background()
	l := s.makeLink(t, s.token(t, "host"), signaling.LinkRequest{Name: "Gus"})
	b := browser(t)
	for i := 1; i <= lim.LockAfter+1; i++ {
		if _, e := s.join(t, b, l); e != nil {
			t.Fatalf("join %d: %v", i, e)
		}
		_, err := s.adminAPI("").Login(ctx, "zzzz-zzzz-zzzz", "")
		if i <= lim.LockAfter {
			wantCode(t, err, signaling.InvalidToken)
		} else {
			wantLocked(t, err)
		}
	}
}

// TestKnownKeyPassesLock: a lock refuses guesses, not holders. An API key
// that succeeded from an address goes on working there while the address
// sends wrong keys; a key new to the address waits out the lock.
func TestKnownKeyPassesLock(t *testing.T) {
	lim := lockLimits
	clk := &clock{t: time.Now()}
	s := startServer(t, func(c *Config) { c.Limits, c.clock = lim, clk.now })
	team, err := s.adminAPI(s.APIKey()).AddTeam(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= lim.LockAfter+5; i++ {
		code, body := s.withKey(t, "wrong", "")
		want := http.StatusUnauthorized
		if i > lim.LockAfter {
			want = http.StatusTooManyRequests
		}
		if code != want {
			t.Errorf("wrong key %d: %d %s, want %d", i, code, body, want)
		}
		if code, body := s.withKey(t, s.APIKey(), ""); code != http.StatusOK {
			t.Errorf("right key after wrong key %d: %d %s", i, code, body)
		}
	}
	if code, body := s.withKey(t, team.APIKey, ""); code != http.StatusTooManyRequests {
		t.Errorf("a key new to the address during the lock: %d %s, want 429", code, body)
	}
	clk.add(lim.LockFor)
	if code, body := s.withKey(t, team.APIKey, ""); code != http.StatusOK {
		t.Errorf("a key new to the address after the lock: %d %s", code, body)
	}
}

// TestDeviceGuessesLockTheDevice: wrong secrets for one device lock the
// guesses of that device only; its own credential, which succeeded before,
// goes on working, and so does another device's.
func TestDeviceGuessesLockTheDevice(t *testing.T) {
	lim := lockLimits
	s := startServer(t, func(c *Config) { c.Limits = lim })
	ctx := context.Background()
	bob := s.login(t, s.APIKey(), "bob", "Bob", RoleMember)
	ann := s.login(t, s.APIKey(), "ann", "Ann", RoleMember)
	s.accessToken(t, bob.Credential)
	i := strings.LastIndexByte(bob.Credential, '.')
	forged := bob.Credential[:i+1] + strings.Repeat("x", len(bob.Credential)-i-1)
	for n := 1; n <= lim.LockAfter+1; n++ {
		_, err := s.adminAPI("").AccessToken(ctx, forged)
		if n <= lim.LockAfter {
			wantCode(t, err, signaling.InvalidToken)
		} else {
			wantLocked(t, err)
		}
	}
	s.accessToken(t, bob.Credential)
	s.accessToken(t, ann.Credential)
}

// TestTokensAreNotLockedOut: wrong WebSocket and bearer tokens lock the
// guesses of their address; a token that the server signed is no guess and
// goes on working there.
func TestTokensAreNotLockedOut(t *testing.T) {
	lim := lockLimits
	s := startServer(t, func(c *Config) { c.Limits = lim })
	ctx := context.Background()
	tok := s.token(t, "alice")
	for i := 1; i <= lim.LockAfter+1; i++ {
		c := s.dial(t, "bad")
		c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: "bad"})
		if i <= lim.LockAfter {
			c.expectError(signaling.InvalidToken, "c", "")
		} else if e := c.expectError(signaling.InvalidParameter, "c", ""); !strings.Contains(e.Message,
			"try again in") {
			t.Errorf("refusal %q does not say when to try again", e.Message)
		}
		c.closed()
	}
	s.connectWith(t, "alice", tok)

	for i := 1; i <= lim.LockAfter+1; i++ {
		_, err := s.userAPI("bad").Contacts(ctx)
		if i <= lim.LockAfter {
			wantCode(t, err, signaling.InvalidToken)
		} else {
			wantLocked(t, err)
		}
	}
	if _, err := s.userAPI(tok).Contacts(ctx); err != nil {
		t.Errorf("a signed token during the lock: %v", err)
	}
}

// TestWebSocketSlowsFailures: after SlowAfter bad tokens, the WebSocket's
// refusals are slowed as the HTTP API's are.
func TestWebSocketSlowsFailures(t *testing.T) {
	lim := Limits{Rate: 1000, Burst: 1000, SlowAfter: 2, Delay: 200 * time.Millisecond, MaxDelay: time.Second,
		LockAfter: 10, LockFor: time.Hour, Forget: time.Hour}
	s := startServer(t, func(c *Config) { c.Limits = lim })
	for i := 1; i <= lim.SlowAfter+2; i++ {
		c := s.dial(t, "bad")
		start := time.Now()
		c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: "bad"})
		c.expectError(signaling.InvalidToken, "c", "")
		took := time.Since(start)
		t.Logf("failure %d answered in %v", i, took.Round(time.Millisecond))
		if want := time.Duration(i-lim.SlowAfter) * lim.Delay; want > 0 && took < want {
			t.Errorf("failure %d answered in %v, want slowed by at least %v", i, took, want)
		}
		c.closed()
	}
}

// TestTrustedProxies: behind a trusted proxy, clients are told apart by
// X-Forwarded-For; from anyone else the header is ignored.
func TestTrustedProxies(t *testing.T) {
	lim := lockLimits
	s := startServer(t, func(c *Config) { c.Limits, c.TrustedProxies = lim, []string{"127.0.0.0/8", "10.1.2.3"} })
	for i := 1; i <= lim.LockAfter; i++ {
		if code, body := s.withKey(t, "wrong", "203.0.113.1"); code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d %s", i, code, body)
		}
	}
	for _, xff := range []string{
		"203.0.113.1",
		"198.51.100.7, 203.0.113.1", // what the client wrote itself is not believed
		"203.0.113.1, 10.1.2.3",     // nor are proxies counted
	} {
		if code, body := s.withKey(t, "wrong", xff); code != http.StatusTooManyRequests {
			t.Errorf("X-Forwarded-For %s: %d %s, want 429", xff, code, body)
		}
	}
	if code, body := s.withKey(t, "wrong", "203.0.113.2"); code != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d %s, want 401", code, body)
	}
	refused := s.logs.records("refused")
	if r := refused[len(refused)-1]; r["remote"] != "203.0.113.2" {
		t.Errorf("refusal logged with remote %v, want the client's address", r["remote"])
	}

	s2 := startServer(t, func(c *Config) { c.Limits = lim })
	for i := 1; i <= lim.LockAfter+1; i++ {
		want := http.StatusUnauthorized
		if i > lim.LockAfter {
			want = http.StatusTooManyRequests
		}
		if code, body := s2.withKey(t, "wrong", fmt.Sprintf("203.0.113.%d", i)); code != want {
			t.Errorf("untrusted X-Forwarded-For, wrong key %d: %d %s, want %d", i, code, body, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", ""} {
		err := Config{DataDir: t.TempDir(), TrustedProxies: []string{bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
			t.Errorf("trusted proxy %q: %v", bad, err)
		}
	}
}
