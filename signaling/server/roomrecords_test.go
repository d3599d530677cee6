package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// roomRecords lists the default team's room records with its API key.
func (s *testServer) roomRecords(t *testing.T, q signaling.RoomRecordsQuery) []signaling.RoomRecord {
	t.Helper()
	recs, err := s.adminAPI(s.APIKey()).RoomRecords(t.Context(), q)
	if err != nil {
		t.Fatalf("room records %+v: %v", q, err)
	}
	return recs
}

// entry is a room record's entry as a test expects it (its time aside).
func entry(event, user, by, reason string) signaling.RoomEntry {
	return signaling.RoomEntry{Event: event, User: user, By: by, Reason: reason}
}

// wantEntries fails unless the record's entries are want, in order, with
// times that do not go back and lie between from and to.
func wantEntries(t *testing.T, rec signaling.RoomRecord, from, to time.Time, want ...signaling.RoomEntry) {
	t.Helper()
	var got []signaling.RoomEntry
	last := from
	for _, e := range rec.Events {
		if e.Time.Before(last) || e.Time.After(to) {
			t.Errorf("entry %s at %s: not between %s and %s", js(e), e.Time.Format(time.StampMicro),
				last.Format(time.StampMicro), to.Format(time.StampMicro))
		}
		last = e.Time
		got = append(got, signaling.RoomEntry{Event: e.Event, User: e.User, By: e.By, Reason: e.Reason})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries of %s:\n got  %s\n want %s", rec.Room, js(got), js(want))
	}
}

