package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// unreadFakeTexts is fakeTexts with texts unread, as the server lists
// them.
type unreadFakeTexts struct {
	*fakeTexts
	list signaling.Texts
}

func (f unreadFakeTexts) Texts(context.Context, signaling.TextsQuery) (signaling.Texts, error) {
	return f.list, nil
}

// oscPayload returns the text of the one OSC 9 notification seq is, and
// fails the test when seq is anything else: another sequence, or an ESC,
// BEL or ST (7- or 8-bit) inside the text that would end it early.
func oscPayload(t *testing.T, seq string) string {
	t.Helper()
	if !strings.HasPrefix(seq, "\x1b]9;") || !strings.HasSuffix(seq, "\a") {
		t.Fatalf("notification %q: not one OSC 9 ; text BEL", seq)
	}
	body := seq[len("\x1b]9;") : len(seq)-1]
	if i := strings.IndexAny(body, "\x1b\a\u009c\u009d"); i >= 0 {
		t.Fatalf("notification %q: a control inside its text, at %d", seq, i)
	}
	return body
}

// TestNotificationSequence: OSC 9 and VTE's OSC 777, each wrapped for
// tmux with its ESCs doubled; a name that holds an escape sequence, BEL
// and ST stays inside the payload, made visible.
func TestNotificationSequence(t *testing.T) {
	const hostile = "Eve\x1b]9;pwned\a\x1b\\\u009c; x"
	for _, tc := range []struct {
		n    Notifications
		body string
		want string
	}{
		{Notifications{}, "Incoming call from Bob (bob)", "\x1b]9;Incoming call from Bob (bob)\a"},
		{Notifications{OSC777: true}, "Text from bob: a; b", "\x1b]777;notify;parley;Text from bob: a, b\a"},
		{Notifications{Tmux: true}, "Missed call from bob", "\x1bPtmux;\x1b\x1b]9;Missed call from bob\a\x1b\\"},
		{Notifications{Tmux: true, OSC777: true}, "hi", "\x1bPtmux;\x1b\x1b]777;notify;parley;hi\a\x1b\\"},
		{Notifications{}, "Text from " + hostile, "\x1b]9;Text from Eve\\x1b]9;pwned\\a\\x1b\\\\u009c; x\a"},
		{Notifications{Tmux: true}, hostile,
			"\x1bPtmux;\x1b\x1b]9;Eve\\x1b]9;pwned\\a\\x1b\\\\u009c; x\a\x1b\\"},
	} {
		if got := tc.n.Sequence(tc.body); got != tc.want {
			t.Errorf("%+v.Sequence(%q) = %q, want %q", tc.n, tc.body, got, tc.want)
		}
	}
	if got := oscPayload(t, Notifications{}.Sequence(hostile)); got != signaling.Printable(hostile) {
		t.Errorf("payload %q, want %q", got, signaling.Printable(hostile))
	}
	long := strings.Repeat("x", 300)
	if got := oscPayload(t, Notifications{}.Sequence(long)); len([]rune(got)) != maxNotifyWidth {
		t.Errorf("a 300-character text is notified with %d characters, want %d", len([]rune(got)), maxNotifyWidth)
	}
}

