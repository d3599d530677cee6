package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS subjects. Every id in a subject or a key goes through token, so that
// ids with dots or other characters NATS gives a meaning cannot spill into
// other subjects.
const (
	// subjectUser carries, as wire-form signaling messages, everything for
	// a user's connections. A message with the header hdrSession is for that
	// one session only; the others drop it.
	subjectUser = "parley.user."
	// subjectCall is the request subject of a call's owner: call actions as
	// signaling messages (with user and session set by the server), replied
	// to with an actionReply.
	subjectCall = "parley.call."

	hdrSession = "Parley-Session"

	// hdrControl marks a message on a user's subject that is for the
	// server's connections, not for the client: ctlRevoke (with hdrDevice
	// naming the device, or none for every connection of the user),
	// ctlStatus (the body is the statusRecord set by hand), ctlContacts
	// (the body is a user id added to the contacts).
	hdrControl  = "Parley-Control"
	hdrDevice   = "Parley-Device"
	ctlRevoke   = "revoke"
	ctlStatus   = "status"
	ctlContacts = "contacts"
)

// JetStream key-value buckets.
// Keys are userKey(team, user) ("user" is that key below); see people.go.
const (
	bucketUsers    = "parley_users"    // file: user → userRecord; a user is known when present
	bucketPresence = "parley_presence" // memory, TTL 2.5 heartbeats: user.session → presenceRecord
	bucketBusy     = "parley_busy"     // memory, TTL 2.5 heartbeats: user → call id, while in a call
	bucketCalls    = "parley_calls"    // file, TTL CallHistory: team.call id → callRecord (records.go)
	bucketTeams    = "parley_teams"    // file: team.NAME → teamRecord, key.HASH → NAME
	bucketDevices  = "parley_devices"  // file: user.device → deviceRecord
	bucketInvites  = "parley_invites"  // file, TTL MaxInviteTTL: SHA-256 of the code → inviteRecord
	bucketContacts = "parley_contacts" // file: user → contactsRecord
	bucketStatus   = "parley_status"   // file: user → statusRecord (away or dnd, set by hand)
	bucketSeen     = "parley_seen"     // file: user → seenRecord (last seen online)
	bucketLinks    = "parley_links"    // file, a TTL per key: SHA-256 of the code → linkRecord; host.user → hostLinks
)

// token encodes an id for use as one NATS subject token or KV key token:
// letters, digits, '-' and '_' stay, every other byte becomes "=XX" (hex).
// "alice@example.com" becomes "alice=40example=2Ecom". Distinct ids give
// distinct tokens.
func token(id string) string {
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

// userSubject is the subject of a user, by userKey.
func userSubject(key string) string { return subjectUser + key }
func callSubject(id string) string  { return subjectCall + token(id) }

// presenceKey is the presence key of one session of the user with userKey
// key; presenceFilter matches every session of that user.
func presenceKey(key, session string) string { return key + "." + token(session) }
func presenceFilter(key string) string       { return key + ".*" }

// bus is the server's connection to NATS and its buckets.
type bus struct {
	ns       *natsserver.Server // nil when NATSURL is used
	nc       *nats.Conn
	js       jetstream.JetStream
	users    jetstream.KeyValue
	presence jetstream.KeyValue
	busy     jetstream.KeyValue
	calls    jetstream.KeyValue
	teams    jetstream.KeyValue
	devices  jetstream.KeyValue
	invites  jetstream.KeyValue
	contacts jetstream.KeyValue
	status   jetstream.KeyValue
	seen     jetstream.KeyValue
	links    jetstream.KeyValue
	hooks    *hooks        // webhooks: their bucket, stream and this node's share of the work
	direct   *directGets   // batch reads of the buckets
	closed   chan struct{} // closed when nc is closed
}

// startBus starts the embedded NATS (or connects to cfg.NATSURL) and makes
// sure the buckets exist. On error everything started is stopped again.
func startBus(ctx context.Context, cfg Config, log *slog.Logger) (_ *bus, err error) {
	b := &bus{closed: make(chan struct{})}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	opts := []nats.Option{
		nats.Name("parley-server " + cfg.NodeName),
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats", "subject", subject, "err", err)
		}),
	}
	if cfg.NATSURL != "" {
		b.nc, err = nats.Connect(cfg.NATSURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("server: connect to NATS at %s: %w", cfg.NATSURL, err)
		}
		if v := b.nc.ConnectedServerVersion(); !natsAtLeast(v, 2, 11) {
			return nil, fmt.Errorf("server: the NATS server at %s is version %s: parley needs nats-server 2.11 or later, with JetStream (watches on several subjects, limit markers)",
				b.nc.ConnectedUrlRedacted(), v)
		}
	} else {
		if b.ns, err = startEmbedded(cfg, log); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", append(opts, nats.InProcessServer(b.ns))...)
		if err != nil {
			return nil, fmt.Errorf("server: connect to embedded NATS: %w", err)
		}
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		return nil, fmt.Errorf("server: jetstream: %w", err)
	}
	if b.direct, err = startDirectGets(b.nc); err != nil {
		return nil, err
	}
	ttl := cfg.expiry()
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&b.users, jetstream.KeyValueConfig{
			Bucket: bucketUsers, Description: "parley users that were issued a token",
			Storage: jetstream.FileStorage,
		}},
		{&b.presence, jetstream.KeyValueConfig{
			Bucket: bucketPresence, Description: "parley sessions online: user.session",
			Storage: jetstream.MemoryStorage, TTL: ttl,
			// Markers make expiries visible to watchers.
			LimitMarkerTTL: max(ttl, time.Second),
		}},
		{&b.busy, jetstream.KeyValueConfig{
			Bucket: bucketBusy, Description: "parley users in a call: user → call id",
			Storage: jetstream.MemoryStorage, TTL: ttl,
		}},
		{&b.calls, jetstream.KeyValueConfig{
			Bucket: bucketCalls, Description: "parley call records",
			Storage: jetstream.FileStorage, TTL: cfg.CallHistory,
		}},
		{&b.teams, jetstream.KeyValueConfig{
			Bucket: bucketTeams, Description: "parley teams and the hashes of their API keys",
			Storage: jetstream.FileStorage,
		}},
		{&b.devices, jetstream.KeyValueConfig{
			Bucket: bucketDevices, Description: "parley signed-in devices: user.device",
			Storage: jetstream.FileStorage,
		}},
		{&b.invites, jetstream.KeyValueConfig{
			Bucket: bucketInvites, Description: "parley invites not yet used, by the hash of the code",
			Storage: jetstream.FileStorage, TTL: MaxInviteTTL,
		}},
		{&b.contacts, jetstream.KeyValueConfig{
			Bucket: bucketContacts, Description: "parley contacts of each user",
			Storage: jetstream.FileStorage,
		}},
		{&b.status, jetstream.KeyValueConfig{
			Bucket: bucketStatus, Description: "parley states set by hand: away, dnd",
			Storage: jetstream.FileStorage,
		}},
		{&b.seen, jetstream.KeyValueConfig{
			Bucket: bucketSeen, Description: "parley last seen online",
			Storage: jetstream.FileStorage,
		}},
		{&b.links, jetstream.KeyValueConfig{
			Bucket: bucketLinks, Description: "parley guest links, by the hash of the code",
			Storage: jetstream.FileStorage, TTL: MaxLinkTTL + cfg.linkMargin, // each key has its own, shorter (links.go)
			LimitMarkerTTL: time.Minute, // allows per-key TTLs
		}},
	}
	for _, bk := range buckets {
		kv, err := b.bucket(ctx, bk.cfg)
		if err != nil {
			return nil, fmt.Errorf("server: bucket %s: %w", bk.cfg.Bucket, err)
		}
		*bk.kv = kv
	}
	if b.hooks, err = startHooks(ctx, b.js, b.direct, cfg, log); err != nil {
		return nil, err
	}
	return b, nil
}

