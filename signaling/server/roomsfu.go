package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/internal/pionlog"
	"github.com/parley-voice/parley/signaling"
)

// roomOpus is the one codec of a room: Opus at 48 kHz, as parley's
// clients offer it.
var roomOpus = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

// ICE timeouts of a room's peer connections: a participant whose media
// stops for roomICEFailed is gone ("disconnected").
const (
	roomICEDisconnected = 3 * time.Second
	roomICEFailed       = 10 * time.Second
	roomICEKeepalive    = time.Second
)

// newRoomAPI builds the Pion API of a room's peer connections: Opus with
// the audio level extension, RTCP reports, host candidates on the node's
// media port (mux: loopback included, for clients on the same machine)
// and, when the server has a public address (Config.TURNPublicIP: a 1:1
// NAT), each also announced at that address; no mDNS.
func newRoomAPI(cfg Config, log *slog.Logger, mux ice.UDPMux) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: roomOpus, PayloadType: 111},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("server: room media: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: signaling.RoomAudioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("server: room media: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("server: room media: %w", err)
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionlog.Factory{Log: log}
	se.SetICEUDPMux(mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(roomICEDisconnected, roomICEFailed, roomICEKeepalive)
	if cfg.TURNPublicIP != "" {
		// Beside the local addresses, for clients on the same network.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: []string{cfg.TURNPublicIP},
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteAppend}); err != nil {
			return nil, fmt.Errorf("server: room media: public address %s: %w", cfg.TURNPublicIP, err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// listenRoomMedia listens on the rooms' media port (Config.RoomPort) on
// each address of the machine, loopback included: the one socket per
// address that every peer connection of every room shares, told apart by
// their ICE credentials.
func listenRoomMedia(cfg Config, log *slog.Logger) (*ice.MultiUDPMuxDefault, error) {
	port, _ := strconv.Atoi(cfg.RoomPort) // checked by Validate
	mux, err := ice.NewMultiUDPMuxFromPort(port, ice.UDPMuxFromPortWithLoopback(),
		ice.UDPMuxFromPortWithLogger(pionlog.Factory{Log: log}.NewLogger("room-media")))
	if err != nil {
		return nil, fmt.Errorf("server: rooms' media: %w", err)
	}
	return mux, nil
}

// mediaAddrs are the addresses the rooms' media take on this node: the
// mux's, and the same ports at the public address (cfg.TURNPublicIP).
func mediaAddrs(cfg Config, mux ice.UDPMux) []netip.AddrPort {
	public, _ := netip.ParseAddr(cfg.TURNPublicIP)
	var out []netip.AddrPort
	for _, a := range mux.GetListenAddresses() {
		u, ok := a.(*net.UDPAddr)
		if !ok {
			continue
		}
		out = append(out, u.AddrPort())
		if pub := netip.AddrPortFrom(public, u.AddrPort().Port()); public.IsValid() && !slices.Contains(out, pub) {
			out = append(out, pub)
		}
	}
	return out
}

// subjectMedia carries the nodes' rooms' media addresses (nodeMedia), so
// that each node's TURN relays reach the rooms of the others (the
// participants of a room use the TURN server of the node they are
// connected to, which need not be the room's).
const subjectMedia = "parley.media"

// nodeMedia is a node's word on subjectMedia: where its rooms' media are;
// Ask asks the other nodes to say theirs (a node that starts).
type nodeMedia struct {
	Node  string           `json:"node"`
	Media []netip.AddrPort `json:"media"`
	Ask   bool             `json:"ask,omitempty"`
}

// shareMedia lets this node's TURN relays reach its own rooms' media and
// those of the other nodes, as they tell them, and tells them this one's.
// It answers on NATS's goroutine: AllowMedia is safe from any.
func (s *Server) shareMedia() error {
	own := mediaAddrs(s.cfg, s.media)
	s.turn.AllowMedia(s.cfg.NodeName, own, true)
	say := func(ask bool) {
		b, _ := json.Marshal(nodeMedia{Node: s.cfg.NodeName, Media: own, Ask: ask})
		if err := s.bus.nc.Publish(subjectMedia, b); err != nil {
			s.log.Warn("could not tell the other nodes where this one's rooms' media are", "err", err)
		}
	}
	_, err := s.bus.nc.Subscribe(subjectMedia, func(m *nats.Msg) {
		var n nodeMedia
		if err := json.Unmarshal(m.Data, &n); err != nil || n.Node == s.cfg.NodeName {
			return
		}
		s.log.Debug("rooms' media of another node", "other", n.Node, "media", n.Media)
		s.turn.AllowMedia(n.Node, n.Media, false)
		if n.Ask {
			say(false)
		}
	})
	if err != nil {
		return fmt.Errorf("server: subscribe %s: %w", subjectMedia, err)
	}
	say(true)
	return nil
}

// roomPeer is a participant's peer connection with the room.
type roomPeer struct {
	pc      *webrtc.PeerConnection
	slots   [signaling.RoomSlots]rtpWriter
	senders []*webrtc.RTPSender
	extID   uint8 // the level extension's id in the answer (what the slots carry), 0 when not negotiated
}

// newRoomPeer answers a participant's offer (one sendonly transceiver, then
// RoomSlots recvonly ones: signaling.RoomSlots) once ICE gathering is
// complete. Its callbacks only post to the room's owner: onTrack, the
// participant's microphone; onState, the connection's state.
func newRoomPeer(ctx context.Context, api *webrtc.API, offer string, onTrack func(*webrtc.TrackRemote,
	*webrtc.RTPReceiver), onState func(webrtc.PeerConnectionState)) (_ *roomPeer, answer string, err error) {
	if e := checkRoomOffer(offer); e != nil {
		return nil, "", e
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("server: room peer connection: %w", err)
	}
	defer func() {
		if err != nil {
			_ = pc.Close()
		}
	}()
	p := &roomPeer{pc: pc}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return nil, "", fmt.Errorf("server: room peer connection: %w", err)
	}
	for i := range p.slots {
		tr, err := webrtc.NewTrackLocalStaticRTP(roomOpus, fmt.Sprintf("slot%d", i), "room")
		if err != nil {
			return nil, "", fmt.Errorf("server: room track: %w", err)
		}
		t, err := pc.AddTransceiverFromTrack(tr,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, "", fmt.Errorf("server: room track: %w", err)
		}
		p.slots[i] = tr
		p.senders = append(p.senders, t.Sender())
	}
	pc.OnTrack(onTrack)
	pc.OnConnectionStateChange(onState)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, "", signaling.Errorf(signaling.InvalidParameter,
			"the offer could not be used: %v; offer one sendonly Opus audio transceiver, then %d recvonly ones",
			err, signaling.RoomSlots)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, "", signaling.Errorf(signaling.InvalidParameter, "could not answer the offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return nil, "", fmt.Errorf("server: room answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, "", fmt.Errorf("server: room ICE gathering: %w", ctx.Err())
	}
	local := pc.LocalDescription()
	p.extID = levelExtID(local.SDP, 1)
	return p, local.SDP, nil
}

// checkRoomOffer checks the layout of a room offer: audio only, at least
// 1 + RoomSlots media sections, the first sendonly (or sendrecv) and the
// next RoomSlots recvonly (or sendrecv).
func checkRoomOffer(offer string) *signaling.Error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return signaling.Errorf(signaling.InvalidParameter, "sdp is not a valid offer: %v", err)
	}
	layout := fmt.Sprintf("offer one sendonly Opus audio transceiver (your microphone), then %d recvonly ones",
		signaling.RoomSlots)
	if len(d.MediaDescriptions) != 1+signaling.RoomSlots {
		return signaling.Errorf(signaling.InvalidParameter, "the offer has %d media sections, not %d: %s",
			len(d.MediaDescriptions), 1+signaling.RoomSlots, layout)
	}
	for i, md := range d.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			return signaling.Errorf(signaling.InvalidParameter, "media section %d is %s, not audio: %s", i,
				md.MediaName.Media, layout)
		}
		want := "recvonly"
		if i == 0 {
			want = "sendonly"
		}
		dir := "sendrecv"
		for _, a := range md.Attributes {
			switch a.Key {
			case "sendonly", "recvonly", "inactive", "sendrecv":
				dir = a.Key
			}
		}
		if dir != want && dir != "sendrecv" {
			return signaling.Errorf(signaling.InvalidParameter, "media section %d is %s, not %s: %s", i, dir, want,
				layout)
		}
	}
	return nil
}

