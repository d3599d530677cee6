package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"gopkg.in/hraban/opus.v2"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
)

// The harness's room participants: Pion peer connections laid out as
// signaling.RoomSlots says, many in one process, each with its own
// signaling connection. The speakers send pre-encoded Opus tones (one
// distinct tone each) with the RFC 6464 level of the tone; the others
// send pre-encoded silence marked 127. Every participant records what
// arrives on its slots; the recordings are decoded and searched for the
// tones once the measured window is over, so that decoding does not load
// the machine while the server's CPU is read.

// RoomTones are the speakers' tones, Hz: whole numbers, so that a second
// of each loops without a seam; no one a harmonic of another.
var RoomTones = []float64{440, 700, 1150}

const (
	roomToneAmp   = 0.25 // peak, of full scale: -15 dBov RMS
	roomToneLevel = 15   // its RFC 6464 level
	// RoomHeardAbove is the Goertzel amplitude (full scale 1) at a tone's
	// frequency, in what a participant decoded from its slots over the
	// window, above which the tone counts as heard: a third of the sent
	// tone's.
	RoomHeardAbove = 0.08
	roomFrame      = 960 // 20 ms at 48 kHz
)

// Phases of the recording, shared by a process's peers.
const (
	phaseBefore = iota
	phaseRecording
	phaseOver
)

// RoomPeersConfig is what a process of room participants does.
type RoomPeersConfig struct {
	Server, Room string
	// Users and their tokens; the first Speakers speak, the others are
	// silent. They join in this order, one after another.
	Users, Tokens []string
	Speakers      int
	// Settle is how long the room runs once everyone is in before the
	// window, Window how long the recording (and the server's CPU) runs.
	Settle, Window time.Duration
	// Patience is how long a join waits for its first audio.
	Patience time.Duration
}

// RoomPeerReport is what one participant measured.
type RoomPeerReport struct {
	User string
	Tone float64 // the tone it sent; 0: silent
	// JoinToAudio runs from its room_join to the first packet on any of
	// its slots; 0 when nobody spoke yet when it joined, or when nothing
	// came within the patience (Missed).
	JoinToAudio time.Duration
	Missed      bool
	// Levels are the Goertzel amplitudes of RoomTones (in order) in what
	// it decoded over the window, the highest over its slots.
	Levels []float64
	// Packets it received over the window, on all its slots.
	Packets int
}

// RunRoomPeers joins the users of c to the room one after another, runs
// the window and prints its progress and results on out, one line each:
// "joined I NANOSECONDS" (0: nobody spoke yet), "missed I", "ready",
// "window", "end", "result JSON" ([]RoomPeerReport) or "failed: ...". It
// returns once the results are out.
func RunRoomPeers(ctx context.Context, c RoomPeersConfig, out io.Writer) error {
	w := bufio.NewWriter(out)
	say := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		_ = w.Flush() // a reader gone is no reason to stop
	}
	err := runRoomPeers(ctx, c, say)
	if err != nil {
		say("failed: %v", err)
	}
	return err
}

