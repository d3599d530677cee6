package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/internal/devices"
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
	audio   audioFlags    // --aec, --noise-suppression, --agc (audio.go)
	ring    string        // --ring-device, where registered
	low     bool          // --low-latency: 10 ms frames
	callee  string        // the user to call, checked before the phone starts (callable)
	control bool          // open the control socket (parley ctl) once signed in
	ringFor time.Duration // --ring-timeout of call: give up when not answered in this time
}

func (f *mediaFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.in, "in", "", "audio source `SRC`: default, device name or index, file:PATH.wav, "+
		"tone:HZ, silence (default: the saved input, else default)")
	c.Flags().StringVar(&f.out, "out", "", "audio sink `SINK`: default, device name or index, file:PATH.wav, null "+
		"(default: the saved output, else default)")
	c.Flags().DurationVar(&f.hold, "for", 0, "hang up this long after the call is answered "+
		"(default: stay until the other side hangs up)")
	c.Flags().BoolVar(&f.json, "json", false, "print one JSON object per line for every event")
	f.audio.register(c, false)
	f.ice.register(c.Flags())
	c.Flags().BoolVar(&f.low, "low-latency", false, lowLatencyHelp)
}

const lowLatencyHelp = "send and play 10 ms frames instead of 20 ms: less delay, for more CPU and packets"

func (e *env) callCommand() *cobra.Command {
	var f mediaFlags
	var v voiceFlags
	var commands, control string
	c := &cobra.Command{
		Use:   "call USER [USER...]",
		Short: "Place a call to USER, or call several people together in a room",
		Long: `Place a call to USER and stay in it until either side hangs up (or --for
elapses). The line "add USER..." of --commands (or the other side's) grows the
call into a room: both of you move into it without a gap in the audio, the
people added are rung, and call goes on as parley join (it prints the room's
events, and --for then counts from joining it).

With two or more USERs, call makes a room of which you are the host, rings
them all, joins it and stays as parley join does (with --json, it prints
what join --json prints, the invitations' statuses included).

` + specHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmds, err := e.controlLines(commands, control)
			if err != nil {
				return &exitCode{code: exitUsage, err: err}
			}
			if err := v.check(); err != nil {
				return &exitCode{code: exitUsage, err: err}
			}
			if len(args) == 1 {
				f.callee = args[0]
			} else if v.src != "" {
				return &exitCode{code: exitUsage, err: errors.New("--leave-message is for a call to one USER")}
			}
			f.control = true
			ph, pr, err := e.phone(cmd.Context(), f, call.Config{})
			if err != nil {
				return e.afterCall(cmd.Context(), args[0], v, f.json, err) // voicemail.go
			}
			defer ph.Close()
			if len(args) > 1 {
				ph.CallMany(args...)
				return stay(cmd.Context(), ph, pr, "", f.hold, cmds)
			}
			ph.Dial(args[0])
			err = converse(cmd.Context(), ph, pr, f.hold, f.ringFor, nil, cmds)
			return e.afterCall(cmd.Context(), args[0], v, f.json, grow(cmd.Context(), ph, pr, f.hold, cmds, err))
		},
	}
	f.register(c)
	v.register(c) // voicemail.go
	c.Flags().StringVar(&commands, "commands", "", "read actions from `FILE` (- for stdin), one a line: "+
		"add USER... (grow the call into a room), mute, unmute, hold, resume, hangup, swap; once in a room, those of "+
		"parley join")
	c.Flags().StringVar(&control, "control", "", controlHelp)
	c.Flags().DurationVar(&f.ringFor, "ring-timeout", 0, "give up when the call is not answered in `DUR`: it "+
		"ends unanswered, reason \"no answer\" (exit 4) (default: the server's ring timeout)")
	return c
}

// grewInto is what converse returns when the call moves into a room grown
// from it (call.Grew).
type grewInto struct{ room string }

func (g grewInto) Error() string { return "the call moves into room " + g.room }

