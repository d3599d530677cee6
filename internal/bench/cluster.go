package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/parley-voice/parley/internal/natstest"
	"github.com/parley-voice/parley/signaling"
)

// ClusterResult compares call routing on one node with three nodes on one
// nats-server. Calls are placed between raw signaling clients (no media:
// this measures the servers' part of a call): dial, ringing from the
// callee, hang-up. Each configuration places Calls calls one at a time
// (one caller and callee), for the dial to ringing of a call alone, then
// Calls calls from Pairs pairs at once, for calls per second and the dial
// to ringing under that load.
type ClusterResult struct {
	NATS  string // nats-server version of the three-node run
	Pairs int    // caller and callee pairs placing calls at once
	Calls int    // calls per run
	Runs  []ClusterRun
}

// ExtraHop is how much later the p99 dial to ringing of calls across the
// three nodes is than that of calls within one of them, measured in turns
// on the same cluster: the cost of crossing nodes.
func (r *ClusterResult) ExtraHop() (time.Duration, bool) {
	if len(r.Runs) < 3 || r.Runs[2].SameNodeDialToRinging.N == 0 {
		return 0, false
	}
	return r.Runs[2].DialToRinging.P99 - r.Runs[2].SameNodeDialToRinging.P99, true
}

// ClusterRun is one configuration's figures.
type ClusterRun struct {
	Name  string // "one node, embedded NATS", ...
	Nodes int
	// DialToRinging: from the caller sending dial to the caller receiving
	// the ringing status, which went from the caller's node to the
	// callee's node and back (on three nodes, through nats-server); calls
	// one at a time.
	DialToRinging Dist
	// SameNodeDialToRinging: on several nodes, calls between two users of
	// one node, one at a time, taking turns with those of DialToRinging.
	SameNodeDialToRinging Dist
	// With Pairs pairs placing calls at once: whole calls a second (dial
	// to both ends told it ended) and dial to ringing.
	CallsPerSecond      float64
	LoadedDialToRinging Dist
}

// MeasureCluster runs pairs caller and callee pairs placing calls calls in
// all on three configurations: one node with its embedded NATS; one node on
// a nats-server; three nodes on that nats-server, the caller on one node
// and the callee on the next.
func MeasureCluster(ctx context.Context, e *Env, pairs, calls int) (*ClusterResult, error) {
	r := &ClusterResult{Pairs: pairs, Calls: calls}
	// One node, embedded NATS.
	one, err := StartServer(ctx, e.Parley, filepath.Join(e.Dir, "cluster-one"), "--turn-listen", "off")
	if err != nil {
		return nil, err
	}
	run, err := clusterRun(ctx, []*Server{one}, pairs, calls)
	one.Stop()
	if err != nil {
		return nil, fmt.Errorf("one node: %w", err)
	}
	run.Name = "one node, embedded NATS"
	r.Runs = append(r.Runs, *run)
	e.Logf("cluster: %s: dial to ringing p50 %v p99 %v; %.0f calls/s, p99 %v", run.Name, run.DialToRinging.P50,
		run.DialToRinging.P99, run.CallsPerSecond, run.LoadedDialToRinging.P99)

	dir := filepath.Join(e.Dir, "cluster-nats")
	bin, version, err := natstest.Binary(ctx, dir)
	if err != nil {
		return r, err
	}
	nats, err := natstest.Run(ctx, bin, dir)
	if err != nil {
		return r, err
	}
	defer nats.Stop()
	r.NATS = version
	for _, n := range []int{1, 3} {
		nodes, err := startNodes(ctx, e, n, nats.URL)
		if err != nil {
			return r, err
		}
		run, err := clusterRun(ctx, nodes, pairs, calls)
		for _, s := range nodes {
			s.Stop()
		}
		if err != nil {
			return r, fmt.Errorf("%d nodes on nats-server: %w", n, err)
		}
		run.Name = "one node on nats-server"
		if n == 3 {
			run.Name = "three nodes on nats-server, caller and callee on different nodes"
		}
		r.Runs = append(r.Runs, *run)
		e.Logf("cluster: %s: dial to ringing p50 %v p99 %v; %.0f calls/s, p99 %v", run.Name, run.DialToRinging.P50,
			run.DialToRinging.P99, run.CallsPerSecond, run.LoadedDialToRinging.P99)
		if s := run.SameNodeDialToRinging; s.N > 0 {
			e.Logf("cluster: within one of the %d nodes: dial to ringing p50 %v p99 %v", n, s.P50, s.P99)
		}
	}
	return r, nil
}