func runRoomPeers(ctx context.Context, c RoomPeersConfig, say func(string, ...any)) error {
	if len(c.Users) != len(c.Tokens) || len(c.Users) == 0 {
		return errors.New("bench: room peers: as many tokens as users, at least one")
	}
	if c.Patience == 0 {
		c.Patience = 5 * time.Second
	}
	frames, silence, err := roomFrames(RoomTones, roomToneAmp)
	if err != nil {
		return err
	}
	api, err := roomPeerAPI()
	if err != nil {
		return err
	}
	var phase atomic.Int32
	peers := make([]*roomPeer, len(c.Users))
	defer func() {
		var wg sync.WaitGroup
		for _, p := range peers {
			if p != nil {
				wg.Add(1)
				go func() { defer wg.Done(); p.close() }()
			}
		}
		wg.Wait()
	}()
	// Signed in first, all of them: the joins alone are timed.
	err = parallel(ctx, len(c.Users), 8, func(ctx context.Context, i int) error {
		p, err := dialRoomPeer(ctx, c.Server, c.Users[i], c.Tokens[i], &phase)
		peers[i] = p
		return err
	})
	if err != nil {
		return err
	}
	sctx, stopSending := context.WithCancel(ctx)
	add := make(chan *roomPeer)
	sent := make(chan struct{})
	go func() { defer close(sent); sendRoom(sctx, add, frames, silence, roomToneLevel) }()
	defer func() { stopSending(); <-sent }()

	for i, p := range peers {
		tone := 0
		if i < c.Speakers {
			tone = i%len(RoomTones) + 1
		}
		p.tone = tone
		at, err := p.join(ctx, api, c.Room)
		if err != nil {
			return fmt.Errorf("bench: %s joins %s: %w", p.user, c.Room, err)
		}
		select {
		case add <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		if i == 0 || c.Speakers == 0 { // nobody speaks in the room yet
			say("joined %d 0", i)
			continue
		}
		select {
		case first := <-p.first:
			say("joined %d %d", i, first.Sub(at))
		case <-time.After(c.Patience):
			say("missed %d", i)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	say("ready")
	if err := sleep(ctx, c.Settle); err != nil {
		return err
	}
	phase.Store(phaseRecording)
	say("window")
	if err := sleep(ctx, c.Window); err != nil {
		return err
	}
	phase.Store(phaseOver)
	say("end")
	// The packets go on: each slot hands over its recording at its next
	// packet.
	// Every slot's recording first (they come within a packet), then
	// the decoding.
	recs := make([][]slotRecord, len(peers))
	deadline := time.Now().Add(2 * time.Second)
	for i, p := range peers {
		recs[i] = p.recordings(deadline)
	}
	reports := make([]RoomPeerReport, len(peers))
	for i, p := range peers {
		r := RoomPeerReport{User: p.user}
		if p.tone > 0 {
			r.Tone = RoomTones[p.tone-1]
		}
		r.Levels, r.Packets = analyse(recs[i])
		reports[i] = r
	}
	b, err := json.Marshal(reports)
	if err != nil {
		return err
	}
	say("result %s", b)
	return nil
}

// roomFrames encodes a second of each tone, of peak amplitude amp (full
// scale 1), as 20 ms Opus frames, and one frame of silence.
func roomFrames(tones []float64, amp float64) (frames [][][]byte, silence []byte, err error) {
	enc, err := opus.NewEncoder(SampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, nil, err
	}
	pcm := make([]int16, roomFrame)
	buf := make([]byte, 1500)
	encode := func() ([]byte, error) {
		n, err := enc.Encode(pcm, buf)
		if err != nil {
			return nil, fmt.Errorf("bench: opus: %w", err)
		}
		return slices.Clone(buf[:n]), nil
	}
	for _, hz := range tones {
		var fs [][]byte
		for k := range SampleRate / roomFrame {
			for i := range pcm {
				x := float64(k*roomFrame+i) / SampleRate
				pcm[i] = int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*hz*x)))
			}
			f, err := encode()
			if err != nil {
				return nil, nil, err
			}
			fs = append(fs, f)
		}
		frames = append(frames, fs)
	}
	// Silence from an encoder of its own, once it has settled: the first
	// encoder's next frame would still carry the end of the last tone.
	if enc, err = opus.NewEncoder(SampleRate, 1, opus.AppVoIP); err != nil {
		return nil, nil, err
	}
	clear(pcm)
	for range 5 {
		if silence, err = encode(); err != nil {
			return nil, nil, err
		}
	}
	return frames, silence, nil
}

// roomOpus is a room's codec, as the server registers it.
var roomOpus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	SDPFmtpLine: "minptime=10;useinbandfec=1"}

// roomPeerAPI is the Pion API of the participants: Opus with the level
// extension, loopback candidates alone, no interceptors (a participant
// of the harness needs no RTCP of its own).
func roomPeerAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: roomOpus, PayloadType: 111},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: signaling.RoomAudioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)), nil
}

// roomPeer is one participant.
type roomPeer struct {
	user   string
	tone   int // index into RoomTones plus one; 0: silent
	sig    *signaling.Client
	joined chan signaling.Message // its joined event, or an error
	pc     *webrtc.PeerConnection
	mic    *webrtc.TrackLocalStaticRTP
	extID  uint8 // the level extension's id on what it sends
	phase  *atomic.Int32
	first  chan time.Time // the first packet on any slot
	recs   chan slotRecord
	tracks atomic.Int32 // slot tracks that arrived
}

