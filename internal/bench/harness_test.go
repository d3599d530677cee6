//go:build e2e

package bench

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/pulsetest"
)

// The short version of the harness: every measurement runs, briefly, and
// must produce sane figures. No wall-clock target is asserted: the machine
// may be busy. `make bench` runs the full version (cmd/parleybench).

var chirpTime = flag.Duration("chirps", 3*time.Second, "how long each latency call plays chirps")

var (
	parleyOnce sync.Once
	parleyBin  string
	parleyErr  error
)

// parley builds the parley command once for the package's tests (with
// the race detector when the tests have it, so that the build reuses
// their compiled packages).
func parley(t *testing.T) string {
	t.Helper()
	parleyOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			parleyErr = err
			return
		}
		dir, err := os.MkdirTemp("", "parleybench-bin-")
		if err != nil {
			parleyErr = err
			return
		}
		parleyBin = filepath.Join(dir, "parley")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		parleyErr = BuildParley(ctx, root, parleyBin, raceEnabled)
	})
	if parleyErr != nil {
		t.Fatal(parleyErr)
	}
	return parleyBin
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if parleyBin != "" {
		os.RemoveAll(filepath.Dir(parleyBin))
	}
	os.Exit(code)
}

func newEnv(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	e := &Env{Dir: dir, Parley: parley(t), Logf: t.Logf, Settle: time.Second}
	srv, err := StartServer(context.Background(), e.Parley, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e.Server = srv
	return e
}

// TestLatencyShort: a short call of parley, and of baresip when it is
// installed, over the rig; each measures chirps, CPU and memory.
func TestLatencyShort(t *testing.T) {
	// Every wait in the harness is bounded; this bounds the whole, so that
	// a stuck step fails the test in minutes rather than at go test's
	// timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pulse := pulsetest.Start(t)
	e := newEnv(t)
	rig, err := NewRig(ctx, pulse, "short")
	if err != nil {
		t.Fatal(err)
	}
	defer rig.Close()
	for _, c := range []Contender{Contenders[0], Contenders[3], Contenders[4]} {
		t.Run(c.Name, func(t *testing.T) {
			if c.Client == "baresip" {
				if err := HaveBaresip(); err != nil {
					t.Skip(err)
				}
			}
			r, err := RunCall(ctx, e, rig, c, *chirpTime, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := int(chirpTime.Seconds()) + 1 // chirps come every 0.25 to 0.6 s
			if len(r.Events) < want || len(r.Missed) > len(r.Events)/2 {
				t.Errorf("%d chirps found and %d missed in %v; want %d or more, and few missed",
					len(r.Events), len(r.Missed), *chirpTime, want)
			}
			if r.Latency.P50 < 5*time.Millisecond || r.Latency.P95 > time.Second {
				t.Errorf("latency p50 %v, p95 %v: not a call's", r.Latency.P50, r.Latency.P95)
			}
			for who, cpu := range map[string]float64{"A": r.CPUA, "B": r.CPUB} {
				if cpu <= 0 || cpu > 2 {
					t.Errorf("CPU of %s %.3f of a core: not a call's", who, cpu)
				}
			}
			for who, rss := range map[string]int64{"A": r.RSSA, "B": r.RSSB} {
				if rss < 1<<20 || rss > 2<<30 {
					t.Errorf("peak RSS of %s %d bytes: not a client's", who, rss)
				}
			}
		})
	}
}

// TestStallShort: a parley call whose sender, then receiver, is stopped
// for 300 ms: the chirps after the stall are heard, what their delay and
// B's jitter buffer did is logged, and the jitter buffer is back under
// 150 ms within 2 s, never above 400 ms.
func TestStallShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pulse := pulsetest.Start(t)
	e := newEnv(t)
	rig, err := NewRig(ctx, pulse, "stall")
	if err != nil {
		t.Fatal(err)
	}
	defer rig.Close()
	for _, s := range Stalls {
		c := s.Contender()
		t.Run(c.Name, func(t *testing.T) {
			r, err := RunCall(ctx, e, rig, c, s.After+*stallChirps, 1)
			if err != nil {
				t.Fatal(err)
			}
			st := Stalled(r)
			t.Log(st)
			if len(st.Chirps) < 4 || st.Before <= 0 {
				t.Errorf("%d chirps after the stall, delay before %v: not a call's", len(st.Chirps), st.Before)
			}
			// Issue 20's target, from real processes: the burst is not
			// taken for jitter, and its excess is accelerated away. (Before,
			// B's jitter buffer stayed over 150 ms for 3.4 to 3.6 s.)
			if st.JBPeak > 400*time.Millisecond || st.JBBack > 2*time.Second {
				t.Errorf("B's jitter buffer peaked at %v and was under 150 ms %v after the stall; want <= 400ms "+
					"and within 2s", st.JBPeak, st.JBBack)
			}
		})
	}
}

var stallChirps = flag.Duration("stall-chirps", 4*time.Second, "how long the stall calls play chirps after the stall")

// TestSetupShort: a few calls' setup, measured in process against
// `parley serve`.
func TestSetupShort(t *testing.T) {
	e := newEnv(t)
	r, err := MeasureSetup(context.Background(), e.Server, nil, "setup", 4)
	if err != nil {
		t.Fatal(err)
	}
	checkSetup(t, r, 4)
}

func checkSetup(t *testing.T, r *SetupResult, n int) {
	t.Helper()
	t.Logf("%d calls: dial to ringing p50 %v p99 %v; answer to audio at the caller p50 %v p99 %v, "+
		"at the callee p50 %v p99 %v",
		r.Calls, r.DialToRinging.P50, r.DialToRinging.P99, r.AnswerToAudioCaller.P50, r.AnswerToAudioCaller.P99,
		r.AnswerToAudioCallee.P50, r.AnswerToAudioCallee.P99)
	for name, d := range map[string]Dist{
		"dial to ringing":               r.DialToRinging,
		"answer to audio at the caller": r.AnswerToAudioCaller,
		"answer to audio at the callee": r.AnswerToAudioCallee,
	} {
		if d.N != n || d.Min <= 0 || d.Max > 30*time.Second {
			t.Errorf("%s: %d calls from %v to %v; want %d, each over 0 and under 30 s", name, d.N, d.Min, d.Max, n)
		}
	}
}

// TestCapacityShort: a few hundred idle connections and calls among them.
func TestCapacityShort(t *testing.T) {
	e := newEnv(t)
	const n = 300
	r, err := MeasureCapacity(context.Background(), e, n, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Connected != n || r.PerConn <= 0 || r.PerConn > 10<<20 || r.IdleCPU < 0 {
		t.Errorf("%d of %d connected, %d bytes each, idle CPU %.3f: not sane", r.Connected, n, r.PerConn, r.IdleCPU)
	}
	checkSetup(t, r.Setup, 2)
}

// TestRoomsShort: rooms of 3 and 6 harness peers (three speaking) on
// `parley serve`, their participants in this process, briefly: every
// participant hears every speaker but itself, every join after the first
// hears audio, and the server's figures are a room's.
func TestRoomsShort(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := MeasureRooms(ctx, e, []int{3, 6}, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range r.Runs {
		if run.ListenersHeard != run.Listeners || run.SpeakersHeard != run.Speakers || run.Speakers != 3 {
			t.Errorf("room of %d: %d of %d listeners and %d of %d speakers heard the others: %+v", run.Size,
				run.ListenersHeard, run.Listeners, run.SpeakersHeard, run.Speakers, run.Peers)
		}
		if run.Joins.N != run.Size-1 || run.Missed != 0 || run.Joins.Max > 10*time.Second {
			t.Errorf("room of %d: %d joins heard audio (up to %v), %d heard nothing; want %d", run.Size, run.Joins.N,
				run.Joins.Max, run.Missed, run.Size-1)
		}
		if run.ServerCPU <= 0 || run.ServerCPU > 2 || run.RSS < run.IdleRSS/2 || run.Received < run.Expected*8/10 {
			t.Errorf("room of %d: server CPU %.3f, RSS %d (idle %d), %d of %d packets: not a room's", run.Size,
				run.ServerCPU, run.RSS, run.IdleRSS, run.Received, run.Expected)
		}
	}
	if r.Largest().Size != 6 {
		t.Errorf("largest room %d, want 6", r.Largest().Size)
	}
}
