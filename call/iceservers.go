package call

import (
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// CheckICEURL reports whether u is a STUN or TURN server URL as the peer
// connection reads it (stun:HOST:PORT, turn:HOST:PORT?transport=udp, ...):
// nil, or what is wrong with it. Config.ICEServers is the protocol's own
// type; this lets a caller refuse a bad URL before Start, without Pion.
func CheckICEURL(u string) error {
	_, err := stun.ParseURI(u)
	return err
}

// pionICEServers converts Config.ICEServers to Pion's type, in a new slice.
func pionICEServers(servers []signaling.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
