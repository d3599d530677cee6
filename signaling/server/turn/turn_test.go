package turn

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"go.uber.org/goleak"

	"github.com/parley-voice/parley/internal/syncbuf"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/turn/turntest"
)

// patience bounds every wait for an event in the tests: a failure, never a
// delay.
const patience = 5 * time.Second

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is a running TURN server and its logs.
type testServer struct {
	*Server
	logs *syncbuf.Buffer
}

// start starts a TURN server of cfg (on 127.0.0.1 with any free port
// unless cfg says otherwise) whose credentials stay valid while allowed
// says so (nil: always), and stops it when the test ends.
func start(t *testing.T, cfg Config, allowed func(Holder) bool) *testServer {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.CredentialTTL == 0 {
		cfg.CredentialTTL = 12 * time.Hour
	}
	cfg.Secret = "the nodes' secret"
	if allowed == nil {
		allowed = func(Holder) bool { return true }
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Start(cfg, log, allowed)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return &testServer{Server: s, logs: logs}
}

// alice is a member's holder, as the server makes it at connect.
var alice = Holder{User: "alice", Team: "default", Issued: time.Unix(1_700_000_000, 0)}

// servers returns the STUN and the TURN server that s hands h.
func (s *testServer) servers(t *testing.T, h Holder) (stunServer, relay signaling.ICEServer) {
	t.Helper()
	ice := s.ICEServers(h)
	if len(ice) != 2 {
		t.Fatalf("ICE servers %+v, want two", ice)
	}
	return ice[0], ice[1]
}

// TestAllocate: the servers handed out are a STUN and a TURN server (UDP
// and TCP) on one port, with credentials that name the holder and expire
// after the credentials' lifetime; with them a real TURN client gets a
// relay allocation and its public address by STUN; expired or forged
// ones are refused.
func TestAllocate(t *testing.T) {
	s := start(t, Config{}, nil)
	stunServer, relay := s.servers(t, alice)
	if len(stunServer.URLs) != 1 || !strings.HasPrefix(stunServer.URLs[0], "stun:127.0.0.1:") {
		t.Fatalf("stun server %+v", stunServer)
	}
	hp := stunServer.URLs[0][len("stun:"):]
	want := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
	if !slices.Equal(relay.URLs, want) {
		t.Fatalf("turn server %+v", relay)
	}
	exp, holder, ok := strings.Cut(relay.Username, ":")
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if !ok || holder != "alice:default::1700000000" || err != nil ||
		time.Unix(expiry, 0).Before(time.Now().Add(12*time.Hour-time.Minute)) {
		t.Fatalf("turn username %q, want <expiry 12h from now>:alice:default::1700000000", relay.Username)
	}
	got, err := turntest.Allocate(t, hp, relay.Username, relay.Credential)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	if !strings.HasPrefix(got.String(), "127.0.0.1:") {
		t.Errorf("relayed address %v, want on 127.0.0.1", got)
	}
	_, err = turntest.Allocate(t, hp, relay.Username, "forged")
	turntest.WantRefused(t, "a forged password", err)
	_, err = turntest.Allocate(t, hp, "1000000000:alice", relay.Credential)
	turntest.WantRefused(t, "an expired username", err)
}

// TestHolders: a credential is refused once allowed refuses its holder,
// told from its username (a member's with team, device and the time its
// token was issued; a guest's with its link); a guest's ends with its
// link, if sooner than the credentials' lifetime.
func TestHolders(t *testing.T) {
	guest := Holder{User: "guest-1", Link: "LINKKEY", End: time.Now().Add(time.Hour)}
	member := Holder{User: "bob", Team: "acme", Device: "laptop", Issued: time.Unix(1_700_000_123, 0)}
	var mu sync.Mutex
	var asked []Holder
	revoked := map[string]bool{"bob": true}
	s := start(t, Config{}, func(h Holder) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, h)
		return !revoked[h.User]
	})
	for _, c := range []struct {
		h      Holder
		name   string // what follows the expiry in the username
		expiry time.Duration
		ok     bool
	}{
		{guest, "guest-1:LINKKEY", time.Hour, true},
		{member, "bob:acme:laptop:1700000123", 12 * time.Hour, false},
	} {
		stunServer, relay := s.servers(t, c.h)
		exp, name, _ := strings.Cut(relay.Username, ":")
		expiry, _ := strconv.ParseInt(exp, 10, 64)
		if left := time.Until(time.Unix(expiry, 0)); name != c.name || left > c.expiry || left < c.expiry-time.Minute {
			t.Errorf("username %q (%v left), want %s, %v left", relay.Username, left, c.name, c.expiry)
		}
		_, err := turntest.Allocate(t, strings.TrimPrefix(stunServer.URLs[0], "stun:"), relay.Username,
			relay.Credential)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok {
			turntest.WantRefused(t, c.name+" revoked", err)
		}
	}
	mu.Lock() // each Allocate had its requests answered
	defer mu.Unlock()
	got := map[Holder]bool{}
	for _, h := range asked {
		got[h] = true
	}
	if want := map[Holder]bool{{User: "guest-1", Link: "LINKKEY"}: true, member: true}; !maps.Equal(got, want) {
		t.Errorf("allowed asked about %v, want %v", got, want)
	}
}

