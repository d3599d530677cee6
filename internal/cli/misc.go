package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/internal/echo"
	"github.com/parley-voice/parley/signaling"
)

func (e *env) tokenCommand() *cobra.Command {
	var apiKey string
	var ttl time.Duration
	var save bool
	c := &cobra.Command{
		Use:   "token USER",
		Short: "Get a token for USER from the server (needs the admin API key)",
		Long: `Get a token for USER from the server, with the admin API key that 'parley serve'
printed on its first start (or $PARLEY_API_KEY). With --save, the server and the
token are saved in the config file for later commands and the UI.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if apiKey == "" {
				apiKey = e.getenv("PARLEY_API_KEY")
			}
			if apiKey == "" {
				return fail(signaling.Errorf(signaling.InvalidParameter, "no API key: pass --api-key KEY or set "+
					"PARLEY_API_KEY (the key 'parley serve' printed on its first start)"))
			}
			cfg, err := e.config()
			if err != nil {
				return fail(err)
			}
			tok, err := signaling.FetchToken(cmd.Context(), e.http, cfg.Server, apiKey, args[0], ttl)
			if err != nil {
				return fail(err)
			}
			if save {
				err := config.Update(config.Path(e.getenv), func(c *config.Config) {
					if c.Credential != "" {
						say(e.stderr, "parley: the saved token replaces this device's sign-in (%s); "+
							"it stays valid on the server until revoked", c.Device)
					}
					c.SetServers(cfg.ServerList())
					c.Token = tok
					c.Credential, c.User, c.Name, c.Device = "", "", "", ""
				})
				if err != nil {
					return fail(err)
				}
			}
			say(e.stdout, "%s", tok)
			return nil
		},
	}
	c.Flags().StringVar(&apiKey, "api-key", "", "the server's admin API key (default $PARLEY_API_KEY)")
	c.Flags().DurationVar(&ttl, "ttl", 0, "how long the token is valid (default: the server's, 24h)")
	c.Flags().BoolVar(&save, "save", false, "save the server and the token in the config file")
	return c
}

func (e *env) statusCommand() *cobra.Command {
	var wait, asJSON bool
	c := &cobra.Command{
		Use:   "status USER",
		Short: "Print USER's presence: exit 0 when online, 1 when offline",
		Long: `Print USER's presence on the first line: online, away, dnd, in_call or offline;
then their display name and, when offline, when they were last seen. The exit
status tells them apart for scripts: 0 when they are online in any state (away,
dnd and in_call are online: they have a session), 1 when offline; a failure to
ask has a status of its own (below). With --wait, wait until they come online.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, _, err := e.userAPI()
			if err != nil {
				return fail(err)
			}
			ctx := cmd.Context()
			if !asJSON {
				e.missedNotice(ctx, api) // history.go
			}
			p, err := api.Presence(ctx, args[0], 0)
			for err == nil && wait && !p.Online {
				p, err = api.Presence(ctx, args[0], signaling.MaxWait)
				if ctx.Err() != nil {
					return &exitCode{code: 130}
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return &exitCode{code: 130}
				}
				return fail(err)
			}
			if asJSON {
				if err := callfmt.JSON(e.stdout, p); err != nil {
					return fail(err)
				}
			} else {
				e.printPresence(p)
			}
			if !p.Online {
				return &exitCode{code: exitOffline}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until USER is online (interrupt to give up)")
	c.Flags().BoolVar(&asJSON, "json", false, `print the presence as one JSON object: {"user", "name", "role", `+
		`"state", "online", "last_seen"}`)
	return c
}

// printPresence is status's output for people.
func (e *env) printPresence(p signaling.Person) {
	say(e.stdout, "%s", p.State)
	if p.Name != "" {
		say(e.stdout, "name: %s", p.Name)
	}
	if !p.Online && p.LastSeen != nil {
		say(e.stdout, "last seen: %s (%s)", p.LastSeen.Local().Format("2006-01-02 15:04:05 MST"),
			signaling.Ago(*p.LastSeen, time.Now()))
	}
}

func (e *env) devicesCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "devices",
		Short: "List the audio input and output devices",
		Long: `List the audio input and output devices: PortAudio's (default and pulse play
on the sound server's default device) and the sound server's own sinks and
sources (PulseAudio, or PipeWire's PulseAudio server), by their descriptions.
--in and --out take a device's index, its name, its description or a unique
part of either; the picker in parley ui saves the name, which stays the same
when the device is plugged in again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := e.logger("parley")
			if err != nil {
				return fail(err)
			}
			sys, err := audio.NewSystem(log)
			if err != nil {
				return fail(deviceErr(err))
			}
			defer func() { _ = sys.Close() }() // listing only: nothing was played or recorded
			devs, err := sys.Devices()
			if err != nil {
				return fail(deviceErr(err))
			}
			if asJSON {
				return callfmt.AudioDevices(e.stdout, devs)
			}
			// The sound server's devices by their descriptions; the
			// name, last, is the stable one that the config keeps.
			var rows [][]string
			for _, d := range devs {
				rows = append(rows, []string{fmt.Sprint(d.Index), d.Label(),
					channels(d.MaxInputChannels, d.DefaultInput), channels(d.MaxOutputChannels, d.DefaultOutput),
					d.HostAPI, d.Name})
			}
			return e.table("INDEX\tDEVICE\tINPUT\tOUTPUT\tHOST API\tNAME", rows)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print the devices as one JSON object: {"devices":[{"index", "name", `+
		`"description", "monitor", "input_channels", "output_channels", "default_input", "default_output", `+
		`"host_api"}…]}`)
	return c
}

