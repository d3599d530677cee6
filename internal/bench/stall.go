package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Stall stops one client of a call for a while during its chirps, as a
// laptop whose process the scheduler holds up: SIGSTOP, then SIGCONT.
type Stall struct {
	Side  string        // "A", the speaker, or "B", the listener
	After time.Duration // into the chirps
	For   time.Duration
}

// Stalls are the stalls `make bench` measures, each in a parley call of
// the defaults (issue 20: back under 150 ms within 2 s, never above 400).
var Stalls = []Stall{
	{Side: "A", After: 3 * time.Second, For: 300 * time.Millisecond},
	{Side: "B", After: 3 * time.Second, For: 300 * time.Millisecond},
}

// Contender is the call set-up that measures s: parley's defaults.
func (s Stall) Contender() Contender {
	c := Contenders[0]
	who := map[string]string{"A": "sender", "B": "receiver"}[s.Side]
	c.Name = fmt.Sprintf("parley, %s stopped %v", who, s.For)
	c.About = fmt.Sprintf("the defaults; %v into the chirps, %s (%s) is stopped for %v (SIGSTOP, then SIGCONT)",
		s.After, s.Side, who, s.For)
	c.Stall = &s
	return c
}

// stallEnd is where a stall ended: in the recording, and on the clock.
type stallEnd struct {
	inRecording time.Duration
	at          time.Time
	err         error
}

// run stops the side's process after s.After, for s.For.
func (s Stall) run(ctx context.Context, pair *callPair, rec *Recording) stallEnd {
	p := pair.a
	if s.Side == "B" {
		p = pair.b
	}
	if err := sleep(ctx, s.After); err != nil {
		return stallEnd{err: err}
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		return stallEnd{err: fmt.Errorf("bench: stopping %s: %w", p.Name, err)}
	}
	err := sleep(ctx, s.For)
	if cerr := syscall.Kill(p.Pid(), syscall.SIGCONT); cerr != nil {
		return stallEnd{err: fmt.Errorf("bench: continuing %s: %w", p.Name, cerr)}
	}
	if err != nil {
		return stallEnd{err: err}
	}
	return stallEnd{inRecording: time.Duration(rec.Seconds() * float64(time.Second)), at: time.Now()}
}

// Sample is a delay at a time.
type Sample struct {
	At    time.Duration
	Delay time.Duration
}

// StallResult is what a stall did to the delay B's listener heard.
type StallResult struct {
	Stall Stall
	// Before is the chirps' median mouth-to-ear delay before the stall;
	// Peak the highest after it; Back how long after the stall's end the
	// chirps were within 30 ms of Before for good (0: at once).
	Before, Peak, Back time.Duration
	// Chirps are the delays of the chirps from the stall's end on, by
	// their time from it.
	Chirps []Sample
	// JBBefore is B's jitter buffer delay in its last stats event before
	// the stall; JBPeak its highest after; JBBack the time of B's first
	// stats event from which it stayed under 150 ms, from the stall's end;
	// JB those events.
	JBBefore, JBPeak, JBBack time.Duration
	JB                       []Sample
}

// stallBack is how close to the delay before a stall counts as back.
const stallBack = 30 * time.Millisecond

// Stalled measures a call with a Stall: r must come from RunCall with
// c.Stall set.
func Stalled(r *CallResult) StallResult {
	res := StallResult{Stall: *r.Contender.Stall}
	var before []time.Duration
	for _, ev := range r.Events {
		if ev.At < r.StallEnd-r.Contender.Stall.For-time.Second {
			before = append(before, ev.Delay)
		} else if ev.At >= r.StallEnd-r.Contender.Stall.For {
			res.Chirps = append(res.Chirps, Sample{At: ev.At - r.StallEnd, Delay: ev.Delay})
		}
	}
	res.Before = Percentile(before, 50)
	for _, c := range res.Chirps {
		res.Peak = max(res.Peak, c.Delay)
		if c.Delay > res.Before+stallBack {
			res.Back = max(res.Back, c.At)
		}
	}
	jb := slices.Clone(r.JBAfter)
	for _, s := range jb {
		if s.At < -r.Contender.Stall.For {
			res.JBBefore = s.Delay
			continue
		}
		res.JB = append(res.JB, s)
		res.JBPeak = max(res.JBPeak, s.Delay)
		if s.Delay >= 150*time.Millisecond {
			res.JBBack = max(res.JBBack, s.At+time.Second) // the next event was under
		}
	}
	return res
}

