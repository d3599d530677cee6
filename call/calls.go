package call

// Placing, answering and ending calls, and setting up their media.

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// begin makes ev the current call, with its peer connection and its media
// playing into sink (which it owns from now on, even when it fails).
func (p *Phone) begin(ev signaling.CallEvent, sink audio.Sink) (*active, error) {
	conf := webrtc.Configuration{ICEServers: append(pionICEServers(p.cfg.ICEServers), p.iceServers...)}
	if p.cfg.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := p.api.NewPeerConnection(conf)
	if err != nil {
		_ = sink.Close()
		return nil, fmt.Errorf("call: peer connection: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(opusCodec, "audio", "parley")
	var sender *webrtc.RTPSender
	if err == nil {
		sender, err = pc.AddTrack(track)
	}
	if err != nil {
		_ = pc.Close()
		_ = sink.Close()
		return nil, fmt.Errorf("call: audio track: %w", err)
	}
	a := &active{ev: ev, pc: pc, track: track, media: p.newMedia(sink), quality: newQuality()}
	p.cur = a
	p.watchPeer(a)
	a.media.readRTCP(sender)
	return a, nil
}

// watchPeer wires Pion's callbacks to the loop for call a.
func (p *Phone) watchPeer(a *active) {
	a.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.post(func() { p.onCall(a, func() { p.localCandidate(a, init) }) })
	})
	a.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.post(func() {
			if (p.cur == a || p.other == a) && a.media != nil {
				a.media.receive(t)
			}
		})
	})
	a.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.post(func() { p.onCall(a, func() { p.peerState(a, s) }) })
	})
}

func (p *Phone) frameSamples() int {
	return int(p.cfg.Frame * audio.SampleRate / time.Second)
}

func (p *Phone) openDevices(withSource bool) (audio.Source, audio.Sink, error) {
	n := p.frameSamples()
	sink, err := p.cfg.Devices.OpenSink(n)
	if err != nil {
		return nil, nil, deviceError("speaker", err)
	}
	if !withSource {
		return nil, sink, nil
	}
	src, err := p.cfg.Devices.OpenSource(n)
	if err != nil {
		_ = sink.Close()
		return nil, nil, deviceError("microphone", err)
	}
	return src, sink, nil
}

// deviceError gives a device failure its code from the error table.
func deviceError(what string, err error) error {
	var se *signaling.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, audio.ErrBadSpec):
		return signaling.Errorf(signaling.InvalidParameter, "%v", err)
	case errors.Is(err, audio.ErrPermission), errors.Is(err, fs.ErrPermission):
		return signaling.Errorf(signaling.PermissionDenied,
			"cannot open the %s: %v; check that your user may use the sound system (e.g. the audio group)", what, err)
	case errors.Is(err, audio.ErrDeviceNotFound):
		return signaling.Errorf(signaling.NotFoundDevice, "%v; list devices with `parley devices`", err)
	default:
		return signaling.Errorf(signaling.NotFoundDevice, "cannot open the %s: %v; list devices with `parley devices`",
			what, err)
	}
}

func (p *Phone) dial(user string) {
	if p.room != nil {
		p.fail("", signaling.Errorf(signaling.AlreadyBusyCall, "you are in room %s: leave it first", p.room.name))
		return
	}
	if p.cur != nil {
		p.fail("", signaling.Errorf(signaling.AlreadyBusyCall, "you are already in a call: hang up first"))
		return
	}
	if p.sig == nil {
		p.fail("", signaling.Errorf(signaling.NoConnectedSession,
			"not connected to the server yet: wait for the connection and try again"))
		return
	}
	if err := signaling.CheckUserID(user); err != nil {
		p.fail("", err)
		return
	}
	src, sink, err := p.openDevices(true)
	if err != nil {
		p.fail("", err)
		return
	}
	a, err := p.begin(signaling.CallEvent{Direction: signaling.Outbound, To: user}, sink)
	if err != nil {
		src.Close()
		p.fail("", err)
		return
	}
	p.refs++
	a.ref = "d" + strconv.Itoa(p.refs)
	a.media.attach(src) // read from when the call is answered
	offer, err := a.pc.CreateOffer(nil)
	if err == nil {
		err = a.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.teardown()
		p.fail("", fmt.Errorf("call: offer: %w", err))
		return
	}
	p.send(signaling.Message{Type: signaling.TypeDial, Ref: a.ref, To: user, SDP: offer.SDP})
}

