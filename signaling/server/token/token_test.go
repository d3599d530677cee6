package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-voice/parley/signaling"
)

var secret = []byte(strings.Repeat("s", 32))

// TestSignVerify: what Sign puts in a token Verify reads back: the user,
// role, data, team (absent for the default team), device, guest link, a
// fresh id, and the lifetime asked for or the Signer's.
func TestSignVerify(t *testing.T) {
	s := NewSigner(secret, 24*time.Hour)
	now := time.Now().Truncate(time.Second)
	link := &GuestLink{Key: "KEY", Host: "alice", Name: "Gus"}
	for _, c := range []struct {
		name string
		o    Options
		want Claims // Role, Data, Team, Device, Link
		ttl  time.Duration
	}{
		{"zero", Options{}, Claims{Role: RoleMember}, 24 * time.Hour},
		{"default team", Options{Team: DefaultTeam, TTL: time.Hour}, Claims{Role: RoleMember}, time.Hour},
		{"team", Options{Team: "acme", Role: RoleAdmin, Data: "d"},
			Claims{Role: RoleAdmin, Data: "d", Team: "acme"}, 24 * time.Hour},
		{"device", Options{Device: "laptop", TTL: 15 * time.Minute},
			Claims{Role: RoleMember, Device: "laptop"}, 15 * time.Minute},
		{"guest", Options{Role: RoleGuest, Link: link}, Claims{Role: RoleGuest, Link: link}, 24 * time.Hour},
	} {
		o, err := s.Check("bob", c.o)
		if err != nil {
			t.Fatalf("%s: Check: %v", c.name, err)
		}
		tok, err := s.Sign("bob", o, now)
		if err != nil {
			t.Fatalf("%s: Sign: %v", c.name, err)
		}
		got, err := s.Verify(tok)
		if err != nil {
			t.Fatalf("%s: Verify: %v", c.name, err)
		}
		if got.Subject != "bob" || got.Issuer != Issuer || got.ID == "" || !got.Issued().Equal(now) ||
			got.ExpiresAt.Sub(now) != c.ttl {
			t.Errorf("%s: sub %q iss %q jti %q iat %v exp %v, want bob, %s, an id, %v, %v later",
				c.name, got.Subject, got.Issuer, got.ID, got.Issued(), got.ExpiresAt, Issuer, now, c.ttl)
		}
		if got.Role != c.want.Role || got.Data != c.want.Data || got.Team != c.want.Team ||
			got.Device != c.want.Device ||
			(got.Link == nil) != (c.want.Link == nil) || got.Link != nil && *got.Link != *c.want.Link {
			t.Errorf("%s: claims %+v, want %+v", c.name, got, c.want)
		}
		if team := got.TeamID(); team != cmpOr(c.want.Team, DefaultTeam) {
			t.Errorf("%s: team %q", c.name, team)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestCheck: Check fills in the defaults and refuses, with 80101 and what
// is wrong, a bad user, role, data, lifetime, team or name.
func TestCheck(t *testing.T) {
	s := NewSigner(secret, time.Hour)
	o, err := s.Check("bob.smith@example.com", Options{Name: "  Bob  "})
	if err != nil || o.Role != RoleMember || o.TTL != time.Hour || o.Team != DefaultTeam || o.Name != "Bob" {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, c := range []struct {
		name, user string
		o          Options
		says       string
	}{
		{"user with a space", "bad user", Options{}, "user"},
		{"user of 65 characters", strings.Repeat("u", 65), Options{}, "user"},
		{"role", "u", Options{Role: "king"}, "role"},
		{"data of 1001 characters", "u", Options{Data: strings.Repeat("x", 1001)}, "over the limit of 1000"},
		{"data not UTF-8", "u", Options{Data: "\xff"}, "UTF-8"},
		{"ttl over 30 days", "u", Options{TTL: MaxTTL + time.Second}, "ttl"},
		{"ttl under a second", "u", Options{TTL: time.Millisecond}, "ttl"},
		{"team", "u", Options{Team: "a team"}, "team"},
		{"name with an escape", "u", Options{Name: "Bob\x1b[2J"}, "name"},
	} {
		_, err := s.Check(c.user, c.o)
		var e *signaling.Error
		if !errors.As(err, &e) || e.Code != signaling.InvalidParameter || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %v, want 80101 saying %q", c.name, err, c.says)
		}
	}
}

// TestVerifyRefuses: an expired, forged, tampered, unsigned or endless
// token, one of another issuer, with a bad role, team or guest link, and
// garbage are refused with 80401, saying why and how to get a token.
func TestVerifyRefuses(t *testing.T) {
	s := NewSigner(secret, time.Hour)
	sign := func(signer *Signer, o Options, at time.Time) string {
		t.Helper()
		tok, err := signer.Sign("alice", o, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	raw := func(method jwt.SigningMethod, key any, c Claims) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	member := Options{Role: RoleMember, TTL: time.Hour}
	other := NewSigner([]byte(strings.Repeat("k", 32)), time.Hour)
	good := sign(s, member, time.Now())
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"mallory"`, 1)))
	valid := func(c Claims) Claims {
		c.RegisteredClaims = jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
		return c
	}
	for name, c := range map[string]struct{ tok, says string }{
		"expired":       {sign(s, member, time.Now().Add(-2*time.Hour)), "expired at"},
		"bad signature": {sign(other, member, time.Now()), "not signed by this server"},
		"tampered":      {strings.Join(parts, "."), "not signed by this server"},
		"alg none": {raw(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			valid(Claims{Role: RoleAdmin})), "not signed"},
		"no expiry": {raw(jwt.SigningMethodHS256, secret, Claims{Role: RoleMember,
			RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice"}}), "not valid"},
		"another issuer": {raw(jwt.SigningMethodHS256, secret, Claims{Role: RoleMember,
			RegisteredClaims: jwt.RegisteredClaims{Issuer: "gitple", Subject: "alice",
				ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}), "not valid"},
		"bad role": {raw(jwt.SigningMethodHS256, secret, valid(Claims{Role: "king"})), "bad role"},
		"bad team": {raw(jwt.SigningMethodHS256, secret, valid(Claims{Role: RoleMember, Team: "a team"})),
			"no valid team"},
		"link of a member": {raw(jwt.SigningMethodHS256, secret, valid(Claims{Role: RoleMember,
			Link: &GuestLink{Key: "k", Host: "bob"}})), "bad guest link"},
		"garbage": {"not-a-token", "not valid"},
	} {
		_, err := s.Verify(c.tok)
		var e *signaling.Error
		if !errors.As(err, &e) || e.Code != signaling.InvalidToken || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %v, want 80401 saying %q", name, err, c.says)
		} else if !strings.Contains(e.Message, "`parley token USER") &&
			!strings.Contains(e.Message, "open the link again") {
			t.Errorf("%s: %q does not say how to get a token", name, e.Message)
		}
	}
}
