//go:build !unix

package stderr

import "os"

// Split leaves stderr as it is where descriptors cannot be moved: toLog is
// nil.
func Split() (own *os.File, toLog func(log *os.File) error) { return os.Stderr, nil }
