package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// Texts is the text messages kept on the server; *signaling.API is one.
// The UI reads the unread counts as it starts, a conversation when it is
// opened (t, on a contact or in a call), and sends what is typed there.
// Texts that come while it runs come as call.TextReceived events.
type Texts interface {
	Texts(ctx context.Context, q signaling.TextsQuery) (signaling.Texts, error)
	SendText(ctx context.Context, to, text string) (signaling.Text, error)
	ReadTexts(ctx context.Context, with string, seq uint64) (signaling.TextMark, error)
}

// conversationTexts is how many texts a conversation shows, the latest.
const conversationTexts = 200

// conversation is the open conversation pane: the texts with peer, oldest
// first, and what is being typed.
type conversation struct {
	peer   string
	texts  []signaling.Text
	loaded bool
	err    string // the last failure, shown above the input
	input  textinput.Model
}

// textsLoadedMsg carries a conversation's texts (with "": only the unread
// counts are wanted).
type textsLoadedMsg struct {
	with  string
	texts signaling.Texts
	err   error
}

// textSentMsg carries a text sent from the conversation pane.
type textSentMsg struct {
	text signaling.Text
	err  error
}

// loadTexts returns a command that reads the conversation with with (""
// for the unread counts alone).
func loadTexts(api Texts, with string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		q := signaling.TextsQuery{With: with, Limit: conversationTexts}
		if with == "" {
			q.Limit = 1
		}
		l, err := api.Texts(ctx, q)
		return textsLoadedMsg{with: with, texts: l, err: err}
	}
}

// markTextsRead returns a command that marks with's texts read, on every
// device; a failure is only logged (they stay unread).
func (m *Model) markTextsRead(with string) tea.Cmd {
	api, log := m.textsAPI, m.common.Logger
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		if _, err := api.ReadTexts(ctx, with, 0); err != nil {
			log.Warn("ui: marking texts read", "with", with, "err", err)
		}
		return nil
	}
}

// reloadTexts reads the unread counts again, and the open conversation.
func (m *Model) reloadTexts() tea.Cmd {
	if m.textsAPI == nil {
		return nil
	}
	cmds := []tea.Cmd{loadTexts(m.textsAPI, "")}
	if m.conv != nil {
		cmds = append(cmds, loadTexts(m.textsAPI, m.conv.peer))
	}
	return tea.Batch(cmds...)
}

// openTexts opens the conversation with peer over the current screen (a
// call goes on under it).
func (m *Model) openTexts(peer string) tea.Cmd {
	if m.textsAPI == nil || peer == "" || m.incoming != nil {
		return nil
	}
	m.conv = &conversation{peer: peer,
		input: common.NewInput(m.common, "> ", "write a text, enter to send", signaling.MaxTextBytes)}
	m.screen = screenTexts
	return tea.Batch(m.conv.input.Focus(), loadTexts(m.textsAPI, peer))
}

// textsKey handles a key in the conversation pane: esc closes it, enter
// sends what was typed, the rest is typing.
func (m *Model) textsKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	c := m.conv
	switch {
	case key.Matches(k, km.Close):
		m.conv = nil
		m.screen = m.base()
		return nil
	case k.Type == tea.KeyEnter:
		text := strings.TrimSpace(c.input.Value())
		if text == "" {
			return nil
		}
		c.input.SetValue("")
		c.err = ""
		api, to := m.textsAPI, c.peer
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
			defer cancel()
			t, err := api.SendText(ctx, to, text)
			return textSentMsg{text: t, err: err}
		}
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(k)
	return cmd
}

// textsLoaded takes the unread counts, and the conversation's texts when
// it is still open, which it marks read.
func (m *Model) textsLoaded(msg textsLoadedMsg) tea.Cmd {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading texts", "with", msg.with, "err", msg.err)
		if c := m.conv; c != nil && c.peer == msg.with {
			c.err = "Could not read the texts: " + signaling.AsError(msg.err).Message
		}
		return nil
	}
	m.unreadTexts = msg.texts.Unread
	c := m.conv
	if msg.with == "" || c == nil || c.peer != msg.with {
		return nil
	}
	c.loaded = true
	for _, t := range msg.texts.Texts {
		c.add(t)
	}
	return m.readConversation()
}

