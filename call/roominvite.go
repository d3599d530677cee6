package call

// Invitations to rooms: a room made with invited members rings them at its
// start (docs/PROTOCOL.md, "Invitations"). The phone reports each ring and
// its end as RoomChanged of kind signaling.RoomInvited (status ringing,
// then answered, rejected or unanswered); JoinRoom answers it, DeclineRoom
// rejects it.

import "github.com/parley-voice/parley/signaling"

// roomDeclineRef is the ref of a decline, so that its refusal (the
// invitation no longer rings) is known for what it answers.
const roomDeclineRef = "room-decline"

// DeclineRoom rejects the invitation to room that rings; the host is told.
func (p *Phone) DeclineRoom(room string) {
	p.post(func() {
		if err := signaling.CheckRoomName(room); err != nil {
			p.roomFail(room, err)
			return
		}
		p.send(signaling.Message{Type: signaling.TypeRoomLeave, Ref: roomDeclineRef, Room: room})
	})
}

// roomInvitation reports an invitation's ring, or its end, to a room the
// phone is not in; false when ev is something else.
func (p *Phone) roomInvitation(ev signaling.RoomEvent) bool {
	if ev.Kind != signaling.RoomInvited || p.room != nil && p.room.name == ev.Room {
		return false
	}
	p.log.Info("room invitation", "room", ev.Room, "status", ev.Status, "by", ev.By)
	p.emit(RoomChanged{ev})
	return true
}
