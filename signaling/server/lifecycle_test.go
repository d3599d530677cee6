package server

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

func TestStartErrors(t *testing.T) {
	s := startServer(t)
	if err := s.Start(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "server: ") {
		t.Errorf("second Start: %v", err)
	}

	// The address is taken: Start fails and leaves nothing running (the
	// leak check in TestMain would see the NATS server).
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	cfg.Listen = s.Addr()
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "server: listen") {
		t.Errorf("Start on a taken address: %v", err)
	}
	if err := s2.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}

	// Shutdown before Start, then Start.
	s3, err := New(testConfig(t.TempDir(), logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	if err := s3.Start(t.Context()); err == nil {
		t.Errorf("Start after Shutdown succeeded")
	}
}

// TestShutdownClosesUnusedConnections: a connection on which no request
// came does not hold up the shutdown. An HTTP client leaves one when its
// request is cancelled while it dials (net/http pools the connection it
// dialed anyway), and net/http's Shutdown waits 5 s for such a
// connection's first request: the whole patience of the tests
// (TestRevokeUserWhileDevicesRenew failed this way).
func TestShutdownClosesUnusedConnections(t *testing.T) {
	s := startServer(t)
	unused, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer unused.Close()
	// Connections are accepted in order: once this request is answered,
	// the server has the unused connection.
	if status, body := get(t, s.url(PathHealth), nil); status != 200 {
		t.Fatalf("health: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	start := time.Now()
	err = s.Shutdown(ctx)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil || took > 2*time.Second {
		t.Errorf("Shutdown with a connection that sent nothing: %v after %v, want nil within 2s", err, took)
	}
	if recs := s.logs.records("closed connections that sent no request"); len(recs) != 1 || recs[0]["conns"] != 1.0 {
		t.Errorf("logged as closed: %v, want 1 connection", recs)
	}
	t.Logf("shut down in %v with a connection that sent nothing", took)
}

// TestHTTPTimeoutsSpareWebSockets: the HTTP server's read and write
// timeouts do not cut a WebSocket that lives longer than them.
func TestHTTPTimeoutsSpareWebSockets(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.WriteTimeout = 100 * time.Millisecond // also the HTTP read, write and idle timeouts
		c.RingTimeout = 400 * time.Millisecond
	})
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	id := placeCall(t, alice, bob, "d")
	// Wait out the ring timeout, well past the HTTP timeouts.
	alice.expect(status(ended(id, signaling.Unanswered, out, "alice", "bob", ReasonNoAnswer, 0)))
	bob.expect(status(ended(id, signaling.Unanswered, in, "alice", "bob", ReasonNoAnswer, 0)))
	alice.ping("p")
	bob.ping("p")
}
