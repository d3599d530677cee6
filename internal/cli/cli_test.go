package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run runs a command line in process, with an environment of its own (a
// config file that does not exist, a state directory in dir).
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runWith(t, nil, args...)
}

// runWith is run with more of an environment: env.
func runWith(t *testing.T, more map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"PARLEY_CONFIG":  filepath.Join(dir, "config.json"),
		"XDG_STATE_HOME": filepath.Join(dir, "state"),
	}
	maps.Copy(env, more)
	var out, errOut bytes.Buffer
	code = Main(t.Context(), args, &out, &errOut, func(k string) string { return env[k] }, nil)
	return out.String(), errOut.String(), code
}

// TestExitStatuses: the statuses of what is refused before a server
// answers: usage errors are 2 with a hint; a machine that is not set up
// for the command (not signed in, a --ca that cannot be read) is 8; a
// server that cannot be reached is 7, said with the address tried and
// --server; a refusal with a code is 6. Each is said on stderr, with
// nothing on stdout.
func TestExitStatuses(t *testing.T) {
	missingCA := filepath.Join(t.TempDir(), "ca.pem")
	missingWAV := filepath.Join(t.TempDir(), "hello.wav")
	down := closedAddr(t)
	unreachable := "parley: could not reach the server at " + down + " (connection refused): is it running, " +
		"and is that its address? Name another with --server URL (or PARLEY_SERVER)"
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // its first line
	}{
		{[]string{"call"}, exitUsage, "parley: requires at least 1 arg(s), only received 0"},
		{[]string{"status", "--no-such-flag", "bob"}, exitUsage, "parley: unknown flag: --no-such-flag"},
		{[]string{"presence", "busy"}, exitUsage, `parley: presence "busy": use online, away or dnd`},
		{[]string{"call", "bob", "--control", "socket"}, exitUsage, `parley: --control "socket": use stdin or none`},
		{[]string{"answer", "--control", "tty"}, exitUsage, `parley: --control "tty": use stdin or none`},
		{[]string{"call", "bob", "--aec", "maybe"}, exitUsage,
			`parley: invalid argument "maybe" for "--aec" flag: "maybe": use on, off, speex or webrtc`},
		{[]string{"status", "bob", "--ca", missingCA}, exitSetup,
			"parley: --ca: open " + missingCA + ": no such file or directory"},
		{[]string{"status", "bob"}, exitSetup, "parley: config: not signed in: run `parley login INVITE`"},
		{[]string{"call", "bob", "--in", "silence", "--out", "null"}, exitSetup, "parley: config: not signed in: "},
		{[]string{"status", "bob", "--token", "t", "--server", down}, exitNoServer, unreachable},
		{[]string{"contacts", "--token", "t", "--server", down}, exitNoServer, unreachable},
		{[]string{"admin", "users", "--api-key", "k", "--server", down}, exitNoServer, unreachable},
		{[]string{"call", "bob", "--token", "t", "--server", down, "--in", "silence", "--out", "null"}, exitNoServer,
			unreachable},
		// Sources and sinks that cannot work are found before signing in
		// (the server is down, and no token is needed to be told).
		{[]string{"call", "bob", "--server", down, "--in", "tone:abc", "--out", "null"}, exitUsage,
			`parley: --in: audio: bad spec: source "tone:abc": tone:HZ needs a frequency between 0 and 24000 Hz`},
		{[]string{"answer", "--server", down, "--in", "file:" + missingWAV}, exitUsage,
			"parley: --in: audio: open wav source: open " + missingWAV + ": no such file or directory"},
		{[]string{"call", "bob", "--server", down, "--in", "silence", "--out", "file:" + missingWAV + "/out.wav"},
			exitUsage, `parley: --out: devices: sink "file:` + missingWAV + `/out.wav": stat ` + missingWAV +
				": no such file or directory"},
		{[]string{"answer", "--server", down, "--in", "silence", "--out", "null", "--ring-device", "tone:440"},
			exitUsage, `parley: --ring-device: audio: bad spec: sink "tone:440": that is a source`},
		{[]string{"token", "bob"}, exitError, "parley: invalid_parameter (80101): no API key: pass --api-key KEY " +
			"or set PARLEY_API_KEY (the key 'parley serve' printed on its first start)"},
		{[]string{"call", "bob", "--token", "t", "--in", "silence", "--out", "null", "--ice-server", "turn:"},
			exitError,
			`parley: invalid_parameter (80101): ICE server "turn:": `},
	} {
		out, errOut, code := run(t, tc.args...)
		first, _, _ := strings.Cut(errOut, "\n")
		if code != tc.code || !strings.HasPrefix(first, tc.stderr) || out != "" {
			t.Errorf("parley %s: exit %d, stdout %q, stderr\n%s\nwant %d, nothing, and a line that starts with\n%s",
				strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.stderr)
		}
	}
}

