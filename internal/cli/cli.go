// Package cli is the parley command tree: one file per command group
// (call.go for call and answer, room.go for room and join, people.go, admin.go, webhook.go, serve.go,
// demo.go, doctor.go, ui.go, misc.go for token, status, devices and echo;
// audio.go and net.go for the flags those share). Main runs one command
// line; what the commands need beyond their flags lives in the packages
// named for it (internal/devices, internal/callfmt, internal/doctor,
// internal/echo, signaling).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/internal/logfile"
	"github.com/parley-voice/parley/signaling"
)

// Exit statuses. They are a contract: scripts and tests depend on them.
// Each command's help lists those it can end with (help.go), the README
// all of them.
const (
	exitOK         = 0 // the call completed, or the command did what it was asked
	exitOffline    = 1 // `parley status`: the user is offline; other commands: a failure without a code
	exitUsage      = 2 // bad flags or arguments
	exitRejected   = 3 // the callee rejected the call
	exitUnanswered = 4 // nobody answered, or the caller gave up
	exitFailed     = 5 // the call failed after it was placed
	exitError      = 6 // refused with an error code (printed, or as {"event":"error"} with --json)
	exitNoServer   = 7 // the server could not be reached
	exitSetup      = 8 // not set up: not signed in, a config file or --ca that cannot be used
)

// exitCode carries a process exit status through cobra.
type exitCode struct {
	code  int
	err   error // already reported when nil
	cause error // what was reported, when err is nil and it was an error (Unwrap finds it)
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCode) Unwrap() error {
	if e.err == nil {
		return e.cause
	}
	return e.err
}

// env is what every command gets: where to write, the environment, and the
// global flags.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	servers        []string // --server, repeatable (or comma-separated)
	token          string
	ca             string // --ca: a PEM file of a CA to trust
	logPath        string
	debug          bool
	http           *http.Client
	logStderr      func(*os.File) error // points fd 2 at the log file; nil to leave it
	ice            iceFlags             // the UI's media path flags
	audio          audioFlags           // the UI's audio flags (demo's)
	closers        []io.Closer
}

// Main executes one parley command line (args without the program's name)
// and returns the exit status. The commands write to stdout and stderr and
// read the environment through getenv. logStderr, when not nil, points
// file descriptor 2 at the log file once one is open (see
// internal/stderr.Split); the UI and the calls need that, so that what C
// libraries print does not tear the screen or mix with the output.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string,
	logStderr func(*os.File) error) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, http: &http.Client{}, logStderr: logStderr}
	defer func() {
		for _, c := range e.closers {
			c.Close()
		}
	}()
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			e.printError(ec.err)
		}
		return ec.code
	}
	// Cobra's own complaints (unknown flag, missing argument) are usage errors.
	fmt.Fprintf(stderr, "parley: %v\nRun 'parley --help' for usage.\n", err)
	return exitUsage
}

func (e *env) printError(err error) {
	var se *signaling.Error
	var u *signaling.UnreachableError
	switch {
	case errors.As(err, &se):
		say(e.stderr, "parley: %s (%d): %s", se.Name, se.Code, se.Message)
	case errors.As(err, &u):
		say(e.stderr, "parley: %s", u.Message())
	default:
		say(e.stderr, "parley: %v", err)
	}
}

// say is callfmt.Say: one line, with what came from elsewhere made
// harmless.
func say(w io.Writer, format string, args ...any) { callfmt.Say(w, format, args...) }

// fail turns err into the exit status that says what went wrong:
// exitNoServer when the server could not be reached, exitSetup when this
// machine is not set up (setupError), exitError when the error carries a
// code, exitOffline (a failure without a code) otherwise.
func fail(err error) error {
	return &exitCode{code: failCode(err), err: err}
}

func failCode(err error) int {
	var u *signaling.UnreachableError
	var setup *setupError
	var se *signaling.Error
	switch {
	case errors.As(err, &u):
		return exitNoServer
	case errors.As(err, &setup):
		return exitSetup
	case errors.As(err, &se):
		return exitError
	}
	return exitOffline
}

