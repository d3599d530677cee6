package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"gopkg.in/hraban/opus.v2"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
)

// roomHTTP makes a request of the rooms API with a bearer token; it returns
// the status and the body.
func (s *testServer) roomHTTP(t testing.TB, method, path, tok string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// createRoom makes a room as user (with a fresh token).
func (s *testServer) createRoom(t testing.TB, user string, req signaling.RoomRequest) signaling.Room {
	t.Helper()
	st, b := s.roomHTTP(t, http.MethodPost, signaling.PathRooms, s.token(t, user), req)
	var r signaling.Room
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Name != req.Name || r.Host != user {
		t.Fatalf("create room %s as %s: %d %s", req.Name, user, st, b)
	}
	return r
}

// apiError fails unless a refusal of the API has code and a message
// containing each of want; it returns the message.
func apiError(t testing.TB, status int, body []byte, code signaling.Code, want ...string) string {
	t.Helper()
	var e signaling.Error
	if json.Unmarshal(body, &e) != nil || e.Code != code || e.Name != code.Name() || status == http.StatusOK {
		t.Fatalf("got %d %s, want error %d", status, body, code)
	}
	for _, w := range want {
		if !strings.Contains(e.Message, w) {
			t.Fatalf("error %q does not say %q", e.Message, w)
		}
	}
	return e.Message
}

// Tones of the media tests: a peak amplitude, and what counts as heard and
// as silent (Goertzel amplitude at the tone's frequency, full scale 1).
const (
	toneAmp    = 0.25 // -15 dBov RMS
	toneLevel  = 15   // its RFC 6464 level
	heardAbove = 0.08
	quietBelow = 0.01 // 28 dB under the tone
)

// peer is a test's room participant: a WebSocket client and a real Pion
// peer connection laid out as signaling.RoomSlots says, which sends a tone
// as Opus RTP with the audio level extension and decodes every slot it
// receives.
type peer struct {
	t      testing.TB
	c      *client
	tone   float64
	pc     *webrtc.PeerConnection
	mic    *webrtc.TrackLocalStaticRTP
	cancel context.CancelFunc
	sent   chan struct{} // closed when the sender stops

	mu      sync.Mutex
	slots   map[string]*slotRecording // by track id
	more    chan struct{}             // audio arrived
	state   webrtc.PeerConnectionState
	speaker []string // the last speaking event's slots

	pending []signaling.Message // read by drain, for event
}

// slotRecording is what a peer received on one slot.
type slotRecording struct {
	samples []int16
	seqs    []uint16
	tss     []uint32
	mark    int // analysis looks at samples from here
}

// newPeer makes the peer connection of a participant and its offer.
func newPeer(t testing.TB, c *client, tone float64) (*peer, string) {
	t.Helper()
	return newPeerConf(t, c, tone, webrtc.Configuration{})
}

// newPeerConf is newPeer with the peer connection's configuration (its
// ICE servers and transport policy).
func newPeerConf(t testing.TB, c *client, tone float64, conf webrtc.Configuration) (*peer, string) {
	t.Helper()
	return newPeerTuned(t, c, tone, conf, nil)
}

// newPeerTuned is newPeerConf with tune, when not nil, changing the
// setting engine last (its network types, as a real client's).
func newPeerTuned(t testing.TB, c *client, tone float64, conf webrtc.Configuration,
	tune func(*webrtc.SettingEngine)) (*peer, string) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: roomOpus, PayloadType: 111},
		webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: signaling.RoomAudioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if tune != nil {
		tune(&se)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, c: c, tone: tone, pc: pc, slots: map[string]*slotRecording{}, more: make(chan struct{}, 1),
		sent: make(chan struct{})}
	t.Cleanup(func() {
		if p.cancel != nil {
			p.cancel()
			<-p.sent
		}
		_ = pc.Close()
	})
	p.mic, err = webrtc.NewTrackLocalStaticRTP(roomOpus, "mic", c.user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(p.mic,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	for range signaling.RoomSlots {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go p.receive(tr) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.mu.Lock()
		p.state = st
		p.mu.Unlock()
		p.signal()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return p, pc.LocalDescription().SDP
}

func (p *peer) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// joinRoom joins c to room with a peer sending tone; it returns once the
// server's answer is applied.
func joinRoom(t testing.TB, c *client, room string, tone float64, listenOnly bool) *peer {
	t.Helper()
	p, offer := newPeer(t, c, tone)
	return join(t, p, offer, room, listenOnly)
}

// join joins the client of p to room with offer, p's; it returns once the
// server's answer is applied.
func join(t testing.TB, p *peer, offer, room string, listenOnly bool) *peer {
	t.Helper()
	c := p.c
	c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "join-" + c.user, Room: room, SDP: offer,
		ListenOnly: listenOnly})
	m := p.event(func(m signaling.Message) bool { return m.RoomEvent.Kind == signaling.RoomJoined })
	e := m.RoomEvent
	if m.Ref != "join-"+c.user || m.SDP == "" || e.Room != room || e.User != c.user ||
		!slices.ContainsFunc(e.Participants, func(x signaling.Participant) bool { return x.User == c.user }) {
		t.Fatalf("%s: joined: %s", c.user, js(m))
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer,
		SDP: m.SDP}); err != nil {
		t.Fatalf("%s: answer: %v", c.user, err)
	}
	if p.tone > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		go p.send(ctx, levelExtID(m.SDP, 0))
	} else {
		close(p.sent)
	}
	return p
}