// placed: the server created our outgoing call.
func (p *Phone) placed(ev signaling.CallEvent, ref string) {
	a := p.cur
	if a == nil || a.ev.ID != "" || ref != a.ref {
		return
	}
	a.ev = ev
	a.localReady = true
	p.flushLocal()
	p.emit(StatusChanged{CallEvent: ev, First: true, At: time.Now()})
	if a.cancel {
		p.sendHangup(ev.ID)
	}
}

// incoming: someone calls. The peer connection is prepared while it rings,
// so that answering is quick; remote candidates are held until the user
// answers, so that no audio flows before that.
func (p *Phone) incoming(ev signaling.CallEvent, offer string) {
	first := p.cur // a call waiting rings beside it (waiting.go)
	ev.Waiting = first != nil
	switch {
	case p.room != nil || p.other != nil:
		p.log.Warn("incoming call while in a room or two calls", "call", ev.ID)
		return
	case first != nil && (p.cfg.AutoAnswer || p.cfg.NoWaiting):
		p.busyReject(ev)
		return
	}
	var sink audio.Sink
	var ringing *DeviceChanged
	if first != nil {
		// On the call's speaker, not the ring device: the beep is for
		// the ears in the call.
		var err error
		if sink, err = p.cfg.Devices.OpenSink(p.frameSamples()); err != nil {
			p.log.Warn("waiting call beeps without a sound", "call", ev.ID, "err", err)
			sink, ringing = audio.NewNullSink(), &DeviceChanged{CallID: ev.ID, Kind: Speaker,
				Err: deviceError(Speaker, err)}
		}
	} else {
		sink, ringing = p.openRing(ev.ID) // the ring device, if there is one (devices.go)
	}
	p.cur = nil // begin makes the new call current; first is put back below
	defer func() {
		if first != nil {
			p.cur, p.other = first, p.cur
		}
	}()
	a, err := p.begin(ev, sink)
	if err != nil {
		p.send(signaling.Message{Type: signaling.TypeFail, CallID: ev.ID, Reason: "callee could not set up media"})
		p.fail(ev.ID, err)
		return
	}
	a.waiting = first != nil
	err = a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	if err == nil {
		var answer webrtc.SessionDescription
		if answer, err = a.pc.CreateAnswer(nil); err == nil {
			err = a.pc.SetLocalDescription(answer)
		}
	}
	if err != nil {
		p.send(signaling.Message{Type: signaling.TypeFail, CallID: ev.ID, Reason: "the offer could not be used: " +
			err.Error()})
		p.teardown()
		p.fail(ev.ID, signaling.Errorf(signaling.InvalidParameter, "the caller's offer could not be used: %v", err))
		return
	}
	p.emit(StatusChanged{CallEvent: ev, First: true, At: time.Now()})
	if ringing != nil {
		p.emit(*ringing)
	}
	p.send(signaling.Message{Type: signaling.TypeRinging, CallID: ev.ID})
	if p.cfg.AutoAnswer {
		p.answer()
	}
}

// ringingCall is the incoming call to answer or reject: the current call
// if it rings here, else a waiting call; nil if none rings.
func (p *Phone) ringingCall() *active {
	a := p.cur
	if a == nil || a.ev.Direction != signaling.Inbound || a.answered || a.ev.Status.Terminal() ||
		a.ev.Status == signaling.Answered {
		return p.waitingCall()
	}
	return a
}

