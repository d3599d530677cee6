package call

import (
	"slices"
	"sync"

	"github.com/parley-voice/parley/audio"
)

// micShare lets a room grown from a call read the call's microphone while
// both run, rather than open the microphone a second time: with two record
// streams created at once (both people's rooms joining), PulseAudio stalled
// every stream for 40 s in about one move in six. The call reads the device
// and passes each frame on (callMic); once the call lets go of it (its
// Close), the room reads the device itself (roomMic). The device is closed
// when both have let go.
type micShare struct {
	mic    audio.Source
	reads  sync.Mutex // held around each read of mic: never two at once
	frames chan []int16
	let    chan struct{} // closed when the call let go

	mu                 sync.Mutex
	callGone, roomGone bool
	roomClosed         chan struct{}
}

func newMicShare(mic audio.Source) *micShare {
	return &micShare{mic: mic, frames: make(chan []int16, 8), let: make(chan struct{}),
		roomClosed: make(chan struct{})}
}

// callMic is the call's side of a micShare.
type callMic struct{ s *micShare }

// roomMic is the room's side of a micShare.
type roomMic struct{ s *micShare }

func (c callMic) Device() string { return deviceName(c.s.mic) }
func (r roomMic) Device() string { return deviceName(r.s.mic) }

func (c callMic) Read(frame []int16) error {
	s := c.s
	select {
	case <-s.let: // closed: as a device's Read after its Close
		return audio.ErrClosed
	default:
	}
	s.reads.Lock()
	err := s.mic.Read(frame)
	s.reads.Unlock()
	if err == nil {
		select {
		case s.frames <- slices.Clone(frame):
		default: // the room is behind: it skips a frame
		}
	}
	return err
}

func (r roomMic) Read(frame []int16) error {
	s := r.s
	select {
	case f := <-s.frames:
		copy(frame, f)
		return nil
	case <-s.let:
	case <-s.roomClosed:
		return audio.ErrClosed
	}
	s.reads.Lock()
	defer s.reads.Unlock()
	return s.mic.Read(frame)
}

// Close lets go of the call's side; the device is closed if the room let
// go too.
func (c callMic) Close() error { return c.s.letGo(&c.s.callGone, c.s.let) }

// Close lets go of the room's side; the device is closed if the call let
// go too.
func (r roomMic) Close() error { return r.s.letGo(&r.s.roomGone, r.s.roomClosed) }

// letGo marks one side gone (gone, and closes its channel) once; the
// device is closed when both sides are.
func (s *micShare) letGo(gone *bool, done chan struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *gone {
		return nil
	}
	*gone = true
	close(done)
	if s.callGone && s.roomGone {
		return s.mic.Close()
	}
	return nil
}

// wraps tells whether s is the call's side of a share of old: the call
// hands it to its sender in place of old, which stays open.
func wraps(s, old audio.Source) bool {
	c, ok := s.(callMic)
	return ok && c.s.mic == old
}
