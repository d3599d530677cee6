// Package store is where the signaling server keeps what it knows: the
// JetStream key-value buckets (their names and settings), the records
// kept in them, and the ways they are read and written: a value as JSON
// (GetJSON), a change by compare and set with retries (Update), the last
// value of many keys at once (Latest) and every key of a bucket (Scan),
// both by JetStream direct gets.
//
// Every id in a key goes through Token, so that ids with dots or other
// characters NATS gives a meaning cannot spill into other keys. A user's
// key in every bucket (and in the server's subjects) is UserKey(team,
// user). docs/SERVER.md tells what each bucket holds and why.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling/server/token"
)

// JetStream key-value buckets. Keys are UserKey(team, user) ("user"
// below) unless they say otherwise.
const (
	BucketUsers    = "parley_users"    // file: user → User; a user is known when present
	BucketPresence = "parley_presence" // memory, TTL Options.Expiry: user.session → the server's presence record
	BucketBusy     = "parley_busy"     // memory, TTL Options.Expiry: user → call id, while in a call; WaitingKey too
	BucketCalls    = "parley_calls"    // file, TTL Options.CallHistory: team.call id → the server's call record
	BucketTeams    = "parley_teams"    // file: team.NAME → Team, key.HASH → NAME
	BucketDevices  = "parley_devices"  // file: user.device → Device
	BucketInvites  = "parley_invites"  // file, TTL Options.InviteTTL: SHA-256 of the code → Invite
	BucketContacts = "parley_contacts" // file: user → Contacts
	BucketStatus   = "parley_status"   // file: user → Status (away or dnd, set by hand)
	BucketSeen     = "parley_seen"     // file: user → Seen (last seen online)
	BucketLinks    = "parley_links"    // file, a TTL per key: SHA-256 of the code → link; host.user → links
	BucketWebhooks = "parley_webhooks" // file: token(team).token(id) → Webhook
	BucketRooms    = "parley_rooms"    // file, a TTL per key after the end: RoomKey(team, name) → the room record
	// BucketRoomRecords: file, TTL Options.CallHistory: RoomKey(team, room's id) → what happened in it.
	BucketRoomRecords = "parley_room_records"
	// BucketHistorySeen: file: user → HistorySeen, how far the user has
	// seen their call history (every device reads it).
	BucketHistorySeen = "parley_history_seen"
)

