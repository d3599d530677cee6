package call_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// rig is an in-process server and the helpers to sign users in to it.
type rig struct {
	t   *testing.T
	cfg server.Config
	srv *server.Server
	url string
}

func newRig(t *testing.T, cfg server.Config) *rig {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	r := &rig{t: t, cfg: cfg}
	r.start()
	r.cfg.Listen = r.srv.Addr() // a restart comes back at the same address
	r.url = "http://" + r.srv.Addr()
	return r
}

func (r *rig) start() {
	r.t.Helper()
	if r.cfg.DialLimit == 0 { // the tests call one another over and over
		r.cfg.DialLimit, r.cfg.RingLimit, r.cfg.MessageLimit = -1, -1, -1
	}
	if r.cfg.TURNListen == "" {
		// Any free port, at every start: after a restart Listen has a port
		// of its own, and TURN's default would then be 3478 (whoever holds
		// it, a `parley serve` or a coturn, would fail the test).
		r.cfg.TURNListen = "127.0.0.1:0"
	}
	srv, err := server.New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { r.stop(srv) })
	r.srv = srv
}

func (r *rig) stop(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// restart stops the server (gracefully) and, once up, runs again.
func (r *rig) restart(whileDown func()) {
	r.stop(r.srv)
	whileDown()
	r.start()
}

// devices hands out the given source and sink makers.
type devices struct {
	source func(n int) (audio.Source, error)
	sink   func(n int) (audio.Sink, error)
}

func (d devices) OpenSource(n int) (audio.Source, error) { return d.source(n) }
func (d devices) OpenSink(n int) (audio.Sink, error)     { return d.sink(n) }

func tone(hz float64) func(int) (audio.Source, error) {
	return func(n int) (audio.Source, error) { return audio.NewTone(hz, 0.5, n), nil }
}

func record(r *audiotest.Recorder) func(int) (audio.Sink, error) {
	return func(int) (audio.Sink, error) { return r, nil }
}

func null(int) (audio.Sink, error) { return audio.NewNullSink(), nil }

// party is a signed-in phone and what it reported.
type party struct {
	t    *testing.T
	name string
	ph   *call.Phone
}

func (r *rig) phone(user string, d devices) *party {
	r.t.Helper()
	return r.phoneWith(user, d, func(*call.Config) {})
}

// phoneWith signs user in with a configuration that change adjusts.
func (r *rig) phoneWith(user string, d devices, change func(*call.Config)) *party {
	r.t.Helper()
	return r.phoneCtx(context.Background(), user, d, change)
}

// phoneCtx is phoneWith with the context given to call.Start.
func (r *rig) phoneCtx(ctx context.Context, user string, d devices, change func(*call.Config)) *party {
	r.t.Helper()
	tok, err := r.srv.IssueToken(context.Background(), user, server.TokenOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	cfg := call.Config{Server: r.url, Token: tok, Devices: d}
	if os.Getenv("PARLEY_TEST_LOG") != "" { // the phones' logs, for debugging a test
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("user",
			user)
	}
	change(&cfg)
	ph, err := call.Start(ctx, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { ph.Close() })
	p := &party{t: r.t, name: user, ph: ph}
	p.next() // Connected
	return p
}

// next returns the next event that is not Levels or Stats.
func (p *party) next() call.Event {
	p.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				p.t.Fatalf("%s: phone stopped", p.name)
			}
			switch ev.(type) {
			case call.Levels, call.Stats, call.Verification, call.Warning:
				continue
			}
			return ev
		case <-timeout:
			p.t.Fatalf("%s: no event within 15s", p.name)
		}
	}
}

// status waits for the next status event and checks it.
func (p *party) status(want signaling.Status) call.StatusChanged {
	p.t.Helper()
	ev := p.next()
	sc, ok := ev.(call.StatusChanged)
	if !ok || sc.Status != want {
		if f, ok := ev.(call.Failure); ok {
			p.t.Fatalf("%s: got failure %v, want status %s", p.name, f.Err, want)
		}
		p.t.Fatalf("%s: got %#v, want status %s", p.name, ev, want)
	}
	return sc
}

// connect places a call from a to b and waits until both see it answered.
func connect(a, b *party) string {
	a.t.Helper()
	a.ph.Dial(b.name)
	first := a.status(signaling.Started)
	in := b.status(signaling.Started)
	if !in.First || in.Direction != signaling.Inbound || in.From != a.name || in.To != b.name || in.ID != first.ID {
		a.t.Fatalf("callee saw %+v for call %s", in, first.ID)
	}
	a.status(signaling.Ringing)
	b.status(signaling.Ringing)
	b.ph.Answer()
	a.status(signaling.Answered)
	b.status(signaling.Answered)
	return first.ID
}