// bucket creates the bucket or updates its settings. It is safe for several
// nodes starting together: a node that loses the race to create the bucket
// updates it instead. An existing bucket keeps its replicas and placement,
// which an operator may have changed (nats stream edit KV_NAME --replicas 3).
func (b *bus) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if st, err := b.js.Stream(ctx, "KV_"+cfg.Bucket); err == nil {
		cfg.Replicas, cfg.Placement = st.CachedInfo().Config.Replicas, st.CachedInfo().Config.Placement
	}
	return racing(ctx, func() (jetstream.KeyValue, error) { return b.js.CreateOrUpdateKeyValue(ctx, cfg) })
}

// racing runs a create-or-update of a JetStream object again when another
// node created the object between its look-up and its create.
func racing[T any](ctx context.Context, create func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := create()
		var apiErr *jetstream.APIError
		if try >= 5 || !errors.As(err, &apiErr) {
			return v, err
		}
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNameInUse, jetstream.JSErrCodeConsumerExists, jetstream.JSErrCodeConsumerNameExists, errCodeSubjectsOverlap:
		default:
			return v, err
		}
		select {
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		case <-ctx.Done():
			return v, fmt.Errorf("server: %w", ctx.Err())
		}
	}
}

// natsAtLeast reports whether the NATS server version v ("2.11.3") is at
// least major.minor.
func natsAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// errCodeSubjectsOverlap is JetStream's "subjects overlap with an existing
// stream", which nats.go has no name for.
const errCodeSubjectsOverlap jetstream.ErrorCode = 10065

// startEmbedded starts the embedded NATS server with JetStream stored under
// cfg.DataDir/jetstream, with its own logging and signal handling off.
func startEmbedded(cfg Config, log *slog.Logger) (*natsserver.Server, error) {
	opts := &natsserver.Options{
		ServerName: cfg.NodeName,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		NoLog:      true,
		NoSigs:     true,
		DontListen: cfg.NATSListen == "",
	}
	if cfg.NATSListen != "" {
		host, port, err := net.SplitHostPort(cfg.NATSListen)
		if err != nil {
			return nil, fmt.Errorf("server: NATSListen: %w", err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("server: NATSListen port: %w", err)
		}
		if opts.Port == 0 {
			opts.Port = natsserver.RANDOM_PORT
		}
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("server: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("server: embedded NATS not ready after 10s")
	}
	return ns, nil
}

// close drains the NATS connection and stops the embedded server.
func (b *bus) close() {
	if b == nil {
		return
	}
	b.hooks.close()
	if b.nc != nil {
		// Drain delivers what is in flight, bounded by the connection's
		// drain timeout (30s); Close when it cannot start.
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		<-b.closed
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

// natsLogger sends the embedded NATS server's logs to slog.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
