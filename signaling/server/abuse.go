package server

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Limits on what one signed-in user can make the server and others do,
// beside the per-address limits of the endpoints that take a secret
// (package ratelimit). A node counts for itself: on n nodes, a user who spreads
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
	attrs = append([]any{"code", int(e.Code), "name", e.Name, "user", user, "remote", remote, "message", e.Message},
		attrs...)
	s.log.Log(context.Background(), level, "refused", attrs...)
}
