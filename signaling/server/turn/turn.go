// Package turn is the signaling server's embedded TURN server: it relays
// media between clients that cannot reach each other directly, or that
// may only use a relay, to each other and to the rooms of the service's
// nodes, and answers STUN. It listens on UDP and TCP at one port and
// relays UDP (TCP with Config.TCPRelay) to the peers its policy allows
// (peerPolicy).
//
// Credentials follow the TURN REST API of coturn's use-auth-secret: the
// username is "<expiry unix time>:<holder>", the password the HMAC-SHA1 of
// the username under the secret the nodes share. The Holder names whom
// they were given to; the server refuses them once the allowed function
// given to Start says that access is gone. docs/SERVER.md tells the
// design. Refusals are routine: they are logged at debug level only.
package turn

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parley-voice/parley/internal/pionlog"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/netrange"
)

// Config describes a TURN server.
type Config struct {
	// Listen is where it listens, on UDP and TCP, host:port; port 0 picks
	// a port free on both.
	Listen string
	// PublicIP is the address clients reach it at and relays are
	// announced with; default the host of Listen, which must then be a
	// specific address.
	PublicIP string
	// CredentialTTL is how long the credentials of ICEServers stay valid.
	CredentialTTL time.Duration
	// AllowPeers are ranges the relay may reach although it refuses them
	// by default (see the policy in peerPolicy).
	AllowPeers []netip.Prefix
	// TCPRelay lets clients open TCP relays to peers (RFC 6062). Without it
	// clients still reach the server over TCP, for UDP relays.
	TCPRelay bool
	// Secret is the key of the credentials, shared by the nodes of a
	// service (and a coturn that takes the same credentials).
	Secret string
	// Local are the addresses (host:port) of this machine's other
	// listeners, refused as peers as every address of the machine is.
	Local []string
}

// Server is a running TURN server.
type Server struct {
	srv    *pionturn.Server
	policy *peerPolicy
	secret string
	urls   []string
	ttl    time.Duration
}

// Holder is whom a TURN credential was given to, written in its username
// after the expiry: "user:team:device:issued unix time" for a member
// (Device empty for a token from the token endpoint), "user:link key" for
// a guest of a guest link.
type Holder struct {
	User, Team, Device string
	Issued             time.Time
	Link               string    // a guest's link key
	End                time.Time // when the credential must end, if sooner than its lifetime (not written)
}

func (h Holder) String() string {
	if h.Link != "" {
		return h.User + ":" + h.Link
	}
	return fmt.Sprintf("%s:%s:%s:%d", h.User, h.Team, h.Device, h.Issued.Unix())
}

// parseHolder reads the holder of a TURN username; ok is false for a
// username that names none.
func parseHolder(username string) (h Holder, ok bool) {
	f := strings.Split(username, ":")
	switch len(f) {
	case 3:
		return Holder{User: f[1], Link: f[2]}, f[2] != ""
	case 5:
		iat, err := strconv.ParseInt(f[4], 10, 64)
		return Holder{User: f[1], Team: f[2], Device: f[3], Issued: time.Unix(iat, 0)}, err == nil
	}
	return h, false
}

// Start starts the TURN server described by cfg. allowed tells whether a
// credential's holder still has access; it is called for each request
// that carries a valid credential, on pion/turn's goroutines.
func Start(cfg Config, log *slog.Logger, allowed func(Holder) bool) (*Server, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("turn: listen %q: %w", cfg.Listen, err)
	}
	public := cmp.Or(cfg.PublicIP, host)
	relayIP, err := netip.ParseAddr(public)
	if err != nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("turn: the relay needs the address clients reach it at: "+
			"set TURNPublicIP (--turn-public-ip), got %q", public)
	}
	relayIP = relayIP.Unmap()
	udp, tcp, err := listen(host, port)
	if err != nil {
		return nil, err
	}
	addr := udp.LocalAddr().String()
	_, port, _ = net.SplitHostPort(addr) // the real port, when the config said 0
	factory := pionlog.Factory{Log: log.With("component", "turn"), Quiet: true}
	policy := newPeerPolicy(relayIP, localAddrs(append([]string{cfg.Listen}, cfg.Local...)...), cfg.AllowPeers)
	gen := &relayGen{
		RelayAddressGeneratorStatic: pionturn.RelayAddressGeneratorStatic{RelayAddress: relayIP.AsSlice(),
			Address: host},
		policy: policy, tcp: cfg.TCPRelay, ports: &relayPorts{ports: map[int]bool{}},
	}
	allow := policy.handler(log)
	rest := pionturn.LongTermTURNRESTAuthHandler(cfg.Secret, factory.NewLogger("turn"))
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm:       "parley",
		AuthHandler: authHandler(rest, allowed, log),
		PacketConnConfigs: []pionturn.PacketConnConfig{
			{PacketConn: udp, RelayAddressGenerator: gen, PermissionHandler: allow},
		},
		ListenerConfigs: []pionturn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen,
			PermissionHandler: allow}},
		LoggerFactory: factory,
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("turn: %w", err)
	}
	hp := net.JoinHostPort(public, port)
	log.Info("turn listening", "udp", addr, "tcp", tcp.Addr().String(), "relay", relayIP.String(),
		"tcp_relay", cfg.TCPRelay, "allow_peers", cfg.AllowPeers)
	return &Server{
		srv:    srv,
		policy: policy,
		secret: cfg.Secret,
		ttl:    cfg.CredentialTTL,
		urls:   []string{"stun:" + hp, "turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
	}, nil
}

