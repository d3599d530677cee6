package call_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// lossyCall is a call from Alice (a 440 Hz tone) to Bob (recorded) whose
// packets, both ways, pass through their own impairment.
type lossyCall struct {
	t          *testing.T
	alice, bob *party
	imA, imB   *impairment
	rec        *audiotest.Recorder
}

func newLossyCall(t *testing.T, seed uint64, opts ...func(*call.Config)) *lossyCall {
	r := newRig(t, server.Config{})
	c := &lossyCall{t: t, imA: newImpairment(seed), imB: newImpairment(seed + 1), rec: audiotest.NewRecorder(true)}
	with := func(im *impairment) func(*call.Config) {
		return func(cfg *call.Config) {
			cfg.Net = newLossyNet(im)
			for _, o := range opts {
				o(cfg)
			}
		}
	}
	c.alice = r.phoneWith("alice", devices{tone(440), null}, with(c.imA))
	c.bob = r.phoneWith("bob", devices{tone(0), record(c.rec)}, with(c.imB))
	connect(c.alice, c.bob)
	heard(t, c.rec, audio.SampleRate/2)
	return c
}

// impair changes both directions' impairment (and switches it on).
func (c *lossyCall) impair(f func(im *impairment)) {
	for _, im := range []*impairment{c.imA, c.imB} {
		im.set(f)
		im.on.Store(true)
	}
}

func (c *lossyCall) heal() {
	c.impair(func(im *impairment) {
		im.loss, im.burst, im.stay, im.bad, im.down, im.jitter = 0, 0, 0, false, false, 0
	})
	c.imA.on.Store(false)
	c.imB.on.Store(false)
}

// played waits for d more of Bob's speaker and returns it.
func (c *lossyCall) played(d time.Duration) []int16 {
	c.t.Helper()
	from := c.rec.Len()
	n := int(d * audio.SampleRate / time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), d+15*time.Second)
	defer cancel()
	if err := c.rec.Wait(ctx, from+n); err != nil {
		c.t.Fatalf("bob's speaker: %v", err)
	}
	return c.rec.Samples()[from : from+n]
}

// stats waits for the party's next Stats, failing on any status change.
// Events still queued from before are skipped.
func (p *party) stats() call.Stats {
	p.t.Helper()
	for queued := len(p.ph.Events()); queued > 0; queued-- {
		if sc, ok := (<-p.ph.Events()).(call.StatusChanged); ok {
			p.t.Fatalf("%s: the call went %s (%s)", p.name, sc.Status, sc.Reason)
		}
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-p.ph.Events():
			switch ev := ev.(type) {
			case call.Stats:
				return ev
			case call.StatusChanged:
				p.t.Fatalf("%s: the call went %s (%s)", p.name, ev.Status, ev.Reason)
			}
		case <-timeout:
			p.t.Fatalf("%s: no stats within 15s", p.name)
		}
	}
}

// toneBack waits until Bob's speaker has played d from sample mark on, and
// returns that with how far into it the tone is back (its first 10 ms
// window above 0.2 of full scale; -1 if it is not).
func (c *lossyCall) toneBack(mark int, d time.Duration) ([]int16, time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+15*time.Second)
	defer cancel()
	n := int(d * audio.SampleRate / time.Second)
	if err := c.rec.Wait(ctx, mark+n); err != nil {
		c.t.Fatalf("bob's speaker: %v", err)
	}
	s := c.rec.Samples()[mark : mark+n]
	for i, e := range audiotest.Envelope(s) {
		if e > 0.2 {
			return s, time.Duration(i) * 10 * time.Millisecond
		}
	}
	return s, -1
}

// holes counts the 10 ms windows of s that are silent (below -60 dBFS):
// with a steady tone sent, every one is a gap nothing filled.
func holes(s []int16) int {
	n := 0
	for _, e := range audiotest.Envelope(s) {
		if e < 0.001 {
			n++
		}
	}
	return n
}

// lossCase is a pattern of loss, both ways, and what must still get
// through it.
type lossCase struct {
	name      string
	seed      uint64
	set       func(im *impairment)
	minShare  float64 // frames decoded or recovered, of all played
	recovered bool    // FEC must have recovered some
}

// TestLoss: under 20% random loss, the frames that arrive or are recovered
// by FEC make up at least 85%, concealment fills every other gap (no silent
// window), and the sender protects the stream with FEC once loss is
// reported. The other levels and bursts are in the e2e tier (TestLossLevels).
func TestLoss(t *testing.T) {
	checkLoss(t, lossCase{"random 20%", 102, func(im *impairment) { im.loss = 0.20 }, 0.85, true})
}

