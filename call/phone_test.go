package call_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestContextEndsPhone: the phone stops when the context given to Start
// ends, as it does on Close: Events closes within a second, a call in
// progress ends (the other side sees it completed), and every goroutine
// the phone started is gone by then or soon after: its call's, its token
// renewal's (it has a TokenSource), its redial's (while the server is
// down), and the one playing the last sound of a call that just ended
// (Events closes once it has played and the speaker is closed).
func TestContextEndsPhone(t *testing.T) {
	second := audio.SampleRate
	cases := []struct {
		name  string
		setUp func(r *rig, alice *party) (after func())
	}{
		{"idle", func(*rig, *party) func() { return func() {} }},
		{"in a call", func(r *rig, alice *party) func() {
			bob := r.phone("bob", devices{tone(660), null})
			connect(alice, bob)
			return func() {
				bob.status(signaling.Completed)
				bob.ph.Close()
			}
		}},
		{"playing a call's last sound", func(r *rig, alice *party) func() {
			bob := r.phone("bob", devices{tone(660), null})
			connect(alice, bob)
			hangup(bob, alice) // alice's hang-up sound starts
			return func() { bob.ph.Close() }
		}},
		{"redialing", func(r *rig, alice *party) func() {
			r.stop(r.srv)
			alice.connected(false)
			return func() {}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, server.Config{})
			before := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			speaker := audiotest.NewRecorder(true)
			alice := r.phoneCtx(ctx, "alice", devices{tone(440), record(speaker)}, func(cfg *call.Config) {
				cfg.Token, cfg.Reconnect = "", true
				cfg.TokenSource = func(ctx context.Context) (string, error) {
					return r.srv.IssueToken(ctx, "alice", server.TokenOptions{})
				}
				cfg.Sounds.Hangup = audiotest.Tone(1000, 0.5, second*3/10)
			})
			after := c.setUp(r, alice)
			cancel()
			ended := time.Now()
			timeout := time.After(time.Second)
		drain:
			for {
				select {
				case _, ok := <-alice.ph.Events():
					if !ok {
						break drain
					}
				case <-timeout:
					t.Fatal("alice: Events still open a second after Start's context ended")
				}
			}
			t.Logf("Events closed %v after the context ended", time.Since(ended).Round(time.Millisecond))
			if speaker.Len() > 0 { // opened for a call: closed by now
				if err := speaker.Write(make([]int16, audio.FrameSamples)); !errors.Is(err, audiotest.ErrClosed) {
					t.Errorf("alice's speaker still open when Events closed (a write: %v)", err)
				}
			}
			after()
			r.stop(r.srv)
			goleak.VerifyNone(t, before)
		})
	}
}

// TestStoppedPhone: a phone that has stopped answers at once: User says
// nobody, and the intents do nothing.
func TestStoppedPhone(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	if u := alice.ph.User(); u != "alice" {
		t.Fatalf("User() = %q, want alice", u)
	}
	alice.ph.Close()
	done := make(chan string)
	go func() {
		for range 20 {
			alice.ph.Dial("bob")
			alice.ph.Hangup()
			if u := alice.ph.User(); u != "" {
				done <- u
				return
			}
		}
		close(done)
	}()
	select {
	case u, ok := <-done:
		if ok {
			t.Errorf("User() = %q after Close, want nobody", u)
		}
	case <-time.After(time.Second):
		t.Fatal("User() still waiting a second after Close")
	}
}
