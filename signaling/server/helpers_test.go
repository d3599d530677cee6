package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/internal/syncbuf"
	"github.com/parley-voice/parley/signaling"
)

// patience bounds every wait for an event in the tests: a failure, never a
// delay (events normally arrive within milliseconds).
const patience = 5 * time.Second

// logBuffer collects a server's logs; tests print them when they fail and
// may search them.
type logBuffer struct{ syncbuf.Buffer }

// records returns the JSON log records whose msg is msg.
func (l *logBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

type testServer struct {
	*Server
	logs *logBuffer
}

// testConfig is a configuration for a test server in dir.
func testConfig(dir string, logs *logBuffer) Config {
	return Config{
		Listen:      "127.0.0.1:0",
		DataDir:     dir,
		RingTimeout: 10 * time.Second,
		Limits:      Limits{Off: true}, // TestRateLimits turns them on
		DialLimit:   -1,                // TestDialLimits turns them on
		RingLimit:   -1,
		TURNListen:  "off", // TestTURN turns it on
		RoomPort:    "0",   // also when a test listens at a given port
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// startServer starts a server in a fresh data dir, changed by mods, and
// shuts it down when the test ends.
func startServer(t testing.TB, mods ...func(*Config)) *testServer {
	t.Helper()
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	for _, m := range mods {
		m(&cfg)
	}
	return startWith(t, cfg, logs)
}

func startWith(t testing.TB, cfg Config, logs *logBuffer) *testServer {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			// What the shutdown still waits for is among these.
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Errorf("Shutdown: %v; goroutines:\n%s", err, &b)
		}
		if t.Failed() || os.Getenv("PARLEY_TEST_LOG") != "" {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &testServer{Server: s, logs: logs}
}

func (s *testServer) url(path string) string { return "http://" + s.Addr() + path }

// get makes a GET request and returns the status and body.
func get(t testing.TB, u string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = []string{v} // as sent, not canonicalised
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, body
}

// tokenURL is the token endpoint for user with query q.
func (s *testServer) tokenURL(user string, q url.Values) string {
	u := s.url("/v1/voice/users/" + url.PathEscape(user) + "/token")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// token gets a token for user from the token endpoint.
func (s *testServer) token(t testing.TB, user string) string {
	t.Helper()
	status, body := get(t, s.tokenURL(user, nil), map[string]string{"APP_API_KEY": s.APIKey()})
	if status != http.StatusOK {
		t.Fatalf("token for %s: %d %s", user, status, body)
	}
	var r struct{ Token string }
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		t.Fatalf("token for %s: %s (%v)", user, body, err)
	}
	return r.Token
}

// client is a test's WebSocket client.
type client struct {
	t    testing.TB
	name string
	ws   *websocket.Conn
	in   chan signaling.Message
	done chan struct{}
	err  error // why reading stopped; set before done is closed

	user, session string // from welcome
}

// dial opens a WebSocket to s without connecting.
func (s *testServer) dial(t testing.TB, name string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr()+PathWS, nil)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: t, name: name, ws: ws, in: make(chan signaling.Message, 1024), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.in)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			m, err := signaling.DecodeServer(b)
			if err != nil {
				c.err = err
				return
			}
			c.in <- m
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-c.done
	})
	return c
}

// connect opens a WebSocket as user (with a fresh token) and connects it
// with session (empty: one is assigned).
func (s *testServer) connect(t testing.TB, user, session string) *client {
	t.Helper()
	c := s.dial(t, user)
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: s.token(t, user), Session: session})
	w := c.next()
	if w.Type != signaling.TypeWelcome || w.User != user || w.Ref != "c" || w.Session == "" ||
		(session != "" && w.Session != session) {
		t.Fatalf("%s: connect: got %s", user, js(w))
	}
	c.user, c.session = w.User, w.Session
	return c
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

func (c *client) send(m signaling.Message) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// next returns the next message; it fails the test if none comes.
func (c *client) next() signaling.Message {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			c.t.Fatalf("%s: connection closed: %v", c.name, c.err)
		}
		return m
	case <-time.After(patience):
		c.t.Fatalf("%s: no message within %v", c.name, patience)
	}
	return signaling.Message{}
}

// expect fails unless the next message is want.
func (c *client) expect(want signaling.Message) signaling.Message {
	c.t.Helper()
	got := c.next()
	if !reflect.DeepEqual(got, want) {
		c.t.Fatalf("%s:\n got  %s\n want %s", c.name, js(got), js(want))
	}
	return got
}

