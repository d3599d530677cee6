package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
var errNoMessages = errors.New("store: no messages")

func startDirectGets(nc *nats.Conn) (*directGets, error) {
	d := &directGets{nc: nc, prefix: nc.NewInbox() + ".", pending: map[string]*directReply{}}
	sub, err := nc.Subscribe(d.prefix+"*", d.route)
	if err != nil {
		return nil, fmt.Errorf("store: subscribe to direct get replies: %w", err)
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
			r.err = fmt.Errorf("store: direct get: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
		}
		close(r.done)
		return
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		r.err = fmt.Errorf("store: direct get: a reply without a sequence: %w", err)
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
		return nil, fmt.Errorf("store: direct get from %s: %w", stream, err)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("store: direct get from %s: %w", stream, ctx.Err())
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

// Latest reads the value of every key of bucket that matches filters, by
// key, in one read that no write interleaves with: a JetStream batch get
// of the last message of each key (at most 1024 keys; a team-wide list
// uses Scan).
//
// A KV watch, and the key listings built on it, cannot be trusted for
// this: while other keys are written, nats.go says that all initial
// values came before they all have (nats-io/nats.py#995 describes the
// same two ways it goes early), and a key is missed. What must not miss a
// session or a device reads it here.
func (st *Store) Latest(ctx context.Context, bucket string,
	filters ...string) (map[string]*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	prefix := "$KV." + bucket + "."
	subjects := make([]string, len(filters))
	for i, f := range filters {
		subjects[i] = prefix + f
	}
	msgs, err := st.direct.get(ctx, "KV_"+bucket, multiLastRequest{MultiLastFor: subjects})
	if err != nil && !errors.Is(err, errNoMessages) {
		return nil, fmt.Errorf("store: read %s %v: %w", bucket, filters, err)
	}
	out := map[string]*jetstream.RawStreamMsg{}
	for _, m := range msgs {
		if live(m) {
			out[strings.TrimPrefix(m.Subject, prefix)] = m
		}
	}
	return out, nil
}

// scanPage is how many messages one direct batch get of Scan reads.
const scanPage = 500

// Scan calls f with the value of every key of bucket that matches one of
// filters (every key when none is given), once each, and returns how many
// messages it read. It reads them with JetStream direct batch gets of the
// matching keys' messages, page after page by sequence: no consumer is
// made (a consumer per request made their number grow with the requests,
// and a stream allows 1,000), and a read costs the keys the filters match
// and no more. The buckets it reads keep one message per key; a key
// written meanwhile is read twice, and the later one wins. Latest
// (GetLastMsgsFor) refuses to read more than 1,024 keys.
func (st *Store) Scan(ctx context.Context, bucket string, filters []string,
	f func(key string, m *jetstream.RawStreamMsg)) (read int, _ error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	prefix := "$KV." + bucket + "."
	last := map[string]*jetstream.RawStreamMsg{}
	for _, filter := range filters {
		n, err := st.readStream(ctx, "KV_"+bucket, prefix+filter, 0, func(m *jetstream.RawStreamMsg) {
			last[m.Subject] = m
		})
		read += n
		if err != nil {
			return read, fmt.Errorf("store: read %s %s: %w", bucket, filter, err)
		}
	}
	for subject, m := range last {
		if live(m) {
			f(strings.TrimPrefix(subject, prefix), m)
		}
	}
	return read, nil
}

// readStream calls f with each message of stream after sequence after
// whose subject matches filter, in order, and returns how many it read: a
// direct batch get a page (scanPage), page after page by sequence (Scan,
// Texts.Read).
func (st *Store) readStream(ctx context.Context, stream, filter string, after uint64,
	f func(*jetstream.RawStreamMsg)) (int, error) {
	read := 0
	for seq := after + 1; seq > 0; {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msgs, err := st.direct.get(pctx, stream, batchRequest{Batch: scanPage, Seq: seq, NextBySubject: filter})
		cancel()
		if err != nil && !errors.Is(err, errNoMessages) {
			return read, err
		}
		for _, m := range msgs {
			f(m)
		}
		read += len(msgs)
		if seq = 0; len(msgs) == scanPage {
			seq = msgs[len(msgs)-1].Sequence + 1
		}
	}
	return read, nil
}

// live reports whether a bucket's message is a value: not a delete, a
// purge, or the marker of an expiry.
func live(m *jetstream.RawStreamMsg) bool {
	return m.Header.Get("KV-Operation") == "" && m.Header.Get(jetstream.MarkerReasonHeader) == ""
}
