package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/internal/pionlog"
	"github.com/parley-voice/parley/signaling"
)

// The embedded TURN server relays media between clients that cannot reach
// each other directly (symmetric NATs, firewalls that allow only outgoing
// TCP). It also answers STUN binding requests, so clients learn their
// public address from it. It listens on UDP and TCP at Config.TURNListen,
// and relays UDP only (TCP relays, RFC 6062, with Config.TURNTCPRelay), to
// the peers peerPolicy allows.
//
// Credentials follow the TURN REST API that coturn's use-auth-secret
// implements: the username is "<expiry unix time>:<holder>", the password
// the base64 HMAC-SHA1 of the username under a secret the nodes share
// (DataDir/turn_secret). Every welcome carries a fresh pair, valid for
// Config.TURNCredentialTTL (a guest's, no longer than its link), so a
// client never holds a long-lived relay credential; a coturn configured
// with the same secret accepts them too. The holder (turnHolder) names the
// user and device, or the guest's link: the embedded server refuses the
// credential once that access is revoked or the link no longer works, so
// the relay stops with its next request to it (allocations and permissions
// are refreshed every few minutes).
//
// Refusals are routine (anyone may knock): they are logged at debug, and
// so is everything pion/turn says.
type turnServer struct {
	srv    *turn.Server
	secret string
	urls   []string
	ttl    time.Duration
}

const turnSecretFile = "turn_secret"

// turnHolder is whom a TURN credential was given to, written in its
// username after the expiry: "user:team:device:issued unix time" for a
// member (device empty for a token from the token endpoint), "user:link
// key" for a guest of a guest link.
type turnHolder struct {
	user, team, device string
	issued             time.Time
	link               string    // a guest's link key
	end                time.Time // when the credential must end, if sooner than its lifetime (not written)
}

func (h turnHolder) String() string {
	if h.link != "" {
		return h.user + ":" + h.link
	}
	return fmt.Sprintf("%s:%s:%s:%d", h.user, h.team, h.device, h.issued.Unix())
}

// parseTurnHolder reads the holder of a TURN username; ok is false for a
// username that names none.
func parseTurnHolder(username string) (h turnHolder, ok bool) {
	f := strings.Split(username, ":")
	switch len(f) {
	case 3:
		return turnHolder{user: f[1], link: f[2]}, f[2] != ""
	case 5:
		iat, err := strconv.ParseInt(f[4], 10, 64)
		return turnHolder{user: f[1], team: f[2], device: f[3], issued: time.Unix(iat, 0)}, err == nil
	}
	return h, false
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
	public := cmpOr(cfg.TURNPublicIP, host)
	relayIP, err := netip.ParseAddr(public)
	if err != nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("server: the TURN relay needs the address clients reach it at: set TURNPublicIP (--turn-public-ip), got %q", public)
	}
	relayIP = relayIP.Unmap()
	udp, tcp, err := listenTURN(host, port)
	if err != nil {
		return nil, err
	}
	addr := udp.LocalAddr().String()
	_, port, _ = net.SplitHostPort(addr) // the real port, when the config said 0
	gen := &relayGen{
		RelayAddressGeneratorStatic: turn.RelayAddressGeneratorStatic{RelayAddress: relayIP.AsSlice(), Address: host},
		relay:                       relayIP, tcp: cfg.TURNTCPRelay,
	}
	if !relayIP.IsLoopback() {
		gen.ports = &relayPorts{ports: map[int]bool{}}
	}
	factory := pionlog.Factory{Log: log.With("component", "turn"), Quiet: true}
	policy := newPeerPolicy(relayIP, localAddrs(cfg.Listen, cfg.TURNListen, cfg.NATSListen), cfg.TURNAllowPeers)
	allow := policy.handler(log)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:             "parley",
		AuthHandler:       authHandler(turn.LongTermTURNRESTAuthHandler(secret, factory.NewLogger("turn")), allowed, log),
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen, PermissionHandler: allow}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen, PermissionHandler: allow}},
		LoggerFactory:     factory,
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("server: turn: %w", err)
	}
	hp := net.JoinHostPort(public, port)
	log.Info("turn listening", "udp", addr, "tcp", tcp.Addr().String(), "relay", relayIP.String(),
		"tcp_relay", cfg.TURNTCPRelay, "allow_peers", cfg.TURNAllowPeers)
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

// peerPolicy decides which peers the relay may reach. A relay is for
// reaching the other side of a call: a public address, or the relay of
// another client of this server (both sides behind NATs that need one). It
// refuses
//   - loopback, unless the relay is on loopback too (a server for this
//     machine only, or a test: its relays reach nothing else anyway);
//   - unspecified, multicast and broadcast addresses;
//   - this machine's addresses (localAddrs), but for the relay's own, at
//     which relayConn lets packets reach the relays only;
//   - private (RFC 1918, fc00::/7), shared (100.64.0.0/10), link-local
//     and reserved (0.0.0.0/8, 240.0.0.0/4) ranges, unless the operator
//     allows them (Config.TURNAllowPeers).
//
// Otherwise anyone holding a credential, a guest included, could reach
// the services of the operator's network, or of the machine, through it.
type peerPolicy struct {
	relay    netip.Addr
	local    map[netip.Addr]bool
	allow    []netip.Prefix
	reserved []netip.Prefix // refused unless allowed, besides netip's private and link-local
}

func newPeerPolicy(relay netip.Addr, local []netip.Addr, allow []netip.Prefix) *peerPolicy {
	p := &peerPolicy{relay: relay, local: map[netip.Addr]bool{}, allow: allow}
	for _, a := range local {
		p.local[a.Unmap()] = true
	}
	for _, r := range []string{"0.0.0.0/8", "100.64.0.0/10", "240.0.0.0/4"} {
		p.reserved = append(p.reserved, netip.MustParsePrefix(r))
	}
	return p
}

