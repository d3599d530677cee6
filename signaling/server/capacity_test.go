//go:build e2e

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Environment of TestIdleConnections and of its client processes.
const (
	envIdleConns    = "PARLEY_IDLE_CONNS"    // connections to measure (default 300)
	envIdleContacts = "PARLEY_IDLE_CONTACTS" // contacts each user has on the server (default 20)
	envIdleCalls    = "PARLEY_IDLE_CALLS"    // calls placed under that load (default 20)
	envIdleProfile  = "PARLEY_IDLE_PROFILE"  // a directory for heap and goroutine profiles
	envIdleServer   = "PARLEY_IDLE_SERVER"   // set in a client process: the server's URL
	envIdleTokens   = "PARLEY_IDLE_TOKENS"   // set in a client process: its tokens, one a line
)

// idlePerProc is how many connections one client process holds: well
// within a process's open-files limit.
const idlePerProc = 8000

// TestIdleConnections measures what idle signed-in connections cost the
// server, the way bench.MeasureCapacity does for `parley serve`: the server
// runs in this process and the clients (signaling.Client, as the harness
// uses) in child processes, so that this process's memory is the server's.
// It reports, per connection, the growth of the resident set, of the heap
// in use and of the goroutine stacks after a collection, and of the
// goroutines; then dial to ringing (p50, p99) under that load.
//
// PARLEY_IDLE_CONNS sets the number of connections (up to about 19,000:
// this process's open-files limit), PARLEY_IDLE_CALLS the calls, and
// PARLEY_IDLE_PROFILE a directory for heap and goroutine profiles taken
// with the connections up. The bounds checked are generous: they catch a
// return of per-connection goroutines or buffers, not small drifts.
func TestIdleConnections(t *testing.T) {
	n := envInt(t, envIdleConns, 300)
	contacts := envInt(t, envIdleContacts, 20)
	calls := envInt(t, envIdleCalls, 20)
	if testing.Short() {
		t.Skip("starts client processes")
	}
	if os.Getenv(envIdleProfile) != "" {
		runtime.MemProfileRate = 256 // what the connections allocate, finely
	}
	// Logs go to a file, as with `parley serve --log`: kept in memory, they
	// would count as the connections' memory.
	logs, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	s := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	tokens := make([]string, n)
	user := func(i int) string { return fmt.Sprintf("idle%05d", i%n) }
	for i := range n {
		tok, err := s.IssueToken(t.Context(), user(i), TokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
		// Each has the next ones as contacts: everyone is watched as often.
		var rec store.Contacts
		for k := range min(contacts, n-1) {
			rec.Contacts = append(rec.Contacts, user(i+1+k))
		}
		b, _ := json.Marshal(rec)
		if _, err := s.store.Contacts.Put(t.Context(), store.UserKey(DefaultTeam, user(i)), b); err != nil {
			t.Fatal(err)
		}
	}
	base := readMemory(t)

	var procs []*idleProc
	for first := 0; first < n; first += idlePerProc {
		procs = append(procs, startIdleClients(t, s.URL(), tokens[first:min(n, first+idlePerProc)]))
	}
	start := time.Now()
	if dir := os.Getenv(envIdleProfile); dir != "" {
		f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		p.waitReady(t)
	}
	if dir := os.Getenv(envIdleProfile); dir != "" {
		pprof.StopCPUProfile()
	}
	t.Logf("%d connections up in %v", n, time.Since(start).Round(time.Millisecond))
	time.Sleep(2*time.Second + time.Duration(n)*200*time.Microsecond) // past the connect burst
	loaded := readMemory(t)
	if dir := os.Getenv(envIdleProfile); dir != "" {
		writeProfiles(t, dir)
	}
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	goroutines := per(uint64(loaded.goroutines), uint64(base.goroutines))
	heap := per(loaded.heap, base.heap)
	stack := per(loaded.stack, base.stack)
	t.Logf("per connection, %d connections with %d contacts each: RSS %.1f KB; after GC heap in use %.1f KB, stacks "+
		"%.1f KB, together %.1f KB; goroutines %.2f",
		n, contacts, per(loaded.rss, base.rss)/1024, heap/1024, stack/1024, (heap+stack)/1024, goroutines)
	t.Logf("server: RSS %.1f MB, heap in use %.1f MB, stacks %.1f MB, %d goroutines",
		float64(loaded.rss)/(1<<20), float64(loaded.heap)/(1<<20), float64(loaded.stack)/(1<<20), loaded.goroutines)

	if calls > 0 {
		alice := s.connect(t, "caller", "")
		bob := s.connect(t, "callee", "")
		var ringing []time.Duration
		for range calls {
			start := time.Now()
			alice.send(signaling.Message{Type: signaling.TypeDial, Ref: "d", To: "callee", SDP: "offer"})
			id := bob.next().Event.ID
			bob.send(signaling.Message{Type: signaling.TypeRinging, CallID: id})
			alice.next() // call
			if m := alice.next(); m.Event == nil || m.Event.Status != signaling.Ringing {
				t.Fatalf("got %s", js(m))
			}
			ringing = append(ringing, time.Since(start))
			alice.send(signaling.Message{Type: signaling.TypeHangup, CallID: id})
			bob.next() // ringing
			alice.next()
			bob.next()
			time.Sleep(20 * time.Millisecond)
		}
		slices.Sort(ringing)
		q := func(p float64) time.Duration {
			return ringing[int(p*float64(len(ringing)-1))].Round(10 * time.Microsecond)
		}
		t.Logf("dial to ringing over %d calls with %d idle connections: p50 %v, p95 %v, p99 %v, max %v",
			calls, n, q(0.5), q(0.95), q(0.99), ringing[len(ringing)-1])
	}
	for _, p := range procs {
		if l := p.lost.Load(); l > 0 {
			t.Errorf("%d idle connections dropped", l)
		}
	}

	if goroutines > 1.1 {
		t.Errorf("%.2f goroutines per idle connection, want at most 1.1", goroutines)
	}
	// With 20 contacts each, about 3 KB of it is the watches (the feed's
	// view of a user, each watch).
	if !raceEnabled && n >= 200 && heap+stack > 28<<10 {
		t.Errorf("%.1f KB of heap and stack per idle connection, want at most 28 KB", (heap+stack)/1024)
	}
}

// memory is a reading of this process's memory.
type memory struct {
	rss         uint64 // resident set, before the collection
	heap, stack uint64 // in use, after a collection
	goroutines  int
}

func readMemory(t *testing.T) memory {
	t.Helper()
	var m memory
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			m.rss = kb << 10
		}
	}
	runtime.GC()
	runtime.GC() // the second one frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap, m.stack, m.goroutines = ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
	return m
}

