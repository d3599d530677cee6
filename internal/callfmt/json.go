package callfmt

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// The --json forms of the events: one object per line, named by "event".
// Status events carry the Gitple payload {"id","status","direction","from",
// "to"} with "event" beside it. The README's "Scripts" section documents
// them; scripts depend on every field.
type (
	jsonStatus struct {
		Event string `json:"event"` // "call" (the first of a call) or "call_status_changed"
		signaling.CallEvent
		Untold bool `json:"untold,omitempty"` // call.StatusChanged.Untold
	}
	jsonMute struct {
		Event string `json:"event"` // "mute"
		ID    string `json:"id"`
		Local bool   `json:"local"`
		Muted bool   `json:"muted"`
	}
	jsonError struct {
		Event  string `json:"event"` // "error"
		CallID string `json:"id,omitempty"`
		*signaling.Error
	}
	jsonConnected struct {
		Event string `json:"event"` // "connected"
		Up    bool   `json:"up"`
		User  string `json:"user,omitempty"`
		Name  string `json:"name,omitempty"`
		// Server is the node this connection went to, of those given.
		Server string `json:"server,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonStats struct {
		Event          string  `json:"event"` // "stats"
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
		ID    string  `json:"id"`
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	}
	jsonVerification struct {
		Event string `json:"event"` // "verification"
		ID    string `json:"id"`
		Code  string `json:"code"`
	}
	jsonDevice struct {
		Event  string `json:"event"` // "device"
		ID     string `json:"id,omitempty"`
		Kind   string `json:"kind"`
		Device string `json:"device"`
		Lost   bool   `json:"lost,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonMicWarning struct {
		Event  string `json:"event"` // "mic_warning"
		ID     string `json:"id,omitempty"`
		Silent bool   `json:"silent"`
	}
)

func (p *Printer) printJSON(ev call.Event) {
	var v any
	switch ev := ev.(type) {
	case call.StatusChanged:
		name := "call_status_changed"
		if ev.First {
			name = "call"
		}
		v = jsonStatus{Event: name, CallEvent: ev.CallEvent, Untold: ev.Untold}
	case call.Muted:
		v = jsonMute{Event: "mute", ID: ev.CallID, Local: ev.Local, Muted: ev.Muted}
	case call.Failure:
		v = jsonError{Event: "error", CallID: ev.CallID, Error: ev.Err}
	case call.Verification:
		v = jsonVerification{Event: "verification", ID: ev.CallID, Code: ev.Code}
	case call.Connected:
		v = jsonConnected{Event: "connected", Up: ev.Up, User: ev.User, Name: ev.Name, Server: ev.Server}
		if ev.Err != nil {
			v = jsonConnected{Event: "connected", Error: ev.Err.Error()}
		}
	case call.Stats:
		v = jsonStats{Event: "stats", ID: ev.CallID, RTTMs: ms(ev.RTT), JitterMs: ms(ev.Jitter), Loss: ev.Loss,
			JitterBufferMs: ms(ev.JitterBuffer), MOS: math.Round(ev.MOS*100) / 100, Relayed: ev.Relayed,
			Transport: ev.Network, SendLoss: ev.SendLoss, SendBitrate: ev.SendBitrate}
	case call.Warning:
		name := "warning"
		if !ev.Raised {
			name = "warning_cleared"
		}
		v = jsonWarning{Event: name, ID: ev.CallID, Name: ev.Name, Value: math.Round(ev.Value*100) / 100}
	default:
		return
	}
	writeJSON(p.w, v)
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
