package call

import (
	"fmt"
	"log/slog"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/internal/pionlog"
	"github.com/parley-voice/parley/signaling"
)

// opusCodec is the only codec parley offers: Opus at 48 kHz with in-band
// FEC, as browsers announce it (two channels in SDP; we send mono).
var opusCodec = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

const opusPayloadType = 111

// newAPI builds the Pion API explicitly: Opus only, RTCP reports and stats
// interceptors, loopback candidates allowed (calls between two terminals on
// one machine), no mDNS, and Pion's logs sent to log; relayOnly is
// Config.RelayOnly.
func newAPI(log *slog.Logger, nw transport.Net, relayOnly bool) (*webrtc.API, error) {
	return buildAPI(log, nw, false, relayOnly)
}

// newRoomAPI is newAPI for rooms: the same, and the RFC 6464 audio level
// header extension (signaling.RoomAudioLevelURI) offered on what is sent.
func newRoomAPI(log *slog.Logger, nw transport.Net, relayOnly bool) (*webrtc.API, error) {
	return buildAPI(log, nw, true, relayOnly)
}

func buildAPI(log *slog.Logger, nw transport.Net, level, relayOnly bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: opusCodec, PayloadType: opusPayloadType,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("call: register opus: %w", err)
	}
	if level {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: signaling.RoomAudioLevelURI},
			webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionSendonly); err != nil {
			return nil, fmt.Errorf("call: register the audio level extension: %w", err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("call: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureStatsInterceptor(ir); err != nil {
		return nil, fmt.Errorf("call: stats: %w", err)
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionlog.Factory{Log: log}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// The phone's goroutine alone closes a call's peer connection, when the
	// server says the call ended; left to itself, Pion closes it from its
	// own goroutine when the other side's DTLS ends, racing GetStats. A
	// peer that went away without the server knowing (a hang-up while the
	// server is down) is noticed as media stopping, like an outage.
	se.DisableCloseByDTLS(true)
	if level {
		roomICE(&se) // roomrejoin.go
	}
	if level && relayOnly {
		// Pion waits 2 s before it picks a relay's pair, for a better one
		// to turn up (its own default for relay only, no wait, is lost on
		// the way from webrtc to ice); with relays alone there is none,
		// and a room's ICE gives up after 2 s (roomICE): a relay-only
		// client never got into a room. A room's media take UDP relays
		// alone (the server's TURN relays no TCP to them). A call keeps
		// the wait: without it a TCP relay's pair, checked first, could
		// win over the UDP relay's (TestRelay/relay_only).
		se.SetRelayAcceptanceMinWait(0)
	}
	if nw != nil {
		se.SetNet(nw)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api, nil
}