// grow follows the call into its room when converse ended with grewInto,
// as parley join stays in a room; otherwise it returns err.
func grow(ctx context.Context, ph *call.Phone, pr *callfmt.Printer, hold time.Duration, cmds <-chan string,
	err error) error {
	var g grewInto
	if errors.As(err, &g) {
		return stay(ctx, ph, pr, g.room, hold, cmds)
	}
	return err
}

// callAction carries out a line of call's commands (--commands, or
// standard input) and answers it: a reply once it is taken, an error with
// its code when it is refused. A line is words (add USER..., or a
// call.Command) or a JSON object {"command":…,"users":[…],"ref":…}.
func callAction(ph *call.Phone, pr *callfmt.Printer, line string) {
	var c struct {
		Command string   `json:"command"`
		Users   []string `json:"users,omitempty"` // add
		Ref     string   `json:"ref,omitempty"`   // echoed in the answer
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil || c.Command == "" {
			pr.Refused("", "", signaling.Errorf(signaling.InvalidParameter, "%.64q is no command: send "+
				`{"command":"hold"} and the like, one object a line (%v)`, line, err))
			return
		}
		c.Ref = signaling.FitReason(c.Ref)
	} else if w := strings.Fields(line); len(w) > 0 {
		c.Command, c.Users = w[0], w[1:]
	} else {
		return
	}
	var err error
	switch {
	case c.Command == "status" && len(c.Users) == 0:
		answerStatus(ph, pr, c.Ref) // ctl.go
		return
	case c.Command == "add" && len(c.Users) > 0:
		ph.Grow(c.Users...)
	case len(c.Users) == 0 && slices.Contains(call.Commands(), call.Command(c.Command)):
		err = ph.Do(call.Command(c.Command)) // mute, unmute and hangup (leave) in a room too
	case inRoom(ph):
		// The room's own actions, as parley join --commands reads them.
		err = roomAction(ph, strings.Join(append([]string{c.Command}, c.Users...), " "))
	case len(c.Users) > 0:
		err = signaling.Errorf(signaling.InvalidParameter, "%.64q takes no users: only add does", c.Command)
	default:
		err = signaling.Errorf(signaling.InvalidParameter, "%.64q is no command in a call: use mute, unmute, "+
			"hold, resume, hangup, answer, reject, swap, status or add USER...", line)
	}
	if err != nil {
		pr.Refused(c.Command, c.Ref, signaling.AsError(err))
		return
	}
	pr.Reply(c.Command, c.Ref)
}

// inRoom reports whether ph is in a room (or joining one).
func inRoom(ph *call.Phone) bool {
	st, err := ph.Status()
	return err == nil && st.Room != nil
}

// controlLines are the lines of commands for a running call: those of
// --commands FILE if given, else those of standard input when it is not a
// terminal (or with --control stdin). None with --control none.
func (e *env) controlLines(commands, control string) (<-chan string, error) {
	switch {
	case control != "" && control != "stdin" && control != "none":
		return nil, fmt.Errorf("--control %.20q: use stdin or none", control)
	case commands != "":
		lines, err := e.readCommands(commands)
		if err != nil {
			return nil, fmt.Errorf("--commands: %w", err)
		}
		return lines, nil
	case control == "stdin" || control == "" && !isTerminal(os.Stdin):
		return e.readCommands("-")
	}
	return nil, nil
}

// isTerminal reports whether f is a terminal, as far as a command reading
// it cares: /dev/null (a character device too) reads as empty either way.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err != nil || st.Mode()&os.ModeCharDevice != 0
}

const controlHelp = "read commands from `stdin` (the default when it is not a terminal), or none: mute, unmute, " +
	"hold, resume, hangup, answer, reject, swap, status, one a line, or JSON objects such as {\"command\":\"hold\"}"

