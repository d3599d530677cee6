package call_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// impairment decides the fate of each packet a peer sends: lost, or
// delayed by how much. Kernel netem is not available here, so the peers'
// UDP sockets are wrapped instead (lossyNet). Decisions come from a seeded
// generator, so a case loses the same share every run. It is off until
// switched on, so that the call is set up on a clean network.
type impairment struct {
	on atomic.Bool

	mu     sync.Mutex
	rng    *rand.Rand
	loss   float64       // random loss, 0..1
	burst  float64       // Gilbert-Elliott: chance to enter the bad state per packet (0: none)
	stay   float64       // chance to stay in the bad state, where every packet is lost
	bad    bool          // in the bad state now
	down   bool          // total outage: everything is lost
	jitter time.Duration // extra delay, uniform in [0, jitter)

	// allow, when set, passes only the packets to the addresses it
	// accepts, on or off: a firewall.
	allow func(net.Addr) bool

	sent, lost atomic.Int64 // while on
}

func newImpairment(seed uint64) *impairment {
	return &impairment{rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))}
}

func (im *impairment) set(f func(im *impairment)) {
	im.mu.Lock()
	defer im.mu.Unlock()
	f(im)
}

// fate tells whether to drop a packet to addr, or how long to hold it.
func (im *impairment) fate(addr net.Addr) (drop bool, delay time.Duration) {
	if im.allow != nil && !im.allow(addr) {
		return true, 0
	}
	if !im.on.Load() {
		return false, 0
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	im.sent.Add(1)
	switch {
	case im.down:
		drop = true
	case im.burst > 0:
		if im.bad {
			im.bad = im.rng.Float64() < im.stay
		} else {
			im.bad = im.rng.Float64() < im.burst
		}
		drop = im.bad
	default:
		drop = im.rng.Float64() < im.loss
	}
	if drop {
		im.lost.Add(1)
		return true, 0
	}
	if im.jitter > 0 {
		delay = time.Duration(im.rng.Int64N(int64(im.jitter)))
	}
	return false, delay
}

// lossyNet is the system's network with every UDP socket's sends passed
// through an impairment.
type lossyNet struct {
	transport.Net
	im *impairment
}

func newLossyNet(im *impairment) transport.Net {
	n, err := stdnet.NewNet()
	if err != nil {
		panic(err)
	}
	return &lossyNet{Net: n, im: im}
}

func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, im: n.im}, nil
}

func (n *lossyNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &lossyPacketConn{PacketConn: c, im: n.im}, nil
}

// DialTCP connects as the system does, but while the network is down
// what is written on the connection is dropped, as when the network went
// away: a TURN relay over TCP is no way round an outage. (Whole writes
// are dropped, so the stream's framing holds; loss and jitter stay UDP's.)
func (n *lossyNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	c, err := n.Net.DialTCP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &outageTCP{TCPConn: c, im: n.im}, nil
}

type outageTCP struct {
	transport.TCPConn
	im *impairment
}

func (c *outageTCP) Write(b []byte) (int, error) {
	if c.im.isDown() {
		return len(b), nil
	}
	return c.TCPConn.Write(b)
}

type lossyConn struct {
	transport.UDPConn
	im *impairment
}

func (c *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return impairedWrite(c.im, b, addr, c.UDPConn.WriteTo)
}

func (c *lossyConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return impairedWrite(c.im, b, addr, c.UDPConn.WriteTo)
}

type lossyPacketConn struct {
	net.PacketConn
	im *impairment
}

func (c *lossyPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return impairedWrite(c.im, b, addr, c.PacketConn.WriteTo)
}

// isDown reports whether the network is down (a total outage).
func (im *impairment) isDown() bool {
	if !im.on.Load() {
		return false
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.down
}

// impairedWrite drops b, sends it later (so that jittered packets can
// overtake each other), or sends it now.
func impairedWrite(im *impairment, b []byte, addr net.Addr, write func([]byte, net.Addr) (int, error)) (int, error) {
	drop, delay := im.fate(addr)
	switch {
	case drop:
		return len(b), nil
	case delay > 0:
		held := append([]byte(nil), b...)
		time.AfterFunc(delay, func() { _, _ = write(held, addr) }) // a late packet may be lost, as on a network
		return len(b), nil
	}
	return write(b, addr)
}
