// Package doctor is `parley doctor`: it checks what a call needs, one line
// each, and says what to do about each failure: the audio devices (listed,
// opened, 2 s recorded with the level shown, a test tone played), the
// server (reachable, token valid, round trip), STUN and TURN over UDP and
// TCP with its own probe, and a call to the echo service with its round
// trip and quality.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// Check is one line of the checklist.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Skip   bool   `json:"skipped,omitempty"` // not applicable here: neither pass nor fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // what to do, for a failure
}

// Options are what the checks need: the command's settings, resolved.
type Options struct {
	Out  io.Writer // where the checklist goes
	JSON bool      // the checklist as one JSON object, at the end
	Log  *slog.Logger
	HTTP *http.Client // nil: http.DefaultClient

	Input, Output string // the devices to check (specs, as for --in and --out)
	NoAudio       bool   // skip them (a machine without a sound system)

	// Setup is why the configuration cannot be used (no server, no token):
	// the checks stop after the audio devices, with what to do.
	Setup       error
	Server      string
	Token       string                                    // when TokenSource is nil
	TokenSource func(ctx context.Context) (string, error) // a device signed in with `parley login`

	// Call is the media path of the echo call (ICE servers, relay only);
	// its ICE servers are checked besides the server's. ICEError is why
	// some of those given could not be used.
	Call     call.Config
	ICEError error

	EchoUser  string        // the echo service's user id
	EchoDelay time.Duration // how long it holds audio before playing it back
}

// doctor runs the checks and collects their results.
type doctor struct {
	o      Options
	checks []Check
}

// Run runs the checks and prints them: each as it ends, or, with JSON, all
// at the end in one object ({"ok":…,"checks":[…]}). It reports whether
// every check passed (or was skipped).
func Run(ctx context.Context, o Options) bool {
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &doctor{o: o}
	d.run(ctx)
	if o.JSON {
		b, _ := json.MarshalIndent(struct {
			OK     bool    `json:"ok"`
			Checks []Check `json:"checks"`
		}{d.passed(), d.checks}, "", "  ")
		fmt.Fprintf(o.Out, "%s\n", callfmt.HarmlessJSON(b))
	} else if d.passed() {
		fmt.Fprintln(o.Out, "all checks passed")
	}
	return d.passed()
}

func (d *doctor) add(c Check) {
	d.checks = append(d.checks, c)
	if d.o.JSON {
		return
	}
	mark := "✓"
	switch {
	case c.Skip:
		mark = "-"
	case !c.OK:
		mark = "✗"
	}
	callfmt.Say(d.o.Out, "%s %-18s %s", mark, c.Name, c.Detail) // the detail may hold the server's words
	if !c.OK && !c.Skip && c.Fix != "" {
		callfmt.Say(d.o.Out, "  %-18s → %s", "", c.Fix)
	}
}

func (d *doctor) passed() bool {
	for _, c := range d.checks {
		if !c.OK && !c.Skip {
			return false
		}
	}
	return true
}

func (d *doctor) run(ctx context.Context) {
	o := d.o
	if !o.NoAudio {
		d.audio(o.Input, o.Output)
	}
	if o.Setup != nil {
		d.add(Check{Name: "configuration", Detail: o.Setup.Error(),
			Fix: "sign in with `parley login INVITE` (your admin gives you the invite), or pass --server and --token"})
		return
	}
	if !d.server(ctx, o.Server) {
		return
	}
	// A device signed in with `parley login` trades its credential for an
	// access token, as every command does.
	token := o.Token
	if o.TokenSource != nil {
		var err error
		if token, err = o.TokenSource(ctx); err != nil {
			d.add(Check{Name: "token", Detail: err.Error(),
				Fix: "sign in again with `parley login INVITE`: this device may have been revoked"})
			return
		}
	}
	sig, ok := d.signIn(ctx, o.Server, token)
	if !ok {
		return
	}
	if o.ICEError != nil {
		d.add(Check{Name: "ICE servers", Detail: o.ICEError.Error(),
			Fix: "fix the --ice-server flags or ice_servers in the config"})
	}
	servers := append(append([]signaling.ICEServer(nil), sig.ICEServers...), o.Call.ICEServers...)
	sig.Close()
	d.network(servers)
	d.echoCall(ctx, o.Server, token, o.EchoUser, o.EchoDelay, o.Call)
}
