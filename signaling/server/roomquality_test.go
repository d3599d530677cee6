package server

import (
	"math"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// TestUplinkCount: packets every 20 ms across a wrap of the sequence
// numbers, every tenth lost and two swapped, arriving ±2 ms around their
// time by turns: 10 % counted lost (expected from the highest sequence
// number, not from what came), and a jitter near RFC 3550's 4 ms for
// transits that alternate 4 ms apart.
func TestUplinkCount(t *testing.T) {
	var u uplink
	const n = 1000
	seq := uint16(65000)
	ts := uint32(4e9)
	for i := range n {
		s, arrival := seq+uint16(i), ts+uint32(i*960)+96
		if i == 500 || i == 501 { // swapped
			s = seq + uint16(1001-i)
		}
		if i%2 == 1 {
			arrival += 192 // 4 ms later
		}
		if i%10 == 3 {
			continue
		}
		u.count(s, ts+uint32(s-seq)*960, arrival)
	}
	c := u.counts()
	if c.expected != n || c.received != n-n/10 {
		t.Errorf("expected %d, received %d; want %d and %d", c.expected, c.received, n, n-n/10)
	}
	if math.Abs(float64(c.jitter-4*time.Millisecond)) > float64(time.Millisecond) {
		t.Errorf("jitter %v, want 4 ± 1 ms", c.jitter)
	}
}

// TestQualityRating: nothing is rated before a full window; a new grade
// is told once two samples in a row agree (not after one), the loss
// counted over the last qualityWindow samples; a grade that goes back
// before it is told is never told.
func TestQualityRating(t *testing.T) {
	var q partQuality
	var c uplinkCount
	// told takes a sample of 100 packets, lost of them lost, at a jitter.
	told := func(lost int64, jitter time.Duration, want bool, grade signaling.Grade) {
		t.Helper()
		c.expected += 100
		c.received += 100 - lost
		c.jitter = jitter
		if got := q.rate("bob", c, 20*time.Millisecond); got != want || q.shown.Grade != grade {
			t.Fatalf("after %d lost at %v jitter: told %v, shown %q; want %v, %q", lost, jitter, got, q.shown.Grade,
				want, grade)
		}
	}
	const calm, high = time.Millisecond, 40 * time.Millisecond
	for range qualityWindow {
		told(0, calm, false, "") // the window fills
	}
	told(0, calm, false, "") // good once
	told(0, calm, true, signaling.GradeGood)
	told(0, calm, false, signaling.GradeGood)
	told(0, high, false, signaling.GradeGood) // fair once
	told(0, calm, false, signaling.GradeGood)
	told(0, high, false, signaling.GradeGood) // fair once again: not twice in a row
	told(0, calm, false, signaling.GradeGood)

	// A tenth of the window's packets lost in one sample: poor while that
	// sample is in the window.
	lost := int64(10 * qualityWindow)
	told(lost, calm, false, signaling.GradeGood) // poor once
	told(0, calm, true, signaling.GradePoor)     // twice
	if q.shown.Loss != 0.1 || q.shown.Problems[0] != signaling.WarnHighLoss {
		t.Errorf("shown %+v, want loss 0.1 and %s", q.shown, signaling.WarnHighLoss)
	}
	for range qualityWindow - 2 {
		told(0, calm, false, signaling.GradePoor)
	}
	told(0, calm, false, signaling.GradePoor) // the loss is out of the window now: good once
	told(0, calm, true, signaling.GradeGood)
}
