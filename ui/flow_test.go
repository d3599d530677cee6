package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/history"
	"go.uber.org/goleak"
)

// The flow tests run the model in a real Bubble Tea program (teatest)
// against a fake Phone: they press keys, push events, and wait for the
// screen to show specific strings and for the Phone to see specific calls.

// bellWriter is a Bell that reports each write.
type bellWriter chan string

func (b bellWriter) Write(p []byte) (int, error) {
	b <- string(p)
	return len(p), nil
}

// flow is a running program and its fakes.
type flow struct {
	t       *testing.T
	tm      *teatest.TestModel
	phone   *fakePhone
	devices *fakeDevices
	clock   *clock
	bell    bellWriter
	opts    Options
}

// startFlow runs a model at 80×24 with a history file in a new directory
// (unless historyPath is given) and waits for its first Watch.
func startFlow(t *testing.T, historyPath string) *flow {
	t.Helper()
	return startFlowWith(t, historyPath, nil)
}

// startFlowWith is startFlow with the options changed by edit first.
func startFlowWith(t *testing.T, historyPath string, edit func(*Options)) *flow {
	t.Helper()
	f := &flow{t: t, phone: newFakePhone(), devices: newFakeDevices(), clock: &clock{t: t0}, bell: make(bellWriter, 8)}
	f.opts = testOptions(f.phone, f.devices, f.clock)
	if edit != nil {
		edit(&f.opts)
	}
	if historyPath == "" {
		historyPath = filepath.Join(t.TempDir(), "state", "parley", "history.jsonl")
	}
	f.opts.HistoryPath = historyPath
	f.opts.Bell = f.bell
	f.tm = teatest.NewTestModel(t, testModel(t, f.opts), teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { _ = f.tm.Quit() })
	return f
}

// testModel is New(opts) for a program the test runs, whose commands give
// up when the test ends, as Run's do when it returns.
func testModel(t *testing.T, opts Options) *Model {
	m := New(opts)
	m.done = t.Context().Done()
	return m
}

// waitFor waits until the screen has shown all of strs since the last wait.
func (f *flow) waitFor(strs ...string) {
	f.t.Helper()
	teatest.WaitFor(f.t, f.tm.Output(), func(b []byte) bool {
		for _, s := range strs {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(wait), teatest.WithCheckInterval(5*time.Millisecond))
}

// repaint has the whole view drawn again. The renderer draws only the
// lines that changed since the last frame, and events that come in one
// frame's time are drawn as one: a line that was the same before and after
// them is not in the output, and waitFor cannot see it without this.
func (f *flow) repaint() { f.tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24}) }

func (f *flow) press(keys ...string) {
	for _, k := range keys {
		f.tm.Send(press(k))
	}
}

// finish waits for the program to end and returns its final model.
func (f *flow) finish() *Model {
	f.t.Helper()
	f.tm.WaitFinished(f.t, teatest.WithFinalTimeout(wait))
	return f.tm.FinalModel(f.t).(*Model)
}

// connect reports the connection up and some presence.
func (f *flow) connect() {
	f.phone.push(
		call.Connected{Up: true, User: "alice"},
		call.Presence{User: "bob", Online: true},
		call.Presence{User: "carol", Online: true},
	)
	f.waitFor("● connected", "Contacts 2/4 online")
}

func statusEvent(id string, status signaling.Status, dir signaling.Direction, from, to string,
	at time.Time) call.StatusChanged {
	return call.StatusChanged{
		CallEvent: signaling.CallEvent{ID: id, Status: status, Direction: dir, From: from, To: to},
		First:     status == signaling.Started || (dir == signaling.Inbound && status == signaling.Ringing),
		At:        at,
	}
}

