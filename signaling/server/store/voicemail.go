package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Voice messages are kept in two places: their recordings in an object
// store (a recording is up to a megabyte, more than a key-value entry
// should hold), and a record of each in a key-value bucket whose keys put
// the messages of one recipient together, so that a recipient's list and
// their quota's use are read with one Scan of their keys (an object
// store cannot list by prefix: its names are base64 in its subjects).
// Both keep what they hold for the server's retention period.
const (
	// BucketVoiceMessages: file, TTL the retention: VoiceKey(team,
	// recipient, id) → VoiceMessage.
	BucketVoiceMessages = "parley_voice_messages"
	// ObjectsVoiceAudio: object store, file, TTL the retention:
	// VoiceKey(...) → the Ogg Opus recording.
	ObjectsVoiceAudio = "parley_voice_audio"
)

// VoiceMessage is the record of a voice message.
type VoiceMessage struct {
	ID         string    `json:"id"`
	Team       string    `json:"team"`
	From       string    `json:"from"`
	FromName   string    `json:"from_name,omitempty"`
	To         string    `json:"to"`
	Created    time.Time `json:"created"`
	DurationMS int64     `json:"duration_ms"`
	Bytes      int64     `json:"bytes"`
	Heard      bool      `json:"heard,omitempty"`
}

// VoiceKey is a voice message's key in BucketVoiceMessages and its name in
// ObjectsVoiceAudio: the recipient's UserKey, then the message's id.
func VoiceKey(team, user, id string) string { return UserKey(team, user) + "." + Token(id) }

// VoiceFilter matches every VoiceKey of a recipient. Other teams' keys
// have one more token, so they never match.
func VoiceFilter(team, user string) string { return UserKey(team, user) + ".*" }

// Voice is the voice messages' bucket and object store.
type Voice struct {
	Messages jetstream.KeyValue
	Audio    jetstream.ObjectStore
	st       *Store
}

// OpenVoice makes sure the voice messages' bucket and object store exist,
// keeping what they hold for retention. Nodes that share a NATS must use
// the same retention.
func (st *Store) OpenVoice(ctx context.Context, retention time.Duration) (*Voice, error) {
	v := &Voice{st: st}
	var err error
	v.Messages, err = st.bucket(ctx, jetstream.KeyValueConfig{
		Bucket: BucketVoiceMessages, Description: "parley voice messages: user.id → record",
		Storage: jetstream.FileStorage, TTL: retention,
	})
	if err != nil {
		return nil, fmt.Errorf("store: bucket %s: %w", BucketVoiceMessages, err)
	}
	cfg := jetstream.ObjectStoreConfig{
		Bucket: ObjectsVoiceAudio, Description: "parley voice messages' recordings (Ogg Opus): user.id",
		Storage: jetstream.FileStorage, TTL: retention,
	}
	// As bucket does: an operator's replicas and placement are kept.
	if s, err := st.js.Stream(ctx, "OBJ_"+ObjectsVoiceAudio); err == nil {
		cfg.Replicas, cfg.Placement = s.CachedInfo().Config.Replicas, s.CachedInfo().Config.Placement
	}
	v.Audio, err = Racing(ctx, func() (jetstream.ObjectStore, error) {
		return st.js.CreateOrUpdateObjectStore(ctx, cfg)
	})
	if err != nil {
		return nil, fmt.Errorf("store: object store %s: %w", ObjectsVoiceAudio, err)
	}
	return v, nil
}

// List reads the records of a recipient's voice messages, in no order.
func (v *Voice) List(ctx context.Context, team, user string) ([]VoiceMessage, error) {
	var out []VoiceMessage
	var bad error
	_, err := v.st.Scan(ctx, BucketVoiceMessages, []string{VoiceFilter(team, user)},
		func(key string, m *jetstream.RawStreamMsg) {
			var rec VoiceMessage
			if err := json.Unmarshal(m.Data, &rec); err != nil {
				bad = fmt.Errorf("store: %s is damaged: %w", key, err)
				return
			}
			out = append(out, rec)
		})
	if err == nil {
		err = bad
	}
	return out, err
}
