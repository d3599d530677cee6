package server

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
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
		b := fmt.Sprintf(`{"type":"candidate","call_id":%q,`+
			`"candidate":{"candidate":"candidate:%d 1 udp 1 198.51.100.1 %d typ host"}}`, id, i, 1000+i)
		writeErr = alice.ws.Write(ctx, websocket.MessageText, []byte(b))
	}
	if code := alice.closed(); code != websocket.StatusPolicyViolation {
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
	if code := c.closed(); code != websocket.StatusPolicyViolation {
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

// TestContactsRequestCost: the contacts of someone with 1,000 contacts are
// read in a handful of requests to NATS, not several per contact. (Four a
// contact: half a second of CPU per request.)
func TestContactsRequestCost(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	var contacts []string
	for i := range MaxContacts {
		u := fmt.Sprintf("c%04d", i)
		if _, err := s.IssueToken(ctx, u, TokenOptions{}); err != nil {
			t.Fatal(err)
		}
		contacts = append(contacts, u)
	}
	b, _ := json.Marshal(store.Contacts{Contacts: contacts})
	if _, err := s.store.Contacts.Put(ctx, store.UserKey(DefaultTeam, "alice"), b); err != nil {
		t.Fatal(err)
	}
	api := s.userAPI(s.token(t, "alice"))
	s.connect(t, "c0001", "") // one of them online
	before := s.bus.nc.Stats().OutMsgs
	people, err := api.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requests := s.bus.nc.Stats().OutMsgs - before
	t.Logf("%d contacts listed in %d requests to NATS", len(people), requests)
	if len(people) != MaxContacts || !people[1].Online || people[0].Online {
		t.Fatalf("%d contacts; c0000 online %v, c0001 online %v", len(people), people[0].Online, people[1].Online)
	}
	if requests > 10 {
		t.Errorf("%d requests to NATS for one contacts list, want at most 10", requests)
	}
}

// TestWatchesOfUnknownUsers: connections that each watch 1,000 users who
// do not exist cost the server a few hundred bytes a watched user. (200
// of them took the server from 168 MB to 858 MB: 3.4 KB a watched user.)
func TestWatchesOfUnknownUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 watched users")
	}
	const conns = 50
	s := startServer(t)
	users := make([]string, signaling.MaxWatch)
	for i := range users {
		users[i] = fmt.Sprintf("nobody%04d", i)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	tokens := make([]string, conns)
	for i := range tokens {
		tokens[i] = s.token(t, fmt.Sprintf("mallory%d", i))
	}
	before := heap()
	for _, tok := range tokens {
		c := s.connectQuiet(t, tok)
		b, _ := json.Marshal(signaling.Message{Type: signaling.TypeWatch, Ref: "w", Users: users})
		if err := c.ws.Write(t.Context(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
		c.waitState(t, users[len(users)-1], signaling.StateOffline)
	}
	per := float64(heap()-before) / (conns * signaling.MaxWatch)
	t.Logf("%d connections watching %d unknown users each: %.0f bytes a watched user", conns, signaling.MaxWatch, per)
	if per > 500 {
		t.Errorf("%.0f bytes a watched user, want at most 500", per)
	}
}

// TestLongPollsPerUser: one user holds at most maxWaits presence
// long-polls on a node; one more is refused at once with 80101. (1,000
// long-polls of one user were held, 80 KB each.)
func TestLongPollsPerUser(t *testing.T) {
	s := startServer(t)
	s.token(t, "bob")
	api := s.userAPI(s.token(t, "alice"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, maxWaits)
	for range maxWaits {
		go func() {
			_, err := api.Presence(ctx, "bob", time.Minute)
			errs <- err
		}()
	}
	// Until the server holds them all, one more may still get in.
	for {
		var n int
		s.feed.do(ctx, func() { n = s.feed.waits(store.UserKey(DefaultTeam, "alice")) })
		if n == maxWaits {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_, err := api.Presence(t.Context(), "bob", time.Minute)
	wantCode(t, err, signaling.InvalidParameter)
	cancel()
	for range maxWaits {
		<-errs //nolint:errcheck // the waits end when cancelled, with an error: this waits for them to return
	}
}