// event returns the next room event that matches want, skipping others
// (and noting the speaking ones); an error fails the test.
func (p *peer) event(want func(signaling.Message) bool) signaling.Message {
	p.t.Helper()
	for {
		var m signaling.Message
		if len(p.pending) > 0 {
			m, p.pending = p.pending[0], p.pending[1:]
		} else {
			m = p.c.next()
			p.note(m)
		}
		if m.Type == signaling.TypeError {
			p.t.Fatalf("%s: got %s", p.c.name, js(m))
		}
		if m.Type == signaling.TypeRoomEvent && m.RoomEvent != nil && want(m) {
			return m
		}
	}
}

// note notes a speaking event.
func (p *peer) note(m signaling.Message) {
	if m.Type == signaling.TypeRoomEvent && m.RoomEvent != nil && m.RoomEvent.Kind == signaling.RoomSpeaking {
		p.mu.Lock()
		p.speaker = m.RoomEvent.Slots
		p.mu.Unlock()
	}
}

// kind matches room events of kind k.
func kind(k signaling.RoomEventKind) func(signaling.Message) bool {
	return func(m signaling.Message) bool { return m.RoomEvent.Kind == k }
}

// send sends the tone as 20 ms Opus packets, each with its level, in real
// time until ctx ends.
func (p *peer) send(ctx context.Context, extID uint8) {
	defer close(p.sent)
	enc, err := opus.NewEncoder(48000, 1, opus.AppVoIP)
	if err != nil {
		p.t.Error(err)
		return
	}
	const frame = 960
	pcm := make([]int16, frame)
	buf := make([]byte, 1500)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// Each peer's numbers start elsewhere, as real ones do.
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(p.tone * 7),
		Timestamp: uint32(p.tone * 1000)}}
	for n := 0; ; n++ {
		for i := range pcm {
			x := float64(n*frame+i) / 48000
			pcm[i] = int16(math.Round(toneAmp * 32767 * math.Sin(2*math.Pi*p.tone*x)))
		}
		size, err := enc.Encode(pcm, buf)
		if err != nil {
			p.t.Error(err)
			return
		}
		pkt.Payload = buf[:size]
		pkt.Extension, pkt.Extensions = false, nil
		if extID != 0 {
			_ = pkt.SetExtension(extID, []byte{0x80 | toneLevel})
		}
		_ = p.mic.WriteRTP(pkt)
		pkt.SequenceNumber++
		pkt.Timestamp += frame
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// receive decodes a slot's stream until it ends.
func (p *peer) receive(tr *webrtc.TrackRemote) {
	dec, err := opus.NewDecoder(48000, 1)
	if err != nil {
		p.t.Error(err)
		return
	}
	pcm := make([]int16, 5760)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		n, err := dec.Decode(pkt.Payload, pcm)
		if err != nil {
			continue
		}
		p.mu.Lock()
		r := p.slots[tr.ID()]
		if r == nil {
			r = &slotRecording{}
			p.slots[tr.ID()] = r
		}
		r.samples = append(r.samples, pcm[:n]...)
		r.seqs = append(r.seqs, pkt.SequenceNumber)
		r.tss = append(r.tss, pkt.Timestamp)
		p.mu.Unlock()
		p.signal()
	}
}