func (e *env) answerCommand() *cobra.Command {
	var f mediaFlags
	var reject, rejectMessage, auto bool
	var control string
	c := &cobra.Command{
		Use:   "answer",
		Short: "Wait for the next incoming call and answer it (or reject it)",
		Long: "Wait for the next incoming call and answer it, or reject it with --reject. An\n" +
			"invitation to a room that rings (parley room create --invite) is answered by\n" +
			"joining the room, as parley join does.\n\n" + specHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmds, err := e.controlLines("", control)
			if err != nil {
				return &exitCode{code: exitUsage, err: err}
			}
			if api, _, err := e.userAPI(); err == nil {
				e.signInNotice(cmd.Context(), api) // history.go
			}
			f.control = true
			// --auto takes calls one at a time: one during another is busy.
			ph, pr, err := e.phone(cmd.Context(), f, call.Config{NoWaiting: auto})
			if err != nil {
				return err
			}
			defer ph.Close()
			onIncoming := func() {
				switch {
				case rejectMessage:
					ph.RejectLeaveMessage() // voicemail.go
				case reject:
					ph.Reject()
				default:
					ph.Answer()
				}
			}
			if control == "stdin" {
				onIncoming = func() {} // the script answers or rejects
			}
			for {
				err = converse(cmd.Context(), ph, pr, f.hold, 0, onIncoming, cmds)
				var inv roomInvitation // roomanswer.go
				if errors.As(err, &inv) {
					err = answerRoom(cmd.Context(), ph, pr, inv.room, reject, f.hold)
				} else {
					err = grow(cmd.Context(), ph, pr, f.hold, nil, err) // the caller grew the call into a room
				}
				if !auto {
					return err
				}
				// --auto: the next call, until stopped, or until the phone
				// cannot go on (it stopped, or the server refuses its token).
				var ec *exitCode
				switch {
				case cmd.Context().Err() != nil:
					return nil
				case errors.Is(err, errPhoneStopped), errors.As(err, &ec) && ec.code == exitError:
					return err
				}
			}
		},
	}
	f.register(c)
	c.Flags().BoolVar(&reject, "reject", false, "reject the call instead of answering")
	c.Flags().BoolVar(&rejectMessage, "reject-message", false, "reject the call, asking the caller to leave a "+
		"voice message (reason \"leave a message\")")
	c.Flags().BoolVar(&auto, "auto", false, "answer (or reject) every call, one at a time, until interrupted: "+
		"the exit status is then 0, or that of the call that failed with an error")
	c.Flags().StringVar(&control, "control", "", controlHelp+"; with --control stdin the call rings until "+
		"the answer or reject command")
	c.Flags().StringVar(&f.ring, "ring-device", "", "speaker the ringtone plays on until the call is answered "+
		"(default: the config's ring_device, else --out)")
	return c
}

