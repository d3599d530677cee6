package server

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// completeCall runs a call from caller to callee through ringing and an
// answer to a hang-up by the callee, and returns its id.
func completeCall(t *testing.T, caller, callee *client, ref string) string {
	t.Helper()
	id := placeCall(t, caller, callee, ref)
	callee.send(msg(signaling.TypeRinging, id))
	caller.expect(status(ev(id, signaling.Ringing, out, caller.user, callee.user)))
	callee.expect(status(ev(id, signaling.Ringing, in, caller.user, callee.user)))
	callee.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	answered := status(ev(id, signaling.Answered, out, caller.user, callee.user))
	answered.SDP = "answer"
	caller.expect(answered)
	callee.expect(answeredIn(id, caller.user, callee.user, callee.session))
	callee.send(msg(signaling.TypeHangup, id))
	caller.expect(status(ev(id, signaling.Completed, out, caller.user, callee.user)))
	callee.expect(status(ev(id, signaling.Completed, in, caller.user, callee.user)))
	return id
}

// rejectCall places a call that the callee rejects, and returns its id.
func rejectCall(t *testing.T, caller, callee *client, ref string) string {
	t.Helper()
	id := placeCall(t, caller, callee, ref)
	callee.send(msg(signaling.TypeReject, id))
	caller.expect(status(ended(id, signaling.Rejected, out, caller.user, callee.user, ReasonDeclined, 0)))
	callee.expect(status(ended(id, signaling.Rejected, in, caller.user, callee.user, ReasonDeclined, 0)))
	return id
}

func statusesOf(r signaling.CallRecord) []signaling.Status {
	var out []signaling.Status
	for _, c := range r.Statuses {
		out = append(out, c.Status)
	}
	return out
}

// TestCallRecords: a completed and a rejected call are listed newest
// first with their statuses, times, duration, end reason and node; the
// query narrows the list.
func TestCallRecords(t *testing.T) {
	s := startServer(t, func(c *Config) { c.NodeName = "n1" })
	ctx := context.Background()
	api := s.adminAPI(s.APIKey())
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")

	before := time.Now().UTC()
	done := completeCall(t, alice, bob, "d1")
	rejected := rejectCall(t, bob, alice, "d2")
	after := time.Now().UTC()

	calls, err := api.Calls(ctx, signaling.CallsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].ID != rejected || calls[1].ID != done {
		t.Fatalf("calls: got %s, want %s then %s", js(calls), rejected, done)
	}
	r, c := calls[0], calls[1]

	wantFlow := []signaling.Status{signaling.Started, signaling.Ringing, signaling.Answered, signaling.Completed}
	if got := statusesOf(c); !reflect.DeepEqual(got, wantFlow) {
		t.Errorf("completed call statuses: got %v, want %v", got, wantFlow)
	}
	if c.From != "alice" || c.To != "bob" || c.Status != signaling.Completed || c.Reason != "" || c.Node != "n1" ||
		c.Direction != "" {
		t.Errorf("completed call: got %s", js(c))
	}
	for i, sc := range c.Statuses {
		if sc.Time.Before(before) || sc.Time.After(after) || (i > 0 && sc.Time.Before(c.Statuses[i-1].Time)) {
			t.Errorf("completed call: status %s at %v is out of order or outside [%v, %v]", sc.Status, sc.Time, before,
				after)
		}
	}
	if c.Answered == nil || c.Ended == nil || !c.Statuses[2].Time.Equal(*c.Answered) ||
		!c.Statuses[3].Time.Equal(*c.Ended) ||
		!c.Statuses[0].Time.Equal(c.Started) {
		t.Errorf("completed call: started/answered/ended do not match the statuses: %s", js(c))
	} else if want := c.Ended.Sub(*c.Answered).Milliseconds(); c.DurationMS != want || c.DurationMS < 0 {
		t.Errorf("completed call: duration %d ms, want %d", c.DurationMS, want)
	}
	t.Logf("completed call: %d statuses within %v, answered for %d ms", len(c.Statuses), c.Ended.Sub(c.Started),
		c.DurationMS)

	wantRejected := []signaling.Status{signaling.Started, signaling.Rejected}
	if got := statusesOf(r); !reflect.DeepEqual(got, wantRejected) {
		t.Errorf("rejected call statuses: got %v, want %v", got, wantRejected)
	}
	if r.From != "bob" || r.To != "alice" || r.Status != signaling.Rejected || r.Reason != ReasonDeclined ||
		r.Answered != nil || r.Ended == nil || r.DurationMS != 0 || r.Node != "n1" {
		t.Errorf("rejected call: got %s", js(r))
	}

	// The query narrows the list; direction is the user's.
	for _, tc := range []struct {
		name string
		q    signaling.CallsQuery
		want []string
		dirs []signaling.Direction
	}{
		{"alice", signaling.CallsQuery{User: "alice"}, []string{rejected, done}, []signaling.Direction{in, out}},
		{"bob", signaling.CallsQuery{User: "bob"}, []string{rejected, done}, []signaling.Direction{out, in}},
		{"nobody", signaling.CallsQuery{User: "carol"}, nil, nil},
		{"limit", signaling.CallsQuery{Limit: 1}, []string{rejected}, []signaling.Direction{""}},
		{"status", signaling.CallsQuery{Status: signaling.Completed}, []string{done}, []signaling.Direction{""}},
		{"before", signaling.CallsQuery{Before: r.Started}, []string{done}, []signaling.Direction{""}},
	} {
		got, err := api.Calls(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		var dirs []signaling.Direction
		for _, c := range got {
			ids, dirs = append(ids, c.ID), append(dirs, c.Direction)
		}
		if !reflect.DeepEqual(ids, tc.want) || !reflect.DeepEqual(dirs, tc.dirs) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, ids, dirs, tc.want, tc.dirs)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "status=ringingg", "user=a/b", "before=yesterday"} {
		code, body := get(t, s.url(signaling.PathCalls+"?"+q), map[string]string{HeaderAPIKey: s.APIKey()})
		var e signaling.Error
		if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Code != signaling.InvalidParameter {
			t.Errorf("?%s: got %d %s, want 400 %d", q, code, body, signaling.InvalidParameter)
		}
	}
}

