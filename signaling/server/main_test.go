package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// connection, call, watcher and NATS server must have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