func writeProfiles(t *testing.T, dir string) {
	t.Helper()
	runtime.GC() // the heap profile is that of the last collection but one
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("profiles in %s", dir)
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// idleProc is a child process holding idle connections.
type idleProc struct {
	ready chan error
	lost  atomic.Int64
}

// startIdleClients starts a process (this test binary, running
// TestIdleClientProcess) that connects tokens to url and keeps them idle
// until the test ends.
func startIdleClients(t *testing.T, url string, tokens []string) *idleProc {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$", "-test.v")
	cmd.Env = append(os.Environ(), envIdleServer+"="+url, envIdleTokens+"="+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &idleProc{ready: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		readied := false
		for sc.Scan() {
			l := sc.Text()
			switch {
			case l == "ready":
				readied = true
				p.ready <- nil
			case strings.HasPrefix(l, "failed"):
				p.ready <- fmt.Errorf("client process: %s", l)
			case strings.HasPrefix(l, "lost "):
				v, _ := strconv.Atoi(strings.TrimPrefix(l, "lost "))
				p.lost.Store(int64(v))
			}
		}
		if !readied {
			p.ready <- fmt.Errorf("client process ended before its connections were up")
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // the process closes its connections and exits
		<-done
		_ = cmd.Wait()
	})
	return p
}

func (p *idleProc) waitReady(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("client process not ready within 5 minutes")
	}
}

// TestIdleClientProcess is the client process of TestIdleConnections: it
// connects the tokens in $PARLEY_IDLE_TOKENS to $PARLEY_IDLE_SERVER,
// prints "ready" (or "failed: …"), then "lost N" whenever connections drop,
// until its standard input closes.
func TestIdleClientProcess(t *testing.T) {
	url := os.Getenv(envIdleServer)
	if url == "" {
		t.Skip("only as TestIdleConnections' client process")
	}
	b, err := os.ReadFile(os.Getenv(envIdleTokens))
	if err != nil {
		t.Fatal(err)
	}
	tokens := strings.Split(string(b), "\n")
	clients := make([]*signaling.Client, len(tokens))
	var lost atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, len(tokens))
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				c, err := signaling.Dial(ctx, url, tokens[i], signaling.DialOptions{})
				cancel()
				if err != nil {
					errs <- err
					continue
				}
				clients[i] = c
				go func() {
					for range c.Messages() {
					}
					if c.Err() != nil {
						lost.Add(1)
					}
				}()
			}
		}()
	}
	for i := range tokens {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		fmt.Printf("failed: %v\n", err)
	default:
		fmt.Println("ready")
	}
	go func() {
		reported := int64(0)
		for {
			time.Sleep(500 * time.Millisecond)
			if l := lost.Load(); l != reported {
				reported = l
				fmt.Printf("lost %d\n", l)
			}
		}
	}()
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	time.Sleep(time.Second) // let the closes go out
	os.Exit(0)
}