// listen listens on UDP and TCP at the same port of host. With port 0,
// the system picks a free UDP port, which may be taken on TCP (by any
// connection's local end): another is tried then, a few times.
func listen(host, port string) (net.PacketConn, net.Listener, error) {
	for try := 1; ; try++ {
		udp, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("turn: udp: %w", err)
		}
		_, got, _ := net.SplitHostPort(udp.LocalAddr().String())
		tcp, err := net.Listen("tcp4", net.JoinHostPort(host, got))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || try == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("turn: tcp: %w", err)
		}
	}
}

// peerPolicy decides which peers the relay may reach. A relay is for
// reaching the other side of a call, a public address or the relay of
// another client of this server (both sides behind NATs that need one),
// or a room's media (the SFU of one of the service's nodes: media). It
// refuses
//   - loopback, unless the relay is on loopback too (a server for this
//     machine only, or a test: its relays reach nothing else anyway);
//   - unspecified, multicast and broadcast addresses;
//   - this machine's addresses (localAddrs), but for the relay's own, at
//     which relayConn lets packets reach the relays only;
//   - private (RFC 1918, fc00::/7), shared (100.64.0.0/10), link-local
//     and reserved (0.0.0.0/8, 240.0.0.0/4) ranges, unless the operator
//     allows them (Config.AllowPeers);
//
// but for the rooms' media addresses (Server.AllowMedia), exactly: an
// address that only they open is open at their ports only, which
// relayConn sees to (a permission names no port).
//
// Otherwise anyone holding a credential, a guest included, could reach
// the services of the operator's network, or of the machine, through it.
type peerPolicy struct {
	relay netip.Addr
	local map[netip.Addr]bool
	allow []netip.Prefix

	mu     sync.RWMutex
	media  map[netip.AddrPort]bool     // every node's
	hosts  map[netip.Addr]bool         // the addresses of media
	byNode map[string][]netip.AddrPort // media, by the node that runs the SFU
}

func newPeerPolicy(relay netip.Addr, local []netip.Addr, allow []netip.Prefix) *peerPolicy {
	p := &peerPolicy{relay: relay, local: map[netip.Addr]bool{}, allow: allow, byNode: map[string][]netip.AddrPort{}}
	for _, a := range local {
		p.local[a.Unmap()] = true
	}
	return p
}