func hangup(a, b *party) {
	a.t.Helper()
	a.ph.Hangup()
	a.status(signaling.Completed)
	b.status(signaling.Completed)
}

// hangupAfterTrouble is hangup for a call that has been through trouble:
// a reconnecting or answered that was still on its way is passed over,
// and the call must then complete on both sides.
func hangupAfterTrouble(a, b *party) {
	a.t.Helper()
	a.ph.Hangup()
	for _, p := range []*party{a, b} {
		for {
			sc, ok := p.next().(call.StatusChanged)
			if !ok || sc.Status == signaling.Answered || sc.Status == signaling.Reconnecting {
				continue
			}
			if sc.Status != signaling.Completed {
				p.t.Fatalf("%s: the call went %s (%s), want completed", p.name, sc.Status, sc.Reason)
			}
			break
		}
	}
}

// heard waits until rec has n samples after its first audible one, and
// returns those.
func heard(t *testing.T, rec *audiotest.Recorder, n int) []int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		s := rec.Samples()
		if i := audiotest.FirstAbove(s, 0.05); i >= 0 && len(s)-i >= n {
			return s[i : i+n]
		}
		if err := rec.Wait(ctx, len(s)+audio.FrameSamples); err != nil {
			t.Fatalf("waiting for audio: %v (have %d samples)", err, len(s))
		}
	}
}

// TestToneBothWays: each side sends its own tone; each hears the other's at
// the right frequency, well above everything else.
func TestToneBothWays(t *testing.T) {
	r := newRig(t, server.Config{})
	recA, recB := audiotest.NewRecorder(true), audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{tone(440), record(recA)})
	bob := r.phone("bob", devices{tone(660), record(recB)})
	connect(alice, bob)

	second := audio.SampleRate
	for _, c := range []struct {
		who  string
		rec  *audiotest.Recorder
		want float64
	}{{"alice hears bob", recA, 660}, {"bob hears alice", recB, 440}} {
		s := heard(t, c.rec, 2*second)[second:] // skip the first second: playout settles
		f := audiotest.DominantFrequency(s)
		snrs := audiotest.QuarterSNRs(s, c.want)
		t.Logf("%s: %.1f Hz, %.1f dBFS, SNR per quarter second %.1f dB", c.who, f, audiotest.DBFS(s), snrs)
		if f < c.want-5 || f > c.want+5 {
			t.Errorf("%s: dominant frequency %.1f Hz, want %.0f ± 5", c.who, f, c.want)
		}
		// One seam of the jitter buffer settling may spoil one quarter.
		if med, low := audiotest.Median(snrs), audiotest.CountBelow(snrs, 15); med < 20 || low > 1 {
			t.Errorf("%s: tone SNR median %.1f dB with %d quarter seconds under 15 dB, want ≥ 20 dB and at most one",
				c.who, med, low)
		}
	}
	hangup(alice, bob)
}

// TestSpeechEnvelope: speech-like audio from a WAV file arrives with its
// syllable envelope intact.
func TestSpeechEnvelope(t *testing.T) {
	r := newRig(t, server.Config{})
	sent := audiotest.Speech(7, 4*time.Second)
	path := filepath.Join(t.TempDir(), "speech.wav")
	if err := audiotest.WriteWAV(path, sent, audio.SampleRate, 1); err != nil {
		t.Fatal(err)
	}
	recB := audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{
		source: func(int) (audio.Source, error) { return audio.OpenWAVSource(path) },
		sink:   null,
	})
	bob := r.phone("bob", devices{tone(0), record(recB)})
	connect(alice, bob) // the file starts playing when the call is answered
	// Everything Bob's speaker played from the first audible sample on,
	// each half second of the file found in it: on a loaded machine the
	// jitter buffer may grow on the way, which moves the rest of the
	// speech later without spoiling it.
	got := heard(t, recB, len(sent))
	corrs, lags := audiotest.SegmentCorrelation(sent, got, -300*time.Millisecond, 300*time.Millisecond)
	corr := audiotest.Median(corrs)
	t.Logf("envelope correlation per half second %.2f (median %.2f), at %v", corrs, corr, lags)
	if corr < 0.9 {
		t.Errorf("envelope correlation %.2f (median of the half seconds), want ≥ 0.9", corr)
	}
	// heard starts at the first audible sample, so the speech lines up
	// with the file within the first syllable's onset.
	ms := make([]float64, len(lags))
	for i, l := range lags {
		ms[i] = float64(l.Milliseconds())
	}
	if lag := audiotest.Median(ms); lag < -100 || lag > 100 {
		t.Errorf("envelope lag %.0f ms (median), want within ±100 ms: the file must start when the call is answered",
			lag)
	}
	hangup(alice, bob)
}

