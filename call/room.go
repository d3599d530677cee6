package call

// Rooms: joining one (a peer connection with the room's node, see
// signaling/room.go for its layout), its events, and the actions of a
// participant and of its host.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// RoomOptions are how a phone joins a room.
type RoomOptions struct {
	Muted      bool // join with the microphone muted
	ListenOnly bool // join as a listener: no microphone is opened, nothing is sent
}

// RoomLeft says the phone is out of the room it joined, whatever the
// reason: it left (signaling.LeftLeft), was removed (signaling.LeftRemoved,
// after RoomChanged removed), the room ended (RoomLeftEnded, after
// RoomChanged room_ended), or the join was refused or the room's media or
// signaling failed (RoomLeftFailed, after the RoomFailure that says why).
// It comes once for each JoinRoom, last (but for a JoinRoom refused at
// once as the phone is in a room already: that room goes on).
type RoomLeft struct {
	Room   string
	Reason string
	Err    *signaling.Error // RoomLeftFailed: why
}

// Reasons of RoomLeft besides signaling.LeftLeft and signaling.LeftRemoved.
const (
	RoomLeftEnded  = "ended"
	RoomLeftFailed = "failed"
)

func (RoomLeft) event() {}

// room is the room the phone is in, owned by the phone's loop.
type room struct {
	name    string
	opts    RoomOptions
	ref     string // the room_join's ref
	pc      *webrtc.PeerConnection
	track   *webrtc.TrackLocalStaticRTP
	sender  *webrtc.RTPSender
	media   *roomMedia
	closed  chan struct{} // closed when the room is left here
	joined  bool          // the joined event came and its answer was applied
	sending bool
	user    string // who we are in it (joined)
	role    signaling.RoomRole
	muted   bool
	locked  bool     // the host muted us and locked the microphone
	slots   []string // who is heard on each receive slot
	rejoin  rejoinState
	quality *quality // what is received, for RoomStats (of the current peer connection)
	ticks   int      // of roomTick
	// What Status reports (status.go): who is in the room, as the room's
	// events tell it, their connections' last grades, whether the room is
	// locked, and what this phone received over the last second.
	people     []signaling.Participant
	grades     map[string]signaling.Quality
	roomLocked bool
	stats      *Stats
	move       *move // the call it grew from, while that plays alongside (grow.go)
}

// Refs of room messages, so that a refusal is known for what it answers.
const (
	roomJoinRef   = "room-join"
	roomMuteRef   = "room-mute"
	roomActionRef = "room-action"
)

// JoinRoom joins the room name; RoomChanged and RoomLeft report what
// follows. A phone is in one call or one room at a time (but while a call
// moves into the room it grew into: grow.go).
func (p *Phone) JoinRoom(name string, o RoomOptions) { p.post(func() { p.joinRoom(name, o) }) }

// LeaveRoom leaves the room; it goes on for the others.
func (p *Phone) LeaveRoom() { p.post(func() { p.leaveRoom(signaling.LeftLeft) }) }

// MuteParticipant (host) mutes or unmutes user; locked keeps them from
// unmuting themselves.
func (p *Phone) MuteParticipant(user string, muted, locked bool) {
	p.post(func() {
		p.roomAction(signaling.Message{Type: signaling.TypeRoomMute, Target: user, Muted: &muted, Locked: &locked})
	})
}

// RemoveParticipant (host) makes user leave the room.
func (p *Phone) RemoveParticipant(user string) {
	p.post(func() { p.roomAction(signaling.Message{Type: signaling.TypeRoomRemove, Target: user}) })
}

// LockRoom (host) locks the room (nobody but the host may join) or
// unlocks it.
func (p *Phone) LockRoom(locked bool) {
	p.post(func() { p.roomAction(signaling.Message{Type: signaling.TypeRoomLock, Locked: &locked}) })
}

// EndRoom (host) ends the room for everyone.
func (p *Phone) EndRoom() {
	p.post(func() { p.roomAction(signaling.Message{Type: signaling.TypeRoomEnd}) })
}