// ringing says why there is no incoming call to answer or reject (what),
// if there is none.
func (p *Phone) ringing(what string) error {
	if p.ringingCall() == nil {
		return signaling.Errorf(signaling.NoConnectedCall, "there is no incoming call to %s", what)
	}
	return nil
}

func (p *Phone) answer() {
	if err := p.ringing("answer"); err != nil {
		p.fail("", err)
		return
	}
	if p.ringingCall() != p.cur && !p.answerWaiting() { // holds the current call (waiting.go)
		return
	}
	if err := p.ringing("answer"); err != nil || p.ringingCall() != p.cur {
		p.fail("", signaling.Errorf(signaling.NoConnectedCall, "the call you are in is not answered yet: hang it "+
			"up to answer the waiting call"))
		return
	}
	a := p.cur
	src, err := p.cfg.Devices.OpenSource(p.frameSamples())
	if err != nil {
		err = deviceError("microphone", err)
		p.send(signaling.Message{Type: signaling.TypeFail, CallID: a.ev.ID, Reason: signaling.AsError(err).Message})
		p.fail(a.ev.ID, err)
		return
	}
	a.media.attach(src)
	p.answerSink(a) // from the ring device to the call's speaker (devices.go)
	a.answered = true
	a.media.cue(nil)
	p.send(signaling.Message{Type: signaling.TypeAnswer, CallID: a.ev.ID, SDP: a.pc.LocalDescription().SDP})
	a.localReady = true
	p.flushLocal()
	a.remoteReady = true
	p.flushRemote()
	p.startSending(a)
}

// startSending starts reading the microphone into the call once the call
// is answered and the media connection is up: not before, so that a file
// plays from its start and a microphone from the moment the other side can
// hear it. Until then the source is open but not read.
func (p *Phone) startSending(a *active) {
	up := a.answered || (a.ev.Direction == signaling.Outbound && p.callUp())
	if a.sending || !up || a.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		return
	}
	if err := a.media.send(a.track); err != nil {
		p.send(signaling.Message{Type: signaling.TypeFail, CallID: a.ev.ID, Reason: "media could not start: " +
			err.Error()})
		p.fail(a.ev.ID, err)
		return
	}
	a.sending = true
}

func (p *Phone) reject(reason string) {
	if err := p.ringing("reject"); err != nil {
		p.fail("", err)
		return
	}
	p.send(signaling.Message{Type: signaling.TypeReject, CallID: p.ringingCall().ev.ID, Reason: reason})
}

func (p *Phone) hangup() {
	a := p.cur
	switch {
	case a == nil:
		p.fail("", signaling.Errorf(signaling.NoConnectedCall, "there is no call to hang up"))
	case a.ev.ID == "":
		a.cancel = true // the server has not named the call yet
	case a.ev.Direction == signaling.Inbound && !a.answered:
		p.send(signaling.Message{Type: signaling.TypeReject, CallID: a.ev.ID})
	case p.sig == nil && p.callUp():
		// The server is unreachable: the call ends here at once (the
		// microphone must not stay live), and the server is told once it
		// is back, which ends it for the other side too.
		p.hungUp = append(p.hungUp, a.ev.ID)
		p.end(signaling.Completed, "", 0, p.cfg.Sounds.Hangup)
	default:
		p.sendHangup(a.ev.ID)
	}
}

// mutable says why there is nothing to mute, if there is not.
func (p *Phone) mutable() error {
	if p.room != nil && p.room.opts.ListenOnly {
		return signaling.Errorf(signaling.PermissionDenied,
			"you joined as a listener: leave and join without --listen-only to speak")
	}
	if p.room == nil && (p.cur == nil || p.cur.media == nil) {
		return signaling.Errorf(signaling.NoConnectedCall, "there is no call to mute")
	}
	return nil
}

