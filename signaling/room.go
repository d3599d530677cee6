package signaling

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Rooms: calls of two or more people through the server (docs/PROTOCOL.md,
// "Rooms"). A room is named within its team; its creator is its host.
// Each participant has one peer connection with the room's node, which
// forwards the RoomSlots loudest speakers to everyone else without decoding
// them. The media is encrypted to the server, not end to end.

// Messages a client sends about a room. Each carries "room": the room's name.
const (
	// TypeRoomJoin joins a room: sdp is the offer (see RoomSlots for its
	// layout); muted joins muted, listen_only as a listener. Answered with a
	// room_event of kind joined, whose message carries the answer in sdp.
	TypeRoomJoin   Type = "room_join"
	TypeRoomLeave  Type = "room_leave"  // leave; the room goes on for the others
	TypeRoomMute   Type = "room_mute"   // muted; target: another participant (host only), locked: their microphone
	TypeRoomRemove Type = "room_remove" // target leaves the room (host only)
	TypeRoomLock   Type = "room_lock"   // locked: nobody but the host may join (host only)
	TypeRoomEnd    Type = "room_end"    // end the room for everyone (host only)
	TypeRoomAdmit  Type = "room_admit"  // let target, a guest waiting in the lobby, in (host or member)
	TypeRoomDeny   Type = "room_deny"   // turn target, a guest waiting in the lobby, away (host or member)
)

// TypeRoomEvent is everything the server tells a participant about a
// room: the message's room_event says what happened.
const TypeRoomEvent Type = "room_event"

// RoomSlots is how many speakers a participant hears at once: the server
// forwards the RoomSlots loudest (by the RFC 6464 audio level each client
// writes on its packets). A client's offer has one audio transceiver it
// sends its microphone on (sendonly, with the extension RoomAudioLevelURI),
// then RoomSlots receive-only audio transceivers; the server's answer sends
// one continuous stream on each (track ids "slot0", "slot1", ...: sequence
// numbers and timestamps go on across a change of speaker), and says who is
// heard on which in room_event "speaking". Both sides gather their ICE
// candidates before sending their SDP: a room has no candidate messages.
const RoomSlots = 3

// RoomAudioLevelURI is the RTP header extension a participant's packets
// carry: the level of the audio in -dBov (0 loudest, 127 silence), with the
// voice activity bit (RFC 6464).
const RoomAudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// MaxRoomParticipants is how many people one room holds.
const MaxRoomParticipants = 100

// RoomRole is a participant's role in a room.
type RoomRole string

// Roles in a room.
const (
	RoleHost     RoomRole = "host"     // the room's creator: mutes, removes, locks, ends
	RoleMember   RoomRole = "member"   // speaks and listens
	RoleListener RoomRole = "listener" // listens only: never heard
	RoleGuest    RoomRole = "guest"    // came through a link; waits in the lobby until let in
)

// RoomEventKind says what a room_event is about.
type RoomEventKind string

// Room events.
const (
	RoomJoined        RoomEventKind = "joined"             // you are in: participants, your role; sdp has the answer
	ParticipantJoined RoomEventKind = "participant_joined" // user, name, role
	ParticipantLeft   RoomEventKind = "participant_left"   // user; reason: left, removed, disconnected
	RoomSpeaking      RoomEventKind = "speaking"           // slots: who is heard on each receive slot now
	RoomMuted         RoomEventKind = "muted"              // user's muted changed, by whom; locked: by the host
	RoomLocked        RoomEventKind = "locked"             // locked changed, by whom
	RoomRemoved       RoomEventKind = "removed"            // you were removed, by whom
	RoomEnded         RoomEventKind = "room_ended"         // reason: ended by its host, time over, empty
	// RoomQuality: quality, the connections of participants (Quality)
	// whose grade or problems changed; the first one after you joined has
	// everyone's known so far. At most one every few seconds, and only
	// when something changed.
	RoomQuality RoomEventKind = "quality"
	// RoomInvited: user, invited to the room, is rung (status ringing, by
	// the host), answered (joined), rejected or unanswered; sent to the
	// invited user's sessions and to the participants (roomrecords.go).
	RoomInvited RoomEventKind = "invited"
	// The lobby: a guest's room_join is answered with lobby (no sdp: the
	// guest has no media yet); the host and members get lobby_knock (user,
	// name), and again, after their own joined, for each guest waiting.
	// Let in (room_admit), the guest gets admitted then joined (sdp has
	// the answer) and everyone else admitted (by) then participant_joined;
	// turned away (room_deny), the guest gets turned_away and their link is
	// spent, and everyone else turned_away (by). A guest who leaves the
	// lobby is a participant_left to the others.
	RoomLobby      RoomEventKind = "lobby"       // to the guest: you wait to be let in
	RoomKnock      RoomEventKind = "lobby_knock" // user, name: a guest waits in the lobby
	RoomAdmitted   RoomEventKind = "admitted"    // user, name: the guest was let in, by
	RoomTurnedAway RoomEventKind = "turned_away" // user, name: the guest was turned away, by
)

// Why a participant left, or a room ended.
const (
	LeftLeft         = "left"         // they left
	LeftRemoved      = "removed"      // the host removed them
	LeftDisconnected = "disconnected" // their connection was lost for good
	EndedByHost      = "ended by host"
	EndedTimeOver    = "time over"
	EndedEmpty       = "empty" // the last participant left
)

// RoomEvent is the payload of a room_event.
type RoomEvent struct {
	Kind   RoomEventKind `json:"kind"`
	Room   string        `json:"room"`
	Time   time.Time     `json:"time"`
	User   string        `json:"user,omitempty"` // the participant it is about (joined: you)
	Name   string        `json:"name,omitempty"` // their display name
	Role   RoomRole      `json:"role,omitempty"`
	By     string        `json:"by,omitempty"` // who muted, removed or locked
	Reason string        `json:"reason,omitempty"`
	Muted  *bool         `json:"muted,omitempty"`
	Locked *bool         `json:"locked,omitempty"` // muted: the microphone is locked; locked: the room is
	Status Status        `json:"status,omitempty"` // invited: ringing, answered, rejected or unanswered
	// Call, in invited, is the 1:1 call the room grew from
	// (RoomRequest.Call): the host's peer in it joins at once, unrung.
	Call string `json:"call,omitempty"`
	// Slots, in speaking, has a user id (or "" for none) for each receive
	// slot, in the order of the offer's receive-only transceivers.
	Slots []string `json:"slots,omitempty"`
	// Participants, in joined, is everyone in the room, you included.
	Participants []Participant `json:"participants,omitempty"`
	// Quality, in quality, has a participant's connection for each one
	// whose grade or problems changed.
	Quality []Quality `json:"quality,omitempty"`
}

// Participant is someone in a room.
type Participant struct {
	User      string    `json:"user"`
	Name      string    `json:"name,omitempty"`
	Role      RoomRole  `json:"role"`
	Muted     bool      `json:"muted,omitempty"`
	MicLocked bool      `json:"mic_locked,omitempty"` // the host muted them and locked it
	Joined    time.Time `json:"joined"`
}

// Paths of the rooms API.
const (
	PathRooms = "/v1/rooms"        // POST RoomRequest → Room; GET → Rooms (your team's, not ended)
	PathRoom  = "/v1/rooms/{room}" // GET → Room (with participants); DELETE: end it (host only)
)

// RoomRequest creates a room. Start and Duration make it a session: it
// opens at Start (members may join from 10 minutes before) and ends when
// Duration is over.
type RoomRequest struct {
	Name     string     `json:"name"`
	Start    *time.Time `json:"start,omitempty"`
	Duration string     `json:"duration,omitempty"` // a Go duration
	Invite   []string   `json:"invite,omitempty"`   // members to ring at its start (user ids)
	// Guests has a guest link made for each name: a browser page that joins
	// the room as a guest, who waits in the lobby until let in. The links
	// are in the answer's Links; each works in one browser, until the room
	// ends or GuestTTL (a Go duration; the server's link default when
	// empty) is over, whichever comes first.
	Guests   []string `json:"guests,omitempty"`
	GuestTTL string   `json:"guest_ttl,omitempty"`
	// Call grows the answered 1:1 call of this id, which the creator is in,
	// into the room ("Grown from a call"): the invitations carry it, so
	// that the creator's peer in the call, invited, joins at once.
	Call string `json:"call,omitempty"`
}

// Room is a room as the API shows it.
type Room struct {
	ID           string        `json:"id,omitempty"` // its record's id (RoomRecord)
	Name         string        `json:"name"`
	Host         string        `json:"host"`
	Created      time.Time     `json:"created"`
	Start        *time.Time    `json:"start,omitempty"`
	End          *time.Time    `json:"end,omitempty"`
	Invited      []string      `json:"invited,omitempty"`
	Locked       bool          `json:"locked,omitempty"`
	Call         string        `json:"call,omitempty"` // the call it grew from (RoomRequest.Call)
	Ended        *time.Time    `json:"ended,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	// Links, in the answer of its creation only, has the guest link of
	// each of RoomRequest.Guests (Host is the room's host, Room its name).
	Links []Link `json:"links,omitempty"`
}

// Rooms is the answer of GET /v1/rooms.
type Rooms struct {
	Rooms []Room `json:"rooms"`
}

// CheckRoomName returns an InvalidParameter error when name cannot name a
// room: 1 to 64 lower-case letters, digits and - _ ., starting with a
// letter or a digit.
func CheckRoomName(name string) error {
	ok := len(name) > 0 && len(name) <= MaxIDLength
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		return Errorf(InvalidParameter, "room name %.64q is not valid: use 1 to 64 lower-case letters, digits and "+
			"- _ ., starting with a letter or digit (for example standup or team-sync)", name)
	}
	return nil
}

// CreateRoom makes a room; you are its host.
func (a *API) CreateRoom(ctx context.Context, r RoomRequest) (Room, error) {
	var out Room
	err := a.do(ctx, http.MethodPost, PathRooms, a.bearer, r, &out)
	return out, err
}

// Rooms lists your team's rooms that have not ended.
func (a *API) Rooms(ctx context.Context) ([]Room, error) {
	var out Rooms
	err := a.do(ctx, http.MethodGet, PathRooms, a.bearer, nil, &out)
	return out.Rooms, err
}

// Room shows a room, with who is in it.
func (a *API) Room(ctx context.Context, name string) (Room, error) {
	var out Room
	err := a.do(ctx, http.MethodGet, roomPath(name), a.bearer, nil, &out)
	return out, err
}

// EndRoom ends a room for everyone in it (its host only).
func (a *API) EndRoom(ctx context.Context, name string) error {
	return a.do(ctx, http.MethodDelete, roomPath(name), a.bearer, nil, nil)
}

func roomPath(name string) string {
	return strings.Replace(PathRoom, "{room}", url.PathEscape(name), 1)
}