func (p *Phone) roomFail(name string, err error) {
	e := signaling.AsError(err)
	p.log.Warn("room refused", "room", name, "code", e.Code, "err", e.Message)
	p.emit(RoomFailure{Room: name, Err: e})
}

// joinFailed reports a join that failed before it was sent: the refusal,
// then RoomLeft.
func (p *Phone) joinFailed(name string, err error) {
	p.roomFail(name, err)
	p.emit(RoomLeft{Room: name, Reason: RoomLeftFailed, Err: signaling.AsError(err)})
}

func (p *Phone) joinRoom(name string, o RoomOptions) { p.enterRoom(name, o, nil) }

// enterRoom joins room name; mv, when set, is the call it grew from, which
// goes on until the room plays its peer.
func (p *Phone) enterRoom(name string, o RoomOptions, mv *move) {
	switch {
	case p.cur != nil && mv == nil:
		p.joinFailed(name, signaling.Errorf(signaling.AlreadyBusyCall, "you are in a call: hang up first"))
		return
	case p.room != nil:
		p.roomFail(name, signaling.Errorf(signaling.AlreadyBusyCall, "you are in room %s: leave it first",
			p.room.name))
		return
	case p.sig == nil:
		p.joinFailed(name, signaling.Errorf(signaling.NoConnectedSession,
			"not connected to the server yet: wait for the connection and try again"))
		return
	}
	if err := signaling.CheckRoomName(name); err != nil {
		p.joinFailed(name, err)
		return
	}
	if p.roomAPI == nil {
		api, err := newRoomAPI(p.log, p.cfg.Net, p.cfg.RelayOnly)
		if err != nil {
			p.joinFailed(name, err)
			return
		}
		p.roomAPI = api
	}
	// A room grown from a call shares the call's microphone (micshare.go).
	var share *micShare
	if mv != nil && !o.ListenOnly && mv.call.media != nil {
		if d := mv.call.media.dev; d != nil {
			d.mu.Lock()
			if d.src != nil {
				share = newMicShare(d.src)
			}
			d.mu.Unlock()
		}
	}
	src, sink, err := p.openDevices(!o.ListenOnly && share == nil)
	if err != nil {
		p.joinFailed(name, err)
		return
	}
	if share != nil {
		mv.call.media.dev.handSource(callMic{share})
		src = roomMic{share}
	}
	r, err := p.roomPeer(name, o)
	if err != nil {
		if src != nil {
			src.Close()
		}
		_ = sink.Close()
		p.joinFailed(name, err)
		return
	}
	// A slot that starts playing may be the peer of the call the room grew
	// from, heard in it now.
	r.media = newRoomMedia(sink, p.frameSamples(), func() { p.post(func() { p.checkMove(r) }) })
	r.media.dev.opts.Store(p.cfg.Processing.bits())
	r.media.dev.log = p.log
	r.media.muted.Store(o.Muted)
	r.muted = o.Muted
	r.move = mv
	if src != nil {
		r.media.attach(src)
	}
	p.room = r
	p.watchRoomPeer(r)
	p.offerRoom(r)
}

// offerRoom sends room_join with an offer of r's peer connection (the
// first, or a new one to join again), under a new ref.
func (p *Phone) offerRoom(r *room) {
	p.refs++
	r.ref = roomJoinRef + strconv.Itoa(p.refs)
	pc := r.pc
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.roomOver(signaling.Errorf(signaling.UnknownError, "the offer could not be made: %v", err))
		return
	}
	// No trickle in rooms: the offer goes with every candidate in it.
	gathered := webrtc.GatheringCompletePromise(pc)
	p.spawn(func() {
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-gathered:
		case <-t.C:
		case <-r.closed:
			return
		}
		p.post(func() { p.sendJoin(r, pc) })
	})
}

// roomPeer makes the room's peer connection: one send-only transceiver for
// the microphone, then RoomSlots receive-only ones.
func (p *Phone) roomPeer(name string, o RoomOptions) (*room, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(opusCodec, "audio", "parley")
	if err != nil {
		return nil, fmt.Errorf("call: room track: %w", err)
	}
	r := &room{name: name, opts: o, track: track, closed: make(chan struct{}),
		grades: map[string]signaling.Quality{}}
	if err := p.roomConn(r); err != nil {
		return nil, err
	}
	return r, nil
}