// slotRecord is what arrived on a slot over the window.
type slotRecord struct {
	payloads [][]byte
}

func dialRoomPeer(ctx context.Context, server, user, token string, phase *atomic.Int32) (*roomPeer, error) {
	var sig *signaling.Client
	var err error
	for try := 0; try < 20; try++ {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		sig, err = signaling.Dial(dctx, server, token, signaling.DialOptions{})
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(200*(try+1)) * time.Millisecond) // refused for the rate: wait a bucket
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %s signs in: %w", user, err)
	}
	p := &roomPeer{user: user, sig: sig, joined: make(chan signaling.Message, 1), phase: phase,
		first: make(chan time.Time, 1), recs: make(chan slotRecord, signaling.RoomSlots)}
	go func() { // read everything the server sends; hand on the answer to the join
		for m := range sig.Messages() {
			joined := m.Type == signaling.TypeRoomEvent && m.RoomEvent != nil &&
				m.RoomEvent.Kind == signaling.RoomJoined
			if joined || (m.Type == signaling.TypeError && m.Ref == "join-"+user) {
				select {
				case p.joined <- m:
				default:
				}
			}
		}
	}()
	return p, nil
}

// join makes the peer connection, offers it with room_join and applies
// the answer; it returns when room_join was sent.
func (p *roomPeer) join(ctx context.Context, api *webrtc.API, room string) (time.Time, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return time.Time{}, err
	}
	p.pc = pc
	if p.mic, err = webrtc.NewTrackLocalStaticRTP(roomOpus, "mic", p.user); err != nil {
		return time.Time{}, err
	}
	send, err := pc.AddTransceiverFromTrack(p.mic,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return time.Time{}, err
	}
	for range signaling.RoomSlots {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return time.Time{}, err
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.tracks.Add(1)
		go p.record(tr)
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return time.Time{}, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return time.Time{}, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	at := time.Now()
	if err := p.sig.Send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "join-" + p.user, Room: room,
		SDP: pc.LocalDescription().SDP}); err != nil {
		return at, err
	}
	var m signaling.Message
	select {
	case m = <-p.joined:
	case <-time.After(30 * time.Second):
		return at, errors.New("no joined event within 30s")
	case <-ctx.Done():
		return at, ctx.Err()
	}
	if m.Type == signaling.TypeError {
		return at, m.Error
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
		return at, fmt.Errorf("the answer: %w", err)
	}
	for _, h := range send.Sender().GetParameters().HeaderExtensions {
		if h.URI == signaling.RoomAudioLevelURI {
			p.extID = uint8(h.ID)
		}
	}
	if p.extID == 0 {
		return at, errors.New("the answer has no audio level extension")
	}
	return at, nil
}

// record reads a slot until it ends, noting its first packet and keeping
// the payloads of the window, which it hands over on recs once the window
// is over (or the slot ends).
func (p *roomPeer) record(tr *webrtc.TrackRemote) {
	var rec slotRecord
	handed := false
	hand := func() {
		if !handed {
			handed = true
			select {
			case p.recs <- rec:
			default: // more slots than the layout has: not this peer's to keep
			}
		}
	}
	defer hand()
	for n := 0; ; n++ {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if n == 0 {
			select {
			case p.first <- time.Now():
			default:
			}
		}
		switch p.phase.Load() {
		case phaseRecording:
			rec.payloads = append(rec.payloads, slices.Clone(pkt.Payload))
		case phaseOver:
			hand()
		}
	}
}

// recordings waits (until deadline) for the recordings of its slots.
func (p *roomPeer) recordings(deadline time.Time) []slotRecord {
	var out []slotRecord
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for range p.tracks.Load() {
		select {
		case rec := <-p.recs:
			out = append(out, rec)
		case <-t.C:
			return out
		}
	}
	return out
}

// analyse measures the tones in a participant's recordings: the
// Goertzel amplitude of each of RoomTones, the highest over the slots; and
// counts their packets.
func analyse(recs []slotRecord) (levels []float64, packets int) {
	levels = make([]float64, len(RoomTones))
	for _, rec := range recs {
		packets += len(rec.payloads)
		pcm := decodeAll(rec.payloads)
		for k, hz := range RoomTones {
			levels[k] = max(levels[k], audiotest.Goertzel(pcm, hz))
		}
	}
	return levels, packets
}