// TestPeerPolicy: the relay refuses to reach this machine (unless it
// is itself on loopback), nowhere, multicast and broadcast, private, shared,
// link-local and reserved ranges (unless allowed), and lets calls through
// to public addresses and to its own address (other clients' relays).
func TestPeerPolicy(t *testing.T) {
	relay, other := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("127.0.0.1")
	local := []netip.Addr{relay, netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.255")}
	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00:1::/32")}
	for _, c := range []struct {
		relay        netip.Addr
		allow        bool // with the ranges allowed
		peer         string
		want, wantIf bool // allowed, and allowed with the ranges
	}{
		{relay, false, "198.51.100.77", true, true},
		{relay, false, "2001:db8::1", true, true},
		{relay, false, "203.0.113.1", true, true},
		{relay, false, "::ffff:203.0.113.1", true, true},
		{relay, false, "10.1.2.3", false, true},
		{relay, false, "::ffff:10.1.2.3", false, true},
		{relay, false, "10.0.0.5", false, false}, // this machine, allowed range or not
		{relay, false, "10.0.0.255", false, false},
		{relay, false, "172.31.0.1", false, false},
		{relay, false, "192.168.0.1", false, false},
		{relay, false, "100.127.255.254", false, false},
		{relay, false, "169.254.169.254", false, false},
		{relay, false, "fe80::1", false, false},
		{relay, false, "fd00:1::5", false, true},
		{relay, false, "fd00:2::5", false, false},
		{relay, false, "0.1.2.3", false, false},
		{relay, false, "240.0.0.1", false, false},
		{relay, false, "255.255.255.255", false, false},
		{relay, false, "127.0.0.1", false, false},
		{relay, false, "::1", false, false},
		{relay, false, "0.0.0.0", false, false},
		{relay, false, "224.0.0.251", false, false},
		{relay, false, "ff02::1", false, false},
		{other, false, "127.0.0.1", true, true}, // a relay on loopback
		{other, false, "10.1.2.3", false, true},
	} {
		for _, allowed := range []bool{false, true} {
			p := newPeerPolicy(c.relay, local, nil)
			want := c.want
			if allowed {
				p, want = newPeerPolicy(c.relay, local, allow), c.wantIf
			}
			if got := p.allows(netip.MustParseAddr(c.peer)); got != want {
				t.Errorf("relay at %s, peer %s, ranges allowed %v: allowed %v, want %v", c.relay, c.peer, allowed, got,
					want)
			}
		}
	}
}

// TestRelayConn: what a relay sends to this machine (a relay not on
// loopback: 203.0.113.1, announced) reaches the rooms' media only, at
// their ports: another port of the same address gets nothing, nor the
// media's old port once the node's media are set again.
func TestRelayConn(t *testing.T) {
	listen := func() net.PacketConn {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	policy := newPeerPolicy(netip.MustParseAddr("203.0.113.1"), nil, nil)
	ports := &relayPorts{ports: map[int]bool{}}
	media, service, moved := listen(), listen(), listen()
	policy.setMedia("here", []netip.AddrPort{media.LocalAddr().(*net.UDPAddr).AddrPort()}, true)
	sock := listen()
	rc := &relayConn{PacketConn: sock, policy: policy, ports: ports, port: sock.LocalAddr().(*net.UDPAddr).Port}
	ports.set(rc.port, true)
	send := func(to ...net.PacketConn) {
		t.Helper()
		for _, c := range to {
			if n, err := rc.WriteTo([]byte("hello"), c.LocalAddr()); n != 5 || err != nil {
				t.Fatalf("write: %d %v", n, err)
			}
		}
	}
	read := func(c net.PacketConn) {
		t.Helper()
		buf := make([]byte, 16)
		_ = c.SetReadDeadline(time.Now().Add(patience))
		if n, _, err := c.ReadFrom(buf); err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("the media: %q %v", buf[:n], err)
		}
	}
	send(service, media)
	// Written in that order: once the media have it, the service would too.
	read(media)
	if turntest.Waiting(t, service) {
		t.Errorf("a service of this machine got a packet")
	}
	policy.setMedia("here", []netip.AddrPort{moved.LocalAddr().(*net.UDPAddr).AddrPort()}, true)
	send(media, moved)
	read(moved)
	if turntest.Waiting(t, media) {
		t.Errorf("the media's old port got a packet once they moved")
	}
	rc.Close()
	if ports.has(rc.port) {
		t.Errorf("port %d still a relay's once closed", rc.port)
	}
}

// TestMediaPolicy: the rooms' media open their addresses to permissions
// and their ports to packets, whatever the address (this machine's,
// loopback, a private one), and nothing else there; another node's
// loopback addresses are this machine's and stay closed; setting a node's
// media again closes what it had.
func TestMediaPolicy(t *testing.T) {
	relay := netip.MustParseAddr("203.0.113.1")
	p := newPeerPolicy(relay, []netip.Addr{relay, netip.MustParseAddr("10.0.0.5")}, nil)
	ap := netip.MustParseAddrPort
	p.setMedia("here", []netip.AddrPort{ap("10.0.0.5:3479"), ap("127.0.0.1:3479"), ap("203.0.113.1:3479")}, true)
	p.setMedia("other", []netip.AddrPort{ap("10.0.0.6:3479"), ap("127.0.0.1:4000")}, false)
	relayPort := func(port int) bool { return port == 50000 }
	for _, c := range []struct {
		to           string
		permit, send bool
	}{
		{"10.0.0.5:3479", true, true},
		{"10.0.0.5:7700", true, false}, // this machine's HTTP
		{"[::ffff:10.0.0.5]:3479", true, true},
		{"127.0.0.1:3479", true, true},
		{"127.0.0.1:4222", true, false}, // NATS
		{"127.0.0.1:4000", true, false}, // the other node's loopback: this machine's
		{"10.0.0.6:3479", true, true},
		{"10.0.0.6:4222", true, false},
		{"10.0.0.7:3479", false, false},
		{"203.0.113.1:3479", true, true},
		{"203.0.113.1:50000", true, true}, // a relay
		{"203.0.113.1:7700", true, false},
		{"198.51.100.7:7700", true, true},
	} {
		to := ap(c.to)
		if got := p.allows(to.Addr()); got != c.permit {
			t.Errorf("permission for %s: %v, want %v", to.Addr(), got, c.permit)
		}
		if got := c.permit && p.reaches(to, relayPort); got != c.send {
			t.Errorf("packet to %s: sent %v, want %v", to, got, c.send)
		}
	}
	p.setMedia("other", nil, false)
	if p.allows(netip.MustParseAddr("10.0.0.6")) || p.reaches(ap("10.0.0.6:3479"), relayPort) {
		t.Errorf("10.0.0.6 still open once the other node's media are gone")
	}
}

// TestListen: TURN takes one port on UDP and TCP. A given port that
// is taken on TCP is an error that says so; with port 0, a pair that is
// free on both is found.
func TestListen(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	if _, _, err := listen("127.0.0.1", port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("port %s taken on TCP: %v, want address in use", port, err)
	}
	for range 20 {
		udp, tcp, err := listen("127.0.0.1", "0")
		if err != nil {
			t.Fatal(err)
		}
		_, u, _ := net.SplitHostPort(udp.LocalAddr().String())
		_, p, _ := net.SplitHostPort(tcp.Addr().String())
		udp.Close()
		tcp.Close()
		if u != p {
			t.Fatalf("udp port %s, tcp port %s: want the same", u, p)
		}
	}
}

// channelBind asks the TURN server at addr, through cl, to bind channel
// number 0x4000+n to peer, with the long-term credential username and
// password, and returns the error code of the answer (0: bound). pion/turn
// answers a peer its PermissionHandler refuses with 401.
func channelBind(t *testing.T, cl *pionturn.Client, addr, username, password string, n int, peer netip.AddrPort) int {
	t.Helper()
	server, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	request := func(setters ...stun.Setter) *stun.Message {
		t.Helper()
		m := stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.NewType(stun.MethodChannelBind,
			stun.ClassRequest),
			setter(func(m *stun.Message) error {
				return stun.XORMappedAddress{IP: peer.Addr().AsSlice(), Port: int(peer.Port())}.AddToAs(m,
					stun.AttrXORPeerAddress)
			}),
			stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{0x40, byte(n), 0, 0}}}, setters...)...)
		res, err := cl.PerformTransaction(m, server, false)
		if err != nil {
			t.Fatalf("channel bind: %v", err)
		}
		return res.Msg
	}
	// Unauthenticated first: the answer carries the nonce.
	var nonce stun.Nonce
	if err := nonce.GetFrom(request(stun.Fingerprint)); err != nil {
		t.Fatalf("channel bind: no nonce: %v", err)
	}
	res := request(stun.NewUsername(username), stun.NewRealm("parley"), nonce,
		stun.NewLongTermIntegrity(username, "parley", password), stun.Fingerprint)
	if res.Type.Class != stun.ClassErrorResponse {
		return 0
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(res); err != nil {
		t.Fatalf("channel bind: error without a code: %v", err)
	}
	return int(code.Code)
}

