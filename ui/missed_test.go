package ui

import (
	"context"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// fakeHistory is a CallHistory for tests: the unseen missed calls, and the
// queries it was asked.
type fakeHistory struct {
	h       signaling.History
	queries chan signaling.HistoryQuery
}

func (f fakeHistory) History(_ context.Context, q signaling.HistoryQuery) (signaling.History, error) {
	f.queries <- q
	return f.h, nil
}

// TestMissedNotice: as it starts, the UI asks the server for the missed
// calls not seen yet and says, under the body, how many and from whom.
func TestMissedNotice(t *testing.T) {
	missed := func(from, name string) signaling.CallRecord {
		return signaling.CallRecord{From: from, FromName: name, To: "me", Missed: true, Unseen: true}
	}
	fh := fakeHistory{queries: make(chan signaling.HistoryQuery, 1), h: signaling.History{Unseen: 3,
		Calls: []signaling.CallRecord{missed("alice", "Alice"), missed("bob", "Bob\x1b]0;owned\a"),
			missed("alice", "Alice")}}}
	f := startFlowWith(t, "", func(o *Options) { o.History = fh })
	select {
	case q := <-fh.queries:
		if !q.Unseen || q.Limit != signaling.MaxCallsLimit {
			t.Errorf("asked %+v, want the unseen missed calls, up to %d", q, signaling.MaxCallsLimit)
		}
	case <-time.After(wait):
		t.Fatal("the UI did not ask for the missed calls")
	}
	f.waitFor("3 missed calls while you were away: Alice (2), Bob")
}
