package cli

import (
	"strings"
	"testing"
	"time"
)

// TestRoomUsage: what is wrong with a room command line is said (exit 2,
// with the 80101 message for a room name) before signing in: the server is
// down, and no token is needed to be told. A good command line then gets
// as far as the server (exit 7).
func TestRoomUsage(t *testing.T) {
	down := closedAddr(t)
	badName := `parley: invalid_parameter (80101): room name "Stand Up" is not valid: use 1 to 64 lower-case ` +
		`letters, digits and - _ ., starting with a letter or digit (for example standup or team-sync)`
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // its first line
	}{
		{[]string{"join", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "create", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "show", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"room", "end", "Stand Up", "--server", down}, exitUsage, badName},
		{[]string{"join"}, exitUsage, "parley: accepts 1 arg(s), received 0"},
		{[]string{"join", "standup", "--for", "-1s", "--server", down}, exitUsage,
			"parley: --for -1s: use a positive duration"},
		{[]string{"join", "standup", "--server", down, "--in", "tone:abc", "--out", "null"}, exitUsage,
			`parley: --in: audio: bad spec: source "tone:abc": tone:HZ needs a frequency between 0 and 24000 Hz`},
		{[]string{"room", "create", "standup", "--at", "noon", "--server", down}, exitUsage,
			`parley: --at "noon": use 15:04, 2006-01-02 15:04 or RFC 3339 (2006-01-02T15:04:05Z)`},
		{[]string{"room", "create", "standup", "--for", "-5m", "--server", down}, exitUsage,
			"parley: --for -5m0s: use a positive duration, such as 45m"},
		{[]string{"room", "create", "standup", "--invite", "bob,..eve", "--server", down}, exitUsage,
			`parley: invalid_parameter (80101): --invite: user id "..eve" is not valid`},
		{[]string{"join", "standup", "--token", "t", "--server", down, "--in", "silence", "--out", "null"},
			exitNoServer, "parley: could not reach the server at " + down},
		{[]string{"room", "list", "--token", "t", "--server", down}, exitNoServer,
			"parley: could not reach the server at " + down},
		{[]string{"room", "create", "standup", "--for", "45m", "--token", "t", "--server", down}, exitNoServer,
			"parley: could not reach the server at " + down},
	} {
		out, errOut, code := run(t, tc.args...)
		first, _, _ := strings.Cut(errOut, "\n")
		if code != tc.code || !strings.HasPrefix(first, tc.stderr) || out != "" {
			t.Errorf("parley %s: exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout, stderr %q…",
				strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.stderr)
		}
	}
}

// TestParseAt: --at's forms, a bare time being the next one.
func TestParseAt(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, loc)
	for in, want := range map[string]time.Time{
		"15:30":                now.Add(90 * time.Minute),
		"13:00":                time.Date(2026, 12, 8, 13, 0, 0, 0, loc),
		"2026-12-09 09:15":     time.Date(2026, 12, 9, 9, 15, 0, 0, loc),
		"2026-12-09T09:15:00Z": time.Date(2026, 12, 9, 9, 15, 0, 0, time.UTC),
	} {
		got, err := parseAt(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseAt(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
