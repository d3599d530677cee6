package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
)

// refusal returns the next error the peer's client gets, skipping room
// events (noted as event notes them); it fails unless it has code, ref
// and a message that says each of want.
func (p *peer) refusal(code signaling.Code, ref string, want ...string) {
	p.t.Helper()
	for {
		m := p.c.next()
		p.note(m)
		if m.Type == signaling.TypeRoomEvent {
			p.pending = append(p.pending, m)
			continue
		}
		if m.Type != signaling.TypeError || m.Error == nil || m.Error.Code != code || m.Ref != ref {
			p.t.Fatalf("%s: got %s, want error %d ref %q", p.c.name, js(m), code, ref)
		}
		for _, w := range want {
			if !strings.Contains(m.Error.Message, w) {
				p.t.Fatalf("%s: error %q does not say %q", p.c.name, m.Error.Message, w)
			}
		}
		return
	}
}

// knocks joins a room's guest link from a browser of its own, connects
// the guest and has them join the room with a peer sending tone: they
// wait in the lobby. It returns the peer, the guest's id and their
// browser.
func (s *testServer) knocks(t *testing.T, l signaling.Link, tone float64) (*peer, string, *http.Client) {
	t.Helper()
	hc := browser(t)
	j, e := s.join(t, hc, l)
	if e != nil || j.Room != l.Room || j.Host != l.Host || j.GuestName != l.GuestName {
		t.Fatalf("join %s: %s %v", l.GuestName, js(j), e)
	}
	g := s.guest(t, j)
	g.name = l.GuestName
	p, offer := newPeer(t, g, tone)
	g.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "knock", Room: l.Room, SDP: offer})
	m := p.event(func(signaling.Message) bool { return true })
	if e := m.RoomEvent; e.Kind != signaling.RoomLobby || m.Ref != "knock" || m.SDP != "" || e.User != j.Guest ||
		e.Role != signaling.RoleGuest || len(e.Participants) != 0 {
		t.Fatalf("%s: want to wait in the lobby with no answer and no one named; got %s", l.GuestName, js(m))
	}
	return p, j.Guest, hc
}

// knocked waits for each peer to be told of the guest's knock.
func knocked(t *testing.T, guest, name string, peers ...*peer) {
	t.Helper()
	for _, p := range peers {
		e := p.event(kind(signaling.RoomKnock)).RoomEvent
		if e.User != guest || e.Name != name || e.Role != signaling.RoleGuest {
			t.Fatalf("%s: knock %s, want %s (%s)", p.c.name, js(e), guest, name)
		}
	}
}

// TestRoomLobby: a room made with guests has a link for each; a guest's
// browser joins the room and waits in the lobby with no answer to its
// offer (no media) while the host and members are told of the knock, a
// member who joins later too; let in, the guest's offer is answered and
// the media connects; a guest acts as no host or member (80802); turned
// away, the guest is told and the link is spent. TestRoomLobbyMedia
// (e2e) is the same with tones.
func TestRoomLobby(t *testing.T) { lobbyScenario(t, false) }

