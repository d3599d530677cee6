//go:build e2e

package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestClusterShort: a few calls on one node and across three nodes on a
// nats-server, with sane figures, and their section in the report.
func TestClusterShort(t *testing.T) {
	e := &Env{Dir: t.TempDir(), Parley: parley(t), Logf: t.Logf}
	const pairs, calls = 2, 20
	r, err := MeasureCluster(context.Background(), e, pairs, calls)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Runs) != 3 || r.NATS == "" {
		t.Fatalf("%d runs, nats-server %q; want 3 and a version", len(r.Runs), r.NATS)
	}
	for _, run := range r.Runs {
		d := run.DialToRinging
		t.Logf("%s: %d calls, dial to ringing p50 %v p99 %v; %.0f calls/s, p99 %v", run.Name, d.N, d.P50, d.P99,
			run.CallsPerSecond, run.LoadedDialToRinging.P99)
		if l := run.LoadedDialToRinging; l.N != calls || l.Min <= 0 || l.P99 > 5*time.Second {
			t.Errorf("%s, %d pairs at once: %d calls, min %v, p99 %v; want %d calls, each under 5 s", run.Name, pairs,
				l.N, l.Min, l.P99, calls)
		}
		if d.N != calls || d.Min <= 0 || d.P99 > 5*time.Second || run.CallsPerSecond <= 0 {
			t.Errorf("%s: %d calls, min %v, p99 %v, %.1f calls/s; want %d calls, each under 5 s", run.Name, d.N, d.Min,
				d.P99, run.CallsPerSecond, calls)
		}
	}
	if s := r.Runs[2].SameNodeDialToRinging; s.N != calls || s.Min <= 0 || r.Runs[0].SameNodeDialToRinging.N != 0 {
		t.Errorf("calls within one node: %d on three nodes, %d on one; want %d and 0", s.N,
			r.Runs[0].SameNodeDialToRinging.N, calls)
	}
	if _, ok := r.ExtraHop(); !ok {
		t.Error("no extra hop figure")
	}
	if r.Runs[2].Nodes != 3 || r.Runs[0].Nodes != 1 {
		t.Errorf("nodes %d and %d, want 1 and 3", r.Runs[0].Nodes, r.Runs[2].Nodes)
	}
	var b strings.Builder
	res := &Results{Cluster: r}
	if err := res.WriteMarkdown(&b, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Several nodes", "three nodes on nats-server", "crossing nodes adds"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