// allows reports whether a permission to reach ip is given: what the
// policy allows, and the addresses of the rooms' media.
func (p *peerPolicy) allows(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if p.base(ip) {
		return true
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.hosts[ip]
}

// base is the policy without the rooms' media.
func (p *peerPolicy) base(ip netip.Addr) bool {
	switch {
	case ip.IsLoopback():
		return p.relay.IsLoopback()
	case !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case ip == p.relay:
		return true
	case p.local[ip]:
		return false
	case slices.ContainsFunc(p.allow, func(r netip.Prefix) bool { return r.Contains(ip) }):
		return true
	}
	return netrange.Kind(ip) == ""
}

// reaches reports whether a relay may send a packet to to, a peer it has
// a permission for: a room's media, a relay of this server at the relay's
// address (relay tells the ports of the relays), any port of an address
// the policy allows without the media.
func (p *peerPolicy) reaches(to netip.AddrPort, relay func(port int) bool) bool {
	ip := to.Addr().Unmap().WithZone("")
	p.mu.RLock()
	media := p.media[netip.AddrPortFrom(ip, to.Port())]
	p.mu.RUnlock()
	switch {
	case media:
		return true
	case ip == p.relay:
		return ip.IsLoopback() || relay(int(to.Port()))
	}
	return p.base(ip)
}

// setMedia sets the media addresses of node's SFU: on another node, its
// loopback addresses are this machine's, not that node's, and are left
// out.
func (p *peerPolicy) setMedia(node string, addrs []netip.AddrPort, own bool) {
	var keep []netip.AddrPort
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
		if a.Addr().IsValid() && (own || !a.Addr().IsLoopback()) {
			keep = append(keep, a)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byNode[node] = keep
	p.media, p.hosts = map[netip.AddrPort]bool{}, map[netip.Addr]bool{}
	for _, addrs := range p.byNode {
		for _, a := range addrs {
			p.media[a], p.hosts[a.Addr()] = true, true
		}
	}
}

// handler is the policy as pion/turn asks it, for each permission and
// channel (and TCP connection) a client asks for.
func (p *peerPolicy) handler(log *slog.Logger) pionturn.PermissionHandler {
	return func(client net.Addr, peer net.IP) bool {
		ip, _ := netip.AddrFromSlice(peer)
		ok := p.allows(ip)
		if !ok {
			log.Debug("turn: relay to a peer refused", "client", client.String(), "peer", peer.String())
		}
		return ok
	}
}

// localAddrs returns this machine's addresses (netrange.Local) and the
// hosts of the listen addresses given (those that are addresses).
func localAddrs(listen ...string) []netip.Addr {
	out := netrange.Local() // none known: the listen addresses and the ranges refused still hold
	for _, hp := range listen {
		host, _, _ := net.SplitHostPort(hp)
		if a, err := netip.ParseAddr(host); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// errTCPRelayOff refuses a TCP allocation: pion/turn answers it with 508
// (insufficient capacity).
var errTCPRelayOff = errors.New("turn: TCP relaying is off (--turn-tcp-relay)")

// relayGen makes the relays, as RelayAddressGeneratorStatic does, but TCP
// ones only when tcp, and UDP ones as relayConns.
type relayGen struct {
	pionturn.RelayAddressGeneratorStatic
	policy *peerPolicy
	tcp    bool
	ports  *relayPorts
}

func (g *relayGen) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGeneratorStatic.AllocatePacketConn(c)
	if err != nil {
		return conn, addr, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	g.ports.set(port, true)
	return &relayConn{PacketConn: conn, policy: g.policy, ports: g.ports, port: port}, addr, nil
}

func (g *relayGen) AllocateListener(c pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if !g.tcp {
		return nil, nil, errTCPRelayOff
	}
	return g.RelayAddressGeneratorStatic.AllocateListener(c)
}

// AllocateConn opens a TCP relay's connection to a peer (the policy
// allowed it), but not to the relay's own address (that is other clients'
// relays on UDP, and this machine's services on TCP), nor to an address
// that the rooms' media alone open (UDP too).
func (g *relayGen) AllocateConn(c pionturn.AllocateConnConfig) (net.Conn, error) {
	if !g.tcp {
		return nil, errTCPRelayOff
	}
	if to, ok := c.RemoteAddr.(*net.TCPAddr); ok {
		if ip := to.AddrPort().Addr().Unmap().WithZone(""); ip == g.policy.relay || !g.policy.base(ip) {
			return nil, fmt.Errorf("turn: a TCP relay to %v is refused: the relay reaches this machine and "+
				"the rooms' media over UDP only", to)
		}
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

// relayConn is the socket of a UDP relay at port. What it sends where the
// policy does not reach (peerPolicy.reaches) is dropped, as a firewall
// would: the relay's own address (the relay of the other side of a call)
// at the ports of the relays only, and an address that only the rooms'
// media open (this machine's, a node's on a private network) at theirs
// only, so that the services there (HTTP, NATS…) cannot be reached
// through the relay.
type relayConn struct {
	net.PacketConn
	policy *peerPolicy
	ports  *relayPorts
	port   int
}

func (c *relayConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if u, ok := to.(*net.UDPAddr); ok && !c.policy.reaches(u.AddrPort(), c.ports.has) {
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
func authHandler(rest pionturn.AuthHandler, allowed func(Holder) bool, log *slog.Logger) pionturn.AuthHandler {
	return func(ra *pionturn.RequestAttributes) (string, []byte, bool) {
		id, key, ok := rest(ra)
		if !ok {
			return id, key, ok
		}
		if h, named := parseHolder(ra.Username); !named || !allowed(h) {
			log.Debug("turn: credential refused", "username", ra.Username, "remote", ra.SrcAddr.String())
			return "", nil, false
		}
		return id, key, true
	}
}

// ICEServers returns the STUN and TURN servers for holder h, with TURN
// credentials that expire after the configured lifetime, or at h.End if
// that is sooner; none from a nil Server (TURN off).
func (t *Server) ICEServers(h Holder) []signaling.ICEServer {
	if t == nil {
		return nil
	}
	ttl := t.ttl
	if !h.End.IsZero() {
		ttl = min(ttl, time.Until(h.End))
	}
	username, password, err := pionturn.GenerateLongTermTURNRESTCredentials(t.secret, h.String(), ttl)
	if err != nil {
		return nil
	}
	return []signaling.ICEServer{
		{URLs: t.urls[:1]},
		{URLs: t.urls[1:], Username: username, Credential: password},
	}
}

// AllowMedia lets the relays reach the SFU of node (its rooms' media) at
// addrs exactly, in place of what it was told of that node before; own
// tells that node is this one. Nothing on a nil Server (TURN off).
func (t *Server) AllowMedia(node string, addrs []netip.AddrPort, own bool) {
	if t != nil {
		t.policy.setMedia(node, addrs, own)
	}
}

// Close stops the server and closes its sockets; nil does nothing.
func (t *Server) Close() error {
	if t == nil {
		return nil
	}
	if err := t.srv.Close(); err != nil {
		return fmt.Errorf("turn: %w", err)
	}
	return nil
}
