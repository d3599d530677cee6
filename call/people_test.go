package call_test

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

func TestVerificationCode(t *testing.T) {
	sdp := func(fp string) string {
		return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\na=fingerprint:sha-256 " + fp +
			"\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	}
	a, b, c := sdp("AA:BB:CC"), sdp("11:22:33"), sdp("11:22:34")
	ab, err := call.VerificationCode(a, b)
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := call.VerificationCode(b, a)
	ac, _ := call.VerificationCode(a, c)
	if ab != ba {
		t.Errorf("code depends on the order: %s, %s", ab, ba)
	}
	if ab == ac {
		t.Errorf("another fingerprint gives the same code %s", ab)
	}
	if !regexp.MustCompile(`^\d{3} \d{3} \d{3} \d{3}$`).MatchString(ab) {
		t.Errorf("code %q is not twelve digits in four groups", ab)
	}
	lower, _ := call.VerificationCode(strings.ReplaceAll(a, "AA:BB:CC", "aa:bb:cc"), b)
	if lower != ab {
		t.Errorf("the hex case changes the code: %s, %s", lower, ab)
	}
	if _, err := call.VerificationCode("v=0\r\n", b); err == nil {
		t.Error("a code without a local fingerprint")
	}
}

// verification reads p's events until its verification code.
func verification(t *testing.T, p *party) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				t.Fatalf("%s: phone stopped", p.name)
			}
			if v, ok := ev.(call.Verification); ok {
				if v.CallID == "" || v.Code == "" {
					t.Fatalf("%s: verification %+v", p.name, v)
				}
				return v.Code
			}
			if f, ok := ev.(call.Failure); ok {
				t.Fatalf("%s: %v", p.name, f.Err)
			}
		case <-timeout:
			t.Fatalf("%s: no verification code within 15s", p.name)
		}
	}
}

// TestVerificationOverACall: both sides of a real call show the same code,
// and the next call another.
func TestVerificationOverACall(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(660), null})
	var codes []string
	for i := range 2 {
		alice.ph.Dial("bob")
		bob.status(signaling.Started)
		bob.ph.Answer()
		a, b := verification(t, alice), verification(t, bob)
		t.Logf("call %d: alice reads %s, bob reads %s", i+1, a, b)
		if a != b {
			t.Errorf("call %d: alice's code %s, bob's %s", i+1, a, b)
		}
		codes = append(codes, a)
		alice.ph.Hangup()
		for _, p := range []*party{alice, bob} {
			for ev := p.next(); ; ev = p.next() {
				if sc, ok := ev.(call.StatusChanged); ok && sc.Status == signaling.Completed {
					break
				}
			}
		}
	}
	if codes[0] == codes[1] {
		t.Errorf("two calls with the same code %s", codes[0])
	}
}

// login invites user on the rig's server and signs in: the device
// credential.
func (r *rig) login(user string, ttl time.Duration) string {
	r.t.Helper()
	ctx := context.Background()
	api := &signaling.API{Server: r.url, APIKey: r.srv.APIKey()}
	inv, err := api.Invite(ctx, signaling.InviteRequest{User: user, Name: strings.ToUpper(user[:1]) + user[1:]})
	if err != nil {
		r.t.Fatal(err)
	}
	l, err := api.Login(ctx, inv.Code, "test")
	if err != nil {
		r.t.Fatal(err)
	}
	return l.Credential
}

// TestTokenRenewal: a phone signed in with a device credential trades it
// for short access tokens and renews them while connected: it stays
// connected, and calls, across several expiries.
func TestTokenRenewal(t *testing.T) {
	const ttl = 3 * time.Second
	r := newRig(t, server.Config{AccessTokenTTL: ttl})
	cred := r.login("alice", ttl)
	var fetched atomic.Int32
	alice := r.phoneWith("alice", devices{tone(440), null}, func(c *call.Config) {
		c.Token = ""
		c.TokenSource = func(ctx context.Context) (string, error) {
			fetched.Add(1)
			at, err := (&signaling.API{Server: r.url}).AccessToken(ctx, cred)
			return at.Token, err
		}
	})
	bob := r.phone("bob", devices{tone(660), null})
	time.Sleep(2*ttl + time.Second) // two expiries: the server would have closed an old token
	select {
	case ev := <-alice.ph.Events():
		if c, ok := ev.(call.Connected); ok && !c.Up {
			t.Fatalf("alice was disconnected: %v", c.Err)
		}
	default:
	}
	connect(alice, bob)
	hangup(alice, bob)
	if n := fetched.Load(); n < 3 {
		t.Errorf("%d access tokens fetched over %v with a %v lifetime, want at least 3", n, 2*ttl+time.Second, ttl)
	}
	t.Logf("%d access tokens fetched", fetched.Load())
}

// TestAnsweredOnAnotherDevice: a call to a person signed in on two
// devices rings on both; the first to answer takes it, the other stops
// ringing and says it was answered elsewhere, even when both answer at
// once.
func TestAnsweredOnAnotherDevice(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	laptop := r.phone("bob", devices{tone(660), null})
	phone := r.phone("bob", devices{tone(660), null})
	phone.name = "bob's phone"
	for round, both := range []bool{false, true} {
		alice.ph.Dial("bob")
		alice.status(signaling.Started)
		for _, d := range []*party{laptop, phone} {
			d.status(signaling.Started)
			d.status(signaling.Ringing)
		}
		phone.ph.Answer()
		if both {
			laptop.ph.Answer()
		}
		alice.status(signaling.Ringing)
		alice.status(signaling.Answered)
		// One device has the call, the other was told it went elsewhere.
		var took, other *party
		for _, d := range []*party{laptop, phone} {
			sc := d.status(signaling.Answered)
			if sc.Reason == call.ReasonAnsweredElsewhere {
				other = d
			} else {
				took = d
			}
		}
		if took == nil || other == nil {
			t.Fatalf("round %d: no single device took the call", round)
		}
		t.Logf("round %d (both answer: %v): %s took the call", round, both, took.name)
		alice.ph.Hangup()
		alice.status(signaling.Completed)
		took.status(signaling.Completed)
	}
}
