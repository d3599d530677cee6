package server

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keeperSlots is how many parts the keeper splits each Heartbeat into: every
// Heartbeat/keeperSlots it refreshes the sessions of one slot.
const keeperSlots = 50

// keeper keeps the presence records of this node's sessions alive. One
// goroutine refreshes them all, each once every Heartbeat, spread evenly
// over the interval: a goroutine and a ticker per connection would cost
// each idle connection a stack, and would bunch the writes of connections
// that came together into bursts that hold up everything else.
//
// The keeper owns each session's revision of its presence key and when it
// last recorded the user as seen. A connection hands its session over with
// join once the key exists, asks for a write now with kick when its record
// changed, and takes the revision back with leave before it deletes the
// key. If a key expired meanwhile (NATS was away for 2.5 heartbeats) it
// is made again; if another connection took the session id in between,
// this one is closed (errLost). About once a minute a session also records
// the user as seen.
type keeper struct {
	s      *Server
	joins  chan *session
	leaves chan leaveRequest
	kicks  chan *conn
	ctx    context.Context // ends with stop
	stop   context.CancelFunc
	done   chan struct{} // closed when run returns
}

// session is one session the keeper refreshes; owned by its goroutine.
type session struct {
	c    *conn
	key  string // presence key
	rev  uint64
	seen time.Time // when the user was last recorded as seen
	slot int
}

type leaveRequest struct {
	c     *conn
	reply chan uint64
}

func startKeeper(s *Server) *keeper {
	ctx, stop := context.WithCancel(context.Background())
	k := &keeper{
		s:      s,
		joins:  make(chan *session),
		leaves: make(chan leaveRequest),
		kicks:  make(chan *conn, 1024),
		ctx:    ctx,
		stop:   stop,
		done:   make(chan struct{}),
	}
	go k.run()
	return k
}

// close stops the keeper once every connection has left, and waits for it.
func (k *keeper) close() {
	if k != nil {
		k.stop()
		<-k.done
	}
}

func (k *keeper) run() {
	defer close(k.done)
	sessions := map[*conn]*session{}
	t := time.NewTicker(k.s.cfg.Heartbeat / keeperSlots)
	defer t.Stop()
	slot, joined := 0, 0
	for {
		select {
		case <-k.ctx.Done():
			return
		case ss := <-k.joins:
			ss.slot = joined % keeperSlots
			joined++
			sessions[ss.c] = ss
		case l := <-k.leaves:
			var rev uint64
			if ss := sessions[l.c]; ss != nil {
				rev = ss.rev
				delete(sessions, l.c)
			}
			l.reply <- rev
		case c := <-k.kicks:
			if ss := sessions[c]; ss != nil {
				k.beat(sessions, ss)
			}
		case <-t.C:
			for _, ss := range sessions {
				if ss.slot == slot {
					k.beat(sessions, ss)
				}
			}
			slot = (slot + 1) % keeperSlots
		}
	}
}

// join has the keeper refresh c's presence key, now at revision rev.
func (k *keeper) join(c *conn, key string, rev uint64) {
	select {
	case k.joins <- &session{c: c, key: key, rev: rev, seen: time.Now()}:
	case <-k.done:
	}
}

// kick asks for c's record to be written now. It never blocks: when many
// changes wait already, this one goes out with the session's next refresh.
func (k *keeper) kick(c *conn) {
	select {
	case k.kicks <- c:
	default:
	}
}

// leave stops refreshing c's presence key and returns its last revision; 0
// when the keeper had dropped it (errLost).
func (k *keeper) leave(c *conn) uint64 {
	reply := make(chan uint64, 1)
	select {
	case k.leaves <- leaveRequest{c, reply}:
		return <-reply
	case <-k.done:
		return 0
	}
}

// beat writes one session's presence record.
func (k *keeper) beat(sessions map[*conn]*session, ss *session) {
	c := ss.c
	if c.ctx.Err() != nil {
		return // closing: it leaves in a moment
	}
	kv := k.s.store.Presence
	rec := c.presenceJSON()
	ctx, cancel := context.WithTimeout(c.ctx, k.s.cfg.RequestTimeout)
	defer cancel()
	rev, err := kv.Update(ctx, ss.key, rec, ss.rev)
	if err != nil {
		var ours bool
		rev, ours, err = c.presenceRevision(ctx, ss.key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rev, err = kv.Create(ctx, ss.key, rec)
			if errors.Is(err, jetstream.ErrKeyExists) {
				err = errLost
			}
		case err == nil && !ours:
			err = errLost
		case err == nil:
			rev, err = kv.Update(ctx, ss.key, rec, rev)
		}
	}
	if time.Since(ss.seen) >= time.Minute {
		ss.seen = time.Now()
		k.s.markSeen(ctx, c.key, ss.seen)
	}
	switch {
	case errors.Is(err, errLost):
		c.logger().Warn("session taken over by another connection after its presence expired")
		delete(sessions, c)
		c.cancel(errLost)
	case err != nil:
		if c.ctx.Err() == nil {
			c.logger().Warn("presence heartbeat failed", "err", err)
		}
	default:
		ss.rev = rev
	}
}
