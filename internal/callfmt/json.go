package callfmt

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// The --json forms of the events: one object per line, named by "event",
// with the "time" it happened (RFC 3339 in UTC, with milliseconds: a status
// change when the phone saw it, other events when they were printed).
// Status events carry the Gitple payload {"id","status","direction","from",
// "to"} with "event" and "time" beside it. The README's "Scripts" section
// documents them; scripts depend on every field.
type (
	jsonStatus struct {
		Event string `json:"event"` // "call" (the first of a call) or "call_status_changed"
		Time  string `json:"time"`  // when it happened, RFC 3339 in UTC with milliseconds
		signaling.CallEvent
		Untold bool `json:"untold,omitempty"` // call.StatusChanged.Untold
	}
	jsonMute struct {
		Event string `json:"event"` // "mute"
		Time  string `json:"time"`
		ID    string `json:"id"`
		Local bool   `json:"local"`
		Muted bool   `json:"muted"`
	}
	jsonHold struct {
		Event string `json:"event"` // "hold"
		Time  string `json:"time"`
		ID    string `json:"id"`
		Held  bool   `json:"held"`
		By    string `json:"by"`    // who holds, or resumed
		Local bool   `json:"local"` // by is you
	}
	jsonSwitched struct {
		Event  string `json:"event"` // "switched"
		Time   string `json:"time"`
		ID     string `json:"id"`                // the call you are in now
		HeldID string `json:"held_id,omitempty"` // the other call, held
	}
	jsonError struct {
		Event   string `json:"event"` // "error"
		Time    string `json:"time"`
		CallID  string `json:"id,omitempty"`
		Room    string `json:"room,omitempty"`    // a room's refusal
		Command string `json:"command,omitempty"` // the refusal of a command read on standard input (control.go)
		Ref     string `json:"ref,omitempty"`     // the command's ref
		*signaling.Error
	}
	jsonConnected struct {
		Event string `json:"event"` // "connected"
		Time  string `json:"time"`
		Up    bool   `json:"up"`
		User  string `json:"user,omitempty"`
		Name  string `json:"name,omitempty"`
		// Server is the node this connection went to, of those given.
		Server string `json:"server,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonStats struct {
		Event          string  `json:"event"` // "stats"
		Time           string  `json:"time"`
		ID             string  `json:"id"`
		RTTMs          float64 `json:"rtt_ms"`
		JitterMs       float64 `json:"jitter_ms"`
		Loss           float64 `json:"loss"`
		JitterBufferMs float64 `json:"jitter_buffer_ms"`
		MOS            float64 `json:"mos"`
		Relayed        bool    `json:"relayed"`
		Transport      string  `json:"transport"`
		SendLoss       int64   `json:"send_fec_loss_pct"`
		SendBitrate    int64   `json:"send_bitrate"`
	}
	jsonWarning struct {
		Event string  `json:"event"` // "warning" or "warning_cleared"
		Time  string  `json:"time"`
		ID    string  `json:"id"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	}
	jsonVerification struct {
		Event string `json:"event"` // "verification"
		Time  string `json:"time"`
		ID    string `json:"id"`
		Code  string `json:"code"`
	}
	jsonDevice struct {
		Event  string `json:"event"` // "device"
		Time   string `json:"time"`
		ID     string `json:"id,omitempty"`
		Kind   string `json:"kind"`
		Device string `json:"device"`
		Lost   bool   `json:"lost,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonMicWarning struct {
		Event  string `json:"event"` // "mic_warning"
		Time   string `json:"time"`
		ID     string `json:"id,omitempty"`
		Silent bool   `json:"silent"`
	}
)

func (p *Printer) printJSON(ev call.Event) {
	now := p.time(time.Time{})
	var v any
	switch ev := ev.(type) {
	case call.StatusChanged:
		name := "call_status_changed"
		if ev.First {
			name = "call"
		}
		v = jsonStatus{Event: name, Time: p.time(ev.At), CallEvent: ev.CallEvent, Untold: ev.Untold}
	case call.Muted:
		v = jsonMute{Event: "mute", Time: now, ID: ev.CallID, Local: ev.Local, Muted: ev.Muted}
	case call.Held:
		v = jsonHold{Event: "hold", Time: now, ID: ev.CallID, Held: ev.Held, By: ev.By, Local: ev.Local}
	case call.Switched:
		v = jsonSwitched{Event: "switched", Time: now, ID: ev.CallID, HeldID: ev.HeldID}
	case call.Failure:
		v = jsonError{Event: "error", Time: now, CallID: ev.CallID, Error: ev.Err}
	case call.Verification:
		v = jsonVerification{Event: "verification", Time: now, ID: ev.CallID, Code: ev.Code}
	case call.VoiceMessage:
		v = struct {
			Event string `json:"event"` // "voice_message"
			Time  string `json:"time"`
			signaling.VoiceMessage
		}{"voice_message", now, ev.VoiceMessage}
	case call.Connected:
		v = jsonConnected{Event: "connected", Time: now, Up: ev.Up, User: ev.User, Name: ev.Name, Server: ev.Server}
		if ev.Err != nil {
			v = jsonConnected{Event: "connected", Time: now, Error: ev.Err.Error()}
		}
	case call.Stats:
		v = jsonStats{Event: "stats", Time: now, ID: ev.CallID, RTTMs: ms(ev.RTT), JitterMs: ms(ev.Jitter),
			Loss: ev.Loss, JitterBufferMs: ms(ev.JitterBuffer), MOS: math.Round(ev.MOS*100) / 100,
			Relayed: ev.Relayed, Transport: ev.Network, SendLoss: ev.SendLoss, SendBitrate: ev.SendBitrate}
	case call.Warning:
		name := "warning"
		if !ev.Raised {
			name = "warning_cleared"
		}
		v = jsonWarning{Event: name, Time: now, ID: ev.CallID, Name: ev.Name, Value: math.Round(ev.Value*100) / 100}
	default:
		return
	}
	writeJSON(p.w, v)
}

// time is t, or now when t is zero, as the events' "time".
func (p *Printer) time(t time.Time) string {
	if t.IsZero() {
		t = p.now()
	}
	return t.UTC().Format(TimeFormat)
}

// TimeFormat is the layout of the events' "time": RFC 3339 with
// milliseconds, in UTC ("2026-01-02T03:04:05.120Z").
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// JSON writes v as one JSON line, made harmless (HarmlessJSON): the
// --json output of the commands that show data.
func JSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("callfmt: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", HarmlessJSON(b))
	return err
}

// writeJSON writes v as one harmless JSON line.
func writeJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", HarmlessJSON(b))
}

// HarmlessJSON returns JSON from encoding/json with the characters
// signaling.Printable escapes written as \u escapes. encoding/json escapes
// the C0 controls but writes DEL, the C1 controls (U+009B is CSI to some
// terminals) and the bidi controls as they are: escaped, the output is as
// harmless on a terminal as text output, and a script decodes the very
// text that came. Outside strings, JSON is ASCII, so only strings change.
func HarmlessJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r < 0x7f || unicode.IsPrint(r) {
			out = append(out, b[i:i+n]...)
		} else if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2) // beyond the BMP: a surrogate pair
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// List writes items (a slice) as one JSON object named for them, such as
// {"contacts":[…]}: the --json output of the commands that list. No items
// is an empty list, not null.
func List(w io.Writer, name string, items any) error {
	if v := reflect.ValueOf(items); v.Kind() == reflect.Slice && v.IsNil() {
		items = []struct{}{}
	}
	return JSON(w, map[string]any{name: items})
}

// jsonAudioDevice is a sound device in `parley devices --json`.
type jsonAudioDevice struct {
	Index          int    `json:"index"` // what --in and --out take, as the name does
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"` // the sound server's, for its sinks and sources
	Monitor        bool   `json:"monitor,omitempty"`     // a source that records what a sink plays
	InputChannels  int    `json:"input_channels"`        // 0: not a microphone
	OutputChannels int    `json:"output_channels"`
	DefaultInput   bool   `json:"default_input"`
	DefaultOutput  bool   `json:"default_output"`
	HostAPI        string `json:"host_api"`
}

// AudioDevices writes devs as `parley devices --json` does:
// {"devices":[{"index","name","description","monitor","input_channels",
// "output_channels","default_input","default_output","host_api"}…]}.
func AudioDevices(w io.Writer, devs []audio.Device) error {
	out := make([]jsonAudioDevice, len(devs))
	for i, d := range devs {
		out[i] = jsonAudioDevice{Index: d.Index, Name: d.Name, Description: d.Description, Monitor: d.Monitor,
			InputChannels:  d.MaxInputChannels,
			OutputChannels: d.MaxOutputChannels, DefaultInput: d.DefaultInput, DefaultOutput: d.DefaultOutput,
			HostAPI: d.HostAPI}
	}
	return List(w, "devices", out)
}
