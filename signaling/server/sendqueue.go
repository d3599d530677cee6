package server

import (
	"context"
	"sync"
	"time"
)

// sendQueue holds what waits to be written to one client, in wire form,
// and knows whether the connection's writer runs. Anyone may put; only
// the writer takes. It grows as needed up to its limit (Config.SendQueue):
// a put that finds it full says so, and the connection then drops the
// client (tooSlow), so that a client that does not read cannot hold up
// anyone else. Once the writer has closed the socket, puts are dropped.
// Safe for concurrent use.
type sendQueue struct {
	mu    sync.Mutex
	limit int
	msgs  [][]byte
	// writing is set while a writer runs: the put or wake that set it
	// told its caller to start one. closed is set once the writer closes
	// the socket; room is closed (and cleared) when the writer takes a
	// message, for putWait.
	writing bool
	closed  bool
	room    chan struct{}
}

// writerStep is what the writer does after next.
type writerStep int

const (
	writeMsg   writerStep = iota // write the message next returned
	writerIdle                   // nothing to write: the writer exits
	writerEnd                    // the connection ended: the writer closes the socket
)

// put queues b unless the queue is closed (b is dropped) or full (full:
// the client is too slow). start tells the caller to start the writer.
func (q *sendQueue) put(b []byte) (start, full bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, false
	}
	if len(q.msgs) >= q.limit {
		return false, true
	}
	q.msgs = append(q.msgs, b)
	return q.claimWriter(), false
}

// putWait queues b, waiting up to timeout for room: for a burst the client
// itself asked for, such as the presence of a thousand watched users. It
// is full when the timeout passed first; b is dropped when the queue is
// closed or ctx ends first.
func (q *sendQueue) putWait(ctx context.Context, b []byte, timeout time.Duration) (start, full bool) {
	var t *time.Timer
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return false, false
		}
		if len(q.msgs) < q.limit {
			q.msgs = append(q.msgs, b)
			start = q.claimWriter()
			q.mu.Unlock()
			return start, false
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		if t == nil {
			t = time.NewTimer(timeout)
			defer t.Stop()
		}
		select {
		case <-room:
		case <-ctx.Done():
			return false, false
		case <-t.C:
			return false, true
		}
	}
}

// wake tells the caller to start the writer, unless it runs or the queue
// is closed: to close the connection once it ended.
func (q *sendQueue) wake() (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.claimWriter()
}

// claimWriter marks the writer running unless it runs or the queue is
// closed, and says whether it did. q.mu must be held.
func (q *sendQueue) claimWriter() bool {
	if q.writing || q.closed {
		return false
	}
	q.writing = true
	return true
}

// next is the writer's: once ctx (the connection's) has ended, writerEnd,
// and the queue is closed; else the next message to write, or writerIdle
// when there is none, and the writer no longer runs. Checking ctx and
// stopping happen under one lock, so that a wake after ctx ends always
// finds either a writer that will see it or none.
func (q *sendQueue) next(ctx context.Context) ([]byte, writerStep) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ctx.Err() != nil {
		q.closed = true
		return nil, writerEnd
	}
	b, ok := q.take()
	if !ok {
		q.writing = false
		return nil, writerIdle
	}
	return b, writeMsg
}

// pop takes the next message, whether or not the queue is closed: for
// the writer's last flush.
func (q *sendQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.take()
}

// take takes the next message; the queue's memory goes once it is empty.
// q.mu must be held.
func (q *sendQueue) take() ([]byte, bool) {
	if len(q.msgs) == 0 {
		q.msgs = nil
		return nil, false
	}
	b := q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return b, true
}

// close closes the queue: nothing more is queued.
func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}

// clear drops what is queued.
func (q *sendQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = nil
}

// whileOpen runs f with the queue locked unless it is closed, and says
// whether it did: what must start before the writer closes the socket
// (and not after) starts in f.
func (q *sendQueue) whileOpen(f func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	f()
	return true
}
