package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/internal/pionlog"
	"github.com/parley-voice/parley/signaling"
)

// The embedded TURN server relays media between clients that cannot reach
// each other directly (symmetric NATs, firewalls that allow only outgoing
// TCP). It also answers STUN binding requests, so clients learn their
// public address from it. It listens on UDP and TCP at Config.TURNListen.
//
// Credentials follow the TURN REST API that coturn's use-auth-secret
// implements: the username is "<expiry unix time>:<holder>", the password
// the base64 HMAC-SHA1 of the username under a secret the nodes share
// (DataDir/turn_secret). Every welcome carries a fresh pair, valid for
// Config.TURNCredentialTTL, so a client never holds a long-lived relay
// credential; a coturn configured with the same secret accepts them too.
// The holder (turnHolder) names the user, and for a signed-in device the
// device: the embedded server refuses the credential once that access is
// revoked, so a revoked device loses the relay with its next request to
// it (allocations and permissions are refreshed every few minutes).
type turnServer struct {
	srv    *turn.Server
	secret string
	urls   []string
	ttl    time.Duration
}

const turnSecretFile = "turn_secret"

// turnHolder is whom a TURN credential was given to, written in its
// username after the expiry as "user:team:device:issued unix time". A
// guest's has its user only, and is not checked: its link expires.
type turnHolder struct {
	user, team, device string
	issued             time.Time
}

func (h turnHolder) String() string {
	if h.team == "" {
		return h.user
	}
	return fmt.Sprintf("%s:%s:%s:%d", h.user, h.team, h.device, h.issued.Unix())
}

// parseTurnHolder reads the holder of a TURN username; ok is false for a
// username that names no team (a guest's).
func parseTurnHolder(username string) (h turnHolder, ok bool) {
	f := strings.Split(username, ":")
	if len(f) != 5 {
		return h, false
	}
	iat, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return h, false
	}
	return turnHolder{user: f[1], team: f[2], device: f[3], issued: time.Unix(iat, 0)}, true
}

// startTURN starts the TURN server described by cfg. allowed tells whether
// a credential's holder still has access.
func startTURN(cfg Config, log *slog.Logger, allowed func(turnHolder) bool) (*turnServer, error) {
	secret, _, err := loadOrCreate(filepath.Join(cfg.DataDir, turnSecretFile), func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	})
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(cfg.TURNListen)
	if err != nil {
		return nil, fmt.Errorf("server: turn listen %q: %w", cfg.TURNListen, err)
	}
	public := cfg.TURNPublicIP
	if public == "" {
		public = host
	}
	relayIP := net.ParseIP(public)
	if relayIP == nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("server: the TURN relay needs the address clients reach it at: set TURNPublicIP (--turn-public-ip), got %q", public)
	}
	udp, tcp, err := listenTURN(host, port)
	if err != nil {
		return nil, err
	}
	addr := udp.LocalAddr().String()
	_, port, _ = net.SplitHostPort(addr) // the real port, when the config said 0
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: host}
	}
	factory := pionlog.Factory{Log: log.With("component", "turn")}
	allow := peerFilter(relayIP, log)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:             "parley",
		AuthHandler:       authHandler(turn.LongTermTURNRESTAuthHandler(secret, factory.NewLogger("turn")), allowed, log),
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen(), PermissionHandler: allow}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen(), PermissionHandler: allow}},
		LoggerFactory:     factory,
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("server: turn: %w", err)
	}
	hp := net.JoinHostPort(public, port)
	log.Info("turn listening", "udp", addr, "tcp", tcp.Addr().String(), "relay", relayIP.String())
	return &turnServer{
		srv:    srv,
		secret: secret,
		ttl:    cfg.TURNCredentialTTL,
		urls:   []string{"stun:" + hp, "turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
	}, nil
}

// listenTURN listens on UDP and TCP at the same port of host. With port
// 0, the system picks a free UDP port, which may be taken on TCP (by any
// connection's local end): another is tried then, a few times.
func listenTURN(host, port string) (net.PacketConn, net.Listener, error) {
	for try := 1; ; try++ {
		udp, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("server: turn udp: %w", err)
		}
		_, got, _ := net.SplitHostPort(udp.LocalAddr().String())
		tcp, err := net.Listen("tcp4", net.JoinHostPort(host, got))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || try == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("server: turn tcp: %w", err)
		}
	}
}

// peerFilter decides which peers a TURN client may relay to. A relay is
// for reaching the other side of a call, so it refuses what no call's
// candidate is: this machine itself (loopback, unless the relay is on
// loopback too: a server for this machine only, or a test), unspecified,
// multicast and link-local addresses. Otherwise anyone holding a TURN
// credential could reach the services that listen only on the server's
// loopback (its NATS, say) through it.
func peerFilter(relay net.IP, log *slog.Logger) turn.PermissionHandler {
	local := relay.IsLoopback()
	return func(client net.Addr, peer net.IP) bool {
		ok := !peer.IsUnspecified() && !peer.IsMulticast() && !peer.IsLinkLocalUnicast() &&
			(!peer.IsLoopback() || local)
		if !ok {
			log.Warn("turn: relay to a peer refused", "client", client.String(), "peer", peer.String())
		}
		return ok
	}
}

// authHandler checks a credential as rest does, then that its holder
// still has access.
func authHandler(rest turn.AuthHandler, allowed func(turnHolder) bool, log *slog.Logger) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		id, key, ok := rest(ra)
		if !ok {
			return id, key, ok
		}
		if h, named := parseTurnHolder(ra.Username); named && !allowed(h) {
			log.Info("turn: refused a revoked credential", "user", h.user, "team", h.team, "device", h.device, "remote", ra.SrcAddr)
			return "", nil, false
		}
		return id, key, true
	}
}

// iceServers returns the STUN and TURN servers for holder h, with TURN
// credentials that expire after the configured lifetime.
func (t *turnServer) iceServers(h turnHolder) []signaling.ICEServer {
	if t == nil {
		return nil
	}
	username, password, err := turn.GenerateLongTermTURNRESTCredentials(t.secret, h.String(), t.ttl)
	if err != nil {
		return nil
	}
	return []signaling.ICEServer{
		{URLs: t.urls[:1]},
		{URLs: t.urls[1:], Username: username, Credential: password},
	}
}

func (t *turnServer) close() error {
	if t == nil {
		return nil
	}
	return t.srv.Close()
}
