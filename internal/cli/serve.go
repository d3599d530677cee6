//go:build !client

package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/echo"
	"github.com/parley-voice/parley/signaling/server"
)

func (e *env) serveCommand() *cobra.Command {
	var cfg server.Config
	var echoUser string
	var webhookAllow []string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the signaling server",
		Long: `Run the signaling server: tokens, presence and call routing over an embedded
NATS.

The admin API key comes from $PARLEY_API_KEY; without it, one is generated on
the first start, saved in the data directory (mode 0600) and printed once. Logs
go to stderr unless --log names a file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if e.logPath == "" {
				e.logPath = "-"
			}
			log, err := e.logger("serve")
			if err != nil {
				return fail(err)
			}
			if cfg.DataDir == "" {
				cfg.DataDir = config.DataDir(e.getenv)
			}
			for _, a := range webhookAllow {
				p, err := netip.ParsePrefix(a)
				if ip, aerr := netip.ParseAddr(a); err != nil && aerr == nil {
					p, err = netip.PrefixFrom(ip, ip.BitLen()), nil
				}
				if err != nil {
					return fail(fmt.Errorf("--webhook-allow %q is neither an address nor a range such as 10.20.0.0/16",
						a))
				}
				cfg.Webhooks.Allow = append(cfg.Webhooks.Allow, p)
			}
			if e.getenv("GOGC") == "" {
				// A server holds many small, long-lived connections: half of
				// Go's usual headroom over what is live takes a sixth less
				// memory per connection for a few more percent of a core
				// (docs/BENCHMARKS.md, server capacity). GOGC set wins.
				debug.SetGCPercent(serverGOGC)
			}
			cfg.APIKey = e.getenv("PARLEY_API_KEY")
			cfg.Logger = log
			unshown := filepath.Join(cfg.DataDir, apiKeyUnshown)
			if cfg.APIKey == "" {
				if err := markNewKey(cfg.DataDir); err != nil {
					return fail(err)
				}
			}
			srv, err := server.New(cfg)
			if err != nil {
				return fail(portHint(err, cfg))
			}
			return e.serve(cmd.Context(), srv, cfg, echoUser, unshown)
		},
	}
	c.Flags().StringVar(&cfg.Listen, "listen", server.DefaultListen, "address to listen on, host:port")
	c.Flags().StringVar(&cfg.DataDir, "data", "", "data directory (default $XDG_DATA_HOME/parley)")
	c.Flags().StringVar(&cfg.NATSURL, "nats", "",
		"use this NATS (nats-server 2.11 or later, with JetStream) instead of the embedded one; "+
			"the URLs of a NATS cluster's servers separated by commas. Nodes on one NATS form one service")
	c.Flags().StringVar(&cfg.NATSListen, "nats-listen", "", "let other nodes reach the embedded NATS at host:port")
	c.Flags().DurationVar(&cfg.RingTimeout, "ring-timeout", 0,
		"how long a call rings before it is unanswered (default 30s)")
	c.Flags().DurationVar(&cfg.LobbyTimeout, "lobby-timeout", 0,
		"how long a guest's knock (a call from a guest link) rings before it is unanswered (default 2m)")
	c.Flags().DurationVar(&cfg.LinkTTL, "link-ttl", 0,
		"how long a guest link may be opened when its maker does not say (default 2h, at most 168h)")
	c.Flags().DurationVar(&cfg.ReconnectGrace, "reconnect-grace", 0,
		"how long an answered call waits for a participant whose connection dropped (default 30s)")
	c.Flags().StringVar(&cfg.TURNListen, "turn-listen", "",
		`where the embedded TURN server listens, UDP and TCP, host:port, or "off" `+
			`(default: the --listen host, port 3478)`)
	c.Flags().StringVar(&cfg.TURNPublicIP, "turn-public-ip", "",
		"the address clients reach the TURN server at (default: the --turn-listen host)")
	c.Flags().Var(prefixes{&cfg.TURNAllowPeers}, "turn-allow-peer",
		"a range the TURN relay may reach though it refuses it by default (private, shared 100.64.0.0/10, "+
			"link-local), such as 10.20.0.0/16; repeatable")
	c.Flags().BoolVar(&cfg.TURNTCPRelay, "turn-tcp-relay", false,
		"let TURN clients open TCP relays to peers (RFC 6062); clients reach the TURN server over TCP without it")
	c.Flags().StringVar(&cfg.RoomPort, "room-port", "",
		"the UDP port of the rooms' media, on every address of the machine: open it to the clients "+
			"(default 3479; any free port with --listen's port 0)")
	c.Flags().StringVar(&cfg.TLSCertFile, "tls-cert", "",
		"PEM certificate (chain): serve HTTPS and WSS only (with --tls-key)")
	c.Flags().StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	c.Flags().StringVar(&cfg.PublicURL, "public-url", "",
		"base URL of invite and guest links, such as https://voice.example.com:7700 (default: the --listen address; "+
			"on 0.0.0.0 or :: none, and parley invite and link use the address they reached)")
	c.Flags().StringSliceVar(&cfg.TrustedProxies, "trusted-proxy", nil,
		"a load balancer or proxy in front of the server, CIDR or address (repeatable): its requests count "+
			"as coming from the client its X-Forwarded-For names, for the per-address limits and the logs")
	c.Flags().Float64Var(&cfg.Limits.Rate, "limit-rate", 0,
		"requests a second that one address may make to each endpoint that takes a secret, on average (default 50)")
	c.Flags().IntVar(&cfg.Limits.Burst, "limit-burst", 0,
		"requests that one address may make at once to each endpoint that takes a secret (default 200)")
	c.Flags().IntVar(&cfg.DialLimit, "dial-limit", 0,
		"calls one user may place in a minute, a third of them at once (default 30; -1: no limit)")
	c.Flags().IntVar(&cfg.MessageLimit, "message-limit", 0,
		"messages one connection may send in a second, four times as many at once (default 50; -1: no limit)")
	c.Flags().DurationVar(&cfg.TextRetention, "text-retention", 0,
		"how long text messages are kept (default 720h: 30 days); every node of a service the same")
	c.Flags().IntVar(&cfg.TextLimit, "text-limit", 0,
		"texts one user may send in a minute, a third of them at once (default 30; -1: no limit)")
	c.Flags().IntVar(&cfg.RingLimit, "ring-limit", 0,
		"calls that may ring one user in a minute, a third of them at once (default 60; -1: no limit)")
	c.Flags().DurationVar(&cfg.VoiceMessageRetention, "voice-message-retention", 0,
		"how long voice messages are kept before the server deletes them (default 720h: 30 days)")
	c.Flags().Int64Var(&cfg.VoiceMessageQuota, "voice-message-quota", 0,
		"`BYTES` of voice messages one user may have; a new one past it is refused (default 10485760: 10 MiB, "+
			"about 30 minutes)")
	c.Flags().DurationVar(&cfg.AccessTokenTTL, "access-token-ttl", 0,
		"lifetime of signed-in devices' access tokens, renewed by the clients (default 15m)")
	c.Flags().StringArrayVar(&webhookAllow, "webhook-allow", nil,
		"let webhooks go to this address or `CIDR` range although it is "+
			"loopback, private, shared, link-local or the server's own, which they are refused by default; repeatable")
	c.Flags().StringVar(&echoUser, "echo", "",
		"run an echo service as this user of the default team (parley doctor calls \"echo\"): "+
			"it answers every call and plays back what it hears a second later")
	return c
}

// serve runs srv, made with cfg, until ctx ends, printing where it listens
// and, once, a generated API key (when the file unshown says that it was
// not shown yet); with echoUser, it runs an echo service as that user.
func (e *env) serve(ctx context.Context, srv *server.Server, cfg server.Config, echoUser, unshown string) error {
	log := cfg.Logger
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		return fail(portHint(err, cfg))
	}
	if echoUser != "" { // before saying the server is up: the echo is part of it
		echoPhone, err := e.serverEcho(ctx, srv, echoUser, log.With("component", "echo"))
		if err != nil {
			return fail(err)
		}
		defer echoPhone.Close()
	}
	fmt.Fprintf(e.stdout, "parley server listening on %s\n", srv.URL())
	if _, err := os.Stat(unshown); srv.GeneratedAPIKey() || err == nil {
		fmt.Fprintf(e.stdout, "admin API key (shown once, saved in the data directory): %s\n", srv.APIKey())
		if err := os.Remove(unshown); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("the API key will be shown again on the next start", "err", err)
		}
	}
	if err := <-errc; err != nil {
		return fail(err)
	}
	log.Info("stopped")
	return nil
}

// The admin API key that `parley serve` generates on its first start is
// shown once, on the first start that succeeds. The server writes the key
// (DATA/api_key, docs/DEPLOY.md) before it listens, so a first start that
// fails after that (a port that is taken) would leave a key nobody saw:
// apiKeyUnshown, written in the data directory before the server makes the
// key and removed once it is shown, says that it is still to be shown.
const (
	apiKeyFile    = "api_key"
	apiKeyUnshown = "api_key.unshown"
)

// markNewKey writes apiKeyUnshown in dir when the server is about to
// generate its API key there.
func markNewKey(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, apiKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		return nil // there is one already (or the server will say why it cannot read it)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("serve: data directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, apiKeyUnshown), nil, 0o600); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// portHint adds to a failure to listen on an address that is taken the
// flag that moves it: --listen, --turn-listen (or off), --nats-listen or
// --room-port.
func portHint(err error, cfg server.Config) error {
	var op *net.OpError
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &op) || op.Addr == nil {
		return err
	}
	addr := op.Addr.String()
	port := func(hostPort string) string {
		_, p, _ := net.SplitHostPort(hostPort)
		return p
	}
	_, taken, _ := net.SplitHostPort(addr)
	switch {
	case strings.HasPrefix(op.Net, "tcp") && taken == port(cfg.Listen):
		return fmt.Errorf("%w: another program listens on %s (another parley serve?): "+
			"listen on another address with --listen HOST:PORT", err, addr)
	case strings.HasPrefix(op.Net, "tcp") && cfg.NATSListen != "" && taken == port(cfg.NATSListen):
		return fmt.Errorf("%w: another program listens on %s: give the embedded NATS another address with "+
			"--nats-listen HOST:PORT", err, addr)
	case strings.HasPrefix(op.Net, "udp") && taken == cmp.Or(cfg.RoomPort, server.DefaultRoomPort):
		return fmt.Errorf("%w: another program listens on %s (another parley serve?): give the rooms' media "+
			"another port with --room-port PORT", err, addr)
	}
	return fmt.Errorf("%w: another program listens on %s (another parley serve, or a TURN server such as "+
		"coturn?): give the TURN server another address with --turn-listen HOST:PORT, or run without it with "+
		"--turn-listen off", err, addr)
}

// serverEcho runs an echo service on srv as user, signed in with tokens
// the server issues itself (renewed as every client's are).
func (e *env) serverEcho(ctx context.Context, srv *server.Server, user string, log *slog.Logger) (*call.Phone, error) {
	tokens := func(ctx context.Context) (string, error) {
		return srv.IssueToken(ctx, user, server.TokenOptions{Name: "Echo service"})
	}
	tok, err := tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("echo service: %w", err)
	}
	ph, err := echo.Start(ctx, call.Config{Server: srv.URL(), Token: tok, TokenSource: tokens, HTTPClient: e.http,
		Logger: log}, time.Second)
	if err != nil {
		return nil, fmt.Errorf("echo service: %w", err)
	}
	go func() { // its events are only logged
		for range ph.Events() {
		}
	}()
	log.Info("echo service running", "user", user)
	return ph, nil
}

// prefixes is a repeatable flag of address ranges (CIDR).
type prefixes struct{ p *[]netip.Prefix }

func (v prefixes) Type() string { return "CIDR" }

func (v prefixes) String() string {
	if v.p == nil {
		return ""
	}
	s := make([]string, len(*v.p))
	for i, p := range *v.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (v prefixes) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not a range such as 10.20.0.0/16 or fd00::/8", s)
	}
	*v.p = append(*v.p, p.Masked())
	return nil
}

// serverGOGC is the garbage collector's target of `parley serve` when the
// environment sets none.
const serverGOGC = 50
