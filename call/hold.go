package call

// Holding an answered call: either side may, and while either does no audio
// flows either way (the sender writes no packets); the side held by the
// other hears a soft hold tone made here. The call stays answered: the
// server relays the hold (signaling.TypeHold) and keeps who holds in the
// call's record, told again on a resume.

import (
	"math"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// Held reports a hold change: Local is this side's own hold, otherwise the
// other participant's (By). Held is whether that side holds now.
type Held struct {
	CallID string
	Local  bool
	Held   bool
	By     string // the user who holds or resumed
}

func (Held) event() {}

// The hold tone: 425 Hz (the ringback's pitch), a 300 ms beep every 2 s,
// at -24 dBFS: soft under speech, yet plain on a quiet line.
const (
	holdToneHz     = 425
	holdToneOn     = 300 * time.Millisecond
	holdTonePeriod = 2 * time.Second
	holdToneLevel  = 0.063 // of full scale: -24 dBFS
	holdToneRampMs = 10    // fade in and out, so that the beep does not click
)

// holdToneCycle is one cycle of the hold tone: the beep, then silence.
func holdToneCycle() []int16 { return beepCycle(holdToneHz, 1, holdToneOn, holdTonePeriod) }

// beepCycle is a cycle of period: n beeps of hz, each on long and followed
// by as long a pause, then silence; at the hold tone's level, with its
// ramps.
func beepCycle(hz float64, n int, on, period time.Duration) []int16 {
	pcm := make([]int16, int(period*audio.SampleRate/time.Second))
	samples := int(on * audio.SampleRate / time.Second)
	ramp := holdToneRampMs * audio.SampleRate / 1000
	for b := range n {
		beep := pcm[2*b*samples:][:samples]
		for i := range beep {
			g := min(1, float64(i)/float64(ramp), float64(samples-i)/float64(ramp))
			beep[i] = int16(g * holdToneLevel * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(i)/audio.SampleRate))
		}
	}
	return pcm
}

// loopInto fills frame with sound from pos on, looping, and returns the
// position after it.
func loopInto(frame, sound []int16, pos int) int {
	for i := range frame {
		if pos >= len(sound) {
			pos = 0
		}
		frame[i] = sound[pos]
		pos++
	}
	return pos
}

// SetHeld holds the answered call, or resumes it; the other side is told.
// A call that is not answered (or no call) is refused with a Failure.
func (p *Phone) SetHeld(held bool) {
	p.post(func() {
		if err := p.setHeld(held); err != nil {
			p.fail("", err)
		}
	})
}

// setHeld holds or resumes the current call, or says why it cannot.
func (p *Phone) setHeld(held bool) error {
	a := p.cur
	switch {
	case p.room != nil:
		return signaling.Errorf(signaling.NoConnectedCall, "you are in room %s, which cannot be held: mute instead, "+
			"or leave it", p.room.name)
	case a == nil || a.media == nil:
		return signaling.Errorf(signaling.NoConnectedCall, "there is no call to hold")
	case a.ev.Status != signaling.Answered:
		return signaling.Errorf(signaling.NoConnectedCall, "the call is %s: hold works once it is answered "+
			"(and connected)", a.ev.Status)
	case p.sig == nil:
		return signaling.Errorf(signaling.NoConnectedSession, "not connected to the server: hold once it is back")
	}
	if a.held != held {
		a.held = held
		p.applyHold(a)
		p.send(signaling.Message{Type: signaling.TypeHold, Ref: holdRef, CallID: a.ev.ID, Held: &held})
	}
	p.emit(Held{CallID: a.ev.ID, Local: true, Held: held, By: p.sig.User})
	return nil
}

// peerHeld follows the other side's hold, told by the server (again after
// a resume: only a change is reported).
func (p *Phone) peerHeld(m signaling.Message) {
	a := p.cur
	if a == nil || m.CallID != a.ev.ID || m.Held == nil || *m.Held == a.remoteHeld {
		return
	}
	a.remoteHeld = *m.Held
	p.applyHold(a)
	p.emit(Held{CallID: a.ev.ID, Held: a.remoteHeld, By: m.User})
}

// applyHold sets the media to the call's holds: nothing flows while either
// side holds, and the tone plays when only the other side does. The
// media watch counts silence from the end of the hold (recover.go).
func (p *Phone) applyHold(a *active) {
	on := a.held || a.remoteHeld
	if a.media.held.Load() && !on {
		a.unheldAt = time.Now()
	}
	a.media.holdTone.Store(a.remoteHeld && !a.held)
	a.media.held.Store(on)
}
