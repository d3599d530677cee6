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
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Limits of the people store.
const (
	MaxContacts  = signaling.MaxWatch // contacts per user
	MaxSessions  = 10                 // sessions connected at once per user, on all nodes
	MaxInviteTTL = 30 * 24 * time.Hour
	// lastTokenEvery: a token rewrites its user's record for LastToken
	// only when it is this old, unless the role or name changed.
	lastTokenEvery = time.Hour
)

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

// contended is the refusal of a change that store.Update gave up on (err
// is store.ErrContended): 80101, the code of the limiter's "try again in N
// seconds" too, answered over HTTP with 429 and Retry-After (httpRefuse).
// Not 80202, which clients take for a callee who is busy, nor 80999: the
// request was fine, only too many came at once.
func contended(what string, err error) error {
	e := signaling.Errorf(signaling.InvalidParameter,
		"%s is being changed by too many requests at once: try again in a second", what)
	return fmt.Errorf("%w: %w", e, err)
}

// httpRefuse answers a request that failed with err, as httpError does;
// a change that store.Update gave up on with 429 and Retry-After: 1.
func (s *Server) httpRefuse(w http.ResponseWriter, r *http.Request, user string, err error) {
	e := signaling.AsError(err)
	if !errors.Is(err, store.ErrContended) {
		s.httpError(w, r, user, e)
		return
	}
	s.logRefusal(e, user, r.RemoteAddr, "path", r.URL.Path)
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusTooManyRequests, e)
}

// lookup reads a user of team. found is false for a user who does not
// exist in that team.
func (s *Server) lookup(ctx context.Context, team, user string) (rec store.User, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, found, err = store.GetJSON(ctx, s.store.Users, store.UserKey(team, user), &rec)
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
func (s *Server) lookupAll(ctx context.Context, team string, ids []string) (map[string]store.User, error) {
	out := map[string]store.User{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = store.UserKey(team, id)
	}
	msgs, err := s.store.Latest(ctx, store.BucketUsers, keys...)
	if err != nil {
		return nil, fmt.Errorf("could not look up users: %w", err)
	}
	for i, id := range ids {
		var rec store.User
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
func (s *Server) saveUser(ctx context.Context, team, user string, change func(*store.User)) (store.User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	now := time.Now().UTC()
	rec, err := store.Update(ctx, s.store.Users, store.UserKey(team, user), func(u *store.User, found bool) bool {
		before := *u
		if !found {
			u.Created = now
		}
		u.User, u.Team = user, team
		change(u)
		return *u != before
	})
	if errors.Is(err, store.ErrContended) {
		return rec, contended("user "+user, err)
	}
	if err != nil {
		return rec, signaling.Errorf(signaling.UnknownError, "could not record user %s: %v", user, err)
	}
	return rec, nil
}

// listUsers reads every user of team, sorted by id.
func (s *Server) listUsers(ctx context.Context, team string) ([]store.User, error) {
	var out []store.User
	_, err := s.store.Scan(ctx, store.BucketUsers, []string{store.TeamFilter(team)}, func(_ string, m *jetstream.RawStreamMsg) {
		var u store.User
		if json.Unmarshal(m.Data, &u) != nil || u.User == "" {
			return
		}
		if u.Team = cmp.Or(u.Team, DefaultTeam); u.Team == team {
			out = append(out, u)
		}
	})
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.User, b.User) })
	return out, err
}

// contactsOf reads the contacts of a user.
func (s *Server) contactsOf(ctx context.Context, team, user string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec store.Contacts
	if _, _, err := store.GetJSON(ctx, s.store.Contacts, store.UserKey(team, user), &rec); err != nil {
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
func (s *Server) manualState(ctx context.Context, key string) (store.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var st store.Status
	_, found, err := store.GetJSON(ctx, s.store.Status, key, &st)
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
	b, _ := json.Marshal(store.Seen{Seen: t.UTC().Truncate(time.Second)})
	if _, err := s.store.Seen.Put(ctx, key, b); err != nil {
		s.log.Warn("could not record last seen", "key", key, "err", err)
	}
}

// lastSeen reads when a user was last online; zero when never.
func (s *Server) lastSeen(ctx context.Context, key string) time.Time {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec store.Seen
	if _, _, err := store.GetJSON(ctx, s.store.Seen, key, &rec); err != nil {
		s.log.Warn("could not read last seen", "key", key, "err", err)
	}
	return rec.Seen
}
