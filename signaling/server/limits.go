package server

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/ratelimit"
)

// The classes of the endpoints that take a secret, each limited for
// itself per client address (package ratelimit, Config.Limits).
const (
	limitAPIKey  = "api_key" // token and admin endpoints
	limitLogin   = "login"   // invites
	limitJoin    = "join"    // guest-link codes
	limitDevice  = "device"  // device credentials
	limitConnect = "connect" // WebSocket tokens
	limitBearer  = "bearer"  // bearer tokens of the HTTP API
)

// Limits are the per-address limits of the endpoints that take a secret
// (package ratelimit).
type Limits = ratelimit.Limits

// DefaultLimits are the limits of a Config that sets none.
var DefaultLimits = ratelimit.DefaultLimits

// remoteHost is the address part of a request's remote address.
func remoteHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// tooMany is the refusal of a limited address.
func tooMany(retry time.Duration) *signaling.Error {
	secs := int(math.Ceil(retry.Seconds()))
	return signaling.Errorf(signaling.InvalidParameter,
		"too many attempts from your address: try again in %s", plural(max(secs, 1), "second"))
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// guessOf tells what a request of class guesses: the target that its
// secret opens, when the request names one (a device credential names its
// device), and the secret, when it is in the headers or the path (not an
// invite: in the body, and good once). A bearer token that the server
// signed is no guess (signed).
func (s *Server) guessOf(class string, r *http.Request) (target, secret string, signed bool) {
	switch class {
	case limitAPIKey:
		return "", r.Header.Get(HeaderAPIKey), false
	case limitJoin:
		return "", r.PathValue("code"), false
	case limitDevice:
		cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Device ")
		cred = strings.TrimSpace(cred)
		if team, user, id, _, valid := parseCredential(cred); ok && valid {
			return deviceKey(team, user, id), cred, false
		}
	case limitBearer:
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		_, err := s.tokens.Verify(tok)
		return "", "", err == nil
	}
	return "", "", false
}

// gate admits an HTTP request of class, or answers it with 429 (over its
// address's rate, or guessing a locked target) and says so. Its handler
// then reports with done whether the secret it checked was good; done(false)
// waits out the delay of the failures, before the handler writes its
// refusal.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, class string) (done func(ok bool), admitted bool) {
	addr := remoteHost(r.RemoteAddr)
	target, secret, signed := s.guessOf(class, r)
	retry, ok := s.limits.Admit(class, addr)
	if ok && !signed {
		retry = s.limits.Locked(class, addr, target, secret)
		ok = retry == 0
	}
	if !ok {
		e := tooMany(retry)
		s.logRefusal(e, "", r.RemoteAddr, "path", r.URL.Path, "limit", class, "retry_after", retry.String())
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, e)
		return nil, false
	}
	return func(good bool) {
		if good {
			s.limits.Succeeded(class, addr, secret)
			return
		}
		s.failedGuess(r.Context(), class, addr, target)
	}, true
}

// failedGuess counts a failed guess of target from addr, and waits the
// delay of its failures (or until ctx ends) before its refusal is written.
func (s *Server) failedGuess(ctx context.Context, class, addr, target string) {
	delay, locked := s.limits.Failed(class, addr, target)
	if locked {
		s.log.Warn("guesses refused for a while after repeated failures",
			"remote", addr, "limit", class, "target", target, "for", s.cfg.Limits.LockFor.String())
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// tokenLocked is the refusal of a WebSocket token from addr that did not
// verify (verr) while the guesses of tokens from there are locked, or nil.
// A token that verifies is no guess: it is never refused for a lock.
func (s *Server) tokenLocked(addr string, verr error) *signaling.Error {
	if verr == nil {
		return nil
	}
	if retry := s.limits.Locked(limitConnect, addr, "", ""); retry > 0 {
		return tooMany(retry)
	}
	return nil
}
