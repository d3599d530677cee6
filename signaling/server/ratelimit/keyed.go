package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a token bucket per key (such as a user), made when first asked
// and forgotten once full again. Safe for concurrent use.
type Keyed struct {
	limit rate.Limit
	burst int
	off   bool

	mu    sync.Mutex
	m     map[string]*rate.Limiter
	added int // since the last sweep
}

// PerMinute makes buckets of n a minute, n/3 at once; n < 0 turns them
// off.
func PerMinute(n int) *Keyed {
	return &Keyed{limit: rate.Limit(float64(n) / 60), burst: max(1, n/3), off: n < 0, m: map[string]*rate.Limiter{}}
}

// PerDay makes buckets of n a day, all of them at once; off turns them
// off.
func PerDay(n int, off bool) *Keyed {
	return &Keyed{limit: rate.Limit(float64(n) / 86400), burst: n, off: off, m: map[string]*rate.Limiter{}}
}

// Allow takes one from key's bucket; when it is empty, retry says when it
// will not be.
func (r *Keyed) Allow(key string) (ok bool, retry time.Duration) {
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
func (r *Keyed) sweep(now time.Time) {
	r.added = 0
	for k, l := range r.m {
		if l.TokensAt(now) >= float64(r.burst) {
			delete(r.m, k)
		}
	}
}

// Allowance is the allowance of one connection's messages, owned by its
// reader: a token bucket of limit a second, 4×limit deep, in 12 bytes
// where a rate.Limiter takes 100. The zero value is full.
type Allowance struct {
	tokens float32
	last   int64 // the Unix nanoseconds of the last refill; 0 before the first message
}

// Allow takes one message from the allowance, refilled at limit a second;
// a negative limit lets every message through.
func (b *Allowance) Allow(limit int, now time.Time) bool {
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