type setter func(*stun.Message) error

func (f setter) AddTo(m *stun.Message) error { return f(m) }

// TestPeers: with a public relay address (a TEST-NET address
// announced, while it listens on 127.0.0.1), a TURN client gets no
// permission nor channel to private, shared, loopback, link-local or
// broadcast peers, nor to this machine's addresses; it does to public ones,
// to the relay's own address (the relays of other clients: see relayConn)
// and to the ranges the operator allows (10.99.0.0/16); and, once told,
// to the addresses of the rooms' media (this machine's, another node's).
func TestPeers(t *testing.T) {
	s := start(t, Config{PublicIP: "203.0.113.10", AllowPeers: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}},
		nil)
	stunServer, relay := s.servers(t, alice)
	if stunServer.URLs[0] != "stun:203.0.113.10:"+strings.Split(stunServer.URLs[0], ":")[2] {
		t.Fatalf("stun server %v, want on the public address", stunServer.URLs)
	}
	addr := turntest.Addr(stunServer)
	cl, pc := turntest.Client(t, addr, relay.Username, relay.Credential)
	if got := pc.LocalAddr().String(); !strings.HasPrefix(got, "203.0.113.10:") {
		t.Fatalf("relayed address %s, want on 203.0.113.10", got)
	}
	own := cmp.Or(turntest.HostIPv4(), "192.0.2.2") // this machine's eth0, if it has one
	i := 0
	for _, c := range []struct {
		peer string
		want bool
	}{
		{"198.51.100.7", true},
		{"203.0.113.10", true}, // the relay's own address: other clients' relays
		{"10.0.0.1", false},
		{"10.99.7.7", true}, // allowed
		{"172.16.5.4", false},
		{"192.168.1.1", false},
		{"100.64.0.1", false},
		{"127.0.0.1", false},
		{"169.254.169.254", false},
		{"255.255.255.255", false},
		{"224.0.0.251", false},
		{"0.0.0.0", false},
		{own, false},
	} {
		i++
		peer := &net.UDPAddr{IP: net.ParseIP(c.peer), Port: 4000}
		err := cl.CreatePermission(peer)
		if c.want && err != nil {
			t.Errorf("permission for %s: %v, want granted", c.peer, err)
		}
		if !c.want && (err == nil || !strings.Contains(err.Error(), "403")) {
			t.Errorf("permission for %s: %v, want refused (403)", c.peer, err)
		}
		to := netip.AddrPortFrom(netip.MustParseAddr(c.peer), 4000)
		code := channelBind(t, cl, addr, relay.Username, relay.Credential, i, to)
		if want := map[bool]int{true: 0, false: 401}[c.want]; code != want {
			t.Errorf("channel bind to %s: code %d, want %d", c.peer, code, want)
		}
	}
	// The rooms' media open their addresses, this machine's included (the
	// ports are relayConn's: TestRelayConn); nothing else.
	s.AllowMedia("here", []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(own), 3479),
		netip.MustParseAddrPort("127.0.0.1:3479")}, true)
	s.AllowMedia("other", []netip.AddrPort{netip.MustParseAddrPort("10.0.0.6:3479")}, false)
	for _, c := range []struct {
		peer string
		want bool
	}{{own, true}, {"127.0.0.1", true}, {"10.0.0.6", true}, {"10.0.0.1", false}, {"127.0.0.2", false}} {
		err := cl.CreatePermission(&net.UDPAddr{IP: net.ParseIP(c.peer), Port: 3479})
		if c.want && err != nil {
			t.Errorf("permission for %s with the rooms' media: %v, want granted", c.peer, err)
		}
		if !c.want && (err == nil || !strings.Contains(err.Error(), "403")) {
			t.Errorf("permission for %s with the rooms' media: %v, want refused (403)", c.peer, err)
		}
	}
}

