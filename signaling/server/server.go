package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/ice/v4"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/ratelimit"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/token"
	"github.com/parley-voice/parley/signaling/server/turn"
	"github.com/parley-voice/parley/signaling/server/webhook"
)

// Token roles, the issuer of every token and the team of a token that
// names none (package token).
const (
	RoleMember  = token.RoleMember // a token without a role is a member's
	RoleAdmin   = token.RoleAdmin
	RoleGuest   = token.RoleGuest
	Issuer      = token.Issuer
	DefaultTeam = token.DefaultTeam
)

// Claims are the claims of a parley token (JWT, HS256).
type Claims = token.Claims

// TokenOptions customise a token that IssueToken makes. The zero value is
// a member's token of the default team valid for Config.TokenTTL, without
// data.
type TokenOptions struct {
	Role string        // RoleMember (default), RoleAdmin or RoleGuest
	Data string        // free metadata for the token's holder, at most signaling.MaxDataLength characters
	TTL  time.Duration // lifetime; 0 means Config.TokenTTL; at most MaxTokenTTL
	Team string        // the user's team; "" is DefaultTeam
	Name string        // a display name to record for the user; "" keeps theirs
}

// Causes with which a connection's context ends.
var (
	errShutdown    = errors.New("server: shutting down")
	errSlow        = errors.New("server: client too slow: its send queue is full")
	errBadToken    = errors.New("server: connect with an invalid token")
	errLost        = errors.New("server: session was taken over after its presence expired")
	errNoHello     = errors.New("server: no connect in time")
	errRevoked     = errors.New("server: the device or user was revoked")
	errExpired     = errors.New("server: the token expired without a refresh")
	errRoleChanged = errors.New("server: the connection's token was refreshed with another role")
	errPing        = errors.New("server: no answer to a ping in time")
	errFlood       = errors.New("server: too many refused messages")
)

// Server is a parley signaling server: the token endpoint, the session
// check, the health check and the signaling WebSocket, with every call and
// presence change routed through NATS.
//
// Life cycle: New prepares (secret, API key) without starting anything;
// Start starts NATS and the HTTP listener and returns once the server
// accepts connections (Addr is then valid); Shutdown stops it gracefully.
// Run does all three for main. A Server is started at most once.
type Server struct {
	cfg       Config
	log       *slog.Logger
	apiKey    string
	generated bool
	tokens    *token.Signer
	limits    *ratelimit.Limiter
	dials     *ratelimit.Keyed // calls placed, by caller (limits in abuse.go)
	daily     *ratelimit.Keyed // calls placed in a day, by caller
	rings     *ratelimit.Keyed // calls rung, by callee
	textsSent *ratelimit.Keyed // texts sent, by sender (texts.go)
	refused   refusals
	tls       *tls.Config // nil: plain HTTP

	// Set by Start before ready is closed, read-only afterwards.
	bus      *bus
	store    *store.Store        // the buckets
	voice    *store.Voice        // the voice messages (voicemail.go)
	texts    *store.Texts        // the text messages (texts.go)
	hooks    *webhook.Dispatcher // this node's share of the webhook deliveries
	hub      *hub                // the users' messages, to this node's connections
	keeper   *keeper             // the presence heartbeats of this node's sessions
	feed     *feed               // everyone's presence, for this node's followers
	ln       net.Listener
	turn     *turn.Server            // nil when TURNListen is "off"
	media    *ice.MultiUDPMuxDefault // the rooms' media sockets (roomsfu.go)
	http     *http.Server
	unused   unusedConns // the HTTP connections that have had no request yet
	serveErr chan error  // Serve's result
	ready    chan struct{}

	// connCtx is the parent of every connection's context; stopConns ends
	// them with errShutdown. callCtx is the same for call owners.
	connCtx   context.Context
	stopConns context.CancelCauseFunc
	callCtx   context.Context
	stopCalls context.CancelFunc
	stopping  chan struct{} // closed when Shutdown begins

	// lifeMu is held by Start throughout, and by Shutdown before it reads
	// what Start set, so that the two may be called concurrently.
	lifeMu sync.Mutex

	// mu guards started, closing and the Add calls of the wait groups, so
	// that nothing is added once Shutdown waits.
	mu      sync.Mutex
	started bool
	closing bool
	conns   sync.WaitGroup
	calls   sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// New checks cfg, creates DataDir and loads (or on first start makes) the
// token secret and the API key. It starts nothing.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	secret, err := loadSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.NodeName),
		apiKey:   cfg.APIKey,
		tokens:   token.NewSigner(secret, cfg.TokenTTL),
		limits:   ratelimit.New(cfg.Limits, cfg.clock),
		dials:    ratelimit.PerMinute(cfg.DialLimit),
		daily:    ratelimit.PerDay(dailyDials, cfg.DialLimit < 0),
		rings:    ratelimit.PerMinute(cfg.RingLimit),
		serveErr: make(chan error, 1),
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
	}
	s.textsSent = ratelimit.PerMinute(cfg.TextLimit)
	if s.apiKey == "" {
		if s.apiKey, s.generated, err = loadAPIKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s.connCtx, s.stopConns = context.WithCancelCause(context.Background())
	s.callCtx, s.stopCalls = context.WithCancel(context.Background())
	return s, nil
}

