package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
)

// TestSlowClientDisconnected: a client that stops reading is disconnected
// once its send queue fills, and the others are not held up.
func TestSlowClientDisconnected(t *testing.T) {
	// The answered call waits ReconnectGrace for bob to come back before
	// it fails: not for long here.
	s := startServer(t, func(c *Config) { c.SendQueue = 16; c.ReconnectGrace = 500 * time.Millisecond })
	alice := s.connect(t, "alice", "")

	// bob reads nothing, through a small receive buffer.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	bob, _, err := websocket.Dial(ctx, "ws://"+s.Addr()+PathWS, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.CloseNow()
	write := func(m signaling.Message) {
		t.Helper()
		b, _ := signaling.Encode(m)
		if err := bob.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	write(signaling.Message{Type: signaling.TypeConnect, Token: s.token(t, "bob")})
	alice.send(signaling.Message{Type: signaling.TypeWatch, Users: []string{"bob"}})
	for m := alice.next(); !*m.Online; m = alice.next() {
	}

	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "bob", SDP: "offer"})
	next := func() signaling.Message { // skips bob's presence: in a call
		m := alice.next()
		for m.Type == signaling.TypePresence {
			m = alice.next()
		}
		return m
	}
	id := next().Event.ID
	write(signaling.Message{Type: signaling.TypeAnswer, CallID: id, SDP: "answer"})
	if m := next(); m.Event.Status != signaling.Answered {
		t.Fatalf("got %s", js(m))
	}

	// Send bob more than he reads until the server gives up on him:
	// batches of large offers, within alice's allowance of messages (see
	// msgRate), each followed by a ping, so that alice's own replies stay
	// few.
	offer := strings.Repeat("v", signaling.MaxSDPLength-1024)
	pace := time.NewTicker(time.Second / 5)
	defer pace.Stop()
	sent := 0
	for done := false; !done; <-pace.C {
		if sent >= 2000 {
			t.Fatalf("bob still connected after %d offers", sent)
		}
		for range 8 {
			alice.send(signaling.Message{Type: signaling.TypeRenegotiate, CallID: id, SDP: offer, SDPType: "offer"})
		}
		sent += 8
		alice.send(signaling.Message{Type: signaling.TypePing, Ref: "batch"})
		for m := alice.next(); m.Type != signaling.TypePong; m = alice.next() {
			switch {
			case m.Type == signaling.TypeCallStatusChanged:
				alice.expectMsg(m, status(ended(id, signaling.Failed, out, "alice", "bob", "bob disconnected",
					signaling.NoConnectedDestination)))
				done = true
			case m.Type == signaling.TypeError && m.Error.Code == signaling.NoConnectedCall:
				// offers after the end, which the status may trail
			case m.Type == signaling.TypePresence && m.User == "bob":
				// alice watches bob
			default:
				t.Fatalf("got %s", js(m))
			}
		}
	}
	t.Logf("bob disconnected after %d offers of %d bytes", sent, len(offer))
	if len(s.logs.records("disconnecting a slow client")) != 1 {
		t.Errorf("slow client not logged")
	}
	alice.ping("p")
}