// TestFlowNotifications: in a running program, what waited at sign-in
// (one write, a notification a line), a call coming in, the same call
// missed, a text from someone whose conversation is not in view (a
// hostile name stays inside the payload; one from the conversation in
// view is not notified), a voice message left, and a waiting call each
// write one OSC 9 notification, in order. The voice messages not heard
// yet are a sign-in write of their own (read by their own command).
func TestFlowNotifications(t *testing.T) {
	notes := make(bellWriter, 16)
	fh := newFakeHistory(signaling.History{Unseen: 1, Calls: []signaling.CallRecord{
		missedFrom("gina", "Gina", t0.Add(-time.Minute))}})
	ft := unreadFakeTexts{fakeTexts: &fakeTexts{}, list: signaling.Texts{
		Texts:  []signaling.Text{{Seq: 4, From: "hal", FromName: "Hal", To: "alice", Text: "ping"}},
		Unread: map[string]int{"hal": 2}}}
	fv := fakeVoice{box: signaling.VoiceMessages{Unheard: 1, Messages: []signaling.VoiceMessage{{ID: "v1",
		From: "ivy", FromName: "Ivy", To: "alice", Created: t0.Add(-time.Minute), DurationMS: 12300}}}}
	f := startFlowWith(t, "", func(o *Options) {
		o.History, o.Texts, o.Voice, o.Notifications = fh, ft, fv, Notifications{Out: notes}
	})
	next := func(what string) string {
		t.Helper()
		select {
		case s := <-notes:
			return s
		case <-time.After(wait):
			t.Fatalf("no notification of %s", what)
		}
		return ""
	}
	signIn := map[string]bool{next("sign-in"): true, next("sign-in's voice messages"): true}
	for _, want := range []string{"\x1b]9;1 missed call while you were away: Gina\a\x1b]9;2 unread texts: Hal (2)\a",
		"\x1b]9;1 voice message not heard yet: Ivy\a"} {
		if !signIn[want] {
			t.Errorf("sign-in notifications %v, want %q among them", signIn, want)
		}
	}
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin", "gina")
	f.connect()

	f.phone.push(statusEvent("c2", signaling.Ringing, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from carol")
	if got := oscPayload(t, next("the incoming call")); got != "Incoming call from carol" {
		t.Errorf("incoming call notified as %q", got)
	}
	f.phone.push(statusEvent("c2", signaling.Unanswered, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("Missed call from carol")
	if got := oscPayload(t, next("the missed call")); got != "Missed call from carol" {
		t.Errorf("missed call notified as %q", got)
	}

	f.press("t") // bob's conversation, in view: his text is not notified, dave's is
	f.waitFor("Texts with bob")
	f.phone.push(
		call.TextReceived{Text: signaling.Text{Seq: 8, From: "bob", To: "alice", Text: "seen here", Sent: t0}},
		call.TextReceived{Text: signaling.Text{Seq: 9, From: "dave", FromName: "Dave" + hostileTitle, To: "alice",
			Text: "hi\x1b\\\a", Sent: t0}})
	f.waitFor("seen here")
	if got, want := oscPayload(t, next("dave's text")), `Text from Dave\x1b]0;pwned\a (dave): hi\x1b\\a`; got != want {
		t.Errorf("dave's text notified as %q, want %q", got, want)
	}

	f.press("esc")
	f.phone.push(call.VoiceMessage{VoiceMessage: signaling.VoiceMessage{ID: "v2", From: "ivy", FromName: "Ivy",
		To: "alice", Created: t0, DurationMS: 4000}})
	f.waitFor("Voice message from Ivy (ivy) (00:04)")
	if got := oscPayload(t, next("the voice message")); got != "Voice message from Ivy (ivy) (00:04)" {
		t.Errorf("voice message notified as %q", got)
	}
	f.phone.push(statusEvent("c3", signaling.Ringing, signaling.Inbound, "bob", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from bob")
	next("bob's call")
	f.press("a")
	f.phone.expectCalls(t, "Answer()")
	f.phone.push(statusEvent("c3", signaling.Answered, signaling.Inbound, "bob", "alice", f.clock.Now()))
	f.waitFor("In call with bob")
	waiting := statusEvent("c4", signaling.Ringing, signaling.Inbound, "erin", "alice", f.clock.Now())
	waiting.Waiting = true
	f.phone.push(waiting)
	f.waitFor("erin is calling")
	if got := oscPayload(t, next("the waiting call")); got != "Call waiting from erin" {
		t.Errorf("waiting call notified as %q", got)
	}
	select {
	case s := <-notes:
		t.Errorf("one notification too many: %q", s)
	default:
	}
}

// TestSignInNotice: as it starts, the UI says under its body the missed
// calls not seen yet and, on a line of its own, the unread texts, the
// senders by display name.
func TestSignInNotice(t *testing.T) {
	fh := newFakeHistory(signaling.History{Unseen: 1, Calls: []signaling.CallRecord{
		missedFrom("gina", "Gina", t0.Add(-time.Minute))}})
	ft := unreadFakeTexts{fakeTexts: &fakeTexts{}, list: signaling.Texts{
		Texts: []signaling.Text{{Seq: 4, From: "hal", FromName: "Hal", To: "alice", Text: "ping"},
			{Seq: 5, From: "alice", To: "ivy", ToName: "Ivy", Text: "pong"}},
		Unread: map[string]int{"hal": 2, "ivy": 1}}}
	f := startFlowWith(t, "", func(o *Options) { o.History, o.Texts = fh, ft })
	f.waitFor("1 missed call while you were away: Gina  ", "3 unread texts: Ivy, Hal (2)  ")
}
