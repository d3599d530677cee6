package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
)

// TestDialLimits: a caller may place DialLimit calls a minute (a third at
// once), and a callee be rung RingLimit times; past that the dial is
// refused, with when to try again, and nothing rings. (5,000 calls in
// 44 s rang the victim every time.)
func TestDialLimits(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DialLimit, c.RingLimit = 9, 12 })
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	call := func(caller *client) string {
		id := placeCall(t, caller, bob, "d")
		caller.send(msg(signaling.TypeHangup, id))
		caller.nextNotPresence()
		bob.nextNotPresence()
		return id
	}
	for range 3 { // 9 a minute: 3 at once
		call(alice)
	}
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "4", To: "bob", SDP: "o"})
	e := alice.expectError(signaling.InvalidParameter, "4", "")
	if !strings.Contains(e.Message, "try again in") {
		t.Errorf("refusal %q does not say when to try again", e.Message)
	}
	// Others may still call bob, until he was rung 12 times a minute: 4
	// at once.
	carol := s.connect(t, "carol", "")
	call(carol)
	carol.send(signaling.Message{Type: signaling.TypeDial, Ref: "5", To: "bob", SDP: "o"})
	carol.expectError(signaling.AlreadyBusyCall, "5", "")
	bob.ping("nothing rang")
	// Bob himself may call.
	bob.send(signaling.Message{Type: signaling.TypeDial, Ref: "b", To: "carol", SDP: "o"})
	if m := bob.nextNotPresence(); m.Type != signaling.TypeCall {
		t.Fatalf("bob dials: %s", js(m))
	}
}

// TestCandidateFlood: a caller's 3,000 candidates reach the callee 200 at
// most, the caller is refused and then disconnected, and the callee, who
// reads nothing meanwhile, stays connected. (The callee's send queue
// filled and the callee was disconnected.)
func TestCandidateFlood(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bob := s.connectQuiet(t, s.token(t, "bob"))
	bob.pause()
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	id := alice.next().Event.ID
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var writeErr error
	for i := 0; i < 3000 && writeErr == nil; i++ {
		b := fmt.Sprintf(`{"type":"candidate","call_id":%q,"candidate":{"candidate":"candidate:%d 1 udp 1 198.51.100.1 %d typ host"}}`, id, i, 1000+i)
		writeErr = alice.ws.Write(ctx, websocket.MessageText, []byte(b))
	}
	if code := alice.closedAfterErrors(); code != websocket.StatusPolicyViolation {
		t.Errorf("the flooder was closed with %v, want %v", code, websocket.StatusPolicyViolation)
	}
	bob.resume()
	// bob hears of the call's end (alice's session went), after every
	// candidate that got through.
	bob.waitType(t, signaling.TypeCallStatusChanged)
	if n := bob.count(signaling.TypeCandidate); n > maxCandidates || n == 0 {
		t.Errorf("bob got %d candidates, want 1 to %d", n, maxCandidates)
	}
	t.Logf("bob got %d candidates of 3,000", bob.count(signaling.TypeCandidate))
}

// TestGarbageBeforeConnect: a connection that sends garbage without
// signing in is closed after a few refusals, and the log gets no line for
// each. (20,000 garbage frames wrote 5 MB of log.)
func TestGarbageBeforeConnect(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, "garbage")
	for i := range 1000 {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"nonsense":`+fmt.Sprint(i)))
		cancel()
		if err != nil {
			break
		}
	}
	if code := c.closedAfterErrors(); code != websocket.StatusPolicyViolation {
		t.Errorf("closed with %v (%v), want %v", code, c.err, websocket.StatusPolicyViolation)
	}
	info := 0
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, `"level":"INFO"`) && strings.Contains(line, `"msg":"refused"`) {
			info++
		}
	}
	if info > 0 {
		t.Errorf("%d refusals logged at info, want them counted", info)
	}
	if n := len(s.logs.records("refused")); n != helloStrikes {
		t.Errorf("%d refusals, want %d", n, helloStrikes)
	}
}

// closedAfterErrors skips refusals until the server closes the
// connection, and returns the close status.
func (c *client) closedAfterErrors() websocket.StatusCode {
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
