package call

// Rejoining a room by itself. A room lives on one node of the service; when
// that node dies, the next join re-creates the room on another node. So
// when the room's media connection fails (its node died, or the network
// changed), or the signaling connection comes back (perhaps on another
// node, after ours died), the phone sends room_join again for the same room
// with a fresh offer: the same options (a listener stays one; the host is
// the host by the room's record), as muted as it is, the microphone going
// on. RoomRejoining says so; RoomChanged joined follows, as for the first
// join, or RoomLeft failed when it is not back within roomRejoinGrace.

import (
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// A room's ICE gives a dead node up within about 2 s of its last packet
// (Pion's defaults, 5 s then 25 s, are for a path that may come back; a
// room's next path is a rejoin). Keepalives every 300 ms keep a quiet but
// working connection from looking dead.
const (
	roomICEDisconnected = time.Second
	roomICEFailed       = time.Second
	roomICEKeepalive    = 300 * time.Millisecond
)

// roomRejoinGrace is how long the phone keeps trying to join a room again
// before it gives up (RoomLeft failed).
const roomRejoinGrace = 30 * time.Second

// RoomRejoining says the phone lost the room (Reason: its media or the
// signaling connection) and is joining it again by itself.
type RoomRejoining struct {
	Room   string
	Reason string
}

func (RoomRejoining) event() {}

// rejoinState is a room's part in rejoining.
type rejoinState struct {
	up    bool      // its media connected once: it is worth joining again
	since time.Time // when it was lost; zero while its media is up
}

// rejoinRoom joins r again with a new peer connection (sent once the
// signaling connection is up; connected rejoins then) and reports whether
// it does: a room whose media never connected is not rejoined.
func (p *Phone) rejoinRoom(r *room, reason string) bool {
	if !r.rejoin.up {
		return false
	}
	if r.rejoin.since.IsZero() {
		r.rejoin.since = time.Now()
		p.log.Warn("room lost: joining it again", "room", r.name, "reason", reason)
		p.emit(RoomRejoining{Room: r.name, Reason: reason})
	}
	if p.sig == nil {
		return true // connected rejoins
	}
	old := r.pc
	if err := p.roomConn(r); err != nil {
		p.roomOver(signaling.Errorf(signaling.UnknownError, "could not join room %s again: %v", r.name, err))
		return true
	}
	r.joined, r.slots = false, nil // who is heard: told again by the owner
	p.spawn(func() {
		if err := old.Close(); err != nil {
			p.log.Debug("close the room's old peer connection", "err", err)
		}
	})
	p.watchRoomPeer(r)
	p.offerRoom(r)
	return true
}

// roomConnected notes that r's media is up: from now on it is rejoined
// when lost, and a rejoin is over.
func (p *Phone) roomConnected(r *room) {
	r.rejoin.up = true
	if !r.rejoin.since.IsZero() {
		p.log.Info("room joined again", "room", r.name, "after", time.Since(r.rejoin.since).Round(time.Millisecond))
		r.rejoin.since = time.Time{}
	}
}

// roomSignalingLost handles the loss of the signaling connection while in
// room r, and reports whether r is kept to be joined again once the phone
// is connected (it redials).
func (p *Phone) roomSignalingLost(r *room) bool {
	return p.cfg.Reconnect && p.rejoinRoom(r, "lost the connection to the server")
}

// roomReconnected joins the room again on a new signaling connection: the
// node we are on now may not be the one the room's owner knew us on, and
// the room may have moved with its node.
func (p *Phone) roomReconnected() {
	r := p.room
	if !r.rejoin.up {
		return
	}
	p.rejoinRoom(r, "connected to the server again")
}

// rejoinRefused handles a refusal of a join again: one that may pass (the
// server's 80999, such as an owner that did not answer in time: a node that
// just died may still be asked) is tried again a second later, until
// roomRejoinGrace; it reports whether so. Any other (the room ended, was
// locked meanwhile…) ends the room here.
func (p *Phone) rejoinRefused(r *room, e *signaling.Error) bool {
	if r.rejoin.since.IsZero() || e.Code != signaling.UnknownError {
		return false
	}
	p.log.Warn("joining the room again was refused: trying again", "room", r.name, "err", e.Message)
	pc := r.pc
	p.spawn(func() {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.closed:
			return
		}
		p.post(func() {
			if p.room == r && r.pc == pc && !r.joined {
				p.rejoinRoom(r, "")
			}
		})
	})
	return true
}

// checkRejoin gives a rejoin up after roomRejoinGrace (roomTick).
func (p *Phone) checkRejoin(r *room) {
	if r.rejoin.since.IsZero() || time.Since(r.rejoin.since) < roomRejoinGrace {
		return
	}
	p.roomOver(signaling.Errorf(signaling.UnknownError,
		"could not join room %s again within %v: check the network and the server, then join it again", r.name,
		roomRejoinGrace))
}

// roomICE sets a room's ICE timeouts on se.
func roomICE(se *webrtc.SettingEngine) {
	se.SetICETimeouts(roomICEDisconnected, roomICEFailed, roomICEKeepalive)
}
