//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-voice/parley/signaling"
)

// The call history of issue 18, with real parley processes against
// `parley serve`.

// TestMissedOnTwoDevices: Alice calls Bob twice while he is offline (each
// refused 80404); the server restarts; Bob's two devices, as they connect
// (`parley answer`), each say "2 missed calls while you were away: Alice
// (2)"; once `parley history` on the phone has listed them, they are seen
// on the laptop too: its history marks none new, and its next sign-in says
// nothing. The laptop's TUI says the same line, and its recent calls (the
// server's) count the two new. Alice's history has the two calls as hers,
// outbound.
func TestMissedOnTwoDevices(t *testing.T) {
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	serve := []string{"--data", filepath.Join(w.home, "data"), "--turn-listen", "off", "--room-port", "0"}
	var srv *proc
	w.server, srv = w.startNode(serve...)
	aliceDev, laptop, phone := w.device("alice"), w.device("laptop"), w.device("phone")
	w.login(aliceDev, "alice", "--name", "Alice")
	w.login(laptop, "bob")
	w.login(phone, "bob")
	media := []string{"--in", "silence", "--out", "null", "--json"}

	for range 2 {
		out, code := w.run(aliceDev, append([]string{"call", "bob"}, media...)...)
		if code != exitError || !strings.Contains(out, `"code":80404`) {
			t.Fatalf("alice calls bob, offline: exit %d, want %d with 80404:\n%s", code, exitError, out)
		}
	}

	// The history is in JetStream: it survives a restart.
	srv.cmd.Process.Signal(os.Interrupt)
	if code := srv.wait(t); code != exitOK {
		t.Fatalf("parley serve exited %d", code)
	}
	u, err := url.Parse(w.server)
	if err != nil {
		t.Fatal(err)
	}
	w.startNode(append(serve, "--listen", u.Host)...)

	const notice = "2 missed calls while you were away: Alice (2)"
	for name, dev := range map[string][]string{"laptop": laptop, "phone": phone} {
		p := w.start(dev, append([]string{"answer"}, media...)...)
		p.expect(t, "connected", map[string]any{"user": "bob"})
		if got := p.stderr.String(); strings.Count(got, notice+"\n") != 1 {
			t.Errorf("bob's %s as it connects: stderr %q, want the line %q once", name, got, notice)
		}
	}

	// The laptop's TUI says so too, and counts them new in its recent
	// calls, which are the server's.
	x := newTmux(t)
	x.open("laptop", append(laptop, "PARLEY_TEST_EXEC=1", "XDG_STATE_HOME="+filepath.Join(w.home, "tui"),
		"PARLEY_SERVER=", "PARLEY_TOKEN=", "TERM=xterm-256color"))
	x.waitFor("laptop", `● connected`)
	x.waitFor("laptop", regexp.QuoteMeta(notice))
	x.waitFor("laptop", `Recent calls 2 \(2 new\)`)
	x.keys("laptop", "q")

	// Seen on the phone...
	out, code := w.run(phone, "history")
	if code != exitOK || strings.Count(out, "missed (new)") != 2 || strings.Count(out, "offline 80404") != 2 {
		t.Fatalf("bob's history on the phone: exit %d:\n%s", code, out)
	}
	// ... is seen on the laptop.
	out, code = w.run(laptop, "history", "--json", "--missed")
	var h signaling.History
	if err := json.Unmarshal([]byte(out), &h); err != nil || code != exitOK || len(h.Calls) != 2 || h.Unseen != 0 ||
		h.Calls[0].Unseen || h.Calls[1].Unseen || h.SeenUpTo == nil || !h.Calls[0].Missed ||
		h.Calls[0].FromName != "Alice" || h.Calls[0].Reason != "offline" {
		t.Errorf("bob's history on the laptop once seen on the phone: exit %d, %v:\n%s", code, err, out)
	}
	p := w.start(laptop, "status", "alice")
	if code := p.wait(t); code != exitOffline || p.stderr.String() != "" {
		t.Errorf("bob's status on the laptop once seen: exit %d, stderr %q; want %d and nothing", code,
			p.stderr.String(), exitOffline)
	}

	out, code = w.run(aliceDev, "history", "--json")
	h = signaling.History{}
	if err := json.Unmarshal([]byte(out), &h); err != nil || code != exitOK || len(h.Calls) != 2 ||
		h.Calls[0].Direction != signaling.Outbound || h.Calls[0].Missed || h.Unseen != 0 {
		t.Errorf("alice's history: exit %d, %v:\n%s", code, err, out)
	}
}