// TestTCPRelay: the relay makes no TCP allocation (RFC 6062) unless
// Config.TCPRelay asks for it, though clients reach it over TCP.
func TestTCPRelay(t *testing.T) {
	for _, on := range []bool{false, true} {
		s := start(t, Config{TCPRelay: on}, nil)
		stunServer, relay := s.servers(t, alice)
		addr := turntest.Addr(stunServer)
		client := func() *pionturn.Client {
			conn, err := net.Dial("tcp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			cl, err := pionturn.NewClient(&pionturn.ClientConfig{
				STUNServerAddr: addr, TURNServerAddr: addr, Conn: pionturn.NewSTUNConn(conn),
				Username: relay.Username, Password: relay.Credential, Realm: "parley",
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)
			if err := cl.Listen(); err != nil {
				t.Fatal(err)
			}
			return cl
		}
		alloc, err := client().AllocateTCP()
		if on && err != nil {
			t.Errorf("TCP allocation with TCPRelay: %v", err)
		}
		if err == nil {
			alloc.Close()
		}
		if !on && (err == nil || !strings.Contains(err.Error(), "508")) {
			t.Errorf("TCP allocation: %v, want refused (508)", err)
		}
		// Over TCP, a UDP relay is fine.
		if pc, err := client().Allocate(); err != nil {
			t.Errorf("UDP allocation over TCP: %v", err)
		} else {
			pc.Close()
		}
	}
}