// TestRoomRecords: every join, leave, mute, lock, removal and the end of a
// room are in its record, in order, with their times, by whom and why; the
// admin API lists the team's records newest first, by user, status and
// page, and refuses a bad query with 80101.
func TestRoomRecords(t *testing.T) {
	s := startServer(t)
	from := time.Now().UTC()
	made := s.createRoom(t, "alice", signaling.RoomRequest{Name: "standup"})
	if made.ID == "" {
		t.Fatalf("created %s: no id", js(made))
	}
	ac, bc, cc := s.connect(t, "alice", ""), s.connect(t, "bob", ""), s.connect(t, "carol", "")
	pa := joinRoom(t, ac, "standup", 0, false)
	pb := joinRoom(t, bc, "standup", 0, false)
	pc := joinRoom(t, cc, "standup", 0, false)
	yes := true
	ac.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Target: "bob", Muted: &yes, Locked: &yes})
	pb.event(kind(signaling.RoomMuted))
	bc.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Muted: &yes}) // no change: no entry
	pb.event(kind(signaling.RoomMuted))
	no := false
	ac.send(signaling.Message{Type: signaling.TypeRoomMute, Room: "standup", Target: "bob", Muted: &no})
	pb.event(kind(signaling.RoomMuted))
	ac.send(signaling.Message{Type: signaling.TypeRoomLock, Room: "standup", Locked: &yes})
	pb.event(kind(signaling.RoomLocked))
	ac.send(signaling.Message{Type: signaling.TypeRoomRemove, Room: "standup", Target: "carol"})
	pc.event(kind(signaling.RoomRemoved))
	bc.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "standup"})
	pa.event(func(m signaling.Message) bool {
		return m.RoomEvent.Kind == signaling.ParticipantLeft && m.RoomEvent.User == "bob"
	})
	ac.send(signaling.Message{Type: signaling.TypeRoomEnd, Room: "standup"})
	pa.event(kind(signaling.RoomEnded))
	to := time.Now().UTC()
	// Another room, made later, that nobody joined.
	s.createRoom(t, "bob", signaling.RoomRequest{Name: "retro", Invite: []string{"alice"}})

	// The record is written as the room ends.
	recs := s.roomRecords(t, signaling.RoomRecordsQuery{})
	if len(recs) != 2 || recs[0].Room != "retro" || recs[1].Room != "standup" {
		t.Fatalf("records %s: want retro, then standup", js(recs))
	}
	rec := recs[1]
	if rec.ID != made.ID || rec.Host != "alice" || rec.Status != signaling.RoomRecordEnded ||
		rec.Reason != signaling.EndedByHost || rec.Started == nil || rec.Ended == nil || rec.Started.Before(from) ||
		rec.Ended.After(to) || !slices.Equal(rec.Participants, []string{"alice", "bob", "carol"}) ||
		rec.Node != s.cfg.NodeName {
		t.Fatalf("record %s", js(rec))
	}
	wantEntries(t, rec, from, to,
		entry(signaling.EventRoomStarted, "", "", ""),
		entry(signaling.EventParticipantJoined, "alice", "", ""),
		entry(signaling.EventParticipantJoined, "bob", "", ""),
		entry(signaling.EventParticipantJoined, "carol", "", ""),
		entry(signaling.EntryMuted, "bob", "alice", ""),
		entry(signaling.EntryUnmuted, "bob", "alice", ""),
		entry(signaling.EntryLocked, "", "alice", ""),
		entry(signaling.EventParticipantLeft, "carol", "alice", signaling.LeftRemoved),
		entry(signaling.EventParticipantLeft, "bob", "", signaling.LeftLeft),
		entry(signaling.EventParticipantLeft, "alice", "", signaling.LeftRoomEnded),
		entry(signaling.EventRoomEnded, "", "", signaling.EndedByHost),
	)
	if e := rec.Events[4]; !e.Locked || rec.Events[1].Role != signaling.RoleHost ||
		rec.Events[2].Role != signaling.RoleMember || !rec.Events[0].Time.Equal(rec.Events[1].Time) {
		t.Fatalf("entries %s: want bob's microphone locked, alice host, bob member, the start at alice's join",
			js(rec.Events))
	}
	if r := recs[0]; r.Status != signaling.RoomRecordOpen || len(r.Events) != 0 || r.Started != nil ||
		len(r.Invited) != 1 || r.Invited[0].User != "alice" {
		t.Fatalf("record of a room nobody joined: %s", js(r))
	}

	// Queries.
	names := func(q signaling.RoomRecordsQuery) string {
		var out []string
		for _, r := range s.roomRecords(t, q) {
			out = append(out, r.Room)
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[*signaling.RoomRecordsQuery]string{
		{User: "carol"}:                         "standup",
		{User: "alice"}:                         "retro,standup", // invited to retro
		{User: "dave"}:                          "",
		{Status: signaling.RoomRecordEnded}:     "standup",
		{Status: signaling.RoomRecordOpen}:      "retro",
		{Limit: 1}:                              "retro",
		{Limit: 1, Before: recs[0].Created}:     "standup",
		{Status: signaling.RoomRecordStarted}:   "",
		{User: "bob", Before: recs[1].Created}:  "",
		{User: "bob", Before: recs[0].Created}:  "standup",
		{User: "bob", Status: "open", Limit: 5}: "retro",
	} {
		if got := names(*q); got != want {
			t.Errorf("records %+v: %q, want %q", *q, got, want)
		}
	}
	for _, q := range []string{"status=ringing", "limit=0", "limit=1001", "before=yesterday", "user=no%20body"} {
		st, b := get(t, s.url(signaling.PathRoomRecords+"?"+q), map[string]string{HeaderAPIKey: s.APIKey()})
		apiError(t, st, b, signaling.InvalidParameter)
	}
	st, b := get(t, s.url(signaling.PathRoomRecords), map[string]string{HeaderAPIKey: "wrong"})
	if st != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d %s", st, b)
	}
	// Another team sees none of them.
	team, err := s.adminAPI(s.APIKey()).AddTeam(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if other, err := s.adminAPI(team.APIKey).RoomRecords(t.Context(), signaling.RoomRecordsQuery{}); err != nil ||
		len(other) != 0 {
		t.Fatalf("other team's records: %s %v", js(other), err)
	}
}

// roomHook is a room webhook a receiver got.
type roomHook struct {
	hookRequest
	ev signaling.RoomWebhookEvent
}

// TestRoomWebhooks: a webhook receives room.started, participant.joined,
// participant.left and room.ended of a room of two that ends as its last
// participant leaves, each once, signed with its secret, numbered in the
// order they happened, with their times.
func TestRoomWebhooks(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.Webhooks = WebhookOptions{RetryBase: 50 * time.Millisecond, Workers: 4, Allow: loopback}
	})
	srv, got := startReceiver(t, func(hookRequest) int { return http.StatusNoContent })
	hook, err := s.adminAPI(s.APIKey()).AddWebhook(t.Context(), srv.URL+"/rooms")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().UTC()
	made := s.createRoom(t, "alice", signaling.RoomRequest{Name: "pair"})
	ac, bc := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	pa := joinRoom(t, ac, "pair", 0, false)
	joinRoom(t, bc, "pair", 0, false)
	pa.event(kind(signaling.ParticipantJoined))
	bc.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "pair"})
	pa.event(kind(signaling.ParticipantLeft))
	ac.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "pair"})

	type want struct {
		event, user, reason string
		role                signaling.RoomRole
		in                  int
	}
	wants := []want{
		{signaling.EventRoomStarted, "", "", "", 1},
		{signaling.EventParticipantJoined, "alice", "", signaling.RoleHost, 1},
		{signaling.EventParticipantJoined, "bob", "", signaling.RoleMember, 2},
		{signaling.EventParticipantLeft, "bob", signaling.LeftLeft, "", 1},
		{signaling.EventParticipantLeft, "alice", signaling.LeftLeft, "", 0},
		{signaling.EventRoomEnded, "", signaling.EndedEmpty, "", 0},
	}
	var hooks []roomHook
	for range wants {
		r := nextHook(t, got)
		wantEvent(t, r, hook.Secret)
		h := roomHook{hookRequest: r}
		if err := json.Unmarshal(r.body, &h.ev); err != nil {
			t.Fatal(err)
		}
		hooks = append(hooks, h)
	}
	to := time.Now().UTC()
	waitDrained(t, s)
	select {
	case r := <-got:
		t.Fatalf("one more delivery: %s", r.body)
	default:
	}
	// Deliveries run in parallel: the number in the event id orders them.
	seq := func(h roomHook) int {
		id, n, _ := strings.Cut(h.ev.EventID, ".")
		i, err := strconv.Atoi(n)
		if err != nil || id != made.ID {
			t.Fatalf("event id %q: want %s.N", h.ev.EventID, made.ID)
		}
		return i
	}
	slices.SortFunc(hooks, func(a, b roomHook) int { return seq(a) - seq(b) })
	last, lastSeq := from, 0
	for i, h := range hooks {
		e, w := h.ev, wants[i]
		if e.Event != w.event || e.User != w.user || e.Reason != w.reason || e.Role != w.role ||
			e.Participants != w.in || e.Room != "pair" || e.RoomID != made.ID || e.Host != "alice" ||
			e.Node != s.cfg.NodeName {
			t.Errorf("event %d: %s, want %+v", i+1, h.body, w)
		}
		if e.Time.Before(last) || e.Time.After(to) || seq(h) <= lastSeq {
			t.Errorf("event %d at %s (number %d): out of order after %s (number %d), or after %s", i+1,
				e.Time.Format(time.StampMicro), seq(h), last.Format(time.StampMicro), lastSeq,
				to.Format(time.StampMicro))
		}
		last, lastSeq = e.Time, seq(h)
	}
}