// String is the stall's figures in a line.
func (s StallResult) String() string {
	str := fmt.Sprintf("side %s stopped %v: mouth-to-ear %v before, peak %v, back within %v of it %v after; "+
		"jitter buffer %v before, peak %v, under 150 ms from %v after:", s.Stall.Side, s.Stall.For, fms(s.Before),
		fms(s.Peak), fms(stallBack), secs(s.Back), fms(s.JBBefore), fms(s.JBPeak), secs(s.JBBack))
	for _, c := range s.Chirps {
		str += fmt.Sprintf(" %+.2fs %s", c.At.Seconds(), fms(c.Delay))
	}
	str += "; jitter buffer:"
	for _, j := range s.JB {
		str += fmt.Sprintf(" %+.1fs %s", j.At.Seconds(), fms(j.Delay))
	}
	return str
}

// stallTarget is issue 20's target for the jitter buffer after a stall.
func (r *Results) stallTarget() Target {
	t := Target{Goal: "after a 300 ms stall of either side, the listener's jitter buffer delay back under 150 ms " +
		"within 2 s, and never above 400 ms"}
	if len(r.Stalls) == 0 {
		return t
	}
	var peak, back time.Duration
	for _, s := range r.Stalls {
		peak, back = max(peak, s.JBPeak), max(back, s.JBBack)
	}
	t.Known = true
	t.Met = peak <= 400*time.Millisecond && back <= 2*time.Second
	t.Measured = fmt.Sprintf("at worst under 150 ms %s after, peak %s (%d calls)", secs(back), fms(peak),
		len(r.Stalls))
	var by []string
	if back > 2*time.Second {
		by = append(by, secs(back-2*time.Second)+" late")
	}
	if peak > 400*time.Millisecond {
		by = append(by, fms(peak-400*time.Millisecond)+" over 400 ms")
	}
	t.By = strings.Join(by, "; ")
	return t
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func (r *Results) writeStalls(f func(string, ...any)) {
	if len(r.Stalls) == 0 {
		return
	}
	f("## After a stall\n\n")
	f("A parley call of the defaults on the same rig; %.0f s into the chirps, one side is stopped for %s (SIGSTOP, "+
		"then SIGCONT), as a laptop whose process the scheduler holds up. A stopped sender sends the frames it "+
		"captured meanwhile at once when it resumes; a stopped receiver reads the packets queued in its socket at "+
		"once. Either way B's jitter buffer gets a burst: it plays it, does not take it for jitter (a lone delay "+
		"peak), and accelerates the excess away by cutting whole pitch periods. \"Jitter buffer\" is B's "+
		"`jitter_buffer_ms` (stats events, once a second; \"under 150 ms\" is from the first event of those that "+
		"stayed under); \"mouth-to-ear\" the chirps' delays, before the stall (median) and after it. A stall "+
		"that comes back within 10 s to a similar height, as on a saturated machine whose scheduler holds parley "+
		"up again and again, puts the buffer in peak mode (NetEQ's): it keeps the delay that absorbs such stalls "+
		"for 10 s after the last, rather than concealing each; on a busy machine a call can miss the target "+
		"that way, and its jitter buffer before the stall is already above 20 ms. Mouth-to-ear can settle higher "+
		"than before the stall where peak mode keeps a smaller hiccup's delay, or B's speaker queue grew at the "+
		"underrun of a stopped receiver (it shrinks after a calm minute).\n\n",
		Stalls[0].After.Seconds(), fms(Stalls[0].For))
	f("| stopped | jitter buffer before | peak | under 150 ms | mouth-to-ear before | peak | back within %s |\n",
		fms(stallBack))
	f("|---|---|---|---|---|---|---|\n")
	for _, s := range r.Stalls {
		f("| %s for %s | %s | %s | %s after | %s | %s | %s after |\n", map[string]string{"A": "sender (A)",
			"B": "receiver (B)"}[s.Stall.Side], fms(s.Stall.For), fms(s.JBBefore), fms(s.JBPeak), secs(s.JBBack),
			fms(s.Before), fms(s.Peak), secs(s.Back))
	}
	f("\nThe delay over time, from the stall's end (chirps' mouth-to-ear; B's jitter buffer):\n\n")
	for _, s := range r.Stalls {
		var cs, js []string
		for _, c := range s.Chirps {
			cs = append(cs, fmt.Sprintf("%+.1f s %s", c.At.Seconds(), fms(c.Delay)))
		}
		for _, j := range s.JB {
			js = append(js, fmt.Sprintf("%+.1f s %s", j.At.Seconds(), fms(j.Delay)))
		}
		f("- %s stopped: %s; jitter buffer %s\n", s.Stall.Side, strings.Join(cs, ", "), strings.Join(js, ", "))
	}
	f("\n")
}
