package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/assets"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/devices"
	"github.com/parley-voice/parley/ui"
)

// The device manager is the UI's picker and settings screen; the phone,
// through uiPhone, is the UI's Phone.
var (
	_ ui.Phone    = uiPhone{}
	_ ui.Devices  = (*devices.Manager)(nil)
	_ ui.Settings = (*devices.Manager)(nil)
)

func (e *env) runUI(cmd *cobra.Command, _ []string) error {
	log, err := e.logger("parley")
	if err != nil {
		return fail(err)
	}
	return e.openUI(cmd.Context(), log, nil)
}

// openUI signs in and runs the terminal UI until the user quits. The log
// is open: file descriptor 2 points at it (logger), so what a library
// prints from now on goes there instead of tearing the screen.
func (e *env) openUI(ctx context.Context, log *slog.Logger, contacts []string) error {
	cfg, err := e.signedIn()
	if err != nil {
		return fail(err)
	}
	tok, src := e.auth(cfg)
	outLat, err := e.audio.outputLatency(cfg)
	if err != nil {
		return &exitCode{code: exitUsage, err: err}
	}
	proc := e.audio.processing(cfg, call.DefaultProcessing)
	devs := devices.New(devices.Options{
		Input: devices.Pick("", cfg.Input), Output: devices.Pick("", cfg.Output), Ring: cfg.RingDevice,
		OutputLatency: outLat, Processing: proc, ConfigPath: config.Path(e.getenv), Logger: log,
		Absent: true, // the saved headset, unplugged: the default, and the picker offers it when it is back
	})
	e.closers = append(e.closers, devs)
	pc := call.Config{
		Server: cfg.Server, Servers: cfg.ServerList(), Token: tok, TokenSource: src, HTTPClient: e.http,
		Devices:     devs,
		Processing:  proc,
		Reconnect:   true,
		CallWaiting: cfg.CallWaiting,
		// The UI starts while the server is down, and shows that it
		// reconnects: commands fail at once instead.
		StartOffline: true,
		Sounds:       sounds(log),
		Logger:       log,
	}
	if err := e.ice.apply(&pc, cfg); err != nil {
		return fail(err)
	}
	ph, err := call.Start(ctx, pc)
	if err != nil {
		return fail(err)
	}
	defer ph.Close()
	devs.Attach(ph)
	devs.Watch(ctx) // headsets plugged in and out, until devs closes
	e.openControl(ph, log)
	for _, c := range cfg.Contacts {
		if !slices.Contains(contacts, c) {
			contacts = append(contacts, c)
		}
	}
	api := e.peopleAPI(cfg, tok, src)
	err = ui.Run(ctx, ui.Options{
		Self:          ph.User(),
		Server:        cfg.Server,
		Contacts:      contacts,
		Phone:         uiPhone{ph},
		Devices:       devs,
		Settings:      devs,
		People:        api,
		Rooms:         api,
		History:       api,
		Voice:         api,
		PlayVoice:     playVoice(devs), // voicemail.go
		RecordVoice:   recordVoiceUI(devs),
		Texts:         api,
		Presence:      ph,
		HistoryPath:   filepath.Join(config.StateDir(e.getenv), "history.jsonl"),
		Logger:        log,
		Clipboard:     e.copyToTerminal,
		Notifications: e.notifications(cfg),
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// uiPhone is the phone as the UI sees it: the UI joins a room with two
// flags rather than call.RoomOptions.
type uiPhone struct{ *call.Phone }

func (p uiPhone) JoinRoom(name string, muted, listenOnly bool) {
	p.Phone.JoinRoom(name, call.RoomOptions{Muted: muted, ListenOnly: listenOnly})
}

// copyToTerminal puts text on the clipboard of the terminal parley runs
// in, with an OSC 52 sequence (through tmux or screen when parley runs in
// one), which works over SSH too. The terminal may not support it: the UI
// shows what it copied anyway.
func (e *env) copyToTerminal(text string) error {
	seq := osc52.New(text)
	switch {
	case e.getenv("TMUX") != "":
		seq = seq.Tmux()
	case strings.HasPrefix(e.getenv("TERM"), "screen"):
		seq = seq.Screen()
	}
	_, err := seq.WriteTo(os.Stdout)
	return err
}

// notifications are the UI's desktop notifications, written to the
// terminal (the program's output, as the clipboard's OSC 52): OSC 9, or
// OSC 777 in a VTE terminal, through tmux's pass-through when in tmux;
// none with "notifications": false.
func (e *env) notifications(cfg config.Config) ui.Notifications {
	if cfg.Notifications != nil && !*cfg.Notifications {
		return ui.Notifications{}
	}
	return ui.Notifications{Out: os.Stdout, OSC777: e.getenv("VTE_VERSION") != "", Tmux: e.getenv("TMUX") != ""}
}

// sounds loads the call sounds from the embedded assets.
func sounds(log *slog.Logger) call.Sounds {
	var s call.Sounds
	for _, c := range []struct {
		dst   *[]int16
		sound assets.Sound
	}{{&s.Ringtone, assets.Ringtone}, {&s.Ringback, assets.Ringback}, {&s.Busy, assets.Busy},
		{&s.Hangup, assets.Hangup}} {
		pcm, err := assets.PCM(c.sound)
		if err != nil {
			log.Warn("sound missing", "sound", c.sound, "err", err)
		}
		*c.dst = pcm
	}
	return s
}
