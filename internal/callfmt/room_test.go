package callfmt_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// aRoom is what alice's phone reports in room standup: she joins as a
// member beside her host carol, bob (whose name has an escape sequence)
// joins, three speak, their connections are rated, carol mutes and locks
// her, her unmute is refused, bob leaves, dave is removed, the room is
// locked, and carol removes her.
func aRoom() []call.Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	yes, no := true, false
	ev := func(at time.Duration, e signaling.RoomEvent) call.RoomChanged {
		e.Room, e.Time = "standup", t0.Add(at)
		return call.RoomChanged{RoomEvent: e}
	}
	return []call.Event{
		ev(0, signaling.RoomEvent{Kind: signaling.RoomJoined, User: "alice", Role: signaling.RoleMember,
			Participants: []signaling.Participant{
				{User: "carol", Name: "Carol", Role: signaling.RoleHost, Joined: t0.Add(-time.Minute)},
				{User: "alice", Role: signaling.RoleMember, Joined: t0},
			}}),
		ev(time.Second, signaling.RoomEvent{Kind: signaling.ParticipantJoined, User: "bob", Name: "Bob\x1b[2J",
			Role: signaling.RoleListener}),
		call.RoomLevels{Room: "standup", Heard: map[string]float64{"bob": 0.5}}, // never shown
		ev(2*time.Second, signaling.RoomEvent{Kind: signaling.RoomSpeaking, Slots: []string{"carol", "", "bob"}}),
		call.RoomStats{Room: "standup", Stats: call.Stats{MOS: 4.4}}, // never shown
		ev(2*time.Second, signaling.RoomEvent{Kind: signaling.RoomQuality, Quality: []signaling.Quality{
			{User: "alice", Grade: signaling.GradeGood, JitterMs: 0.3, RTTMs: 0.1, MOS: 4.38},
			{User: "bob", Grade: signaling.GradePoor, Problems: []string{signaling.WarnHighLoss, signaling.WarnLowMOS},
				Loss: 0.105, JitterMs: 0.7, RTTMs: 0.2, MOS: 3.06},
		}}),
		ev(3*time.Second, signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "carol", Muted: &yes,
			Locked: &yes}),
		call.RoomFailure{Room: "standup", Err: signaling.Errorf(signaling.PermissionDenied,
			"the host locked your microphone: ask them to unmute you")},
		ev(4*time.Second, signaling.RoomEvent{Kind: signaling.RoomMuted, User: "bob", Muted: &no}),
		ev(4*time.Second, signaling.RoomEvent{Kind: signaling.RoomMuted, User: "alice", By: "carol", Muted: &no}),
		ev(5*time.Second, signaling.RoomEvent{Kind: signaling.RoomSpeaking}),
		ev(6*time.Second, signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "bob",
			Reason: signaling.LeftLeft}),
		ev(7*time.Second, signaling.RoomEvent{Kind: signaling.ParticipantLeft, User: "dave",
			Reason: signaling.LeftRemoved}),
		ev(8*time.Second, signaling.RoomEvent{Kind: signaling.RoomLocked, By: "carol", Locked: &yes}),
		ev(9*time.Second, signaling.RoomEvent{Kind: signaling.RoomRemoved, User: "alice", By: "carol"}),
		call.RoomLeft{Room: "standup", Reason: signaling.LeftRemoved},
	}
}

// TestRoomText: a line for people per room event, names from the events
// (escaped), "you" for the user, refusals on stderr.
func TestRoomText(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, false, time.Second)
	for _, ev := range aRoom() {
		p.Print(ev)
	}
	want := `joined room standup as member; here: Carol (carol) (host)
Bob\x1b[2J (bob) joined (listener)
speaking: Carol (carol), Bob\x1b[2J (bob)
connection: you good, Bob\x1b[2J (bob) poor (high-packet-loss 10.5 %, low-mos 3.1)
Carol (carol) muted you and locked your microphone: only the host can unmute you
Bob\x1b[2J (bob) is unmuted
Carol (carol) lets you speak: unmute yourself to be heard
nobody is speaking
Bob\x1b[2J (bob) left
dave was removed
Carol (carol) locked the room
Carol (carol) removed you from room standup
`
	if got := out.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
	wantErr := "parley: permission_denied (80802): the host locked your microphone: ask them to unmute you\n"
	if got := errOut.String(); got != wantErr {
		t.Errorf("printed on stderr %q, want %q", got, wantErr)
	}

	out.Reset()
	p.Print(call.RoomLeft{Room: "standup", Reason: signaling.LeftLeft})
	p.Print(call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomEnded, Room: "standup",
		Reason: signaling.EndedByHost}})
	if want := "you left room standup\nroom standup ended: ended by host\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

