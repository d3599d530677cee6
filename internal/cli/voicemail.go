package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/internal/devices"
	"github.com/parley-voice/parley/signaling"
)

// Voice messages: parley call --leave-message records one when the call
// could not be answered, parley messages lists them, parley play plays
// one (signaling/voicemail.go has the API).

const leaveMessageHelp = "when the call is not answered, is refused because the callee is offline, busy or in " +
	"do not disturb, or they reject it asking for a message, leave a voice message from `SRC`: file:PATH.wav " +
	"(sent at once, its first 2 minutes), " +
	"default (the microphone: speak, then press Enter), a device, or tone:HZ"

// voiceFlags are the flags of call that leave a voice message.
type voiceFlags struct {
	src    string        // --leave-message
	length time.Duration // --message-length
}

func (v *voiceFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&v.src, "leave-message", "", leaveMessageHelp)
	c.Flags().DurationVar(&v.length, "message-length", signaling.MaxVoiceMessage, "record at most `DUR` of "+
		"a live --leave-message source (the microphone stops earlier at Enter)")
}

// check refuses bad flags before anything starts.
func (v *voiceFlags) check() error {
	if v.src == "" {
		return nil
	}
	if v.length <= 0 || v.length > signaling.MaxVoiceMessage {
		return fmt.Errorf("--message-length %v: use a duration up to %v", v.length, signaling.MaxVoiceMessage)
	}
	if err := devices.CheckSource(v.src); err != nil {
		return fmt.Errorf("--leave-message: %w", err)
	}
	return nil
}

// errLeaveMessage is the end of a call the callee rejected asking for a
// voice message (signaling.ReasonLeaveMessage).
var errLeaveMessage = errors.New("the callee asks you to leave a voice message")

// leaves reports whether a call that ended with err (the exit of converse,
// or a refusal before it rang) is one to leave a voice message after: not
// answered, refused because of the callee, or rejected by them asking for
// one.
func leaves(err error) bool {
	if errors.Is(err, errLeaveMessage) {
		return true
	}
	var ec *exitCode
	if errors.As(err, &ec) && ec.code == exitUnanswered {
		return true
	}
	var se *signaling.Error
	return errors.As(err, &se) &&
		(se.Code == signaling.NoConnectedDestination || se.Code == signaling.AlreadyBusyCall)
}

// leaveMessage records a voice message from v.src and leaves it for user,
// and tells so (as a voice_message_left event with --json).
func (e *env) leaveMessage(ctx context.Context, user string, v voiceFlags, asJSON bool) error {
	api, _, err := e.userAPI()
	if err != nil {
		return fail(err)
	}
	if !asJSON {
		say(e.stderr, "Leave %s a voice message…", user)
	}
	ogg, err := e.recordVoice(ctx, v, asJSON)
	if err != nil {
		return fail(err)
	}
	// An interrupt ends the recording, not its sending.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	m, err := api.LeaveVoiceMessage(sctx, user, ogg)
	if err != nil {
		return fail(fmt.Errorf("the voice message was not left: %w", err))
	}
	if asJSON {
		return callfmt.JSON(e.stdout, struct {
			Event string `json:"event"`
			Time  string `json:"time"`
			signaling.VoiceMessage
		}{"voice_message_left", m.Created.UTC().Format(callfmt.TimeFormat), m})
	}
	say(e.stderr, "Voice message of %s left for %s (%s).", msDuration(m.DurationMS), user, m.ID)
	return nil
}

