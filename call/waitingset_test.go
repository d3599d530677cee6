package call_test

import (
	"context"
	"testing"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestCallWaitingFromConfig: a phone started with Config.CallWaiting off
// (the config's call_waiting: false) has the server refuse a call to
// alice while she is in one as busy: carol's callable check is refused
// 80202. Alice's next phone, with it on, has the server ring it again
// (callable), though the server kept off from the phone before.
func TestCallWaitingFromConfig(t *testing.T) {
	r := newRig(t, server.Config{})
	tok, err := r.srv.IssueToken(context.Background(), "carol", server.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	carol := &signaling.API{Server: r.url, Token: func(context.Context) (string, error) { return tok, nil }}
	bob := r.phone("bob", devices{tone(660), null})
	for _, on := range []bool{false, true} {
		alice := r.phoneWith("alice", devices{tone(300), null}, func(c *call.Config) { c.CallWaiting = &on })
		connect(alice, bob)
		_, err := carol.Callable(context.Background(), "alice")
		t.Logf("call waiting %v: carol's call to alice, in a call with bob: %v", on, err)
		switch e := signaling.AsError(err); {
		case !on && (err == nil || e.Code != signaling.AlreadyBusyCall):
			t.Errorf("call waiting off from the config: callable %v, want 80202", err)
		case on && err != nil:
			t.Errorf("call waiting on from the config: callable %v, want it to ring", err)
		}
		hangup(alice, bob)
		alice.ph.Close()
	}
}
