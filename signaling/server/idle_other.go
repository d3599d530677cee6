//go:build !unix

package server

// idle returns at once: the reader waits in the WebSocket's read.
func (c *conn) idle() error { return nil }
