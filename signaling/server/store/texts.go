package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Text messages: a JetStream stream rather than a bucket, because a text is
// never changed and their order matters: the stream's sequence is the
// order, the same on every node, and what a device's delivery mark counts.
const (
	StreamTexts = "PARLEY_TEXTS"
	// subjectTexts + Token(UserKey of the recipient) + "." + Token(UserKey
	// of the sender): one token each (UserKey may have two), so that a
	// person's texts, to or from them, are two wildcard filters.
	subjectTexts = "parley.text."
	// BucketTextDelivered: file, TTL the texts' retention: user.device →
	// TextMark, the last text the device had.
	BucketTextDelivered = "parley_text_delivered"
	// BucketTextRead: file, TTL the texts' retention: user → TextRead,
	// how far the user read each sender's texts.
	BucketTextRead = "parley_text_read"
)

// TextSubject is the subject of a text to the user with key to from the
// user with key from.
func TextSubject(to, from string) string { return subjectTexts + Token(to) + "." + Token(from) }

// TextsTo matches the texts to the user with key.
func TextsTo(key string) string { return subjectTexts + Token(key) + ".*" }

// TextsFrom matches the texts from the user with key.
func TextsFrom(key string) string { return subjectTexts + "*." + Token(key) }

// TextRead is the value of a key in the text read bucket: the sequence of
// the last text read, by sender's user id.
type TextRead struct {
	Read map[string]uint64 `json:"read"`
}

// TextMark is the value of a key in the text delivered bucket.
type TextMark struct {
	Seq uint64 `json:"seq"`
}

// Texts is the texts' stream and buckets.
type Texts struct {
	Delivered, ReadMarks jetstream.KeyValue

	st     *Store
	stream jetstream.Stream
}

// OpenTexts makes sure the texts' stream and buckets exist, texts kept for
// retention. Nodes that share a NATS must use the same retention.
func (st *Store) OpenTexts(ctx context.Context, retention time.Duration) (*Texts, error) {
	t := &Texts{st: st}
	cfg := jetstream.StreamConfig{
		Name: StreamTexts, Description: "parley text messages: parley.text.TO.FROM",
		Subjects: []string{subjectTexts + "*.*"}, Storage: jetstream.FileStorage, MaxAge: retention,
		AllowDirect: true, Discard: jetstream.DiscardOld,
	}
	if s, err := st.js.Stream(ctx, StreamTexts); err == nil {
		cfg.Replicas, cfg.Placement = s.CachedInfo().Config.Replicas, s.CachedInfo().Config.Placement
	}
	var err error
	t.stream, err = Racing(ctx, func() (jetstream.Stream, error) { return st.js.CreateOrUpdateStream(ctx, cfg) })
	if err != nil {
		return nil, fmt.Errorf("store: stream %s: %w", StreamTexts, err)
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
		what string
	}{
		{&t.Delivered, BucketTextDelivered, "parley texts delivered, per device: user.device"},
		{&t.ReadMarks, BucketTextRead, "parley texts read, per person"},
	} {
		*b.kv, err = st.bucket(ctx, jetstream.KeyValueConfig{Bucket: b.name, Description: b.what,
			Storage: jetstream.FileStorage, TTL: retention}) // no older text is left to mark
		if err != nil {
			return nil, fmt.Errorf("store: bucket %s: %w", b.name, err)
		}
	}
	return t, nil
}

// Add keeps a text (its JSON) and returns its sequence.
func (t *Texts) Add(ctx context.Context, to, from string, data []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, t.st.timeout)
	defer cancel()
	ack, err := t.st.js.Publish(ctx, TextSubject(to, from), data)
	if err != nil {
		return 0, fmt.Errorf("store: keep a text: %w", err)
	}
	return ack.Sequence, nil
}

// Last is the sequence of the last text kept (0: none yet).
func (t *Texts) Last(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, t.st.timeout)
	defer cancel()
	info, err := t.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: read %s: %w", StreamTexts, err)
	}
	return info.State.LastSeq, nil
}

// Read calls f with each text after sequence after whose subject matches
// filter, in order, and returns how many it read. As Scan, it reads with
// direct batch gets, page after page: no consumer.
func (t *Texts) Read(ctx context.Context, filter string, after uint64, f func(*jetstream.RawStreamMsg)) (int, error) {
	read, err := t.st.readStream(ctx, StreamTexts, filter, after, f)
	if err != nil {
		return read, fmt.Errorf("store: read %s %s: %w", StreamTexts, filter, err)
	}
	return read, nil
}
