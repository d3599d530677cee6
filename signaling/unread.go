package signaling

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

// TextsLister lists the signed-in user's texts; *API is one.
type TextsLister interface {
	Texts(ctx context.Context, q TextsQuery) (Texts, error)
}

// UnreadTexts is "1 unread text" or "N unread texts".
func UnreadTexts(n int) string { return counted(n, "unread text") }

// UnreadNotice is the line a client says as it signs in when texts wait
// unread, as MissedNotice says the missed calls: "3 unread texts: Carol
// (2), Dan": the count, then who wrote, by display name (made Printable),
// the latest conversation first, with a count when more than one. ""
// when none is unread.
//
// The unread counts name senders by id alone: their names come from the
// latest texts (one read), and for a sender not among them from the
// latest text of their conversation (one read each).
func UnreadNotice(ctx context.Context, api TextsLister) (string, error) {
	l, err := api.Texts(ctx, TextsQuery{})
	if err != nil || len(l.Unread) == 0 {
		return "", err
	}
	type sender struct {
		user, name string
		seq        uint64 // the latest text of the conversation
		n          int
	}
	from := make(map[string]*sender, len(l.Unread))
	total := 0
	for u, n := range l.Unread {
		from[u] = &sender{user: u, name: u, n: n}
		total += n
	}
	// see takes a text of a conversation with someone in from.
	see := func(t Text) {
		for _, p := range []struct{ user, name string }{{t.From, t.FromName}, {t.To, t.ToName}} {
			if s := from[p.user]; s != nil && t.Seq >= s.seq {
				s.seq, s.name = t.Seq, cmp.Or(p.name, p.user)
			}
		}
	}
	for _, t := range l.Texts {
		see(t)
	}
	for _, s := range from {
		if s.seq != 0 {
			continue
		}
		c, err := api.Texts(ctx, TextsQuery{With: s.user, Limit: 1})
		if err != nil {
			return "", err
		}
		for _, t := range c.Texts {
			see(t)
		}
	}
	order := make([]*sender, 0, len(from))
	for _, s := range from {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b *sender) int {
		return cmp.Or(cmp.Compare(b.seq, a.seq), strings.Compare(a.user, b.user))
	})
	var who senders
	for _, s := range order {
		who.add(s.user, s.name, s.n)
	}
	return UnreadTexts(total) + ": " + who.String(), nil
}
