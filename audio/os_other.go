//go:build !unix

package audio

import (
	"errors"
	"os"
)

// silenceStderr is a no-op where file descriptors cannot be swapped.
func silenceStderr() (restore func(), err error) { return func() {}, nil }

func newWakePipe() (r *os.File, w int, err error) {
	return nil, -1, errors.New("audio devices are only supported on unix systems")
}

func closeFD(fd int) error { return nil }
