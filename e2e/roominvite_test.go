//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRoomInvitation: a session made with `parley room create --at
// --invite` rings its invited members' phones at its start, not before:
// bob's `parley answer` answers by joining the room, carol's `parley
// answer --reject` rejects it (exit 3), dave, offline, lets it ring out
// (the server's --ring-timeout). The host, in the room with `parley join
// --json`, is told each status; `parley admin rooms --json` has them in the
// room's record, with the joins, the leaves and the end.
func TestRoomInvitation(t *testing.T) {
	const ringFor = 2 * time.Second
	w := newWorld(t, "--ring-timeout", ringFor.String())
	env := map[string][]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		env[u] = []string{"PARLEY_TOKEN=" + w.token(u)}
	}
	media := []string{"--in", "silence", "--out", "null", "--json"}
	start := time.Now().Add(6 * time.Second).Truncate(time.Second)
	if out, code := w.run(env["alice"], "room", "create", "sync", "--at", start.Format(time.RFC3339),
		"--invite", "bob,carol,dave"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}
	host := w.start(env["alice"], append([]string{"join", "sync"}, media...)...)
	bob := w.start(env["bob"], append([]string{"answer"}, media...)...)
	carol := w.start(env["carol"], append([]string{"answer", "--reject"}, media...)...)
	// until reads a process's events up to the first named name with the
	// fields of want, skipping the others; an error event fails the test.
	until := func(p *proc, name string, want map[string]any) map[string]any {
		t.Helper()
		for {
			ev := p.event(t)
			if ev["event"] == "error" {
				t.Fatalf("%v: %v", p.cmd.Args[1:], ev)
			}
			if ev["event"] != name {
				continue
			}
			ok := true
			for k, v := range want {
				ok = ok && ev[k] == v
			}
			if ok {
				return ev
			}
		}
	}
	until(host, "joined", map[string]any{"role": "host"})
	until(bob, "connected", nil)
	until(carol, "connected", nil)

	ring := until(bob, "invited", map[string]any{"room": "sync", "user": "bob", "status": "ringing", "by": "alice"})
	rungAt, err := time.Parse(time.RFC3339Nano, ring["time"].(string))
	if err != nil || rungAt.Before(start) || rungAt.After(start.Add(2*time.Second)) {
		t.Fatalf("bob rung at %v (%v), want at the session's start %v", ring["time"], err, start)
	}
	until(bob, "joined", map[string]any{"room": "sync", "user": "bob", "role": "member"})
	until(carol, "invited", map[string]any{"room": "sync", "user": "carol", "status": "ringing"})
	until(carol, "invited", map[string]any{"room": "sync", "user": "carol", "status": "rejected"})
	if code := carol.wait(t); code != 3 {
		t.Fatalf("parley answer --reject: exit %d, want 3 (rejected); stderr: %s", code, carol.stderr.String())
	}

	// The host hears of each status; bob's answer and carol's rejection
	// may come in either order, dave's ring out comes last.
	var told []string
	var out map[string]any
	for out == nil {
		ev := until(host, "invited", nil)
		reason, _ := ev["reason"].(string)
		told = append(told, strings.TrimSpace(fmt.Sprint(ev["user"], " ", ev["status"], " ", reason)))
		if ev["user"] == "dave" && ev["status"] == "unanswered" {
			out = ev
		}
	}
	slices.Sort(told)
	if got := strings.Join(told, ","); got != "bob answered,bob ringing,carol rejected declined,carol ringing,"+
		"dave ringing,dave unanswered no answer" {
		t.Fatalf("the host was told %s", got)
	}
	outAt, _ := time.Parse(time.RFC3339Nano, out["time"].(string))
	if rang := outAt.Sub(rungAt); rang < ringFor || rang > ringFor+1500*time.Millisecond {
		t.Fatalf("dave's invitation rang %v, want the ring timeout of %v", rang, ringFor)
	}
	t.Logf("rung %v after the start; dave unanswered after %v", rungAt.Sub(start), outAt.Sub(rungAt))

	if out, code := w.run(env["alice"], "room", "end", "sync"); code != exitOK {
		t.Fatalf("parley room end: exit %d: %s", code, out)
	}
	for _, p := range []*proc{host, bob} {
		until(p, "room_ended", map[string]any{"reason": "ended by host"})
		if code := p.wait(t); code != exitOK {
			t.Fatalf("%v: exit %d after the end, want 0", p.cmd.Args[1:], code)
		}
	}

	js, code := w.run(nil, "admin", "rooms", "--user", "dave", "--json")
	var recs struct {
		Rooms []struct {
			Room    string `json:"room"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Invited []struct {
				User, Status string
			} `json:"invited"`
			Events []struct {
				Event, User, Status, Reason string
			} `json:"events"`
		} `json:"rooms"`
	}
	if code != exitOK || json.Unmarshal([]byte(js), &recs) != nil || len(recs.Rooms) != 1 {
		t.Fatalf("parley admin rooms: exit %d: %s", code, js)
	}
	r := recs.Rooms[0]
	var legs, entries []string
	for _, i := range r.Invited {
		legs = append(legs, i.User+":"+i.Status)
	}
	for _, e := range r.Events {
		entries = append(entries, strings.TrimRight(e.Event+" "+e.User+" "+e.Status+" "+e.Reason, " "))
	}
	want := []string{
		"participant.invited bob ringing", "participant.invited carol ringing", "participant.invited dave ringing",
		"participant.invited bob answered", "participant.invited carol rejected declined",
		"participant.invited dave unanswered no answer",
		"participant.left alice  room ended", "participant.left bob  room ended", "room.ended   ended by host",
	}
	// The host joined before the start: the record begins with her.
	head := []string{"room.started", "participant.joined alice", "participant.joined bob"}
	if r.Room != "sync" || r.Status != "ended" || r.Reason != "ended by host" ||
		strings.Join(legs, ",") != "bob:answered,carol:rejected,dave:unanswered" ||
		len(entries) != len(head)+len(want) {
		t.Fatalf("record: %s", js)
	}
	// carol's rejection may come before bob's join or after his answer.
	rejected := "participant.invited carol rejected declined"
	if i := slices.Index(entries, rejected); i < 0 {
		t.Fatalf("record's entries lack %q: %v", rejected, entries)
	} else {
		entries = slices.Delete(entries, i, i+1)
	}
	got := strings.Join(entries, "|")
	// bob's join comes between his ringing and his answer.
	wantAll := strings.Join([]string{head[0], head[1], want[0], want[1], want[2], head[2], want[3], want[5],
		want[6], want[7], want[8]}, "|")
	if got != wantAll {
		t.Fatalf("record's entries:\n got  %s\n want %s", got, wantAll)
	}
}