// TestCallRecordsTeams: a team sees its own calls only; a wrong or
// missing key is refused with 401 invalid_token.
func TestCallRecordsTeams(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	mine := rejectCall(t, alice, bob, "d1")
	// The same user ids in acme are other people.
	acmeAlice := s.connectWith(t, "acme alice", s.teamToken(t, team.APIKey, "alice", nil))
	acmeBob := s.connectWith(t, "acme bob", s.teamToken(t, team.APIKey, "bob", nil))
	theirs := completeCall(t, acmeAlice, acmeBob, "d2")

	for _, tc := range []struct {
		name, key string
		want      string
	}{{"default", s.APIKey(), mine}, {"acme", team.APIKey, theirs}} {
		for _, q := range []signaling.CallsQuery{{}, {User: "alice"}} {
			got, err := s.adminAPI(tc.key).Calls(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(got) != 1 || got[0].ID != tc.want {
				t.Errorf("%s %+v: got %s, want only %s", tc.name, q, js(got), tc.want)
			}
		}
	}

	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"wrong key", map[string]string{HeaderAPIKey: "not-the-key"}},
		{"no key", nil},
		{"user token", map[string]string{"Authorization": "Bearer " + s.token(t, "carol")}},
	} {
		code, body := get(t, s.url(signaling.PathCalls), tc.header)
		var e signaling.Error
		_ = json.Unmarshal(body, &e)
		switch tc.name {
		case "user token": // a valid token without the admin role
			if code != http.StatusBadRequest || e.Code != signaling.InvalidParameter {
				t.Errorf("%s: got %d %s, want 400 %d", tc.name, code, body, signaling.InvalidParameter)
			}
		default:
			if code != http.StatusUnauthorized || e.Code != signaling.InvalidToken || e.Name != "invalid_token" {
				t.Errorf("%s: got %d %s, want 401 %d invalid_token", tc.name, code, body, signaling.InvalidToken)
			}
		}
	}
}

// putCalls writes n call records of team under key(id), each written
// writes times (started, then completed), started a second apart from
// start; it returns their ids, oldest first.
func putCalls(t *testing.T, s *testServer, team string, n, writes int, start time.Time,
	key func(string) string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		rec := callRecord{ID: newID(), Team: team, From: "alice", To: "bob", Status: signaling.Started, Node: "n1",
			Started: start.Add(time.Duration(i) * time.Second)}
		for w := range writes {
			if w == writes-1 && w > 0 {
				rec.Status = signaling.Completed
			}
			b, _ := json.Marshal(rec)
			if _, err := s.store.Calls.Put(t.Context(), key(rec.ID), b); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, rec.ID)
	}
	return ids
}

