package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

const specHelp = `SRC is default (the default microphone), a device name or index, file:PATH.wav
(played at real-time pace, then silence), tone:HZ or silence.
SINK is default, a device name or index, file:PATH.wav (48 kHz mono 16-bit,
written as it plays) or null.`

// mediaFlags are the flags of the commands that carry audio.
type mediaFlags struct {
	ice     iceFlags
	in, out string
	hold    time.Duration
	json    bool
	audio   audioFlags // --aec, --noise-suppression, --agc (cmd_audio.go)
	ring    string     // --ring-device, where registered
	low     bool       // --low-latency: 10 ms frames
}

func (f *mediaFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.in, "in", "", "audio source: default, device name or index, file:PATH.wav, tone:HZ, silence (default: the saved input, else default)")
	c.Flags().StringVar(&f.out, "out", "", "audio sink: default, device name or index, file:PATH.wav, null (default: the saved output, else default)")
	c.Flags().DurationVar(&f.hold, "for", 0, "hang up this long after the call is answered (default: stay until the other side hangs up)")
	c.Flags().BoolVar(&f.json, "json", false, "print one JSON object per line for every event")
	f.audio.register(c, "the config's aec, noise_suppression and agc, else on")
	f.ice.register(c.Flags())
	c.Flags().BoolVar(&f.low, "low-latency", false, lowLatencyHelp)
}

const lowLatencyHelp = "send and play 10 ms frames instead of 20 ms: less delay, for more CPU and packets"

func (e *env) callCommand() *cobra.Command {
	var f mediaFlags
	c := &cobra.Command{
		Use:   "call USER",
		Short: "Place a call to USER",
		Long:  "Place a call to USER and stay in it until either side hangs up (or --for elapses).\n\n" + specHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ph, pr, err := e.phone(cmd.Context(), f, call.Config{})
			if err != nil {
				return err
			}
			defer ph.Close()
			ph.Dial(args[0])
			return converse(cmd.Context(), ph, pr, f.hold, nil)
		},
	}
	f.register(c)
	return c
}

func (e *env) answerCommand() *cobra.Command {
	var f mediaFlags
	var reject bool
	c := &cobra.Command{
		Use:   "answer",
		Short: "Wait for the next incoming call and answer it (or reject it)",
		Long:  "Wait for the next incoming call and answer it, or reject it with --reject.\n\n" + specHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ph, pr, err := e.phone(cmd.Context(), f, call.Config{})
			if err != nil {
				return err
			}
			defer ph.Close()
			return converse(cmd.Context(), ph, pr, f.hold, func() {
				if reject {
					ph.Reject()
				} else {
					ph.Answer()
				}
			})
		},
	}
	f.register(c)
	c.Flags().BoolVar(&reject, "reject", false, "reject the call instead of answering")
	c.Flags().StringVar(&f.ring, "ring-device", "", "speaker the ringtone plays on until the call is answered (default: the config's ring_device, else --out)")
	return c
}

// phone starts a phone for a command with media flags.
func (e *env) phone(ctx context.Context, f mediaFlags, pc call.Config) (*call.Phone, *printer, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, nil, fail(err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fail(err)
	}
	log, err := e.logger("parley")
	if err != nil {
		return nil, nil, fail(err)
	}
	pr := &printer{w: e.stdout, json: f.json}
	pc.Server, pc.Token, pc.Logger, pc.HTTPClient = cfg.Server, cfg.Token, log, e.http
	pc.Servers = cfg.ServerList()
	pc.Token, pc.TokenSource = e.auth(cfg)
	pc.Reconnect = true // a server restart or a network change is survived
	if pc.Devices == nil {
		d := e.devices(log, pick(f.in, cfg.Input), pick(f.out, cfg.Output))
		if d.outLat, err = f.audio.outputLatency(cfg); err != nil {
			return nil, nil, &exitCode{code: exitUsage, err: err}
		}
		d.ring = f.ring
		if d.ring == "" {
			d.ring = cfg.RingDevice
		}
		pc.Devices = d
	}
	pc.Processing = f.audio.processing(cfg, call.DefaultProcessing)
	if f.low {
		pc.Frame = 10 * time.Millisecond
	}
	if err := f.ice.apply(&pc, cfg); err != nil {
		return nil, nil, fail(err)
	}
	ph, err := call.Start(ctx, pc)
	if err != nil {
		// Coded either way (80999 when nothing more specific applies),
		// so that the exit status does not depend on --json.
		se := signaling.AsError(err)
		if f.json {
			pr.error(se)
			return nil, nil, &exitCode{code: exitError}
		}
		return nil, nil, fail(se)
	}
	return ph, pr, nil
}

