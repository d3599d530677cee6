package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// fakeTexts is the server's texts as the tests need them: it records what
// is sent and read.
type fakeTexts struct {
	mu   sync.Mutex
	sent []signaling.SendText
	read []string
}

func (f *fakeTexts) Texts(context.Context, signaling.TextsQuery) (signaling.Texts, error) {
	return signaling.Texts{}, nil
}

func (f *fakeTexts) SendText(_ context.Context, to, text string) (signaling.Text, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, signaling.SendText{To: to, Text: text})
	return signaling.Text{Seq: 100, From: "alice", To: to, Text: text, Sent: t0}, nil
}

func (f *fakeTexts) ReadTexts(_ context.Context, with string, _ uint64) (signaling.TextMark, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, with)
	return signaling.TextMark{With: with}, nil
}

// hostileTextMsg moves the cursor, clears the screen and retitles the
// window; shownTextMsg is how the UI shows it.
const (
	hostileTextMsg = "\x1b]0;pwned\x07\x1b[2J\x1b[10;10Hgotcha\u009b2J\u202e"
	shownTextMsg   = `\x1b]0;pwned\a\x1b[2J\x1b[10;10Hgotcha\u009b2J\u202e`
)

// bobsTexts is the conversation with Bob: a hello, Bob's hostile text, a
// reply.
func bobsTexts() signaling.Texts {
	return signaling.Texts{Texts: []signaling.Text{
		{Seq: 1, From: "bob", FromName: "Bob" + hostileTitle, To: "alice", Text: "hello", Sent: t0.Add(-time.Hour)},
		{Seq: 2, From: "bob", FromName: "Bob" + hostileTitle, To: "alice", Text: hostileTextMsg,
			Sent: t0.Add(-50 * time.Minute)},
		{Seq: 3, From: "alice", To: "bob", Text: "what was that?", Sent: t0.Add(-40 * time.Minute)},
	}, Unread: map[string]int{"bob": 2}}
}

// unreadMsgs bring the home screen up with two texts from Bob unread.
func unreadMsgs() []tea.Msg {
	return concat(startMsgs(), msgs(textsLoadedMsg{texts: signaling.Texts{Unread: map[string]int{"bob": 2}}}))
}

// textScreens are the golden scenarios of texts.
func textScreens() []scenario {
	open := msgs(press("t"), textsLoadedMsg{with: "bob", texts: bobsTexts()})
	return []scenario{
		{"texts_unread", unreadMsgs()},
		{"texts_conversation", concat(unreadMsgs(), open, typeText("on my way"))},
		{"texts_in_call", concat(startMsgs(), inCall(), open)},
	}
}

// TestTextsShownEscaped: a text that would move the cursor, clear the
// screen and retitle the window, and a sender's name with an escape, are
// shown as visible escapes in the conversation, and nothing that a
// terminal acts on reaches the view, at every size.
func TestTextsShownEscaped(t *testing.T) {
	for _, s := range textScreens()[1:] {
		for _, size := range sizes {
			m := newGoldenModel(s, size.w, size.h)
			drive(m, s.msgs)
			view := m.View()
			if i := strings.IndexAny(view, "\x1b\x07\x7f\u009b\u202e"); i >= 0 {
				t.Errorf("%s %dx%d: the view holds %q:\n%s", s.name, size.w, size.h, view[i:i+1], view)
			}
			if size.w == 120 && !strings.Contains(view, `Bob\x1b]0;pwned\a (bob): `+shownTextMsg) {
				t.Errorf("%s: the hostile text is not shown escaped:\n%s", s.name, view)
			}
		}
	}
}

// TestTextsFlow: a text that comes with the conversation closed is
// counted unread on its sender and said in a notice; t opens the
// conversation, which marks it read; one that comes while it is open is
// shown once (the server's event and the answer to the send cross); enter
// sends what was typed; a call ringing closes the conversation so that a
// and r answer and reject.
func TestTextsFlow(t *testing.T) {
	s := scenario{name: "texts_flow"}
	m := newGoldenModel(s, 80, 24)
	api := m.textsAPI.(*fakeTexts)
	drive(m, startMsgs())
	text := signaling.Text{Seq: 7, From: "bob", To: "alice", Text: "are you there?", Sent: t0}
	drive(m, msgs(ev(call.TextReceived{Text: text})))
	if m.unreadTexts["bob"] != 1 || m.notice == nil || !strings.Contains(m.notice.text, "Text from bob: are you") {
		t.Fatalf("after a text with the conversation closed: unread %v, notice %+v", m.unreadTexts, m.notice)
	}
	if !strings.Contains(m.View(), "1 unread · online") || !strings.Contains(m.View(), "(1 unread texts)") {
		t.Errorf("the contacts do not count bob's text:\n%s", m.View())
	}
	m.Update(press("t"))
	if m.screen != screenTexts || m.conv == nil || m.conv.peer != "bob" {
		t.Fatalf("t on bob: screen %d, conversation %+v", m.screen, m.conv)
	}
	cmd := m.textsLoaded(textsLoadedMsg{with: "bob", texts: signaling.Texts{Texts: []signaling.Text{text},
		Unread: map[string]int{"bob": 1}}})
	if cmd == nil {
		t.Fatal("opening the conversation did not mark bob's text read")
	}
	cmd()
	if len(api.read) != 1 || api.read[0] != "bob" || m.unreadTexts["bob"] != 0 {
		t.Errorf("read %q, unread %v", api.read, m.unreadTexts)
	}
	drive(m, typeText("yes"))
	msg := m.textsKey(press("enter"))()
	drive(m, msgs(ev(call.TextReceived{Text: signaling.Text{Seq: 100, From: "alice", To: "bob", Text: "yes",
		Sent: t0}}), msg))
	if len(api.sent) != 1 || api.sent[0].Text != "yes" || len(m.conv.texts) != 2 ||
		strings.Count(m.View(), "you: yes") != 1 {
		t.Errorf("sent %+v; the conversation %+v:\n%s", api.sent, m.conv.texts, m.View())
	}
	// Back after a disconnection: what came meanwhile is read again.
	drive(m, msgs(ev(call.Connected{Up: false}), textsLoadedMsg{with: "bob", texts: signaling.Texts{
		Texts: []signaling.Text{{Seq: 101, From: "bob", To: "alice", Text: "missed while away", Sent: t0}}}}))
	if cmd := m.connected(call.Connected{Up: true, User: "alice"}); cmd == nil {
		t.Error("a reconnect does not read the texts again")
	}
	if !strings.Contains(m.View(), "bob: missed while away") || len(m.conv.texts) != 3 {
		t.Errorf("the conversation after a reconnect: %+v", m.conv.texts)
	}
	drive(m, msgs(inbound(signaling.Ringing, t0)))
	if m.screen == screenTexts || m.conv != nil {
		t.Errorf("a call rang: still on screen %d", m.screen)
	}
}