// APIKey is the key the token endpoint requires.
func (s *Server) APIKey() string { return s.apiKey }

// GeneratedAPIKey reports whether New generated the API key (and saved it
// to DataDir/api_key), so that main can show it once.
func (s *Server) GeneratedAPIKey() bool { return s.generated }

// Ready is closed once Start has succeeded.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, such as "127.0.0.1:41234",
// or "" before Start. Valid once Start returned or Ready is closed.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the server's base URL, such as "https://127.0.0.1:41234", or ""
// before Start.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	if s.tls != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// NATSClientURL is the URL at which other nodes reach the embedded NATS
// (Config.NATSListen), or "" when it takes no outside connections. Valid
// once Start returned.
func (s *Server) NATSClientURL() string {
	if s.bus == nil || s.bus.ns == nil || s.cfg.NATSListen == "" {
		return ""
	}
	return s.bus.ns.ClientURL()
}

// Start starts NATS (embedded or Config.NATSURL), the buckets and the HTTP
// server, and returns once connections are accepted. ctx bounds the start
// only; the server runs until Shutdown.
func (s *Server) Start(ctx context.Context) (err error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.mu.Lock()
	if s.started || s.closing {
		s.mu.Unlock()
		return errors.New("server: Start called twice or after Shutdown")
	}
	s.started = true
	s.mu.Unlock()

	var ln net.Listener
	defer func() { // undo what started, on failure
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			s.feed.close()
			_ = s.turn.Close() // undoing a failed start: its error is the one to report
			if s.media != nil {
				_ = s.media.Close()
			}
			s.hooks.Close()
			s.bus.close()
			s.feed, s.turn, s.media, s.hooks, s.store, s.voice, s.bus = nil, nil, nil, nil, nil, nil, nil
		}
	}()
	if s.bus, err = startBus(s.cfg, s.log); err != nil {
		return err
	}
	s.store, err = store.Open(ctx, s.bus.nc, s.bus.js, store.Options{
		Expiry: s.cfg.expiry(), CallHistory: s.cfg.CallHistory, InviteTTL: MaxInviteTTL,
		LinkTTL: MaxLinkTTL + s.cfg.linkMargin, Timeout: s.cfg.RequestTimeout,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if s.voice, err = s.store.OpenVoice(ctx, s.cfg.VoiceMessageRetention); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if s.texts, err = s.store.OpenTexts(ctx, s.cfg.TextRetention); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.hooks, err = webhook.Start(ctx, s.bus.js, s.store, s.cfg.Webhooks, s.cfg.NodeName, s.cfg.RequestTimeout, s.log)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if s.media, err = listenRoomMedia(s.cfg, s.log); err != nil {
		return err
	}
	if s.cfg.TURNListen != "off" {
		secret, err := loadTURNSecret(s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.turn, err = turn.Start(turn.Config{
			Listen: s.cfg.TURNListen, PublicIP: s.cfg.TURNPublicIP, CredentialTTL: s.cfg.TURNCredentialTTL,
			AllowPeers: s.cfg.TURNAllowPeers, TCPRelay: s.cfg.TURNTCPRelay, Secret: secret,
			Local: []string{s.cfg.Listen, s.cfg.NATSListen},
		}, s.log, s.turnAllowed)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	if err := s.shareMedia(); err != nil {
		return err
	}
	if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	if s.hub, err = startHub(s.bus.nc); err != nil {
		return err
	}
	if s.feed, err = startFeed(s); err != nil {
		return err
	}
	s.keeper = startKeeper(s)
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: s.cfg.WriteTimeout,
		ReadTimeout:       s.cfg.WriteTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       4 * s.cfg.WriteTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         s.tls,
		ConnState:         s.unused.track,
	}
	if s.tls != nil {
		go func() { s.serveErr <- s.http.ServeTLS(ln, "", "") }()
	} else {
		go func() { s.serveErr <- s.http.Serve(ln) }()
	}
	if s.track(&s.calls) {
		go s.sweep(s.callCtx) // resume.go
	}
	if s.track(&s.calls) {
		go s.reportRefusals(s.callCtx, time.Minute) // abuse.go
	}
	if s.track(&s.calls) {
		go s.ringSweep(s.callCtx) // roominvites.go
	}
	close(s.ready)
	nats := "embedded"
	if s.cfg.NATSURL != "" {
		nats = s.cfg.NATSURL
	}
	s.log.Info("listening", "url", s.URL(), "nats", nats, "data_dir", s.cfg.DataDir)
	return nil
}

// Run starts the server and serves until ctx ends, then shuts down
// gracefully within Config.ShutdownTimeout. It returns nil after a graceful
// shutdown, or what failed.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-s.serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("server: serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(sctx))
}

// Shutdown stops the server gracefully: new connections and calls are
// refused; the calls this node owns stop without being marked failed (their
// media may go on); every client is sent a shutdown message and its socket
// closed; then the HTTP server and NATS stop. ctx bounds the waiting; when
// it ends first, the rest is stopped anyway and the error says so. Calling
// Shutdown again returns the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	close(s.stopping)
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.log.Info("shutting down")

	var errs []error
	s.stopCalls()
	if err := wait(ctx, &s.calls); err != nil {
		errs = append(errs, fmt.Errorf("server: calls did not stop: %w", err))
	}
	s.stopConns(errShutdown)
	if err := wait(ctx, &s.conns); err != nil {
		errs = append(errs, fmt.Errorf("server: connections did not close: %w", err))
	}
	s.keeper.close()
	if s.http != nil {
		// http.Server.Shutdown waits up to 5 s for the first request of a
		// connection that has sent none; a client leaves such a connection
		// when it cancels a request while it dials (net/http pools the
		// connection all the same). A request comes within a round trip
		// of the connect: after unusedGrace, those connections are closed.
		t := time.AfterFunc(unusedGrace, func() {
			if n := s.unused.close(); n > 0 {
				s.log.Info("closed connections that sent no request", "conns", n, "after", unusedGrace.String())
			}
		})
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: http: %w", err))
		}
		t.Stop()
	}
	s.feed.close()
	if err := s.turn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: %w", err))
	}
	if s.media != nil {
		if err := s.media.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: rooms' media: %w", err))
		}
	}
	s.hooks.Close()
	if s.bus != nil {
		s.bus.close()
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}