// readConversation marks the open conversation's texts read, when some
// are unread.
func (m *Model) readConversation() tea.Cmd {
	c := m.conv
	if c == nil || m.unreadTexts[c.peer] == 0 {
		return nil
	}
	delete(m.unreadTexts, c.peer)
	return m.markTextsRead(c.peer)
}

// add puts t in the conversation, in order, once.
func (c *conversation) add(t signaling.Text) {
	i, found := slices.BinarySearchFunc(c.texts, t.Seq, func(x signaling.Text, seq uint64) int {
		return cmp.Compare(x.Seq, seq)
	})
	if !found {
		c.texts = slices.Insert(c.texts, i, t)
	}
}

// textSent shows the text sent, or why it was not.
func (m *Model) textSent(msg textSentMsg) {
	c := m.conv
	if msg.err != nil {
		m.common.Logger.Warn("ui: sending a text", "err", msg.err)
		e := signaling.AsError(msg.err)
		if c != nil {
			c.err = fmt.Sprintf("Not sent: %s (%d)", e.Message, e.Code)
		} else {
			m.setNotice(noticeError, fmt.Sprintf("Text not sent: %s (%d)", e.Message, e.Code))
		}
		return
	}
	if c != nil && c.peer == msg.text.To {
		c.add(msg.text)
	}
}

// textReceived shows a text that came: in its conversation when that is
// open, else counted unread, with a notice of who wrote.
func (m *Model) textReceived(ev call.TextReceived) tea.Cmd {
	t := ev.Text
	peer := t.From
	if t.From == m.self {
		peer = t.To
	}
	if c := m.conv; c != nil && c.peer == peer {
		c.add(t)
		if t.To == m.self {
			return m.markTextsRead(peer)
		}
		return nil
	}
	if t.To != m.self {
		return nil // sent from another device of yours, to a conversation not open
	}
	if m.unreadTexts == nil {
		m.unreadTexts = map[string]int{}
	}
	m.unreadTexts[t.From]++
	said := fmt.Sprintf("Text from %s: %s", signaling.Label(t.From, t.FromName), t.Text)
	if m.notice == nil || m.notice.kind == noticeInfo {
		m.setNotice(noticeInfo, common.Truncate(said, max(20, m.width-4)))
	}
	return m.desktopNotify(said)
}

// unreadTextsTotal is how many texts wait unread, from everyone.
func (m *Model) unreadTextsTotal() int {
	n := 0
	for _, c := range m.unreadTexts {
		n += c
	}
	return n
}

// textsView is the conversation pane: who with, the latest texts that fit
// (one line each, cut to the width), why something failed, the input.
func (m *Model) textsView(width, height int) string {
	c := m.conv
	st := m.common.Styles
	if c == nil || width <= 0 || height <= 0 {
		return ""
	}
	head := []string{st.Title.Render(common.Truncate("Texts with "+m.personOf(c.peer).Label(c.peer), width))}
	if a := m.active; a != nil {
		// The call goes on under the pane: say so, and how to get back.
		head = append(head, st.Dim.Render(common.Truncate("In a call with "+a.Label()+": esc to go back to it",
			width)))
	}
	var body []string
	switch {
	case !c.loaded && c.err == "":
		body = append(body, st.Dim.Render("Loading…"))
	case len(c.texts) == 0:
		body = append(body, st.Dim.Render(common.Truncate("No texts yet: write one below.", width)))
	}
	for _, t := range c.texts {
		who := signaling.Label(t.From, t.FromName)
		if t.From == m.self {
			who = "you"
		}
		line := t.Sent.In(m.common.Now().Location()).Format("15:04") + " " + who + ": " + t.Text
		body = append(body, common.Truncate(line, width))
	}
	tail := []string{}
	if c.err != "" {
		tail = append(tail, st.Notice.Error.Render(common.Truncate(c.err, width)))
	}
	tail = append(tail, c.input.View())
	room := max(0, height-len(head)-len(tail))
	if len(body) > room {
		body = body[len(body)-room:] // the latest
	}
	for len(body) < room {
		body = append(body, "")
	}
	return strings.Join(append(append(head, body...), tail...), "\n")
}