func pick(flag, saved string) string {
	if flag != "" {
		return flag
	}
	if saved != "" {
		return saved
	}
	return "default"
}

// converse prints the phone's events until the call ends and returns the
// exit status that says how. onIncoming runs when a call comes in.
func converse(ctx context.Context, ph *call.Phone, pr *printer, hold time.Duration, onIncoming func()) error {
	var hangup <-chan time.Time
	interrupted := ctx.Done()
	var giveUp <-chan time.Time
	inCall := false
	untold := false // the call was hung up while the server was unreachable, and it is not told yet
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				return &exitCode{code: exitFailed, err: errors.New("the phone stopped")}
			}
			pr.print(ev)
			switch ev := ev.(type) {
			case call.StatusChanged:
				inCall = true
				if ev.First && ev.Direction == signaling.Inbound && onIncoming != nil {
					onIncoming()
					onIncoming = nil
				}
				if ev.Status == signaling.Answered && ev.Reason == call.ReasonAnsweredElsewhere {
					return &exitCode{code: exitUnanswered} // not here: another device took it
				}
				if ev.Status == signaling.Answered && hold > 0 {
					hangup = time.After(hold)
				}
				if ev.Untold {
					// The phone tells the server once it is back, which
					// ends the call for the other side: wait a while.
					untold = true
					giveUp = time.After(untoldWait)
					continue
				}
				if ev.Status.Terminal() {
					return statusExit(ev.Status)
				}
			case call.Failure:
				return &exitCode{code: exitError}
			case call.Connected:
				if ev.Up && untold {
					return nil // told: the phone sends the hang-up at once
				}
				// The phone reconnects by itself, unless it cannot sign in.
				var se *signaling.Error
				if !ev.Up && errors.As(ev.Err, &se) && se.Code == signaling.InvalidToken {
					return &exitCode{code: exitError}
				}
			}
		case <-hangup:
			hangup = nil
			ph.Hangup()
		case <-interrupted:
			if !inCall || untold {
				return &exitCode{code: 130}
			}
			interrupted = nil
			ph.Hangup()
			giveUp = time.After(3 * time.Second)
		case <-giveUp:
			if untold {
				return &exitCode{code: exitFailed, err: fmt.Errorf("the server was still unreachable %s after the hang-up: the other side stays in the call until the server gives up on this side", untoldWait)}
			}
			return &exitCode{code: exitFailed, err: errors.New("the server did not confirm the hang-up")}
		}
	}
}

// untoldWait is how long a command waits for the server to come back, to
// tell it of a hang-up made while it was unreachable.
const untoldWait = 10 * time.Second

func statusExit(s signaling.Status) error {
	switch s {
	case signaling.Completed:
		return nil
	case signaling.Rejected:
		return &exitCode{code: exitRejected}
	case signaling.Unanswered:
		return &exitCode{code: exitUnanswered}
	default:
		return &exitCode{code: exitFailed}
	}
}

// printer writes the phone's events for people, or as JSON lines.
type printer struct {
	w          io.Writer
	json       bool
	answeredAt time.Time
}

func (p *printer) print(ev call.Event) {
	if p.printAudio(ev) { // device changes and microphone warnings (cmd_audio.go)
		return
	}
	if p.json {
		p.printJSON(ev)
		return
	}
	if line := p.text(ev); line != "" {
		// Names, reasons and messages come from the other side and the
		// server: say makes them harmless.
		say(p.w, "%s", line)
	}
}

