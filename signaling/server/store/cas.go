package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Update's read-modify-write attempts, and its waits between them: a
// random time up to casWait, doubled at each attempt up to casWaitMax (at
// most 0.7 s in all, half that on average).
const (
	MaxTries   = 12
	casWait    = 2 * time.Millisecond
	casWaitMax = 100 * time.Millisecond
)

// ErrContended is Update giving up: others changed the key each time it
// tried.
var ErrContended = errors.New("changed by too many requests at once")

// GetJSON reads key from kv into v; found is false when there is no such
// key.
func GetJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (rev uint64, found bool, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, false, fmt.Errorf("store: %s is damaged: %w", key, err)
	}
	return e.Revision(), true, nil
}

// Update reads key, lets change modify the value (found tells whether it
// existed) and writes it back at the revision read, again on a conflict
// after a short random wait. change returns false to write nothing. When
// the key changed under it MaxTries times, or ctx ended after it had lost a
// race (while it waited to try again, or in the next try), it gives up
// with ErrContended.
func Update[T any](ctx context.Context, kv jetstream.KeyValue, key string,
	change func(v *T, found bool) bool) (T, error) {
	contended := func(err error) bool { return ctx.Err() != nil && errors.Is(err, ctx.Err()) }
	for try := range MaxTries {
		if try > 0 && !pause(ctx, rand.N(min(casWait<<try, casWaitMax))) {
			break
		}
		var v T
		rev, found, err := GetJSON(ctx, kv, key, &v)
		if err != nil {
			if try > 0 && contended(err) {
				break
			}
			return v, err
		}
		if !change(&v, found) {
			return v, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return v, err
		}
		if found {
			_, err = kv.Update(ctx, key, b, rev)
		} else {
			_, err = kv.Create(ctx, key, b)
		}
		if err == nil {
			return v, nil
		}
		if try > 0 && contended(err) {
			break
		}
		if !LostRace(err) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("store: %s: %w", key, ErrContended)
}

// pause waits d, or until ctx ends (false).
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// LostRace reports a write that another beat: a create of a key that
// exists, or an update at a revision that is no longer the last one.
func LostRace(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Write writes b at key in kv at revision rev (0: a key that is not
// there, or was deleted) and returns its new revision. A ttl, when not 0,
// keeps it that long, in whole seconds rounded up: a per-message TTL, which
// the bucket must allow (LimitMarkerTTL) and KeyValue.Update cannot set, so
// such an update is published to the key's subject. Losing a race is an
// error for which LostRace is true.
func (st *Store) Write(ctx context.Context, kv jetstream.KeyValue, key string, b []byte, rev uint64,
	ttl time.Duration) (uint64, error) {
	if ttl != 0 {
		ttl = max(ttl.Truncate(time.Second)+time.Second, time.Second)
	}
	var err error
	switch {
	case rev == 0 && ttl != 0:
		rev, err = kv.Create(ctx, key, b, jetstream.KeyTTL(ttl))
	case rev == 0:
		rev, err = kv.Create(ctx, key, b)
	case ttl == 0:
		rev, err = kv.Update(ctx, key, b, rev)
	default:
		msg := &nats.Msg{Subject: "$KV." + kv.Bucket() + "." + key, Data: b}
		var ack *jetstream.PubAck
		ack, err = st.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rev),
			jetstream.WithMsgTTL(ttl))
		if err == nil {
			rev = ack.Sequence
		}
	}
	if err != nil {
		return 0, fmt.Errorf("store: write %s: %w", key, err)
	}
	return rev, nil
}

// PutLink writes v at key in the links bucket, at revision rev (0: a new
// key), to be kept until end (Write).
func (st *Store) PutLink(ctx context.Context, key string, v any, rev uint64, end time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = st.Write(ctx, st.Links, key, b, rev, max(time.Until(end), time.Nanosecond))
	return err
}

// UpdateLink is Update for the links bucket: each write keeps the value
// until end(value) (PutLink). It tries MaxTries times, without waits.
func UpdateLink[T any](ctx context.Context, st *Store, key string, change func(v *T, found bool) bool,
	end func(T) time.Time) (T, error) {
	for range MaxTries {
		var v T
		rev, found, err := GetJSON(ctx, st.Links, key, &v)
		if err != nil || !change(&v, found) {
			return v, err
		}
		err = st.PutLink(ctx, key, v, rev, end(v))
		if err == nil || !LostRace(err) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("store: %s changed too often to be updated", key)
}
