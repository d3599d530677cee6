package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait in the tests: a failure, never a delay.
const patience = 5 * time.Second

// loopback is the allowance the tests' receivers need: they are on
// 127.0.0.1, which webhooks are not sent to unless the operator allows it.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// TestDestinations: a webhook whose host is, or resolves only to, an
// address inside the operator's network or the server itself is refused
// with a refusal that names the rule and how the operator allows it;
// numbers that are not written as addresses are refused; an allowance
// lets its range through and no other.
func TestDestinations(t *testing.T) {
	ctx := context.Background()
	refused := []struct{ host, rule, allow string }{
		{"127.0.0.1", "loopback", "127.0.0.1/32"},
		{"127.9.8.7", "loopback", "127.9.8.7/32"},
		{"localhost", "loopback", "127.0.0.1/32"},
		{"api.localhost", "loopback", "127.0.0.1/32"},
		{"[::1]", "loopback", "::1/128"},
		{"[::ffff:127.0.0.1]", "loopback", "127.0.0.1/32"},
		{"0.0.0.0", "unspecified", "0.0.0.0/32"},
		{"[::]", "unspecified", "::/128"},
		{"10.1.2.3", "private", "10.1.2.3/32"},
		{"172.16.0.1", "private", "172.16.0.1/32"},
		{"192.168.1.1", "private", "192.168.1.1/32"},
		{"[fd00::1]", "private", "fd00::1/128"},
		{"100.64.0.1", "shared", "100.64.0.1/32"},
		{"169.254.169.254", "link-local", "169.254.169.254/32"},
		{"[fe80::1%25eth0]", "link-local", "fe80::1/128"},
		{"224.0.0.1", "multicast", "224.0.0.1/32"},
		{"[ff02::1]", "multicast", "ff02::1/128"},
		{"255.255.255.255", "broadcast", "255.255.255.255/32"},
	}
	// One of the server's own addresses that no other rule refuses, if the
	// machine has one.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if ip := p.Addr(); err == nil && ip.Is4() && !ip.IsPrivate() && !ip.IsLoopback() &&
				!ip.IsLinkLocalUnicast() &&
				!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
				refused = append(refused, struct{ host, rule, allow string }{ip.String(), "server's own", ip.String() +
					"/32"})
				t.Logf("the server's own address %s", ip)
				break
			}
		}
	}
	numbers := []string{"2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "127.0.0.1.", "1.2.3.4.5",
		"example.0x10"}

	var d Destinations
	// refusal checks host's URL and returns the refusal's message.
	refusal := func(host string) (string, bool) {
		e := d.CheckURL(ctx, "http://"+host+":8080/events")
		if e == nil || e.Code != signaling.InvalidParameter {
			t.Errorf("%s: got %v, want a refusal %d", host, e, signaling.InvalidParameter)
			return "", false
		}
		return e.Message, true
	}
	for _, r := range refused {
		m, ok := refusal(r.host)
		if ok && (!strings.Contains(m, r.rule) || !strings.Contains(m, "parley serve --webhook-allow "+r.allow)) {
			t.Errorf("%s: refusal %q does not say %q and how to allow %s", r.host, m, r.rule, r.allow)
		}
	}
	for _, n := range numbers {
		if m, ok := refusal(n); ok && !strings.Contains(m, "four decimal numbers") {
			t.Errorf("%s: refusal %q does not say how to write the address", n, m)
		}
	}
	for _, u := range []string{"", "ftp://example.com/", "http:///x", "https://user:pw@example.com/",
		"https://example.com/#f", "http://example.com:70000/",
		"https://example.com/" + strings.Repeat("x", signaling.MaxWebhookURL)} {
		e := d.CheckURL(ctx, u)
		if e == nil || e.Code != signaling.InvalidParameter || !strings.Contains(e.Message, "webhook URL") {
			t.Errorf("%.60q: %v, want a refusal that names the webhook URL", u, e)
		}
	}
	// A public address, and a name that does not resolve now (each delivery
	// checks the address it connects to), are accepted.
	for _, u := range []string{"http://203.0.113.7:8080/", "https://parley-receiver.invalid/events"} {
		if e := d.CheckURL(ctx, u); e != nil {
			t.Errorf("%s: %v", u, e)
		}
	}

	// The operator allows loopback: it is accepted, however written, and
	// the other ranges are still refused.
	d = Destinations{Allow: loopback}
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"} {
		if e := d.CheckURL(ctx, "http://"+h+":8080/events"); e != nil {
			t.Errorf("%s with loopback allowed: %v", h, e)
		}
	}
	for _, h := range []string{"10.1.2.3", "169.254.169.254", "2130706433"} {
		refusal(h)
	}

	for _, bad := range [][]netip.Prefix{{{}}, {netip.MustParsePrefix("::ffff:10.0.0.0/104")}} {
		err := Options{Allow: bad}.Validate()
		if err == nil || !strings.Contains(err.Error(), "Webhooks.Allow") {
			t.Errorf("Allow %v: %v, want a refusal", bad, err)
		}
	}
}