// roomConn gives r a new peer connection, with r's microphone track (the
// same across rejoins, so that its sender goes on).
func (p *Phone) roomConn(r *room) error {
	conf := webrtc.Configuration{ICEServers: append(pionICEServers(p.cfg.ICEServers), p.iceServers...)}
	if p.cfg.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := p.roomAPI.NewPeerConnection(conf)
	if err != nil {
		return fmt.Errorf("call: room peer connection: %w", err)
	}
	tr, err := pc.AddTransceiverFromTrack(r.track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	for i := 0; err == nil && i < signaling.RoomSlots; i++ {
		_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	}
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("call: room transceivers: %w", err)
	}
	r.pc, r.sender, r.quality = pc, tr.Sender(), newQuality()
	return nil
}

// watchRoomPeer wires Pion's callbacks to the loop for room r.
func (p *Phone) watchRoomPeer(r *room) {
	pc := r.pc
	pc.OnTrack(func(t *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		slot := -1
		for i, tr := range pc.GetTransceivers() {
			if tr.Receiver() == rcv {
				slot = i - 1 // the first transceiver sends
			}
		}
		if s, ok := strings.CutPrefix(t.ID(), "slot"); ok && slot < 0 {
			slot, _ = strconv.Atoi(s)
		}
		p.post(func() {
			if p.room != r || r.pc != pc {
				return // a connection replaced by a rejoin
			}
			if slot < 0 || slot >= signaling.RoomSlots {
				p.log.Warn("room: a track on no receive slot", "track", t.ID(), "slot", slot)
				return
			}
			p.log.Info("room: receiving", "room", r.name, "slot", slot, "track", t.ID())
			r.media.receive(slot, t)
		})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.post(func() { p.roomPeerState(r, pc, s) })
	})
}

// sendJoin sends the join of r with pc's offer, unless pc was replaced
// meanwhile. A rejoin joins as muted as we are now.
func (p *Phone) sendJoin(r *room, pc *webrtc.PeerConnection) {
	if p.room != r || r.pc != pc {
		return
	}
	m := signaling.Message{Type: signaling.TypeRoomJoin, Ref: r.ref, Room: r.name, SDP: pc.LocalDescription().SDP,
		ListenOnly: r.opts.ListenOnly}
	if r.muted {
		m.Muted = &r.muted
	}
	p.send(m)
}

func (p *Phone) roomPeerState(r *room, pc *webrtc.PeerConnection, s webrtc.PeerConnectionState) {
	if p.room != r || r.pc != pc {
		return
	}
	p.log.Info("room media connection", "room", r.name, "state", s.String())
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.roomConnected(r) // roomrejoin.go
		p.startRoomSending(r)
	case webrtc.PeerConnectionStateFailed:
		if p.rejoinRoom(r, "the media connection to the room failed") {
			return
		}
		p.roomOver(signaling.Errorf(signaling.UnknownError,
			"the media connection to the room failed: check the network, then join again"))
	}
}

// startRoomSending starts the sender once the room's media is connected
// (a file plays from its start); a listener sends nothing.
func (p *Phone) startRoomSending(r *room) {
	if r.sending || !r.joined || r.opts.ListenOnly || r.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		return
	}
	var ext uint8
	for _, h := range r.sender.GetParameters().HeaderExtensions {
		if h.URI == signaling.RoomAudioLevelURI {
			ext = uint8(h.ID)
		}
	}
	if ext == 0 {
		p.log.Warn("room: the server did not take the audio level extension", "room", r.name)
	}
	if err := r.media.send(r.track, ext); err != nil {
		p.roomOver(signaling.AsError(err))
		return
	}
	r.sending = true
}

