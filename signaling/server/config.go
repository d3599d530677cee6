package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/ratelimit"
	"github.com/parley-voice/parley/signaling/server/token"
)

// Defaults for the Config fields left zero.
const (
	DefaultListen            = "127.0.0.1:7700"
	DefaultTokenTTL          = 24 * time.Hour
	DefaultRingTimeout       = 30 * time.Second
	DefaultReconnectGrace    = 30 * time.Second
	DefaultTURNPort          = "3478"
	DefaultRoomPort          = "3479"
	DefaultTURNCredentialTTL = 12 * time.Hour
	DefaultHeartbeat         = 5 * time.Second
	DefaultPingInterval      = 30 * time.Second
	DefaultConnectTimeout    = 15 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultRequestTimeout    = 5 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultSendQueue         = 256
	DefaultCallHistory       = 7 * 24 * time.Hour
	DefaultTextRetention     = 30 * 24 * time.Hour
	DefaultTextLimit         = 30
	DefaultAccessTokenTTL    = 15 * time.Minute
	DefaultInviteTTL         = 7 * 24 * time.Hour
	DefaultLinkTTL           = 2 * time.Hour
	DefaultLobbyTimeout      = 2 * time.Minute

	// MaxLinkTTL is the longest a guest link may be opened.
	MaxLinkTTL = 7 * 24 * time.Hour

	// MaxOpenLinks is how many guest links a member may have open (neither
	// expired nor used) at once.
	MaxOpenLinks = 100

	// MaxTokenTTL is the longest lifetime a token may be given.
	MaxTokenTTL = token.MaxTTL
)

