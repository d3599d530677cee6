//go:build !client

package cli

import (
	"bufio"
	"context"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/syncbuf"
)

// serving is a `parley serve` run in process: its stdout line by line,
// its stderr (the server's log), and its exit status once it has ended.
type serving struct {
	lines  chan string
	stderr *syncbuf.Buffer
	stop   context.CancelFunc
	code   chan int
}

// startServe runs parley serve with args in process, with an environment
// of its own and env (without PARLEY_API_KEY, the key is the data
// directory's).
func startServe(t *testing.T, env map[string]string, args ...string) *serving {
	t.Helper()
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["GOGC"], env["PARLEY_CONFIG"] = "100", filepath.Join(t.TempDir(), "config.json")
	ctx, stop := context.WithCancel(t.Context())
	r, w := io.Pipe()
	s := &serving{lines: make(chan string, 16), stderr: &syncbuf.Buffer{}, stop: stop, code: make(chan int, 1)}
	go func() {
		getenv := func(k string) string { return env[k] }
		s.code <- Main(ctx, append([]string{"serve"}, args...), w, s.stderr, getenv, nil)
		w.Close()
	}()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		stop()
		for range s.lines {
		}
	})
	return s
}

// line is the next line the server printed, or "" when it printed none
// for 20 s or ended.
func (s *serving) line() string {
	select {
	case l := <-s.lines:
		return l
	case <-time.After(20 * time.Second):
		return ""
	}
}

// rest returns the lines the server printed that were not read yet and its
// exit status, once it has ended by itself; stop stops it first.
func (s *serving) rest(stop bool) (lines []string, code int) {
	if stop {
		s.stop()
	}
	for l := range s.lines {
		lines = append(lines, l)
	}
	return lines, <-s.code
}

// TestServeShowsTheKeyOnce: the API key that the first start generates is
// shown on the first start that succeeds, once, even when the first start
// failed after the server wrote the key (the TURN port was taken); and a
// port that is taken is reported with the flag that moves it.
func TestServeShowsTheKeyOnce(t *testing.T) {
	data := t.TempDir()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	taken := udp.LocalAddr().String()

	// The first start: the key is made, then the TURN port is taken.
	s := startServe(t, nil, "--listen", "127.0.0.1:0", "--data", data, "--turn-listen", taken)
	lines, code := s.rest(false)
	stderr := s.stderr.String()
	if code != exitOffline || len(lines) != 0 ||
		!strings.Contains(stderr, "another program listens on "+taken) ||
		!strings.Contains(stderr, "--turn-listen HOST:PORT, or run without it with --turn-listen off") {
		t.Errorf("serve with its TURN port taken: exit %d, stdout %q, stderr:\n%s\nwant %d, nothing, and the flag",
			code, lines, stderr, exitOffline)
	}
	key, err := os.ReadFile(filepath.Join(data, "api_key"))
	if err != nil {
		t.Fatalf("the first start did not write its key: %v", err)
	}

	// The next start succeeds: the key nobody saw is shown.
	s = startServe(t, nil, "--listen", "127.0.0.1:0", "--data", data, "--turn-listen", "off")
	if l := s.line(); !strings.HasPrefix(l, "parley server listening on ") {
		t.Fatalf("serve printed %q", l)
	}
	want := "admin API key (shown once, saved in the data directory): " + strings.TrimSpace(string(key))
	if l := s.line(); l != want {
		t.Errorf("the second start printed %q; want %q", l, want)
	}
	if lines, code := s.rest(true); code != exitOK || len(lines) != 0 {
		t.Errorf("serve stopped with %d, then printed %q", code, lines)
	}

	// And once only.
	s = startServe(t, nil, "--listen", "127.0.0.1:0", "--data", data, "--turn-listen", "off")
	s.line()
	if lines, code := s.rest(true); code != exitOK || len(lines) != 0 {
		t.Errorf("the third start: exit %d, then printed %q; want 0 and nothing", code, lines)
	}
}

// TestServeListenTaken: a --listen address that another program holds is
// reported with --listen.
func TestServeListenTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := startServe(t, nil, "--listen", ln.Addr().String(), "--data", t.TempDir(), "--turn-listen", "off",
		"--room-port", "0")
	lines, code := s.rest(false)
	want := "another program listens on " + ln.Addr().String() + " (another parley serve?): " +
		"listen on another address with --listen HOST:PORT"
	if code != exitOffline || len(lines) != 0 || !strings.Contains(s.stderr.String(), want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %d, nothing, and %q", code, lines, s.stderr.String(),
			exitOffline, want)
	}
}

// TestServeRoomPortTaken: a --room-port that another program holds on
// one of the machine's addresses is reported with --room-port.
func TestServeRoomPortTaken(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	_, port, _ := net.SplitHostPort(udp.LocalAddr().String())
	s := startServe(t, nil, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "off",
		"--room-port", port)
	lines, code := s.rest(false)
	want := "another program listens on " + udp.LocalAddr().String() + " (another parley serve?): " +
		"give the rooms' media another port with --room-port PORT"
	if code != exitOffline || len(lines) != 0 || !strings.Contains(s.stderr.String(), want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %d, nothing, and %q", code, lines, s.stderr.String(),
			exitOffline, want)
	}
}
