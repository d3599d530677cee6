package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// CapacityResult is what the idle-connection load measured.
type CapacityResult struct {
	Target    int // connections asked for
	Tried     int // connections attempted: Target, or fewer if the server's file limit does not allow it
	Connected int
	// FileLimit is the server's limit of open files, and ServerFiles the
	// files it had open before the connections.
	FileLimit, ServerFiles int
	ConnectTime            time.Duration // to connect them all
	// The server's resident set size before the connections (after their
	// tokens were issued) and with all of them up, settled; PerConn is the
	// difference over Connected.
	BaseRSS, LoadedRSS, PerConn int64
	// The server's CPU, share of one core, while the connections idle.
	IdleCPU float64
	// Calls placed while the connections stay up.
	Setup *SetupResult
	Addrs int // loopback source addresses used
	Procs int // client processes holding the connections (0: this one)
}

// Contacts is how many contacts each idle client has on the server.
const Contacts = 20

const (
	perAddr = 200  // connections per source address: the per-address burst of the server's limits
	perProc = 9000 // connections per client process, well within a process's file limit
)

// idleClient returns the HTTP client of connection i: its source address.
func idleClient(clients map[int]*http.Client, mu *sync.Mutex, i int) *http.Client {
	a := i / perAddr
	mu.Lock()
	defer mu.Unlock()
	c := clients[a]
	if c == nil {
		c = fromAddr(fmt.Sprintf("127.0.%d.%d", 1+(a+1)/250, 1+(a+1)%250))
		clients[a] = c
	}
	return c
}

// MeasureCapacity starts a `parley serve` of its own, connects n signed-in
// idle clients (real signaling clients: WebSocket, connect, welcome, and
// whatever the server sends them afterwards, such as pings), measures the
// server's memory per connection and its idle CPU, then places calls calls
// between two more clients and measures their setup under that load.
//
// The clients leave from several loopback addresses (127.0.1.2 on), 200
// per address: each address has its own ephemeral ports, and the server
// limits requests per address as it would for the same number of people
// behind as many addresses. With e.Self set, they live in helper processes
// of 9000 connections each (a process's open files are limited); without,
// in this process. The open-files limit is raised as far as allowed, for
// this process and the server; if the server's limit leaves no room for
// n connections, as many as it allows are made. settle is how long the
// server is left alone before each memory reading.
func MeasureCapacity(ctx context.Context, e *Env, n, calls int, settle time.Duration) (*CapacityResult, error) {
	limit, err := RaiseFileLimit(uint64(2*n + 4096))
	if err != nil {
		return nil, fmt.Errorf("bench: raise the open files limit: %w", err)
	}
	// The contacts are added in bulk: far more requests a second from
	// one address than the limits allow a person.
	srv, err := StartServer(ctx, e.Parley, filepath.Join(e.Dir, "capacity-server"), "--limit-rate", "100000",
		"--limit-burst", "100000")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	r := &CapacityResult{Target: n, FileLimit: int(limit)}
	var mu sync.Mutex
	clients := map[int]*http.Client{}
	user := func(i int) string { return fmt.Sprintf("idle%05d", i) }

	// Tokens first: issuing one records the user, which is not the
	// connections' memory.
	tokens := make([]string, n)
	err = parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		t, err := srv.Token(ctx, idleClient(clients, &mu, i), user(i))
		tokens[i] = t
		return err
	})
	if err != nil {
		return nil, err
	}
	e.Logf("capacity: %d tokens issued", n)
	// Each has the next Contacts users as contacts, on the server: every
	// connection watches that many, and is watched by as many.
	start := time.Now()
	err = parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		return addContacts(ctx, srv.URL, idleClient(clients, &mu, i), tokens[i], i, n, user)
	})
	if err != nil {
		return nil, err
	}
	e.Logf("capacity: %d contacts each added in %v", min(Contacts, n-1), time.Since(start).Round(time.Second))
	for _, c := range clients { // their keep-alive connections would take the server's files
		c.CloseIdleConnections()
	}
	if err := sleep(ctx, settle/3); err != nil {
		return nil, err
	}
	if r.BaseRSS, _, err = Memory(srv.Pid()); err != nil {
		return nil, err
	}
	if r.ServerFiles, err = openFiles(srv.Pid()); err != nil {
		return nil, err
	}
	// Room for the two phones of the calls, the health checks and the
	// server's own files to come (JetStream opens some as it goes).
	r.Tried = min(n, r.FileLimit-r.ServerFiles-64)
	if r.Tried < n {
		e.Logf("capacity: the server may open %d files and has %d open: trying %d connections of %d", r.FileLimit,
			r.ServerFiles, r.Tried, n)
	}
	r.Addrs = (r.Tried + perAddr - 1) / perAddr

	start = time.Now()
	var lost func() int
	var stop func()
	if e.Self != "" {
		r.Procs = (r.Tried + perProc - 1) / perProc
		lost, stop, err = connectElsewhere(ctx, e, srv.URL, tokens[:r.Tried], &r.Connected)
	} else {
		lost, stop, err = connectHere(ctx, srv.URL, tokens[:r.Tried], 0, &r.Connected, func(k int) {
			if k%5000 == 0 {
				e.Logf("capacity: %d connected", k)
			}
		})
	}
	r.ConnectTime = time.Since(start)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		return r, err
	}
	e.Logf("capacity: %d connected in %v", r.Connected, r.ConnectTime.Round(time.Millisecond))

	// Let the connect burst's garbage go and the heartbeats settle, then
	// take the median of a few readings.
	if err := sleep(ctx, settle); err != nil {
		return r, err
	}
	cpu, err := StartCPU(srv.Pid())
	if err != nil {
		return r, err
	}
	var rss []int64
	for range 5 {
		if err := sleep(ctx, settle/5); err != nil {
			return r, err
		}
		v, _, err := Memory(srv.Pid())
		if err != nil {
			return r, err
		}
		rss = append(rss, v)
	}
	if r.IdleCPU, err = cpu.Share(); err != nil {
		return r, err
	}
	slices.Sort(rss)
	r.LoadedRSS = rss[len(rss)/2]
	r.PerConn = (r.LoadedRSS - r.BaseRSS) / int64(max(1, r.Connected))
	if l := lost(); l > 0 {
		return r, fmt.Errorf("bench: %d of %d idle connections dropped", l, r.Connected)
	}
	e.Logf("capacity: server RSS %.1f MB before, %.1f MB with %d connections: %.1f KB each; idle CPU %.1f%%",
		mb(r.BaseRSS), mb(r.LoadedRSS), r.Connected, float64(r.PerConn)/1024, 100*r.IdleCPU)

	r.Setup, err = MeasureSetup(ctx, srv, nil, "loaded", calls)
	if err != nil {
		return r, err
	}
	if l := lost(); l > 0 {
		return r, fmt.Errorf("bench: %d of %d idle connections dropped during the calls", l, r.Connected)
	}
	return r, nil
}

