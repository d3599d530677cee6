package ui

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/history"
)

// fakeHistory is a CallHistory for tests: a history, the queries it was
// asked and the seen marks it was sent.
type fakeHistory struct {
	h       signaling.History
	queries chan signaling.HistoryQuery
	seen    chan time.Time
}

func newFakeHistory(h signaling.History) fakeHistory {
	return fakeHistory{h: h, queries: make(chan signaling.HistoryQuery, 16), seen: make(chan time.Time, 16)}
}

func (f fakeHistory) History(_ context.Context, q signaling.HistoryQuery) (signaling.History, error) {
	f.queries <- q
	return f.h, nil
}

func (f fakeHistory) SeeHistory(_ context.Context, upTo time.Time) (time.Time, error) {
	f.seen <- upTo
	return upTo, nil
}

// missedFrom is a missed call, not seen yet, from user (display name
// name), started at start.
func missedFrom(user, name string, start time.Time) signaling.CallRecord {
	end := start.Add(30 * time.Second)
	return signaling.CallRecord{ID: "m-" + user + start.Format("150405"), From: user, FromName: name, To: "alice",
		Direction: signaling.Inbound, Status: signaling.Unanswered, Reason: "offline",
		Code: signaling.NoConnectedDestination, Started: start, Ended: &end, Missed: true, Unseen: true}
}

// TestMissedNotice: as it starts, the UI asks the server for the missed
// calls not seen yet and says, under the body, how many and from whom.
func TestMissedNotice(t *testing.T) {
	fh := newFakeHistory(signaling.History{Unseen: 3, Calls: []signaling.CallRecord{
		missedFrom("gina", "Gina", t0.Add(-time.Minute)), missedFrom("hal", "Hal", t0.Add(-2*time.Minute)),
		missedFrom("gina", "Gina", t0.Add(-3*time.Minute))}})
	f := startFlowWith(t, "", func(o *Options) { o.History = fh })
	asked := false
	for !asked {
		select {
		case q := <-fh.queries:
			asked = q.Unseen && q.Limit == signaling.MaxCallsLimit
		case <-time.After(wait):
			t.Fatal("the UI did not ask for the unseen missed calls")
		}
	}
	f.waitFor("3 missed calls while you were away: Gina (2), Hal")
}

// TestRecentsFromServer: the recent calls are the server's, not this
// device's file, with the count of missed calls not seen yet in the tab;
// showing them marks them seen (up to the newest's start) and the count
// goes.
func TestRecentsFromServer(t *testing.T) {
	answered, ended := t0.Add(-9*time.Minute), t0.Add(-8*time.Minute)
	fh := newFakeHistory(signaling.History{Unseen: 2, Calls: []signaling.CallRecord{
		missedFrom("gina", "Gina", t0.Add(-time.Minute)), missedFrom("hal", "Hal", t0.Add(-2*time.Minute)),
		{ID: "c1", From: "alice", To: "bob", Direction: signaling.Outbound, Status: signaling.Completed,
			Started: t0.Add(-10 * time.Minute), Answered: &answered, Ended: &ended, DurationMS: 60000},
		{ID: "c2", From: "alice", To: "carol", Direction: signaling.Outbound, Status: signaling.Answered,
			Started: t0.Add(-30 * time.Second), Answered: &answered}, // still going: not recent
	}})
	f := startFlowWith(t, "", func(o *Options) { o.History = fh })
	f.waitFor("Recent calls 3 (2 new)")
	select {
	case upTo := <-fh.seen:
		t.Fatalf("marked seen up to %v before the recent calls were shown", upTo)
	default:
	}
	f.press("tab")
	f.waitFor("[Recent calls 3]", "Gina", "Hal", "bob")
	select {
	case upTo := <-fh.seen:
		if !upTo.Equal(t0.Add(-time.Minute)) {
			t.Errorf("marked seen up to %v, want the newest call's start %v", upTo, t0.Add(-time.Minute))
		}
	case <-time.After(wait):
		t.Fatal("showing the recent calls did not mark them seen")
	}
}

// TestWatchWhenServerHistoryFirst: the server's recent calls may come
// before this device's file is read; the contacts and the calls' peers are
// watched once the file is read all the same. (They were not: the
// contacts showed "unknown" for good, one e2e/TestUIEndToEnd run in 5.)
func TestWatchWhenServerHistoryFirst(t *testing.T) {
	m := testModel(t, testOptions(newFakePhone(), newFakeDevices(), &clock{t: t0}))
	m.Update(serverHistoryMsg{records: []history.Record{{CallID: "c1", Peer: "gina", Start: t0}}})
	if m.watched != nil {
		t.Fatalf("watched %v before the file was read", m.watched)
	}
	m.Update(historyLoadedMsg{})
	if want := []string{"bob", "carol", "dave", "erin", "gina"}; !slices.Equal(m.watched, want) {
		t.Errorf("watched %v once the file was read, want %v", m.watched, want)
	}
}