// phone starts a phone for a command with media flags. The caller closes
// it.
func (e *env) phone(ctx context.Context, f mediaFlags, pc call.Config) (*call.Phone, *callfmt.Printer, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, nil, fail(err)
	}
	if pc.Devices == nil {
		if err := f.checkSpecs(cfg); err != nil {
			return nil, nil, &exitCode{code: exitUsage, err: err}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fail(&setupError{err})
	}
	log, err := e.logger("parley")
	if err != nil {
		return nil, nil, fail(err)
	}
	pr := callfmt.NewPrinter(e.stdout, e.stderr, f.json, untoldWait)
	pc.Server, pc.Token, pc.Logger, pc.HTTPClient = cfg.Server, cfg.Token, log, e.http
	pc.Servers = cfg.ServerList()
	pc.Token, pc.TokenSource = e.auth(cfg)
	pc.Reconnect = true // a server restart or a network change is survived
	pc.CallWaiting = cfg.CallWaiting
	if pc.Devices == nil {
		outLat, err := f.audio.outputLatency(cfg)
		if err != nil {
			return nil, nil, &exitCode{code: exitUsage, err: err}
		}
		ring := f.ring
		if ring == "" {
			ring = cfg.RingDevice
		}
		d := devices.New(devices.Options{
			Input: devices.Pick(f.in, cfg.Input), Output: devices.Pick(f.out, cfg.Output), Ring: ring,
			OutputLatency: outLat, Logger: log,
		})
		e.closers = append(e.closers, d)
		pc.Devices = d
	}
	pc.Processing = f.audio.processing(cfg, call.DefaultProcessing)
	if f.low {
		pc.Frame = 10 * time.Millisecond
	}
	if err := f.ice.apply(&pc, cfg); err != nil {
		return nil, nil, fail(err)
	}
	// An interrupt ends the sign-in, but not the phone: converse ends the
	// call its own way (it hangs up and waits for the server to confirm,
	// or to come back and be told), and the command closes the phone.
	phoneCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.closers = append(e.closers, closeFunc(stop))
	signingIn := context.AfterFunc(ctx, stop)
	ph, err := call.Start(phoneCtx, pc)
	if !signingIn() { // interrupted: the phone, if it started, is stopping
		if ph != nil {
			ph.Close()
		}
		return nil, nil, &exitCode{code: 130}
	}
	if err != nil {
		return nil, nil, e.refused(pr, f.json, err)
	}
	if f.callee != "" && f.callee != ph.User() { // calling yourself is the server's to refuse
		if err := callable(ctx, e.peopleAPI(cfg, pc.Token, pc.TokenSource), f.callee); err != nil {
			printPending(ph, pr) // signed in: told first, as when the server refuses the call
			ph.Close()
			return nil, nil, e.refused(pr, f.json, err)
		}
	}
	if f.control {
		e.openControl(ph, log)
	}
	return ph, pr, nil
}

// printPending prints the events the phone has reported so far.
func printPending(ph *call.Phone, pr *callfmt.Printer) {
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				return
			}
			pr.Print(ev)
		default:
			return
		}
	}
}

// checkSpecs finds what is wrong with the source and sink specs (the flags,
// else the saved ones) before anything is opened and before signing in.
func (f *mediaFlags) checkSpecs(cfg config.Config) error {
	for _, c := range []struct {
		flag, given, key, saved string
		check                   func(string) error
	}{
		{"--in", f.in, "input", cfg.Input, devices.CheckSource},
		{"--out", f.out, "output", cfg.Output, devices.CheckSink},
		{"--ring-device", f.ring, "ring_device", cfg.RingDevice, devices.CheckSink},
	} {
		if c.given == "" && c.saved == "" {
			continue // the default device
		}
		if err := c.check(devices.Pick(c.given, c.saved)); err != nil {
			if c.given == "" {
				return fmt.Errorf("the config's %s: %w", c.key, err)
			}
			return fmt.Errorf("%s: %w", c.flag, err)
		}
	}
	return nil
}

// callable refuses a callee who does not exist (or whom the caller may not
// see), who is offline, busy or in do not disturb, as the server would
// refuse the call (and keeps it in both histories, as it would), before
// the phone opens the audio devices for it: a call to nobody reports that,
// not a missing speaker. Whatever else goes wrong in asking is left to
// the call.
func callable(ctx context.Context, api *signaling.API, user string) error {
	_, err := api.Callable(ctx, user)
	var se *signaling.Error
	if errors.As(err, &se) {
		switch se.Code {
		case signaling.NotFoundUserSessionID, signaling.InvalidParameter, signaling.NoConnectedDestination,
			signaling.AlreadyBusyCall:
			return err
		}
	}
	return nil
}

// refused reports an error that came before any call: as an error event
// with --json, on stderr otherwise. It is coded either way (80999 when
// nothing more specific applies), so that the exit status does not depend
// on --json; a server that could not be reached has its own.
func (e *env) refused(pr *callfmt.Printer, asJSON bool, err error) error {
	var u *signaling.UnreachableError
	if !errors.As(err, &u) {
		err = signaling.AsError(err)
	}
	if asJSON {
		pr.Error(signaling.AsError(err))
		return &exitCode{code: failCode(err), cause: err}
	}
	return fail(err)
}

