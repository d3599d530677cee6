package server

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// wire is a message in wire form, for the tests of sendQueue.
func wire(s string) []byte { return []byte(s) }

// TestSendQueueFull: a queue takes messages up to its limit, the first
// one telling the caller to start the writer; the next is refused as full
// (the client is too slow) and not queued.
func TestSendQueueFull(t *testing.T) {
	q := &sendQueue{limit: 3}
	for i, want := range []bool{true, false, false} {
		if start, full := q.put(wire("m")); start != want || full {
			t.Fatalf("put %d: start %v full %v, want start %v, not full", i+1, start, full, want)
		}
	}
	if start, full := q.put(wire("over")); start || !full {
		t.Errorf("put over the limit: start %v full %v, want full", start, full)
	}
	if len(q.msgs) != 3 {
		t.Errorf("%d queued, want 3", len(q.msgs))
	}
}

// TestSendQueueWriter: the writer takes the messages in order; once none
// is left it stops, and the next put starts another.
func TestSendQueueWriter(t *testing.T) {
	q := &sendQueue{limit: 8}
	ctx := t.Context()
	q.put(wire("a"))
	q.put(wire("b"))
	for _, want := range []string{"a", "b"} {
		if b, step := q.next(ctx); step != writeMsg || string(b) != want {
			t.Fatalf("next: %q %v, want %q", b, step, want)
		}
	}
	if _, step := q.next(ctx); step != writerIdle {
		t.Fatalf("next on an empty queue: %v, want idle", step)
	}
	if start, _ := q.put(wire("c")); !start {
		t.Errorf("put after the writer stopped: no start")
	}
	if q.wake() {
		t.Errorf("wake while a writer runs: start")
	}
}

// TestSendQueueFreesMemory: a queue that empties lets its memory go, so
// that an idle connection keeps no array of a burst.
func TestSendQueueFreesMemory(t *testing.T) {
	q := &sendQueue{limit: 256}
	for range 200 {
		q.put(wire("m"))
	}
	for range 200 {
		if _, step := q.next(t.Context()); step != writeMsg {
			t.Fatal("a message lost")
		}
	}
	if _, step := q.next(t.Context()); step != writerIdle || q.msgs != nil {
		t.Errorf("emptied: step %v, %d messages of room kept (want none)", step, cap(q.msgs))
	}
	q.put(wire("m"))
	q.pop()
	if _, ok := q.pop(); ok || q.msgs != nil {
		t.Errorf("emptied by pop: %d messages of room kept (want none)", cap(q.msgs))
	}
}

// TestSendQueueWaitsForRoom: putWait on a full queue waits until the
// writer takes a message, then queues; it gives up as full after its
// timeout, and drops the message when the connection ends first.
func TestSendQueueWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &sendQueue{limit: 1}
		ctx := t.Context()
		q.put(wire("a"))
		type result struct{ start, full bool }
		done := make(chan result, 1)
		go func() {
			start, full := q.putWait(ctx, wire("b"), time.Second)
			done <- result{start, full}
		}()
		synctest.Wait()
		select {
		case r := <-done:
			t.Fatalf("putWait on a full queue returned at once: %+v", r)
		default:
		}
		if b, _ := q.next(ctx); string(b) != "a" {
			t.Fatalf("next: %q", b)
		}
		synctest.Wait()
		if r := <-done; r.full || r.start {
			t.Errorf("putWait once there was room: %+v, want queued (the writer runs)", r)
		}
		if len(q.msgs) != 1 || string(q.msgs[0]) != "b" {
			t.Errorf("queue %q, want b", q.msgs)
		}

		// Nobody takes: full after the timeout, not before.
		start := time.Now()
		if s, full := q.putWait(ctx, wire("c"), time.Second); !full || s {
			t.Errorf("putWait nobody made room for: start %v full %v, want full", s, full)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("gave up after %v, want 1s", waited)
		}

		// The connection ends while it waits: dropped, not full.
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			start, full := q.putWait(cctx, wire("d"), time.Hour)
			done <- result{start, full}
		}()
		synctest.Wait()
		cancel()
		if r := <-done; r.full || r.start || len(q.msgs) != 1 {
			t.Errorf("putWait as the connection ended: %+v, %d queued; want dropped", r, len(q.msgs))
		}
	})
}

// TestSendQueueClosed: once the connection has ended the writer is told
// to close the socket, and from then on nothing is queued, no writer is
// started, and whileOpen runs nothing; the same after close (a write
// that failed).
func TestSendQueueClosed(t *testing.T) {
	for _, how := range []string{"ended", "close"} {
		q := &sendQueue{limit: 4}
		q.put(wire("a"))
		switch how {
		case "ended":
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, step := q.next(ctx); step != writerEnd {
				t.Fatalf("next once the connection ended: %v, want end", step)
			}
		case "close":
			q.close()
		}
		q.clear()
		if start, full := q.put(wire("b")); start || full || len(q.msgs) != 0 {
			t.Errorf("%s: put: start %v full %v, %d queued; want dropped", how, start, full, len(q.msgs))
		}
		if start, full := q.putWait(t.Context(), wire("c"), time.Second); start || full || len(q.msgs) != 0 {
			t.Errorf("%s: putWait: start %v full %v, %d queued; want dropped", how, start, full, len(q.msgs))
		}
		if q.wake() {
			t.Errorf("%s: wake started a writer", how)
		}
		if q.whileOpen(func() { t.Errorf("%s: whileOpen ran", how) }) {
			t.Errorf("%s: whileOpen said it ran", how)
		}
	}
}