// TestRoomJSON: the --json line of each room event, as the README shows
// them: named by kind, with the server's time and the fields the kind has;
// room_left last; refusals as error events with the room.
func TestRoomJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, true, time.Second)
	p.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC) }
	for _, ev := range aRoom() {
		p.Print(ev)
	}
	const t0, now = `"time":"2026-01-02T03:04:0`, `"time":"2026-01-02T03:05:00.000Z"`
	want := []string{
		`{"event":"joined",` + t0 + `5.000Z","room":"standup","user":"alice","role":"member","participants":[` +
			`{"user":"carol","name":"Carol","role":"host","joined":"2026-01-02T03:03:05Z"},` +
			`{"user":"alice","role":"member","joined":"2026-01-02T03:04:05Z"}]}`,
		`{"event":"participant_joined",` + t0 + `6.000Z","room":"standup","user":"bob","name":"Bob\u001b[2J",` +
			`"role":"listener"}`,
		`{"event":"speaking",` + t0 + `7.000Z","room":"standup","slots":["carol","","bob"]}`,
		`{"event":"quality",` + t0 + `7.000Z","room":"standup","quality":[{"user":"alice","grade":"good","loss":0,` +
			`"jitter_ms":0.3,"rtt_ms":0.1,"mos":4.38},{"user":"bob","grade":"poor","problems":["high-packet-loss",` +
			`"low-mos"],"loss":0.105,"jitter_ms":0.7,"rtt_ms":0.2,"mos":3.06}]}`,
		`{"event":"muted",` + t0 + `8.000Z","room":"standup","user":"alice","by":"carol","muted":true,"locked":true}`,
		`{"event":"error",` + now + `,"room":"standup","code":80802,"name":"permission_denied",` +
			`"message":"the host locked your microphone: ask them to unmute you"}`,
		`{"event":"muted",` + t0 + `9.000Z","room":"standup","user":"bob","muted":false}`,
		`{"event":"muted",` + t0 + `9.000Z","room":"standup","user":"alice","by":"carol","muted":false}`,
		`{"event":"speaking","time":"2026-01-02T03:04:10.000Z","room":"standup","slots":[]}`,
		`{"event":"participant_left","time":"2026-01-02T03:04:11.000Z","room":"standup","user":"bob",` +
			`"reason":"left"}`,
		`{"event":"participant_left","time":"2026-01-02T03:04:12.000Z","room":"standup","user":"dave",` +
			`"reason":"removed"}`,
		`{"event":"locked","time":"2026-01-02T03:04:13.000Z","room":"standup","by":"carol","locked":true}`,
		`{"event":"removed","time":"2026-01-02T03:04:14.000Z","room":"standup","user":"alice","by":"carol"}`,
		`{"event":"room_left",` + now + `,"room":"standup","reason":"removed"}`,
	}
	if errOut.Len() > 0 {
		t.Errorf("printed on stderr %q, want nothing", errOut.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
		}
	}

	out.Reset()
	p.Print(call.RoomLeft{Room: "standup", Reason: call.RoomLeftFailed,
		Err: signaling.Errorf(signaling.UnknownError, "the media connection to the room failed")})
	if want := `{"event":"room_left",` + now + `,"room":"standup","reason":"failed","error":{"code":80999,` +
		`"name":"unknown_error","message":"the media connection to the room failed"}}` + "\n"; out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

