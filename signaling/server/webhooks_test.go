package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/webhook"
)

// startPair starts two nodes on one NATS, as TestTwoNodes does: a embeds
// it, b connects to it with a's secret and API key. mods change both.
func startPair(t *testing.T, mods ...func(*Config)) (a, b *testServer) {
	t.Helper()
	a = startServer(t, append([]func(*Config){func(c *Config) { c.NATSListen = "127.0.0.1:0"; c.NodeName = "a" }},
		mods...)...)
	dir := t.TempDir()
	for _, f := range []string{secretFile, apiKeyFile} {
		data, err := os.ReadFile(filepath.Join(a.cfg.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logBuffer{}
	cfg := testConfig(dir, logs)
	for _, m := range mods {
		m(&cfg)
	}
	cfg.NATSURL, cfg.NodeName = a.NATSClientURL(), "b"
	return a, startWith(t, cfg, logs)
}

// loopback is the allowance the tests' receivers need: they are on
// 127.0.0.1, which webhooks are not sent to unless the operator allows it.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// hookRequest is one POST a receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
	at     time.Time
	event  signaling.WebhookEvent
}

// startReceiver starts a webhook receiver that answers each POST with the
// status respond gives, and hands every request to the test.
func startReceiver(t *testing.T, respond func(hookRequest) int) (*httptest.Server, <-chan hookRequest) {
	t.Helper()
	got := make(chan hookRequest, 256)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hr := hookRequest{header: r.Header.Clone(), body: body, at: time.Now()}
		if err := json.Unmarshal(body, &hr.event); err != nil || r.Method != http.MethodPost {
			t.Errorf("receiver: %s with %q: %v", r.Method, body, err)
		}
		got <- hr
		w.WriteHeader(respond(hr))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// nextHook returns the next request the receiver got; it fails the test if
// none comes.
func nextHook(t *testing.T, got <-chan hookRequest) hookRequest {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(patience):
		t.Fatalf("receiver: no request within %v", patience)
	}
	return hookRequest{}
}

// waitDrained waits until the webhook stream holds nothing: every event
// fanned out and every delivery acked or dropped, so that nothing more can
// be sent. JetStream sends no event for it, so this polls.
func waitDrained(t *testing.T, s *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := s.bus.js.Stream(ctx, webhook.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatalf("webhook stream not drained within %v: %v", patience, err)
		}
		if info.State.Msgs == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("webhook stream still holds %d messages after %v", info.State.Msgs, patience)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wantEvent fails unless r is a valid signed delivery of an event of call
// id from from to to, in status st.
func wantEvent(t *testing.T, r hookRequest, secret string) {
	t.Helper()
	if err := signaling.VerifyWebhook(secret, r.header, r.body, time.Minute, time.Now()); err != nil {
		t.Errorf("event %s: %v", r.event.EventID, err)
	}
	if err := signaling.VerifyWebhook("another secret", r.header, r.body, 0, time.Now()); err == nil {
		t.Errorf("event %s: verified with the wrong secret", r.event.EventID)
	}
	if r.header.Get(signaling.HeaderEventID) != r.event.EventID || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("event %s: headers %v", r.event.EventID, r.header)
	}
}

// TestWebhooksTwoNodes: with two nodes taking events from one stream,
// a webhook gets every status change of calls owned by either node
// exactly once, signed.
func TestWebhooksTwoNodes(t *testing.T) {
	fast := func(c *Config) {
		c.Webhooks = WebhookOptions{RetryBase: 50 * time.Millisecond, Workers: 2, Allow: loopback}
	}
	a, b := startPair(t, fast)
	srv, got := startReceiver(t, func(hookRequest) int { return http.StatusNoContent })
	ctx := context.Background()
	hook, err := a.adminAPI(a.APIKey()).AddWebhook(ctx, srv.URL+"/parley")
	if err != nil {
		t.Fatal(err)
	}
	if hook.ID == "" || len(hook.Secret) < 32 || hook.URL != srv.URL+"/parley" {
		t.Fatalf("registration: %s", js(hook))
	}
	// b sees the webhook a registered.
	if list, err := b.adminAPI(b.APIKey()).Webhooks(ctx); err != nil || len(list) != 1 || list[0].ID != hook.ID ||
		list[0].Secret != "" {
		t.Fatalf("list on b: %s %v", js(list), err)
	}

	alice := b.connect(t, "alice", "")
	bob := a.connect(t, "bob", "")
	done := completeCall(t, alice, bob, "d1")   // owned by b
	rejected := rejectCall(t, bob, alice, "d2") // owned by a
	want := map[string]signaling.WebhookEvent{}
	add := func(id, from, to, node string, n int, st signaling.Status, reason string) {
		event := signaling.EventCallStatusChanged
		if st == signaling.Started {
			event = signaling.EventCall
		}
		eid := id + "." + strconv.Itoa(n)
		want[eid] = signaling.WebhookEvent{Event: event, EventID: eid, ID: id, Status: st, Direction: out, From: from,
			To: to, Reason: reason, Node: node}
	}
	for i, st := range []signaling.Status{signaling.Started, signaling.Ringing, signaling.Answered,
		signaling.Completed} {
		add(done, "alice", "bob", "b", i+1, st, "")
	}
	add(rejected, "bob", "alice", "a", 1, signaling.Started, "")
	add(rejected, "bob", "alice", "a", 2, signaling.Rejected, ReasonDeclined)

	seen := map[string]int{}
	times := map[string]time.Time{}
	var latencies []time.Duration
	for range want {
		r := nextHook(t, got)
		times[r.event.EventID] = r.event.Time
		wantEvent(t, r, hook.Secret)
		seen[r.event.EventID]++
		w, ok := want[r.event.EventID]
		gotEv := r.event
		gotEv.Time = time.Time{}
		if !ok || gotEv != w {
			t.Errorf("got event %s, want one of %d expected", js(r.event), len(want))
		}
		if r.header.Get(signaling.HeaderAttempt) != "1" {
			t.Errorf("event %s: attempt %s, want 1", r.event.EventID, r.header.Get(signaling.HeaderAttempt))
		}
		latencies = append(latencies, r.at.Sub(r.event.Time))
	}
	waitDrained(t, a)
	select {
	case r := <-got:
		t.Fatalf("event delivered again: %s (seen %v)", js(r.event), seen)
	default:
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	// The event times are the record's.
	calls, err := a.adminAPI(a.APIKey()).Calls(ctx, signaling.CallsQuery{})
	if err != nil || len(calls) != 2 {
		t.Fatalf("calls: %s %v", js(calls), err)
	}
	for _, c := range calls {
		for i, sc := range c.Statuses {
			if eid := c.ID + "." + strconv.Itoa(i+1); !times[eid].Equal(sc.Time) {
				t.Errorf("event %s at %v, but the record has %s at %v", eid, times[eid], sc.Status, sc.Time)
			}
		}
	}
	slices.Sort(latencies)
	perNode := map[string]int{}
	for _, s := range []*testServer{a, b} {
		for _, rec := range s.logs.records("webhook delivered") {
			perNode[rec["node"].(string)]++
		}
	}
	if perNode["a"]+perNode["b"] != len(want) {
		t.Errorf("deliveries logged per node: %v, want %d in all", perNode, len(want))
	}
	t.Logf("%d events delivered once each; deliveries by node %v; latency from the status change min %v "+
		"median %v max %v",
		len(want), perNode, latencies[0], latencies[len(latencies)/2], latencies[len(latencies)-1])
}

// TestWebhookRefused: a dial refused before it rang (bob offline, then in
// do not disturb, asked through POST .../callable as `parley call` does)
// is told to the team's webhooks as any call is: its start, then its end
// unanswered with the reason and the code, signed, at the record's times.
func TestWebhookRefused(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Webhooks = WebhookOptions{Allow: loopback}; c.NodeName = "a" })
	srv, got := startReceiver(t, func(hookRequest) int { return http.StatusNoContent })
	ctx := context.Background()
	hook, err := s.adminAPI(s.APIKey()).AddWebhook(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	bobTok := s.token(t, "bob")
	alice := s.connect(t, "alice", "")
	alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d1", To: "bob", SDP: "offer"})
	alice.expectError(signaling.NoConnectedDestination, "d1", "")
	if _, err := s.userAPI(bobTok).SetPresence(ctx, signaling.StateDND); err != nil {
		t.Fatal(err)
	}
	s.connectWith(t, "bob", bobTok)
	if _, err := s.userAPI(s.token(t, "alice")).Callable(ctx, "bob"); err == nil {
		t.Fatal("bob in do not disturb is callable")
	}

	calls, err := s.adminAPI(s.APIKey()).Calls(ctx, signaling.CallsQuery{})
	if err != nil || len(calls) != 2 {
		t.Fatalf("calls: %s %v", js(calls), err)
	}
	want := map[string]signaling.WebhookEvent{}
	for _, c := range calls {
		for i, sc := range c.Statuses {
			e := signaling.WebhookEvent{Event: signaling.EventCall, EventID: c.ID + "." + strconv.Itoa(i+1), ID: c.ID,
				Status: sc.Status, Direction: signaling.Outbound, From: "alice", To: "bob", Time: sc.Time, Node: "a"}
			if sc.Status != signaling.Started {
				e.Event, e.Reason, e.Code = signaling.EventCallStatusChanged, c.Reason, c.Code
			}
			want[e.EventID] = e
		}
	}
	if len(want) != 4 {
		t.Fatalf("the records' statuses: %s; want started and unanswered in each", js(calls))
	}
	for range len(want) {
		r := nextHook(t, got)
		wantEvent(t, r, hook.Secret)
		if w, ok := want[r.event.EventID]; !ok || js(r.event) != js(w) {
			t.Errorf("got event %s, want %s", js(r.event), js(w))
		}
		delete(want, r.event.EventID)
	}
	reasons := map[string]signaling.Code{}
	for _, c := range calls {
		reasons[c.Reason] = c.Code
	}
	if reasons[ReasonOffline] != signaling.NoConnectedDestination || reasons[ReasonDND] != signaling.AlreadyBusyCall {
		t.Errorf("the refused calls' reasons and codes: %v", reasons)
	}
	waitDrained(t, s)
	select {
	case r := <-got:
		t.Errorf("one more event: %s", js(r.event))
	default:
	}
}

// TestWebhookRetries: a receiver that fails the first two attempts gets
// each event on the third, after delays that double, and no more; one
// that cannot be reached is given up after Attempts.
func TestWebhookRetries(t *testing.T) {
	const base = 100 * time.Millisecond
	s := startServer(t, func(c *Config) { c.Webhooks = WebhookOptions{RetryBase: base, Attempts: 4, Allow: loopback} })
	srv, got := startReceiver(t, func(r hookRequest) int {
		if r.header.Get(signaling.HeaderAttempt) == "3" {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	ctx := context.Background()
	hook, err := s.adminAPI(s.APIKey()).AddWebhook(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	alice := s.connect(t, "alice", "")
	bob := s.connect(t, "bob", "")
	id := rejectCall(t, alice, bob, "d1") // two events: started, rejected

	attempts := map[string][]hookRequest{}
	for range 2 * 3 {
		r := nextHook(t, got)
		wantEvent(t, r, hook.Secret)
		attempts[r.event.EventID] = append(attempts[r.event.EventID], r)
	}
	waitDrained(t, s)
	select {
	case r := <-got:
		t.Fatalf("a fourth attempt: %s attempt %s", r.event.EventID, r.header.Get(signaling.HeaderAttempt))
	default:
	}
	for _, eid := range []string{id + ".1", id + ".2"} {
		rs := attempts[eid]
		if len(rs) != 3 {
			t.Fatalf("event %s: %d attempts, want 3", eid, len(rs))
		}
		var gaps []time.Duration
		for i, r := range rs {
			if n := r.header.Get(signaling.HeaderAttempt); n != strconv.Itoa(i+1) ||
				string(r.body) != string(rs[0].body) {
				t.Errorf("event %s: request %d is attempt %s with body %s", eid, i+1, n, r.body)
			}
			if i > 0 {
				gaps = append(gaps, r.at.Sub(rs[i-1].at))
			}
		}
		if gaps[0] < base || gaps[1] < 2*base {
			t.Errorf("event %s: retried after %v, want at least %v then %v", eid, gaps, base, 2*base)
		}
		t.Logf("event %s (%s): 3 attempts, retried after %v and %v; delivered %v after the status change",
			eid, rs[0].event.Status, gaps[0].Round(time.Millisecond), gaps[1].Round(time.Millisecond),
			rs[2].at.Sub(rs[0].event.Time).Round(time.Millisecond))
	}
	if n := len(s.logs.records("webhook delivered")); n != 2 {
		t.Errorf("%d deliveries logged, want 2", n)
	}

	// A receiver that cannot be reached: Attempts attempts, then dropped.
	if err := s.adminAPI(s.APIKey()).RemoveWebhook(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connections are refused from now on
	if _, err := s.adminAPI(s.APIKey()).AddWebhook(ctx, deadURL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rejectCall(t, alice, bob, "d2")
	waitDrained(t, s)
	to := func(msg string) (n int) {
		for _, r := range s.logs.records(msg) {
			if r["url"] == deadURL {
				n++
			}
		}
		return n
	}
	gaveUp, failed := to("webhook delivery given up"), to("webhook delivery failed; retrying")
	if gaveUp != 2 || failed != 2*3 {
		t.Errorf("unreachable receiver: %d given up, %d retries logged; want 2 and 6", gaveUp, failed)
	}
	t.Logf("unreachable receiver: 2 events given up after 4 attempts each, %v after the call",
		time.Since(start).Round(time.Millisecond))
}

// TestWebhookRegistration: URLs that cannot receive a POST are refused
// with a clear reason; webhooks are listed and removed per team.
func TestWebhookRegistration(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	api := s.adminAPI(s.APIKey())
	for _, u := range []string{"", "example.com/hook", "/hook", "ftp://example.com/hook", "http://",
		"https://user:pw@example.com/",
		"http://example.com:99999/", "http://exa mple.com/", "https://example.com/#frag", "https://example.com/" +
			strings.Repeat("x", 2100)} {
		_, err := api.AddWebhook(ctx, u)
		e := wantCode(t, err, signaling.InvalidParameter)
		if !strings.Contains(e.Message, "webhook URL") || !strings.Contains(e.Message, "http://") {
			t.Errorf("%.40q: unclear refusal %q", u, e.Message)
		}
	}
	if list, err := api.Webhooks(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after refusals: %s %v", js(list), err)
	}

	h1, err := api.AddWebhook(ctx, "https://app.example.com/parley")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := api.AddWebhook(ctx, "http://203.0.113.7:8080/events?src=parley")
	if err != nil {
		t.Fatal(err)
	}
	if h1.Secret == h2.Secret || h1.ID == h2.ID {
		t.Fatal("two webhooks share an id or a secret")
	}
	team, err := api.AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	acme := s.adminAPI(team.APIKey)
	if list, err := acme.Webhooks(ctx); err != nil || len(list) != 0 {
		t.Errorf("acme sees the default team's webhooks: %s %v", js(list), err)
	}
	wantCode(t, acme.RemoveWebhook(ctx, h1.ID), signaling.InvalidParameter)

	list, err := api.Webhooks(ctx)
	if err != nil || len(list) != 2 || list[0].ID != h1.ID || list[1].ID != h2.ID || list[0].Secret != "" ||
		list[1].URL != h2.URL {
		t.Fatalf("list: %s %v", js(list), err)
	}
	if err := api.RemoveWebhook(ctx, h1.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, api.RemoveWebhook(ctx, h1.ID), signaling.InvalidParameter)
	if list, err := api.Webhooks(ctx); err != nil || len(list) != 1 || list[0].ID != h2.ID {
		t.Fatalf("list after remove: %s %v", js(list), err)
	}

	_, err = s.adminAPI("wrong").AddWebhook(ctx, "https://app.example.com/parley")
	wantCode(t, err, signaling.InvalidToken)
	code, _ := get(t, s.url(signaling.PathWebhooks), map[string]string{HeaderAPIKey: "wrong"})
	if code != http.StatusUnauthorized {
		t.Errorf("list with a wrong key: %d, want 401", code)
	}

	// The destinations refused are package webhook's (TestDestinations);
	// the server checks the ranges the operator allows.
	wantCode(t, errOf(api.AddWebhook(ctx, "http://127.0.0.1:8080/events")), signaling.InvalidParameter)
	for _, bad := range [][]netip.Prefix{{{}}, {netip.MustParsePrefix("::ffff:10.0.0.0/104")}} {
		err := Config{DataDir: "d", Webhooks: WebhookOptions{Allow: bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "Webhooks.Allow") {
			t.Errorf("Allow %v: %v, want a refusal", bad, err)
		}
	}
}

// errOf is the error of a call that returns a value too.
func errOf[T any](_ T, err error) error { return err }

// TestWebhookRefusedAtConnection: a webhook registered while its name
// resolved to an allowed address is not POSTed to once that address is
// refused (as when a name's DNS answer changes after registration): the
// check is made on the address each connection is made to, IPv4 written
// in IPv6 included. Its deliveries are dropped at once, each logged once
// with the reason.
func TestWebhookRefusedAtConnection(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	cfg.Webhooks = WebhookOptions{RetryBase: 50 * time.Millisecond, Attempts: 4, Allow: loopback}
	s := startWith(t, cfg, logs)
	srv, got := startReceiver(t, func(hookRequest) int { return http.StatusNoContent })
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	hookURLs := []string{
		"http://localhost:" + port + "/events", // resolves to 127.0.0.1
		"http://[::ffff:127.0.0.1]:" + port + "/events",
	}
	for _, u := range hookURLs {
		if _, err := s.adminAPI(s.APIKey()).AddWebhook(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	cfg.Webhooks.Allow = nil // the operator no longer allows loopback
	s = startWith(t, cfg, logs)
	alice, bob := s.connect(t, "alice", ""), s.connect(t, "bob", "")
	id := rejectCall(t, alice, bob, "d1") // two events
	waitDrained(t, s)
	select {
	case r := <-got:
		t.Fatalf("event %s POSTed to loopback (attempt %s)", r.event.EventID, r.header.Get(signaling.HeaderAttempt))
	default:
	}
	refusals := s.logs.records("webhook delivery refused: its address is not allowed")
	seen := map[string]bool{} // url event
	for _, r := range refusals {
		seen[fmt.Sprint(r["url"], " ", r["event"])] = true
		err, _ := r["err"].(string)
		if r["attempt"] != 1.0 || !strings.Contains(err, "127.0.0.1 is a loopback address") ||
			!strings.Contains(err, "parley serve --webhook-allow 127.0.0.1/32") {
			t.Errorf("refusal logged: %v", r)
		}
	}
	for _, u := range hookURLs {
		for _, e := range []string{id + ".1", id + ".2"} {
			if !seen[u+" "+e] {
				t.Errorf("no refusal logged for event %s to %s", e, u)
			}
		}
	}
	if len(refusals) != 4 {
		t.Errorf("%d refusals logged, want 4: one per event and webhook", len(refusals))
	}
	if n := len(s.logs.records("webhook delivery failed; retrying")); n != 0 {
		t.Errorf("%d refused deliveries retried, want none", n)
	}
	if len(refusals) > 0 {
		t.Logf("logged: %v", refusals[0]["err"])
	}
}
