package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// stillServes checks that the server goes on after a refusal: c (if still
// open) answers a ping, and a new call between two new users completes.
func stillServes(t *testing.T, s *testServer, c *client, n int) {
	t.Helper()
	if c != nil {
		c.ping("still")
	}
	a := s.connect(t, fmt.Sprintf("check-a%d", n), "")
	b := s.connect(t, fmt.Sprintf("check-b%d", n), "")
	id := placeCall(t, a, b, "check")
	b.send(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "a"})
	answered := status(ev(id, signaling.Answered, out, a.user, b.user))
	answered.SDP = "a"
	a.expect(answered)
	b.expect(answeredIn(id, a.user, b.user, b.session))
	a.send(msg(signaling.TypeHangup, id))
	a.expect(status(ev(id, signaling.Completed, out, a.user, b.user)))
	b.expect(status(ev(id, signaling.Completed, in, a.user, b.user)))
}

// TestErrorCodes reaches every code the server produces through a real
// request, and checks the server still serves after each.
func TestErrorCodes(t *testing.T) {
	s := startServer(t)
	s.token(t, "carol") // known, never online
	dialMsg := func(ref, to string) signaling.Message {
		return signaling.Message{Type: signaling.TypeDial, Ref: ref, To: to, SDP: "offer"}
	}
	tests := []struct {
		name string
		code signaling.Code
		// run triggers the refusal and checks it; it returns the client
		// that was refused, if it is still open.
		run func(t *testing.T, n int) *client
	}{
		{"bad JSON", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.sendRaw([]byte(`{"type":"ping","ref":"x"`))
			c.expectError(signaling.InvalidParameter, "", "")
			return c
		}},
		{"unknown type", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.sendRaw([]byte(`{"type":"teleport","ref":"t1"}`))
			if e := c.expectError(signaling.InvalidParameter, "t1", ""); !strings.Contains(e.Message, "teleport") {
				t.Errorf("message %q does not name the type", e.Message)
			}
			return c
		}},
		{"unknown field", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.sendRaw([]byte(`{"type":"ping","ref":"f1","color":"red"}`))
			c.expectError(signaling.InvalidParameter, "f1", "")
			return c
		}},
		{"oversize", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			big := `{"type":"ping","ref":"big","reason":"` + strings.Repeat("x", signaling.MaxMessageBytes) + `"}`
			c.sendRaw([]byte(big))
			if e := c.expectError(signaling.InvalidParameter, "", ""); !strings.Contains(e.Message,
				fmt.Sprint(len(big))) {
				t.Errorf("message %q does not give the size %d", e.Message, len(big))
			}
			return c
		}},
		{"binary frame", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			if err := c.ws.Write(t.Context(), websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
				t.Fatal(err)
			}
			c.expectError(signaling.InvalidParameter, "", "")
			return c
		}},
		{"dial an invalid user id", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(dialMsg("d", "bad user"))
			c.expectError(signaling.InvalidParameter, "d", "")
			return c
		}},
		{"watch nobody", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(signaling.Message{Type: signaling.TypeWatch, Ref: "w"})
			c.expectError(signaling.InvalidParameter, "w", "")
			return c
		}},
		{"watch over 1000 users", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			var users []string
			for i := range signaling.MaxWatch {
				users = append(users, fmt.Sprint("w", i))
			}
			c.send(signaling.Message{Type: signaling.TypeWatch, Ref: "all", Users: users})
			for i := range signaling.MaxWatch {
				off := false
				c.expect(signaling.Message{Type: signaling.TypePresence, Ref: "all", User: users[i], Online: &off,
					State: signaling.StateOffline})
			}
			c.send(signaling.Message{Type: signaling.TypeWatch, Ref: "more", Users: []string{"w0", "one-more"}})
			c.expectError(signaling.InvalidParameter, "more", "")
			return c
		}},
		{"token data over 1000 characters", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			code, body := get(t, s.tokenURL("alice", url.Values{"data": {strings.Repeat("d", 1001)}}),
				map[string]string{"APP_API_KEY": s.APIKey()})
			checkHTTPError(t, code, body, http.StatusBadRequest, signaling.InvalidParameter)
			return nil
		}},
		{"caller answers its own call", signaling.InvalidParameter, func(t *testing.T, n int) *client {
			a := s.connect(t, fmt.Sprint("u", n), "")
			b := s.connect(t, fmt.Sprint("v", n), "")
			id := placeCall(t, a, b, "d")
			a.send(signaling.Message{Type: signaling.TypeAnswer, Ref: "own", CallID: id, SDP: "x"})
			a.expectError(signaling.InvalidParameter, "own", id)
			a.send(msg(signaling.TypeHangup, id))
			a.expect(status(ended(id, signaling.Unanswered, out, a.user, b.user, ReasonCanceled, 0)))
			return a
		}},
		{"unknown user", signaling.NotFoundUserSessionID, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(dialMsg("d", "nobody"))
			if e := c.expectError(signaling.NotFoundUserSessionID, "d", ""); !strings.Contains(e.Message,
				"parley token nobody") {
				t.Errorf("message %q does not say how to fix it", e.Message)
			}
			return c
		}},
		{"call yourself", signaling.SameCallerAndDestination, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(dialMsg("d", c.user))
			c.expectError(signaling.SameCallerAndDestination, "d", "")
			return c
		}},
		{"connect twice", signaling.AlreadyConnectedSession, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "again", Token: s.token(t, c.user)})
			c.expectError(signaling.AlreadyConnectedSession, "again", "")
			return c
		}},
		{"session connected elsewhere", signaling.AlreadyConnectedSession, func(t *testing.T, n int) *client {
			user := fmt.Sprint("u", n)
			s.connect(t, user, "desk")
			c := s.dial(t, user)
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: s.token(t, user), Session: "desk"})
			c.expectError(signaling.AlreadyConnectedSession, "c", "")
			// The socket stays open and may connect with another session.
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c2", Token: s.token(t, user),
				Session: "laptop"})
			c.expect(signaling.Message{Type: signaling.TypeWelcome, Ref: "c2", User: user, Session: "laptop",
				Role: RoleMember})
			return c
		}},
		{"busy", signaling.AlreadyBusyCall, func(t *testing.T, n int) *client {
			a := s.connect(t, fmt.Sprint("u", n), "")
			b := s.connect(t, fmt.Sprint("v", n), "")
			c := s.connect(t, fmt.Sprint("w", n), "")
			s.waitingOff(t, b.user)
			id := placeCall(t, a, b, "d")
			c.send(dialMsg("d", b.user))
			c.expectError(signaling.AlreadyBusyCall, "d", "")
			a.send(msg(signaling.TypeHangup, id))
			a.next()
			b.next()
			return c
		}},
		{"bad token on the WebSocket", signaling.InvalidToken, func(t *testing.T, n int) *client {
			c := s.dial(t, "x")
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: "bad"})
			c.expectError(signaling.InvalidToken, "c", "")
			if code := c.closed(); code != websocket.StatusPolicyViolation {
				t.Errorf("close status %v", code)
			}
			return nil
		}},
		{"wrong API key", signaling.InvalidToken, func(t *testing.T, n int) *client {
			code, body := get(t, s.tokenURL("alice", nil), map[string]string{"APP_API_KEY": "guess"})
			checkHTTPError(t, code, body, http.StatusUnauthorized, signaling.InvalidToken)
			return nil
		}},
		{"message before connect", signaling.NoConnectedSession, func(t *testing.T, n int) *client {
			c := s.dial(t, "x")
			c.send(dialMsg("early", "carol"))
			c.expectError(signaling.NoConnectedSession, "early", "")
			c.send(signaling.Message{Type: signaling.TypePing, Ref: "p"})
			c.expectError(signaling.NoConnectedSession, "p", "")
			// Still open: it can connect now.
			user := fmt.Sprint("u", n)
			c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: s.token(t, user), Session: "s"})
			c.expect(signaling.Message{Type: signaling.TypeWelcome, Ref: "c", User: user, Session: "s",
				Role: RoleMember})
			return c
		}},
		{"no such call", signaling.NoConnectedCall, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			for _, id := range []string{"nosuchcall", "a.*.>", "parley.user.carol"} {
				c.send(signaling.Message{Type: signaling.TypeHangup, Ref: "h", CallID: id})
				c.expectError(signaling.NoConnectedCall, "h", id)
			}
			return c
		}},
		{"destination offline", signaling.NoConnectedDestination, func(t *testing.T, n int) *client {
			c := s.connect(t, fmt.Sprint("u", n), "")
			c.send(dialMsg("d", "carol"))
			c.expectError(signaling.NoConnectedDestination, "d", "")
			return c
		}},
	}
	produced := map[signaling.Code]bool{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.run(t, i)
			produced[tt.code] = true
			stillServes(t, s, c, i)
		})
	}
	// Every code the server can produce was reached, and every refusal
	// was logged with its code, user and remote address.
	for _, code := range signaling.Codes() {
		switch code {
		case signaling.NotFoundDevice, signaling.PermissionDenied: // the client's microphone
		case signaling.UnknownError: // TestInternalErrors
		default:
			if !produced[code] {
				t.Errorf("no case for %d %s", code, code.Name())
			}
		}
	}
	logged := map[int]bool{}
	for _, r := range s.logs.records("refused") {
		code, _ := r["code"].(float64)
		if r["remote"] == "" || r["message"] == "" || r["name"] != signaling.Code(code).Name() {
			t.Errorf("refusal logged without its remote address, message or name: %v", r)
		}
		logged[int(code)] = true
	}
	for code := range produced {
		if !logged[int(code)] {
			t.Errorf("refusal %d not logged", code)
		}
	}
}

