package call

// Keeping an answered call going when its media stops: reconnecting,
// ICE restarts, and the grace period.

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// watchMedia notices when an answered call stops receiving audio: the call
// is then reconnecting, the caller restarts ICE (the callee asks it to),
// and the call fails after the grace period unless audio comes back.
func (p *Phone) watchMedia() {
	a := p.cur
	if a.ev.Status != signaling.Answered && a.ev.Status != signaling.Reconnecting {
		return
	}
	if a.ev.Status == signaling.Answered && (a.held || a.remoteHeld) {
		return // held: nothing is to come
	}
	now := time.Now()
	last := time.Unix(0, a.media.lastRTP.Load())
	timeout := p.cfg.MediaTimeout
	if a.media.lastRTP.Load() == 0 {
		// Nothing yet: give the connection time to be set up.
		last, timeout = a.answeredAt, max(timeout, 5*time.Second)
	}
	if a.unheldAt.After(last) {
		last = a.unheldAt // the silence of a hold is no loss
	}
	silent := now.Sub(last)
	switch {
	case a.ev.Status == signaling.Answered && silent > timeout:
		a.lostAt, a.restartAt = now, time.Time{}
		p.setStatus(signaling.Reconnecting, fmt.Sprintf("no audio from %s for %v", a.ev.Peer(),
			silent.Round(100*time.Millisecond)))
	case a.ev.Status == signaling.Answered:
	case silent < 2*time.Duration(p.frameSamples())*time.Second/audio.SampleRate+50*time.Millisecond:
		p.log.Info("media restored", "call", a.ev.ID, "after", now.Sub(a.lostAt).Round(time.Millisecond))
		p.setStatus(signaling.Answered, "")
	case now.Sub(a.lostAt) > p.cfg.Grace:
		// Both sides read it (the server passes it on): name them both.
		reason := fmt.Sprintf("no audio for %v: the network between %s and %s is down", p.cfg.Grace, a.ev.From, a.ev.To)
		p.send(signaling.Message{Type: signaling.TypeFail, CallID: a.ev.ID, Reason: reason})
		p.end(signaling.Failed, reason, 0)
	case p.sig != nil && iceLost(a.pc) && now.Sub(a.restartAt) > 5*time.Second:
		// ICE itself gave the path up (no answer to its checks): find a
		// new one. A shorter outage needs nothing: media resumes on the
		// same path when the network returns.
		a.restartAt = now
		p.restartICE()
	}
}

// iceLost reports whether ICE has lost the path it had.
func iceLost(pc *webrtc.PeerConnection) bool {
	switch pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
		return true
	}
	return false
}

// setStatus moves the current call to a status the client sees by itself
// (reconnecting and back) and reports it.
func (p *Phone) setStatus(s signaling.Status, reason string) {
	a := p.cur
	p.log.Info("call "+string(s), "call", a.ev.ID, "reason", reason)
	a.ev.Status, a.ev.Reason = s, reason
	p.emit(StatusChanged{CallEvent: a.ev, At: time.Now()})
	a.ev.Reason = ""
}

// restartICE makes the caller offer new ICE credentials, so that both
// sides gather and check candidates again (the network may have changed);
// the callee asks the caller to.
func (p *Phone) restartICE() {
	a := p.cur
	if a.ev.Direction == signaling.Inbound {
		p.send(signaling.Message{Type: signaling.TypeRenegotiate, CallID: a.ev.ID, SDPType: "request"})
		return
	}
	if a.pc.SignalingState() != webrtc.SignalingStateStable {
		return // the previous restart is still under way
	}
	offer, err := a.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = a.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("ICE restart", "call", a.ev.ID, "err", err)
		return
	}
	p.log.Info("ICE restart", "call", a.ev.ID)
	p.send(signaling.Message{Type: signaling.TypeRenegotiate, CallID: a.ev.ID, SDPType: "offer", SDP: offer.SDP})
}

// renegotiate applies the other side's renegotiation: a request to
// restart (caller), a new offer (callee) or the answer to ours (caller).
func (p *Phone) renegotiate(m signaling.Message) {
	a := p.cur
	var err error
	switch m.SDPType {
	case "request":
		if a.ev.Direction == signaling.Outbound && time.Since(a.restartAt) > time.Second {
			a.restartAt = time.Now()
			p.restartICE()
		}
		return
	case "offer":
		err = a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
		var answer webrtc.SessionDescription
		if err == nil {
			answer, err = a.pc.CreateAnswer(nil)
		}
		if err == nil {
			err = a.pc.SetLocalDescription(answer)
		}
		if err == nil {
			p.send(signaling.Message{Type: signaling.TypeRenegotiate, CallID: a.ev.ID, SDPType: "answer",
				SDP: answer.SDP})
		}
	case "answer":
		err = a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	}
	if err != nil {
		p.log.Warn("renegotiation refused", "call", a.ev.ID, "type", m.SDPType, "err", err)
	}
}
