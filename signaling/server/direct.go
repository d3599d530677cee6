package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// directGets makes JetStream's direct batch gets (several messages of a
// stream in one request, answered by the stream itself without creating a
// consumer), with one subscription for the node's replies. A client that
// subscribes for each request's replies (as orbit.go's jetstreamext does)
// makes the NATS client allocate a 64K-message channel for each: half a
// megabyte cleared per request, a quarter of the server's CPU while many
// clients connected at once.
//
// route runs on the subscription's goroutine; each request waits on its
// own goroutine for the replies route gathers for it.
type directGets struct {
	nc     *nats.Conn
	prefix string // of the reply subjects: prefix + a request's number
	sub    *nats.Subscription

	mu      sync.Mutex
	next    uint64
	pending map[string]*directReply
}

// directReply gathers the replies to one request until its end.
type directReply struct {
	mu   sync.Mutex
	msgs []*jetstream.RawStreamMsg
	err  error
	done chan struct{} // closed at the end of the replies
}

// errNoMessages is the answer to a direct get that found nothing.
var errNoMessages = errors.New("server: no messages")

func startDirectGets(nc *nats.Conn) (*directGets, error) {
	d := &directGets{nc: nc, prefix: nc.NewInbox() + ".", pending: map[string]*directReply{}}
	sub, err := nc.Subscribe(d.prefix+"*", d.route)
	if err != nil {
		return nil, fmt.Errorf("server: subscribe to direct get replies: %w", err)
	}
	d.sub = sub
	return d, nil
}

// route hands a reply to its request.
func (d *directGets) route(m *nats.Msg) {
	d.mu.Lock()
	r := d.pending[m.Subject]
	d.mu.Unlock()
	if r == nil {
		return // its request gave up
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || isClosed(r.done) {
		return
	}
	if len(m.Data) == 0 && m.Header.Get("Status") != "" {
		switch m.Header.Get("Status") {
		case "204": // the end of the batch
		case "404":
			r.err = errNoMessages
		default:
			r.err = fmt.Errorf("server: direct get: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
		}
		close(r.done)
		return
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		r.err = fmt.Errorf("server: direct get: a reply without a sequence: %w", err)
		close(r.done)
		return
	}
	at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	r.msgs = append(r.msgs, &jetstream.RawStreamMsg{
		Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Header: m.Header, Data: m.Data, Time: at,
	})
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// get sends req (a JetStream message get request: multi_last, or batch
// with next_by_subj) to stream and returns the messages of its answer;
// errNoMessages when there are none.
func (d *directGets) get(ctx context.Context, stream string, req any) ([]*jetstream.RawStreamMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r := &directReply{done: make(chan struct{})}
	d.mu.Lock()
	d.next++
	reply := d.prefix + strconv.FormatUint(d.next, 10)
	d.pending[reply] = r
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.pending, reply)
		d.mu.Unlock()
	}()
	if err := d.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, reply, body); err != nil {
		return nil, fmt.Errorf("server: direct get from %s: %w", stream, err)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("server: direct get from %s: %w", stream, ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs, r.err
}

// multiLastRequest asks for the last message of each of a stream's
// subjects that match MultiLastFor; batchRequest for up to Batch messages
// from sequence Seq on whose subjects match NextBySubject.
type (
	multiLastRequest struct {
		MultiLastFor []string `json:"multi_last"`
	}
	batchRequest struct {
		Batch         int    `json:"batch"`
		Seq           uint64 `json:"seq"`
		NextBySubject string `json:"next_by_subj"`
	}
)
