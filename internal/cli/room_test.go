package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/roomtest"
	"github.com/parley-voice/parley/internal/syncbuf"
	"github.com/parley-voice/parley/signaling"
)

// TestRoomUsage: what is wrong with a room command line is said (exit 2,
// with the 80101 message for a room name) before signing in: the server is
// down, and no token is needed to be told. A good command line then gets
// as far as the server (exit 7).
func TestRoomUsage(t *testing.T) {
	down := closedAddr(t)
	missing := filepath.Join(t.TempDir(), "commands")
	badName := `parley: invalid_parameter (80101): room name "Stand Up" is not valid: use 1 to 64 lower-case ` +
		`letters, digits and - _ ., starting with a letter or digit (for example standup or team-sync)`
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // its first line
	}{
		{[]string{"join", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "create", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "show", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "end", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"join"}, exitUsage, "parley: accepts 1 arg(s), received 0"},
		{[]string{"join", "standup", "--commands", missing, "--server", down}, exitUsage,
			"parley: --commands: open " + missing + ": no such file or directory"},
		{[]string{"join", "standup", "--for", "-1s", "--server", down}, exitUsage,
			"parley: --for -1s: use a positive duration"},
		{[]string{"join", "standup", "--server", down, "--in", "tone:abc", "--out", "null"}, exitUsage,
			`parley: --in: audio: bad spec: source "tone:abc": tone:HZ needs a frequency between 0 and 24000 Hz`},
		{[]string{"room", "create", "standup", "--at", "noon", "--server", down}, exitUsage,
			`parley: --at "noon": use 15:04, 2006-01-02 15:04 or RFC 3339 (2006-01-02T15:04:05Z)`},
		{[]string{"room", "create", "standup", "--for", "-5m", "--server", down}, exitUsage,
			"parley: --for -5m0s: use a positive duration, such as 45m"},
		{[]string{"room", "create", "standup", "--invite", "bob,..eve", "--server", down}, exitUsage,
			`parley: invalid_parameter (80101): --invite: user id "..eve" is not valid`},
		{[]string{"room", "create", "standup", "--guest", " ", "--server", down}, exitUsage,
			"parley: invalid_parameter (80101): --guest is empty"},
		{[]string{"room", "create", "standup", "--guest-ttl", "1h", "--server", down}, exitUsage,
			"parley: --guest-ttl is for the links of --guest: name a guest"},
		{[]string{"join", "standup", "--token", "t", "--server", down, "--in", "silence", "--out", "null"},
			exitNoServer, "parley: could not reach the server at " + down},
		{[]string{"room", "list", "--token", "t", "--server", down}, exitNoServer,
			"parley: could not reach the server at " + down},
		{[]string{"room", "create", "standup", "--for", "45m", "--token", "t", "--server", down}, exitNoServer,
			"parley: could not reach the server at " + down},
	} {
		out, errOut, code := run(t, tc.args...)
		first, _, _ := strings.Cut(errOut, "\n")
		if code != tc.code || !strings.HasPrefix(first, tc.stderr) || out != "" {
			t.Errorf("parley %s: exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout, stderr %q…",
				strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.stderr)
		}
	}
}