// decodeAll decodes Opus payloads in order; those it cannot decode are
// left out.
func decodeAll(payloads [][]byte) []int16 {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return nil
	}
	out := make([]int16, 0, len(payloads)*roomFrame)
	buf := make([]int16, 5760)
	for _, pl := range payloads {
		n, err := dec.Decode(pl, buf)
		if err != nil {
			continue
		}
		out = append(out, buf[:n]...)
	}
	return out
}

func (p *roomPeer) close() {
	if p.pc != nil {
		_ = p.pc.Close()
	}
	_ = p.sig.Close()
}

// sender is a peer's packets.
type sender struct {
	p   *roomPeer
	pkt rtp.Packet
}

// sendRoom sends, every 20 ms, a packet of every peer handed on add: the
// next frame of its tone marked level (the tones' RFC 6464 level), or
// silence marked 127.
func sendRoom(ctx context.Context, add <-chan *roomPeer, frames [][][]byte, silence []byte, level byte) {
	var all []*sender
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return
		case p := <-add:
			// Each peer's numbers start elsewhere, as real ones do.
			k := uint32(len(all) + 1)
			all = append(all, &sender{p: p, pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111,
				SequenceNumber: uint16(k * 7919), Timestamp: k * 104729}}})
			continue
		case <-tick.C:
		}
		// Frames go by the clock: a tick the machine's load delayed or
		// dropped is made up, up to half a second of them (beyond, they
		// are lost), so that what arrives measures the server's delivery
		// rather than this process's share of a busy machine.
		due := int(time.Since(start) / (20 * time.Millisecond))
		n = max(n, due-25)
		for ; n < due; n++ {
			sendFrame(all, n, frames, silence, level)
		}
	}
}

// sendFrame sends frame n of every peer.
func sendFrame(all []*sender, n int, frames [][][]byte, silence []byte, level byte) {
	for _, s := range all {
		mark := byte(127)
		s.pkt.Payload = silence
		if t := s.p.tone; t > 0 {
			fs := frames[t-1]
			s.pkt.Payload = fs[n%len(fs)]
			mark = 0x80 | level
		}
		s.pkt.Extension, s.pkt.Extensions = false, nil
		_ = s.pkt.SetExtension(s.p.extID, []byte{mark})
		_ = s.p.mic.WriteRTP(&s.pkt) // a peer going away: its results tell
		s.pkt.SequenceNumber++
		s.pkt.Timestamp += roomFrame
	}
}

// ToneSpeakers are harness participants of a room who speak tones until
// stopped: the other speakers a room's real clients hear.
type ToneSpeakers struct {
	peers []*roomPeer
	stop  context.CancelFunc
	sent  chan struct{}
}

// StartToneSpeakers joins users (with their tokens) to room on server,
// each speaking one of RoomTones in turn at peak amplitude amp (full scale
// 1), its packets marked with that level.
func StartToneSpeakers(ctx context.Context, server, room string, users, tokens []string,
	amp float64) (*ToneSpeakers, error) {
	frames, silence, err := roomFrames(RoomTones, amp)
	if err != nil {
		return nil, err
	}
	api, err := roomPeerAPI()
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &ToneSpeakers{stop: stop, sent: make(chan struct{})}
	add := make(chan *roomPeer)
	level := byte(math.Round(-20 * math.Log10(amp/math.Sqrt2))) // the tone's RMS, -dBov
	go func() { defer close(s.sent); sendRoom(sctx, add, frames, silence, level) }()
	var phase atomic.Int32
	for i, u := range users {
		p, err := dialRoomPeer(ctx, server, u, tokens[i], &phase)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.peers = append(s.peers, p)
		p.tone = i%len(RoomTones) + 1
		if _, err := p.join(ctx, api, room); err != nil {
			s.Stop()
			return nil, fmt.Errorf("bench: %s joins %s: %w", u, room, err)
		}
		add <- p
	}
	return s, nil
}

// Stop stops the speakers: they leave the room as their connections close.
func (s *ToneSpeakers) Stop() {
	s.stop()
	<-s.sent
	for _, p := range s.peers {
		p.close()
	}
}
