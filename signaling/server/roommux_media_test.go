//go:build e2e

package server

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/signaling"
)

// TestRoomRejoinsThroughOnePort: every peer connection of a room shares the
// node's media sockets (one per address: the UDP mux, roomsfu.go), which
// tell them apart by the remote address and, for a new one, the ICE ufrag.
// Alice and Bob, whose peers gather on IPv4 and IPv6 as parley's client
// does (loopback included), each in turn
// close their peer connection and join again with a new one, eight times
// (the server closes the old one while it answers the new): after each,
// both hear the other's tone again, and nothing of their own.
func TestRoomRejoinsThroughOnePort(t *testing.T) {
	s := startServer(t)
	s.createRoom(t, "alice", signaling.RoomRequest{Name: "port"})
	all := func(se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	enter := func(c *client, tone float64) *peer {
		p, offer := newPeerTuned(t, c, tone, webrtc.Configuration{}, all)
		return join(t, p, offer, "port", false)
	}
	tones := []float64{440, 660}
	a := enter(s.connect(t, "alice", ""), 440)
	b := enter(s.connect(t, "bob", ""), 660)
	a.hears(tones, []float64{660}, []float64{440})
	b.hears(tones, []float64{440}, []float64{660})
	for i := range 8 {
		old := &a
		if i%2 == 1 {
			old = &b
		}
		p := *old
		p.cancel()
		<-p.sent
		_ = p.pc.Close()
		*old = enter(p.c, p.tone)
		a.mark()
		b.mark()
		a.hears(tones, []float64{660}, []float64{440})
		b.hears(tones, []float64{440}, []float64{660})
	}
}
