//go:build unix

package audio

import (
	"os"

	"golang.org/x/sys/unix"
)

// silenceStderr points file descriptor 2 at /dev/null until restore is
// called, and then back at what it was. PortAudio, ALSA and JACK print
// their probing chatter straight to fd 2 from C, where no Go logger can
// catch it (15 lines of JACK's on a machine without a JACK server, at each
// start of PortAudio). The parley command points fd 2 at its log file
// (internal/stderr), but this package imports nothing of parley's, is used
// by programs that do not (the benchmark harness, tests; parley with
// --log -), and the chatter is noise in a log too: it silences its own.
func silenceStderr() (restore func(), err error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = null.Close() }() // descriptor 2 is a copy of it
	saved, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Dup2(int(null.Fd()), 2); err != nil {
		_ = unix.Close(saved)
		return nil, err
	}
	return func() {
		// Nowhere to report a failure: stderr is what it would restore.
		_ = unix.Dup2(saved, 2)
		_ = unix.Close(saved)
	}, nil
}

// newWakePipe returns a non-blocking pipe: the read end as a pollable
// *os.File (so a blocked Read parks a goroutine, not a thread, and honours
// deadlines), the write end as a raw descriptor for the C callback.
func newWakePipe() (r *os.File, w int, err error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, -1, err
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			_ = unix.Close(p[0])
			_ = unix.Close(p[1])
			return nil, -1, err
		}
	}
	return os.NewFile(uintptr(p[0]), "audio-wake"), p[1], nil
}

func closeFD(fd int) error { return unix.Close(fd) }