// recordVoice records v.src as an Ogg Opus voice message: a file whole at
// once, a live source (the microphone) until Enter on a terminal, an
// interrupt or v.length.
func (e *env) recordVoice(ctx context.Context, v voiceFlags, asJSON bool) ([]byte, error) {
	if path, ok := strings.CutPrefix(v.src, "file:"); ok {
		pcm, err := audio.ReadWAV(path)
		if err != nil {
			return nil, err
		}
		return audio.EncodeVoice(pcm, signaling.MaxVoiceMessage)
	}
	d := devices.New(devices.Options{Input: v.src})
	e.closers = append(e.closers, d) // PortAudio stops with the command
	src, err := d.OpenSource(audio.FrameSamples)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	stop := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(stop) }) }
	defer context.AfterFunc(ctx, end)() // an interrupt ends the recording, which is sent
	if isTerminal(os.Stdin) && !asJSON {
		say(e.stderr, "Recording (at most %s): press Enter to stop.", v.length)
		go func() { // left reading at the end of the command: nothing else reads stdin then
			_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
			end()
		}()
	}
	ogg, _, err := audio.RecordVoice(src, v.length, stop)
	return ogg, err
}

// msDuration is a duration in ms as people read it: 1.5s, 2m0s.
func msDuration(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
}

// afterCall leaves a voice message for user when --leave-message asks for
// one and the call ended as err says one may be left (leaves); it returns
// the call's own exit, or the failure to leave the message.
func (e *env) afterCall(ctx context.Context, user string, v voiceFlags, asJSON bool, err error) error {
	if v.src == "" || !leaves(err) {
		return err
	}
	var ec *exitCode
	if errors.As(err, &ec) && ec.err != nil { // told first: why a message is left
		e.printError(ec.err)
		err = &exitCode{code: ec.code, cause: ec.err}
	}
	if lerr := e.leaveMessage(ctx, user, v, asJSON); lerr != nil {
		return lerr
	}
	return err
}

// messagesCommand is `parley messages`: your voice messages, and delete.
func (e *env) messagesCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "messages",
		Short: "List the voice messages left for you; play one with parley play ID",
		Long: `List the voice messages callers left for you, newest first: the same on every
device. New ones (not played yet on any device) are marked "new". The server
keeps them for its retention period (30 days by default), within a quota per
person; parley play ID plays one, parley messages delete ID deletes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			box, err := api.VoiceMessages(cmd.Context())
			if err != nil {
				return fail(err)
			}
			if asJSON {
				return callfmt.JSON(e.stdout, box)
			}
			if len(box.Messages) == 0 {
				fmt.Fprintln(e.stdout, "No voice messages.")
				return nil
			}
			var rows [][]string
			for _, m := range box.Messages {
				heard := "new"
				if m.Heard {
					heard = "heard"
				}
				rows = append(rows, []string{m.ID, m.Created.Local().Format("2006-01-02 15:04:05"),
					signaling.Label(m.From, m.FromName), msDuration(m.DurationMS), heard})
			}
			if err := e.table("ID\tLEFT\tFROM\tLENGTH\tSTATE", rows); err != nil {
				return fail(err)
			}
			say(e.stdout, "%s (%d new), %d of %d bytes of your quota.", signaling.VoiceMessagesCount(len(box.Messages)),
				box.Unheard, box.Bytes, box.Quota)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print them as one JSON object: {"messages":[{"id", "from", `+
		`"from_name", "to", "created", "duration_ms", "bytes", "heard", "expires"}…], "unheard", "bytes", "quota"}`)
	del := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete voice messages left for you",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			for _, arg := range args {
				id, err := findVoiceMessage(cmd.Context(), api, arg)
				if err == nil {
					_, err = api.DeleteVoiceMessage(cmd.Context(), id)
				}
				if err != nil {
					return fail(err)
				}
				say(e.stderr, "Deleted voice message %s.", id)
			}
			return nil
		},
	}
	c.AddCommand(del)
	return c
}

