package ui

import (
	"context"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
)

// Voice messages left for the user are shown among the recent calls, with
// their length; p plays the one selected (Options.PlayVoice), which makes
// it heard on every device. A new one is told at once (call.VoiceMessage).

// VoiceMessages are the user's voice messages kept on the server; the
// signaling.API is one. It blocks: the UI calls it in commands.
type VoiceMessages interface {
	VoiceMessages(ctx context.Context) (signaling.VoiceMessages, error)
	VoiceMessageAudio(ctx context.Context, id string) ([]byte, error)
	LeaveVoiceMessage(ctx context.Context, user string, ogg []byte) (signaling.VoiceMessage, error)
}

// playTimeout bounds the fetch and the playing of a voice message (2
// minutes at most).
const playTimeout = signaling.MaxVoiceMessage + time.Minute

// voiceLoadedMsg carries the user's voice messages.
type voiceLoadedMsg struct {
	box signaling.VoiceMessages
	err error
}

// voicePlayedMsg says a voice message was played, or why not.
type voicePlayedMsg struct {
	id  string
	err error
}

// loadVoice returns a command that reads the user's voice messages.
func loadVoice(v VoiceMessages) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		box, err := v.VoiceMessages(ctx)
		return voiceLoadedMsg{box: box, err: err}
	}
}

// voiceRecord is a voice message as a row of the recent calls.
func voiceRecord(v signaling.VoiceMessage) history.Record {
	return history.Record{CallID: "voice-" + v.ID, Peer: v.From, PeerName: v.FromName,
		Direction: signaling.Inbound, Status: signaling.Completed, Start: v.Created, End: v.Created,
		VoiceID: v.ID, VoiceMS: v.DurationMS, VoiceHeard: v.Heard}
}

// voiceLoaded shows the voice messages among the recent calls, and
// notifies the ones not heard yet (notify.go). A server that cannot tell
// (an older one) is only logged.
func (m *Model) voiceLoaded(msg voiceLoadedMsg) tea.Cmd {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the voice messages", "err", msg.err)
		return nil
	}
	m.voice = m.voice[:0]
	for _, v := range msg.box.Messages {
		m.voice = append(m.voice, voiceRecord(v))
	}
	m.showRecents()
	line := signaling.VoiceMessageNotice(msg.box)
	if line == "" {
		return nil
	}
	if m.notice == nil {
		m.setNotice(noticeInfo, line+": p plays one in the recent calls.")
	}
	return m.desktopNotify(line)
}

// voiceLeft adds a voice message just left, and says so (and notifies it:
// notify.go).
func (m *Model) voiceLeft(ev call.VoiceMessage) tea.Cmd {
	if slices.ContainsFunc(m.voice, func(r history.Record) bool { return r.VoiceID == ev.ID }) {
		return nil
	}
	m.voice = append(m.voice, voiceRecord(ev.VoiceMessage))
	m.showRecents()
	said := "Voice message from " + signaling.Label(ev.From, ev.FromName) + " (" +
		history.Clock(time.Duration(ev.DurationMS)*time.Millisecond) + ")"
	m.setNotice(noticeInfo, said+": p plays it in the recent calls.")
	return m.desktopNotify(said)
}

// showRecents shows the calls and the voice messages, newest first.
func (m *Model) showRecents() {
	if len(m.voice) == 0 {
		m.recents.SetRecords(m.records)
		return
	}
	all := slices.Concat(m.records, m.voice)
	slices.SortStableFunc(all, func(a, b history.Record) int { return b.Start.Compare(a.Start) })
	m.recents.SetRecords(all)
}

// playVoice fetches and plays a voice message.
func (m *Model) playVoice(id string) tea.Cmd {
	if m.voiceAPI == nil || m.playVoiceFn == nil {
		return nil
	}
	m.setNotice(noticeInfo, "Playing the voice message…")
	api, play := m.voiceAPI, m.playVoiceFn
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
		defer cancel()
		ogg, err := api.VoiceMessageAudio(ctx, id)
		if err == nil {
			err = play(ctx, ogg)
		}
		return voicePlayedMsg{id: id, err: err}
	}
}

