//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/config"
)

// The desktop notifications of issue 18, as the terminal gets them: bob's
// real parley UI in tmux, its raw output captured with pipe-pane.

// openPiped starts parley's UI in a new tmux session name with env, its
// raw output (what parley writes, escape sequences and all) copied to a
// file from its first byte: the pane waits on a FIFO until pipe-pane is
// in place. It returns the file's path.
func (x *tmux) openPiped(name string, env []string) string {
	x.t.Helper()
	dir := x.t.TempDir()
	fifo, out := filepath.Join(dir, "go"), filepath.Join(dir, "output")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		x.t.Fatal(err)
	}
	cmd := []string{"new-session", "-d", "-s", name, "-x", "100", "-y", "30"}
	for _, e := range env {
		cmd = append(cmd, "-e", e)
	}
	x.run(append(cmd, "sh", "-c", `read go < "$0" && exec "$1"`, fifo, parleyBin())...)
	x.run("pipe-pane", "-O", "-t", name, "cat > '"+out+"'")
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil { // blocks until sh reads it
		x.t.Fatal(err)
	}
	return out
}

// waitOutput polls the captured output until it holds want: a file says
// nothing when it grows, so polling (bounded) is all there is.
func waitOutput(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never got %q; it got %q", want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tmuxNotification is the OSC 9 notification of body wrapped for tmux's
// pass-through, as parley writes it in tmux.
func tmuxNotification(body string) string {
	return "\x1bPtmux;\x1b\x1b]9;" + body + "\a\x1b\\"
}

// TestUINotifications: alice calls bob while he is offline (refused 80404)
// and texts him twice. Bob's UI, in tmux, says so as it signs in and the
// terminal gets both lines as notifications, wrapped for tmux; then
// alice's call rings (notified), she gives up (a missed call, notified)
// and texts again (notified). With "notifications": false in bob's
// config, his next UI writes none: the sign-in notice and alice's next
// text are only on the screen.
func TestUINotifications(t *testing.T) {
	x := newTmux(t)
	w := newWorld(t)
	alice := []string{"PARLEY_TOKEN=" + w.token("alice")}
	bobToken := w.token("bob") // bob is known to the server from now
	media := []string{"--in", "silence", "--out", "null", "--json"}
	if out, code := w.run(alice, append([]string{"call", "bob"}, media...)...); code != exitError ||
		!strings.Contains(out, `"code":80404`) {
		t.Fatalf("alice calls bob, offline: exit %d, want %d with 80404:\n%s", code, exitError, out)
	}
	text := func(s string) {
		t.Helper()
		if out, code := w.run(alice, "msg", "bob", s); code != exitOK {
			t.Fatalf("alice's parley msg bob %s: exit %d: %s", s, code, out)
		}
	}
	text("one")
	text("two")

	dir := filepath.Join(w.home, "bob")
	cfgPath := filepath.Join(dir, "config.json")
	cfg := config.Config{Server: w.server, Token: bobToken, Contacts: []string{"alice"}}
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	env := []string{"PARLEY_TEST_EXEC=1", "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "PARLEY_CONFIG=" + cfgPath,
		"PARLEY_SERVER=", "PARLEY_TOKEN=", "TERM=xterm-256color", "VTE_VERSION="}
	out := x.openPiped("bob", env)
	x.waitFor("bob", `1 missed call while you were away: alice\s+2 unread texts: alice \(2\)`)
	waitOutput(t, out, tmuxNotification("1 missed call while you were away: alice")+
		tmuxNotification("2 unread texts: alice (2)"))
	x.waitFor("bob", `● connected`)

	a := w.start(alice, append([]string{"call", "bob"}, media...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	a.expect(t, "call", map[string]any{"status": "started"})
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
	x.waitFor("bob", `INCOMING CALL from alice`)
	waitOutput(t, out, tmuxNotification("Incoming call from alice"))
	a.cmd.Process.Signal(os.Interrupt) // alice gives up
	a.wait(t)
	x.waitFor("bob", `Missed call from alice`)
	waitOutput(t, out, tmuxNotification("Missed call from alice"))
	text("are you there?")
	waitOutput(t, out, tmuxNotification("Text from alice: are you there?"))
	x.keys("bob", "q")

	off := false
	cfg.Notifications = &off
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	out = x.openPiped("bob-off", env)
	x.waitFor("bob-off", `3 unread texts: alice \(3\)`)
	x.waitFor("bob-off", `● connected`)
	text("still there?")
	x.waitFor("bob-off", `Text from alice: still there\?`)
	x.keys("bob-off", "q")
	x.run("kill-session", "-t", "bob-off") // the pipe's cat ends: the output is all there
	b, err := os.ReadFile(out)
	if err != nil || len(b) == 0 || strings.Contains(string(b), "]9;") || strings.Contains(string(b), "]777;") {
		t.Errorf("with notifications off, the terminal got (%v) %q", err, b)
	}
}