// cannotSignIn says the connection was lost for a token the server refuses:
// the phone reconnects by itself otherwise.
func cannotSignIn(ev call.Connected) bool {
	var se *signaling.Error
	return !ev.Up && errors.As(ev.Err, &se) && se.Code == signaling.InvalidToken
}

// converse prints the phone's events until the call ends and returns the
// exit status that says how, or grewInto when it moves into a room. onIncoming runs when a call comes in;
// cmds are the lines of --commands (callAction). An outbound call not
// answered ringFor after it started is given up (0: never).
func converse(ctx context.Context, ph *call.Phone, pr *callfmt.Printer, hold, ringFor time.Duration,
	onIncoming func(), cmds <-chan string) error {
	var hangup, ringing <-chan time.Time
	interrupted := ctx.Done()
	var giveUp <-chan time.Time
	inCall := false
	untold := false            // the call was hung up while the server was unreachable, and it is not told yet
	calls := map[string]bool{} // the calls in progress: the command's, and a waiting call beside it
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				return &exitCode{code: exitFailed, err: errPhoneStopped}
			}
			pr.Print(ev)
			switch ev := ev.(type) {
			case call.StatusChanged:
				inCall = true
				if ev.First && ev.Direction == signaling.Inbound && onIncoming != nil {
					onIncoming()
					onIncoming = nil
				}
				calls[ev.ID] = true
				if ev.Status == signaling.Answered && ev.Reason == call.ReasonAnsweredElsewhere {
					if delete(calls, ev.ID); len(calls) == 0 {
						return &exitCode{code: exitUnanswered} // not here: another device took it
					}
					continue
				}
				if ev.First && ev.Direction == signaling.Outbound && ringFor > 0 {
					ringing = time.After(ringFor)
				}
				if ev.Status == signaling.Answered {
					ringing = nil
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
					if delete(calls, ev.ID); len(calls) == 0 { // the other call goes on (call waiting)
						if ev.Status == signaling.Rejected && ev.Reason == signaling.ReasonLeaveMessage {
							return &exitCode{code: exitRejected, cause: errLeaveMessage} // voicemail.go
						}
						return statusExit(ev.Status)
					}
				}
			case call.Failure:
				return &exitCode{code: exitError}
			case call.Grew:
				return grewInto{room: ev.Room}
			case call.RoomChanged:
				if onIncoming != nil && !inCall && ev.Kind == signaling.RoomInvited && ev.Status == signaling.Ringing {
					return roomInvitation{room: ev.Room} // answered or rejected by answerRoom (roomanswer.go)
				}
			case call.Connected:
				if ev.Up && untold {
					return nil // told: the phone sends the hang-up at once
				}
				if cannotSignIn(ev) {
					return &exitCode{code: exitError}
				}
			}
		case line, ok := <-cmds:
			if !ok {
				cmds = nil // the end of the file: stay until told otherwise
			} else {
				callAction(ph, pr, line)
			}
		case <-hangup:
			hangup = nil
			ph.Hangup()
		case <-ringing:
			ringing = nil
			ph.GiveUp()
		case <-interrupted:
			if !inCall || untold {
				return &exitCode{code: 130}
			}
			interrupted = nil
			ph.Hangup()
			giveUp = time.After(3 * time.Second)
		case <-giveUp:
			if untold {
				return &exitCode{code: exitFailed, err: fmt.Errorf("the server was still unreachable %s after "+
					"the hang-up: the other side stays in the call until the server gives up on this side", untoldWait)}
			}
			return &exitCode{code: exitFailed, err: errors.New("the server did not confirm the hang-up")}
		}
	}
}

// errPhoneStopped: the phone's events ended, which nothing but Close does.
var errPhoneStopped = errors.New("the phone stopped")

// closeFunc is a function to call when the command is over.
type closeFunc func()

func (f closeFunc) Close() error { f(); return nil }

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
