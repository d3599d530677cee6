package signaling

import (
	"strings"
	"testing"
)

// TestMissedNotice: the sign-in line counts every unseen missed call and
// names the callers by display name, most recent first, with their count
// when more than one; nothing when none is unseen.
func TestMissedNotice(t *testing.T) {
	missed := func(from, name string) CallRecord { return CallRecord{From: from, FromName: name, To: "me"} }
	for _, tc := range []struct {
		h    History
		want string
	}{
		{History{}, ""},
		{History{Unseen: 1, Calls: []CallRecord{missed("bob", "")}}, "1 missed call while you were away: bob"},
		{History{Unseen: 3, Calls: []CallRecord{missed("alice", "Alice"), missed("bob", "Bob"),
			missed("alice", "Alice")}}, "3 missed calls while you were away: Alice (2), Bob"},
	} {
		if got := MissedNotice(tc.h); got != tc.want {
			t.Errorf("MissedNotice(%d calls, %d unseen) = %q, want %q", len(tc.h.Calls), tc.h.Unseen, got, tc.want)
		}
	}
}

// TestNoticesPrintable: a sender's display name with an escape sequence
// reaches the sign-in notices made harmless, in each of them.
func TestNoticesPrintable(t *testing.T) {
	const evil = "Eve\x1b]0;pwned\a"
	for _, got := range []string{
		MissedNotice(History{Unseen: 1, Calls: []CallRecord{{From: "eve", FromName: evil}}}),
		VoiceMessageNotice(VoiceMessages{Unheard: 1, Messages: []VoiceMessage{{From: "eve", FromName: evil}}}),
	} {
		if strings.ContainsAny(got, "\x1b\a") || !strings.Contains(got, `Eve\x1b]0;pwned\a`) {
			t.Errorf("notice %q; want the name shown as Eve\\x1b]0;pwned\\a", got)
		}
	}
}