// lobbyScenario is TestRoomLobby; with media, everyone sends a tone: the
// host and the member do not hear the guest who waits, nor the guest
// turned away, and hear the guest let in, who hears them.
func lobbyScenario(t *testing.T, media bool) {
	s := startServer(t)
	r := s.createRoom(t, "alice", signaling.RoomRequest{Name: "clinic", Guests: []string{"Dana", "Eve"}})
	if len(r.Links) != 2 || r.Links[0].GuestName != "Dana" || r.Links[1].GuestName != "Eve" {
		t.Fatalf("links %s, want Dana's and Eve's", js(r.Links))
	}
	for _, l := range r.Links {
		if l.Room != "clinic" || l.Host != "alice" || !strings.Contains(l.URL, "/join/"+l.Code) || l.Expires.IsZero() {
			t.Fatalf("link %s", js(l))
		}
	}
	st, b := s.roomHTTP(t, http.MethodPost, signaling.PathRooms, s.token(t, "bob"),
		signaling.RoomRequest{Name: "other", Guests: []string{"Dana"}, GuestTTL: "ever"})
	apiError(t, st, b, signaling.InvalidParameter, "guest_ttl", "2h")
	if st, body := page(t, browser(t), r.Links[0].URL); st != http.StatusOK || !strings.Contains(body, "clinic") {
		t.Fatalf("page: %d %s", st, body)
	}

	const aliceTone, bobTone, danaTone, eveTone = 440, 660, 880, 1100
	tones := []float64{aliceTone, bobTone, danaTone, eveTone}
	tone := func(hz float64) float64 {
		if media {
			return hz
		}
		return 0
	}
	alice := joinRoom(t, s.connect(t, "alice", ""), "clinic", tone(aliceTone), false)
	bob := joinRoom(t, s.connect(t, "bob", ""), "clinic", tone(bobTone), false)
	alice.event(kind(signaling.ParticipantJoined))

	dana, danaID, danaBrowser := s.knocks(t, r.Links[0], tone(danaTone))
	knocked(t, danaID, "Dana", alice, bob)
	carol := joinRoom(t, s.connect(t, "carol", ""), "clinic", 0, true)
	for _, p := range []*peer{alice, bob} {
		p.event(kind(signaling.ParticipantJoined))
	}

	// Waiting, a guest acts on nothing, joins no other room and calls no one.
	yes := true
	for _, m := range []signaling.Message{
		{Type: signaling.TypeRoomMute, Room: "clinic", Muted: &yes, Ref: "mute"},
		{Type: signaling.TypeRoomAdmit, Room: "clinic", Target: danaID, Ref: "admit"},
	} {
		dana.c.send(m)
		dana.refusal(signaling.PermissionDenied, m.Ref, "lobby")
	}
	dana.c.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "standup", Ref: "other"})
	dana.refusal(signaling.PermissionDenied, "other", "room clinic only")
	dana.c.send(signaling.Message{Type: signaling.TypeDial, Ref: "dial", To: "alice", SDP: "v=0"})
	dana.refusal(signaling.PermissionDenied, "dial", "room clinic")
	// A listener lets no one in.
	carol.c.send(signaling.Message{Type: signaling.TypeRoomAdmit, Room: "clinic", Target: danaID, Ref: "let"})
	carol.refusal(signaling.PermissionDenied, "let", "only the host or a member")
	// The host and the member hear each other, and not the guest who waits.
	if media {
		for _, p := range []*peer{alice, bob} {
			p.mark()
		}
		alice.hears(tones, []float64{bobTone}, []float64{danaTone})
		bob.hears(tones, []float64{aliceTone}, []float64{danaTone})
	}
	if st := dana.pc.ConnectionState(); st != webrtc.PeerConnectionStateNew {
		t.Fatalf("the waiting guest's peer connection is %s, want new (no answer, no media)", st)
	}

	// Bob lets Dana in.
	bob.c.send(signaling.Message{Type: signaling.TypeRoomAdmit, Room: "clinic", Target: danaID, Ref: "in"})
	for _, p := range []*peer{alice, bob, carol} {
		if e := p.event(kind(signaling.RoomAdmitted)).RoomEvent; e.User != danaID || e.By != "bob" || e.Name != "Dana" {
			t.Fatalf("%s: admitted %s", p.c.name, js(e))
		}
		e := p.event(kind(signaling.ParticipantJoined)).RoomEvent
		if e.User != danaID || e.Role != signaling.RoleGuest {
			t.Fatalf("%s: joined %s", p.c.name, js(e))
		}
		p.mark()
	}
	if e := dana.event(kind(signaling.RoomAdmitted)).RoomEvent; e.User != danaID || e.By != "bob" {
		t.Fatalf("dana: admitted %s", js(e))
	}
	m := dana.event(kind(signaling.RoomJoined))
	if e := m.RoomEvent; m.SDP == "" || m.Ref != "knock" || e.Role != signaling.RoleGuest || len(e.Participants) != 4 {
		t.Fatalf("dana: joined %s", js(m))
	}
	if err := dana.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer,
		SDP: m.SDP}); err != nil {
		t.Fatal(err)
	}
	if media {
		ctx, cancel := context.WithCancel(context.Background())
		dana.cancel = cancel
		go dana.send(ctx, levelExtID(m.SDP, 0))
		alice.hears(tones, []float64{bobTone, danaTone}, nil)
		bob.hears(tones, []float64{aliceTone, danaTone}, nil)
		dana.hears(tones, []float64{aliceTone, bobTone}, nil)
	} else {
		dana.waitState(webrtc.PeerConnectionStateConnected)
	}

	// In the room, a guest is no host and no member.
	for _, m := range []signaling.Message{
		{Type: signaling.TypeRoomMute, Room: "clinic", Target: "alice", Muted: &yes, Ref: "mute"},
		{Type: signaling.TypeRoomRemove, Room: "clinic", Target: "bob", Ref: "remove"},
		{Type: signaling.TypeRoomLock, Room: "clinic", Locked: &yes, Ref: "lock"},
		{Type: signaling.TypeRoomEnd, Room: "clinic", Ref: "end"},
		{Type: signaling.TypeRoomAdmit, Room: "clinic", Target: "guest-x", Ref: "admit"},
		{Type: signaling.TypeRoomDeny, Room: "clinic", Target: "guest-x", Ref: "deny"},
	} {
		dana.c.send(m)
		dana.refusal(signaling.PermissionDenied, m.Ref)
	}
	if !media {
		// Dana reloads her page: let in already, she joins at once from the
		// new one, whose media replaces the old.
		j, e := s.join(t, danaBrowser, r.Links[0])
		if e != nil {
			t.Fatalf("dana joins again: %v", e)
		}
		again, offer := newPeer(t, s.guest(t, j), 0)
		again.c.name = "Dana"
		again.c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "reload", Room: "clinic", SDP: offer})
		m := again.event(func(signaling.Message) bool { return true })
		if e := m.RoomEvent; e.Kind != signaling.RoomJoined || m.SDP == "" || e.Role != signaling.RoleGuest {
			t.Fatalf("dana, reloaded: %s, want joined at once", js(m))
		}
		if e := alice.event(kind(signaling.ParticipantJoined)).RoomEvent; e.User != danaID {
			t.Fatalf("alice: joined %s", js(e))
		}
		dana.waitState(webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed,
			webrtc.PeerConnectionStateDisconnected)
		dana = again
	}

	// Eve knocks, reloads her page (a new session knocks in place of the
	// first: no second knock), leaves the lobby, knocks again, and alice
	// turns her away.
	first, _, eveBrowser := s.knocks(t, r.Links[1], 0)
	j, e := s.join(t, eveBrowser, r.Links[1])
	if e != nil {
		t.Fatalf("eve joins again: %v", e)
	}
	eve, offer := newPeer(t, s.guest(t, j), tone(eveTone))
	eve.c.name = "Eve"
	eveID := j.Guest
	eve.c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "reload", Room: "clinic", SDP: offer})
	eve.event(kind(signaling.RoomLobby))
	knocked(t, eveID, "Eve", alice, bob)
	_ = first.c.ws.CloseNow()
	eve.c.send(signaling.Message{Type: signaling.TypeRoomLeave, Room: "clinic"})
	for _, p := range []*peer{alice, bob} {
		e := p.event(func(m signaling.Message) bool {
			return m.RoomEvent.Kind == signaling.ParticipantLeft || m.RoomEvent.Kind == signaling.RoomKnock
		}).RoomEvent
		if e.Kind != signaling.ParticipantLeft || e.User != eveID || e.Reason != signaling.LeftLeft {
			t.Fatalf("%s: %s, want eve's participant_left (and no second knock)", p.c.name, js(e))
		}
	}
	eve.c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "again", Room: "clinic",
		SDP: eve.pc.LocalDescription().SDP})
	eve.event(kind(signaling.RoomLobby))
	knocked(t, eveID, "Eve", alice, bob)
	bob.c.send(signaling.Message{Type: signaling.TypeRoomAdmit, Room: "clinic", Target: "guest-nobody", Ref: "who"})
	bob.refusal(signaling.NotFoundUserSessionID, "who", "waits in the lobby")
	alice.c.send(signaling.Message{Type: signaling.TypeRoomDeny, Room: "clinic", Target: eveID})
	if e := eve.event(kind(signaling.RoomTurnedAway)).RoomEvent; e.User != eveID || e.By != "alice" {
		t.Fatalf("eve: turned away %s", js(e))
	}
	for _, p := range []*peer{alice, bob} {
		if e := p.event(kind(signaling.RoomTurnedAway)).RoomEvent; e.User != eveID || e.By != "alice" {
			t.Fatalf("%s: turned away %s", p.c.name, js(e))
		}
	}
	// The link is spent: joined again it says so, and so does its page.
	eve.c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "spent", Room: "clinic",
		SDP: eve.pc.LocalDescription().SDP})
	eve.refusal(signaling.InvalidToken, "spent", "not let in")
	if _, e := s.join(t, eveBrowser, r.Links[1]); e == nil || e.Code != signaling.InvalidToken ||
		!strings.Contains(e.Message, "not let in") {
		t.Fatalf("join of a spent link: %v, want refused", e)
	}
	if st, body := page(t, eveBrowser, r.Links[1].URL); st != http.StatusGone ||
		!strings.Contains(body, "You were not let in") {
		t.Fatalf("page of a spent link: %d %s", st, body)
	}

	// The room ends: a guest's join is told so, in words for a guest.
	alice.c.send(signaling.Message{Type: signaling.TypeRoomEnd, Room: "clinic"})
	dana.event(kind(signaling.RoomEnded))
	dana.c.send(signaling.Message{Type: signaling.TypeRoomJoin, Ref: "after", Room: "clinic",
		SDP: dana.pc.LocalDescription().SDP})
	dana.refusal(signaling.NotFoundUserSessionID, "after", "room clinic has ended", "ask alice for a new link")
	if !media {
		return
	}
	// Nobody heard Eve.
	for _, p := range []*peer{alice, bob, dana} {
		if _, all, n := p.levels(tones); all[eveTone] >= quietBelow || n < audiotest.SampleRate/2 {
			t.Fatalf("%s: %.0f Hz at %.3f over %d samples since dana came in, want under %.2f", p.c.name,
				float64(eveTone), all[eveTone], n, quietBelow)
		}
	}
}