// TestRoomInvites: a room made with invited members rings each of their
// sessions at once; the member who joins answers it (their other session
// stops ringing), one rejects it with room_leave, one lets it ring out
// after the ring timeout; the host, joining, is told how each stands, then
// each status, and the record has them. A session (--at) rings at its
// start, not before.
func TestRoomInvites(t *testing.T) {
	const ringFor = 1500 * time.Millisecond
	s := startServer(t, func(c *Config) { c.RingTimeout = ringFor })
	ac := s.connect(t, "alice", "")
	b1, b2 := s.connect(t, "bob", "b1"), s.connect(t, "bob", "b2")
	cc, dc := s.connect(t, "carol", ""), s.connect(t, "dave", "")
	invited := func(c *client, user string, st signaling.Status) signaling.RoomEvent {
		t.Helper()
		for {
			m := c.nextNotPresence()
			if m.Type != signaling.TypeRoomEvent || m.RoomEvent.Kind != signaling.RoomInvited {
				continue // participant_joined and the like
			}
			e := *m.RoomEvent
			if e.Room != "sync" || e.User != user || e.Status != st || e.By != "alice" || e.Time.IsZero() {
				t.Fatalf("%s: got %s, want %s invited, %s", c.name, js(m), user, st)
			}
			return e
		}
	}
	made := s.createRoom(t, "alice", signaling.RoomRequest{Name: "sync", Invite: []string{"bob", "carol", "dave"}})
	rungAt := time.Now()
	for _, c := range []*client{b1, b2} {
		invited(c, "bob", signaling.Ringing)
	}
	invited(cc, "carol", signaling.Ringing)
	invited(dc, "dave", signaling.Ringing)

	pa := joinRoom(t, ac, "sync", 0, false)
	// Joining after they were rung, the host is told how each invitation
	// stands.
	for _, u := range []string{"bob", "carol", "dave"} {
		invited(ac, u, signaling.Ringing)
	}
	// Bob answers on b1 by joining: b2 stops ringing, alice is told.
	joinRoom(t, b1, "sync", 0, false)
	invited(b2, "bob", signaling.Answered)
	invited(ac, "bob", signaling.Answered)
	// Carol rejects it.
	cc.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: "no", Room: "sync"})
	if e := invited(cc, "carol", signaling.Rejected); e.Reason != ReasonDeclined {
		t.Fatalf("carol: rejected for %q", e.Reason)
	}
	if e := invited(ac, "carol", signaling.Rejected); e.Reason != ReasonDeclined {
		t.Fatalf("alice: carol rejected for %q", e.Reason)
	}
	// Dave lets it ring out.
	e := invited(ac, "dave", signaling.Unanswered)
	rang := time.Since(rungAt)
	if e.Reason != ReasonNoAnswer || rang < ringFor || rang > ringFor+2*time.Second {
		t.Fatalf("dave unanswered after %v (%q), want after the ring timeout of %v", rang, e.Reason, ringFor)
	}
	invited(dc, "dave", signaling.Unanswered)
	// A second leave of carol's is no rejection: she is not rung any more.
	cc.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: "again", Room: "sync"})
	cc.expectError(signaling.NotFoundUserSessionID, "again", "")
	t.Logf("unanswered after %v (ring timeout %v)", rang.Round(time.Millisecond), ringFor)

	ac.send(signaling.Message{Type: signaling.TypeRoomEnd, Room: "sync"})
	pa.event(kind(signaling.RoomEnded))
	var rec signaling.RoomRecord
	for _, r := range s.roomRecords(t, signaling.RoomRecordsQuery{User: "dave"}) {
		if r.ID == made.ID {
			rec = r
		}
	}
	var legs []string
	for _, i := range rec.Invited {
		legs = append(legs, i.User+":"+string(i.Status))
	}
	if strings.Join(legs, ",") != "bob:answered,carol:rejected,dave:unanswered" {
		t.Fatalf("invitations in the record: %v (%s)", legs, js(rec))
	}
	var rings []string
	for _, e := range rec.Events {
		if e.Event == signaling.EntryInvited {
			rings = append(rings, e.User+":"+string(e.Status))
		}
	}
	if strings.Join(rings, ",") != "bob:ringing,carol:ringing,dave:ringing,bob:answered,carol:rejected,"+
		"dave:unanswered" {
		t.Fatalf("invitation entries: %v", rings)
	}

	// A session rings at its start.
	ec := s.connect(t, "erin", "")
	start := time.Now().Add(1500 * time.Millisecond)
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "later", Start: &start, Invite: []string{"erin"}})
	m := ec.nextNotPresence()
	if m.Type != signaling.TypeRoomEvent || m.RoomEvent.Kind != signaling.RoomInvited ||
		m.RoomEvent.Status != signaling.Ringing || m.RoomEvent.Room != "later" {
		t.Fatalf("erin: got %s, want invited ringing to later", js(m))
	}
	if early := time.Until(start); early > 0 {
		t.Fatalf("erin rung %v before the session's start", early)
	}
}

