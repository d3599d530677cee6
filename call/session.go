package call

// The signaling connection: signing in, losing the connection, redialing.

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

func (p *Phone) connected(sig *signaling.Client) {
	p.sig = sig
	p.msgs = sig.Messages()
	p.session = sig.Session
	p.server = sig.Server
	p.iceServers = nil // a new slice: peer connections keep the old one
	for _, s := range sig.ICEServers {
		p.iceServers = append(p.iceServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username,
			Credential: s.Credential})
	}
	p.log.Info("signed in", "user", sig.User, "session", sig.Session, "server", sig.Server)
	p.emit(Connected{Up: true, User: sig.User, Name: sig.Name, Server: sig.Server})
	if len(p.watched) > 0 {
		p.send(signaling.Message{Type: signaling.TypeWatch, Users: p.watched})
	}
	if p.idle {
		idle := true
		p.send(signaling.Message{Type: signaling.TypePresence, Idle: &idle})
	}
	if p.callUp() {
		// Back after a drop: the server kept the call for a while.
		p.send(signaling.Message{Type: signaling.TypeResume, CallID: p.cur.ev.ID})
		if a := p.cur; a.muteUnsent {
			a.muteUnsent = false
			p.sendMute(a.ev.ID, a.muted)
		}
	}
	if a := p.other; a != nil && a.ev.Status == signaling.Answered { // held beside it (waiting.go)
		p.send(signaling.Message{Type: signaling.TypeResume, CallID: a.ev.ID})
	}
	if p.room != nil {
		p.roomReconnected() // roomrejoin.go
	}
	for _, id := range p.hungUp {
		p.sendHangup(id)
	}
	p.hungUp = nil
}

// callUp reports whether the current call is answered (its media may be
// flowing, or being restored).
func (p *Phone) callUp() bool {
	return p.cur != nil && (p.cur.ev.Status == signaling.Answered || p.cur.ev.Status == signaling.Reconnecting)
}

// disconnected handles the end of the signaling connection: the call (whose
// state the server kept) ends as failed, and the phone redials if asked to.
func (p *Phone) disconnected(ctx context.Context) {
	err := p.sig.Err()
	if err == nil {
		err = signaling.Errorf(signaling.NoConnectedSession, "the server closed the connection")
	}
	p.sig, p.msgs = nil, nil
	p.log.Warn("signaling connection lost", "server", p.server, "err", err)
	if p.room != nil && !p.roomSignalingLost(p.room) {
		// Not joined yet, or no redialing: the room is over here.
		p.roomFail(p.room.name, err)
		p.roomLeft(RoomLeftFailed, signaling.AsError(err))
	}
	if w := p.waitingCall(); w != nil {
		p.onCall(w, func() {
			p.end(signaling.Failed, "lost the connection to the server before the call was answered",
				signaling.NoConnectedSession)
		})
	}
	switch {
	case p.callUp():
		// Media is peer to peer: the call goes on, and is resumed once the
		// connection is back (the server waits for that a while).
	case p.cur != nil && p.cur.ev.ID != "":
		p.end(signaling.Failed, "lost the connection to the server before the call was answered",
			signaling.NoConnectedSession)
	case p.cur != nil:
		p.teardown()
		p.fail("", signaling.Errorf(signaling.NoConnectedSession,
			"lost the connection to the server before the call was placed"))
	}
	p.emit(Connected{Up: false, Err: err})
	if p.cfg.Reconnect || p.callUp() {
		p.spawn(func() { p.redial(ctx, p.session, p.server) })
	} else {
		p.cancel()
	}
}

// redial connects again with exponential backoff and jitter, then hands the
// new connection to the loop. Each attempt goes through the server's
// addresses, those after from (the node that was lost) first, so that a
// phone with several nodes is back on another within a second or so of
// its node going away; the same session id is resumed there.
func (p *Phone) redial(ctx context.Context, session, from string) {
	addrs := signaling.FailoverOrder(p.cfg.addrs(), from)
	backoff := 250 * time.Millisecond
	for {
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tok, err := p.cfg.token(dctx)
		var sig *signaling.Client
		if err == nil {
			sig, err = signaling.DialAny(dctx, addrs, tok, p.cfg.dialOptions(session, session != ""))
		}
		cancel()
		if err == nil {
			p.setCallWaiting(ctx, sig.Server) // waitingset.go
			if !p.post(func() { p.connected(sig) }) {
				sig.Close()
			} else {
				p.keepFresh(ctx, sig, tok)
			}
			return
		}
		p.log.Info("reconnect failed", "err", err, "next", backoff)
		var se *signaling.Error
		if errors.As(err, &se) && se.Code == signaling.InvalidToken {
			p.post(func() { p.emit(Connected{Up: false, Err: err}) }) // the loop alone sends on Events
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (p *Phone) shutdown() {
	if p.room != nil {
		p.leaveRoom(signaling.LeftLeft)
	}
	for p.cur != nil { // and then the other call, which teardown makes current
		if p.cur.ev.ID != "" {
			p.sendHangup(p.cur.ev.ID)
		}
		p.teardown()
	}
	if p.sig != nil {
		p.sig.Close()
		<-p.sig.Done()
	}
}