// findVoiceMessage is the id of the voice message that arg names: its id,
// or the start of one id only.
func findVoiceMessage(ctx context.Context, api *signaling.API, arg string) (string, error) {
	box, err := api.VoiceMessages(ctx)
	if err != nil {
		return "", err
	}
	var found []string
	for _, m := range box.Messages {
		if m.ID == arg {
			return arg, nil
		}
		if strings.HasPrefix(m.ID, arg) && arg != "" {
			found = append(found, m.ID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", signaling.Errorf(signaling.NotFoundUserSessionID,
			"you have no voice message %.40q: parley messages lists yours", arg)
	}
	return "", signaling.Errorf(signaling.InvalidParameter,
		"%d voice messages start with %.40q: give more of the ID (parley messages lists them)", len(found), arg)
}

// playCommand is `parley play`: a voice message to the speaker or a file.
func (e *env) playCommand() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "play MESSAGE",
		Short: "Play a voice message left for you (its ID, or the start of it)",
		Long: `Play a voice message left for you, to the speaker (the saved output, else
the default) or to --out. MESSAGE is its ID as parley messages lists it, or
enough of its start to name one. Once played, it is heard on every device of
yours.

SINK is default, a device name or index, file:PATH.wav (48 kHz mono 16-bit,
written at once) or null.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return fail(err)
			}
			sink := devices.Pick(out, cfg.Output)
			if err := devices.CheckSink(sink); err != nil {
				return &exitCode{code: exitUsage, err: fmt.Errorf("--out: %w", err)}
			}
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			ctx := cmd.Context()
			id, err := findVoiceMessage(ctx, api, args[0])
			if err != nil {
				return fail(err)
			}
			ogg, err := api.VoiceMessageAudio(ctx, id)
			if err != nil {
				return fail(err)
			}
			pcm, err := audio.DecodeVoice(ogg)
			if err != nil {
				return fail(fmt.Errorf("voice message %s cannot be played: %w", id, err))
			}
			if path, ok := strings.CutPrefix(sink, "file:"); ok {
				if err := audio.WriteWAV(path, pcm); err != nil {
					return fail(err)
				}
				say(e.stderr, "Voice message %s (%s) written to %s.", id, msDuration(int64(len(pcm)/48)), path)
				return nil
			}
			d := devices.New(devices.Options{Output: sink})
			e.closers = append(e.closers, d) // PortAudio stops with the command
			if err := playPCM(ctx, d, pcm); err != nil {
				return fail(err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "audio sink `SINK`: default, device name or index, file:PATH.wav, null "+
		"(default: the saved output, else default)")
	return c
}

// playPCM plays pcm to the output of d, at its pace, until its end or
// ctx ends.
func playPCM(ctx context.Context, d *devices.Manager, pcm []int16) (err error) {
	sink, err := d.OpenSink(audio.FrameSamples)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, sink.Close()) }() // a speaker plays what it holds as it closes
	frame := make([]int16, audio.FrameSamples)
	for len(pcm) > 0 && ctx.Err() == nil {
		n := copy(frame, pcm)
		clear(frame[n:])
		pcm = pcm[n:]
		if err := sink.Write(frame); err != nil {
			return err
		}
	}
	return nil
}

// voiceNotice prints, on stderr, the line a command that signs in says
// when voice messages wait unheard; nothing when there are none or the
// server cannot say.
func (e *env) voiceNotice(ctx context.Context, api *signaling.API) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	box, err := api.VoiceMessages(ctx)
	if err != nil {
		return
	}
	if line := signaling.VoiceMessageNotice(box); line != "" {
		say(e.stderr, "%s (parley messages, parley play ID)", line)
	}
}

// playVoice is the UI's player of voice messages: to the output of d.
func playVoice(d *devices.Manager) func(ctx context.Context, ogg []byte) error {
	return func(ctx context.Context, ogg []byte) error {
		pcm, err := audio.DecodeVoice(ogg)
		if err != nil {
			return err
		}
		return playPCM(ctx, d, pcm)
	}
}

// recordVoiceUI is the UI's recorder of voice messages: from the input of
// d, until stop is closed, ctx ends or it is 2 minutes long.
func recordVoiceUI(d *devices.Manager) func(ctx context.Context, stop <-chan struct{}) ([]byte, error) {
	return func(ctx context.Context, stop <-chan struct{}) ([]byte, error) {
		src, err := d.OpenSource(audio.FrameSamples)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		defer context.AfterFunc(ctx, func() { src.Close() })()
		ogg, _, err := audio.RecordVoice(src, signaling.MaxVoiceMessage, stop)
		return ogg, err
	}
}