// TestRoomRingSweep: a session whose start passed without its invited
// member rung (the node that made it went away before) is rung by another
// node's sweep; once the invitation rang out with nobody in the room, its
// owner lets it go, and the join that opens it again goes on with the same
// record.
func TestRoomRingSweep(t *testing.T) {
	const ringFor = time.Second
	s := startServer(t, func(c *Config) { c.ringSweep = 100 * time.Millisecond; c.RingTimeout = ringFor })
	bc := s.connect(t, "bob", "")
	now := time.Now().UTC()
	start := now.Add(-2 * time.Second)
	rec := roomRecord{ID: "sweptroom", Team: DefaultTeam, Name: "swept", Host: "alice", Created: now.Add(-time.Hour),
		Start: &start, Invited: []string{"bob"}, Status: roomOpen}
	b, _ := json.Marshal(rec)
	if _, err := s.store.Rooms.Create(t.Context(), store.RoomKey(DefaultTeam, "swept"), b); err != nil {
		t.Fatal(err)
	}
	m := bc.nextNotPresence()
	if m.Type != signaling.TypeRoomEvent || m.RoomEvent.Kind != signaling.RoomInvited || m.RoomEvent.Room != "swept" ||
		m.RoomEvent.Status != signaling.Ringing {
		t.Fatalf("bob: got %s, want invited to swept, ringing", js(m))
	}
	m = bc.nextNotPresence()
	if m.RoomEvent == nil || m.RoomEvent.Status != signaling.Unanswered {
		t.Fatalf("bob: got %s, want the invitation unanswered", js(m))
	}
	// Let go: the record says nobody owns it.
	for deadline := time.Now().Add(patience); ; {
		got, _, _, err := s.readRoom(t.Context(), DefaultTeam, "swept")
		if err != nil {
			t.Fatal(err)
		}
		if got.Node == "" && got.Rung != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room not let go after its invitation rang out: %s", js(got))
		}
		time.Sleep(20 * time.Millisecond) // the record gives no event for it
	}
	ac := s.connect(t, "alice", "")
	pa := joinRoom(t, ac, "swept", 0, false)
	ac.send(signaling.Message{Type: signaling.TypeRoomEnd, Room: "swept"})
	pa.event(kind(signaling.RoomEnded))
	recs := s.roomRecords(t, signaling.RoomRecordsQuery{User: "bob"})
	if len(recs) != 1 || recs[0].ID != "sweptroom" {
		t.Fatalf("records: %s", js(recs))
	}
	wantEntries(t, recs[0], start, time.Now(),
		signaling.RoomEntry{Event: signaling.EntryInvited, User: "bob", By: "alice"},
		signaling.RoomEntry{Event: signaling.EntryInvited, User: "bob", By: "alice", Reason: ReasonNoAnswer},
		entry(signaling.EventRoomStarted, "", "", ""),
		entry(signaling.EventParticipantJoined, "alice", "", ""),
		entry(signaling.EventParticipantLeft, "alice", "", signaling.LeftRoomEnded),
		entry(signaling.EventRoomEnded, "", "", signaling.EndedByHost),
	)
	// A room rings once: the sweep does not ring it again.
	bc.ping("after")
}

