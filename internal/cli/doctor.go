package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/internal/devices"
	"github.com/parley-voice/parley/internal/doctor"
)

func (e *env) doctorCommand() *cobra.Command {
	var (
		in, out, echoUser string
		echoDelay         time.Duration
		asJSON, noAudio   bool
		ice               iceFlags
	)
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the audio devices, the server, the network and an echo call",
		Long: `Check what a call needs, one line each, and say what to do about each failure:
the audio devices (listed, opened; 2 s recorded with the level shown; a test
tone played), the server (reachable, token valid, round trip), STUN and TURN
over UDP and TCP, and a call to the echo service with its round trip and
quality. Exit status 0 when every check passes, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := e.logger("parley")
			if err != nil {
				return fail(err)
			}
			cfg, err := e.config()
			if err == nil {
				err = cfg.Validate()
			}
			o := doctor.Options{
				Out: e.stdout, JSON: asJSON, Log: log,
				Input: devices.Pick(in, cfg.Input), Output: devices.Pick(out, cfg.Output), NoAudio: noAudio,
				Setup: err, EchoUser: echoUser, EchoDelay: echoDelay,
			}
			if err == nil {
				o.Server = cfg.Server
				o.Token, o.TokenSource = e.auth(cfg)
				o.ICEError = ice.apply(&o.Call, cfg)
			}
			o.HTTP = e.http // after config: --ca makes a client of its own
			if !doctor.Run(cmd.Context(), o) {
				return &exitCode{code: exitOffline}
			}
			return nil
		},
	}
	c.Flags().StringVar(&in, "in", "", "microphone to check (default: the saved input, else default)")
	c.Flags().StringVar(&out, "out", "", "speaker to check (default: the saved output, else default)")
	c.Flags().StringVar(&echoUser, "echo", "echo", "the echo service's user id (parley demo and parley echo run one)")
	c.Flags().DurationVar(&echoDelay, "echo-delay", time.Second,
		"how long the echo service holds audio before playing it back (parley echo --delay)")
	c.Flags().BoolVar(&noAudio, "no-audio", false, "skip the audio devices (a machine without a sound system)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the checklist as one JSON object")
	ice.register(c.Flags())
	return c
}
