// Package roomtest plays the server's side of a room for client tests,
// until the server has rooms: a signaling endpoint that signs one user in
// and hands their messages to the test (Signaling), and a real Pion peer
// that answers a participant's offer as the room's node will (Node):
// receive-only for the microphone, recording the RFC 6464 level of each
// packet, and a track on each receive slot ("slot0".., stream "room")
// that sends a tone in Opus it packetizes itself, as the forwarding does.
package roomtest

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// Signaling is the signaling end: it welcomes every client that connects
// as the one user, passes every message they send to Msgs, and sends them
// what is put on Out.
type Signaling struct {
	t    testing.TB
	srv  *httptest.Server
	URL  string
	Msgs chan signaling.Message
	Out  chan signaling.Message
	drop chan struct{} // Drop
}

// NewSignaling listens on 127.0.0.1 (a free port) until the test ends.
func NewSignaling(t testing.TB, user string) *Signaling {
	s := &Signaling{t: t, Msgs: make(chan signaling.Message, 64), Out: make(chan signaling.Message, 64),
		drop: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve(user)))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Signaling) serve(user string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil { // connect
			return
		}
		b, _ := signaling.Encode(signaling.Message{Type: signaling.TypeWelcome, User: user, Session: "s1"})
		if c.Write(ctx, websocket.MessageText, b) != nil {
			return
		}
		go func() {
			select {
			case <-s.drop:
				_ = c.CloseNow()
			case <-ctx.Done():
			}
		}()
		go func() {
			for {
				select {
				case m := <-s.Out:
					b, _ := signaling.Encode(m)
					if c.Write(ctx, websocket.MessageText, b) != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			m, err := signaling.DecodeClient(b)
			if err != nil {
				s.t.Errorf("the client sent %s: %v", b, err)
				continue
			}
			s.Msgs <- m
		}
	}
}

// Expect returns the next message from the client but pings, which must
// be of type typ.
func (s *Signaling) Expect(typ signaling.Type) signaling.Message {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-s.Msgs:
			if m.Type == signaling.TypePing {
				continue
			}
			if m.Type != typ {
				s.t.Fatalf("the client sent %+v, want %s", m, typ)
			}
			return m
		case <-timeout:
			s.t.Fatalf("the client sent no %s within 10 s", typ)
		}
	}
}

// Event sends a room_event (with sdp: the joined event's answer), at the
// time now.
func (s *Signaling) Event(ev signaling.RoomEvent, sdp string) {
	ev.Time = time.Now()
	s.Out <- signaling.Message{Type: signaling.TypeRoomEvent, RoomEvent: &ev, SDP: sdp}
}

// Drop closes the client's connection, as a server that went away; the
// next one is welcomed again.
func (s *Signaling) Drop() { s.drop <- struct{}{} }

// Refuse answers the client's message ref with err.
func (s *Signaling) Refuse(ref string, err *signaling.Error) {
	s.Out <- signaling.Message{Type: signaling.TypeError, Ref: ref, Error: err}
}

// SlotAmp is the peak amplitude of each slot's tone: three of them sum to
// 0.6 of full scale, unclipped.
const SlotAmp = 0.2

// Node is the room's node for one participant.
type Node struct {
	t    testing.TB
	pc   *webrtc.PeerConnection
	quit chan struct{}
	wg   sync.WaitGroup
	// Got has a value after each packet received from the participant.
	Got chan struct{}

	mu     sync.Mutex
	levels []byte // the level extension's byte of every packet received: V bit and -dBov
	noExt  int    // packets without it

	hz [signaling.RoomSlots]atomic.Int64
}

// NewNode answers offer, and once connected plays the tone hz[i] on slot
// i; it returns the answer, with every candidate in it. It stops when the
// test ends.
func NewNode(t testing.TB, offer string, hz [signaling.RoomSlots]int64) (*Node, string) {
	t.Helper()
	me := &webrtc.MediaEngine{}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1"}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: codec, PayloadType: 111},
		webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: signaling.RoomAudioLevelURI},
		webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(
		webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{t: t, pc: pc, quit: make(chan struct{}), Got: make(chan struct{}, 1)}
	t.Cleanup(n.close)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	var tracks [signaling.RoomSlots]*webrtc.TrackLocalStaticRTP
	for i := range tracks {
		n.hz[i].Store(hz[i])
		tracks[i], err = webrtc.NewTrackLocalStaticRTP(codec, "slot"+strconv.Itoa(i), "room")
		if err == nil {
			_, err = pc.AddTransceiverFromTrack(tracks[i],
				webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		var id uint8
		for _, h := range rcv.GetParameters().HeaderExtensions {
			if h.URI == signaling.RoomAudioLevelURI {
				id = uint8(h.ID)
			}
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.receive(tr, id)
		}()
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil {
		t.Fatal(err)
	}
	<-webrtc.GatheringCompletePromise(pc)
	for i, tr := range tracks {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.play(i, tr)
		}()
	}
	return n, pc.LocalDescription().SDP
}

func (n *Node) receive(tr *webrtc.TrackRemote, id uint8) {
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		n.mu.Lock()
		if b := p.GetExtension(id); id != 0 && len(b) == 1 {
			n.levels = append(n.levels, b[0])
		} else {
			n.noExt++
		}
		n.mu.Unlock()
		select {
		case n.Got <- struct{}{}:
		default:
		}
	}
}

// Received returns the level byte of every packet received so far (the V
// bit and -dBov), and how many came without one.
func (n *Node) Received() (levels []byte, noExt int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]byte(nil), n.levels...), n.noExt
}

// SetTone changes slot's tone: another speaker, with an encoder of their
// own, on the same stream.
func (n *Node) SetTone(slot int, hz int64) { n.hz[slot].Store(hz) }

// play sends slot's tone, one 20 ms Opus frame per packet on the clock;
// when the tone changes, a new encoder takes over and the sequence numbers
// and timestamps go on, as the forwarding rewrites them.
func (n *Node) play(slot int, tr *webrtc.TrackLocalStaticRTP) {
	const frame = audio.FrameSamples
	var enc *audio.Encoder
	var hz int64
	pcm := make([]int16, frame)
	buf := make([]byte, audio.MaxPacketSize)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(1000 * slot),
		Timestamp: uint32(7919 * slot)}}
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	pos := 0
	for {
		select {
		case <-n.quit:
			return
		case <-tick.C:
		}
		if h := n.hz[slot].Load(); h != hz || enc == nil {
			var err error
			if enc, err = audio.NewEncoder(frame); err != nil {
				n.t.Error(err)
				return
			}
			hz, pos = h, 0
		}
		for i := range pcm {
			pcm[i] = Sine(float64(hz), SlotAmp, pos)
			pos++
		}
		m, err := enc.Encode(pcm, buf)
		if err != nil {
			n.t.Error(err)
			return
		}
		pkt.Payload = buf[:m]
		_ = tr.WriteRTP(&pkt)
		pkt.SequenceNumber++
		pkt.Timestamp += uint32(frame)
	}
}

// Sine is sample i of a sine at hz with peak amplitude amp (0..1).
func Sine(hz, amp float64, i int) int16 {
	return int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/audio.SampleRate)))
}

func (n *Node) close() {
	select {
	case <-n.quit:
		return
	default:
	}
	close(n.quit)
	_ = n.pc.Close()
	n.wg.Wait()
}

// Kill stops the node at once, as a node that died: it answers and sends
// nothing more (the participant's ICE fails).
func (n *Node) Kill() { n.close() }
