package server

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-voice/parley/signaling"
)

// Limits on what one signed-in user can make the server and others do,
// beside the per-address limits of the endpoints that take a secret
// (ratelimit.go). A node counts for itself: on n nodes, a user who spreads
// their connections over all of them gets n times as much.
const (
	// DefaultDialLimit and DefaultRingLimit are the calls a minute one
	// caller may place, and one callee may be rung with, when the Config
	// does not say: a third of them at once, then the rest of the minute's
	// spread out. A ring flood (5,000 calls in 44 s) rang everyone's
	// devices and made them busy for everyone else.
	DefaultDialLimit = 30
	DefaultRingLimit = 60

	// dailyDials bounds the calls one caller places in a day (with
	// DialLimit on): so the call records one caller can make the server
	// keep for CallHistory (7 days) are at most 7,000, about 6 MB.
	dailyDials = 1000

	// maxCandidates bounds the ICE candidates one participant sends in one
	// call, ICE restarts included: a few dozen is usual. 3,000 of them
	// filled the other side's send queue, which disconnected it.
	maxCandidates = 200

	// DefaultMessageLimit is how many messages a second one connection
	// may send when the Config does not say, four times as many at once;
	// past that they are refused, and after msgStrikes refusals in a row
	// the connection is closed (1008). Before it signs in, a connection
	// is closed after helloStrikes refused messages.
	DefaultMessageLimit = 50
	msgStrikes          = 100
	helloStrikes        = 10
)

// rates is a token bucket per key (a user), made when first asked and
// forgotten once full again. Safe for concurrent use.
type rates struct {
	limit rate.Limit
	burst int
	off   bool

	mu    sync.Mutex
	m     map[string]*rate.Limiter
	added int // since the last sweep
}

// perMinute makes rates of n a minute, n/3 at once; n < 0 turns them off.
func perMinute(n int) *rates {
	return &rates{limit: rate.Limit(float64(n) / 60), burst: max(1, n/3), off: n < 0, m: map[string]*rate.Limiter{}}
}

// perDay makes rates of n a day, all of them at once; off turns them off.
func perDay(n int, off bool) *rates {
	return &rates{limit: rate.Limit(float64(n) / 86400), burst: n, off: off, m: map[string]*rate.Limiter{}}
}

// allow takes one from key's bucket; when it is empty, retry says when it
// will not be.
func (r *rates) allow(key string) (ok bool, retry time.Duration) {
	if r.off {
		return true, 0
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.m[key]
	if l == nil {
		if r.added++; r.added >= 1000 {
			r.sweep(now)
		}
		l = rate.NewLimiter(r.limit, r.burst)
		r.m[key] = l
	}
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets the buckets that are full again. r.mu must be held.
func (r *rates) sweep(now time.Time) {
	r.added = 0
	for k, l := range r.m {
		if l.TokensAt(now) >= float64(r.burst) {
			delete(r.m, k)
		}
	}
}

// msgBucket is the allowance of one connection's messages (see
// DefaultMessageLimit), owned by its reader: a token bucket of limit a
// second, 4×limit deep, in 12 bytes where a rate.Limiter takes 100.
type msgBucket struct {
	tokens float32
	last   int64 // the Unix nanoseconds of the last refill; 0 before the first message
}

// allow takes one message from the bucket, refilled at limit a second; a
// negative limit lets every message through.
func (b *msgBucket) allow(limit int, now time.Time) bool {
	if limit < 0 {
		return true
	}
	t := now.UnixNano()
	if b.last == 0 {
		b.tokens = float32(4 * limit)
	} else {
		b.tokens = min(float32(4*limit), b.tokens+float32(t-b.last)/1e9*float32(limit))
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// seconds says d in whole seconds, at least one, for a refusal.
func seconds(d time.Duration) string {
	return plural(max(1, int(math.Ceil(d.Seconds()))), "second")
}

// refusals counts the refusals made to clients, by code, so that a client
// that sends garbage by the thousand writes a line a minute to the log,
// not a line each: every refusal is logged at debug level, and report logs
// the counts at info level once a minute. Refusals with UnknownError (the
// server's own failures) are each logged at error level.
type refusals struct {
	mu     sync.Mutex
	counts map[signaling.Code]int64
}

func (r *refusals) count(c signaling.Code) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[signaling.Code]int64{}
	}
	r.counts[c]++
}

// take returns the counts since the last take, by code name, or nil when
// there were none.
func (r *refusals) take() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out map[string]int64
	for c, n := range r.counts {
		if out == nil {
			out = map[string]int64{}
		}
		out[c.Name()] = n
	}
	r.counts = nil
	return out
}

// reportRefusals logs the refusals of each minute until ctx ends.
func (s *Server) reportRefusals(ctx context.Context, every time.Duration) {
	defer s.calls.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if counts := s.refused.take(); counts != nil {
				s.log.Info("refusals", "since", every.String(), "by_code", counts)
			}
		}
	}
}

// logRefusal logs a refusal made to a client.
func (s *Server) logRefusal(e *signaling.Error, user, remote string, attrs ...any) {
	s.refused.count(e.Code)
	level := slog.LevelDebug
	if e.Code == signaling.UnknownError {
		level = slog.LevelError
	}
	attrs = append([]any{"code", int(e.Code), "name", e.Name, "user", user, "remote", remote, "message", e.Message}, attrs...)
	s.log.Log(context.Background(), level, "refused", attrs...)
}
