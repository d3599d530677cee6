package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/assets"
	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/ui"
)

func (e *env) runUI(cmd *cobra.Command, _ []string) error {
	log, err := e.logger("parley")
	if err != nil {
		return fail(err)
	}
	return e.openUI(cmd.Context(), log, nil)
}

// openUI signs in and runs the terminal UI until the user quits.
func (e *env) openUI(ctx context.Context, log *slog.Logger, contacts []string) error {
	cfg, err := e.config()
	if err != nil {
		return fail(err)
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	tok, src := e.auth(cfg)
	// The UI owns the terminal: whatever a library prints on stderr from
	// now on goes to the log file instead of tearing the screen.
	if restore, err := e.stderrToLog(); err == nil {
		defer restore()
	}
	devs := e.devices(log, pick("", cfg.Input), pick("", cfg.Output))
	devs.ring, devs.proc = cfg.RingDevice, e.audio.processing(cfg, call.DefaultProcessing)
	if devs.outLat, err = e.audio.outputLatency(cfg); err != nil {
		return &exitCode{code: exitUsage, err: err}
	}
	pc := call.Config{
		Server: cfg.Server, Servers: cfg.ServerList(), Token: tok, TokenSource: src, HTTPClient: e.http,
		Devices:    devs,
		Processing: devs.proc,
		Reconnect:  true,
		Sounds:     sounds(log),
		Logger:     log,
	}
	if err := e.ice.apply(&pc, cfg); err != nil {
		return fail(err)
	}
	ph, err := call.Start(ctx, pc)
	if err != nil {
		return fail(err)
	}
	defer ph.Close()
	devs.mu.Lock()
	devs.phone = ph
	devs.mu.Unlock()
	for _, c := range cfg.Contacts {
		if !slices.Contains(contacts, c) {
			contacts = append(contacts, c)
		}
	}
	err = ui.Run(ctx, ui.Options{
		Self:        ph.User(),
		Server:      cfg.Server,
		Contacts:    contacts,
		Phone:       ph,
		Devices:     devs,
		Settings:    devs,
		People:      e.peopleAPI(cfg, tok, src),
		Presence:    ph,
		HistoryPath: filepath.Join(config.StateDir(e.getenv), "history.jsonl"),
		Logger:      log,
		Clipboard:   e.copyToTerminal,
	})
	if err != nil {
		return fail(err)
	}
	return nil
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

// sounds loads the call sounds from the embedded assets.
func sounds(log *slog.Logger) call.Sounds {
	var s call.Sounds
	for _, c := range []struct {
		dst   *[]int16
		sound assets.Sound
	}{{&s.Ringtone, assets.Ringtone}, {&s.Ringback, assets.Ringback}, {&s.Busy, assets.Busy}, {&s.Hangup, assets.Hangup}} {
		pcm, err := assets.PCM(c.sound)
		if err != nil {
			log.Warn("sound missing", "sound", c.sound, "err", err)
		}
		*c.dst = pcm
	}
	return s
}

// stderrToLog points file descriptor 2 at the log file until restore is
// called. It does nothing when the log already goes to stderr.
func (e *env) stderrToLog() (restore func(), err error) {
	if e.logFile == nil {
		return func() {}, nil
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	if err := syscall.Dup2(int(e.logFile.Fd()), 2); err != nil {
		syscall.Close(saved)
		return nil, fmt.Errorf("stderr: %w", err)
	}
	return func() {
		syscall.Dup2(saved, 2)
		syscall.Close(saved)
	}, nil
}

// devices opens the audio named by the --in and --out specs (or the saved
// choice), and lists and saves devices for the UI's picker. PortAudio is
// started only when a spec names a device, and stays up until the command
// ends. The phone's loop and the UI both call it, so a mutex guards it.
type devices struct {
	e   *env
	log *slog.Logger

	mu      sync.Mutex
	in, out string
	ring    string          // the ringtone's device; "": the output (cmd_audio.go)
	proc    call.Processing // the microphone's processing, for the settings screen
	phone   *call.Phone     // the phone the settings apply to, once started
	sys     *audio.System
	outLat  time.Duration // the speaker's device latency to start with (0: the lowest)
}

var (
	_ call.Devices = (*devices)(nil)
	_ ui.Devices   = (*devices)(nil)
)

func (e *env) devices(log *slog.Logger, in, out string) *devices {
	return &devices{e: e, log: log, in: in, out: out}
}

// system starts PortAudio if spec needs it; d.mu must be held.
func (d *devices) system(spec string) (*audio.System, error) {
	if !namesDevice(spec) || d.sys != nil {
		return d.sys, nil
	}
	sys, err := audio.NewSystem(d.log)
	if err != nil {
		return nil, err
	}
	sys.SetOutputLatency(d.outLat)
	d.sys = sys
	d.e.closers = append(d.e.closers, sys)
	return sys, nil
}

func (d *devices) OpenSource(n int) (audio.Source, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sys, err := d.system(d.in)
	if err != nil {
		return nil, err
	}
	return audio.OpenSource(sys, d.in, n)
}

func (d *devices) OpenSink(n int) (audio.Sink, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sys, err := d.system(d.out)
	if err != nil {
		return nil, err
	}
	return audio.OpenSink(sys, d.out, n)
}

// List names the input and output devices.
func (d *devices) List() (inputs, outputs []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sys, err := d.system("default")
	if err != nil {
		return nil, nil, err
	}
	all, err := sys.Devices()
	if err != nil {
		return nil, nil, err
	}
	for _, dev := range all {
		if dev.MaxInputChannels > 0 {
			inputs = append(inputs, dev.Name)
		}
		if dev.MaxOutputChannels > 0 {
			outputs = append(outputs, dev.Name)
		}
	}
	return inputs, outputs, nil
}

// Current is the input and output the next call uses.
func (d *devices) Current() (input, output string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.in, d.out
}

// Choose uses input and output from now on, in the call in progress too,
// and saves them.
func (d *devices) Choose(input, output string) error {
	d.mu.Lock()
	mic, speaker := input != d.in, output != d.out
	d.in, d.out = input, output
	ph := d.phone
	d.mu.Unlock()
	if ph != nil && (mic || speaker) {
		ph.SwitchDevices(mic, speaker)
	}
	return config.Update(config.Path(d.e.getenv), func(c *config.Config) {
		c.Input, c.Output = input, output
	})
}

// namesDevice tells whether a source or sink spec needs the sound system.
func namesDevice(spec string) bool {
	for _, p := range []string{"file:", "tone:"} {
		if len(spec) >= len(p) && spec[:len(p)] == p {
			return false
		}
	}
	return spec != "silence" && spec != "null"
}
