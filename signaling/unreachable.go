package signaling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

// UnreachableError is a server that could not be reached at all: nothing
// answered at its address (the connection was refused or timed out, the
// name does not resolve, there is no route), as opposed to a server that
// answered and refused. Commands tell it apart, to say so and to end with
// an exit status of its own.
type UnreachableError struct {
	Servers []string // the addresses tried, in order
	Err     error    // why the first of them could not be reached
}

func (e *UnreachableError) Error() string { return "signaling: " + e.Message() }

func (e *UnreachableError) Unwrap() error { return e.Err }

// Message says what happened and what to do, for people: "could not reach
// the server at http://127.0.0.1:7700 (connection refused): …".
func (e *UnreachableError) Message() string {
	what := "the server at " + strings.Join(e.Servers, ", ")
	if len(e.Servers) > 1 {
		what = "any of the servers at " + strings.Join(e.Servers, ", ")
	}
	return fmt.Sprintf("could not reach %s (%s): is it running, and is that its address? "+
		"Name another with --server URL (or PARLEY_SERVER)", what, Reason(e.Err))
}

// unreachable reports whether err, from connecting to a server, means that
// nothing answered there.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, context.Canceled): // given up on, not unreachable
		return false
	case errors.As(err, &dns):
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return true
	}
	return false
}

// Reason is why a connection failed, in a few words: "connection
// refused", "no such host voice.example.com", "no answer in time".
func Reason(err error) string {
	var dns *net.DNSError
	var errno syscall.Errno
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return strings.TrimSpace(dns.Err + " " + dns.Name)
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time"
	case errors.As(err, &op) && op.Err != nil:
		return op.Err.Error()
	}
	return err.Error()
}