// addContacts adds the Contacts users after user i (of n) as contacts of
// user i, whose token is tok, waiting out the per-address limit when it
// refuses.
func addContacts(ctx context.Context, url string, hc *http.Client, tok string, i, n int, user func(int) string) error {
	api := signaling.API{Server: url, HTTP: hc, Token: func(context.Context) (string, error) { return tok, nil }}
	for k := 1; k <= min(Contacts, n-1); k++ {
		for try := 0; ; try++ {
			_, err := api.AddContact(ctx, user((i+k)%n))
			var se *signaling.Error
			if err == nil || try == 50 || !errors.As(err, &se) || !strings.Contains(se.Message, "too many") {
				if err != nil {
					return fmt.Errorf("bench: contacts of %s: %w", user(i), err)
				}
				break
			}
			if err := sleep(ctx, time.Second); err != nil { // the per-address limit: wait for its bucket
				return err
			}
		}
	}
	return nil
}

// connectHere connects tokens (connection numbers from first on) from
// this process. lost counts the connections that dropped since; stop
// closes them all.
func connectHere(ctx context.Context, url string, tokens []string, first int, connected *int,
	progress func(int)) (lost func() int, stop func(), err error) {
	var mu sync.Mutex
	clients := map[int]*http.Client{}
	conns := make([]*signaling.Client, len(tokens))
	var dropped, count atomic.Int64
	stop = func() {
		var wg sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); c.Close() }()
			}
		}
		wg.Wait()
	}
	err = parallel(ctx, len(tokens), 32, func(ctx context.Context, i int) error {
		var last error
		for try := 0; try < 20; try++ {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			opts := signaling.DialOptions{HTTPClient: idleClient(clients, &mu, first+i)}
			c, err := signaling.Dial(dctx, url, tokens[i], opts)
			cancel()
			if err == nil {
				conns[i] = c
				go func() { // read what the server sends an idle client; note a drop
					for range c.Messages() {
					}
					if c.Err() != nil {
						dropped.Add(1)
					}
				}()
				progress(int(count.Add(1)))
				return nil
			}
			last = err
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(time.Duration(200*(try+1)) * time.Millisecond) // refused for the rate: wait a bucket
		}
		return fmt.Errorf("bench: connect idle%05d: %w", first+i, last)
	})
	*connected = int(count.Load())
	return func() int { return int(dropped.Load()) }, stop, err
}