// waitState waits for the peer connection to reach one of states.
func (p *peer) waitState(states ...webrtc.PeerConnectionState) {
	p.t.Helper()
	deadline := time.After(patience)
	for {
		p.mu.Lock()
		st := p.state
		p.mu.Unlock()
		if slices.Contains(states, st) {
			return
		}
		select {
		case <-p.more:
		case <-deadline:
			p.t.Fatalf("%s: peer connection %s, want %v", p.c.name, st, states)
		}
	}
}

// mark starts a new window of analysis.
func (p *peer) mark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.slots {
		r.mark = len(r.samples)
	}
}

// levels measures tones in what came since the mark: per tone, the
// largest amplitude in any slot over the last half second (recent) and
// over all of it (all); and how many samples the slot with the most had.
func (p *peer) levels(tones []float64) (recent, all map[float64]float64, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	recent, all = map[float64]float64{}, map[float64]float64{}
	for _, r := range p.slots {
		s := r.samples[r.mark:]
		n = max(n, len(s))
		last := s[max(0, len(s)-audiotest.SampleRate/2):]
		for _, f := range tones {
			if len(last) >= audiotest.SampleRate/2 {
				recent[f] = max(recent[f], audiotest.Goertzel(last, f))
			}
			all[f] = max(all[f], audiotest.Goertzel(s, f))
		}
	}
	return recent, all, n
}

// hears waits until the peer has heard, over the last half second since
// the mark, exactly the tones of want among tones (each above heardAbove,
// the others below quietBelow); never is the tones that must be below
// quietBelow in everything since the mark.
func (p *peer) hears(tones, want, never []float64) {
	p.t.Helper()
	p.hearsWhat(tones, func() []float64 { return want }, never)
}

func (p *peer) hearsWhat(tones []float64, wanted func() []float64, never []float64) []float64 {
	p.t.Helper()
	deadline := time.After(patience)
	for {
		want := wanted()
		recent, all, n := p.levels(tones)
		ok := n >= audiotest.SampleRate/2 && want != nil
		for _, f := range tones {
			if slices.Contains(want, f) {
				ok = ok && recent[f] > heardAbove
			} else {
				ok = ok && recent[f] < quietBelow
			}
		}
		for _, f := range never {
			if all[f] >= quietBelow {
				p.t.Fatalf("%s heard %.0f Hz at %.3f (want under %.2f)", p.c.name, f, all[f], quietBelow)
			}
		}
		if ok {
			p.t.Logf("%s hears %v: %s", p.c.name, want, fmtLevels(recent))
			return want
		}
		select {
		case <-p.more:
		case <-deadline:
			p.t.Fatalf("%s: want to hear %v (above %.2f) and no other of %v (under %.2f); heard %s over %d samples; "+
				"speaking %q; slots: %s", p.c.name, want, heardAbove, tones, quietBelow, fmtLevels(recent), n,
				p.speakers(), p.slotReport(tones))
		}
	}
}

func fmtLevels(m map[float64]float64) string {
	keys := make([]float64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%.0f Hz %.3f ", k, m[k])
	}
	return b.String()
}

func (p *peer) speakers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.speaker
}

// slotReport tells what each slot received since the mark.
func (p *peer) slotReport(tones []float64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for id, r := range p.slots {
		s := r.samples[r.mark:]
		last := s[max(0, len(s)-audiotest.SampleRate/2):]
		fmt.Fprintf(&b, "%s: %d samples, %d packets in all, last half second:", id, len(s), len(r.seqs))
		for _, f := range tones {
			fmt.Fprintf(&b, " %.0f Hz %.3f", f, audiotest.Goertzel(last, f))
		}
		b.WriteString("; ")
	}
	return b.String()
}
