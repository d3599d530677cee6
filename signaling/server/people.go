package server

// People, not tokens: accounts, devices, invites, contacts, rich presence,
// teams, roles, TLS and limits (issue 4).
//
// # Teams and who is who
//
// One server hosts several teams. A team has a name (an id: letters,
// digits, . _ - @ +) and its own API key; the server's API key (api_key in
// DataDir, or PARLEY_API_KEY) is the key of the team "default", which holds
// every user made before teams existed, and it alone may create teams. A
// team's key is shown once when the team is made; the server keeps only its
// SHA-256 (bucket parley_teams: "team.NAME" → teamRecord, "key.HASH" →
// NAME).
//
// A user is (team, user id). Everything the server keeps or routes for a
// user is keyed by userKey(team, user): token(user) in the default team (so
// the keys of existing users do not change) and token(team)+"."+token(user)
// in other teams. NATS wildcards match whole tokens, so the two forms never
// collide: "alice.*" (alice's sessions in the default team) does not match
// "t1.alice.s1" (alice of team t1), and a default user's id cannot contain
// the dot of a team key because token() escapes dots. The wire keeps plain
// user ids ("from":"alice"); the team comes from the token (claim "team",
// absent for the default team) and is never taken from what a client says.
// So a user of another team is simply not there: dialing, watching, looking
// up or adding them as a contact goes through exactly the code path, the
// code (80102) and the message of a user who does not exist.
//
// # Accounts, devices, invites
//
// Bucket parley_users (file) keeps userRecord: display name, role, team,
// created, last token, and RevokedAt. parley_devices (file) keeps one
// deviceRecord per signed-in device under userKey+"."+token(device id),
// with the SHA-256 of its secret. parley_invites (file, entries expire after
// MaxInviteTTL) keeps inviteRecord under the SHA-256 of the code.
//
//   - `parley invite USER` (API key) makes a single-use code of twelve
//     letters and digits (60 bits) valid for Config.InviteTTL, and a link
//     BASE/invite/CODE (BASE: Config.PublicURL, else the listener's URL
//     when it is one address, else none: the CLI then builds the link on
//     the server address it used; see publicLink). GET /invite/CODE shows
//     a browser how to use it; it neither checks nor spends the code.
//   - POST /v1/auth/login {invite, device} spends the code (deleted at its
//     last revision, so two logins cannot both use it), creates or updates
//     the user, and creates a device with a random 256-bit secret. The
//     credential is "pd1.<base64url(team \n user)>.<device>.<secret>"; the
//     client keeps it in its config file (0600).
//   - POST /v1/auth/token with Authorization: Device CRED returns an access
//     token (JWT, Config.AccessTokenTTL, default 15 min) with claims team
//     and did (the device). Clients renew before expiry: a new WebSocket
//     uses the new token, and a live one gets {"type":"refresh","token"}
//     (answered "refreshed"). The server holds every connection to its
//     token's expiry: one that was not refreshed in time is closed with
//     80401. Tokens from the Gitple endpoint work as before, and end the
//     same way when they expire.
//   - Revocation: `admin revoke DEVICE` marks the device revoked; `admin
//     revoke USER` revokes every device of the user and sets RevokedAt, so
//     that any token issued up to that second is refused. Either publishes
//     a control message (header Parley-Control: revoke) on the user's
//     subject; every connection of that device (or user), on every node,
//     sends 80401 and closes at once. Connecting, refreshing and renewing
//     check the device and RevokedAt, so a revoked device cannot come back.
//     `parley logout` revokes its own device the same way.
//
// # Presence
//
// A session's presence record (memory bucket parley_presence, kept alive by
// its heartbeat) carries its idle flag (the UI's automatic away) and the
// user's manual state. The manual state (away or dnd, set by hand) lives in
// parley_status (file) so that it outlasts sessions and restarts; setting
// it publishes Parley-Control: status on the user's subject and every
// session rewrites its record at once. In a call is the busy mark
// (parley_busy). A watcher follows both buckets for the users it watches
// and computes the state (see signaling.State for the precedence); offline
// comes with the last time the user was seen, from the last record of the
// session that went away, or from parley_seen (file), written at connect,
// every minute and at disconnect. KV watches push, so a change reaches the
// watchers in milliseconds.
//
// Each connection watches its owner's server-side contacts from the start
// (the client may watch more), so a change reaches everyone who has that
// person as a contact. Contacts live in parley_contacts (file): userKey →
// list of user ids of the same team; adding one publishes
// Parley-Control: contacts so the owner's sessions start watching it.
//
// A call to someone in dnd is refused at once with 80202
// already_busy_call: "busy" is what telephony answers for a callee who
// cannot take the call now (SIP 486 Busy Here is what PBXs send for DND);
// clients already treat it as "try later" (with the busy tone), while 80404
// would claim the person is offline and 80101 would blame the request. The
// message says they do not want to be disturbed.
//
// # Roles
//
// Tokens carry admin, member or guest. A guest can call and be called only
// by people who have them as a contact, may only watch or add those people,
// and cannot list the directory (80101). To a guest, anyone else looks like
// a user who does not exist (80102). A bearer token with the admin role may
// use the admin endpoints of its own team, like the team's API key.
//
// # Limits and refusals
//
// Every message and field has a limit (signaling.DecodeClient; names
// signaling.MaxNameLength, contacts MaxContacts). The endpoints that take a
// secret (the token and admin endpoints' API key, login's invite, a guest
// link's code, the device credential, the tokens) are limited per client
// address (limiter, Limits; Config.TrustedProxies): a steady rate of
// requests, then, after a few failed guesses of one target, each refusal is
// slowed, and after more the guesses are refused for a while: HTTP 429 with
// Retry-After and 80101 saying when to try again. Secrets that succeeded
// from the address and signed tokens pass. Every refusal is logged
// (logRefusal) and answered with the error table.
//
// # TLS
//
// With Config.TLSCertFile and TLSKeyFile the server speaks HTTPS and WSS
// only (TLS 1.2 or later). Clients verify the certificate against the
// system's CAs plus --ca FILE; `parley login` refuses a plain-HTTP server
// that is not on a loopback address unless told --insecure.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
)

