package signaling

import (
	"context"
	"net/http"
	"time"
)

// Room records and room webhooks: what happened in each room of a team,
// kept as long as call records are, listed by the team's backend with its
// API key (or an admin's token), and the room events its webhooks receive.

// PathRoomRecords lists a team's room records, newest first: GET
// [?user=&status=&limit=&before=] → RoomRecords.
const PathRoomRecords = "/v1/admin/rooms"

// Webhook events of rooms: a room started (its first participant joined),
// someone joined or left, it ended. A room's events come in this order,
// numbered in their event_id.
const (
	EventRoomStarted       = "room.started"
	EventParticipantJoined = "participant.joined"
	EventParticipantLeft   = "participant.left"
	EventRoomEnded         = "room.ended"
)

// Entries of a room record besides the webhook events above.
const (
	EntryMuted    = "participant.muted"   // user muted, by whom (themselves or the host); locked: the host locked it
	EntryUnmuted  = "participant.unmuted" // user unmuted, by whom
	EntryLocked   = "room.locked"         // by the host
	EntryUnlocked = "room.unlocked"       // by the host
	EntryInvited  = "participant.invited" // user's invitation: status ringing, answered, rejected or unanswered
)

// LeftRoomEnded is the reason of participant.left, in records and
// webhooks, for those still in a room when it ended.
const LeftRoomEnded = "room ended"

// Statuses of a room record.
const (
	RoomRecordOpen    = "open"    // made; nobody has joined yet
	RoomRecordStarted = "started" // someone joined; not ended
	RoomRecordEnded   = "ended"
)

// RoomRecordStatuses lists the statuses of a room record.
func RoomRecordStatuses() []string {
	return []string{RoomRecordOpen, RoomRecordStarted, RoomRecordEnded}
}

// RoomEntry is one thing that happened in a room, at Time.
type RoomEntry struct {
	Event  string    `json:"event"` // one of the Event* or Entry* names
	Time   time.Time `json:"time"`
	User   string    `json:"user,omitempty"` // who it is about
	Name   string    `json:"name,omitempty"` // their display name
	Role   RoomRole  `json:"role,omitempty"` // joined: their role
	By     string    `json:"by,omitempty"`   // who muted, removed or locked
	Reason string    `json:"reason,omitempty"`
	Status Status    `json:"status,omitempty"` // participant.invited: ringing, answered, rejected, unanswered
	Locked bool      `json:"locked,omitempty"` // participant.muted: the host locked the microphone
}

// RoomInvite is an invited member and where their invitation is: not yet
// rung (no status), ringing, answered, rejected or unanswered.
type RoomInvite struct {
	User   string     `json:"user"`
	Status Status     `json:"status,omitempty"`
	Time   *time.Time `json:"time,omitempty"` // when it entered Status
}

// RoomRecord is a room as the records API lists it: when it was made, when
// it started (the first join) and ended and why, its invitations, and
// every entry in order. Start and End are a session's times, as asked.
type RoomRecord struct {
	ID           string       `json:"id"`
	Room         string       `json:"room"`
	Host         string       `json:"host"`
	Status       string       `json:"status"` // open, started, ended
	Created      time.Time    `json:"created"`
	Start        *time.Time   `json:"start,omitempty"`
	End          *time.Time   `json:"end,omitempty"`
	Started      *time.Time   `json:"started,omitempty"`
	Ended        *time.Time   `json:"ended,omitempty"`
	Reason       string       `json:"reason,omitempty"`       // why it ended: ended by host, time over, empty
	Participants []string     `json:"participants,omitempty"` // everyone who joined, in the order they first did
	Invited      []RoomInvite `json:"invited,omitempty"`
	Node         string       `json:"node,omitempty"` // the node that last ran it
	Events       []RoomEntry  `json:"events"`
	Dropped      int          `json:"dropped,omitempty"` // entries left out of a very long room (mutes first)
}

// RoomRecords is the answer of GET /v1/admin/rooms, newest first.
type RoomRecords struct {
	Rooms []RoomRecord `json:"rooms"`
}

// RoomRecordsQuery narrows GET /v1/admin/rooms.
type RoomRecordsQuery struct {
	User   string    // rooms this user hosted, joined or was invited to
	Status string    // rooms in this status (RoomRecordStatuses)
	Limit  int       // at most this many (0: DefaultCallsLimit)
	Before time.Time // rooms made before this time: the next page
}

// RoomWebhookEvent is the body of a room's webhook event. EventID is
// ROOM-ID.N: the room record's Nth entry (the numbers of a room's events
// are in order, with gaps for its other entries). Participants is how
// many are in the room after the event.
type RoomWebhookEvent struct {
	Event        string    `json:"event"` // EventRoomStarted, EventParticipantJoined, ...
	EventID      string    `json:"event_id"`
	RoomID       string    `json:"room_id"`
	Room         string    `json:"room"`
	Host         string    `json:"host"`
	Time         time.Time `json:"time"`
	User         string    `json:"user,omitempty"` // participant.*: who
	Name         string    `json:"name,omitempty"`
	Role         RoomRole  `json:"role,omitempty"`
	By           string    `json:"by,omitempty"`     // participant.left: who removed them
	Reason       string    `json:"reason,omitempty"` // participant.left: left, removed, disconnected; room.ended: why
	Participants int       `json:"participants"`
	Node         string    `json:"node"`
}

// RoomRecords lists the team's room records, newest first.
func (a *API) RoomRecords(ctx context.Context, q RoomRecordsQuery) ([]RoomRecord, error) {
	var out RoomRecords
	err := a.do(ctx, http.MethodGet, listPath(PathRoomRecords, q.User, q.Status, q.Limit, q.Before), a.admin, nil,
		&out)
	return out.Rooms, err
}