func (p *Phone) setMuted(muted bool) {
	if p.room != nil {
		if mv := p.room.move; mv != nil && p.cur == mv.call { // the call it grew from goes on for a moment
			mv.call.muted = muted
			mv.call.media.muted.Store(muted)
		}
		p.setRoomMuted(muted)
		return
	}
	if err := p.mutable(); err != nil {
		p.fail("", err)
		return
	}
	a := p.cur
	if a.muted == muted {
		return
	}
	a.muted = muted
	a.media.muted.Store(muted)
	switch {
	case !p.callUp(): // before the answer, the answer carries it
	case p.sig == nil:
		a.muteUnsent = true // told after the resume
	default:
		p.sendMute(a.ev.ID, muted)
	}
	p.emit(Muted{CallID: a.ev.ID, Local: true, Muted: muted})
}

func (p *Phone) statusChanged(ev signaling.CallEvent, sdp string) {
	a := p.cur
	if a == nil || a.ev.ID != ev.ID {
		return
	}
	if ev.Status == a.ev.Status || (a.ev.Status == signaling.Reconnecting && ev.Status == signaling.Answered) {
		return // the answer to a resume: nothing new (reconnecting is ours to end)
	}
	if !signaling.CanTransition(a.ev.Status, ev.Status) {
		p.log.Warn("server sent an illegal transition; following the server", "from", a.ev.Status, "to", ev.Status,
			"call", ev.ID)
	}
	wasAnswered := a.ev.Status == signaling.Answered
	ev.Waiting = a.waiting // the server marks it for every device: it waits on this one only
	a.ev = ev
	switch ev.Status {
	case signaling.Ringing:
		if ev.Direction == signaling.Outbound {
			a.media.cue(p.cfg.Sounds.Ringback)
		} else if a.waiting {
			a.media.cue(waitBeepCycle())
		} else if !a.answered {
			a.media.cue(p.cfg.Sounds.Ringtone)
		}
	case signaling.Answered:
		a.answeredAt = time.Now()
		if ev.Direction == signaling.Inbound && !a.answered {
			// Another device of ours took the call.
			ev.Reason = ReasonAnsweredElsewhere
			p.teardown()
			p.emit(StatusChanged{CallEvent: ev, At: time.Now()})
			return
		}
		a.media.cue(nil)
		if a.muted { // muted while it rang: tell the other side now
			p.sendMute(ev.ID, true)
		}
		if ev.Direction == signaling.Outbound {
			err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
			if err != nil {
				p.send(signaling.Message{Type: signaling.TypeFail, CallID: ev.ID,
					Reason: "the answer could not be used: " + err.Error()})
			}
			a.remoteReady = true
			p.flushRemote()
			p.startSending(a)
		}
	}
	if ev.Status.Terminal() {
		p.teardown(p.lastSound(wasAnswered, ev))
	}
	p.emit(StatusChanged{CallEvent: ev, At: time.Now()})
	if ev.Status == signaling.Answered {
		p.verify(a)
	}
}

// end closes the call locally with a status the server could not send,
// and plays the last sound, if one is given (see teardown). A call hung up
// while the server was unreachable is Untold until the phone is back.
func (p *Phone) end(status signaling.Status, reason string, code signaling.Code, last ...[]int16) {
	ev := p.cur.ev
	ev.Status, ev.Reason, ev.Code = status, reason, code
	p.teardown(last...)
	p.emit(StatusChanged{CallEvent: ev, At: time.Now(), Untold: slices.Contains(p.hungUp, ev.ID)})
}

// teardown ends the current call's media. With a last sound, the speaker
// stays open until it has played, in the background; the phone waits for
// it before it stops.
func (p *Phone) teardown(last ...[]int16) {
	a := p.cur
	if a == nil {
		return
	}
	p.cur = nil
	if p.other != nil {
		p.promote() // waiting.go
	}
	if err := a.pc.Close(); err != nil {
		p.log.Debug("close peer connection", "err", err)
	}
	if len(last) == 0 || len(last[0]) == 0 {
		a.media.stop()
		return
	}
	p.spawn(func() { a.media.finish(last[0]) })
}

