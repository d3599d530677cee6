//go:build unix

package stderr_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/parley-voice/parley/internal/stderr"
)

// TestMain runs the test binary as a program that splits its stderr when
// STDERR_TEST_LOG names a log file: it writes one line of its own, points
// descriptor 2 at the log, writes to descriptor 2 as a C library would,
// another line of its own, and then crashes.
func TestMain(m *testing.M) {
	path := os.Getenv("STDERR_TEST_LOG")
	if path == "" {
		os.Exit(m.Run())
	}
	own, toLog := stderr.Split()
	_, _ = own.WriteString("parley: before the log\n") // the parent checks what arrived
	log, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		panic(err)
	}
	if err := toLog(log); err != nil {
		panic(err)
	}
	_, _ = syscall.Write(2, []byte("ALSA lib pcm.c: a library's chatter\n"))
	_, _ = own.WriteString("parley: after the log\n")
	panic("a crash")
}

// TestSplit: parley's messages and a crash reach the original stderr; what
// is written to descriptor 2 once it points at the log lands in the log,
// and not on the original stderr.
func TestSplit(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "parley.log")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "STDERR_TEST_LOG="+logPath)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err == nil {
		t.Fatalf("the program did not crash; stderr: %s", errOut.String())
	}
	got := errOut.String()
	for _, want := range []string{"parley: before the log\n", "parley: after the log\n", "panic: a crash"} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ALSA") {
		t.Errorf("the library's line reached stderr:\n%s", got)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The runtime writes a crash to descriptor 2 as well as to the copy.
	if want := "ALSA lib pcm.c: a library's chatter\npanic: a crash"; !strings.HasPrefix(string(log), want) ||
		strings.Contains(string(log), "parley:") {
		t.Errorf("the log holds %q; want it to start with %q, and none of parley's lines", log, want)
	}
}
