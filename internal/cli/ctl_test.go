package cli

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// TestDialControlNewest: with several parleys' sockets, dialControl
// reaches the newest, or the one of --pid; a socket nobody listens on any
// more is skipped and removed; with none it is refused with 80402.
func TestDialControlNewest(t *testing.T) {
	dir := t.TempDir()
	listen := func(name string, at time.Time) *net.UnixListener {
		t.Helper()
		path := filepath.Join(dir, name)
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
		return ln
	}
	// reached says which listener took dialControl's connection.
	reached := func(pid int, lns ...*net.UnixListener) int {
		t.Helper()
		c, err := dialControl(dir, pid)
		if err != nil {
			t.Fatalf("dialControl(pid %d): %v", pid, err)
		}
		defer c.Close()
		for i, ln := range lns {
			if err := ln.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if a, err := ln.Accept(); err == nil {
				a.Close()
				return i
			}
		}
		return -1
	}
	now := time.Now()
	old := listen("100.sock", now.Add(-time.Hour))
	newer := listen("200.sock", now.Add(-time.Minute))
	gone := listen("300.sock", now)
	gone.SetUnlinkOnClose(false)
	gone.Close() // its parley died: the file stays, nobody listens
	if got := reached(0, old, newer); got != 1 {
		t.Errorf("the newest reached: listener %d, want 1 (200.sock)", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "300.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead parley's socket stays: %v", err)
	}
	if got := reached(100, old, newer); got != 0 {
		t.Errorf("--pid 100 reached listener %d, want 0 (100.sock)", got)
	}

	var se *signaling.Error
	if _, err := dialControl(t.TempDir(), 0); !errors.As(err, &se) || se.Code != signaling.NoConnectedSession {
		t.Errorf("no parley running: %v, want 80402", err)
	}
	if _, err := dialControl(dir, 999); !errors.As(err, &se) || se.Code != signaling.NoConnectedSession {
		t.Errorf("--pid of no parley: %v, want 80402", err)
	}
}

// TestStatusLinesRoom: a status with the room is a line for the room (its
// role, mute, lock and quality) and one for each participant, the grade of
// their connection when the server sent one.
func TestStatusLinesRoom(t *testing.T) {
	st := call.Snapshot{Room: &call.RoomState{Name: "standup", Joined: true, Role: signaling.RoleHost, Muted: true,
		Locked: true, Stats: &call.Stats{MOS: 4.38, RTT: 2 * time.Millisecond},
		Participants: []signaling.Participant{{User: "alice", Role: signaling.RoleHost, Muted: true},
			{User: "bob", Name: "Bob", Role: signaling.RoleMember, Muted: true, MicLocked: true}},
		Grades: map[string]signaling.Quality{"bob": {User: "bob", Grade: signaling.GradePoor}}}}
	got := strings.Join(statusLines(statusReply(st, "")), "\n")
	want := "room standup (host), muted, locked, quality good (MOS 4.4, 2 ms, 0.0% lost)\n" +
		"  alice (host), muted\n" +
		"  Bob (bob) (member), muted by the host, poor"
	if got != want {
		t.Errorf("status lines:\n%s\nwant:\n%s", got, want)
	}
	if got := statusLines(statusReply(call.Snapshot{}, "")); len(got) != 1 || got[0] != "no call in progress" {
		t.Errorf("status lines with nothing: %q", got)
	}
}