// TestClient: the webhook client checks the address each connection is
// made to, after DNS, and follows no redirect.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://203.0.113.7/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{srv.URL, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port} {
		c := Destinations{}.Client(patience)
		_, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if !errors.As(err, new(*refusedAddrError)) ||
			!strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
			t.Errorf("%s: %v, want refused: a loopback address", u, err)
		}
		c.CloseIdleConnections()
	}
	c := Destinations{Allow: loopback}.Client(patience)
	defer c.CloseIdleConnections()
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("loopback allowed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("status %d, want the redirect itself (307), not followed", resp.StatusCode)
	}
}

// TestBackoff: the delay after each failed attempt doubles from RetryBase
// up to RetryMax; zero options take the defaults.
func TestBackoff(t *testing.T) {
	o := Options{RetryBase: time.Second, RetryMax: 10 * time.Second}.withDefaults()
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, o.backoff(n))
	}
	s := time.Second
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d := (Options{}).withDefaults(); d.Timeout != DefaultTimeout || d.RetryBase != DefaultRetryBase ||
		d.RetryMax != DefaultRetryMax || d.Attempts != DefaultAttempts || d.Workers != DefaultWorkers {
		t.Errorf("defaults %+v", d)
	}
}

// TestDeliver: an event published for a team reaches each of its
// webhooks once, signed with the webhook's secret, and no other team's;
// Close stops every goroutine (TestMain checks).
func TestDeliver(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{
		JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(patience) {
		t.Fatal("NATS not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := store.Open(ctx, nc, js, store.Options{Expiry: time.Minute, CallHistory: time.Hour,
		InviteTTL: time.Hour, LinkTTL: time.Hour, Timeout: patience})
	if err != nil {
		t.Fatal(err)
	}
	type post struct {
		hook   string
		header http.Header
		body   []byte
	}
	got := make(chan post, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- post{r.URL.Path, r.Header.Clone(), body}
	}))
	defer srv.Close()
	for _, w := range []store.Webhook{
		{ID: "h1", Team: "acme", URL: srv.URL + "/h1", Secret: "secret one", Created: time.Now()},
		{ID: "h2", Team: "acme", URL: srv.URL + "/h2", Secret: "secret two", Created: time.Now()},
		{ID: "h3", Team: "other", URL: srv.URL + "/h3", Secret: "secret three", Created: time.Now()},
	} {
		b, _ := json.Marshal(w)
		if _, err := st.Webhooks.Put(ctx, store.WebhookKey(w.Team, w.ID), b); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Start(ctx, js, st, Options{Allow: loopback}, "n1", patience, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e := &signaling.WebhookEvent{Event: signaling.EventCall, EventID: "call1.1", ID: "call1", Status: signaling.Started,
		From: "alice", To: "bob", Time: time.Now().UTC()}
	d.Publish("acme", e)
	secrets := map[string]string{"/h1": "secret one", "/h2": "secret two"}
	for range 2 {
		var p post
		select {
		case p = <-got:
		case <-time.After(patience):
			t.Fatal("no delivery")
		}
		secret, ok := secrets[p.hook]
		delete(secrets, p.hook)
		if !ok {
			t.Fatalf("delivery to %s: not one of acme's webhooks, or twice", p.hook)
		}
		if err := signaling.VerifyWebhook(secret, p.header, p.body, time.Minute, time.Now()); err != nil {
			t.Errorf("%s: %v", p.hook, err)
		}
		var ev signaling.WebhookEvent
		if err := json.Unmarshal(p.body, &ev); err != nil || ev.EventID != "call1.1" ||
			p.header.Get(signaling.HeaderEventID) != "call1.1" || p.header.Get(signaling.HeaderAttempt) != "1" {
			t.Errorf("%s: %s %v, headers %v", p.hook, p.body, err, p.header)
		}
	}
	// Once the stream is empty, nothing more can come. JetStream sends no
	// event for it, so this polls.
	stream, err := js.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatalf("stream not drained: %v", err)
		}
		if info.State.Msgs == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case p := <-got:
		t.Errorf("a delivery to %s, which is not acme's", p.hook)
	default:
	}
}
