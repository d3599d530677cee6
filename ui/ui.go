// Package ui is parley's terminal user interface, a Bubble Tea program.
//
// The root Model routes messages to small components (ui/components/...),
// all made with one common.Common bundle: one Styles (ui/styles) and one
// KeyMap (ui/keymap), the logger and the clock. The call engine is seen
// through small interfaces declared here, Phone and Devices (and the
// server's API through People and Rooms); its events come in as messages
// through a command that waits on Phone.Events and is re-armed after each
// one; user intents go out as Phone method calls made in commands, one at
// a time and in order.
package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/keymap"
)

// Phone is the call engine as the UI sees it. Methods don't block; results
// come back as events.
type Phone interface {
	Dial(user string)
	Answer()
	Reject()
	Hangup() // also cancels an outgoing call that is still ringing
	SetMuted(muted bool)
	SetHeld(held bool)         // hold the answered call, or resume it (call.Held comes back)
	Swap()                     // hold the call and resume the one held beside it (call.Switched comes back)
	Watch(users []string)      // presence of these users comes back as call.Presence events
	Events() <-chan call.Event // closed when the phone shuts down

	// Rooms (results come back as call.RoomChanged, call.RoomLevels and
	// call.RoomFailure events). SetMuted mutes you in the room you are in.
	JoinRoom(name string, muted, listenOnly bool)
	LeaveRoom()
	MuteParticipant(target string, muted, lock bool) // host: mute or unmute another participant; lock their microphone
	RemoveParticipant(target string)                 // host
	LockRoom(locked bool)                            // host
	EndRoom()                                        // host: ends the room for everyone
	Admit(guest string)                              // host or member: let a guest in from the lobby
	TurnAway(guest string)                           // host or member: turn a guest in the lobby away
	DeclineRoom(room string)                         // reject the invitation to room that rings
	// Grow adds users to the answered call: it becomes a room (call.Grew,
	// then the room's events; the call ends as it moves).
	Grow(users ...string)
}

// Rooms lists the team's rooms that have not ended, with who is in them.
// It blocks: the UI calls it in commands. *signaling.API is one.
type Rooms interface {
	Rooms(ctx context.Context) ([]signaling.Room, error)
}

// Devices lists and saves the audio devices (names as shown to the user).
type Devices interface {
	List() (inputs, outputs []string, err error)
	Current() (input, output string)   // "default" when none chosen
	Choose(input, output string) error // saves in the config file; applies to the call in progress too
}

// DeviceLabels is implemented by Devices whose names are not what a
// person is shown: the picker shows Label(name) (the sound server's
// description of a sink, "USB Headset Analog Stereo", for its name).
type DeviceLabels interface {
	Label(name string) string
}

// DevicesInUse is implemented by Devices that know what the call has open:
// the call view shows the microphone and the speaker in use.
type DevicesInUse interface {
	InUse() (mic, speaker string)
}

// The smallest terminal the UI draws in; below it shows one line that says
// so.
const (
	MinWidth  = 60
	MinHeight = 16
)

// Options configure the UI.
type Options struct {
	Self     string   // the signed-in user id (updated by call.Connected events)
	Server   string   // the server URL, shown in the header
	Contacts []string // user ids from the config, in the order to show them

	Phone   Phone   // required
	Devices Devices // optional: nil hides the device picker
	// Settings reads and saves the audio settings; optional: nil hides the
	// settings screen.
	Settings Settings

	// SelfName is the signed-in user's display name (updated by
	// call.Connected events).
	SelfName string
	// Rooms lists the team's rooms for the rooms pane; nil hides the pane
	// (the Phone's room methods are then never called).
	Rooms Rooms
	// RoomsEvery is how often the open rooms pane is read again; 0 is
	// DefaultRoomsEvery.
	RoomsEvery time.Duration
	// People is the team's directory and the contacts kept on the server;
	// nil shows the config's contacts only, and + cannot add any.
	People People
	// Presence sets the user's own presence: away after IdleAfter without
	// a key press (default DefaultIdleAfter; negative: never). nil: never.
	Presence  PresenceSetter
	IdleAfter time.Duration

	// History is the call history kept on the server: the UI says, as it
	// starts, how many missed calls wait unseen and from whom. nil: it
	// does not.
	History CallHistory

	// Voice is the voice messages kept on the server, shown among the
	// recent calls; PlayVoice plays one (an Ogg Opus recording) to the
	// speaker, and returns once it is over or ctx ends. nil: no voice
	// messages are shown (PlayVoice nil: they cannot be played).
	Voice     VoiceMessages
	PlayVoice func(ctx context.Context, ogg []byte) error
	// RecordVoice records a voice message (Ogg Opus) from the microphone
	// until stop is closed or it is 2 minutes long. nil: no voice message
	// is offered after a call that could not be answered.
	RecordVoice func(ctx context.Context, stop <-chan struct{}) ([]byte, error)

	// Texts is the text messages kept on the server: unread counts on the
	// contacts, and a conversation pane (t) usable during a call. nil: no
	// texts.
	Texts Texts

	// HistoryPath is the JSON-lines file of recent calls, created (mode
	// 0600, directories 0700) when the first call ends. "" keeps no history.
	HistoryPath string

	Logger *slog.Logger     // nil discards; the UI never writes logs to the terminal
	Now    func() time.Time // nil is time.Now; tests pin it

	// Renderer decides colours and the colour profile. nil makes one for
	// Output, which detects the terminal and honours NO_COLOR. Tests pin
	// the profile (termenv.Ascii).
	Renderer *lipgloss.Renderer
	// KeyMap is the key bindings; nil is keymap.DefaultKeyMap().
	KeyMap *keymap.KeyMap

	Input  io.Reader // Run only; nil is os.Stdin
	Output io.Writer // the terminal; nil is os.Stdout
	// Bell is where the terminal bell (BEL) is written when a call comes
	// in. Run uses Output when nil; New rings no bell when nil. It must take
	// Writes from another goroutine than Bubble Tea's renderer (an *os.File
	// does); use io.Discard to silence it.
	Bell io.Writer
	// Clipboard copies a new guest link (g); nil copies nothing, and the
	// link is only shown.
	Clipboard Clipboard
	// Notifications are the desktop notifications (notify.go); with no Out,
	// none.
	Notifications Notifications
}

// Run runs the UI in the alternate screen until the user quits or ctx ends
// (both return nil). It does not close the Phone.
func Run(ctx context.Context, opts Options) error {
	if opts.Phone == nil {
		return errors.New("ui: Options.Phone is nil")
	}
	if opts.Input == nil {
		opts.Input = os.Stdin
	}
	if opts.Output == nil {
		opts.Output = os.Stdout
	}
	if opts.Bell == nil {
		opts.Bell = opts.Output
	}
	if opts.Renderer == nil {
		opts.Renderer = lipgloss.NewRenderer(opts.Output)
		// Ask the terminal for its background now, before Bubble Tea reads
		// the input, so that adaptive colours resolve without a race.
		opts.Renderer.HasDarkBackground()
	}
	// The program's commands end with it: one waiting for the Phone's next
	// event would otherwise wait until the Phone closes, after Run.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := New(opts)
	m.done = ctx.Done()
	p := tea.NewProgram(m,
		tea.WithContext(ctx),
		tea.WithInput(opts.Input),
		tea.WithOutput(opts.Output),
		tea.WithAltScreen(),
	)
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	return nil
}