// readHistory reads the records in the history file.
func readHistory(t *testing.T, path string) []history.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []history.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r history.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestFlowDialMuteUnmuteHangup(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()

	f.press("enter") // bob is selected
	f.phone.expectCalls(t, "Dial(bob)")
	f.waitFor("Calling bob…", "Status: dialing…", "h/esc cancel call")

	f.phone.push(statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("Status: started")
	f.phone.push(statusEvent("c1", signaling.Ringing, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("Status: ringing · bob's phone is ringing")

	f.clock.Add(4 * time.Second)
	f.phone.push(statusEvent("c1", signaling.Answered, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("In call with bob", "00:00", "↗ outgoing · answered", "Quality: measuring…", "m mute")

	f.phone.push(
		call.Levels{Mic: 0.5, Speaker: 0.25},
		call.Stats{CallID: "c1", RTT: 42 * time.Millisecond, Jitter: 3 * time.Millisecond, Loss: 0.005, Network: "udp"},
	)
	f.waitFor("Quality: RTT 42 ms · jitter 3 ms · loss 0.5% · direct · udp")

	f.press("m")
	f.phone.expectCalls(t, "SetMuted(true)")
	f.waitFor("muted", "m unmute")
	f.phone.push(call.Muted{CallID: "c1", Local: true, Muted: true}) // the engine reports each change

	f.press("m")
	f.phone.expectCalls(t, "SetMuted(false)")
	f.phone.push(call.Muted{CallID: "c1", Local: true, Muted: false})
	f.waitFor("m mute •")

	// Hold and resume (p): the banner follows call.Held; the other side's
	// hold has a banner of its own.
	f.press("p")
	f.phone.expectCalls(t, "SetHeld(true)")
	f.phone.push(call.Held{CallID: "c1", Local: true, Held: true, By: "alice"})
	f.waitFor("answered · on hold", "On hold: neither of you hears the other · p resumes", "p resume")
	f.press("p")
	f.phone.expectCalls(t, "SetHeld(false)")
	f.phone.push(call.Held{CallID: "c1", Local: true, Held: false, By: "alice"},
		call.Held{CallID: "c1", Held: true, By: "bob"})
	f.waitFor("bob put you on hold: you hear the hold tone", "p hold")
	f.phone.push(call.Held{CallID: "c1", Held: false, By: "bob"})
	f.waitFor("↗ outgoing · answered  ")

	// The timer follows the clock, re-drawn by its one-second tick.
	f.clock.Add(73 * time.Second)
	f.waitFor("01:13")

	f.press("h")
	f.phone.expectCalls(t, "Hangup()")
	f.waitFor("hanging up…")
	f.phone.push(statusEvent("c1", signaling.Completed, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("Call with bob completed · 01:13", "Recent calls 1")

	f.press("q")
	m := f.finish()
	f.phone.expectNoCalls(t)
	if m.active != nil || m.incoming != nil {
		t.Errorf("calls left after quitting: active %+v, incoming %+v", m.active, m.incoming)
	}

	recs := readHistory(t, f.opts.HistoryPath)
	if len(recs) != 1 {
		t.Fatalf("history has %d records; want 1", len(recs))
	}
	r := recs[0]
	if r.Peer != "bob" || r.Direction != signaling.Outbound || r.Status != signaling.Completed ||
		r.Duration() != 73*time.Second {
		t.Errorf("history record = %+v; want bob, outbound, completed, 1m13s", r)
	}
}

func TestFlowIncomingReject(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("tab") // the banner shows over whatever pane is open
	f.waitFor("[Recent calls 0]")

	f.phone.push(statusEvent("c2", signaling.Ringing, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from carol", "a answer · r reject")
	select {
	case b := <-f.bell:
		if b != "\a" {
			t.Errorf("bell wrote %q; want BEL", b)
		}
	case <-time.After(wait):
		t.Fatal("the bell did not ring")
	}

	f.press("r")
	f.phone.expectCalls(t, "Reject()")
	f.waitFor("rejecting…")
	f.phone.push(statusEvent("c2", signaling.Rejected, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("You declined the call from carol", "↙ incoming", "declined")

	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

func TestFlowIncomingAnswer(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()

	// A text input open when the call comes in is closed, so that a and r
	// answer and reject instead of being typed.
	f.press("c")
	f.waitFor("Call a user")
	f.phone.push(statusEvent("c2", signaling.Ringing, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from carol")

	f.press("a")
	f.phone.expectCalls(t, "Answer()")
	f.waitFor("answering…")
	f.phone.push(statusEvent("c2", signaling.Answered, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("In call with carol", "↙ incoming · answered")

	f.phone.push(call.Muted{CallID: "c2", Local: false, Muted: true})
	f.waitFor("muted")

	// carol hangs up.
	f.clock.Add(9 * time.Second)
	f.phone.push(statusEvent("c2", signaling.Completed, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("Call with carol completed · 00:09")

	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

func TestFlowHistoryPersistsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dirs", "history.jsonl")

	// First run: call zoe (not a contact) through the prompt; she answers.
	f := startFlow(t, path)
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("c")
	f.waitFor("Call a user")
	f.tm.Type("zoe")
	f.press("enter")
	f.phone.expectCalls(t, "Dial(zoe)")
	f.phone.push(statusEvent("c9", signaling.Started, signaling.Outbound, "alice", "zoe", f.clock.Now()))
	f.phone.push(statusEvent("c9", signaling.Answered, signaling.Outbound, "alice", "zoe", f.clock.Now()))
	f.waitFor("In call with zoe")
	f.clock.Add(2*time.Minute + 13*time.Second)
	f.phone.push(statusEvent("c9", signaling.Completed, signaling.Outbound, "alice", "zoe", f.clock.Now()))
	f.waitFor("Call with zoe completed · 02:13")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin", "zoe") // the new peer is watched
	f.press("q")
	f.finish()

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("history file mode = %v; want 0600", mode)
	}
	if dir, err := os.Stat(filepath.Dir(path)); err != nil || dir.Mode().Perm() != 0o700 {
		t.Errorf("history directory: %v, %v; want mode 0700", dir.Mode().Perm(), err)
	}

	// Second run from the same file: zoe is in the recent calls and watched.
	g := startFlow(t, path)
	g.phone.expectWatch(t, "bob", "carol", "dave", "erin", "zoe")
	g.waitFor("Recent calls 1")
	g.press("tab")
	g.waitFor("↗ outgoing", "zoe", "completed", "02:13", "15:04")
	g.press("enter") // call back
	g.phone.expectCalls(t, "Dial(zoe)")
	g.waitFor("Calling zoe…")
}

// TestFlowSettings: s opens the audio settings, enter switches the selected
// one off, and the change is applied through Settings.
func TestFlowSettings(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.press("s")
	f.waitFor("Audio settings", "[x] on   Echo cancellation", "[x] on   Noise suppression")
	f.press("down", "enter")
	f.waitFor("[ ] off  Noise suppression")
	f.press("esc")
	f.waitFor("Contacts")
}

func TestFlowDevicePicker(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.press("d")
	f.waitFor("Audio devices", "Microphone (input)", "default (current)", "USB Headset (current)")

	f.press("down", "down", "enter") // default → Built-in → USB Headset Microphone
	select {
	case got := <-f.devices.chosen:
		if got != [2]string{"USB Headset Microphone", "USB Headset"} {
			t.Errorf("Choose%q; want (USB Headset Microphone, USB Headset)", got)
		}
	case <-time.After(wait):
		t.Fatal("Devices.Choose not called")
	}
	f.waitFor("Now using microphone USB Headset Microphone, speaker USB Headset")

	f.press("tab", "up", "enter") // outputs: USB Headset → Built-in Speakers
	select {
	case got := <-f.devices.chosen:
		if got != [2]string{"USB Headset Microphone", "Built-in Speakers"} {
			t.Errorf("Choose%q; want (USB Headset Microphone, Built-in Speakers)", got)
		}
	case <-time.After(wait):
		t.Fatal("Devices.Choose not called")
	}
	f.waitFor("Built-in Speakers (current)")

	f.press("esc")
	f.waitFor("[Contacts 0/4 online]")
	f.press("q")
	f.finish()
}

func TestFlowQuitWithCallUp(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("enter")
	f.phone.expectCalls(t, "Dial(bob)")
	f.phone.push(
		statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", f.clock.Now()),
		statusEvent("c1", signaling.Answered, signaling.Outbound, "alice", "bob", f.clock.Now()),
	)
	f.waitFor("In call with bob")

	f.press("q")
	f.waitFor("A call is up: hang up and quit? y/n")
	f.press("n")
	f.waitFor("In call with bob")
	f.phone.expectNoCalls(t)

	f.press("q")
	f.waitFor("A call is up: hang up and quit? y/n")
	f.press("y")
	f.phone.expectCalls(t, "Hangup()")
	f.waitFor("Quitting…")
	f.clock.Add(5 * time.Second)
	f.phone.push(statusEvent("c1", signaling.Completed, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.finish()

	// Quitting waited for the end of the call, so it is in the history.
	recs := readHistory(t, f.opts.HistoryPath)
	if len(recs) != 1 || recs[0].Status != signaling.Completed || recs[0].Duration() != 5*time.Second {
		t.Errorf("history = %+v; want bob's call, completed, 5 s", recs)
	}
}

func TestFlowFilterAndRefusal(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()

	f.press("/")
	f.tm.Type("rin") // erin
	f.waitFor("/ rin", "enter keep filter")
	f.press("enter", "enter")
	f.phone.expectCalls(t, "Dial(erin)")
	f.phone.push(call.Failure{Err: signaling.Errorf(signaling.NoConnectedDestination, "erin is not online")})
	f.waitFor("erin is not online — try again when they are online", "Recent calls 1")

	f.press("esc") // clear the filter; erin stays selected
	f.waitFor("● bob    online", "› ◌ erin   unknown")
	f.press("esc") // dismiss the notice
	f.press("q")
	if m := f.finish(); m.notice != nil {
		t.Errorf("notice %q still shown after esc", m.notice.text)
	}
}

func TestFlowCancelOutgoing(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("enter")
	f.phone.expectCalls(t, "Dial(bob)")
	f.phone.push(statusEvent("c1", signaling.Ringing, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("Status: ringing")
	f.press("esc")
	f.phone.expectCalls(t, "Hangup()")
	f.waitFor("cancelling…")
	f.phone.push(statusEvent("c1", signaling.Unanswered, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("You cancelled the call to bob")
	f.press("q")
	f.finish()
}

func TestFlowPhoneStops(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.phone.close()
	f.waitFor("offline: the phone stopped")
	f.press("enter")
	f.waitFor("The phone has stopped; restart parley to call again.")
	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}

func TestRunEndsWithContext(t *testing.T) {
	p := newFakePhone()
	ctx, cancel := context.WithCancel(context.Background())
	in, inW := io.Pipe()
	defer inW.Close()
	opts := testOptions(p, nil, &clock{t: t0})
	opts.Input, opts.Output = in, io.Discard
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, opts) }()
	p.expectWatch(t, "bob", "carol", "dave", "erin") // the program runs
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run = %v; want nil when the context ends", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return when the context ended")
	}
}

// TestRunLeavesNoGoroutine: once Run has returned because the user quit,
// nothing of the program waits on: not even for the Phone's next event,
// though the Phone goes on (it is closed after the UI).
func TestRunLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	p := newFakePhone()
	in, inW := io.Pipe()
	opts := testOptions(p, nil, &clock{t: t0})
	opts.Input, opts.Output = in, io.Discard
	errc := make(chan error, 1)
	go func() { errc <- Run(context.Background(), opts) }()
	p.expectWatch(t, "bob", "carol", "dave", "erin") // the program runs
	if _, err := inW.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run = %v; want nil when the user quits", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return when the user quit")
	}
	inW.Close() // the terminal goes too: Bubble Tea's reader of a pipe cannot be cancelled
	goleak.VerifyNone(t, before)
}

func TestRunNeedsPhone(t *testing.T) {
	if err := Run(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "Phone") {
		t.Errorf("Run without a Phone = %v; want an error", err)
	}
}

var _ tea.Model = (*Model)(nil)

// The call engine is the UI's Phone through a small adapter
// (internal/cli's uiPhone: JoinRoom takes the room options as booleans);
// internal/cli checks that it is one.

// serverDevices are fakeDevices with the sound server's sinks: shown by
// their descriptions (DeviceLabels), and the devices in use known
// (DevicesInUse).
type serverDevices struct{ *fakeDevices }

var serverLabels = map[string]string{
	"alsa_output.usb-Logitech_USB_Headset-00.analog-stereo": "USB Headset Analog Stereo",
	"alsa_output.pci-0000_00_1f.3.analog-stereo":            "Built-in Audio Analog Stereo",
}

func (d serverDevices) Label(name string) string {
	if l, ok := serverLabels[name]; ok {
		return l
	}
	return name
}

func (d serverDevices) InUse() (mic, speaker string) {
	in, out := d.Current()
	return d.Label(in), d.Label(out)
}

// TestFlowHeadsetPluggedIn: in a call on the built-in speaker, the call
// view says which devices are in use; a headset plugged in is offered in a
// notice, and listed by its description in the picker, open already; the
// picker saves its name (the stable one), and the call view shows the
// headset in use.
func TestFlowHeadsetPluggedIn(t *testing.T) {
	const (
		headset = "alsa_output.usb-Logitech_USB_Headset-00.analog-stereo"
		builtin = "alsa_output.pci-0000_00_1f.3.analog-stereo"
	)
	devs := serverDevices{newFakeDevices()}
	devs.outputs, devs.output = []string{builtin}, builtin
	f := startFlowWith(t, "", func(o *Options) { o.Devices = devs })
	f.devices = devs.fakeDevices
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("enter")
	f.phone.expectCalls(t, "Dial(bob)")
	f.phone.push(
		statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", f.clock.Now()),
		statusEvent("c1", signaling.Answered, signaling.Outbound, "alice", "bob", f.clock.Now()),
	)
	f.waitFor("In call with bob", "Mic: default · Speaker: Built-in Audio Analog Stereo")

	f.press("d")
	f.waitFor("Audio devices", "● Built-in Audio Analog") // truncated at 80 columns
	devs.mu.Lock()
	devs.outputs = []string{builtin, headset}
	devs.mu.Unlock()
	f.phone.push(call.DevicePlugged{Kind: call.Speaker, Device: headset, Label: "USB Headset Analog Stereo"})
	f.waitFor("○ USB Headset Analog Stereo")
	f.press("tab", "down", "enter")
	select {
	case got := <-f.devices.chosen:
		if got != [2]string{"default", headset} {
			t.Errorf("Choose%q; want (default, %s)", got, headset)
		}
	case <-time.After(wait):
		t.Fatal("Devices.Choose not called")
	}
	f.waitFor("● USB Headset Analog")
	f.press("esc")
	f.phone.push(call.DeviceChanged{CallID: "c1", Kind: call.Speaker, Device: "USB Headset Analog Stereo"})
	f.waitFor("Mic: default · Speaker: USB Headset Analog Stereo")

	// Plugged in while the picker is closed: the notice offers it.
	f.phone.push(call.DevicePlugged{Kind: call.Microphone, Device: "alsa_input.usb-Logitech_USB_Headset-00.mono",
		Label: "USB Headset Mono"})
	f.waitFor("USB Headset Mono plugged in (microphone): press d to move the call to it.")
}

// TestFlowCallWaiting: carol calls during bob's call; a answers her (the
// phone holds bob's call), x swaps back, and when bob's call ends carol's,
// held, is the call shown, with its own timer; both end in the recent
// calls.
func TestFlowCallWaiting(t *testing.T) {
	f := startFlow(t, "")
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.phone.push(statusEvent("c2", signaling.Ringing, signaling.Inbound, "bob", "alice", f.clock.Now()))
	f.waitFor("INCOMING CALL from bob")
	f.press("a")
	f.phone.expectCalls(t, "Answer()")
	f.phone.push(statusEvent("c2", signaling.Answered, signaling.Inbound, "bob", "alice", f.clock.Now()))
	f.waitFor("In call with bob")

	f.clock.Add(5 * time.Second)
	waiting := statusEvent("c3", signaling.Ringing, signaling.Inbound, "carol", "alice", f.clock.Now())
	waiting.Waiting = true
	f.phone.push(waiting)
	f.waitFor("carol is calling", "a answer (holds bob) · r reject")
	f.press("a")
	f.phone.expectCalls(t, "Answer()")
	waiting.Status, waiting.First = signaling.Answered, false
	f.phone.push(call.Held{CallID: "c2", Local: true, Held: true, By: "alice"},
		call.Switched{CallID: "c3", HeldID: "c2"}, waiting)
	f.waitFor("In call with carol", "Held: your call with bob · x swaps to it", "x swap calls")

	f.press("x")
	f.phone.expectCalls(t, "Swap")
	f.phone.push(call.Held{CallID: "c3", Local: true, Held: true, By: "alice"},
		call.Switched{CallID: "c2", HeldID: "c3"}, call.Held{CallID: "c2", Local: true, Held: false, By: "alice"})
	f.waitFor("In call with bob", "Held: your call with carol · x swaps to it")

	// Bob hangs up: carol's call, held, is the one shown.
	f.clock.Add(3 * time.Second)
	f.phone.push(call.Switched{CallID: "c3"},
		statusEvent("c2", signaling.Completed, signaling.Inbound, "bob", "alice", f.clock.Now()))
	f.waitFor("Call with bob completed")
	f.repaint() // carol's call was held on screen a moment ago: its lines may not change
	f.waitFor("In call with carol", "00:03", "On hold: neither of you hears the other")
	f.phone.push(statusEvent("c3", signaling.Completed, signaling.Inbound, "carol", "alice", f.clock.Now()))
	f.waitFor("Call with carol completed", "Recent calls 2")
	f.press("q")
	f.finish()
	f.phone.expectNoCalls(t)
}
