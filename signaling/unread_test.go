package signaling

import (
	"context"
	"testing"
)

// textsByQuery answers each query from its own list, and counts the
// queries.
type textsByQuery struct {
	all  Texts
	with map[string]Texts
	asks *int
}

func (f textsByQuery) Texts(_ context.Context, q TextsQuery) (Texts, error) {
	*f.asks++
	if q.With != "" {
		return f.with[q.With], nil
	}
	return f.all, nil
}

// TestUnreadNotice: the sign-in line counts every unread text and names
// the senders by display name, the latest conversation first, with their
// count when more than one; a sender not among the latest texts is named
// from their conversation (one more read); a name with an escape stays
// printable; nothing (and one read) when none is unread.
func TestUnreadNotice(t *testing.T) {
	carol := Text{Seq: 7, From: "carol", FromName: "Carol", To: "me", Text: "hi"}
	mine := Text{Seq: 9, From: "me", To: "dan", ToName: "Dan\x1b]0;x\a", Text: "and you?"}
	old := Text{Seq: 2, From: "erin", FromName: "Erin", To: "me", Text: "old"}
	for _, tc := range []struct {
		name  string
		f     textsByQuery
		want  string
		reads int
	}{
		{"none", textsByQuery{all: Texts{Texts: []Text{carol}}}, "", 1},
		{"one", textsByQuery{all: Texts{Texts: []Text{carol}, Unread: map[string]int{"carol": 1}}},
			"1 unread text: Carol", 1},
		{"the latest first", textsByQuery{all: Texts{Texts: []Text{carol, mine},
			Unread: map[string]int{"carol": 2, "dan": 1}}}, `3 unread texts: Dan\x1b]0;x\a, Carol (2)`, 1},
		{"a sender not among the latest", textsByQuery{all: Texts{Texts: []Text{carol},
			Unread: map[string]int{"carol": 2, "erin": 3}}, with: map[string]Texts{"erin": {Texts: []Text{old}}}},
			"5 unread texts: Carol (2), Erin (3)", 2},
		{"no name at all", textsByQuery{all: Texts{Unread: map[string]int{"gus": 1}}}, "1 unread text: gus", 2},
	} {
		reads := 0
		tc.f.asks = &reads
		got, err := UnreadNotice(t.Context(), tc.f)
		if err != nil || got != tc.want || reads != tc.reads {
			t.Errorf("%s: UnreadNotice = %q, %v after %d reads; want %q after %d", tc.name, got, err, reads, tc.want,
				tc.reads)
		}
	}
}
