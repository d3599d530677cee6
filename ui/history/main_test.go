package history

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// write of the history must have returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