// DefaultTeam is the team of the server's own API key, and of every user
// made before teams existed.
const DefaultTeam = "default"

// Limits of the people store.
const (
	MaxContacts  = signaling.MaxWatch // contacts per user
	MaxSessions  = 10                 // sessions connected at once per user, on all nodes
	MaxInviteTTL = 30 * 24 * time.Hour
	// update's read-modify-write attempts, and its waits between them: a
	// random time up to casWait, doubled at each attempt up to casWaitMax
	// (at most 0.7 s in all, half that on average).
	maxCASRetries = 12
	casWait       = 2 * time.Millisecond
	casWaitMax    = 100 * time.Millisecond
	// lastTokenEvery: a token rewrites its user's record for LastToken
	// only when it is this old, unless the role or name changed.
	lastTokenEvery = time.Hour
)

// userKey is a user's key in every bucket and subject (see the design).
func userKey(team, user string) string {
	if team == "" || team == DefaultTeam {
		return token(user)
	}
	return token(team) + "." + token(user)
}

// teamFilter matches every userKey of team (one KV key token per user).
func teamFilter(team string) string {
	if team == "" || team == DefaultTeam {
		return "*"
	}
	return token(team) + ".*"
}

// splitLast splits a key at its last dot: a userKey and the token after.
func splitLast(key string) (prefix, last string, ok bool) {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// hashHex is the hex SHA-256 of s.
func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// userRecord is the value of a key in the users bucket. Records written
// before teams existed have only User and LastToken: their team is the
// default team and their role member.
type userRecord struct {
	User      string    `json:"user"`
	Team      string    `json:"team,omitempty"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	LastToken time.Time `json:"last_token,omitzero"` // the last token's time, to within lastTokenEvery (nothing reads it)
	// RevokedAt: tokens issued at or before this second are refused.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func (u userRecord) role() string {
	if u.Role == "" {
		return RoleMember
	}
	return u.Role
}

// revokes reports whether a token issued at iat was revoked by RevokedAt.
func (u userRecord) revokes(iat time.Time) bool {
	return !u.RevokedAt.IsZero() && !iat.Truncate(time.Second).After(u.RevokedAt.Truncate(time.Second))
}

// deviceRecord is the value of a key in the devices bucket.
type deviceRecord struct {
	ID         string    `json:"id"`
	Team       string    `json:"team"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	SecretHash string    `json:"secret_hash"`
	Created    time.Time `json:"created"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	Revoked    time.Time `json:"revoked,omitzero"`
}

func (d deviceRecord) public() signaling.Device {
	out := signaling.Device{ID: d.ID, User: d.User, Name: d.Name, Created: d.Created}
	if !d.LastUsed.IsZero() {
		t := d.LastUsed
		out.LastUsed = &t
	}
	if !d.Revoked.IsZero() {
		t := d.Revoked
		out.Revoked = &t
	}
	return out
}

// inviteRecord is the value of a key in the invites bucket.
type inviteRecord struct {
	Team    string    `json:"team"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	By      string    `json:"by,omitempty"` // who made it: "api key" or an admin's user id
}

// teamRecord is the value of "team.NAME" in the teams bucket.
type teamRecord struct {
	Team    string    `json:"team"`
	KeyHash string    `json:"key_hash"`
	Created time.Time `json:"created"`
}

// contactsRecord is the value of a key in the contacts bucket.
type contactsRecord struct {
	Contacts []string `json:"contacts"`
}

// statusRecord is the value of a key in the status bucket: a state set by
// hand. Online is not stored: setting it deletes the key.
type statusRecord struct {
	State signaling.State `json:"state"`
	Since time.Time       `json:"since"`
}

// seenRecord is the value of a key in the seen bucket.
type seenRecord struct {
	Seen time.Time `json:"seen"`
}

// getJSON reads key from kv into v; found is false when there is no such
// key.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (rev uint64, found bool, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, false, fmt.Errorf("server: %s is damaged: %w", key, err)
	}
	return e.Revision(), true, nil
}

