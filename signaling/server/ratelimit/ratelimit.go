// Package ratelimit keeps the signaling server's counts of what clients
// may do: per client address, the requests to each class of endpoint that
// takes a secret and the failed guesses of each target (Limiter); per
// key, such as a user, the calls of a minute or a day (Keyed); per
// connection, its messages (Allowance). It also finds a request's client
// behind trusted proxies (FromProxies). It knows nothing of HTTP answers
// or of the protocol: the server refuses with what it is told here.
package ratelimit

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the limits of the endpoints that take a secret: the token and
// admin endpoints (API key), login (invite), guest-link joins (the link's
// code), the access token and logout endpoints (device credential), the
// HTTP API's bearer tokens and the WebSocket's token. Each of these classes
// counts for itself, per client address (see FromProxies). The zero value
// of a field takes the default of DefaultLimits.
//
// A wrong secret is a failed guess. Failures are counted per class, address
// and target: the device that a device credential names; other requests
// name none, and the failures of their class from the address count
// together. A success forgives none: they are forgotten Forget after the
// last one. A lock refuses guesses, not holders: a secret that succeeded
// from the address lately (one of the last 8 of its class) passes it, and
// a token that the server signed is no guess at all. A right secret new to
// the address waits out the lock like a wrong one.
type Limits struct {
	// Rate and Burst bound the requests of one address: Rate a second on
	// average, Burst at once.
	Rate  float64
	Burst int

	// After SlowAfter failures of a target, each refusal of another waits
	// Delay for every failure beyond SlowAfter, at most MaxDelay, before it
	// is written. The LockAfter-th failure locks the target: its guesses
	// from the address are refused for LockFor. Failures are forgotten
	// Forget after the last one.
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

// WithDefaults returns l with every zero field set to DefaultLimits'.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	l.Rate = cmp.Or(l.Rate, d.Rate)
	l.Burst = cmp.Or(l.Burst, d.Burst)
	l.SlowAfter = cmp.Or(l.SlowAfter, d.SlowAfter)
	l.Delay = cmp.Or(l.Delay, d.Delay)
	l.MaxDelay = cmp.Or(l.MaxDelay, d.MaxDelay)
	l.LockAfter = cmp.Or(l.LockAfter, d.LockAfter)
	l.LockFor = cmp.Or(l.LockFor, d.LockFor)
	l.Forget = cmp.Or(l.Forget, d.Forget)
	return l
}

// Validate reports what is wrong with l.
func (l Limits) Validate() error {
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

const (
	knownSecrets = 8       // secrets that passed, kept per class and address
	maxStates    = 100_000 // states of each kind kept before the oldest are forgotten
	sweepEvery   = 10_000  // new states between two sweeps
)

// Limiter keeps the rate and the good secrets of each (class, address),
// and the failures of each (class, address, target). A class is any name
// for a kind of endpoint. Safe for concurrent use.
type Limiter struct {
	cfg Limits
	now func() time.Time // called with mu held

	mu      sync.Mutex
	addrs   map[addrKey]*addrState
	guesses map[guessKey]*guessState
	added   int // states made since the last sweep
}

type addrKey struct{ class, addr string }

type guessKey struct{ class, addr, target string }

type addrState struct {
	bucket   *rate.Limiter
	known    [][sha256.Size]byte // hashes of the secrets that passed lately, the latest last
	lastSeen time.Time
}

type guessState struct {
	fails    int
	lastFail time.Time
	until    time.Time // guesses refused until
}

// New returns a Limiter of cfg, with its defaults, whose clock is now
// (nil: time.Now).
func New(cfg Limits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		cfg: cfg.WithDefaults(), now: now,
		addrs: map[addrKey]*addrState{}, guesses: map[guessKey]*guessState{},
	}
}

// made counts a new state, sweeping now and then; l.mu must be held.
func (l *Limiter) made(now time.Time) {
	if l.added++; l.added >= sweepEvery || len(l.addrs) >= maxStates || len(l.guesses) >= maxStates {
		l.sweep(now)
	}
}

// sweep forgets the addresses quiet for Forget and the failures older than
// that, unless locked; l.mu must be held.
func (l *Limiter) sweep(now time.Time) {
	l.added = 0
	for k, st := range l.addrs {
		if now.Sub(st.lastSeen) > l.cfg.Forget {
			delete(l.addrs, k)
		}
	}
	for k, g := range l.guesses {
		if now.Sub(g.lastFail) > l.cfg.Forget && !now.Before(g.until) {
			delete(l.guesses, k)
		}
	}
	for k := range l.addrs { // still too many: forget any
		if len(l.addrs) < maxStates {
			break
		}
		delete(l.addrs, k)
	}
	for k := range l.guesses {
		if len(l.guesses) < maxStates {
			break
		}
		delete(l.guesses, k)
	}
}