// text is the line that tells ev to people, or "".
func (p *printer) text(ev call.Event) string {
	switch ev := ev.(type) {
	case call.StatusChanged:
		return p.describe(ev)
	case call.Muted:
		switch {
		case ev.Local && ev.Muted:
			return "you are muted"
		case ev.Local:
			return "you are unmuted"
		case ev.Muted:
			return "the other side muted"
		default:
			return "the other side unmuted"
		}
	case call.Failure:
		return fmt.Sprintf("error %s (%d): %s", ev.Err.Name, ev.Err.Code, ev.Err.Message)
	case call.Warning:
		if ev.Raised {
			return fmt.Sprintf("warning: %s (%.1f)", ev.Name, ev.Value)
		}
		return fmt.Sprintf("cleared: %s", ev.Name)
	case call.Verification:
		return fmt.Sprintf("verification code: %s (the other side must see the same)", ev.Code)
	case call.Connected:
		if ev.Up {
			return fmt.Sprintf("signed in as %s", signaling.Label(ev.User, ev.Name))
		}
		return fmt.Sprintf("disconnected: %v", ev.Err)
	}
	return ""
}

func (p *printer) describe(ev call.StatusChanged) string {
	peer := signaling.Label(ev.Peer(), ev.PeerName())
	switch ev.Status {
	case signaling.Started:
		if ev.Direction == signaling.Outbound {
			return fmt.Sprintf("calling %s (call %s)", peer, ev.ID)
		}
		if ev.Guest {
			return fmt.Sprintf("Guest %s is waiting, from your guest link (call %s)", peer, ev.ID)
		}
		return fmt.Sprintf("incoming call from %s (call %s)", peer, ev.ID)
	case signaling.Ringing:
		return "ringing"
	case signaling.Answered:
		p.answeredAt = ev.At
		if ev.Reason != "" {
			return "answered: " + ev.Reason
		}
		return "answered"
	case signaling.Completed:
		s := "completed"
		if !p.answeredAt.IsZero() {
			s = fmt.Sprintf("completed after %s", ev.At.Sub(p.answeredAt).Round(100*time.Millisecond))
		}
		if ev.Untold {
			s += fmt.Sprintf(" here; the server is unreachable: waiting up to %s to tell it, which ends the call for the other side", untoldWait)
		}
		return s
	case signaling.Rejected:
		return fmt.Sprintf("%s rejected the call", peer)
	case signaling.Unanswered:
		return "unanswered" + reason(ev.Reason)
	case signaling.Failed:
		return "failed" + reason(ev.Reason)
	}
	return string(ev.Status)
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// The --json forms. Status events carry the Gitple payload
// {"id","status","direction","from","to"} with "event" beside it.
type (
	jsonStatus struct {
		Event string `json:"event"`
		signaling.CallEvent
		Untold bool `json:"untold,omitempty"` // call.StatusChanged.Untold
	}
	jsonMute struct {
		Event string `json:"event"`
		ID    string `json:"id"`
		Local bool   `json:"local"`
		Muted bool   `json:"muted"`
	}
	jsonError struct {
		Event  string `json:"event"`
		CallID string `json:"id,omitempty"`
		*signaling.Error
	}
	jsonConnected struct {
		Event string `json:"event"`
		Up    bool   `json:"up"`
		User  string `json:"user,omitempty"`
		Name  string `json:"name,omitempty"`
		// Server is the node this connection went to, of those given.
		Server string `json:"server,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonStats struct {
		Event          string  `json:"event"`
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
)

func (p *printer) printJSON(ev call.Event) {
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
			JitterBufferMs: ms(ev.JitterBuffer), MOS: math.Round(ev.MOS*100) / 100, Relayed: ev.Relayed, Transport: ev.Network,
			SendLoss: ev.SendLoss, SendBitrate: ev.SendBitrate}
	case call.Warning:
		name := "warning"
		if !ev.Raised {
			name = "warning_cleared"
		}
		v = jsonWarning{Event: name, ID: ev.CallID, Name: ev.Name, Value: math.Round(ev.Value*100) / 100}
	default:
		return
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(p.w, "%s\n", harmlessJSON(b))
}

// harmlessJSON returns JSON from encoding/json with the characters
// signaling.Printable escapes written as \u escapes. encoding/json escapes
// the C0 controls but writes DEL, the C1 controls (U+009B is CSI to some
// terminals) and the bidi controls as they are: escaped, the output is as
// harmless on a terminal as text output, and a script decodes the very
// text that came. Outside strings, JSON is ASCII, so only strings change.
func harmlessJSON(b []byte) []byte {
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

func (p *printer) error(e *signaling.Error) {
	p.print(call.Failure{Err: e})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