// voicePlayed marks the message heard, or says why it was not played.
func (m *Model) voicePlayed(msg voicePlayedMsg) {
	if msg.err != nil {
		m.common.Logger.Warn("ui: playing a voice message", "id", msg.id, "err", msg.err)
		m.setNotice(noticeError, "Could not play the voice message: "+msg.err.Error())
		return
	}
	for i := range m.voice {
		if m.voice[i].VoiceID == msg.id {
			m.voice[i].VoiceHeard = true
		}
	}
	m.notice = nil
	m.showRecents()
}

// After an outgoing call that could not be answered (not answered, the
// callee offline, busy or in do not disturb, or rejected asking for a
// message), its outcome offers a voice message: v records one from the
// microphone (Options.RecordVoice) until enter, which sends it, or esc.

// recording is a voice message being recorded.
type recording struct {
	to       string
	stop     chan struct{} // closed by enter or esc
	canceled bool          // esc: nothing is sent
}

// voiceSentMsg says how a voice message went: left, canceled or failed.
type voiceSentMsg struct {
	to       string
	msg      signaling.VoiceMessage
	canceled bool
	err      error
}

// offersVoice reports whether a call that ended so offers a voice message.
func offersVoice(c *common.Call, status signaling.Status, code signaling.Code, reason string) bool {
	if c.Direction != signaling.Outbound || c.Guest {
		return false
	}
	switch {
	case status == signaling.Unanswered && !c.Cancelled:
		return true
	case code == signaling.NoConnectedDestination, code == signaling.AlreadyBusyCall:
		return true
	}
	return status == signaling.Rejected && reason == signaling.ReasonLeaveMessage
}

// offerVoice adds the offer of a voice message to peer to the notice of
// the call's outcome, when messages can be recorded and sent.
func (m *Model) offerVoice(peer string) {
	if m.voiceAPI == nil || m.recordVoiceFn == nil || m.notice == nil {
		return
	}
	m.notice.text += " · v: leave a voice message"
	m.offerTo, m.offerNotice = peer, m.notice
}

// voiceKey handles v while a voice message is offered, and enter and esc
// while one is recorded (every other key waits). ok is false for a key it
// leaves to others.
func (m *Model) voiceKey(k tea.KeyMsg) (tea.Cmd, bool) {
	km := m.common.KeyMap
	if r := m.recorded; r != nil {
		switch {
		case key.Matches(k, km.Apply):
			close(r.stop)
			m.setNotice(noticeInfo, "Sending the voice message to "+m.label(r.to)+"…")
		case key.Matches(k, km.Dismiss):
			r.canceled = true
			close(r.stop)
			m.setNotice(noticeInfo, "Voice message canceled.")
		default:
			return nil, true
		}
		m.recorded = nil
		return nil, true
	}
	if m.offerTo == "" || m.notice != m.offerNotice || m.screen != screenHome || m.typing() ||
		!key.Matches(k, km.LeaveMessage) {
		return nil, false
	}
	r := &recording{to: m.offerTo, stop: make(chan struct{})}
	m.recorded, m.offerTo, m.offerNotice = r, "", nil
	m.setNotice(noticeInfo, "Recording a voice message for "+m.label(r.to)+" (at most "+
		history.Clock(signaling.MaxVoiceMessage)+"): enter sends it, esc cancels")
	rec, api := m.recordVoiceFn, m.voiceAPI
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), playTimeout)
		defer cancel()
		ogg, err := rec(ctx, r.stop)
		if err != nil || r.canceled {
			return voiceSentMsg{to: r.to, canceled: r.canceled, err: err}
		}
		left, err := api.LeaveVoiceMessage(ctx, r.to, ogg)
		return voiceSentMsg{to: r.to, msg: left, err: err}
	}, true
}

// voiceSent says how the voice message went.
func (m *Model) voiceSent(msg voiceSentMsg) {
	switch {
	case msg.canceled:
	case msg.err != nil:
		m.common.Logger.Warn("ui: leaving a voice message", "to", msg.to, "err", msg.err)
		m.setNotice(noticeError, "The voice message was not left: "+signaling.AsError(msg.err).Message)
	default:
		m.setNotice(noticeSuccess, "Voice message of "+
			history.Clock(time.Duration(msg.msg.DurationMS)*time.Millisecond)+" left for "+m.label(msg.to)+".")
	}
}
