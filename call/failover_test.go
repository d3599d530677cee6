package call_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// newCluster starts two nodes of one service: a embeds NATS and lets b
// use it; b shares a's token secret and API key, as nodes of one service
// must (see signaling/server/cluster_test.go).
func newCluster(t *testing.T) (a, b *rig) {
	t.Helper()
	a = newRig(t, server.Config{NATSListen: "127.0.0.1:0", NodeName: "a"})
	if a.srv.NATSClientURL() == "" {
		t.Fatal("node a has no NATS client URL")
	}
	dir := t.TempDir()
	for _, f := range []string{"token_secret", "api_key"} {
		data, err := os.ReadFile(filepath.Join(a.cfg.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b = &rig{t: t, cfg: server.Config{Listen: "127.0.0.1:0", DataDir: dir, NATSURL: a.srv.NATSClientURL(),
		NodeName: "b"}}
	b.start()
	b.cfg.Listen = b.srv.Addr()
	b.url = "http://" + b.srv.Addr()
	return a, b
}

// watchFor waits for a Presence event of user with the given online, skipping
// everything else.
func (p *party) watchFor(user string, online bool, within time.Duration) {
	p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				p.t.Fatalf("%s: phone stopped", p.name)
			}
			if pr, ok := ev.(call.Presence); ok && pr.User == user && pr.Online == online {
				return
			}
		case <-timeout:
			p.t.Fatalf("%s: %s not online=%v within %v", p.name, user, online, within)
		}
	}
}

// lastPresence returns the last Presence of user that p reports before it
// has been quiet about user for quiet (false when none came).
func (p *party) lastPresence(user string, quiet time.Duration) (last call.Presence, got bool) {
	p.t.Helper()
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				p.t.Fatalf("%s: phone stopped", p.name)
			}
			if pr, ok := ev.(call.Presence); ok && pr.User == user {
				last, got = pr, true
				timer.Reset(quiet)
			}
		case <-timer.C:
			return last, got
		}
	}
}

// proxy forwards TCP connections to a node. cut closes it and every
// connection through it at once, as when a node's process dies; freeze
// keeps them open but passes nothing any more, as when its host dies or
// the network to it goes; stall does that to the connections made so far
// only, as when a Wi-Fi drops and comes back: new connections work.
type proxy struct {
	ln      net.Listener
	frozen  atomic.Bool
	conns   atomic.Int64 // connections accepted so far
	stalled atomic.Int64 // connections numbered below it pass nothing
	mu      sync.Mutex
	open    []net.Conn
}

func newProxy(t *testing.T, to string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, c, up)
			p.mu.Unlock()
			n := p.conns.Add(1)
			go p.pipe(up, c, n)
			go p.pipe(c, up, n)
		}
	}()
	return p
}

// pipe copies src to dst, of connection number conn, dropping what comes
// once frozen or stalled.
func (p *proxy) pipe(dst, src net.Conn, conn int64) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if p.frozen.Load() || conn <= p.stalled.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) freeze() { p.frozen.Store(true) }

func (p *proxy) stall() { p.stalled.Store(p.conns.Load()) }

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a polite close (a polite one if this fails)
		}
		c.Close()
	}
}

// TestFailover: Alice's phone knows both nodes, [b, a], and signs in to b;
// Bob and Carol (who watches Alice) are on a. Alice calls Bob, so b owns
// the call. Then b goes away mid-call: Alice's phone is on a within 5 s
// with the same session, the call goes on, audio keeps flowing both ways,
// Carol sees Alice online again, and the hang-up works.
//
//   - "shutdown": node b stops (the call's record stays in the calls
//     bucket, and a adopts it when Alice resumes).
//   - "cut": node b becomes unreachable at once (its connections reset,
//     no new one accepted) but runs on and still owns the call: Alice's
//     session is taken over on a and her resume goes to b through NATS.
//   - "silent": the connection to b stays open but nothing passes any
//     more, as when b's host dies: the phone's pings find it.
func TestFailover(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		a, b := newCluster(t)
		testFailover(t, a, b, b.url, func() { b.stop(b.srv) })
	})
	t.Run("cut", func(t *testing.T) {
		a, b := newCluster(t)
		px := newProxy(t, b.srv.Addr())
		testFailover(t, a, b, px.url(), px.cut)
	})
	t.Run("silent", func(t *testing.T) {
		a, b := newCluster(t)
		px := newProxy(t, b.srv.Addr())
		testFailover(t, a, b, px.url(), px.freeze)
	})
}