// TestRoomRecordBounded: a very long room's record keeps its first
// entries, then leaves out mutes and locks, then all but its end, and
// counts what it left out; the entries' numbers go on.
func TestRoomRecordBounded(t *testing.T) {
	h := newHistory(roomRecord{ID: "r", Name: "long", Host: "alice"})
	for range maxRoomEntries {
		h.add(signaling.RoomEntry{Event: signaling.EntryMuted})
	}
	if seq := h.add(signaling.RoomEntry{Event: signaling.EntryMuted}); seq != maxRoomEntries+1 ||
		len(h.Events) != maxRoomEntries || h.Dropped != 1 {
		t.Fatalf("past %d: number %d, %d entries, %d dropped", maxRoomEntries, seq, len(h.Events), h.Dropped)
	}
	// The longest entries there may be: ids of 64 characters, names of 64
	// four-byte ones.
	long := signaling.RoomEntry{Event: signaling.EventParticipantLeft, Time: time.Now(),
		User: strings.Repeat("u", signaling.MaxIDLength), Name: strings.Repeat("𝄞", signaling.MaxNameLength),
		By: strings.Repeat("b", signaling.MaxIDLength), Reason: signaling.LeftDisconnected,
		Role: signaling.RoleListener}
	for len(h.Events) < maxRoomAll {
		h.add(long)
	}
	h.add(signaling.RoomEntry{Event: signaling.EventParticipantLeft})
	seq := h.add(signaling.RoomEntry{Event: signaling.EventRoomEnded})
	if len(h.Events) != maxRoomAll+1 || h.Dropped != 2 || seq != h.Seq ||
		h.Events[maxRoomAll].Event != signaling.EventRoomEnded {
		t.Fatalf("past %d: %d entries, %d dropped, last %s", maxRoomAll, len(h.Events), h.Dropped,
			h.Events[len(h.Events)-1].Event)
	}
	b, _ := json.Marshal(h)
	if len(b) > 1<<20 {
		t.Fatalf("a full record is %d bytes, over NATS's 1 MB message", len(b))
	}
	t.Logf("a full record of the longest entries: %d bytes", len(b))
}