// levelExtID finds the id of the audio level extension in media section i
// of an SDP; 0 when it has none.
func levelExtID(s string, i int) uint8 {
	var d sdp.SessionDescription
	if d.UnmarshalString(s) != nil || i >= len(d.MediaDescriptions) {
		return 0
	}
	for _, a := range d.MediaDescriptions[i].Attributes {
		if a.Key != "extmap" {
			continue
		}
		var id int
		var rest string
		if n, _ := fmt.Sscanf(a.Value, "%d %s", &id, &rest); n == 2 && id > 0 && id < 15 &&
			strings.HasPrefix(rest, signaling.RoomAudioLevelURI) {
			return uint8(id)
		}
	}
	return 0
}

// receiverExtID is the id of the level extension on what a receiver gets.
func receiverExtID(r *webrtc.RTPReceiver) uint8 {
	for _, h := range r.GetParameters().HeaderExtensions {
		if h.URI == signaling.RoomAudioLevelURI && h.ID > 0 && h.ID < 15 {
			return uint8(h.ID)
		}
	}
	return 0
}

// readRTCP reads what the participant reports about its slots, for Pion's
// interceptors, until the peer connection closes: one goroutine per slot.
func (p *roomPeer) readRTCP() {
	for _, sd := range p.senders {
		go func() {
			for {
				if _, _, err := sd.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
}