// Config configures a Server. Every field but DataDir has a default, used
// when the field is left zero. Nodes that share one NATS (NATSURL) must use
// the same Heartbeat and CallHistory, and the same DataDir files token_secret
// and api_key (copy them), so that each node accepts the others' tokens.
type Config struct {
	// Listen is the HTTP and WebSocket address, host:port. Port 0 picks a
	// free port: Addr tells which. Default DefaultListen.
	Listen string

	// DataDir holds the token signing secret (token_secret), the generated
	// API key (api_key), both mode 0600, and the embedded NATS JetStream
	// store (jetstream/). Required; created (0700) when missing.
	DataDir string

	// APIKey is the key that the token endpoint requires in the APP_API_KEY
	// header. When empty, the key is read from DataDir/api_key, and when
	// that file does not exist a random key is generated and saved there
	// (see GeneratedAPIKey). main fills it from PARLEY_API_KEY.
	APIKey string

	// TokenTTL is the lifetime of a token issued without a ttl.
	// Default DefaultTokenTTL; 1s to MaxTokenTTL.
	TokenTTL time.Duration

	// RingTimeout is how long a call may go unanswered before it ends as
	// unanswered with reason "no answer". Default DefaultRingTimeout.
	RingTimeout time.Duration

	// LobbyTimeout is how long a guest's knock (a call through a guest
	// link) may ring before it ends as unanswered; the guest's page then
	// offers to knock again. Default DefaultLobbyTimeout.
	LobbyTimeout time.Duration

	// ReconnectGrace is how long an answered call waits for a participant
	// whose connection dropped to come back (and resume it) before it ends
	// as failed. Media is peer to peer and may go on meanwhile.
	// Default DefaultReconnectGrace.
	ReconnectGrace time.Duration

	// TURNListen is where the embedded TURN server listens, on UDP and
	// TCP, host:port; "off" runs none. Default: the host of Listen, port
	// 3478 (any free port when Listen's is 0). TURNPublicIP is the address clients reach it at and relays
	// are announced with; default the host of TURNListen, which must then
	// be a specific address. TURNCredentialTTL is how long the TURN
	// credentials handed out with each welcome stay valid
	// (default DefaultTURNCredentialTTL).
	TURNListen        string
	TURNPublicIP      string
	TURNCredentialTTL time.Duration

	// TURNAllowPeers are ranges the TURN relay may reach although it
	// refuses them by default: private (RFC 1918, fc00::/7), shared
	// (100.64.0.0/10), link-local and reserved addresses (package turn).
	// Loopback, multicast, broadcast and this machine's own
	// addresses stay refused whatever the ranges.
	TURNAllowPeers []netip.Prefix

	// TURNTCPRelay lets TURN clients open TCP relays to peers (RFC 6062
	// TCP allocations). Without it clients still reach the TURN server over
	// TCP (turn:…?transport=tcp), for UDP relays: all a call's media needs.
	TURNTCPRelay bool

	// RoomPort is the UDP port of the rooms' media (the SFU, roomsfu.go), on
	// each address of the machine: every participant of every room of the
	// node sends there, so that a firewall opens one port, and the TURN
	// relays of the service reach it there only (package turn). Default
	// DefaultRoomPort ("0", any free port, when Listen's port is 0).
	RoomPort string

	// Heartbeat is how often a connection refreshes its presence and a call
	// its participants' busy marks. Both expire 2.5 heartbeats after their
	// last refresh (12.5 s by default), so the sessions and calls of a
	// node that died go away by themselves, 7.5 to 12.5 s after it died.
	// Default DefaultHeartbeat; at least 100ms.
	Heartbeat time.Duration

	// PingInterval is how often the server pings each WebSocket; a client
	// that does not answer within the interval is disconnected.
	// Default DefaultPingInterval.
	PingInterval time.Duration

	// ConnectTimeout is how long a new WebSocket may take to send a valid
	// connect; one that has not is closed. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// WriteTimeout bounds one WebSocket write, and the HTTP server's reads
	// and writes of ordinary requests. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// RequestTimeout bounds how long a call action waits for the call's
	// owner, and each storage operation. Default DefaultRequestTimeout.
	RequestTimeout time.Duration

	// ShutdownTimeout bounds the graceful shutdown that Run performs when
	// its context ends. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// SendQueue is how many messages may wait to be written to one client.
	// A client that lets it fill up is disconnected, so that it cannot hold
	// up anyone else. Default DefaultSendQueue.
	SendQueue int

	// CallHistory is how long call records are kept in the calls bucket.
	// Default DefaultCallHistory.
	CallHistory time.Duration

	// VoiceMessageRetention is how long a voice message is kept (nodes
	// that share a NATS must use the same); VoiceMessageQuota is how many
	// bytes of voice messages one user may have, past which a new one to
	// them is refused (voicemail.go). Defaults DefaultVoiceMessageRetention
	// and DefaultVoiceMessageQuota.
	VoiceMessageRetention time.Duration
	VoiceMessageQuota     int64
	// TextRetention is how long text messages are kept (texts.go).
	// Default DefaultTextRetention.
	TextRetention time.Duration
	// TextLimit is how many texts one user may send in a minute, on this
	// node, a third of them at once. Default DefaultTextLimit; negative: no
	// limit.
	TextLimit int

	// Webhooks tunes the delivery of webhooks (timeout, retries, the
	// address ranges allowed besides public ones); see package webhook.
	// Zero fields take its defaults.
	Webhooks WebhookOptions

	// NATSURL, when set, is the NATS server (with JetStream) to use instead
	// of the embedded one: several nodes pointed at the same NATS form one
	// service. Empty runs an embedded NATS storing under DataDir.
	NATSURL string

	// NATSListen, when set, makes the embedded NATS accept client
	// connections at this host:port (port 0 picks one; NATSClientURL tells
	// which), so that other nodes can use it as their NATSURL. Empty keeps
	// the embedded NATS reachable from this process only. Not allowed with
	// NATSURL.
	NATSListen string

	// NodeName names this node in logs, in presence records and as the
	// embedded NATS server's name. Default "parley-" and random letters.
	NodeName string

	// AccessTokenTTL is the lifetime of the access tokens that signed-in
	// devices trade their credential for (POST /v1/auth/token); clients
	// renew them before they expire. Default DefaultAccessTokenTTL; 1s to
	// MaxTokenTTL.
	AccessTokenTTL time.Duration

	// InviteTTL is how long an invite may be used when the admin does not
	// say. Default DefaultInviteTTL; at most MaxInviteTTL.
	InviteTTL time.Duration

	// LinkTTL is how long a guest link may be opened when its maker does
	// not say. Default DefaultLinkTTL; at most MaxLinkTTL.
	LinkTTL time.Duration

	// PublicURL is the base of invite and guest links, such as
	// https://voice.example.com:7700, for a server reached through another
	// name than its listener. Empty: the listener's own URL when it
	// listens on one address; on every address (0.0.0.0, ::) the server
	// makes no link, and the clients that asked for one build it from the
	// address they used. The request's Host header is never used.
	PublicURL string

	// TLSCertFile and TLSKeyFile, both or neither, are the PEM certificate
	// (chain) and key the server speaks HTTPS and WSS with. Empty: plain
	// HTTP.
	TLSCertFile, TLSKeyFile string

	// Limits are the per-address limits of the endpoints that take a
	// secret. The zero value is DefaultLimits.
	Limits Limits

	// DialLimit is how many calls one user may place in a minute, and
	// RingLimit how many calls may ring one user in a minute, on this
	// node; a third of either may come at once. Defaults DefaultDialLimit
	// and DefaultRingLimit; negative: no limit.
	DialLimit, RingLimit int

	// MessageLimit is how many messages a second one connection may send,
	// four times as many at once. Default DefaultMessageLimit; negative:
	// no limit.
	MessageLimit int
	// TrustedProxies are the load balancers and proxies in front of the
	// server: CIDRs such as 10.0.0.0/8, or single addresses. A request from
	// one of them comes, for the limits and the logs, from the rightmost
	// address of its X-Forwarded-For that is not itself a trusted proxy.
	// Empty: every request comes from its TCP peer, and X-Forwarded-For is
	// ignored.
	TrustedProxies []string

	// Logger receives the server's logs, including every refusal sent to a
	// client. Default: logs are discarded.
	Logger *slog.Logger

	// linkMargin is how long past its link's expiry a guest's call may go
	// on (links.go). Default guestCallMargin; tests shorten it.
	linkMargin time.Duration

	// roomLimit is how many people a room holds; 0:
	// signaling.MaxRoomParticipants. Tests make it small.
	roomLimit int

	// roomKept is how long a room stays in the rooms bucket after its end
	// (room.go, roomTTL); 0: roomKeptFor. Tests shorten it.
	roomKept time.Duration

	// ringSweep is how often each node looks for rooms to ring
	// (roominvites.go); 0: ringSweepEvery. Tests shorten it.
	ringSweep time.Duration

	// clock is the per-address limiter's clock; nil: time.Now. Tests move
	// it.
	clock func() time.Time
}