// roomEvent applies a room_event from the server.
func (p *Phone) roomEvent(m signaling.Message) {
	r := p.room
	ev := *m.RoomEvent
	if p.grownInvitation(ev) || p.roomInvitation(ev) { // grow.go, roominvite.go
		return
	}
	if r == nil || ev.Room != r.name {
		p.log.Info("room event about another room", "room", ev.Room, "kind", ev.Kind)
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	switch ev.Kind {
	case signaling.RoomJoined:
		if r.joined || m.Ref != "" && m.Ref != r.ref {
			return // an answer to an offer replaced by a rejoin
		}
		err := r.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
		if err != nil {
			p.emit(RoomChanged{ev})
			p.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: roomActionRef, Room: r.name})
			p.roomOver(signaling.Errorf(signaling.UnknownError, "the server's answer could not be used: %v", err))
			return
		}
		r.joined, r.user, r.role = true, ev.User, ev.Role
		r.people, r.grades = slices.Clone(ev.Participants), map[string]signaling.Quality{}
		if ev.Locked != nil {
			r.roomLocked = *ev.Locked
		}
		for _, pt := range ev.Participants {
			if pt.User == r.user {
				r.muted, r.locked = pt.Muted, pt.MicLocked
				r.media.muted.Store(r.muted || r.opts.ListenOnly)
			}
		}
		p.emit(RoomChanged{ev})
		p.startRoomSending(r)
		return
	case signaling.ParticipantJoined:
		if ev.User != r.user {
			r.media.chime(p.cfg.Sounds.Joined)
		}
		if !slices.ContainsFunc(r.people, func(pt signaling.Participant) bool { return pt.User == ev.User }) {
			r.people = append(r.people, signaling.Participant{User: ev.User, Name: ev.Name, Role: ev.Role,
				Muted: ev.Muted != nil && *ev.Muted, Joined: ev.Time})
		}
	case signaling.ParticipantLeft:
		r.media.chime(p.cfg.Sounds.Left)
		r.people = slices.DeleteFunc(r.people, func(pt signaling.Participant) bool { return pt.User == ev.User })
		delete(r.grades, ev.User)
	case signaling.RoomLocked:
		if ev.Locked != nil {
			r.roomLocked = *ev.Locked
		}
	case signaling.RoomQuality:
		for _, q := range ev.Quality {
			r.grades[q.User] = q
		}
	case signaling.RoomSpeaking:
		r.slots = append([]string(nil), ev.Slots...)
		p.checkMove(r)
	case signaling.RoomMuted:
		if ev.User == r.user && ev.Muted != nil {
			p.mutedBy(r, *ev.Muted, ev.Locked != nil && *ev.Locked, ev.By != "" && ev.By != r.user)
		}
		if i := slices.IndexFunc(r.people, func(pt signaling.Participant) bool { return pt.User == ev.User }); i >= 0 &&
			ev.Muted != nil {
			r.people[i].Muted, r.people[i].MicLocked = *ev.Muted, *ev.Muted && ev.Locked != nil && *ev.Locked
		}
	case signaling.RoomRemoved:
		p.emit(RoomChanged{ev})
		p.roomLeft(signaling.LeftRemoved, nil)
		return
	case signaling.RoomEnded:
		p.emit(RoomChanged{ev})
		p.roomLeft(RoomLeftEnded, nil)
		return
	}
	p.emit(RoomChanged{ev})
}

// mutedBy follows a change of our muted state: the host may mute the
// microphone (and lock it), but nobody opens it but its user: the host's
// unmute only unlocks it, and the server is told it stays muted.
func (p *Phone) mutedBy(r *room, muted, locked, byOther bool) {
	switch {
	case muted:
		r.muted, r.locked = true, locked
		r.media.muted.Store(true)
	case byOther && r.muted:
		r.locked = false
		stay := true
		p.send(signaling.Message{Type: signaling.TypeRoomMute, Ref: roomMuteRef, Room: r.name, Muted: &stay})
	default:
		r.muted, r.locked = false, false
		r.media.muted.Store(false)
	}
}