// TestMute: muting sends silence and tells the other side; unmuting brings
// the tone back.
func TestMute(t *testing.T) {
	r := newRig(t, server.Config{})
	recB := audiotest.NewRecorder(true)
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(0), record(recB)})
	id := connect(alice, bob)
	heard(t, recB, audio.SampleRate/2)

	window := func() []int16 { // 300 ms, starting 200 ms from now
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		from := recB.Len() + audio.SampleRate/5
		if err := recB.Wait(ctx, from+audio.SampleRate*3/10); err != nil {
			t.Fatal(err)
		}
		return recB.Samples()[from : from+audio.SampleRate*3/10]
	}
	for _, muted := range []bool{true, false} {
		alice.ph.SetMuted(muted)
		if ev := alice.next(); ev != (call.Muted{CallID: id, Local: true, Muted: muted}) {
			t.Fatalf("alice: got %#v, want her own mute %v", ev, muted)
		}
		if ev := bob.next(); ev != (call.Muted{CallID: id, Muted: muted}) {
			t.Fatalf("bob: got %#v, want alice's mute %v", ev, muted)
		}
		s := window()
		level := audiotest.DBFS(s)
		t.Logf("muted=%v: bob hears %.1f dBFS", muted, level)
		if muted && level > -50 {
			t.Errorf("muted: bob hears %.1f dBFS, want below -50", level)
		}
		if !muted {
			if f := audiotest.DominantFrequency(s); f < 435 || f > 445 {
				t.Errorf("unmuted: bob hears %.1f Hz, want 440 ± 5", f)
			}
		}
	}
	hangup(alice, bob)
}

// TestEndings: each way a call can end, as both sides see it.
func TestEndings(t *testing.T) {
	r := newRig(t, server.Config{RingTimeout: time.Second})
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(660), null})

	ring := func() {
		t.Helper()
		alice.ph.Dial("bob")
		alice.status(signaling.Started)
		bob.status(signaling.Started)
		alice.status(signaling.Ringing)
		bob.status(signaling.Ringing)
	}
	t.Run("rejected", func(t *testing.T) {
		ring()
		bob.ph.Reject()
		alice.status(signaling.Rejected)
		bob.status(signaling.Rejected)
	})
	t.Run("canceled", func(t *testing.T) {
		ring()
		alice.ph.Hangup()
		if ev := alice.status(signaling.Unanswered); ev.Reason != "canceled" {
			t.Errorf("reason %q, want canceled", ev.Reason)
		}
		bob.status(signaling.Unanswered)
	})
	t.Run("unanswered", func(t *testing.T) {
		ring()
		if ev := alice.status(signaling.Unanswered); ev.Reason != "no answer" {
			t.Errorf("reason %q, want no answer", ev.Reason)
		}
		bob.status(signaling.Unanswered)
	})
	t.Run("callee hangs up", func(t *testing.T) {
		connect(alice, bob)
		hangup(bob, alice)
	})
	// Bob hangs up as Alice mutes and hangs up: her mute and hang-up reach
	// the server after the call ended there, and are refused. That is no
	// failure to report: the status tells the end. (The refusal comes
	// before the status only now and then, on a loaded machine. A mute or
	// hang-up that finds the call already ended here is refused here, with
	// no call id: that is reported, and not counted.) Each call has phones
	// of its own, so that nothing left over reaches the next.
	t.Run("hang-ups cross", func(t *testing.T) {
		crossed := 0
		for range 20 {
			alice := r.phone("alice", devices{tone(440), null})
			bob := r.phone("bob", devices{tone(660), null})
			id := connect(alice, bob)
			bob.ph.Hangup()
			alice.ph.SetMuted(true)
			alice.ph.Hangup()
			for _, p := range []*party{alice, bob} {
				for {
					ev := p.next()
					if f, ok := ev.(call.Failure); ok && f.CallID == id {
						crossed++
						t.Errorf("%s: failure %d %s", p.name, f.Err.Code, f.Err.Message)
					}
					if sc, ok := ev.(call.StatusChanged); ok && sc.Status.Terminal() {
						if sc.Status != signaling.Completed {
							t.Fatalf("%s: the call went %s, want completed", p.name, sc.Status)
						}
						break
					}
				}
			}
			alice.ph.Close()
			bob.ph.Close()
		}
		t.Logf("20 calls: %d refusals of a crossing mute or hang-up reported", crossed)
	})
}

