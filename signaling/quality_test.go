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
