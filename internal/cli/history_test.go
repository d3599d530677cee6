//go:build !client

package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// TestHistory: a dial to bob while he is offline is, for bob, a missed
// call: `parley status` says so once on stderr, `parley history` lists it
// as new and marks it seen (for his other tokens too: the next status says
// nothing); for alice it is an outbound call in her history, and nobody
// else's; --missed, --with and --since narrow the list.
func TestHistory(t *testing.T) {
	const key = "test-api-key-0123456789"
	srv := startServe(t, map[string]string{"PARLEY_API_KEY": key},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "off")
	addr := strings.TrimPrefix(srv.line(), "parley server listening on ")
	env := map[string]string{"PARLEY_SERVER": addr, "PARLEY_API_KEY": key}
	token := func(user string) string {
		out, errOut, code := runWith(t, env, "token", user)
		if code != exitOK {
			t.Fatalf("parley token %s: exit %d: %s", user, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	as := func(user string) map[string]string {
		return map[string]string{"PARLEY_SERVER": addr, "PARLEY_TOKEN": token(user)}
	}
	bob, alice, carol := as("bob"), as("alice"), as("carol")

	// Alice dials bob twice, offline: refused 80404 each time.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := signaling.Dial(ctx, addr, alice["PARLEY_TOKEN"], signaling.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ref := range []string{"d1", "d2"} {
		if err := c.Send(signaling.Message{Type: signaling.TypeDial, Ref: ref, To: "bob", SDP: "offer"}); err != nil {
			t.Fatal(err)
		}
		for m := range c.Messages() {
			if m.Type == signaling.TypeError && m.Ref == ref {
				if m.Error.Code != signaling.NoConnectedDestination {
					t.Fatalf("dial %s: got %v, want 80404", ref, m.Error)
				}
				break
			}
		}
	}

	out, errOut, code := runWith(t, bob, "status", "alice")
	if want := "2 missed calls while you were away: alice (2)\n"; code != exitOK || errOut != want ||
		!strings.HasPrefix(out, "online") {
		t.Errorf("bob's status: exit %d, stderr %q (want %q), stdout %q", code, errOut, want, out)
	}
	// JSON does not mark them seen, with --keep-unseen.
	out, errOut, code = runWith(t, bob, "history", "--json", "--keep-unseen")
	var h signaling.History
	if err := json.Unmarshal([]byte(out), &h); err != nil || code != exitOK || errOut != "" || len(h.Calls) != 2 ||
		h.Unseen != 2 || !h.Calls[0].Unseen || h.Calls[0].Reason != "offline" ||
		h.Calls[0].Direction != signaling.Inbound {
		t.Fatalf("bob's history --json: exit %d, %v, stderr %q, stdout %s", code, err, errOut, out)
	}
	out, errOut, code = runWith(t, bob, "history", "--missed", "--since", "1h")
	if code != exitOK || errOut != "" || strings.Count(out, "missed (new)") != 2 ||
		strings.Count(out, "offline 80404") != 2 || !strings.Contains(out, "2 missed calls not seen before.") {
		t.Errorf("bob's history --missed: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	// Seen: a new token (another device) hears of nothing.
	bob2 := as("bob")
	if out, errOut, code = runWith(t, bob2, "status", "alice"); code != exitOK || errOut != "" {
		t.Errorf("bob's status once seen: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	if out, _, _ = runWith(t, bob2, "history"); strings.Contains(out, "(new)") || strings.Count(out, "missed") != 2 {
		t.Errorf("bob's history once seen:\n%s", out)
	}

	out, _, code = runWith(t, alice, "history")
	if code != exitOK || strings.Count(out, "out  ") != 2 || strings.Contains(out, "missed") {
		t.Errorf("alice's history: exit %d:\n%s", code, out)
	}
	for _, args := range [][]string{{"history", "--missed"}, {"history", "--with", "carol"}} {
		if out, _, _ = runWith(t, alice, args...); out != "No calls.\n" {
			t.Errorf("alice's %v: %q", args, out)
		}
	}
	if out, _, _ = runWith(t, carol, "history"); out != "No calls.\n" {
		t.Errorf("carol's history: %q", out)
	}
	if _, errOut, code = runWith(t, bob, "history", "--since", "-1h"); code != exitUsage || errOut == "" {
		t.Errorf("--since -1h: exit %d, stderr %q", code, errOut)
	}
}
