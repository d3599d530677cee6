package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
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
// implements: the username is "<expiry unix time>:<user>", the password
// the base64 HMAC-SHA1 of the username under a secret the nodes share
// (DataDir/turn_secret). Every welcome carries a fresh pair, valid for
// Config.TURNCredentialTTL, so a client never holds a long-lived relay
// credential; a coturn configured with the same secret accepts them too.
type turnServer struct {
	srv    *turn.Server
	secret string
	urls   []string
	ttl    time.Duration
}

const turnSecretFile = "turn_secret"

// startTURN starts the TURN server described by cfg.
func startTURN(cfg Config, log *slog.Logger) (*turnServer, error) {
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
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(secret, factory.NewLogger("turn")),
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

// iceServers returns the STUN and TURN servers for user, with TURN
// credentials that expire after the configured lifetime.
func (t *turnServer) iceServers(user string) []signaling.ICEServer {
	if t == nil {
		return nil
	}
	username, password, err := turn.GenerateLongTermTURNRESTCredentials(t.secret, user, t.ttl)
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