// checkLoss plays 6 s of a steady tone through tc's loss and checks what
// Bob's speaker and his stats make of it.
func checkLoss(t *testing.T, tc lossCase) {
	c := newLossyCall(t, tc.seed)
	before := c.bob.stats()
	c.impair(tc.set)
	s := c.played(6 * time.Second)
	after := c.bob.stats()
	sent, dropped := c.imA.sent.Load(), c.imA.lost.Load()
	c.heal()

	dec, rec, con := after.Decoded-before.Decoded, after.Recovered-before.Recovered, after.Concealed-before.Concealed
	share := float64(dec+rec) / float64(dec+rec+con)
	lost := float64(dropped) / float64(sent)
	t.Logf("sent loss %.1f%%: %d decoded, %d recovered by FEC, %d concealed: %.1f%% arrived or recovered; "+
		"%d silent windows; sender FEC at %d%%, %d bit/s; MOS %.2f",
		100*lost, dec, rec, con, 100*share, holes(s), after.SendLoss, after.SendBitrate, after.MOS)
	if share < tc.minShare {
		t.Errorf("%.1f%% of frames arrived or were recovered, want ≥ %.0f%%", 100*share, 100*tc.minShare)
	}
	if h := holes(s); h > 0 {
		t.Errorf("%d silent 10 ms windows in 6 s of a steady tone: concealment left holes", h)
	}
	if tc.recovered && rec == 0 {
		t.Errorf("no frame recovered by FEC")
	}
	if after.SendLoss < 10 {
		t.Errorf("the sender protects against %d%% loss, want ≥ 10%% once loss is reported", after.SendLoss)
	}
	if f := audiotest.DominantFrequency(s); f < 430 || f > 450 {
		t.Errorf("bob hears %.1f Hz, want 440", f)
	}
}

// TestOutage: a 3 s outage makes the call reconnecting, not failed; audio
// is back within a second of the network's return, and the call answered.
func TestOutage(t *testing.T) {
	c := newLossyCall(t, 9)
	c.impair(func(im *impairment) { im.down = true })
	for _, p := range []*party{c.alice, c.bob} {
		if ev := p.status(signaling.Reconnecting); ev.Reason == "" {
			t.Errorf("%s: reconnecting without a reason", p.name)
		}
	}
	// The rest of the 3 s.
	c.played(2 * time.Second)
	mark := c.rec.Len()
	back := time.Now()
	c.heal()
	for _, p := range []*party{c.alice, c.bob} {
		p.status(signaling.Answered)
	}
	again := time.Since(back)
	// Bob's speaker from the moment the network came back (the recorder
	// is paced like a speaker: a sample is 1/48000 s).
	_, first := c.toneBack(mark, 2*time.Second)
	t.Logf("answered again %v after the network came back; tone back in Bob's speaker %d ms after it (from sample %d)",
		again.Round(time.Millisecond), first.Milliseconds(), mark)
	if first < 0 || first > time.Second {
		t.Errorf("audio back after %d ms, want within 1000 ms", first.Milliseconds())
	}
	if again > time.Second {
		t.Errorf("answered again %v after the network came back, want within 1 s", again)
	}
	hangup(c.alice, c.bob)
}

// TestOutageOutlastsGrace: the network goes for longer than the call's
// grace (4 s here, 30 s by default): the call is reconnecting, then failed
// on both sides, with a reason, once the grace is over and not before.
func TestOutageOutlastsGrace(t *testing.T) {
	const grace = 4 * time.Second
	c := newLossyCall(t, 13, func(cfg *call.Config) { cfg.Grace = grace })
	c.impair(func(im *impairment) { im.down = true })
	for _, p := range []*party{c.alice, c.bob} {
		p.status(signaling.Reconnecting)
	}
	lost := time.Now()
	for _, p := range []*party{c.alice, c.bob} {
		ev := p.status(signaling.Failed)
		after := time.Since(lost)
		t.Logf("%s: failed %v after reconnecting: %s", p.name, after.Round(time.Millisecond), ev.Reason)
		if ev.Reason == "" {
			t.Errorf("%s: failed without a reason", p.name)
		}
		if after < grace-time.Second || after > grace+3*time.Second {
			t.Errorf("%s: failed %v after reconnecting, want about the grace, %v", p.name, after, grace)
		}
	}
}

// connected waits for the party's next change of connection.
func (p *party) connected(up bool) {
	p.t.Helper()
	for {
		ev := p.next()
		if c, ok := ev.(call.Connected); ok {
			if c.Up != up {
				p.t.Fatalf("%s: connection up=%v, want %v", p.name, c.Up, up)
			}
			return
		}
		p.t.Fatalf("%s: got %#v, want a connection change", p.name, ev)
	}
}

