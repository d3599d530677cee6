package server

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-voice/parley/signaling"
)

// Limits are the per-address limits of the endpoints that take a secret:
// the token and admin endpoints (API key), login (invite), the access token
// and logout endpoints (device credential) and the WebSocket (token). Each
// endpoint class counts for itself. The zero value of a field takes the
// default of DefaultLimits.
type Limits struct {
	// Rate and Burst bound the requests of one address: Rate a second on
	// average, Burst at once.
	Rate  float64
	Burst int

	// After SlowAfter failures (a wrong key, invite, credential or token),
	// each answer to the address waits Delay for every failure beyond
	// SlowAfter, at most MaxDelay. After LockAfter failures the address is
	// refused for LockFor. A success clears the failures; so does Forget
	// without any.
	SlowAfter int
	Delay     time.Duration
	MaxDelay  time.Duration
	LockAfter int
	LockFor   time.Duration
	Forget    time.Duration

	// Off turns the limits off.
	Off bool
}

// DefaultLimits are the limits of a Config that sets none.
var DefaultLimits = Limits{
	Rate: 50, Burst: 200, // room for a backend that mints tokens in bulk
	SlowAfter: 3, Delay: 250 * time.Millisecond, MaxDelay: 2 * time.Second,
	LockAfter: 10, LockFor: time.Minute, Forget: 15 * time.Minute,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Rate == 0 {
		l.Rate = d.Rate
	}
	if l.Burst == 0 {
		l.Burst = d.Burst
	}
	if l.SlowAfter == 0 {
		l.SlowAfter = d.SlowAfter
	}
	if l.Delay == 0 {
		l.Delay = d.Delay
	}
	if l.MaxDelay == 0 {
		l.MaxDelay = d.MaxDelay
	}
	if l.LockAfter == 0 {
		l.LockAfter = d.LockAfter
	}
	if l.LockFor == 0 {
		l.LockFor = d.LockFor
	}
	if l.Forget == 0 {
		l.Forget = d.Forget
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.Rate < 0 || l.Burst < 0:
		return errors.New("Limits: Rate and Burst must not be negative")
	case l.SlowAfter < 0 || l.LockAfter < 0 || l.Delay < 0 || l.MaxDelay < 0 || l.LockFor < 0 || l.Forget < 0:
		return errors.New("Limits: counts and durations must not be negative")
	case l.LockAfter != 0 && l.SlowAfter > l.LockAfter:
		return errors.New("Limits: SlowAfter is over LockAfter")
	}
	return nil
}

// The endpoint classes.
const (
	limitAPIKey  = "api_key" // token and admin endpoints
	limitLogin   = "login"   // invites
	limitDevice  = "device"  // device credentials
	limitConnect = "connect" // WebSocket tokens
	limitBearer  = "bearer"  // bearer tokens of the HTTP API
	maxAddresses = 100_000   // states kept before the oldest are forgotten
	sweepEvery   = 10_000    // new addresses between two sweeps
)

// limiter keeps the state of each (class, address).
type limiter struct {
	cfg Limits
	now func() time.Time

	mu    sync.Mutex
	addrs map[string]*addrState
	added int // since the last sweep
}

type addrState struct {
	bucket   *rate.Limiter
	fails    int
	lastSeen time.Time
	lastFail time.Time
	until    time.Time // refused until
}

func newLimiter(cfg Limits) *limiter {
	return &limiter{cfg: cfg, now: time.Now, addrs: map[string]*addrState{}}
}

// state returns the state of key, making it; l.mu must be held.
func (l *limiter) state(key string, now time.Time) *addrState {
	st := l.addrs[key]
	if st == nil {
		if l.added++; l.added >= sweepEvery || len(l.addrs) >= maxAddresses {
			l.sweep(now)
		}
		st = &addrState{bucket: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.addrs[key] = st
	}
	if !st.lastFail.IsZero() && now.Sub(st.lastFail) > l.cfg.Forget {
		st.fails, st.lastFail = 0, time.Time{}
	}
	st.lastSeen = now
	return st
}

// sweep forgets the addresses that have been quiet for Forget and are not
// refused; l.mu must be held.
func (l *limiter) sweep(now time.Time) {
	l.added = 0
	for k, st := range l.addrs {
		if now.Sub(st.lastSeen) > l.cfg.Forget && now.After(st.until) {
			delete(l.addrs, k)
		}
	}
	for k := range l.addrs { // still too many: forget any
		if len(l.addrs) < maxAddresses {
			break
		}
		delete(l.addrs, k)
	}
}

// admit tells whether a request of class from addr may go on, after
// waiting delay; when not, retry is when it may try again.
func (l *limiter) admit(class, addr string) (delay, retry time.Duration, ok bool) {
	if l.cfg.Off {
		return 0, 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.state(class+"|"+addr, now)
	if now.Before(st.until) {
		return 0, st.until.Sub(now), false
	}
	r := st.bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return 0, d, false
	}
	if extra := st.fails - l.cfg.SlowAfter; extra >= 0 {
		delay = min(time.Duration(extra+1)*l.cfg.Delay, l.cfg.MaxDelay)
	}
	return delay, 0, true
}

// failed counts a failure of addr; it reports whether the address is now
// refused.
func (l *limiter) failed(class, addr string) bool {
	if l.cfg.Off {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.state(class+"|"+addr, now)
	st.fails++
	st.lastFail = now
	if st.fails >= l.cfg.LockAfter {
		st.until = now.Add(l.cfg.LockFor)
		st.fails = 0
		return true
	}
	return false
}

// succeeded clears the failures of addr.
func (l *limiter) succeeded(class, addr string) {
	if l.cfg.Off {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.addrs[class+"|"+addr]; st != nil {
		st.fails, st.lastFail = 0, time.Time{}
	}
}

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

// gate admits an HTTP request of class, or answers it with 429 and says
// so. An admitted request waits out the delay of its address first; its
// handler then reports with done whether the secret it checked was good
// (nil: it checked none).
func (s *Server) gate(w http.ResponseWriter, r *http.Request, class string) (done func(ok bool), admitted bool) {
	addr := remoteHost(r.RemoteAddr)
	delay, retry, ok := s.limits.admit(class, addr)
	if !ok {
		e := tooMany(retry)
		s.logRefusal(e, "", r.RemoteAddr, "path", r.URL.Path, "limit", class, "retry_after", retry.String())
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, e)
		return nil, false
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return nil, false
		}
	}
	return func(good bool) {
		if good {
			s.limits.succeeded(class, addr)
			return
		}
		if s.limits.failed(class, addr) {
			s.log.Warn("address refused for a while after repeated failures", "remote", addr, "limit", class, "for", s.cfg.Limits.LockFor.String())
		}
	}, true
}
