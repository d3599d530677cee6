package server

// People: users, contacts, the states set by hand and last seen, read
// and written through package store. docs/SERVER.md tells the design:
// teams, accounts, devices, invites, roles, presence and limits.

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
		"user %s is unknown to this server: check the id, or ask an admin to invite them (`parley invite %s`) or to "+
			"get them a token (`parley token %s --api-key KEY`)", user, user, user)
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
	filters := []string{store.TeamFilter(team)}
	_, err := s.store.Scan(ctx, store.BucketUsers, filters, func(_ string, m *jetstream.RawStreamMsg) {
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