// setupError is a command that cannot run as this machine is set up: not
// signed in, a config file or a --ca that cannot be used.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "parley",
		Short: "Voice calls from the terminal",
		Long: `parley places and answers voice calls from a terminal, with its own signaling
server.

Run 'parley' alone to open the terminal UI, 'parley demo' for a first call to an
echo service.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          e.runUI,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	bi, _ := debug.ReadBuildInfo()
	root.Version = versionText(bi)
	root.SetVersionTemplate("{{.Version}}")
	root.Flags().BoolP("version", "v", false, "print parley's version, the commit it was built from, and the Go "+
		"that built it")
	e.ice.register(root.Flags())
	pf := root.PersistentFlags()
	pf.StringSliceVar(&e.servers, "server", nil, "server `URL`; repeat it (or separate with commas) for the nodes of "+
		"one service, tried in turn (default $PARLEY_SERVER, the saved config, or "+config.DefaultServer+")")
	pf.StringVar(&e.token, "token", "", "token (default $PARLEY_TOKEN, the device signed in with 'parley login', "+
		"or the saved token)")
	pf.StringVar(&e.ca, "ca", "", "PEM file of the CA that signed the server's certificate, trusted besides the "+
		"system's (default $PARLEY_CA or the saved one)")
	pf.StringVar(&e.logPath, "log", "", "log file (default parley.log in $XDG_STATE_HOME/parley; - for stderr)")
	pf.BoolVar(&e.debug, "debug", false, "log debug messages")
	addGroups(root)
	root.AddCommand(
		inGroup(groupCalls, setExits(e.callCommand(), callExits())),
		inGroup(groupCalls, setExits(e.answerCommand(), callExits())),
		inGroup(groupCalls, setExits(e.demoCommand(), callExits())),
		inGroup(groupCalls, setExits(e.joinCommand(), joinExits())),
		inGroup(groupCalls, e.roomCommand()),
		inGroup(groupCalls, e.historyCommand()),
		inGroup(groupCalls, e.messagesCommand()), // voicemail.go
		inGroup(groupCalls, e.playCommand()),
		inGroup(groupPeople, e.msgCommand()),
		inGroup(groupPeople, e.msgsCommand()),
		inGroup(groupCalls, setExits(e.ctlCommand(), ctlExits())),
		inGroup(groupPeople, e.loginCommand()),
		inGroup(groupPeople, e.logoutCommand()),
		inGroup(groupPeople, setExits(e.statusCommand(), statusExits())),
		inGroup(groupPeople, e.contactsCommand()),
		inGroup(groupPeople, e.presenceCommand()),
		inGroup(groupPeople, e.linkCommand()),
		inGroup(groupAdmin, e.inviteCommand()),
		inGroup(groupAdmin, e.tokenCommand()),
		inGroup(groupAdmin, e.adminCommand()),
		inGroup(groupServer, setExits(e.serveCommand(), serveExits())),
		inGroup(groupServer, setExits(e.echoCommand(), echoExits())),
		inGroup(groupDiagnostics, setExits(e.doctorCommand(), doctorExits())),
		inGroup(groupDiagnostics, setExits(e.devicesCommand(), devicesExits())),
		inGroup(groupDiagnostics, versionCommand()),
	)
	defaultExits(root)
	root.SetUsageTemplate(usageTemplate())
	return root
}

// config loads the saved configuration with the environment and the global
// flags on top. Its errors are setupErrors.
func (e *env) config() (config.Config, error) {
	c, err := config.Load(config.Path(e.getenv), e.getenv)
	if err != nil {
		return c, &setupError{err}
	}
	if len(e.servers) > 0 {
		c.SetServers(e.servers)
	}
	if e.token != "" {
		c.Token = e.token
	}
	if e.ca != "" {
		c.CA = e.ca
	}
	if c.CA != "" {
		hc, err := signaling.TrustCA(c.CA)
		if err != nil {
			return c, &setupError{fmt.Errorf("--ca: %w", err)}
		}
		e.http = hc
	}
	return c, nil
}

// logger opens the log: a file for client commands (nothing may print over
// the terminal), capped at logfile.DefaultMax (the file before is kept as
// NAME.1), stderr when asked with --log -. Once the file is open, file
// descriptor 2 points at it (logStderr).
func (e *env) logger(name string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if e.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if e.logPath == "-" {
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	}
	path := e.logPath
	if path == "" {
		path = filepath.Join(config.StateDir(e.getenv), name+".log")
	}
	f, err := logfile.Open(path, logfile.DefaultMax, e.logStderr)
	if f == nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	e.closers = append(e.closers, f)
	log := slog.New(slog.NewTextHandler(f, opts))
	if err != nil {
		log.Warn("cannot send stderr to the log", "err", err)
	}
	return log, nil
}

// signedIn is the configuration of a command that signs in: config, with
// a server and a token or a device to sign in with (config.Validate).
func (e *env) signedIn() (config.Config, error) {
	cfg, err := e.config()
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, &setupError{err}
	}
	return cfg, nil
}

// auth is how client commands sign in: a token given with --token or
// PARLEY_TOKEN; else the device signed in with `parley login` (source
// set); else a token saved with `parley token --save`.
func (e *env) auth(cfg config.Config) (token string, source func(context.Context) (string, error)) {
	if cfg.Credential != "" && e.token == "" && e.getenv("PARLEY_TOKEN") == "" {
		var apis []*signaling.API
		for _, s := range cfg.ServerList() {
			apis = append(apis, &signaling.API{Server: s, HTTP: e.http})
		}
		return "", signaling.NewDeviceTokens(cfg.Credential, apis...).Token
	}
	return cfg.Token, nil
}

// userAPI is the HTTP API as the signed-in user.
func (e *env) userAPI() (*signaling.API, config.Config, error) {
	cfg, err := e.signedIn()
	if err != nil {
		return nil, cfg, err
	}
	tok, src := e.auth(cfg)
	return e.peopleAPI(cfg, tok, src), cfg, nil
}

// peopleAPI is the HTTP API as the user the phone signs in, for the UI.
func (e *env) peopleAPI(cfg config.Config, tok string, src func(context.Context) (string, error)) *signaling.API {
	if src == nil {
		src = func(context.Context) (string, error) { return tok, nil }
	}
	return &signaling.API{Server: cfg.Server, HTTP: e.http, Token: src}
}

// adminAPI is the HTTP API with the API key of --api-key or
// PARLEY_API_KEY, or else as the signed-in user (who needs the admin role).
func (e *env) adminAPI(apiKey string) (*signaling.API, config.Config, error) {
	if apiKey == "" {
		apiKey = e.getenv("PARLEY_API_KEY")
	}
	if apiKey == "" {
		api, cfg, err := e.userAPI()
		if err != nil {
			return nil, cfg, signaling.Errorf(signaling.InvalidParameter,
				"no API key: pass --api-key KEY or set PARLEY_API_KEY "+
					"(the key 'parley serve' printed on its first start, or a team's)")
		}
		return api, cfg, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, cfg, err
	}
	return &signaling.API{Server: cfg.Server, HTTP: e.http, APIKey: apiKey}, cfg, nil
}

// table writes rows under a header, aligned, with what came from elsewhere
// made harmless (callfmt.Table).
func (e *env) table(header string, rows [][]string) error {
	return callfmt.Table(e.stdout, header, rows)
}
