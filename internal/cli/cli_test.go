package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// run runs a command line in process, with an environment of its own (a
// config file that does not exist, a state directory in dir).
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"PARLEY_CONFIG":  filepath.Join(dir, "config.json"),
		"XDG_STATE_HOME": filepath.Join(dir, "state"),
	}
	var out, errOut bytes.Buffer
	code = Main(t.Context(), args, &out, &errOut, func(k string) string { return env[k] }, nil)
	return out.String(), errOut.String(), code
}

// TestExitStatuses: the statuses of what is refused before any server is
// asked: usage errors are 2 with a hint, a setting that cannot be used is
// 1 (no code) or 6 (coded), said on stderr with nothing on stdout.
func TestExitStatuses(t *testing.T) {
	missingCA := filepath.Join(t.TempDir(), "ca.pem")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // its first line
	}{
		{[]string{"call"}, exitUsage, "parley: accepts 1 arg(s), received 0"},
		{[]string{"status", "--no-such-flag", "bob"}, exitUsage, "parley: unknown flag: --no-such-flag"},
		{[]string{"presence", "busy"}, exitUsage, `parley: presence "busy": use online, away or dnd`},
		{[]string{"call", "bob", "--aec", "maybe"}, exitUsage,
			`parley: invalid argument "maybe" for "--aec" flag: "maybe": use on or off`},
		{[]string{"status", "bob", "--ca", missingCA}, exitOffline,
			"parley: --ca: open " + missingCA + ": no such file or directory"},
		{[]string{"token", "bob"}, exitError, "parley: invalid_parameter (80101): no API key: pass --api-key KEY " +
			"or set PARLEY_API_KEY (the key 'parley serve' printed on its first start)"},
		{[]string{"call", "bob", "--token", "t", "--in", "silence", "--out", "null", "--ice-server", "turn:"}, exitError,
			`parley: invalid_parameter (80101): ICE server "turn:": `},
	} {
		out, errOut, code := run(t, tc.args...)
		first, _, _ := strings.Cut(errOut, "\n")
		if code != tc.code || !strings.HasPrefix(first, tc.stderr) || out != "" {
			t.Errorf("parley %s: exit %d, stdout %q, stderr\n%s\nwant %d, nothing, and a line that starts with\n%s",
				strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.stderr)
		}
	}
}