// TestUnreachableJSON: with --json, a server that cannot be reached is an
// error event on stdout that says so (80999: the error table has no code of
// its own for it), and the exit status is still 7.
func TestUnreachableJSON(t *testing.T) {
	down := closedAddr(t)
	out, errOut, code := run(t, "call", "bob", "--token", "t", "--server", down, "--in", "silence", "--out", "null",
		"--json")
	var ev struct {
		Event, Name, Message string
		Code                 int
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	want := "could not reach the server at " + down + " (connection refused): "
	if code != exitNoServer || errOut != "" || ev.Event != "error" || ev.Code != 80999 ||
		!strings.HasPrefix(ev.Message, want) {
		t.Errorf("exit %d, stdout %s, stderr %q; want %d, an error event whose message starts %q, nothing on stderr",
			code, out, errOut, exitNoServer, want)
	}
}

// closedAddr is the URL of a port on this machine where nothing listens
// (one the system gave out, then closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}

// TestLogCapped: a log file that has reached its cap (10 MB) is kept as
// NAME.1 and a new one begins, so that the logs of a machine where parley
// runs for months stay under 20 MB.
func TestLogCapped(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(state, "parley", "parley.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	full := bytes.Repeat([]byte("time=2026-01-02T03:04:05Z level=INFO msg=\"an old line\"\n"), 10<<20/50)
	if err := os.WriteFile(path, full, 0o600); err != nil {
		t.Fatal(err)
	}
	// A command that logs: a call to a server that is down.
	_, _, code := runWith(t, map[string]string{"XDG_STATE_HOME": state}, "call", "bob", "--token", "t",
		"--server", closedAddr(t), "--in", "silence", "--out", "null")
	if code != exitNoServer {
		t.Fatalf("exit %d, want %d", code, exitNoServer)
	}
	old, err := os.ReadFile(path + ".1")
	if !bytes.Equal(old, full) {
		t.Errorf("parley.log.1: %d bytes (%v); want the full log, %d bytes", len(old), err, len(full))
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() >= int64(len(full)) {
		t.Errorf("parley.log: %v, %v; want a new, small file", fi.Size(), err)
	}
}

// TestInterruptWhileSigningIn: an interrupt while `parley call` signs in
// to a server that does not answer ends it with 130 at once (the phone's
// own context outlives interrupts, for converse to hang up its way).
func TestInterruptWhileSigningIn(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan struct{}, 1)
	go func() { // accepts, and never answers
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	ctx, interrupt := context.WithCancel(t.Context())
	code := make(chan int, 1)
	go func() {
		env := map[string]string{"PARLEY_CONFIG": filepath.Join(t.TempDir(), "c.json"), "XDG_STATE_HOME": t.TempDir()}
		code <- Main(ctx, []string{"call", "bob", "--token", "t", "--server", "http://" + silent.Addr().String(),
			"--in", "silence", "--out", "null"}, io.Discard, io.Discard, func(k string) string { return env[k] }, nil)
	}()
	<-accepted // signing in: the server holds the connection
	interrupt()
	select {
	case c := <-code:
		if c != 130 {
			t.Errorf("exit %d, want 130", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parley call still signs in 5 s after the interrupt")
	}
}
