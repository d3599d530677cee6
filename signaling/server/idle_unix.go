//go:build unix

package server

import (
	"fmt"
	"syscall"
)

// idle waits until the client has sent something. The reader waits here
// rather than in the WebSocket's read, whose calls run 19 deep: an idle
// connection's goroutine then keeps a stack of 2 to 4 KB, not 8.
func (c *conn) idle() error {
	h := c.sock
	if h.raw == nil || h.br == nil {
		return nil
	}
	h.mu.Lock()
	buffered := h.br.Buffered()
	h.mu.Unlock()
	if buffered > 0 {
		return nil
	}
	err := h.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN // something to read, the end, or an error: the read tells
	})
	if err != nil {
		return fmt.Errorf("server: read: %w", err)
	}
	return nil
}