func channels(n int, def bool) string {
	if n == 0 {
		return "-"
	}
	if def {
		return fmt.Sprintf("%d ch (default)", n)
	}
	return fmt.Sprintf("%d ch", n)
}

func deviceErr(err error) error {
	return signaling.Errorf(signaling.NotFoundDevice, "the sound system is not available: %v", err)
}

func (e *env) echoCommand() *cobra.Command {
	var delay time.Duration
	var af audioFlags
	var ice iceFlags
	var low bool
	c := &cobra.Command{
		Use:   "echo",
		Short: "Run an echo service: answer every call and play back what it hears",
		Long: `Run an echo service signed in with the token's user: it answers every call and
plays back what it hears, about a second later. Runs until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.signedIn()
			if err != nil {
				return fail(err)
			}
			log, err := e.logger("parley-echo")
			if err != nil {
				return fail(err)
			}
			var pc call.Config // the echo's phone: the media path's settings first
			if err := ice.apply(&pc, cfg); err != nil {
				return fail(err)
			}
			pc.Server, pc.Servers = cfg.Server, cfg.ServerList()
			pc.Token, pc.TokenSource = e.auth(cfg)
			pc.Processing, pc.Logger = af.processing(config.Config{}, call.Processing{}), log
			if low {
				pc.Frame = 10 * time.Millisecond
			}
			ph, err := echo.Start(cmd.Context(), pc, delay)
			if err != nil {
				return fail(err)
			}
			e.openControl(ph, log) // parley ctl status: its calls
			say(e.stdout, "echo service running as %s; interrupt to stop", ph.User())
			pr := callfmt.NewPrinter(e.stdout, e.stderr, false, untoldWait)
			for ev := range ph.Events() {
				if _, ok := ev.(call.StatusChanged); ok {
					pr.Print(ev)
				}
			}
			return nil
		},
	}
	c.Flags().DurationVar(&delay, "delay", time.Second, "how long after hearing it the audio is played back")
	af.register(c, true)
	ice.register(c.Flags())
	c.Flags().BoolVar(&low, "low-latency", false, lowLatencyHelp)
	return c
}
