//go:build unix

package stderr

import (
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Split keeps parley's own messages apart from what C libraries print. It
// returns a copy of file descriptor 2 for parley to write its messages to,
// and toLog, which points descriptor 2 itself at a log file. A crash still
// reaches the terminal: the runtime writes it to the copy. Where
// descriptor 2 cannot be copied, Split returns os.Stderr and a nil toLog.
// Call it once, at the start of the program.
func Split() (own *os.File, toLog func(log *os.File) error) {
	fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return os.Stderr, nil
	}
	own = os.NewFile(uintptr(fd), "/dev/stderr")
	// Fails only for a file that cannot be duplicated: crashes then go to
	// descriptor 2, as by default.
	_ = debug.SetCrashOutput(own, debug.CrashOptions{})
	return own, func(log *os.File) error { return unix.Dup2(int(log.Fd()), 2) }
}
