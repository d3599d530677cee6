package audio_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// stream, device watcher and level meter must have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