// TestRefusals: a dial the server refuses comes back as a Failure with its
// code, and no call starts.
func TestRefusals(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	if _, err := r.srv.IssueToken(context.Background(), "carol", server.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		to   string
		want signaling.Code
	}{
		{"nobody", signaling.NotFoundUserSessionID},
		{"carol", signaling.NoConnectedDestination},
		{"alice", signaling.SameCallerAndDestination},
		{"bad id!", signaling.InvalidParameter},
	} {
		t.Run(fmt.Sprint(c.want), func(t *testing.T) {
			alice.ph.Dial(c.to)
			ev, ok := alice.next().(call.Failure)
			if !ok || ev.Err.Code != c.want || ev.Err.Message == "" {
				t.Fatalf("dial %q: got %#v, want failure %d", c.to, ev, c.want)
			}
		})
	}
	// Still working: a real call goes through after the refusals.
	bob := r.phone("bob", devices{tone(660), null})
	connect(alice, bob)
	hangup(alice, bob)
}

// TestSounds: the caller hears the ringback while it rings and the callee
// the ringtone; the caller hears the hang-up sound when the call ends, and
// the busy tone when the callee rejects.
func TestSounds(t *testing.T) {
	r := newRig(t, server.Config{})
	second := audio.SampleRate
	// Each call opens a new speaker; the test gets each one.
	speakers := func() (chan *audiotest.Recorder, func(int) (audio.Sink, error)) {
		c := make(chan *audiotest.Recorder, 4)
		return c, func(int) (audio.Sink, error) {
			rec := audiotest.NewRecorder(true)
			c <- rec
			return rec, nil
		}
	}
	silent := func(n int) (audio.Source, error) { return audio.NewSilence(n), nil }
	start := func(user string, sink func(int) (audio.Sink, error), s call.Sounds) *party {
		tok, err := r.srv.IssueToken(context.Background(), user, server.TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ph, err := call.Start(context.Background(), call.Config{Server: r.url, Token: tok,
			Devices: devices{silent, sink}, Sounds: s})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		p := &party{t: t, name: user, ph: ph}
		p.next()
		return p
	}
	spkA, sinkA := speakers()
	spkB, sinkB := speakers()
	alice := start("alice", sinkA, call.Sounds{
		Ringback: audiotest.Tone(425, 0.5, second),
		Hangup:   audiotest.Tone(1000, 0.5, second/4),
		Busy:     audiotest.Tone(600, 0.5, second/4),
	})
	bob := start("bob", sinkB, call.Sounds{Ringtone: audiotest.Tone(800, 0.5, second)})

	// tone checks that rec plays a tone of want Hz from sample from on:
	// some 50 ms window among the next second's audible ones has it (what
	// came before it, such as the end of the ringback, may still be there).
	tone := func(who string, rec *audiotest.Recorder, from int, want float64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The speaker closes once the call's last sound has played.
		if err := rec.Wait(ctx, from+audio.SampleRate); err != nil && !errors.Is(err, audiotest.ErrClosed) {
			t.Fatalf("%s: %v", who, err)
		}
		s := rec.Samples()[from:]
		s = s[:min(len(s), audio.SampleRate)]
		var heard []float64
		for w := 0; w+audio.SampleRate/20 <= len(s); w += audio.SampleRate / 20 {
			win := s[w : w+audio.SampleRate/20]
			if audiotest.RMS(win) < 0.1 {
				continue
			}
			f := audiotest.DominantFrequency(win)
			if f > want-15 && f < want+15 {
				t.Logf("%s hears %.0f Hz, %d ms in", who, f, w*1000/audio.SampleRate)
				return
			}
			heard = append(heard, math.Round(f))
		}
		t.Errorf("%s never hears %.0f Hz in a second; heard %v", who, want, heard)
	}

	alice.ph.Dial("bob")
	recA := <-spkA
	alice.status(signaling.Started)
	bob.status(signaling.Started)
	recB := <-spkB
	alice.status(signaling.Ringing)
	bob.status(signaling.Ringing)
	tone("the ringing caller", recA, 0, 425)
	tone("the ringing callee", recB, 0, 800)
	bob.ph.Answer()
	alice.status(signaling.Answered)
	bob.status(signaling.Answered)
	mark := recA.Len() // the far end is silent from here on
	alice.ph.Hangup()
	alice.status(signaling.Completed)
	bob.status(signaling.Completed)
	tone("the caller after hanging up", recA, mark, 1000)

	alice.ph.Dial("bob")
	recA = <-spkA
	alice.status(signaling.Started)
	bob.status(signaling.Started)
	<-spkB
	alice.status(signaling.Ringing)
	bob.status(signaling.Ringing)
	mark = recA.Len()
	bob.ph.Reject()
	alice.status(signaling.Rejected)
	bob.status(signaling.Rejected)
	tone("the caller when rejected", recA, mark, 600)
}