// TestParseAt: --at's forms, a bare time being the next one.
func TestParseAt(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, loc)
	for in, want := range map[string]time.Time{
		"15:30":                now.Add(90 * time.Minute),
		"13:00":                time.Date(2026, 12, 8, 13, 0, 0, 0, loc),
		"2026-12-09 09:15":     time.Date(2026, 12, 9, 9, 15, 0, 0, loc),
		"2026-12-09T09:15:00Z": time.Date(2026, 12, 9, 9, 15, 0, 0, time.UTC),
	} {
		got, err := parseAt(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseAt(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// joinRun runs `parley join standup` with more args against a room played
// by roomtest, in the background; cancel interrupts it (SIGINT), printed
// waits until it has printed s.
func joinRun(t *testing.T, more ...string) (stub *roomtest.Signaling, cancel func(), printed func(s string),
	result func() (stdout, stderr string, code int)) {
	t.Helper()
	stub = roomtest.NewSignaling(t, "alice")
	dir := t.TempDir()
	env := map[string]string{
		"PARLEY_CONFIG":  filepath.Join(dir, "config.json"),
		"XDG_STATE_HOME": filepath.Join(dir, "state"),
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	var out, errOut syncbuf.Buffer
	done := make(chan int, 1)
	args := append([]string{"join", "standup", "--server", stub.URL, "--token", "t", "--in", "tone:440", "--out",
		"null"}, more...)
	go func() {
		done <- Main(ctx, args, &out, &errOut, func(k string) string { return env[k] }, nil)
	}()
	printed = func(s string) {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for timeout := time.After(10 * time.Second); !strings.Contains(out.String(), s); {
			select {
			case <-tick.C:
			case <-timeout:
				t.Fatalf("printed no %q within 10 s:\n%s", s, out.String())
			}
		}
	}
	return stub, cancel, printed, func() (string, string, int) {
		t.Helper()
		select {
		case code := <-done:
			return out.String(), errOut.String(), code
		case <-time.After(15 * time.Second):
			t.Fatalf("parley %s: still running after 15 s; stdout:\n%s", strings.Join(args, " "), out.String())
		}
		return "", "", 0
	}
}

// answerJoin answers the room_join as the room's node, as a member.
func answerJoin(t *testing.T, stub *roomtest.Signaling) signaling.Message {
	t.Helper()
	join := stub.Expect(signaling.TypeRoomJoin)
	_, answer := roomtest.NewNode(t, join.SDP, [signaling.RoomSlots]int64{600, 1000, 1500})
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice",
		Role: signaling.RoleMember}, answer)
	return join
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// events are the "event" of each --json line of out.
func events(t *testing.T, out string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Event, Time, Room, Reason string
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Time == "" {
			t.Errorf("not a JSON event with its time: %s (%v)", l, err)
		}
		if ev.Event != "connected" && ev.Room != "standup" {
			t.Errorf("an event of no room: %s", l)
		}
		names = append(names, ev.Event+"/"+ev.Reason)
	}
	return names
}

// TestJoin drives `parley join` as a script does, against a room played by
// roomtest: --for leaves (room_leave) and exits 0; an interrupt leaves and
// exits 0; a removal exits 3 and says who removed you; a refused join
// exits 6 with the error; the --json lines are the events, room_left last.
func TestJoin(t *testing.T) {
	t.Run("for", func(t *testing.T) {
		stub, _, _, result := joinRun(t, "--json", "--for", "500ms", "--muted")
		if join := answerJoin(t, stub); join.Muted == nil || !*join.Muted || join.ListenOnly {
			t.Errorf("room_join: muted %v, listen_only %v; want true, false", join.Muted, join.ListenOnly)
		}
		stub.Expect(signaling.TypeRoomLeave)
		out, errOut, code := result()
		want := []string{"connected/", "joined/", "room_left/left"}
		if got := events(t, out); code != exitOK || errOut != "" || !slices.Equal(got, want) {
			t.Errorf("exit %d, events %v, stderr %q; want 0, %v, nothing", code, got, errOut, want)
		}
	})
	t.Run("interrupt", func(t *testing.T) {
		stub, interrupt, printed, result := joinRun(t, "--json", "--listen-only")
		if join := answerJoin(t, stub); !join.ListenOnly {
			t.Errorf("room_join: listen_only false")
		}
		stub.Event(signaling.RoomEvent{Kind: signaling.RoomSpeaking, Room: "standup", Slots: []string{"bob"}}, "")
		stub.Event(signaling.RoomEvent{Kind: signaling.ParticipantLeft, Room: "standup", User: "bob",
			Reason: signaling.LeftDisconnected}, "")
		printed(`"event":"participant_left"`)
		interrupt()
		stub.Expect(signaling.TypeRoomLeave)
		out, _, code := result()
		want := []string{"connected/", "joined/", "speaking/", "participant_left/disconnected", "room_left/left"}
		if got := events(t, out); code != exitOK || !slices.Equal(got, want) {
			t.Errorf("exit %d, events %v; want 0, %v", code, got, want)
		}
	})
	t.Run("removed", func(t *testing.T) {
		stub, _, _, result := joinRun(t)
		answerJoin(t, stub)
		stub.Event(signaling.RoomEvent{Kind: signaling.ParticipantJoined, Room: "standup", User: "carol",
			Name: "Carol\x1b[31m", Role: signaling.RoleHost}, "")
		stub.Event(signaling.RoomEvent{Kind: signaling.RoomRemoved, Room: "standup", User: "alice", By: "carol"}, "")
		out, errOut, code := result()
		want := "signed in as alice\njoined room standup as member; nobody else is here yet\n" +
			"Carol\\x1b[31m (carol) joined (host)\nCarol\\x1b[31m (carol) removed you from room standup\n"
		if code != exitRemoved || out != want || errOut != "" {
			t.Errorf("exit %d, stdout\n%s\nstderr %q; want exit %d, stdout\n%s", code, out, errOut, exitRemoved, want)
		}
	})
	t.Run("commands", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "commands")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		stub, _, printed, result := joinRun(t, "--json", "--commands", fifo)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // once parley opens it
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		answerJoin(t, stub)
		printed(`"event":"joined"`)
		yes := true
		for _, tc := range []struct {
			line string
			want signaling.Message
		}{
			{"mute bob lock", signaling.Message{Type: signaling.TypeRoomMute, Target: "bob", Muted: &yes,
				Locked: &yes}},
			{"remove carol", signaling.Message{Type: signaling.TypeRoomRemove, Target: "carol"}},
			{"admit guest-dana", signaling.Message{Type: signaling.TypeRoomAdmit, Target: "guest-dana"}},
			{"deny guest-eve", signaling.Message{Type: signaling.TypeRoomDeny, Target: "guest-eve"}},
			{"lock", signaling.Message{Type: signaling.TypeRoomLock, Locked: &yes}},
			{"mute", signaling.Message{Type: signaling.TypeRoomMute, Muted: &yes}},
			{"end", signaling.Message{Type: signaling.TypeRoomEnd}},
		} {
			if _, err := w.WriteString(tc.line + "\n"); err != nil {
				t.Fatal(err)
			}
			got := stub.Expect(tc.want.Type)
			got.Ref, tc.want.Room = "", "standup"
			if g, _ := json.Marshal(got); string(g) != string(must(json.Marshal(tc.want))) {
				t.Errorf("%q sent %s, want %s", tc.line, g, must(json.Marshal(tc.want)))
			}
		}
		if _, err := w.WriteString("dance\n"); err != nil {
			t.Fatal(err)
		}
		printed(`"event":"error"`)
		stub.Event(signaling.RoomEvent{Kind: signaling.RoomEnded, Room: "standup", Reason: signaling.EndedByHost}, "")
		out, _, code := result()
		want := []string{"connected/", "joined/", "error/", "room_ended/ended by host", "room_left/ended"}
		if got := events(t, out); code != exitOK || !slices.Equal(got, want) ||
			!strings.Contains(out, `"code":80101`) {
			t.Errorf("exit %d, events %v:\n%s\nwant 0, %v, the error 80101", code, got, out, want)
		}
	})
	t.Run("refused", func(t *testing.T) {
		stub, _, _, result := joinRun(t, "--json")
		join := stub.Expect(signaling.TypeRoomJoin)
		stub.Refuse(join.Ref, signaling.Errorf(signaling.NotFoundUserSessionID,
			"there is no room standup: create it with parley room create standup"))
		out, _, code := result()
		want := []string{"connected/", "error/", "room_left/failed"}
		if got := events(t, out); code != exitError || !slices.Equal(got, want) ||
			!strings.Contains(out, `"code":80102`) {
			t.Errorf("exit %d, events %v:\n%s\nwant %d, %v with 80102", code, got, out, exitError, want)
		}
	})
}
