//go:build !unix

package main

import "os"

// splitStderr leaves stderr as it is where descriptors cannot be moved.
func splitStderr() (*os.File, func(*os.File) error) { return os.Stderr, nil }