// connectElsewhere connects tokens from helper processes (e.Self idle),
// perProc each.
func connectElsewhere(ctx context.Context, e *Env, url string, tokens []string,
	connected *int) (lost func() int, stop func(), err error) {
	var procs []*Proc
	var wg sync.WaitGroup
	stop = func() {
		for _, p := range procs {
			p.Stop(syscall.SIGTERM)
		}
		wg.Wait()
	}
	n := (len(tokens) + perProc - 1) / perProc
	dropped := make([]atomic.Int64, n)
	type report struct {
		count int
		err   error
	}
	ready := make(chan report, n)
	for k := range n {
		first := k * perProc
		chunk := tokens[first:min(len(tokens), first+perProc)]
		file := filepath.Join(e.Dir, fmt.Sprintf("tokens-%d", k))
		if err := os.WriteFile(file, []byte(strings.Join(chunk, "\n")), 0o600); err != nil {
			return nil, stop, err
		}
		p, err := StartProc(fmt.Sprintf("idle-%d", k), e.Dir, nil, e.Self, "idle", "-server", url, "-tokens", file,
			"-first", strconv.Itoa(first))
		if err != nil {
			return nil, stop, err
		}
		procs = append(procs, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := 0
			_, err := p.WaitLine(ctx, 10*time.Minute, "all its connections", func(l string) bool {
				if v, ok := strings.CutPrefix(l, "connected "); ok {
					count, _ = strconv.Atoi(v)
				}
				return l == "ready" || strings.HasPrefix(l, "failed")
			})
			if err == nil && count < len(chunk) {
				err = fmt.Errorf("bench: %s connected %d of %d; see %s.stdout", p.Name, count, len(chunk),
					filepath.Join(e.Dir, p.Name))
			}
			ready <- report{count, err}
			// From now on it reports drops.
			for l := range p.lines {
				if v, ok := strings.CutPrefix(l, "lost "); ok {
					d, _ := strconv.Atoi(v)
					dropped[k].Store(int64(d))
				}
			}
		}()
	}
	var errs []error
	for range n {
		r := <-ready
		*connected += r.count
		errs = append(errs, r.err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, stop, err
	}
	e.Logf("capacity: %d connected from %d processes", *connected, n)
	return func() int {
		t := 0
		for k := range dropped {
			t += int(dropped[k].Load())
		}
		return t
	}, stop, nil
}

// RunIdle is the helper process of the capacity measurement: it connects
// the tokens in tokensFile (one a line; connection numbers from first on,
// for their source addresses), prints "connected N" as it goes and
// "ready" (or "failed: ...") once done, then "lost N" whenever a
// connection drops, until ctx ends.
func RunIdle(ctx context.Context, url, tokensFile string, first int, out io.Writer) error {
	b, err := os.ReadFile(tokensFile)
	if err != nil {
		return err
	}
	tokens := strings.Split(strings.TrimSpace(string(b)), "\n")
	if _, err := RaiseFileLimit(uint64(len(tokens) + 1024)); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	var wmu sync.Mutex
	say := func(format string, args ...any) {
		wmu.Lock()
		defer wmu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
		_ = w.Flush() // progress for whoever reads it; a reader gone is no reason to stop
	}
	var connected int
	lost, stop, err := connectHere(ctx, url, tokens, first, &connected, func(k int) {
		if k%1000 == 0 {
			say("connected %d", k)
		}
	})
	if stop != nil {
		defer stop()
	}
	say("connected %d", connected)
	if err != nil {
		say("failed: %v", err)
		return err
	}
	say("ready")
	reported := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
		if l := lost(); l != reported {
			reported = l
			say("lost %d", l)
		}
	}
}

// openFiles counts the files process pid has open.
func openFiles(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: open files of %d: %w", pid, err)
	}
	return len(ents), nil
}

// parallel runs f(0) to f(n-1) on workers goroutines and returns the
// first error, after which the others stop being started.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