// TestRefusalsQuiet: 50 allocations with made-up or expired
// credentials, and 50 refused permissions, write no log line at info or
// above: refusals are routine.
func TestRefusalsQuiet(t *testing.T) {
	s := start(t, Config{PublicIP: "203.0.113.10"}, nil)
	stunServer, relay := s.servers(t, alice)
	addr := turntest.Addr(stunServer)
	cl, _ := turntest.Client(t, addr, relay.Username, relay.Credential)
	before := len(s.logs.String())
	for i := range 50 {
		username := []string{"mallory", "1000000000:alice", "9999999999:x:y:z:1"}[i%3]
		_, err := turntest.Allocate(t, addr, username, "guess")
		turntest.WantRefused(t, username, err)
		_ = cl.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 0, 0, byte(i)), Port: 4000}) // refused: TestPeers
	}
	var loud []string
	for _, line := range strings.Split(s.logs.String()[before:], "\n") {
		var r struct{ Level string }
		if json.Unmarshal([]byte(line), &r) == nil && r.Level != "DEBUG" {
			loud = append(loud, line)
		}
	}
	if len(loud) > 0 {
		t.Errorf("%d lines at info or above, want none; the first:\n%s", len(loud), loud[0])
	}
}

// TestRelayToRelay: with the relay on an address of this machine that
// is not loopback, two clients that both need the relay reach each other
// through it, but what one sends to another port at that address (a
// service of the machine) is dropped.
func TestRelayToRelay(t *testing.T) {
	ip := turntest.HostIPv4()
	if ip == "" {
		t.Skip("this machine has no IPv4 address but loopback")
	}
	s := start(t, Config{Listen: net.JoinHostPort(ip, "0")}, nil)
	stunServer, relay := s.servers(t, alice)
	addr := strings.TrimPrefix(stunServer.URLs[0], "stun:")
	clA, a := turntest.Client(t, addr, relay.Username, relay.Credential)
	clB, b := turntest.Client(t, addr, relay.Username, relay.Credential)
	if err := clA.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatalf("permission for the other relay: %v", err)
	}
	if err := clB.CreatePermission(a.LocalAddr()); err != nil {
		t.Fatalf("permission for the other relay: %v", err)
	}
	service, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer service.Close()
	for _, to := range []net.Addr{service.LocalAddr(), b.LocalAddr()} {
		if _, err := a.WriteTo([]byte("hello"), to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	_ = b.SetReadDeadline(time.Now().Add(patience))
	n, from, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || from.String() != a.LocalAddr().String() {
		t.Fatalf("the other relay got %q from %v (%v), want hello from %v", buf[:n], from, err, a.LocalAddr())
	}
	// Sent first, in order: had it gone through, it would be there now.
	if turntest.Waiting(t, service) {
		t.Errorf("a service at the relay's address got a packet through the relay")
	}
}