// TestRoomLobbyEvents: the lobby's events, for people (with the commands
// of join --commands that answer a knock) and as JSON lines.
func TestRoomLobbyEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	evs := []signaling.RoomEvent{
		{Kind: signaling.RoomJoined, User: "alice", Role: signaling.RoleMember},
		{Kind: signaling.RoomKnock, User: "guest-d1", Name: "Dana", Role: signaling.RoleGuest},
		{Kind: signaling.RoomAdmitted, User: "guest-d1", Name: "Dana", Role: signaling.RoleGuest, By: "alice"},
		{Kind: signaling.RoomKnock, User: "guest-e2", Name: "Eve", Role: signaling.RoleGuest},
		{Kind: signaling.RoomTurnedAway, User: "guest-e2", Name: "Eve", Role: signaling.RoleGuest, By: "carol"},
	}
	var text, js, errOut bytes.Buffer
	pt := callfmt.NewPrinter(&text, &errOut, false, time.Second)
	pj := callfmt.NewPrinter(&js, &errOut, true, time.Second)
	for _, e := range evs {
		e.Room, e.Time = "clinic", t0
		pt.Print(call.RoomChanged{RoomEvent: e})
		pj.Print(call.RoomChanged{RoomEvent: e})
	}
	want := `joined room clinic as member; nobody else is here yet
guest Dana (guest-d1) is waiting in the lobby: let them in (admit guest-d1) or turn them away (deny guest-d1)
you let guest Dana (guest-d1) in
guest Eve (guest-e2) is waiting in the lobby: let them in (admit guest-e2) or turn them away (deny guest-e2)
carol turned guest Eve (guest-e2) away
`
	if got := text.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
	const at = `"time":"2026-01-02T03:04:05.000Z","room":"clinic"`
	wantJSON := []string{
		`{"event":"joined",` + at + `,"user":"alice","role":"member"}`,
		`{"event":"lobby_knock",` + at + `,"user":"guest-d1","name":"Dana","role":"guest"}`,
		`{"event":"admitted",` + at + `,"user":"guest-d1","name":"Dana","role":"guest","by":"alice"}`,
		`{"event":"lobby_knock",` + at + `,"user":"guest-e2","name":"Eve","role":"guest"}`,
		`{"event":"turned_away",` + at + `,"user":"guest-e2","name":"Eve","role":"guest","by":"carol"}`,
	}
	if got, want := js.String(), strings.Join(wantJSON, "\n")+"\n"; got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr %q", errOut.String())
	}
}

// TestRoomRejoining: the line that says the phone lost the room and joins
// it again, for people and as JSON.
func TestRoomRejoining(t *testing.T) {
	ev := call.RoomRejoining{Room: "standup", Reason: "lost the connection to the server"}
	var out, errOut bytes.Buffer
	callfmt.NewPrinter(&out, &errOut, false, time.Second).Print(ev)
	if want := "lost room standup (lost the connection to the server): joining it again\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	out.Reset()
	p := callfmt.NewPrinter(&out, &errOut, true, time.Second)
	p.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC) }
	p.Print(ev)
	if want := `{"event":"room_rejoining","time":"2026-01-02T03:05:00.000Z","room":"standup",` +
		`"reason":"lost the connection to the server"}` + "\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	if errOut.Len() > 0 {
		t.Errorf("printed on stderr %q, want nothing", errOut.String())
	}
}

// TestGrewPrinted: a call's growth into a room, for people and as JSON;
// the call's end as it moved says so.
func TestGrewPrinted(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []call.Event{
		call.Grew{CallID: "c1", Room: "call-ab12cd34", Peer: "alice"},
		call.Grew{CallID: "c1", Room: "call-ab12cd34", Peer: "bob", Host: true},
		call.RoomChanged{RoomEvent: signaling.RoomEvent{Kind: signaling.RoomInvited, Room: "call-ab12cd34", Time: t0,
			User: "carol", By: "alice", Status: signaling.Ringing, Call: "c1"}},
		call.StatusChanged{CallEvent: signaling.CallEvent{ID: "c1", Status: signaling.Completed,
			Direction: signaling.Outbound, From: "alice", To: "bob", Reason: signaling.ReasonMovedToRoom}, At: t0},
	}
	var text, js, errOut bytes.Buffer
	pt := callfmt.NewPrinter(&text, &errOut, false, time.Second)
	pj := callfmt.NewPrinter(&js, &errOut, true, time.Second)
	for _, ev := range events {
		pt.Print(ev)
		pj.Print(ev)
	}
	for _, want := range []string{"alice added people: the call moves into room call-ab12cd34\n",
		"the call moves into room call-ab12cd34, of which you are the host\n", "completed: moved to room\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text has no %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{`{"event":"grew","time":`,
		`"id":"c1","room":"call-ab12cd34","peer":"bob","host":true}`, `"status":"ringing","call":"c1"}`,
		`"reason":"moved to room"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("the JSON has no %s:\n%s", want, js.String())
		}
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
}