// setRoomMuted mutes or unmutes the microphone in the room. Muting is at
// once; so is unmuting, unless the host locked the microphone: then it is
// the server's to allow, and it refuses (permission_denied).
func (p *Phone) setRoomMuted(muted bool) {
	r := p.room
	if err := p.mutable(); err != nil { // a listener's
		p.roomFail(r.name, err)
		return
	}
	if muted || !r.locked {
		r.muted = muted
		r.media.muted.Store(muted)
	}
	p.send(signaling.Message{Type: signaling.TypeRoomMute, Ref: roomMuteRef, Room: r.name, Muted: &muted})
}

func (p *Phone) roomAction(m signaling.Message) {
	if p.room == nil {
		p.roomFail("", signaling.Errorf(signaling.NoConnectedCall, "you are in no room"))
		return
	}
	m.Room, m.Ref = p.room.name, roomActionRef
	p.send(m)
}

// roomRefused handles a refusal of a room message; false when m is about
// something else.
func (p *Phone) roomRefused(m signaling.Message) bool {
	r := p.room
	switch {
	case !strings.HasPrefix(m.Ref, "room-"):
		return false
	case r == nil:
		p.log.Info("refusal about a room left", "ref", m.Ref, "code", m.Error.Code, "err", m.Error.Message)
		return true
	case m.Ref == r.ref && !r.joined && p.rejoinRefused(r, m.Error): // roomrejoin.go
		return true
	case m.Ref == r.ref && !r.joined:
		p.roomFail(r.name, m.Error)
		p.roomLeft(RoomLeftFailed, m.Error)
		return true
	case m.Ref == roomMuteRef && m.Error.Code == signaling.PermissionDenied:
		// Unmuting was refused (the host locked the microphone): muted
		// again.
		r.muted, r.locked = true, true
		r.media.muted.Store(true)
	}
	p.roomFail(r.name, m.Error)
	return true
}

// leaveRoom leaves the room: the server is told, and the media ends here.
func (p *Phone) leaveRoom(reason string) {
	r := p.room
	if r == nil {
		p.roomFail("", signaling.Errorf(signaling.NoConnectedCall, "you are in no room"))
		return
	}
	p.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: roomActionRef, Room: r.name})
	p.roomLeft(reason, nil)
}

// roomOver ends the room here after a failure: the server is told we left.
func (p *Phone) roomOver(err *signaling.Error) {
	if p.room == nil {
		return
	}
	p.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: roomActionRef, Room: p.room.name})
	p.roomFail(p.room.name, err)
	p.roomLeft(RoomLeftFailed, err)
}

// roomLeft ends the room's media here and reports RoomLeft.
func (p *Phone) roomLeft(reason string, err *signaling.Error) {
	r := p.room
	if r == nil {
		return
	}
	p.room = nil
	p.moveOff(r)
	close(r.closed)
	if cerr := r.pc.Close(); cerr != nil {
		p.log.Debug("close room peer connection", "err", cerr)
	}
	r.media.stop()
	p.log.Info("left the room", "room", r.name, "reason", reason)
	p.emit(RoomLeft{Room: r.name, Reason: reason, Err: err})
}

// roomTick runs on the loop's level ticker while in a room.
func (p *Phone) roomTick() {
	r := p.room
	m := r.media
	lv := RoomLevels{Room: r.name, Mic: m.micLevel.Load(), MicSpeaking: m.dev.dsp.micSpeaking.Load(),
		Heard: map[string]float64{}}
	for i, u := range r.slots {
		if u != "" && i < len(m.slotLevel) {
			lv.Heard[u] = m.slotLevel[i].Load()
		}
	}
	p.emitLossy(lv)
	if r.ticks++; r.ticks%10 == 0 && r.joined {
		// The warnings are the 1:1 call's; a room shows grades instead.
		if st, _, ok := r.quality.sample("", r.pc, &m.played); ok {
			r.stats = &st
			p.emitLossy(RoomStats{Room: r.name, Stats: st})
		}
	}
	s := m.dev.dsp
	if silent := s.micSilent.Load() && !r.muted; silent != s.warned {
		s.warned = silent
		p.log.Info("microphone silent", "room", r.name, "silent", silent)
		p.emit(MicWarning{Raised: silent})
	}
	p.watchDevices(m.dev, "")
	p.checkRejoin(r)
	p.checkMove(r)
}