// errContended is update giving up: others changed the key each time it
// tried.
var errContended = errors.New("changed by too many requests at once")

// update reads key, lets change modify the value (found tells whether it
// existed) and writes it back at the revision read, again on a conflict
// after a short random wait. change returns false to write nothing. When
// the key changed under it maxCASRetries times, or ctx ended while it
// waited to try again, it gives up with errContended.
func update[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(v *T, found bool) bool) (T, error) {
	for try := range maxCASRetries {
		if try > 0 && !pause(ctx, rand.N(min(casWait<<try, casWaitMax))) {
			break
		}
		var v T
		rev, found, err := getJSON(ctx, kv, key, &v)
		if err != nil {
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
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("server: %s: %w", key, errContended)
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

// contended is the refusal of a change that update gave up on (err is
// errContended): 80101, the code of the limiter's "try again in N
// seconds" too, answered over HTTP with 429 and Retry-After (httpRefuse).
// Not 80202, which clients take for a callee who is busy, nor 80999: the
// request was fine, only too many came at once.
func contended(what string, err error) error {
	e := signaling.Errorf(signaling.InvalidParameter,
		"%s is being changed by too many requests at once: try again in a second", what)
	return fmt.Errorf("%w: %w", e, err)
}

// httpRefuse answers a request that failed with err, as httpError does;
// a change that update gave up on with 429 and Retry-After: 1.
func (s *Server) httpRefuse(w http.ResponseWriter, r *http.Request, user string, err error) {
	e := signaling.AsError(err)
	if !errors.Is(err, errContended) {
		s.httpError(w, r, user, e)
		return
	}
	s.logRefusal(e, user, r.RemoteAddr, "path", r.URL.Path)
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusTooManyRequests, e)
}

// isWrongSequence reports a failed Update at a revision that is not the
// last one.
func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// lookup reads a user of team. found is false for a user who does not
// exist in that team.
func (s *Server) lookup(ctx context.Context, team, user string) (rec userRecord, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, found, err = getJSON(ctx, s.bus.users, userKey(team, user), &rec)
	if err != nil {
		return rec, false, fmt.Errorf("could not look up user %s: %w", user, err)
	}
	if found {
		rec.User = user
		if rec.Team == "" {
			rec.Team = DefaultTeam
		}
	}
	return rec, found, nil
}

// lookupAll reads the users of team with these ids (at most 1,000) in one
// read, by id; those who do not exist in team are missing.
func (s *Server) lookupAll(ctx context.Context, team string, ids []string) (map[string]userRecord, error) {
	out := map[string]userRecord{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = userKey(team, id)
	}
	msgs, err := s.latest(ctx, bucketUsers, keys...)
	if err != nil {
		return nil, fmt.Errorf("could not look up users: %w", err)
	}
	for i, id := range ids {
		var rec userRecord
		if m, ok := msgs[keys[i]]; ok && json.Unmarshal(m.Data, &rec) == nil {
			rec.User, rec.Team = id, cmp.Or(rec.Team, DefaultTeam)
			out[id] = rec
		}
	}
	return out, nil
}

// unknownUser is the refusal for a user who is not there: unknown, of
// another team, or hidden from a guest. Every such case must read the same.
func unknownUser(user string) *signaling.Error {
	return signaling.Errorf(signaling.NotFoundUserSessionID,
		"user %s is unknown to this server: check the id, or ask an admin to invite them (`parley invite %s`) or to get them a token (`parley token %s --api-key KEY`)", user, user, user)
}

// saveUser creates or changes a user of team with change, and writes the
// record only when that changed it.
func (s *Server) saveUser(ctx context.Context, team, user string, change func(*userRecord)) (userRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	now := time.Now().UTC()
	rec, err := update(ctx, s.bus.users, userKey(team, user), func(u *userRecord, found bool) bool {
		before := *u
		if !found {
			u.Created = now
		}
		u.User, u.Team = user, team
		change(u)
		return *u != before
	})
	if errors.Is(err, errContended) {
		return rec, contended("user "+user, err)
	}
	if err != nil {
		return rec, signaling.Errorf(signaling.UnknownError, "could not record user %s: %v", user, err)
	}
	return rec, nil
}

// listUsers reads every user of team, sorted by id.
func (s *Server) listUsers(ctx context.Context, team string) ([]userRecord, error) {
	var out []userRecord
	_, err := scan(ctx, s.bus.direct, bucketUsers, []string{teamFilter(team)}, func(_ string, m *jetstream.RawStreamMsg) {
		var u userRecord
		if json.Unmarshal(m.Data, &u) != nil || u.User == "" {
			return
		}
		if u.Team = cmp.Or(u.Team, DefaultTeam); u.Team == team {
			out = append(out, u)
		}
	})
	slices.SortFunc(out, func(a, b userRecord) int { return strings.Compare(a.User, b.User) })
	return out, err
}

// latest reads the value of every key of bucket that matches filters, by
// key, in one read that no write interleaves with: a JetStream batch get
// of the last message of each key (at most 1024 keys; a team-wide list
// uses keys).
//
// A KV watch, and the key listings built on it, cannot be trusted for
// this: while other keys are written, nats.go says that all initial
// values came before they all have (nats-io/nats.py#995 describes the
// same two ways it goes early), and a key is missed. What must not miss a
// session or a device reads it here.
func (s *Server) latest(ctx context.Context, bucket string, filters ...string) (map[string]*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	prefix := "$KV." + bucket + "."
	subjects := make([]string, len(filters))
	for i, f := range filters {
		subjects[i] = prefix + f
	}
	msgs, err := s.bus.direct.get(ctx, "KV_"+bucket, multiLastRequest{MultiLastFor: subjects})
	if err != nil && !errors.Is(err, errNoMessages) {
		return nil, fmt.Errorf("server: read %s %v: %w", bucket, filters, err)
	}
	out := map[string]*jetstream.RawStreamMsg{}
	for _, m := range msgs {
		if m.Header.Get("KV-Operation") == "" && m.Header.Get(jetstream.MarkerReasonHeader) == "" { // not deleted or expired
			out[strings.TrimPrefix(m.Subject, prefix)] = m
		}
	}
	return out, nil
}

// scanPage is how many messages one direct batch get of scan reads.
const scanPage = 500

// scan calls f with the value of every key of bucket that matches one of
// filters (every key when none is given), once each, and returns how many
// messages it read. It reads them with JetStream direct batch gets of the
// matching keys' messages, page after page by sequence: no consumer is
// made (a consumer per request made their number grow with the requests,
// and a stream allows 1,000), and a read costs the keys the filters match
// and no more. The buckets it reads keep one message per key; a key
// written meanwhile is read twice, and the later one wins. GetLastMsgsFor
// (latest) refuses to read more than 1,024 keys.
func scan(ctx context.Context, d *directGets, bucket string, filters []string, f func(key string, m *jetstream.RawStreamMsg)) (read int, _ error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	prefix := "$KV." + bucket + "."
	last := map[string]*jetstream.RawStreamMsg{}
	for _, filter := range filters {
		for seq := uint64(1); seq > 0; {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			msgs, err := d.get(pctx, "KV_"+bucket, batchRequest{Batch: scanPage, Seq: seq, NextBySubject: prefix + filter})
			cancel()
			if err != nil && !errors.Is(err, errNoMessages) {
				return read, fmt.Errorf("server: read %s %s: %w", bucket, filter, err)
			}
			for _, m := range msgs {
				last[m.Subject] = m
			}
			read += len(msgs)
			if seq = 0; len(msgs) == scanPage {
				seq = msgs[len(msgs)-1].Sequence + 1
			}
		}
	}
	for subject, m := range last {
		if m.Header.Get("KV-Operation") == "" && m.Header.Get(jetstream.MarkerReasonHeader) == "" { // not deleted or expired
			f(strings.TrimPrefix(subject, prefix), m)
		}
	}
	return read, nil
}

// contactsOf reads the contacts of a user.
func (s *Server) contactsOf(ctx context.Context, team, user string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec contactsRecord
	if _, _, err := getJSON(ctx, s.bus.contacts, userKey(team, user), &rec); err != nil {
		return nil, fmt.Errorf("server: contacts of %s: %w", user, err)
	}
	return rec.Contacts, nil
}

// hasContact reports whether owner has contact among their contacts.
func (s *Server) hasContact(ctx context.Context, team, owner, contact string) (bool, error) {
	list, err := s.contactsOf(ctx, team, owner)
	if err != nil {
		return false, err
	}
	return slices.Contains(list, contact), nil
}

// visible reports whether viewer (with role) may know of user: anyone of
// the team may, except that a guest sees only the people who have them as
// a contact.
func (s *Server) visible(ctx context.Context, team, viewer, role, user string) (bool, error) {
	if role != RoleGuest || viewer == user {
		return true, nil
	}
	return s.hasContact(ctx, team, user, viewer)
}

// manualState reads the state a user set by hand: away, dnd, or online
// (nothing set).
func (s *Server) manualState(ctx context.Context, key string) (statusRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var st statusRecord
	_, found, err := getJSON(ctx, s.bus.status, key, &st)
	if err != nil {
		return st, err
	}
	if !found || (st.State != signaling.StateAway && st.State != signaling.StateDND) {
		st.State = signaling.StateOnline
	}
	return st, nil
}

// markSeen records that a user was online at t.
func (s *Server) markSeen(ctx context.Context, key string, t time.Time) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	b, _ := json.Marshal(seenRecord{Seen: t.UTC().Truncate(time.Second)})
	if _, err := s.bus.seen.Put(ctx, key, b); err != nil {
		s.log.Warn("could not record last seen", "key", key, "err", err)
	}
}

// lastSeen reads when a user was last online; zero when never.
func (s *Server) lastSeen(ctx context.Context, key string) time.Time {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec seenRecord
	if _, _, err := getJSON(ctx, s.bus.seen, key, &rec); err != nil {
		s.log.Warn("could not read last seen", "key", key, "err", err)
	}
	return rec.Seen
}
