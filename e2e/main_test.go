//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/cli"
	"github.com/parley-voice/parley/internal/stderr"
	"github.com/parley-voice/parley/internal/syncbuf"
)

// The tests start real parley processes: the command as `go build` makes
// it, without the race detector, as users run it. (The race detector makes
// a process several times slower; a call's audio then depends on how
// loaded the machine is. The packages' own tests run under it.) TestMain
// builds it once, into a temporary directory, the first time a test needs
// it. Where the go tool is missing, the test binary doubles as the parley
// command: with PARLEY_TEST_EXEC=1 it runs parley with its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_EXEC") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		errOut, logStderr := stderr.Split()
		code := cli.Main(ctx, os.Args[1:], os.Stdout, errOut, os.Getenv, logStderr)
		stop()
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "parley-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parleyBin = sync.OnceValue(func() string {
		bin := filepath.Join(dir, "parley")
		if out, err := exec.Command("go", "build", "-o", bin, module).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v: %s\nthe tests run the test binary as parley instead\n", err, out)
			return os.Args[0]
		}
		return bin
	})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// module is the parley command's package, which the tests build.
const module = "github.com/parley-voice/parley"

// The exit statuses of parley, as its help and the README give them to
// scripts. They are written out here rather than taken from internal/cli:
// the tests hold the command to its contract.
const (
	exitOK         = 0
	exitOffline    = 1 // status: offline; other commands: a failure without a code
	exitUsage      = 2
	exitRejected   = 3
	exitUnanswered = 4
	exitFailed     = 5
	exitError      = 6 // refused with an error code
	exitNoServer   = 7 // the server could not be reached
)

// parleyBin returns the parley command the tests run, building it the
// first time; set by TestMain.
var parleyBin func() string

// world is one test's environment: a home for the processes' config, state
// and data, and a running `parley serve`.
type world struct {
	t      *testing.T
	home   string
	server string
	apiKey string
}

const testAPIKey = "test-api-key-0123456789"

func newWorld(t *testing.T, serveArgs ...string) *world {
	t.Helper()
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	srv := w.start(nil, append([]string{"serve", "--listen", "127.0.0.1:0", "--data", w.home + "/data"},
		serveArgs...)...)
	line := srv.line(t)
	const prefix = "parley server listening on "
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("parley serve printed %q", line)
	}
	w.server = strings.TrimSpace(strings.TrimPrefix(line, prefix))
	// When the test fails, the devices' side of the story: the audio lines
	// of the client logs (call.log, answer.log, ...).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(w.home, "state", "parley", "*.log"))
		for _, l := range logs {
			t.Logf("audio in %s:\n%s", filepath.Base(l), audioLog(l))
		}
	})
	return w
}

// proc is a running parley process. Its stdout is read line by line into
// lines by one goroutine, which then waits for the exit (exec closes the
// pipe at exit, so reading must finish first).
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncbuf.Buffer
	done   chan struct{}
	code   int
}

// start runs parley with args and env added to the world's environment.
// The process is interrupted and waited for at the end of the test.
func (w *world) start(env []string, args ...string) *proc {
	w.t.Helper()
	return w.startIn(nil, env, args...)
}

// startIn is start with stdin as the process's standard input (nil:
// /dev/null).
func (w *world) startIn(stdin io.Reader, env []string, args ...string) *proc {
	w.t.Helper()
	cmd := exec.Command(parleyBin(), args...)
	cmd.Stdin = stdin
	// HOME and XDG_CONFIG_HOME stay: PulseAudio clients find the server and
	// its cookie through them.
	cmd.Env = append(os.Environ(),
		"PARLEY_TEST_EXEC=1",
		"PARLEY_CONFIG="+w.home+"/config.json",
		"XDG_STATE_HOME="+w.home+"/state",
		"XDG_DATA_HOME="+w.home+"/share",
		"PARLEY_API_KEY="+w.apiKey,
		"PARLEY_SERVER="+w.server,
	)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1024), stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	w.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not exit; stderr: %s", p.cmd.Args, p.stderr.String())
		return -1
	}
}

// line returns the next line the process printed.
func (p *proc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%v: exited (%d) before printing what was expected; stderr: %s", p.cmd.Args[1:], p.wait(t),
				p.stderr.String())
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("%v: printed nothing for 30s; stderr: %s", p.cmd.Args[1:], p.stderr.String())
		return ""
	}
}

// event reads the next JSON line of a --json process.
func (p *proc) event(t *testing.T) map[string]any {
	t.Helper()
	line := p.line(t)
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v printed %q, not JSON", p.cmd.Args[1:], line)
	}
	return m
}

// lifecycle are the events expect stops at; it skips the others (stats,
// warnings, mute changes, ...) unless asked for one of them.
var lifecycle = map[any]bool{"connected": true, "call": true, "call_status_changed": true, "error": true}

// expect reads events, skipping all but lifecycle ones and name, until
// one; it must have the given name and the fields in want.
func (p *proc) expect(t *testing.T, name string, want map[string]any) map[string]any {
	t.Helper()
	for {
		ev := p.event(t)
		if !lifecycle[ev["event"]] && ev["event"] != name {
			continue
		}
		if ev["event"] != name {
			t.Fatalf("%v: got %v, want a %q event", p.cmd.Args[1:], ev, name)
		}
		for k, v := range want {
			if ev[k] != v {
				t.Fatalf("%v: got %v, want %s=%v", p.cmd.Args[1:], ev, k, v)
			}
		}
		return ev
	}
}

// run runs parley to the end and returns its stdout and exit status.
func (w *world) run(env []string, args ...string) (string, int) {
	w.t.Helper()
	p := w.start(env, args...)
	var out strings.Builder
	for l := range p.lines {
		out.WriteString(l + "\n")
	}
	return out.String(), p.wait(w.t)
}

func (w *world) token(user string) string {
	w.t.Helper()
	out, code := w.run(nil, "token", user, "--api-key", w.apiKey)
	if code != 0 {
		w.t.Fatalf("parley token %s: exit %d: %s", user, code, out)
	}
	return strings.TrimSpace(out)
}
