package logfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-voice/parley/internal/logfile"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestCapped: a write that would take the log past its cap begins a new
// file, the old one kept as NAME.1 (the one before it dropped), so that at
// most twice the cap is kept; each new file is handed to onOpen (parley
// points file descriptor 2 at it).
func TestCapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "parley.log")
	var opened []string
	onOpen := func(f *os.File) error {
		opened = append(opened, f.Name())
		return nil
	}
	l, err := logfile.Open(path, 100, onOpen)
	if err != nil {
		t.Fatal(err)
	}
	line := func(c string) string { return strings.Repeat(c, 59) + "\n" } // 60 bytes
	for _, s := range []string{line("a"), line("b"), line("c")} {
		if _, err := l.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), line("c"); got != want {
		t.Errorf("the log holds %q, want %q", got, want)
	}
	if got, want := read(t, path+".1"), line("b"); got != want {
		t.Errorf("the old log holds %q, want %q", got, want)
	}
	if len(opened) != 3 || opened[0] != path || opened[2] != path {
		t.Errorf("onOpen was given %q; want %s three times", opened, path)
	}

	// A log at its cap already is moved aside when it is opened.
	if err := os.WriteFile(path, []byte(strings.Repeat("d", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = logfile.Open(path, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("e\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got, old := read(t, path), read(t, path+".1"); got != "e\n" || old != strings.Repeat("d", 100) {
		t.Errorf("after opening a full log: %q and %q.1; want e and the full one", got, old)
	}
	if _, err := l.Write([]byte("f")); err == nil {
		t.Error("a write after Close succeeded")
	}
}
