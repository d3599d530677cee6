package call_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// phone, call, media loop and in-process server must have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
