//go:build !client

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDataAsJSON: every command that shows data takes --json and prints
// one JSON object (an empty list as [], not null), with the exit status it
// has without --json: status of an offline user is still 1.
func TestDataAsJSON(t *testing.T) {
	const key = "test-api-key-0123456789"
	srv := startServe(t, map[string]string{"PARLEY_API_KEY": key},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "off")
	addr := strings.TrimPrefix(srv.line(), "parley server listening on ")
	env := map[string]string{"PARLEY_SERVER": addr, "PARLEY_API_KEY": key}
	token := func(user string) string {
		out, errOut, code := runWith(t, env, "token", user)
		if code != exitOK {
			t.Fatalf("parley token %s: exit %d: %s", user, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	token("bob")
	env["PARLEY_TOKEN"] = token("alice")

	for _, tc := range []struct {
		args []string
		code int
		want string // the JSON, with times left out
	}{
		{[]string{"status", "bob", "--json"}, exitOffline,
			`{"user":"bob","role":"member","state":"offline","online":false}`},
		{[]string{"contacts", "--json"}, exitOK, `{"contacts":[]}`},
		{[]string{"contacts", "add", "bob"}, exitOK, ""},
		{[]string{"contacts", "list", "--json"}, exitOK,
			`{"contacts":[{"user":"bob","role":"member","state":"offline","online":false}]}`},
		{[]string{"presence", "away", "--json"}, exitOK, // alice has no session: offline
			`{"user":"alice","role":"member","state":"offline","online":false}`},
		{[]string{"admin", "users", "--json"}, exitOK, `{"users":[` +
			`{"user":"alice","role":"member","state":"offline","online":false,"team":"default","devices":0},` +
			`{"user":"bob","role":"member","state":"offline","online":false,"team":"default","devices":0}]}`},
		{[]string{"admin", "devices", "bob", "--json"}, exitOK, `{"devices":[]}`},
		{[]string{"admin", "webhook", "list", "--json"}, exitOK, `{"webhooks":[]}`},
	} {
		out, errOut, code := runWith(t, env, tc.args...)
		got := withoutTimes(t, out)
		if code != tc.code || errOut != "" || tc.want != "" && got != withoutTimes(t, tc.want) {
			t.Errorf("parley %s: exit %d, stderr %q, stdout\n%s\nwant %d and\n%s", strings.Join(tc.args, " "), code,
				errOut, got, tc.code, tc.want)
		}
	}
}

// withoutTimes is the one JSON line out with the fields that hold times
// (created, last_seen, …) left out, compact, its keys in order; out as it
// is when not JSON.
func withoutTimes(t *testing.T, out string) string {
	t.Helper()
	var v any
	if json.Unmarshal([]byte(out), &v) != nil {
		return out
	}
	var strip func(v any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range []string{"created", "last_seen", "last_used", "revoked"} {
				delete(v, k)
			}
			for _, x := range v {
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	b, _ := json.Marshal(v)
	return string(b)
}
