package call

import "github.com/parley-voice/parley/signaling"

// Admit lets guest, who waits in the lobby of the phone's room, in: the
// room_event admitted follows, then their participant_joined. Guests wait
// there until the host or a member lets them in (lobby_knock tells of
// them); a listener or a guest cannot (RoomFailure, 80802).
func (p *Phone) Admit(guest string) {
	p.post(func() { p.roomAction(signaling.Message{Type: signaling.TypeRoomAdmit, Target: guest}) })
}

// TurnAway turns guest, who waits in the lobby of the phone's room, away:
// they are told, and their link no longer works (room_event turned_away).
func (p *Phone) TurnAway(guest string) {
	p.post(func() { p.roomAction(signaling.Message{Type: signaling.TypeRoomDeny, Target: guest}) })
}
