package audio_test

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestJitterSmallJitterSettlesNearOneFrame: on a calm network (a few ms of
// jitter, as on a LAN) the buffer plays about one frame behind the newest
// packet, not two: the delay it adds stays within 25 ms once settled, and
// nothing is concealed.
func TestJitterSmallJitterSettlesNearOneFrame(t *testing.T) {
	t.Parallel()
	for _, jit := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond} {
		rng := rand.New(rand.NewPCG(3, 3))
		pkts := stream(t, 10*time.Second, 7, 0)
		for i := range pkts {
			d := 5 * time.Millisecond
			if jit > 0 {
				d += time.Duration(rng.Int64N(int64(jit)))
			}
			pkts[i].arrive += d
		}
		s := run(t, pkts, 10*time.Millisecond)
		var sum time.Duration
		settled := s.stats[len(s.stats)/2:]
		for _, st := range settled {
			sum += st.PlayoutDelay
		}
		mean, st := sum/time.Duration(len(settled)), s.jb.Stats()
		t.Logf("jitter %v: mean playout delay %v, target %v, concealed %d", jit, mean, st.TargetDelay, st.Concealed)
		if mean > 25*time.Millisecond {
			t.Errorf("jitter %v: mean playout delay %v, want ≤ 25 ms", jit, mean)
		}
		if st.Concealed > 0 {
			t.Errorf("jitter %v: %d frames concealed on a calm network", jit, st.Concealed)
		}
	}
}