// TestServerRestart: `parley serve` restarts in the middle of a call. The
// media is peer to peer, so Bob goes on hearing Alice while the server is
// down; both reconnect, resume the call, and hang up normally.
func TestServerRestart(t *testing.T) {
	r := newRig(t, server.Config{})
	rec := audiotest.NewRecorder(true)
	alice := r.phoneWith("alice", devices{tone(440), null}, func(c *call.Config) { c.Reconnect = true })
	bob := r.phoneWith("bob", devices{tone(0), record(rec)}, func(c *call.Config) { c.Reconnect = true })
	connect(alice, bob)
	heard(t, rec, audio.SampleRate/2)

	r.restart(func() {
		alice.connected(false)
		bob.connected(false)
		// A second of the call while nobody signals it.
		from := rec.Len()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rec.Wait(ctx, from+audio.SampleRate); err != nil {
			t.Fatal(err)
		}
		s := rec.Samples()[from : from+audio.SampleRate]
		f := audiotest.DominantFrequency(s)
		t.Logf("while the server is down, bob hears %.0f Hz at %.1f dBFS", f, audiotest.DBFS(s))
		if f < 435 || f > 445 {
			t.Errorf("while the server is down, bob hears %.1f Hz, want 440", f)
		}
	})
	alice.connected(true)
	bob.connected(true)
	hangup(alice, bob)
}

// TestActWhileServerDown: Alice mutes, and later hangs up, while the server
// is down. Muting takes effect at once and Bob is told once the server is
// back; hanging up ends the call on Alice's side at once (her microphone
// stops, so Bob hears nothing and goes to reconnecting), and on Bob's once
// the server is back and Alice has told it.
func TestActWhileServerDown(t *testing.T) {
	r := newRig(t, server.Config{})
	rec := audiotest.NewRecorder(true)
	alice := r.phoneWith("alice", devices{tone(440), null}, func(c *call.Config) { c.Reconnect = true })
	bob := r.phoneWith("bob", devices{tone(0), record(rec)}, func(c *call.Config) { c.Reconnect = true })
	id := connect(alice, bob)
	heard(t, rec, audio.SampleRate/2)

	r.restart(func() {
		alice.connected(false)
		bob.connected(false)
		alice.ph.SetMuted(true)
		if ev := alice.next(); ev != (call.Muted{CallID: id, Local: true, Muted: true}) {
			t.Fatalf("alice: %#v, want her own mute", ev)
		}
	})
	alice.connected(true)
	bob.connected(true)
	if ev := bob.next(); ev != (call.Muted{CallID: id, Muted: true}) {
		t.Fatalf("bob: %#v, want Alice muted, told after the restart", ev)
	}

	r.restart(func() {
		alice.connected(false)
		bob.connected(false)
		alice.ph.Hangup()
		alice.status(signaling.Completed)
		bob.status(signaling.Reconnecting) // no more audio from Alice
	})
	alice.connected(true)
	bob.connected(true)
	if ev := bob.status(signaling.Completed); ev.ID != id {
		t.Errorf("bob: %+v, want call %s completed", ev, id)
	}
}

// TestRelay: calls through the server's TURN relay, when the peers cannot
// reach each other directly (a firewall lets UDP reach only the TURN
// server, or no UDP at all), or when a side asks for relay only.
func TestRelay(t *testing.T) {
	r := newRig(t, server.Config{})
	// The TURN server's address, as the welcome gives it.
	tok, err := r.srv.IssueToken(context.Background(), "probe", server.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signaling.Dial(context.Background(), r.url, tok, signaling.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sig.Close()
	turnAddr := strings.TrimPrefix(sig.ICEServers[0].URLs[0], "stun:")
	onlyTURN := func(a net.Addr) bool { return a.String() == turnAddr }
	noUDP := func(net.Addr) bool { return false }

	cases := []struct {
		name      string
		allow     func(net.Addr) bool
		relayOnly bool
		network   string
	}{
		{"direct path blocked", onlyTURN, false, "udp"},
		{"relay only", nil, true, "udp"},
		{"no UDP at all", noUDP, false, "tcp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := audiotest.NewRecorder(true)
			opts := func(c *call.Config) {
				im := newImpairment(1)
				im.allow = tc.allow
				c.Net, c.RelayOnly = newLossyNet(im), tc.relayOnly
			}
			alice := r.phoneWith("alice", devices{tone(440), null}, opts)
			bob := r.phoneWith("bob", devices{tone(0), record(rec)}, opts)
			connect(alice, bob)
			s := heard(t, rec, audio.SampleRate)
			st := bob.stats()
			t.Logf("%s: relayed %v over %s, RTT %v; bob hears %.0f Hz", tc.name, st.Relayed, st.Network, st.RTT,
				audiotest.DominantFrequency(s))
			if !st.Relayed || st.Network != tc.network {
				t.Errorf("path relayed=%v over %s, want relayed over %s", st.Relayed, st.Network, tc.network)
			}
			if f := audiotest.DominantFrequency(s); f < 435 || f > 445 {
				t.Errorf("bob hears %.1f Hz, want 440", f)
			}
			hangup(alice, bob)
			alice.ph.Close()
			bob.ph.Close()
		})
	}
}
