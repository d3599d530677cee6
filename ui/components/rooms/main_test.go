package rooms

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// command the tests ran must have returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
