package ui

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// TestHeaderSaysWhyDisconnected: the header says in words why the
// connection is down, never a library's error text.
func TestHeaderSaysWhyDisconnected(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&signaling.UnreachableError{Servers: []string{"http://127.0.0.1:7700"}, Err: syscall.ECONNREFUSED},
			"◌ reconnecting… cannot reach the server: connection refused"},
		{errors.New("failed to get reader: use of closed network connection"),
			"◌ reconnecting… the connection to the server was lost"},
	} {
		m := newGoldenModel(scenario{}, 200, 40)
		drive(m, msgs(ev(call.Connected{Err: tc.err})))
		header, _, _ := strings.Cut(m.View(), "\n")
		if !strings.Contains(header, tc.want) || strings.Contains(header, "network") {
			t.Errorf("after %v the header reads\n%s\nwant %q", tc.err, header, tc.want)
		}
	}
}