// testFailover runs the test with Alice on node b at bURL, which kill
// takes away.
func testFailover(t *testing.T, a, b *rig, bURL string, kill func()) {
	recA, recB := audiotest.NewRecorder(true), audiotest.NewRecorder(true)
	alice := b.phoneWith("alice", devices{tone(440), record(recA)}, func(c *call.Config) {
		c.Server, c.Servers, c.Reconnect = bURL, []string{bURL, a.url}, true
	})
	bob := a.phoneWith("bob", devices{tone(660), record(recB)}, func(c *call.Config) { c.Reconnect = true })
	carol := a.phone("carol", devices{tone(0), null})
	carol.ph.Watch([]string{"alice"})
	carol.watchFor("alice", true, 15*time.Second)

	connect(alice, bob)
	heard(t, recB, audio.SampleRate/2)
	heard(t, recA, audio.SampleRate/2)
	carol.lastPresence("alice", 300*time.Millisecond) // in a call, now

	// Node b goes away.
	killed := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		kill()
	}()
	var moved time.Duration
	for up := false; !up; {
		switch ev := alice.next().(type) {
		case call.Connected:
			if !ev.Up {
				continue
			}
			up, moved = true, time.Since(killed)
			if ev.Server != a.url {
				t.Errorf("alice reconnected to %s, want node a at %s", ev.Server, a.url)
			}
		case call.StatusChanged:
			if ev.Status != signaling.Answered && ev.Status != signaling.Reconnecting {
				t.Fatalf("alice: the call went %s (%s) while b went away", ev.Status, ev.Reason)
			}
		default:
			t.Logf("alice: %T while b went away", ev)
		}
	}
	t.Logf("alice back on node a %v after node b began to go away", moved.Round(time.Millisecond))
	if moved > 5*time.Second {
		t.Errorf("alice was back on another node after %v, want within 5 s", moved)
	}
	<-stopped

	// The call goes on: audio both ways, at the right frequencies.
	for _, tc := range []struct {
		who string
		rec *audiotest.Recorder
		hz  float64
	}{{"bob", recB, 440}, {"alice", recA, 660}} {
		from := tc.rec.Len()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tc.rec.Wait(ctx, from+audio.SampleRate)
		cancel()
		if err != nil {
			t.Fatalf("%s's speaker after the failover: %v", tc.who, err)
		}
		s := tc.rec.Samples()[from : from+audio.SampleRate]
		f := audiotest.DominantFrequency(s)
		t.Logf("after the failover, %s hears %.1f Hz at %.1f dBFS", tc.who, f, audiotest.DBFS(s))
		if f < tc.hz-5 || f > tc.hz+5 {
			t.Errorf("after the failover, %s hears %.1f Hz, want %.0f", tc.who, f, tc.hz)
		}
	}

	// Carol, on a, sees Alice online (offline in between, perhaps); and so
	// does Dave, who starts watching her now.
	if pr, got := carol.lastPresence("alice", time.Second); got && !pr.Online {
		t.Errorf("carol last saw alice %s", pr.State)
	}
	dave := a.phone("dave", devices{tone(0), null})
	dave.ph.Watch([]string{"alice"})
	if pr, got := dave.lastPresence("alice", time.Second); !got || !pr.Online {
		t.Errorf("dave, watching from a after the failover, sees alice %s (got=%v), want online", pr.State, got)
	}

	// Still the same call: a hang-up ends it on both sides.
	alice.ph.Hangup()
	for _, p := range []*party{alice, bob} {
		for {
			ev := p.next()
			if f, ok := ev.(call.Failure); ok {
				t.Fatalf("%s: %v", p.name, f.Err)
			}
			sc, ok := ev.(call.StatusChanged)
			if !ok || sc.Status == signaling.Answered || sc.Status == signaling.Reconnecting {
				continue // the resumed call's status, or media catching up
			}
			if sc.Status != signaling.Completed {
				t.Fatalf("%s: the call went %s (%s), want completed", p.name, sc.Status, sc.Reason)
			}
			break
		}
	}
}

// TestSignalingDiesSilently: Alice knows one server. Mid-call her
// connection to it dies without a word (a Wi-Fi that dropped and came
// back, a NAT that forgot the connection): nothing passes any more, and
// nothing closes it. Her pings find it dead, she connects again and
// resumes her session within 2×SingleKeepAlive; the call, whose media
// never stopped, goes on, and her hang-up ends it on both sides.
func TestSignalingDiesSilently(t *testing.T) {
	r := newRig(t, server.Config{})
	px := newProxy(t, r.srv.Addr())
	recB := audiotest.NewRecorder(true)
	alice := r.phoneWith("alice", devices{tone(440), null}, func(c *call.Config) {
		c.Server, c.Reconnect = px.url(), true
	})
	bob := r.phone("bob", devices{tone(660), record(recB)})
	connect(alice, bob)
	heard(t, recB, audio.SampleRate/2)

	stalled := time.Now()
	px.stall()
	for up := false; !up; {
		switch ev := alice.next().(type) {
		case call.Connected:
			up = ev.Up
		case call.StatusChanged:
			if ev.Status != signaling.Answered && ev.Status != signaling.Reconnecting {
				t.Fatalf("alice: the call went %s (%s) while her connection was dead", ev.Status, ev.Reason)
			}
		}
	}
	back := time.Since(stalled)
	t.Logf("alice connected again %v after her connection died", back.Round(time.Millisecond))
	if limit := 2*call.SingleKeepAlive + 2*time.Second; back > limit {
		t.Errorf("alice connected again after %v, want within %v", back, limit)
	}

	// Media went on all along: Bob hears Alice's tone now.
	from := recB.Len()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := recB.Wait(ctx, from+audio.SampleRate/2); err != nil {
		t.Fatalf("bob's speaker: %v", err)
	}
	if f := audiotest.DominantFrequency(recB.Samples()[from : from+audio.SampleRate/2]); f < 435 || f > 445 {
		t.Errorf("bob hears %.1f Hz after alice's connection died, want 440", f)
	}
	// And the session is the same call's: a hang-up ends it on both sides.
	hangupAfterTrouble(alice, bob)
}