// expiry is how long a presence record or a busy mark lasts after its
// last refresh: a heartbeat may come up to 1.5 heartbeats late.
func (c Config) expiry() time.Duration { return c.Heartbeat * 5 / 2 }

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.ReconnectGrace == 0 {
		c.ReconnectGrace = DefaultReconnectGrace
	}
	if c.TURNListen == "" {
		host, port, _ := net.SplitHostPort(c.Listen)
		if port != "0" { // a listener on any free port gets a TURN server on any free port
			port = DefaultTURNPort
		}
		c.TURNListen = net.JoinHostPort(host, port)
	}
	if c.TURNCredentialTTL == 0 {
		c.TURNCredentialTTL = DefaultTURNCredentialTTL
	}
	if c.RoomPort == "" {
		c.RoomPort = DefaultRoomPort
		if _, port, _ := net.SplitHostPort(c.Listen); port == "0" {
			c.RoomPort = "0"
		}
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.LobbyTimeout == 0 {
		c.LobbyTimeout = DefaultLobbyTimeout
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.CallHistory == 0 {
		c.CallHistory = DefaultCallHistory
	}
	if c.VoiceMessageRetention == 0 {
		c.VoiceMessageRetention = DefaultVoiceMessageRetention
	}
	if c.VoiceMessageQuota == 0 {
		c.VoiceMessageQuota = DefaultVoiceMessageQuota
	}
	if c.TextRetention == 0 {
		c.TextRetention = DefaultTextRetention
	}
	if c.TextLimit == 0 {
		c.TextLimit = DefaultTextLimit
	}
	if c.NodeName == "" {
		c.NodeName = "parley-" + newID()[:8]
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.InviteTTL == 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	if c.roomLimit == 0 {
		c.roomLimit = signaling.MaxRoomParticipants
	}
	if c.linkMargin == 0 {
		c.linkMargin = guestCallMargin
	}
	if c.roomKept == 0 {
		c.roomKept = roomKeptFor
	}
	c.Limits = c.Limits.WithDefaults()
	if c.DialLimit == 0 {
		c.DialLimit = DefaultDialLimit
	}
	if c.RingLimit == 0 {
		c.RingLimit = DefaultRingLimit
	}
	if c.MessageLimit == 0 {
		c.MessageLimit = DefaultMessageLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c with its defaults applied, joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("server: config: "+format, args...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("Listen %q is not host:port: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		bad("DataDir is required: the server keeps its secret, API key and JetStream store there")
	}
	if c.TokenTTL < time.Second || c.TokenTTL > MaxTokenTTL {
		bad("TokenTTL %v is outside 1s to %v", c.TokenTTL, MaxTokenTTL)
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"RingTimeout", c.RingTimeout},
		{"LobbyTimeout", c.LobbyTimeout},
		{"ReconnectGrace", c.ReconnectGrace},
		{"PingInterval", c.PingInterval},
		{"ConnectTimeout", c.ConnectTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"RequestTimeout", c.RequestTimeout},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"CallHistory", c.CallHistory},
		{"VoiceMessageRetention", c.VoiceMessageRetention},
		{"TextRetention", c.TextRetention},
	}
	for _, p := range positive {
		if p.d < 0 {
			bad("%s %v is negative", p.name, p.d)
		}
	}
	if c.Heartbeat < 100*time.Millisecond {
		bad("Heartbeat %v is under 100ms", c.Heartbeat)
	}
	if c.VoiceMessageQuota < 0 {
		bad("VoiceMessageQuota %d is negative", c.VoiceMessageQuota)
	}
	if c.SendQueue < 0 {
		bad("SendQueue %d is negative", c.SendQueue)
	}
	if c.NATSURL != "" && c.NATSListen != "" {
		bad("NATSURL and NATSListen exclude each other: NATSListen is for the embedded NATS")
	}
	if c.NATSListen != "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			bad("NATSListen %q is not host:port: %w", c.NATSListen, err)
		}
	}
	if c.AccessTokenTTL < time.Second || c.AccessTokenTTL > MaxTokenTTL {
		bad("AccessTokenTTL %v is outside 1s to %v", c.AccessTokenTTL, MaxTokenTTL)
	}
	if c.InviteTTL < time.Second || c.InviteTTL > MaxInviteTTL {
		bad("InviteTTL %v is outside 1s to %v", c.InviteTTL, MaxInviteTTL)
	}
	if c.LinkTTL < time.Second || c.LinkTTL > MaxLinkTTL {
		bad("LinkTTL %v is outside 1s to %v", c.LinkTTL, MaxLinkTTL)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("PublicURL %q is not a URL like https://voice.example.com:7700", c.PublicURL)
		}
	}
	for _, p := range c.TURNAllowPeers {
		if !p.IsValid() {
			bad("TURNAllowPeers: %v is not a range such as 10.20.0.0/16", p)
		}
	}
	if _, err := strconv.ParseUint(c.RoomPort, 10, 16); err != nil {
		bad("RoomPort %q is not a UDP port such as %s", c.RoomPort, DefaultRoomPort)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("TLSCertFile and TLSKeyFile go together: give both or neither")
	}
	if err := c.Webhooks.Validate(); err != nil {
		bad("%w", err)
	}
	if err := c.Limits.Validate(); err != nil {
		bad("%w", err)
	}
	if _, err := ratelimit.ParseProxies(c.TrustedProxies); err != nil {
		bad("%w", err)
	}
	if !signaling.ValidID(c.NodeName) {
		bad("NodeName %q is not valid: use 1 to 64 letters, digits and . _ - @ +", c.NodeName)
	}
	return errors.Join(errs...)
}
