//go:build e2e

package e2e

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEchoStopsOnSignal: `parley echo` says "interrupt to stop", and stops
// on an interrupt and on SIGTERM (as a systemd unit is stopped), with exit
// status 0, a call in progress or not; the caller's call then ends.
// parley ctl status reaches it, and lists its call.
// (Before, only SIGKILL ended it.)
func TestEchoStopsOnSignal(t *testing.T) {
	w := newWorld(t)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			echo := w.start([]string{"PARLEY_TOKEN=" + w.token("echo")}, "echo")
			if l := echo.line(t); l != "echo service running as echo; interrupt to stop" {
				t.Fatalf("parley echo printed %q", l)
			}
			var alice *proc
			if sig == syscall.SIGTERM { // with a call in progress
				alice = w.start([]string{"PARLEY_TOKEN=" + w.token("alice")},
					"call", "echo", "--in", "tone:440", "--out", "null", "--json")
				alice.expect(t, "connected", nil)
				alice.expect(t, "call", nil)
				alice.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
				alice.expect(t, "call_status_changed", map[string]any{"status": "answered"})
				// parley ctl reaches the echo too: its call with alice.
				out, code := w.run(nil, "ctl", "--pid", strconv.Itoa(echo.cmd.Process.Pid), "status")
				if code != exitOK || !strings.Contains(out, " inbound alice: answered") {
					t.Errorf("parley ctl status of the echo: exit %d, %q; want its call with alice, answered", code,
						out)
				}
			}
			if err := echo.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-echo.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("parley echo still runs 10 s after %v", sig)
			}
			if echo.code != exitOK {
				t.Errorf("parley echo exited %d after %v, want 0; stderr: %s", echo.code, sig, echo.stderr.String())
			}
			if alice != nil {
				alice.expect(t, "call_status_changed", map[string]any{"status": "completed"})
				if code := alice.wait(t); code != exitOK {
					t.Errorf("the caller exited %d, want 0", code)
				}
			}
		})
	}
}
