package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// watchRequest adds users to a connection's watch list.
type watchRequest struct {
	ref   string
	users []string
	auto  bool // the server's own watch of the user's contacts
}

// watchUsers has the node's feed follow more users for c (feed.go) and
// queues their presence {user, online, state, name, last_seen}, answering
// req.ref; the feed then tells c whenever a watched user's state or name
// changes. Users c watches already are left as they are. It runs on the
// goroutine that asked (the reader, or the one of a contact added
// elsewhere) and may wait for room in c's queue.
func (c *conn) watchUsers(req watchRequest) {
	f := c.s.feed
	fresh, watched := f.unwatched(c.ctx, c, req.users)
	if len(fresh) == 0 {
		return
	}
	tooMany := func(watched int) {
		if req.auto {
			c.logger().Warn("too many contacts to watch", "watched", watched, "more", len(fresh))
			return
		}
		c.refuse(signaling.Errorf(signaling.InvalidParameter,
			"a connection can watch at most %d users; it watches %d already", signaling.MaxWatch, watched), req.ref, "")
	}
	if watched+len(fresh) > signaling.MaxWatch {
		tooMany(watched)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	entries, keys, names, seen, err := c.describe(ctx, fresh)
	if err != nil {
		switch {
		case c.ctx.Err() != nil:
		case req.auto:
			c.logger().Warn("could not watch the contacts", "err", err)
		default:
			c.refuse(signaling.Errorf(signaling.UnknownError, "could not watch presence: %v", err), req.ref, "")
		}
		return
	}
	// A watch asked for is answered as of now. The server's own watch of
	// the contacts at connect is not waited for: what the feed does not
	// have yet follows in a moment.
	if !req.auto {
		if err := f.sync(ctx); err != nil {
			c.logger().Warn("going by the presence this node has", "err", err)
		}
	}
	out, watched, ok := f.follow(c.ctx, c, entries, keys, names, seen, req.ref)
	if !ok {
		tooMany(watched)
		return
	}
	for _, b := range out {
		c.enqueueWait(b)
	}
	f.ready(c.ctx, entries)
}

// describe reads what does not change while watching users: their names,
// whether they are hidden from this connection (a user hidden from a
// guest reads as one who does not exist: always offline, nothing else),
// and when each was last seen. keys and names hold each user's userKey
// and name, "" for one who is hidden.
func (c *conn) describe(ctx context.Context, users []string) (
	entries []*watchEntry, keys, names []string, seen map[string]time.Time, err error,
) {
	recs, err := c.s.lookupAll(ctx, c.team, users)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for _, user := range users {
		w := &watchEntry{c: c, user: user}
		key := store.UserKey(c.team, user)
		rec, found := recs[user]
		switch {
		case !found && c.role == RoleGuest:
			key = "" // a guest sees nobody unknown
		case !found:
			// Followed all the same: they may join the team later.
		default:
			vis, err := c.s.visible(ctx, c.team, c.user, c.role, user)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			if !vis {
				key, rec.Name = "", ""
			}
		}
		entries, keys, names = append(entries, w), append(keys, key), append(names, rec.Name)
	}
	seen, err = c.s.seenAll(ctx, keys)
	return entries, keys, names, seen, err
}

// seenAll reads when each of the users with these keys was last seen
// online ("" keys are skipped), in one read.
func (s *Server) seenAll(ctx context.Context, keys []string) (map[string]time.Time, error) {
	var filters []string
	for _, k := range keys {
		if k != "" {
			filters = append(filters, k)
		}
	}
	out := map[string]time.Time{}
	if len(filters) == 0 {
		return out, nil
	}
	msgs, err := s.store.Latest(ctx, store.BucketSeen, filters...)
	if err != nil {
		return nil, err
	}
	for k, m := range msgs {
		var rec store.Seen
		if json.Unmarshal(m.Data, &rec) == nil {
			out[k] = rec.Seen
		}
	}
	return out, nil
}