// lastSound is what the speaker plays when a call ends with ev.
func (p *Phone) lastSound(wasAnswered bool, ev signaling.CallEvent) []int16 {
	switch {
	case ev.Reason == signaling.ReasonMovedToRoom: // it goes on in the room
		return nil
	case ev.Status == signaling.Rejected && ev.Direction == signaling.Outbound:
		return p.cfg.Sounds.Busy
	case wasAnswered:
		return p.cfg.Sounds.Hangup
	}
	return nil
}

func (p *Phone) localCandidate(a *active, c webrtc.ICECandidateInit) {
	if p.cur != a {
		return
	}
	a.localQueue = append(a.localQueue, signaling.Candidate{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	})
	if a.localReady {
		p.flushLocal()
	}
}

// The refs of the messages that may cross the end of their call at the
// server (a candidate trickled, a hang-up or a mute as the other side
// hangs up), so that a refusal of one is known for what it is (see
// refused).
const (
	candidateRef = "candidate"
	hangupRef    = "hangup"
	muteRef      = "mute"
	holdRef      = "hold"
)

// crosses reports whether m is a refusal of a message that crossed the end
// of its call: the call's status tells the end, and may come after it.
func crosses(m signaling.Message) bool {
	switch m.Ref {
	case candidateRef, hangupRef, muteRef, holdRef, movedRef:
		return m.Error.Code == signaling.NoConnectedCall
	}
	return false
}

// GiveUp ends the outbound call that is not answered yet as unanswered,
// with reason "no answer" (parley call --ring-timeout); an answered call
// goes on.
func (p *Phone) GiveUp() { p.post(p.giveUp) }

func (p *Phone) giveUp() {
	a := p.cur
	if a == nil || a.ev.Direction != signaling.Outbound || a.ev.ID == "" ||
		a.ev.Status != signaling.Started && a.ev.Status != signaling.Ringing {
		return
	}
	p.send(signaling.Message{Type: signaling.TypeHangup, Ref: hangupRef, CallID: a.ev.ID,
		Reason: signaling.ReasonNoAnswer})
}

func (p *Phone) sendHangup(callID string) {
	p.send(signaling.Message{Type: signaling.TypeHangup, Ref: hangupRef, CallID: callID})
}

func (p *Phone) sendMute(callID string, muted bool) {
	p.send(signaling.Message{Type: signaling.TypeMute, Ref: muteRef, CallID: callID, Muted: &muted})
}

func (p *Phone) flushLocal() {
	a := p.cur
	for _, c := range a.localQueue {
		p.send(signaling.Message{Type: signaling.TypeCandidate, Ref: candidateRef, CallID: a.ev.ID, Candidate: &c})
	}
	a.localQueue = nil
}

func (p *Phone) remoteCandidate(c signaling.Candidate) {
	a := p.cur
	a.remoteQueue = append(a.remoteQueue, webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	})
	if a.remoteReady {
		p.flushRemote()
	}
}

func (p *Phone) flushRemote() {
	a := p.cur
	for _, c := range a.remoteQueue {
		if err := a.pc.AddICECandidate(c); err != nil {
			p.log.Debug("remote candidate refused", "candidate", c.Candidate, "err", err)
		}
	}
	a.remoteQueue = nil
}

func (p *Phone) peerState(a *active, s webrtc.PeerConnectionState) {
	if p.cur != a {
		return
	}
	// A failed connection is not the end of the call: watchMedia restarts
	// ICE, and fails the call only after the grace period.
	p.log.Info("media connection", "call", a.ev.ID, "state", s.String())
	if s == webrtc.PeerConnectionStateConnected {
		p.startSending(a)
	}
}
