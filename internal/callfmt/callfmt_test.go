package callfmt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// aCall is the events of a call from alice to bob that is answered, muted,
// measured, loses its speaker, and is hung up while the server is
// unreachable.
func aCall() []call.Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := signaling.CallEvent{ID: "c1", Status: signaling.Started, Direction: signaling.Outbound,
		From: "alice", To: "bob", ToName: "Bob"}
	status := func(s signaling.Status, at time.Duration, untold bool) call.StatusChanged {
		e := ev
		e.Status = s
		return call.StatusChanged{CallEvent: e, First: s == signaling.Started, At: t0.Add(at), Untold: untold}
	}
	return []call.Event{
		call.Connected{Up: true, User: "alice", Name: "Alice", Server: "http://127.0.0.1:7700"},
		status(signaling.Started, 0, false),
		status(signaling.Ringing, 100*time.Millisecond, false),
		status(signaling.Answered, time.Second, false),
		call.Verification{CallID: "c1", Code: "482 913 207 551"},
		call.Muted{CallID: "c1", Local: true, Muted: true},
		call.Held{CallID: "c1", Held: true, By: "bob"},
		call.Stats{CallID: "c1", RTT: 1500 * time.Microsecond, Jitter: 700 * time.Microsecond, Loss: 0.01,
			JitterBuffer: 20 * time.Millisecond, MOS: 4.387, Network: "udp", SendBitrate: 32000},
		call.Levels{Mic: 0.5}, // never shown
		call.DeviceChanged{CallID: "c1", Kind: call.Speaker, Device: "default", Lost: true,
			Err: errors.New("unplugged")},
		call.MicWarning{CallID: "c1", Raised: true},
		status(signaling.Completed, 3260*time.Millisecond, true),
	}
}

// TestPrinterText: one line for people per event they are told of; errors
// on the error writer (stderr), as every command's are.
func TestPrinterText(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, false, 10*time.Second)
	for _, ev := range aCall() {
		p.Print(ev)
		if _, ok := ev.(call.Held); ok {
			p.Reply("resume", "")
			p.Refused("hold", "", signaling.Errorf(signaling.NoConnectedCall, "there is no call to hold"))
		}
	}
	p.Error(signaling.Errorf(signaling.NoConnectedDestination, "bob is not online"))
	want := `signed in as Alice (alice)
calling Bob (bob) (call c1)
ringing
answered
verification code: 482 913 207 551 (the other side must see the same)
you are muted
bob put you on hold
resume: ok
the speaker stopped working (unplugged): now using the system default, default
your microphone seems silent: check it, or pick another one with --in (parley devices lists them)
completed after 2.3s here; the server is unreachable: waiting up to 10s to tell it, ` +
		`which ends the call for the other side
`
	if got := out.String(); got != want {
		t.Errorf("printed\n%s\nwant\n%s", got, want)
	}
	if got, want := errOut.String(), "parley: hold: no_connected_call (80403): there is no call to hold\n"+
		"parley: no_connected_destination (80404): bob is not online\n"; got != want {
		t.Errorf("printed on stderr %q, want %q", got, want)
	}
}

// TestRejectedText: a rejected call names the side that rejected it, on
// both sides: the caller is told that the callee rejected it, the callee
// that they did.
func TestRejectedText(t *testing.T) {
	ev := signaling.CallEvent{ID: "c1", Status: signaling.Rejected, From: "alice", FromName: "Alice",
		To: "bob", ToName: "Bob"}
	for _, tc := range []struct {
		dir   signaling.Direction
		guest bool
		want  string
	}{
		{signaling.Outbound, false, "Bob (bob) rejected the call\n"},
		{signaling.Inbound, false, "you rejected the call from Alice (alice)\n"},
		{signaling.Inbound, true, "you turned guest Alice (alice) away\n"},
	} {
		var out bytes.Buffer
		e := ev
		e.Direction, e.Guest = tc.dir, tc.guest
		callfmt.NewPrinter(&out, nil, false, time.Second).Print(call.StatusChanged{CallEvent: e})
		if out.String() != tc.want {
			t.Errorf("%s (guest %v): printed %q, want %q", tc.dir, tc.guest, out.String(), tc.want)
		}
	}
}

