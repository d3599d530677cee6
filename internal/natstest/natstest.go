// Package natstest runs nats-server processes with JetStream on the
// loopback interface, for the end-to-end tests and the benchmark harness.
//
// parley needs nats-server 2.11 or later. Binary finds one: the installed
// nats-server when it is recent enough, else the one parley embeds, built
// from the module cache (Debian 12's package is 2.9). Run starts a server
// and Server.Stop stops it; they return errors. Start and StartBinary are
// their wrappers for tests: they skip a test that cannot have a recent
// enough nats-server, fail it otherwise, and stop the server when it ends.
package natstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/syncbuf"
)

// ErrUnavailable is wrapped by Binary's error when there is no nats-server
// 2.11 or later and none could be built.
var ErrUnavailable = errors.New("natstest: no nats-server 2.11 or later")

// Timeouts: a server that is not ready by then is reported with its log.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Installed returns the installed nats-server (on the PATH, else
// /usr/sbin/nats-server, which is not on a user's PATH in Debian) and the
// version it reports ("v2.9.10").
func Installed(ctx context.Context) (bin, version string, err error) {
	bin, err = exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	version, err = versionOf(ctx, bin)
	return bin, version, err
}

func versionOf(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("natstest: %s --version: %w", bin, err)
	}
	// "nats-server: v2.11.4"
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "nats-server: "), nil
}

// VersionOK reports whether version (as Installed returns it, "v2.11.4")
// is 2.11 or later.
func VersionOK(version string) bool {
	var major, minor int
	_, err := fmt.Sscanf(version, "v%d.%d", &major, &minor)
	return err == nil && (major > 2 || major == 2 && minor >= 11)
}

// Binary returns a nats-server 2.11 or later and its version: the
// installed one if it is recent enough, else the one parley embeds, built
// into dir with go build from the working directory (which must be in the
// parley module, whose go.mod says which version). The error wraps
// ErrUnavailable when neither can be had.
func Binary(ctx context.Context, dir string) (bin, version string, err error) {
	installed, version, err := Installed(ctx)
	if err == nil && VersionOK(version) {
		return installed, version, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("natstest: %w", err)
	}
	bin = filepath.Join(dir, "nats-server")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").
		CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("%w: %s is %q, and go build: %w: %s", ErrUnavailable, installed, version, err, out)
	}
	if version, err = versionOf(ctx, bin); err != nil {
		return "", "", err
	}
	return bin, version, nil
}

// Server is a running nats-server process.
type Server struct {
	URL string // nats://127.0.0.1:PORT

	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	done chan struct{} // closed when the process has exited
}

// listening is how nats-server says which port it took.
var listening = regexp.MustCompile(`Listening for client connections on (\S+)`)

// Run starts the nats-server bin with JetStream, storing in dir, on a
// loopback port it picks itself (no port is chosen and freed for it to
// take), and returns once the server is ready for connections. Stop stops
// it; when Run fails, nothing is left running.
func Run(ctx context.Context, bin, dir string) (*Server, error) {
	cmd := exec.Command(bin, "-js", "-sd", filepath.Join(dir, "jetstream"), "-a", "127.0.0.1", "-p", "-1")
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("natstest: start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, log: &syncbuf.Buffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(logs)
		var listen string
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.log.Write([]byte(line + "\n")) // a syncbuf.Buffer: writes to memory
			if m := listening.FindStringSubmatch(line); m != nil {
				listen = m[1]
			}
			if listen != "" && strings.Contains(line, "Server is ready") {
				addr <- listen
				listen = ""
			}
		}
		cmd.Wait()
	}()
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	select {
	case a := <-addr:
		s.URL = "nats://" + a
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("natstest: nats-server exited before it was ready: %s", s.Log())
	case <-timeout.C:
		s.Stop()
		return nil, fmt.Errorf("natstest: nats-server not ready within %v: %s", readyTimeout, s.Log())
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
}

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// Stop interrupts the server and waits for it to exit, killing it after
// 10 s. It may be called more than once.
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Start starts a nats-server 2.11 or later (Binary, then Run) with its
// files in the test's temporary directory, for as long as the test runs.
// It skips the test when no such server can be had.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, version, err := Binary(context.Background(), t.TempDir())
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("natstest: nats-server %s (%s)", version, bin)
	return StartBinary(t, bin)
}

// StartBinary runs the nats-server bin, whatever its version, as Start
// does.
func StartBinary(t testing.TB, bin string) *Server {
	t.Helper()
	s, err := Run(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}