// addr returns the state of (class, addr), making it; l.mu must be held.
func (l *Limiter) addr(k addrKey, now time.Time) *addrState {
	st := l.addrs[k]
	if st == nil {
		l.made(now)
		st = &addrState{bucket: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.addrs[k] = st
	}
	st.lastSeen = now
	return st
}

// Admit tells whether addr's rate lets a request of class go on; when not,
// retry is when it may try again.
func (l *Limiter) Admit(class, addr string) (retry time.Duration, ok bool) {
	if l.cfg.Off {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	r := l.addr(addrKey{class, addr}, now).bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Locked tells how long the guesses of target from addr are still refused,
// or 0; never for a secret that passed from addr lately.
func (l *Limiter) Locked(class, addr, target, secret string) time.Duration {
	if l.cfg.Off {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	g := l.guesses[guessKey{class, addr, target}]
	if g == nil || !now.Before(g.until) {
		return 0
	}
	st := l.addrs[addrKey{class, addr}]
	if st != nil && secret != "" && slices.Contains(st.known, sha256.Sum256([]byte(secret))) {
		return 0
	}
	return g.until.Sub(now)
}

// Failed counts a failed guess of target from addr: its refusal waits
// delay, and locked tells whether it locked the target.
func (l *Limiter) Failed(class, addr, target string) (delay time.Duration, locked bool) {
	if l.cfg.Off {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := guessKey{class, addr, target}
	g := l.guesses[k]
	if g == nil {
		l.made(now)
		g = &guessState{}
		l.guesses[k] = g
	}
	if now.Sub(g.lastFail) > l.cfg.Forget {
		g.fails = 0
	}
	g.fails++
	g.lastFail = now
	if extra := g.fails - l.cfg.SlowAfter; extra > 0 {
		delay = min(time.Duration(extra)*l.cfg.Delay, l.cfg.MaxDelay)
	}
	if g.fails >= l.cfg.LockAfter {
		g.fails, g.until = 0, now.Add(l.cfg.LockFor)
		return delay, true
	}
	return delay, false
}

// Succeeded remembers that secret passed from addr.
func (l *Limiter) Succeeded(class, addr, secret string) {
	if l.cfg.Off || secret == "" {
		return
	}
	h := sha256.Sum256([]byte(secret))
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.addr(addrKey{class, addr}, l.now())
	st.known = append(slices.DeleteFunc(st.known, func(k [sha256.Size]byte) bool { return k == h }), h)
	if len(st.known) > knownSecrets {
		st.known = slices.Delete(st.known, 0, len(st.known)-knownSecrets)
	}
}

// ParseProxies parses a list of trusted proxies: CIDRs or single
// addresses.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("TrustedProxies: %q is not an address or a CIDR such as 10.0.0.0/8", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// FromProxies makes a request that a trusted proxy forwarded come from its
// client (forwardedClient) for the limits and the logs alike: its
// RemoteAddr becomes the client's. Nothing else reads X-Forwarded-For.
// trusted must have passed ParseProxies.
func FromProxies(trusted []string, next http.Handler) http.Handler {
	proxies, _ := ParseProxies(trusted)
	if len(proxies) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = forwardedClient(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), proxies)
		next.ServeHTTP(w, r)
	})
}

// forwardedClient is the address of the client of a request from peer
// (host:port) with the X-Forwarded-For headers xff: peer, unless it is a
// trusted proxy; then the rightmost address in xff that is not a trusted
// proxy's (each proxy appends the address it was reached from: what is
// left of that, the client wrote), or the leftmost when all are. An entry
// that is not an address stops the search at the one on its right.
func forwardedClient(peer string, xff []string, trusted []netip.Prefix) string {
	proxy := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	if a, ok := parseAddr(peer); !ok || !proxy(a) {
		return peer
	}
	var entries []string
	for _, h := range xff {
		entries = append(entries, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(entries[i]))
		if !ok {
			break
		}
		client = a.String()
		if !proxy(a) {
			break
		}
	}
	return client
}

// parseAddr parses an address, with or without a port.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return a.Unmap(), err == nil
}