// TestCallRecordsReadOneTeam: the listing of a team's calls reads that
// team's records and those written before records were kept by team, and
// nothing of the other teams'. It also reads every
// record past the 1,024 keys that one direct get of the last message of
// each key may read.
func TestCallRecordsReadOneTeam(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	keys := map[string]string{}
	for _, name := range []string{"acme", "big", "empty"} {
		team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = team.APIKey
	}
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	byTeam := func(team string) func(string) string { return func(id string) string { return callKey(team, id) } }
	acme := putCalls(t, s, "acme", 5, 2, start, byTeam("acme"))
	big := putCalls(t, s, "big", 1100, 1, start, byTeam("big"))
	putCalls(t, s, DefaultTeam, 50, 2, start, byTeam(DefaultTeam))
	// Written before records were kept by team: under the call id alone.
	legacy := putCalls(t, s, "acme", 2, 2, start.Add(-time.Minute), store.Token)
	putCalls(t, s, DefaultTeam, 3, 1, start, store.Token)
	// The bucket keeps the last message of each key: one per record.
	const all, legacyRecords = 5 + 1100 + 50 + 2 + 3, 2 + 3

	// list lists team's calls and returns them, the records the listing
	// read (as it logs) and the messages the server's NATS connection
	// received meanwhile.
	list := func(team string, limit int) (calls []signaling.CallRecord, read int, received uint64) {
		t.Helper()
		before := s.bus.nc.Stats().InMsgs
		calls, err := s.adminAPI(keys[team]).Calls(ctx, signaling.CallsQuery{Limit: limit})
		if err != nil {
			t.Fatalf("%s: %v", team, err)
		}
		received = s.bus.nc.Stats().InMsgs - before
		read = -1
		if logged := s.logs.records("calls listed"); len(logged) > 0 && logged[len(logged)-1]["team"] == team {
			n, _ := logged[len(logged)-1]["read"].(float64)
			read = int(n)
		}
		t.Logf("%s: %d calls listed, %d records read, %d messages received (the bucket holds %d records)",
			team, len(calls), read, received, all)
		return calls, read, received
	}
	ids := func(calls []signaling.CallRecord) []string {
		var out []string
		for _, c := range calls {
			out = append(out, c.ID)
		}
		return out
	}
	newestFirst := func(ids ...[]string) []string {
		var out []string
		for _, l := range ids {
			l = slices.Clone(l)
			slices.Reverse(l)
			out = append(out, l...)
		}
		return out
	}

	for _, tc := range []struct {
		team  string
		limit int
		want  []string
		read  int
	}{
		{"empty", 0, nil, legacyRecords},
		{"acme", 0, newestFirst(acme, legacy), 5 + legacyRecords},
		{"big", signaling.MaxCallsLimit, newestFirst(big[len(big)-signaling.MaxCallsLimit:]), 1100 + legacyRecords},
	} {
		calls, read, received := list(tc.team, tc.limit)
		if got := ids(calls); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %d calls %v, want %d, newest first", tc.team, len(got), got, len(tc.want))
		}
		for _, c := range calls {
			if c.Status != signaling.Completed && tc.team == "acme" {
				t.Errorf("acme: call %s is %s, want its last record's status (completed)", c.ID, c.Status)
			}
		}
		if read != tc.read {
			t.Errorf("%s: read %d records, want %d", tc.team, read, tc.read)
		}
		// Two for each message read (a direct get's reply also reaches the
		// connection's request mux), and a few more.
		if received > uint64(2*tc.read+20) {
			t.Errorf("%s: the server received %d messages, want at most %d", tc.team, received, 2*tc.read+20)
		}
	}
}

// TestLegacyCallRecord: a call answered before the server restarted, whose
// record is under the key of records written before they were kept by
// team (the call id alone), is resumed from that record, runs to its end
// with its record written where it was, and is listed once.
func TestLegacyCallRecord(t *testing.T) {
	r := answeredRestartable(t)
	id := r.id
	second := r.restart(t, r.alice, r.bob)
	ctx := t.Context()
	e, err := second.store.Calls.Get(ctx, callKey(DefaultTeam, id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.store.Calls.Put(ctx, store.Token(id), e.Value()); err != nil {
		t.Fatal(err)
	}
	if err := second.store.Calls.Purge(ctx, callKey(DefaultTeam, id)); err != nil {
		t.Fatal(err)
	}

	alice2, bob2 := second.reconnect(t, r.alice), second.reconnect(t, r.bob)
	resume(alice2, id, signaling.Outbound, "bob", false, false)
	resume(bob2, id, signaling.Inbound, "alice", false, false)
	alice2.send(msg(signaling.TypeHangup, id))
	alice2.expect(status(ev(id, signaling.Completed, signaling.Outbound, "alice", "bob")))
	bob2.expect(status(ev(id, signaling.Completed, signaling.Inbound, "alice", "bob")))

	var rec callRecord
	if e, err := second.store.Calls.Get(ctx, store.Token(id)); err != nil || json.Unmarshal(e.Value(), &rec) != nil {
		t.Fatalf("the record under the old key: %v", err)
	}
	if rec.Status != signaling.Completed {
		t.Errorf("the record under the old key is %s, want completed", rec.Status)
	}
	calls, err := second.adminAPI(second.APIKey()).Calls(ctx, signaling.CallsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].ID != id || calls[0].Status != signaling.Completed {
		t.Errorf("calls: got %s, want %s completed, once", js(calls), id)
	}
}
