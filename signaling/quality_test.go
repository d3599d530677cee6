package signaling

import (
	"testing"
	"time"
)

// TestMOS: the E-model's figures at a few points: a clean short call
// scores 4.4, delay and loss bring it down, and 3.5 (the warning) lies
// between 5 % loss at 150 ms and 10 % at 150 ms.
func TestMOS(t *testing.T) {
	for _, c := range []struct {
		delay  time.Duration
		loss   float64
		lo, hi float64
	}{
		{50 * time.Millisecond, 0, 4.35, 4.45},
		{300 * time.Millisecond, 0, 3.6, 3.8},
		{150 * time.Millisecond, 0.05, 3.5, 4.0},
		{150 * time.Millisecond, 0.10, 2.9, 3.5},
		{2 * time.Second, 0.5, 1, 1.5},
	} {
		if got := MOS(c.delay, c.loss); got < c.lo || got > c.hi {
			t.Errorf("MOS(%v, %.0f%%) = %.2f, want %.2f to %.2f", c.delay, 100*c.loss, got, c.lo, c.hi)
		}
	}
}

// TestRate: the grade of a few connections: a clean one is good; 3.5 %
// loss is a problem (fair) before the MOS (3.9) says so; 10 % loss is poor
// (MOS 3.1); a 450 ms round trip with no loss is fair.
func TestRate(t *testing.T) {
	for _, c := range []struct {
		rtt, jitter time.Duration
		loss        float64
		want        Grade
		problems    int
	}{
		{20 * time.Millisecond, 2 * time.Millisecond, 0, GradeGood, 0},
		{20 * time.Millisecond, 2 * time.Millisecond, 0.035, GradeFair, 1},
		{20 * time.Millisecond, 2 * time.Millisecond, 0.10, GradePoor, 2},
		{450 * time.Millisecond, 2 * time.Millisecond, 0, GradeFair, 1},
		{20 * time.Millisecond, 35 * time.Millisecond, 0, GradeFair, 1},
	} {
		mos := MOS(c.rtt/2+50*time.Millisecond, c.loss)
		problems := Problems(c.rtt, c.jitter, c.loss, mos)
		if got := Rate(mos, problems); got != c.want || len(problems) != c.problems {
			t.Errorf("RTT %v, jitter %v, loss %.1f %%: MOS %.2f, %v, %s; want %s with %d problems", c.rtt, c.jitter,
				100*c.loss, mos, problems, got, c.want, c.problems)
		}
	}
}
