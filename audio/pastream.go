package audio

/*
#cgo pkg-config: portaudio-2.0 alsa
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include "pastream.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gordonklaus/portaudio"
)

// paStream is a callback stream opened by pastream.c. (The gordonklaus
// binding's own streams cannot be used: it hands PortAudio an integer id
// disguised as a pointer, which the race detector's pointer checks reject
// from the second stream on, and it calls into Go from the audio thread.)
//
// The Go side holds mu shared while calling into the C ring and exclusively
// while closing and freeing it, so a Read or Write racing Close never
// touches freed memory. Waiting happens outside mu, on the wake pipe.
type paStream struct {
	input bool
	wake  *os.File // read end of the wake pipe; closing it ends a wait
	wfd   int      // write end, used by the C callback

	mu sync.RWMutex
	c  *C.pstream // nil once closed
}

// openPAStream opens and starts a stream on device dev with channels device
// channels, a ring of capSamples mono samples and, for playback, the queue
// level (low) at which a waiting writer is woken. PortAudio calls must be
// serialised by the caller.
func openPAStream(dev int, input bool, channels int, latency time.Duration, period, capSamples, low int) (*paStream,
	error) {
	wake, wfd, err := newWakePipe()
	if err != nil {
		return nil, err
	}
	in := C.int(0)
	if input {
		in = 1
	}
	c := C.ps_new(in, C.int(channels), C.size_t(capSamples), C.size_t(low), C.int(wfd))
	if c == nil {
		_ = wake.Close()
		_ = closeFD(wfd)
		return nil, errors.New("out of memory")
	}
	if code := C.ps_open(c, C.PaDeviceIndex(dev), C.double(latency.Seconds()),
		C.ulong(period)); code != C.paNoError {
		err := paError(code)
		C.ps_free(c)
		_ = wake.Close()
		_ = closeFD(wfd)
		return nil, err
	}
	return &paStream{input: input, wake: wake, wfd: wfd, c: c}, nil
}

// paError converts a PortAudio error code to the binding's error types, so
// that errors.Is works with portaudio.InvalidChannelCount and the like.
func paError(code C.PaError) error {
	if code == C.paUnanticipatedHostError {
		info := C.Pa_GetLastHostErrorInfo()
		e := portaudio.UnanticipatedHostError{
			HostApiType: portaudio.HostApiType(info.hostApiType),
			Code:        int(info.errorCode),
			Text:        C.GoString(info.errorText),
		}
		if e.Text == "" { // ALSA's codes are negative errnos
			e.Text = fmt.Sprintf("host error %d", e.Code)
			if e.Code < 0 {
				e.Text = syscall.Errno(-e.Code).Error()
			}
		}
		return e
	}
	return portaudio.Error(code)
}

// take fills dst if enough audio is captured and reports whether it did.
// More than backlog queued samples are trimmed to the newest first.
func (s *paStream) take(dst []int16, backlog int) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return false, ErrClosed
	}
	n := C.ps_take(s.c, (*C.int16_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)), C.size_t(backlog))
	return n > 0, nil
}

// put queues as much of src as fits and returns how much.
func (s *paStream) put(src []int16) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0, ErrClosed
	}
	return int(C.ps_put(s.c, (*C.int16_t)(unsafe.Pointer(&src[0])), C.size_t(len(src)))), nil
}

// drained reports whether the playback queue is at or below its low
// level; if not, the next wait returns when it is.
func (s *paStream) drained() (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return false, ErrClosed
	}
	return C.ps_drained(s.c) != 0, nil
}

// errStopped is what wait returns when the stream's callback has stopped
// for good: the host gave up on the device (with PulseAudio, its sink or
// source went away and no other could take the stream).
var errStopped = fmt.Errorf("the device stopped: %w", ErrStalled)

// stopCheck is how often a waiter checks that the stream still runs.
const stopCheck = 250 * time.Millisecond

// wait blocks until the callback wakes us, the stream is closed
// (ErrClosed), the stream stopped (errStopped, found within stopCheck) or
// timeout passes (ErrStalled).
func (s *paStream) wait(timeout time.Duration, buf []byte) error {
	deadline := time.Now().Add(timeout)
	for {
		step := min(time.Until(deadline), stopCheck)
		if step <= 0 {
			return ErrStalled
		}
		if err := s.wake.SetReadDeadline(time.Now().Add(step)); err != nil {
			return ErrClosed
		}
		_, err := s.wake.Read(buf)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return ErrClosed
		case !s.active():
			return errStopped
		}
	}
}

// active reports whether the stream's callback still runs (a closed
// stream counts as active: its user learns of the close otherwise).
func (s *paStream) active() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.c == nil || C.ps_active(s.c) != 0
}

func (s *paStream) latency() time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0
	}
	return time.Duration(float64(C.ps_latency(s.c)) * float64(time.Second))
}

// setLow sets the playback queue level at which a waiting writer is woken.
func (s *paStream) setLow(low int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c != nil {
		C.ps_set_low(s.c, C.size_t(low))
	}
}

// quietALSA routes ALSA's error messages nowhere; they would otherwise be
// printed on stderr while streams run, outside any quiet section.
func quietALSA() { C.ps_quiet_alsa() }

// skipConverters keeps PortAudio from probing ALSA's converter PCMs (see
// ps_skip_converters) and returns how many it skipped. Call it before
// PortAudio starts, each time: PortAudio frees ALSA's configuration when it
// terminates, and the next start reads it again from the files.
func skipConverters() (int, error) {
	n := C.ps_skip_converters()
	if n < 0 {
		return 0, fmt.Errorf("read ALSA's configuration: %w", syscall.Errno(-n))
	}
	return int(n), nil
}

// counters returns the capture overruns (samples) and playback underruns
// (callbacks) so far.
func (s *paStream) counters() (overruns, underruns uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0, 0
	}
	return uint64(C.ps_overruns(s.c)), uint64(C.ps_underruns(s.c))
}

// callbacks counts PortAudio's callbacks so far: the device's wake-ups.
func (s *paStream) callbacks() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0
	}
	return uint64(C.ps_callbacks(s.c))
}

// gaps counts the samples lost to the stream's timeline: captured audio
// dropped or skipped, or silence played because nothing was queued.
func (s *paStream) gaps() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0
	}
	return uint64(C.ps_gaps(s.c))
}

// shift is how many samples later than the stream's own count its audio
// now passes the device, after xruns below PortAudio (see track in
// pastream.c), and xruns how many PortAudio reported.
func (s *paStream) shift() (shift int64, xruns uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.c == nil {
		return 0, 0
	}
	return int64(C.ps_shift(s.c)), uint64(C.ps_xruns(s.c))
}

// simulateShift runs a stream's callback, not open, once for each of times
// (device times, seconds) with its flags and frames samples, and returns
// the shift it measured. For tests of the lag tracking.
func simulateShift(input bool, times []float64, flags []uint64, frames int) int64 {
	if len(times) == 0 || len(flags) != len(times) {
		return 0
	}
	in := C.int(0)
	if input {
		in = 1
	}
	ct := make([]C.double, len(times))
	cf := make([]C.ulong, len(flags))
	for i := range times {
		ct[i], cf[i] = C.double(times[i]), C.ulong(flags[i])
	}
	return int64(C.ps_simulate(in, &ct[0], &cf[0], C.int(len(times)), C.ulong(frames)))
}

// realtime reports whether the stream's threads run with real-time
// priority.
func (s *paStream) realtime() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.c != nil && s.c.realtime != 0
}

// close stops the stream, wakes any waiter and frees the ring. PortAudio
// calls must be serialised by the caller.
func (s *paStream) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	var err error
	if code := C.ps_close(s.c); code != C.paNoError {
		err = fmt.Errorf("close stream: %w", paError(code))
	}
	C.ps_free(s.c)
	s.c = nil
	return errors.Join(err, s.wake.Close(), closeFD(s.wfd))
}

// pulsePCM is the name of the ALSA PCM, and so of the PortAudio device,
// through which the sound server's sinks and sources are opened (see
// ps_pulse_pcm).
const pulsePCM = C.PS_PULSE_PCM

// pointPulsePCM points pulsePCM at the sound server's sink or source
// device ("": its default), defining it if needed, and reports whether it
// is defined: ALSA's PulseAudio plugin is installed. Call it before
// PortAudio starts, so that PortAudio lists pulsePCM, and before opening
// pulsePCM, so that the stream connects to device.
func pointPulsePCM(device string) (bool, error) {
	cs := C.CString(device)
	defer C.free(unsafe.Pointer(cs))
	n := C.ps_pulse_pcm(cs)
	if n < 0 {
		return false, fmt.Errorf("edit ALSA's configuration: %w", syscall.Errno(-n))
	}
	return n == 1, nil
}
