package signaling_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-voice/parley/signaling"
)

// closedAddr is the URL of a port on this machine where nothing listens
// (one the system gave out, then closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}

// TestUnreachable: a server where nothing answers is an *UnreachableError
// that names the addresses tried and why, whether the WebSocket or the HTTP
// API found it; a server that answers and is not parley is not one.
func TestUnreachable(t *testing.T) {
	a, b := closedAddr(t), closedAddr(t)
	check := func(what string, err error, servers ...string) {
		t.Helper()
		var u *signaling.UnreachableError
		if !errors.As(err, &u) {
			t.Fatalf("%s: %v (%T), want an *UnreachableError", what, err, err)
		}
		reason := signaling.Reason(u.Err)
		if strings.Join(u.Servers, " ") != strings.Join(servers, " ") || reason != "connection refused" {
			t.Errorf("%s: servers %q, reason %q; want %q, connection refused", what, u.Servers, reason, servers)
		}
		want := "could not reach the server at " + servers[0] + " (connection refused): "
		if len(servers) > 1 {
			want = "could not reach any of the servers at " + strings.Join(servers, ", ") + " (connection refused): "
		}
		if !strings.HasPrefix(u.Message(), want) || !strings.Contains(u.Message(), "--server URL") {
			t.Errorf("%s: %q, want it to start %q and name --server", what, u.Message(), want)
		}
	}
	_, err := signaling.Dial(t.Context(), a, "tok", signaling.DialOptions{})
	check("Dial", err, a)
	_, err = signaling.DialAny(t.Context(), []string{a, b}, "tok", signaling.DialOptions{})
	check("DialAny", err, a, b)
	api := &signaling.API{Server: a, APIKey: "k"}
	_, err = api.Users(t.Context())
	check("API", err, a)
	_, err = signaling.FetchToken(t.Context(), nil, b, "k", "bob", 0)
	check("FetchToken", err, b)

	notParley := httptest.NewServer(http.NotFoundHandler())
	defer notParley.Close()
	_, err = signaling.Dial(t.Context(), notParley.URL, "tok", signaling.DialOptions{})
	var u *signaling.UnreachableError
	if err == nil || errors.As(err, &u) {
		t.Errorf("Dial to a server that is not parley: %v; want an error that is not an *UnreachableError", err)
	}
}