// expectError fails unless the next message is an error with code, the
// code's name, a message, and ref and callID echoed.
func (c *client) expectError(code signaling.Code, ref, callID string) *signaling.Error {
	c.t.Helper()
	got := c.next()
	if got.Type != signaling.TypeError || got.Error == nil || got.Error.Code != code ||
		got.Error.Name != code.Name() || got.Error.Message == "" || got.Ref != ref || got.CallID != callID {
		c.t.Fatalf("%s: got %s, want error %d %s ref %q call_id %q", c.name, js(got), code, code.Name(), ref, callID)
	}
	return got.Error
}

// ping checks that the connection still answers.
func (c *client) ping(ref string) {
	c.t.Helper()
	c.send(signaling.Message{Type: signaling.TypePing, Ref: ref})
	c.expect(signaling.Message{Type: signaling.TypePong, Ref: ref})
}

// closed waits for the server to close the connection, skipping the
// refusals it sends before, and returns the close status.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return websocket.CloseStatus(c.err)
			}
			if m.Type != signaling.TypeError {
				c.t.Fatalf("%s: got %s, want refusals, then the connection closed", c.name, js(m))
			}
		case <-time.After(patience):
			c.t.Fatalf("%s: not closed within %v", c.name, patience)
		}
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ev is a call event as a test expects it.
func ev(id string, st signaling.Status, dir signaling.Direction, from, to string) *signaling.CallEvent {
	return &signaling.CallEvent{ID: id, Status: st, Direction: dir, From: from, To: to}
}

func ended(id string, st signaling.Status, dir signaling.Direction, from, to, reason string,
	code signaling.Code) *signaling.CallEvent {
	e := ev(id, st, dir, from, to)
	e.Reason, e.Code = reason, code
	return e
}

func status(e *signaling.CallEvent) signaling.Message {
	return signaling.Message{Type: signaling.TypeCallStatusChanged, Event: e}
}

// placeCall dials from caller to callee and checks that both hear of it; it
// returns the call id. Presence messages (of watched people going in a
// call) are skipped.
func placeCall(t testing.TB, caller, callee *client, ref string, others ...*client) string {
	t.Helper()
	caller.send(signaling.Message{Type: signaling.TypeDial, Ref: ref, To: callee.user, SDP: "offer-" + ref})
	got := caller.nextNotPresence()
	if got.Type != signaling.TypeCall || got.Event == nil {
		t.Fatalf("%s: dial: got %s", caller.name, js(got))
	}
	id := got.Event.ID
	caller.expectMsg(got, signaling.Message{Type: signaling.TypeCall, Ref: ref,
		Event: ev(id, signaling.Started, signaling.Outbound, caller.user, callee.user)})
	for _, c := range append([]*client{callee}, others...) {
		c.expectMsg(c.nextNotPresence(), signaling.Message{Type: signaling.TypeCall, SDP: "offer-" + ref,
			Event: ev(id, signaling.Started, signaling.Inbound, caller.user, callee.user)})
	}
	return id
}

func (c *client) expectMsg(got, want signaling.Message) {
	c.t.Helper()
	if !reflect.DeepEqual(got, want) {
		c.t.Fatalf("%s:\n got  %s\n want %s", c.name, js(got), js(want))
	}
}

// answeredIn is the answered status as the callee's sessions get it: it
// names the session that answered.
func answeredIn(id, from, to, session string) signaling.Message {
	m := status(ev(id, signaling.Answered, in, from, to))
	m.Session = session
	return m
}

// expectPresence fails unless the next message is the presence of user in
// state, answering ref. It returns the message, whose name and last_seen
// are for the caller to check.
func (c *client) expectPresence(user string, state signaling.State, ref string) signaling.Message {
	c.t.Helper()
	got := c.next()
	if got.Type != signaling.TypePresence || got.User != user || got.State != state || got.Ref != ref ||
		got.Online == nil || *got.Online != state.Online() {
		c.t.Fatalf("%s: got %s, want presence of %s %s ref %q", c.name, js(got), user, state, ref)
	}
	return got
}

// waitPresence skips presence messages until the one of user in state,
// and returns it; anything but presence fails the test.
func (c *client) waitPresence(user string, state signaling.State) signaling.Message {
	c.t.Helper()
	for {
		got := c.next()
		if got.Type != signaling.TypePresence {
			c.t.Fatalf("%s: got %s, want presence of %s %s", c.name, js(got), user, state)
		}
		if got.User == user && got.State == state {
			return got
		}
	}
}

// nextNotPresence returns the next message that is not a presence: for a
// client that watches people while it calls.
func (c *client) nextNotPresence() signaling.Message {
	c.t.Helper()
	for {
		if m := c.next(); m.Type != signaling.TypePresence {
			return m
		}
	}
}
