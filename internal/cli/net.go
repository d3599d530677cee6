package cli

import (
	"github.com/spf13/pflag"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/signaling"
)

// iceFlags are the media path's extra ICE servers and the relay-only mode,
// on every command that makes calls. The server's own STUN and TURN servers
// come with each sign-in; these are added to them (any standard server,
// coturn included).
type iceFlags struct {
	servers            []string
	username, password string
	relayOnly          bool
}

func (f *iceFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.servers, "ice-server", nil, "an extra STUN or TURN server, e.g. "+
		"'turn:HOST:PORT?transport=udp' (repeatable; also ice_servers in the config)")
	fs.StringVar(&f.username, "ice-username", "", "username for the --ice-server TURN servers")
	fs.StringVar(&f.password, "ice-password", "", "password for the --ice-server TURN servers")
	fs.BoolVar(&f.relayOnly, "relay-only", false, "send media only through a TURN relay, which also hides "+
		"your address from the other side (also relay_only in the config)")
}

// apply puts the flags and the config's ICE settings into c. A malformed
// server URL is refused with 80101; the servers before it are kept.
func (f iceFlags) apply(c *call.Config, cfg config.Config) error {
	servers := cfg.ICEServers
	for _, u := range f.servers {
		servers = append(servers, signaling.ICEServer{URLs: []string{u}, Username: f.username, Credential: f.password})
	}
	for _, s := range servers {
		for _, u := range s.URLs {
			if err := call.CheckICEURL(u); err != nil {
				return signaling.Errorf(signaling.InvalidParameter,
					"ICE server %q: %v; write it like turn:HOST:PORT?transport=udp or stun:HOST:PORT", u, err)
			}
		}
		c.ICEServers = append(c.ICEServers, s)
	}
	c.RelayOnly = f.relayOnly || cfg.RelayOnly
	return nil
}