// TestPrinterJSON: the --json lines, field by field, as the README shows
// them to scripts, each with its time (a status change's when the phone saw
// it, the others' when printed), and errors among them.
func TestPrinterJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	p := callfmt.NewPrinter(&out, &errOut, true, 10*time.Second)
	p.Now = func() time.Time { return time.Date(2026, 1, 2, 4, 5, 6, 789_654_000, time.FixedZone("CET", 3600)) }
	for _, ev := range aCall() {
		p.Print(ev)
		if _, ok := ev.(call.Held); ok {
			p.Reply("resume", "r1")
			p.Refused("hold", "", signaling.Errorf(signaling.NoConnectedCall, "there is no call to hold"))
		}
	}
	p.Error(signaling.Errorf(signaling.NoConnectedDestination, "bob is not online"))
	const now, t0 = `"time":"2026-01-02T03:05:06.789Z"`, `"time":"2026-01-02T03:04:0`
	want := []string{
		`{"event":"connected",` + now + `,"up":true,"user":"alice","name":"Alice","server":"http://127.0.0.1:7700"}`,
		`{"event":"call",` + t0 + `5.000Z","id":"c1","status":"started","direction":"outbound","from":"alice",` +
			`"to":"bob","to_name":"Bob"}`,
		`{"event":"call_status_changed",` + t0 + `5.100Z","id":"c1","status":"ringing","direction":"outbound",` +
			`"from":"alice","to":"bob","to_name":"Bob"}`,
		`{"event":"call_status_changed",` + t0 + `6.000Z","id":"c1","status":"answered","direction":"outbound",` +
			`"from":"alice","to":"bob","to_name":"Bob"}`,
		`{"event":"verification",` + now + `,"id":"c1","code":"482 913 207 551"}`,
		`{"event":"mute",` + now + `,"id":"c1","local":true,"muted":true}`,
		`{"event":"hold",` + now + `,"id":"c1","held":true,"by":"bob","local":false}`,
		`{"event":"reply",` + now + `,"command":"resume","ref":"r1"}`,
		`{"event":"error",` + now + `,"command":"hold","code":80403,"name":"no_connected_call",` +
			`"message":"there is no call to hold"}`,
		`{"event":"stats",` + now + `,"id":"c1","rtt_ms":1.5,"jitter_ms":0.7,"loss":0.01,"jitter_buffer_ms":20,` +
			`"mos":4.39,"relayed":false,"transport":"udp","send_fec_loss_pct":0,"send_bitrate":32000}`,
		`{"event":"device",` + now + `,"id":"c1","kind":"speaker","device":"default","lost":true,"error":"unplugged"}`,
		`{"event":"mic_warning",` + now + `,"id":"c1","silent":true}`,
		`{"event":"call_status_changed",` + t0 + `8.260Z","id":"c1","status":"completed","direction":"outbound",` +
			`"from":"alice","to":"bob","to_name":"Bob","untold":true}`,
		`{"event":"error",` + now + `,"code":80404,"name":"no_connected_destination","message":"bob is not online"}`,
	}
	if errOut.Len() > 0 {
		t.Errorf("printed on stderr %q, want nothing", errOut.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
		}
	}
}

// TestSayAndTable: text from elsewhere is shown escaped, on one line, and
// a tab in a cell does not break the columns.
func TestSayAndTable(t *testing.T) {
	var out bytes.Buffer
	callfmt.Say(&out, "Added %s.", "Bob\x1b]0;pwned\x07\nEve")
	if want := "Added Bob\\x1b]0;pwned\\a\\nEve.\n"; out.String() != want {
		t.Errorf("Say printed %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := callfmt.Table(&out, "USER\tNAME", [][]string{{"bob", "B\tob"}, {"carol", "-"}}); err != nil {
		t.Fatal(err)
	}
	if want := "USER   NAME\nbob    B\\tob\ncarol  -\n"; out.String() != want {
		t.Errorf("Table printed\n%q\nwant\n%q", out.String(), want)
	}
}

// TestHarmlessJSON: what encoding/json leaves raw and a terminal acts on
// (DEL, C1, bidi and other invisible controls) is written as \u escapes,
// and decodes to the same text.
func TestHarmlessJSON(t *testing.T) {
	in := map[string]string{"s": "a\x7fb\u009bc\u202ed\U000E0041e\x1b ok é"}
	b, _ := json.Marshal(in)
	got := callfmt.HarmlessJSON(b)
	if want := `{"s":"a\u007fb\u009bc\u202ed\udb40\udc41e\u001b ok é"}`; string(got) != want {
		t.Errorf("HarmlessJSON(%s) = %s; want %s", b, got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["s"] != in["s"] {
		t.Errorf("%s decodes to %q (%v); want %q", got, back["s"], err, in["s"])
	}
}

// TestWaitingCall: a waiting call is said so, in text and in its events'
// "waiting" field, and a swap names the call you are in and the held one.
func TestWaitingCall(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	waiting := call.StatusChanged{CallEvent: signaling.CallEvent{ID: "c2", Status: signaling.Started,
		Direction: signaling.Inbound, From: "carol", To: "alice", FromName: "Carol", Waiting: true}, First: true,
		At: at}
	events := []call.Event{waiting, call.Switched{CallID: "c2", HeldID: "c1"}, call.Switched{CallID: "c1"}}
	for _, tc := range []struct {
		json bool
		want string
	}{
		{false, "waiting call from Carol (carol) (call c2): answer holds the call you are in, reject leaves it\n" +
			"now in call c2; call c1 is held (swap to go back)\n" +
			"now in call c1\n"},
		{true, `{"event":"call","time":"2026-01-02T03:04:05.000Z","id":"c2","status":"started",` +
			`"direction":"inbound","from":"carol","to":"alice","from_name":"Carol","waiting":true}` + "\n" +
			`{"event":"switched","time":"2026-01-02T03:04:05.000Z","id":"c2","held_id":"c1"}` + "\n" +
			`{"event":"switched","time":"2026-01-02T03:04:05.000Z","id":"c1"}` + "\n"},
	} {
		var out bytes.Buffer
		p := callfmt.NewPrinter(&out, nil, tc.json, time.Second)
		p.Now = func() time.Time { return at }
		for _, ev := range events {
			p.Print(ev)
		}
		if out.String() != tc.want {
			t.Errorf("json %v: printed\n%s\nwant\n%s", tc.json, out.String(), tc.want)
		}
	}
}
