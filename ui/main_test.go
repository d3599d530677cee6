package ui

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// program the tests ran, and every command they started, must have
// returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// teatest.NewTestModel waits for a SIGINT to kill its program, and
		// stops waiting only when one comes.
		goleak.IgnoreTopFunction("github.com/charmbracelet/x/exp/teatest.NewTestModel.func2"),
	)
}
