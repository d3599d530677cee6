//go:build !client

package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/spf13/cobra"
)

// The help of `parley` and of `parley call` is held to testdata/*.golden
// (regenerate with go test ./internal/cli -run TestHelp -update): commands
// in groups, flags wrapped, the exit statuses of the command at the end.
// The client build's serve and demo read otherwise: these tests are of the
// full build.

func TestHelpRoot(t *testing.T) {
	out, errOut, code := run(t, "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("parley --help: exit %d, stderr %q", code, errOut)
	}
	golden.RequireEqual(t, out)
}

func TestHelpCall(t *testing.T) {
	out, errOut, code := run(t, "call", "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("parley call --help: exit %d, stderr %q", code, errOut)
	}
	golden.RequireEqual(t, out)
}

// TestHelpEveryCommand: every command's help fits in helpWidth columns,
// and ends with the exit statuses of that command: the call statuses
// (3 rejected, 4 unanswered, 5 failed) only under the commands that make
// calls, the offline status only under status.
func TestHelpEveryCommand(t *testing.T) {
	var e env
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Name() == "help" || c.Name() == "completion" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "parley")), "--help")
		out, _, code := run(t, args...)
		if code != exitOK {
			t.Errorf("parley %s: exit %d", strings.Join(args, " "), code)
		}
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > helpWidth {
				t.Errorf("parley %s: a line of %d columns:\n%s", strings.Join(args, " "), n, l)
			}
		}
		_, table, found := strings.Cut(out, "\nExit status:\n")
		calls := c.Name() == "call" || c.Name() == "answer" || c.Name() == "demo"
		switch {
		case !c.Runnable() || c.Name() == "version":
			if found {
				t.Errorf("parley %s shows exit statuses, though it does nothing itself", strings.Join(args, " "))
			}
		case !found:
			t.Errorf("parley %s shows no exit statuses", strings.Join(args, " "))
		case strings.Contains(table, "rejected") != calls:
			t.Errorf("parley %s: the call statuses shown: %v, want %v:\n%s", strings.Join(args, " "),
				!calls, calls, table)
		case strings.Contains(table, "offline") != (c.Name() == "status"):
			t.Errorf("parley %s: the offline status:\n%s", strings.Join(args, " "), table)
		}
	}
	walk(e.rootCommand())
}

// TestVersion: `parley --version` and `parley version` print the same,
// from the build info: the module's version, the commit and its time when
// the build recorded them, and the Go that built it.
func TestVersion(t *testing.T) {
	flag, _, code1 := run(t, "--version")
	cmd, _, code2 := run(t, "version")
	if code1 != exitOK || code2 != exitOK || flag != cmd {
		t.Errorf("--version: exit %d\n%s\nversion: exit %d\n%s\nwant both 0 and the same", code1, flag, code2, cmd)
	}
	if !strings.HasPrefix(flag, "parley ") || !strings.Contains(flag, runtime.Version()) {
		t.Errorf("--version printed %q: want parley's version and %s", flag, runtime.Version())
	}
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/parley-voice/parley", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "-tags", Value: "client"},
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "36eea3f1c2d4e5f60718293a4b5c6d7e8f901234"},
			{Key: "vcs.time", Value: "2026-12-03T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "parley v1.2.0, the client build (without the server)\n" +
		"commit 36eea3f1c2d4e5f60718293a4b5c6d7e8f901234 (2026-12-03T10:00:00Z, with uncommitted changes)\n" +
		"go1.26.1 linux/arm64\n"
	if got := versionText(bi); got != want {
		t.Errorf("versionText:\n%s\nwant\n%s", got, want)
	}
	bi.Settings = nil
	bi.Main.Version = ""
	if got, want := versionText(bi), "parley (devel)\ngo1.26.1 "+runtime.GOOS+"/"+runtime.GOARCH+"\n"; got != want {
		t.Errorf("versionText without VCS information:\n%s\nwant\n%s", got, want)
	}
}

func TestHelpJoin(t *testing.T) {
	out, errOut, code := run(t, "join", "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("parley join --help: exit %d, stderr %q", code, errOut)
	}
	golden.RequireEqual(t, out)
}

func TestHelpRoom(t *testing.T) {
	out, errOut, code := run(t, "room", "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("parley room --help: exit %d, stderr %q", code, errOut)
	}
	golden.RequireEqual(t, out)
}