// Token encodes an id for use as one NATS subject token or KV key token:
// letters, digits, '-' and '_' stay, every other byte becomes "=XX" (hex).
// "alice@example.com" becomes "alice=40example=2Ecom". Distinct ids give
// distinct tokens.
func Token(id string) string {
	var b strings.Builder
	b.Grow(len(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// UserKey is a user's key in every bucket and subject: Token(user) in the
// default team (so the keys of users made before teams existed do not
// change), Token(team)+"."+Token(user) in other teams. NATS wildcards
// match whole tokens, so the two forms never collide.
func UserKey(team, user string) string {
	if team == "" || team == token.DefaultTeam {
		return Token(user)
	}
	return Token(team) + "." + Token(user)
}

// WaitingKey is the key of a user's second busy mark, in the busy bucket:
// the mark of a call that rang at them as a waiting call while they were
// in another. "=w" is no Token ('=' is followed by hex there), so the key
// is no user's, and TeamFilter, one token per user, does not match it.
func WaitingKey(userKey string) string { return userKey + ".=w" }

// TeamFilter matches every UserKey of team (one key token per user).
func TeamFilter(team string) string {
	if team == "" || team == token.DefaultTeam {
		return "*"
	}
	return Token(team) + ".*"
}

// RoomKey is a room's key in the rooms bucket: Token(team)+"."+Token(name)
// (the default team's too: a room's name is not a user's).
func RoomKey(team, name string) string {
	if team == "" {
		team = token.DefaultTeam
	}
	return Token(team) + "." + Token(name)
}

// RoomFilter matches every RoomKey of team.
func RoomFilter(team string) string { return RoomKey(team, "") + "*" }

// Options are the settings of the buckets that depend on the server's
// configuration. Nodes that share a NATS must use the same.
type Options struct {
	Expiry      time.Duration // how long a presence record or busy mark lasts after its last write
	CallHistory time.Duration // how long a call record is kept
	InviteTTL   time.Duration // the longest an invite is kept
	LinkTTL     time.Duration // the longest a guest link's record is kept (each key has its own TTL, shorter)
	Timeout     time.Duration // bounds Latest and LastRevision
}

// Store is the server's buckets on one NATS connection. Its KeyValues are
// used directly for single keys; its methods read many keys at once. Safe
// for concurrent use; it stops with the NATS connection.
type Store struct {
	Users, Presence, Busy, Calls, Teams, Devices, Invites jetstream.KeyValue
	Contacts, Status, Seen, Links, Webhooks, Rooms        jetstream.KeyValue
	RoomRecords, HistorySeen                              jetstream.KeyValue

	nc      *nats.Conn
	js      jetstream.JetStream
	direct  *directGets
	timeout time.Duration
}

// Open makes sure every bucket exists with the settings of o, and returns
// the store. It is safe for several nodes starting together.
func Open(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, o Options) (*Store, error) {
	st := &Store{nc: nc, js: js, timeout: o.Timeout}
	var err error
	if st.direct, err = startDirectGets(nc); err != nil {
		return nil, err
	}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&st.Users, jetstream.KeyValueConfig{
			Bucket: BucketUsers, Description: "parley users that were issued a token",
			Storage: jetstream.FileStorage,
		}},
		{&st.Presence, jetstream.KeyValueConfig{
			Bucket: BucketPresence, Description: "parley sessions online: user.session",
			Storage: jetstream.MemoryStorage, TTL: o.Expiry,
			// Markers make expiries visible to watchers.
			LimitMarkerTTL: max(o.Expiry, time.Second),
		}},
		{&st.Busy, jetstream.KeyValueConfig{
			Bucket: BucketBusy, Description: "parley users in a call: user → call id",
			Storage: jetstream.MemoryStorage, TTL: o.Expiry,
		}},
		{&st.Calls, jetstream.KeyValueConfig{
			Bucket: BucketCalls, Description: "parley call records",
			Storage: jetstream.FileStorage, TTL: o.CallHistory,
		}},
		{&st.Teams, jetstream.KeyValueConfig{
			Bucket: BucketTeams, Description: "parley teams and the hashes of their API keys",
			Storage: jetstream.FileStorage,
		}},
		{&st.Devices, jetstream.KeyValueConfig{
			Bucket: BucketDevices, Description: "parley signed-in devices: user.device",
			Storage: jetstream.FileStorage,
		}},
		{&st.Invites, jetstream.KeyValueConfig{
			Bucket: BucketInvites, Description: "parley invites not yet used, by the hash of the code",
			Storage: jetstream.FileStorage, TTL: o.InviteTTL,
		}},
		{&st.Contacts, jetstream.KeyValueConfig{
			Bucket: BucketContacts, Description: "parley contacts of each user",
			Storage: jetstream.FileStorage,
		}},
		{&st.Status, jetstream.KeyValueConfig{
			Bucket: BucketStatus, Description: "parley states set by hand: away, dnd",
			Storage: jetstream.FileStorage,
		}},
		{&st.Seen, jetstream.KeyValueConfig{
			Bucket: BucketSeen, Description: "parley last seen online",
			Storage: jetstream.FileStorage,
		}},
		{&st.Links, jetstream.KeyValueConfig{
			Bucket: BucketLinks, Description: "parley guest links, by the hash of the code",
			Storage: jetstream.FileStorage, TTL: o.LinkTTL, // each key has its own, shorter (PutLink)
			LimitMarkerTTL: time.Minute, // allows per-key TTLs
		}},
		{&st.Webhooks, jetstream.KeyValueConfig{
			Bucket: BucketWebhooks, Description: "parley webhooks of each team",
			Storage: jetstream.FileStorage,
		}},
		{&st.Rooms, jetstream.KeyValueConfig{
			Bucket: BucketRooms, Description: "parley rooms: token(team).token(name)",
			Storage:        jetstream.FileStorage,
			LimitMarkerTTL: time.Minute, // allows per-key TTLs: a room goes a while after its end
		}},
		{&st.RoomRecords, jetstream.KeyValueConfig{
			Bucket: BucketRoomRecords, Description: "parley room records: token(team).token(room id)",
			Storage: jetstream.FileStorage, TTL: o.CallHistory,
		}},
		{&st.HistorySeen, jetstream.KeyValueConfig{
			Bucket: BucketHistorySeen, Description: "parley call history seen up to, per user",
			Storage: jetstream.FileStorage, TTL: o.CallHistory, // no older call is left to see
		}},
	}
	for _, bk := range buckets {
		kv, err := st.bucket(ctx, bk.cfg)
		if err != nil {
			return nil, fmt.Errorf("store: bucket %s: %w", bk.cfg.Bucket, err)
		}
		*bk.kv = kv
	}
	return st, nil
}

// bucket creates the bucket or updates its settings. A node that loses the
// race to create the bucket updates it instead. An existing bucket keeps
// its replicas and placement, which an operator may have changed (nats
// stream edit KV_NAME --replicas 3).
func (st *Store) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if s, err := st.js.Stream(ctx, "KV_"+cfg.Bucket); err == nil {
		cfg.Replicas, cfg.Placement = s.CachedInfo().Config.Replicas, s.CachedInfo().Config.Placement
	}
	return Racing(ctx, func() (jetstream.KeyValue, error) { return st.js.CreateOrUpdateKeyValue(ctx, cfg) })
}

// Racing runs a create-or-update of a JetStream object (a bucket, a
// stream, a consumer) again when another node created the object between
// its look-up and its create.
func Racing[T any](ctx context.Context, create func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := create()
		var apiErr *jetstream.APIError
		if try >= 5 || !errors.As(err, &apiErr) {
			return v, err
		}
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNameInUse, jetstream.JSErrCodeConsumerExists,
			jetstream.JSErrCodeConsumerNameExists, errCodeSubjectsOverlap:
		default:
			return v, err
		}
		select {
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		case <-ctx.Done():
			return v, fmt.Errorf("store: %w", ctx.Err())
		}
	}
}

// errCodeSubjectsOverlap is JetStream's "subjects overlap with an existing
// stream", which nats.go has no name for.
const errCodeSubjectsOverlap jetstream.ErrorCode = 10065

// LastRevision is the revision of the last change in bucket that is still
// there; 0 when it has none.
func (st *Store) LastRevision(ctx context.Context, bucket string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	// A direct get of the last message is served by the stream itself,
	// not by JetStream's API: cheap enough for every watch.
	m, err := st.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_"+bucket, []byte(`{"last_by_subj":">"}`))
	if err == nil {
		if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil {
			return seq, nil
		}
	}
	// Empty, or its last message expired: the stream says.
	s, err := st.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return 0, fmt.Errorf("store: read %s: %w", bucket, err)
	}
	return s.CachedInfo().State.LastSeq, nil
}
