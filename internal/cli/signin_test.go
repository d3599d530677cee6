//go:build !client

package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/ui"
)

// TestSignInUnreadTexts: texts waiting unread are said once on stderr as
// a command signs in (`parley status`), the latest conversation first,
// with the count of each sender; once read with `parley msgs`, the next
// sign-in says only the ones left.
func TestSignInUnreadTexts(t *testing.T) {
	const key = "test-api-key-0123456789"
	srv := startServe(t, map[string]string{"PARLEY_API_KEY": key},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "off")
	addr := strings.TrimPrefix(srv.line(), "parley server listening on ")
	env := map[string]string{"PARLEY_SERVER": addr, "PARLEY_API_KEY": key}
	as := func(user string) map[string]string {
		out, errOut, code := runWith(t, env, "token", user)
		if code != exitOK {
			t.Fatalf("parley token %s: exit %d: %s", user, code, errOut)
		}
		return map[string]string{"PARLEY_SERVER": addr, "PARLEY_TOKEN": strings.TrimSpace(out)}
	}
	bob, alice, carol := as("bob"), as("alice"), as("carol")
	for _, m := range []struct {
		from map[string]string
		text string
	}{{carol, "one"}, {carol, "two"}, {alice, "three"}} {
		if _, errOut, code := runWith(t, m.from, "msg", "bob", m.text); code != exitOK {
			t.Fatalf("parley msg bob %s: exit %d: %s", m.text, code, errOut)
		}
	}

	_, errOut, code := runWith(t, bob, "status", "alice")
	if want := "3 unread texts: alice, carol (2)\n"; code != exitOffline || errOut != want {
		t.Errorf("bob's status: exit %d, stderr %q, want %q", code, errOut, want)
	}
	if _, errOut, code := runWith(t, bob, "msgs", "alice"); code != exitOK {
		t.Fatalf("bob's msgs alice: exit %d: %s", code, errOut)
	}
	_, errOut, code = runWith(t, bob, "status", "alice")
	if want := "2 unread texts: carol (2)\n"; code != exitOffline || errOut != want {
		t.Errorf("bob's status once alice's text is read: exit %d, stderr %q, want %q", code, errOut, want)
	}
}

// TestNotificationsConfig: the UI's desktop notifications go to the
// terminal unless the config says "notifications": false; in tmux ($TMUX)
// they are wrapped for its pass-through, in a VTE terminal ($VTE_VERSION)
// they are OSC 777.
func TestNotificationsConfig(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		set  *bool
		env  map[string]string
		want ui.Notifications
	}{
		{nil, nil, ui.Notifications{Out: os.Stdout}},
		{&on, map[string]string{"TMUX": "/tmp/tmux-0/default,1,0"}, ui.Notifications{Out: os.Stdout, Tmux: true}},
		{nil, map[string]string{"VTE_VERSION": "7600"}, ui.Notifications{Out: os.Stdout, OSC777: true}},
		{&off, map[string]string{"TMUX": "x", "VTE_VERSION": "7600"}, ui.Notifications{}},
	} {
		e := &env{getenv: func(k string) string { return tc.env[k] }}
		if got := e.notifications(config.Config{Notifications: tc.set}); got != tc.want {
			t.Errorf("notifications %v with %v: %+v, want %+v", tc.set, tc.env, got, tc.want)
		}
	}
}