// startNodes starts n `parley serve --nats` nodes sharing the first one's
// token secret (and the harness's API key), with their TURN servers off.
func startNodes(ctx context.Context, e *Env, n int, nats string) ([]*Server, error) {
	var nodes []*Server
	for i := range n {
		dir := filepath.Join(e.Dir, fmt.Sprintf("cluster-%d-node%d", n, i+1))
		if i > 0 {
			secret, err := os.ReadFile(filepath.Join(e.Dir, fmt.Sprintf("cluster-%d-node1", n), "data", "token_secret"))
			if err == nil {
				err = os.MkdirAll(filepath.Join(dir, "data"), 0o700)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "data", "token_secret"), secret, 0o600)
			}
			if err != nil {
				stopAll(nodes)
				return nil, err
			}
		}
		s, err := StartServer(ctx, e.Parley, dir, "--nats", nats, "--turn-listen", "off")
		if err != nil {
			stopAll(nodes)
			return nil, err
		}
		nodes = append(nodes, s)
	}
	return nodes, nil
}

func stopAll(nodes []*Server) {
	for _, s := range nodes {
		s.Stop()
	}
}

// clusterRun measures calls on nodes one at a time, then from pairs pairs at
// once.
func clusterRun(ctx context.Context, nodes []*Server, pairs, calls int) (*ClusterRun, error) {
	alone, same, err := clusterAlone(ctx, nodes, calls)
	if err != nil {
		return nil, fmt.Errorf("one at a time: %w", err)
	}
	loaded, perSecond, err := clusterCalls(ctx, nodes, "p", pairs, calls)
	if err != nil {
		return nil, fmt.Errorf("%d pairs at once: %w", pairs, err)
	}
	return &ClusterRun{Nodes: len(nodes), DialToRinging: alone, SameNodeDialToRinging: same,
		LoadedDialToRinging: loaded, CallsPerSecond: perSecond}, nil
}

// clusterAlone places calls one at a time from a caller on the first node
// to a callee on the second (the first when there is one). With several
// nodes, calls between two users of the first node take turns with them,
// for the same machine's noise on both: it returns both dial to ringing.
func clusterAlone(ctx context.Context, nodes []*Server, calls int) (cross, same Dist, err error) {
	var clients []*signaling.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	connect := func(s *Server, user string) *signaling.Client {
		if err != nil {
			return nil
		}
		var tok string
		if tok, err = s.Token(ctx, nil, user); err != nil {
			return nil
		}
		var c *signaling.Client
		if c, err = signaling.Dial(ctx, s.URL, tok, signaling.DialOptions{}); err == nil {
			clients = append(clients, c)
		}
		return c
	}
	type pair struct {
		a, b   *signaling.Client
		callee string
		rings  []time.Duration
	}
	ps := []*pair{{a: connect(nodes[0], "cls-a"), b: connect(nodes[1%len(nodes)], "cls-b"), callee: "cls-b"}}
	if len(nodes) > 1 {
		ps = append(ps, &pair{a: connect(nodes[0], "cls-c"), b: connect(nodes[0], "cls-d"), callee: "cls-d"})
	}
	if err != nil {
		return Dist{}, Dist{}, err
	}
	for k := range calls + 1 { // the first call warms up
		for _, p := range ps {
			d, err := clusterCall(ctx, p.a, p.b, p.callee, fmt.Sprint(k))
			if err != nil {
				return Dist{}, Dist{}, fmt.Errorf("call %d to %s: %w", k, p.callee, err)
			}
			if k > 0 {
				p.rings = append(p.rings, d)
			}
		}
	}
	cross = NewDist(ps[0].rings)
	if len(ps) > 1 {
		same = NewDist(ps[1].rings)
	}
	return cross, same, nil
}