// allows reports whether the relay may reach ip.
func (p *peerPolicy) allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return p.relay.IsLoopback()
	case !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case ip == p.relay:
		return true
	case p.local[ip]:
		return false
	}
	for _, r := range p.allow {
		if r.Contains(ip) {
			return true
		}
	}
	for _, r := range p.reserved {
		if r.Contains(ip) {
			return false
		}
	}
	return !ip.IsPrivate() && !ip.IsLinkLocalUnicast()
}

// handler is the policy as pion/turn asks it, for each permission and
// channel (and TCP connection) a client asks for.
func (p *peerPolicy) handler(log *slog.Logger) turn.PermissionHandler {
	return func(client net.Addr, peer net.IP) bool {
		ip, _ := netip.AddrFromSlice(peer)
		ok := p.allows(ip)
		if !ok {
			log.Debug("turn: relay to a peer refused", "client", client.String(), "peer", peer.String())
		}
		return ok
	}
}

// localAddrs returns this machine's addresses: its interfaces' with the
// broadcast addresses of their IPv4 subnets, and the hosts of the listen
// addresses given (those that are addresses).
func localAddrs(listen ...string) []netip.Addr {
	var out []netip.Addr
	for _, hp := range listen {
		host, _, _ := net.SplitHostPort(hp)
		if a, err := netip.ParseAddr(host); err == nil {
			out = append(out, a)
		}
	}
	addrs, _ := net.InterfaceAddrs() // none known: the listen addresses and the ranges refused still hold
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		out = append(out, p.Addr())
		if p.Addr().Is4() && p.Bits() < 31 {
			b, mask := p.Addr().As4(), net.CIDRMask(p.Bits(), 32)
			for i := range b {
				b[i] |= ^mask[i]
			}
			out = append(out, netip.AddrFrom4(b))
		}
	}
	return out
}

// errTCPRelayOff refuses a TCP allocation: pion/turn answers it with 508
// (insufficient capacity).
var errTCPRelayOff = errors.New("server: TCP relaying is off (--turn-tcp-relay)")

// relayGen makes the relays, as RelayAddressGeneratorStatic does, but TCP
// ones only when tcp, and UDP ones (when ports is not nil: a relay not on
// loopback) as relayConns.
type relayGen struct {
	turn.RelayAddressGeneratorStatic
	relay netip.Addr
	tcp   bool
	ports *relayPorts
}

func (g *relayGen) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGeneratorStatic.AllocatePacketConn(c)
	if err != nil || g.ports == nil {
		return conn, addr, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	g.ports.set(port, true)
	return &relayConn{PacketConn: conn, relay: g.relay, ports: g.ports, port: port}, addr, nil
}

func (g *relayGen) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if !g.tcp {
		return nil, nil, errTCPRelayOff
	}
	return g.RelayAddressGeneratorStatic.AllocateListener(c)
}

// AllocateConn opens a TCP relay's connection to a peer (the policy
// allowed it), but not to the relay's own address: that is other clients'
// relays on UDP, and this machine's services on TCP.
func (g *relayGen) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	if !g.tcp {
		return nil, errTCPRelayOff
	}
	if to, ok := c.RemoteAddr.(*net.TCPAddr); ok && to.AddrPort().Addr().Unmap() == g.relay {
		return nil, fmt.Errorf("server: a TCP relay to the relay's own address %v is refused", to)
	}
	return g.RelayAddressGeneratorStatic.AllocateConn(c)
}

// relayPorts are the ports of this server's UDP relays, shared by them.
type relayPorts struct {
	mu    sync.Mutex
	ports map[int]bool
}

func (r *relayPorts) set(port int, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.ports[port] = true
	} else {
		delete(r.ports, port)
	}
}

func (r *relayPorts) has(port int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ports[port]
}

// relayConn is the socket of a UDP relay at port. What it sends to the
// relay's own address (the relay of the other side of a call) reaches the
// relays only: a packet to another port is dropped, as a firewall would,
// so that the services of this machine at that address (HTTP, NATS…)
// cannot be reached through the relay.
type relayConn struct {
	net.PacketConn
	relay netip.Addr
	ports *relayPorts
	port  int
}

func (c *relayConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if u, ok := to.(*net.UDPAddr); ok && u.AddrPort().Addr().Unmap() == c.relay && !c.ports.has(u.Port) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, to)
}

func (c *relayConn) Close() error {
	c.ports.set(c.port, false)
	return c.PacketConn.Close()
}

// authHandler checks a credential as rest does (its expiry, its password),
// then that it names a holder who still has access.
func authHandler(rest turn.AuthHandler, allowed func(turnHolder) bool, log *slog.Logger) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		id, key, ok := rest(ra)
		if !ok {
			return id, key, ok
		}
		if h, named := parseTurnHolder(ra.Username); !named || !allowed(h) {
			log.Debug("turn: credential refused", "username", ra.Username, "remote", ra.SrcAddr.String())
			return "", nil, false
		}
		return id, key, true
	}
}

// iceServers returns the STUN and TURN servers for holder h, with TURN
// credentials that expire after the configured lifetime, or at h.end if
// that is sooner.
func (t *turnServer) iceServers(h turnHolder) []signaling.ICEServer {
	if t == nil {
		return nil
	}
	ttl := t.ttl
	if !h.end.IsZero() {
		ttl = min(ttl, time.Until(h.end))
	}
	username, password, err := turn.GenerateLongTermTURNRESTCredentials(t.secret, h.String(), ttl)
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