// unusedGrace is how long a shutdown waits for the first request of a
// connection before it closes the connection.
const unusedGrace = 300 * time.Millisecond

// unusedConns are the HTTP connections on which no request has come yet
// (http.StateNew), for the shutdown to close.
type unusedConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track is the HTTP server's ConnState hook.
func (u *unusedConns) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if state != http.StateNew {
		delete(u.conns, c)
		return
	}
	if u.conns == nil {
		u.conns = map[net.Conn]struct{}{}
	}
	u.conns[c] = struct{}{}
}

// close closes the connections that are still unused, and returns how
// many: their goroutines in net/http end, and the shutdown waits for them
// no more.
func (u *unusedConns) close() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := len(u.conns)
	for c := range u.conns {
		_ = c.Close() // closing is all there is to do: an error has no one to tell
	}
	clear(u.conns)
	return n
}

// wait waits for wg, or for ctx to end.
func wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// track adds one to wg unless the server is shutting down.
func (s *Server) track(wg *sync.WaitGroup) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	wg.Add(1)
	return true
}

// IssueToken makes a token for user and records the user as known (in
// o.Team, with o.Role and, when given, o.Name as their display name). It
// writes the user's record only when that changes it, or LastToken is
// lastTokenEvery old. A refusal is a *signaling.Error (InvalidParameter,
// also when too many requests change the record at once, or UnknownError
// when storage fails). Valid once Start returned.
func (s *Server) IssueToken(ctx context.Context, user string, opts TokenOptions) (string, error) {
	if s.bus == nil {
		return "", errors.New("server: IssueToken before Start")
	}
	o, err := s.tokens.Check(user,
		token.Options{Role: opts.Role, Data: opts.Data, TTL: opts.TTL, Team: opts.Team, Name: opts.Name})
	if err != nil {
		return "", err
	}
	now := time.Now()
	tok, err := s.tokens.Sign(user, o, now)
	if err != nil {
		return "", signaling.Errorf(signaling.UnknownError, "could not sign the token: %v", err)
	}
	_, err = s.saveUser(ctx, o.Team, user, func(u *store.User) {
		before := *u
		u.Role = o.Role
		if o.Name != "" {
			u.Name = o.Name
		}
		if *u != before || now.Sub(u.LastToken) >= lastTokenEvery {
			u.LastToken = now.UTC()
		}
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// VerifyToken checks a token made by this server (or a node sharing its
// secret). A refusal is a *signaling.Error of code InvalidToken.
func (s *Server) VerifyToken(tok string) (Claims, error) { return s.tokens.Verify(tok) }

// markKnown records a user who connected with a valid token, in case the
// users bucket lost them (its store was wiped but the secret kept). A
// failure is only logged: the user is known at the next token.
func (s *Server) markKnown(ctx context.Context, team, user, role string) store.User {
	rec := store.User{User: user, Team: team, Role: role, Created: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	_, err := s.store.Users.Create(ctx, store.UserKey(team, user), b)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		s.log.Warn("could not record user", "user", user, "team", team, "err", err)
	}
	return rec
}

// online reports whether the user with userKey key has a connected session
// on any node.
func (s *Server) online(ctx context.Context, key string) (bool, error) {
	msgs, err := s.store.Latest(ctx, store.BucketPresence, presenceFilter(key))
	return len(msgs) > 0, err
}

// newID returns a random id of 26 lower-case letters and digits.
func newID() string { return strings.ToLower(rand.Text()) }