// clusterCalls places calls between pairs of signaling clients (users
// named after prefix), pair i's caller on node i and its callee on node i+1
// (modulo the nodes), and returns their dial to ringing and calls a second.
func clusterCalls(ctx context.Context, nodes []*Server, prefix string, pairs, calls int) (Dist, float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type pair struct{ a, b *signaling.Client }
	ps := make([]pair, pairs)
	defer func() {
		for _, p := range ps {
			for _, c := range []*signaling.Client{p.a, p.b} {
				if c != nil {
					c.Close()
				}
			}
		}
	}()
	connect := func(s *Server, user string) (*signaling.Client, error) {
		tok, err := s.Token(ctx, nil, user)
		if err != nil {
			return nil, err
		}
		return signaling.Dial(ctx, s.URL, tok, signaling.DialOptions{})
	}
	for i := range ps {
		var err error
		if ps[i].a, err = connect(nodes[i%len(nodes)], fmt.Sprintf("cl%s-a%03d", prefix, i)); err != nil {
			return Dist{}, 0, err
		}
		if ps[i].b, err = connect(nodes[(i+1)%len(nodes)], fmt.Sprintf("cl%s-b%03d", prefix, i)); err != nil {
			return Dist{}, 0, err
		}
	}
	// Each pair places its share; the first call of each pair warms up
	// (connections, NATS subscriptions) and is not counted.
	per := (calls + pairs - 1) / pairs
	rings := make([][]time.Duration, pairs)
	errs := make([]error, pairs)
	var wg sync.WaitGroup
	var start time.Time
	ready := make(chan struct{})
	var warm sync.WaitGroup
	warm.Add(pairs)
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := ps[i]
			callee := fmt.Sprintf("cl%s-b%03d", prefix, i)
			for k := range per + 1 {
				d, err := clusterCall(ctx, p.a, p.b, callee, fmt.Sprint(k))
				if err != nil {
					errs[i] = fmt.Errorf("pair %d, call %d: %w", i, k, err)
					cancel()
					if k == 0 {
						warm.Done()
					}
					return
				}
				if k == 0 {
					warm.Done()
					<-ready
					continue
				}
				rings[i] = append(rings[i], d)
			}
		}()
	}
	warm.Wait()
	start = time.Now()
	close(ready)
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Dist{}, 0, err
	}
	var all []time.Duration
	for _, r := range rings {
		all = append(all, r...)
	}
	return NewDist(all), float64(len(all)) / elapsed.Seconds(), nil
}

// clusterCall places one call from a to b (user callee): dial, the callee
// sends ringing, the caller hangs up; it returns the time from the dial to
// the caller's ringing status, once both ends were told the call ended.
func clusterCall(ctx context.Context, a, b *signaling.Client, callee, ref string) (time.Duration, error) {
	dial := time.Now()
	if err := a.Send(signaling.Message{Type: signaling.TypeDial, Ref: ref, To: callee, SDP: "offer"}); err != nil {
		return 0, err
	}
	in, err := nextEvent(ctx, b, signaling.TypeCall)
	if err != nil {
		return 0, fmt.Errorf("callee: %w", err)
	}
	id := in.Event.ID
	if err := b.Send(signaling.Message{Type: signaling.TypeRinging, CallID: id}); err != nil {
		return 0, err
	}
	var ringing time.Duration
	for ringing == 0 {
		m, err := nextEvent(ctx, a, "")
		if err != nil {
			return 0, fmt.Errorf("caller: %w", err)
		}
		if m.Type == signaling.TypeCallStatusChanged && m.Event.ID == id && m.Event.Status == signaling.Ringing {
			ringing = time.Since(dial)
		}
	}
	if err := a.Send(signaling.Message{Type: signaling.TypeHangup, CallID: id}); err != nil {
		return 0, err
	}
	for _, c := range []*signaling.Client{a, b} {
		for {
			m, err := nextEvent(ctx, c, signaling.TypeCallStatusChanged)
			if err != nil {
				return 0, fmt.Errorf("hang-up: %w", err)
			}
			if m.Event.ID == id && m.Event.Status.Terminal() {
				break
			}
		}
	}
	return ringing, nil
}

// nextEvent returns c's next call or call_status_changed message (of type
// t, unless empty), skipping presence and the like; an error message or
// 10 s of silence is an error.
func nextEvent(ctx context.Context, c *signaling.Client, t signaling.Type) (signaling.Message, error) {
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return m, errors.New("connection closed")
			}
			if m.Type == signaling.TypeError {
				return m, fmt.Errorf("error %v", m.Error)
			}
			if (m.Type == signaling.TypeCall || m.Type == signaling.TypeCallStatusChanged) && m.Event != nil &&
				(t == "" || m.Type == t) {
				return m, nil
			}
		case <-timeout.C:
			return signaling.Message{}, fmt.Errorf("no %s within 10s", t)
		case <-ctx.Done():
			return signaling.Message{}, ctx.Err()
		}
	}
}
