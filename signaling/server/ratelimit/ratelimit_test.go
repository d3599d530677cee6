package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestForwardedClient: the client's address is the rightmost address of
// X-Forwarded-For that is not a trusted proxy's, when the peer is one.
func TestForwardedClient(t *testing.T) {
	trusted, err := ParseProxies([]string{"10.0.0.0/8", "fd00::/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5:4000"}, // not a proxy
		{"10.0.0.1:4000", nil, "10.0.0.1:4000"},                            // a proxy's own request
		{"10.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:4000", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"10.0.0.1:4000", []string{"198.51.100.1:5555, 192.0.2.1"}, "198.51.100.1"},
		{"[fd00::1]:4000", []string{"[2001:db8::7]:80"}, "2001:db8::7"},
		{"[::ffff:10.0.0.1]:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"10.0.0.1:4000", []string{"10.0.0.2, 10.0.0.3"}, "10.0.0.2"},    // all proxies: the farthest
		{"10.0.0.1:4000", []string{"unknown, 10.0.0.3"}, "10.0.0.3"},     // not an address: the last known
		{"10.0.0.1:4000", []string{"6.6.6.6, garbage"}, "10.0.0.1:4000"}, // from the nearest proxy
	} {
		if got := forwardedClient(c.peer, c.xff, trusted); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", ""} {
		if _, err := ParseProxies([]string{bad}); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
			t.Errorf("trusted proxy %q: %v", bad, err)
		}
	}
}

// TestPerDay: a bucket of n a day lets n through at once, then one every
// 86400/n seconds; a full bucket is forgotten.
func TestPerDay(t *testing.T) {
	r := PerDay(4, false)
	for i := range 4 {
		if ok, _ := r.Allow("a"); !ok {
			t.Fatalf("call %d refused", i+1)
		}
	}
	ok, retry := r.Allow("a")
	if ok || retry < 5*time.Hour || retry > 6*time.Hour {
		t.Errorf("5th call: allowed %v, retry in %v; want refused for 6 h (a day over 4)", ok, retry)
	}
	if ok, _ := r.Allow("b"); !ok {
		t.Errorf("another caller refused")
	}
	if ok, _ := PerDay(4, true).Allow("a"); !ok {
		t.Errorf("off, yet refused")
	}
}

// TestAllowance: a connection's allowance of limit messages a second lets
// four times as many through at once, then one every 1/limit seconds; a
// negative limit lets everything through.
func TestAllowance(t *testing.T) {
	var b Allowance
	now := time.Unix(1_700_000_000, 0)
	for i := range 8 {
		if !b.Allow(2, now) {
			t.Fatalf("message %d of 8 at once refused", i+1)
		}
	}
	if b.Allow(2, now) {
		t.Errorf("message 9 at once allowed, want refused")
	}
	if b.Allow(2, now.Add(400*time.Millisecond)) {
		t.Errorf("a message 0.4 s later allowed, want refused (one every 0.5 s)")
	}
	if !b.Allow(2, now.Add(500*time.Millisecond)) {
		t.Errorf("a message 0.5 s later refused")
	}
	var off Allowance
	for i := range 1000 {
		if !off.Allow(-1, now) {
			t.Fatalf("message %d refused with no limit", i+1)
		}
	}
}

// TestFromProxies: a request from a trusted proxy comes from its client,
// one from anyone else from its peer; without trusted proxies
// X-Forwarded-For is ignored.
func TestFromProxies(t *testing.T) {
	var got string
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.RemoteAddr })
	h := FromProxies([]string{"10.0.0.0/8"}, next)
	for _, c := range []struct{ peer, want string }{
		{"10.0.0.1:4000", "198.51.100.1"},
		{"203.0.113.5:4000", "203.0.113.5:4000"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		r.Header.Set("X-Forwarded-For", "198.51.100.1")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("from %s: client %s, want %s", c.peer, got, c.want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	FromProxies(nil, next).ServeHTTP(httptest.NewRecorder(), r)
	if got != "10.0.0.1:4000" {
		t.Errorf("no trusted proxies: client %s, want the peer 10.0.0.1:4000", got)
	}
}
