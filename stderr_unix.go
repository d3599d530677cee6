//go:build unix

package main

import (
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// splitStderr keeps parley's own messages apart from what C libraries
// print. It returns a copy of file descriptor 2 for parley to write its
// errors to, and a function that points descriptor 2 itself at the log
// file: speexdsp's warnings ("the echo canceller started acting funny"),
// and whatever ALSA, JACK or PulseAudio print while a call runs, then land
// in the log instead of over the UI or among a command's output. A crash
// still reaches the terminal.
func splitStderr() (*os.File, func(*os.File) error) {
	fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return os.Stderr, nil
	}
	stderr := os.NewFile(uintptr(fd), "/dev/stderr")
	debug.SetCrashOutput(stderr, debug.CrashOptions{})
	return stderr, func(log *os.File) error { return unix.Dup2(int(log.Fd()), 2) }
}