// TestInternalErrors: when storage fails, requests are refused with 80999
// and a message saying what failed, and the rest keeps working. The
// failure is real: a bucket is deleted under the running server.
func TestInternalErrors(t *testing.T) {
	s := startServer(t)
	alice := s.connect(t, "alice", "")
	bobToken := s.token(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, b := range []string{store.BucketPresence, store.BucketUsers} {
		if err := s.bus.js.DeleteKeyValue(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	c := s.dial(t, "bob")
	c.send(signaling.Message{Type: signaling.TypeConnect, Ref: "c", Token: bobToken})
	if e := c.expectError(signaling.UnknownError, "c", ""); !strings.Contains(e.Message, "presence") &&
		!strings.Contains(e.Message, "user bob") {
		t.Errorf("message %q does not say what failed", e.Message)
	}
	c.send(signaling.Message{Type: signaling.TypePing, Ref: "p"})
	c.expectError(signaling.NoConnectedSession, "p", "") // open, not connected

	code, body := get(t, s.tokenURL("bob", nil), map[string]string{"APP_API_KEY": s.APIKey()})
	checkHTTPError(t, code, body, http.StatusInternalServerError, signaling.UnknownError)

	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "o"})
	alice.expectError(signaling.UnknownError, "d", "")
	alice.ping("p")
	if code, _ := get(t, s.url(PathHealth), nil); code != http.StatusOK {
		t.Errorf("healthz %d", code)
	}
	if len(s.logs.records("refused")) < 3 {
		t.Errorf("internal errors not logged")
	}
}
