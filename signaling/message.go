package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type names a signaling message. Messages travel as JSON text frames over
// the WebSocket at /v1/ws, one message per frame.
type Type string

// ReasonMovedToRoom is the reason of a hangup, and of the answered call's
// end (completed), when the call grew into a room (RoomRequest.Call) and
// its two people hear each other there now.
const ReasonMovedToRoom = "moved to room"

// ReasonNoAnswer is the reason of a call that rang too long: the server's
// ring timeout, or the caller's (a hangup with this reason before an
// answer, parley call --ring-timeout).
const ReasonNoAnswer = "no answer"

// ReasonBusy is the reason of a rejection by a callee's phone that cannot
// take the call beside the one it is in (an answering machine, parley
// answer --auto): the call ends rejected as busy, with code 80202, as if
// the server had refused it.
const ReasonBusy = "busy"

// ReasonLeaveMessage is the reason of a reject by which the callee asks
// the caller to leave a voice message instead (voicemail.go): the call
// ends rejected with this reason.
const ReasonLeaveMessage = "leave a message"

// Messages a client sends.
const (
	TypeConnect Type = "connect" // first message: token (and optionally a session id)
	TypeDial    Type = "dial"    // place a call: to, sdp (the offer), ref
	TypeRinging Type = "ringing" // callee: the call is ringing here
	TypeAnswer  Type = "answer"  // callee: answer, with sdp (the answer)
	TypeReject  Type = "reject"  // callee: decline
	TypeHangup  Type = "hangup"  // either side: end or cancel the call; reason: ReasonMovedToRoom or none
	TypeFail    Type = "fail"    // either side: media could not be set up; reason

	// TypeRenegotiate carries a new offer or answer for an answered call
	// (an ICE restart after the network changed), or the callee's request
	// that the caller restart; relayed to the other participant.
	TypeRenegotiate Type = "renegotiate"

	// TypeMoved: either side of an answered call that grew into a room
	// (RoomRequest.Call): its room plays the other side now; relayed to the
	// other side. Once both sides' rooms play, the call is hung up
	// (ReasonMovedToRoom).
	TypeMoved Type = "moved"

	// TypeHold: either side of an answered call puts it on hold (held true)
	// or takes it off (false): no audio flows either way while either side
	// holds; relayed to the other side with the holder's user, who then
	// hears a hold tone. The status stays answered.
	TypeHold Type = "hold"

	// TypeResume: after reconnecting, a participant asks for the call it
	// was in (call_id); the answer is the call's status now.
	TypeResume Type = "resume"
	TypeWatch  Type = "watch" // subscribe to presence of users
	TypePing   Type = "ping"

	// TypeRefresh hands the server a renewed token for this connection
	// before the one it connected with expires; answered with refreshed.
	TypeRefresh Type = "refresh"
)

// Messages the server sends. TypeCandidate, TypeMute, TypeHold and TypeMoved go both
// ways: the server relays them to the other participant of the call.
const (
	TypeWelcome           Type = "welcome"             // connect accepted: user, session, role
	TypeCall              Type = "call"                // a call was created (event; sdp holds the offer for the callee)
	TypeCallStatusChanged Type = "call_status_changed" // event; sdp holds the answer for the caller when answered
	TypeCandidate         Type = "candidate"           // a trickled ICE candidate for call_id
	TypeMute              Type = "mute"                // muted changed for user in call_id
	TypePresence          Type = "presence"            // user's state; from a client: set your own (state or idle)
	TypeRefreshed         Type = "refreshed"           // a refresh was accepted
	TypeError             Type = "error"               // a refusal; ref and call_id tell what it answers
	TypeShutdown          Type = "shutdown"            // the server is going away; reconnect later
	TypePong              Type = "pong"
)

var clientTypes = map[Type]bool{
	TypeConnect: true, TypeDial: true, TypeRinging: true, TypeAnswer: true,
	TypeReject: true, TypeHangup: true, TypeFail: true, TypeCandidate: true,
	TypeMute: true, TypeWatch: true, TypePing: true, TypeRenegotiate: true, TypeResume: true, TypeMoved: true,
	TypeHold: true, TypePresence: true, TypeRefresh: true,
	TypeRoomJoin: true, TypeRoomLeave: true, TypeRoomMute: true, TypeRoomRemove: true, TypeRoomLock: true,
	TypeRoomEnd: true, TypeRoomAdmit: true, TypeRoomDeny: true,
}

// Limits on what a message may carry.
const (
	MaxMessageBytes = 64 << 10 // one WebSocket frame
	MaxIDLength     = 64       // user ids, session ids, call ids, refs
	MaxTokenLength  = 4096
	MaxSDPLength    = 32 << 10
	MaxCandidate    = 1024
	MaxReasonLength = 256
	MaxWatch        = 1000 // users in one watch message
	MaxDataLength   = 1000 // the token's data claim, as in OpenVidu
	MaxNameLength   = 64   // display names and device names, in characters
)

// Candidate is an ICE candidate in the shape of the W3C RTCIceCandidateInit.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer is a STUN or TURN server for the media path, in the shape of
// the W3C RTCIceServer. The welcome carries the server's own, with
// short-lived TURN credentials.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Message is every signaling message; Type says which fields are used.
type Message struct {
	Type       Type        `json:"type"`
	Ref        string      `json:"ref,omitempty"`         // set by the client; echoed in the reply or error
	Token      string      `json:"token,omitempty"`       // connect
	Session    string      `json:"session,omitempty"`     // connect (optional), welcome
	Resume     bool        `json:"resume,omitempty"`      // connect: take this session over (a reconnect)
	User       string      `json:"user,omitempty"`        // welcome, presence, mute
	Role       string      `json:"role,omitempty"`        // welcome
	ICEServers []ICEServer `json:"ice_servers,omitempty"` // welcome: STUN and TURN servers to use
	To         string      `json:"to,omitempty"`          // dial
	CallID     string      `json:"call_id,omitempty"`     // every call action
	SDP        string      `json:"sdp,omitempty"`         // dial, answer, call, call_status_changed, renegotiate
	SDPType    string      `json:"sdp_type,omitempty"`    // renegotiate: "offer", "answer" or "request"
	Candidate  *Candidate  `json:"candidate,omitempty"`   // candidate
	Muted      *bool       `json:"muted,omitempty"`       // mute
	Held       *bool       `json:"held,omitempty"`        // hold
	Online     *bool       `json:"online,omitempty"`      // presence
	State      State       `json:"state,omitempty"`       // presence: the user's state; from a client: online/away/dnd
	Idle       *bool       `json:"idle,omitempty"`        // presence from a client: this session is idle (auto away)
	Name       string      `json:"name,omitempty"`        // welcome, presence: the user's display name
	LastSeen   *time.Time  `json:"last_seen,omitempty"`   // presence: when an offline user was last online
	Users      []string    `json:"users,omitempty"`       // watch
	Reason     string      `json:"reason,omitempty"`      // fail, hangup, shutdown
	Event      *CallEvent  `json:"event,omitempty"`       // call, call_status_changed
	Error      *Error      `json:"error,omitempty"`       // error

	Room       string     `json:"room,omitempty"`        // every room message (room.go)
	Target     string     `json:"target,omitempty"`      // room_mute, room_remove: another participant
	ListenOnly bool       `json:"listen_only,omitempty"` // room_join: as a listener
	Locked     *bool      `json:"locked,omitempty"`      // room_lock; room_mute: the target's microphone
	RoomEvent  *RoomEvent `json:"room_event,omitempty"`  // room_event

	Text         *Text         `json:"text,omitempty"`          // text (texts.go)
	VoiceMessage *VoiceMessage `json:"voice_message,omitempty"` // voice_message (voicemail.go)
}

// Encode returns the wire form of m.
func Encode(m Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("signaling: encode %s: %w", m.Type, err)
	}
	return b, nil
}

// DecodeClient parses and checks a message sent by a client. Anything
// malformed, unknown, too long or missing a required field is refused with an
// *Error of code InvalidParameter whose message names the problem.
func DecodeClient(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageBytes {
		return m, Errorf(InvalidParameter, "message of %d bytes is over the limit of %d", len(b), MaxMessageBytes)
	}
	if !utf8.Valid(b) {
		return m, Errorf(InvalidParameter, "message is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, Errorf(InvalidParameter, "message is not a valid signaling message: %v", err)
	}
	if dec.More() {
		return Message{}, Errorf(InvalidParameter, "one JSON object per message, found more")
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	if len(m.Users) == 0 {
		// "users":[] encodes as no users (omitempty): keep one form, so
		// that a decoded message encodes and decodes back to itself.
		m.Users = nil
	}
	return m, nil
}

// DecodeServer parses a message sent by the server. It checks less than
// DecodeClient: the client trusts the server it chose to connect to.
func DecodeServer(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("signaling: decode server message: %w", err)
	}
	return m, nil
}

func (m Message) validate() error {
	if !clientTypes[m.Type] {
		if m.Type == "" {
			return Errorf(InvalidParameter, `message has no "type"`)
		}
		return Errorf(InvalidParameter, "unknown message type %.40q", string(m.Type))
	}
	if len(m.Ref) > MaxIDLength {
		return Errorf(InvalidParameter, "ref is longer than %d characters", MaxIDLength)
	}
	if len(m.Token) > MaxTokenLength {
		return Errorf(InvalidParameter, "token is longer than %d characters", MaxTokenLength)
	}
	if len(m.Session) > MaxIDLength {
		return Errorf(InvalidParameter, "session is longer than %d characters", MaxIDLength)
	}
	if len(m.CallID) > MaxIDLength {
		return Errorf(InvalidParameter, "call_id is longer than %d characters", MaxIDLength)
	}
	if len(m.SDP) > MaxSDPLength {
		return Errorf(InvalidParameter, "sdp is longer than %d bytes", MaxSDPLength)
	}
	if len(m.Reason) > MaxReasonLength {
		return Errorf(InvalidParameter, "reason is longer than %d characters", MaxReasonLength)
	}
	// The reason reaches the other party's terminal; no escape sequences.
	if err := checkPrintable("reason", m.Reason); err != nil {
		return err
	}
	if len(m.Users) > MaxWatch {
		return Errorf(InvalidParameter, "watch at most %d users at once", MaxWatch)
	}
	if m.Event != nil || m.Error != nil || m.Online != nil || m.User != "" || m.Role != "" || m.Name != "" ||
		m.LastSeen != nil || m.ICEServers != nil || m.RoomEvent != nil || m.VoiceMessage != nil || m.Text != nil {
		return Errorf(InvalidParameter, "%s: event, error, online, user, role, name, last_seen, ice_servers, "+
			"room_event, voice_message and text are set by the server only", m.Type)
	}
	if m.Type.isRoom() {
		return m.validateRoom()
	}
	if m.Room != "" || m.Target != "" || m.ListenOnly || m.Locked != nil {
		return Errorf(InvalidParameter, "%s: room, target, listen_only and locked belong to room messages", m.Type)
	}
	needCall := func() error {
		if m.CallID == "" {
			return Errorf(InvalidParameter, `%s needs "call_id"`, m.Type)
		}
		return nil
	}
	switch m.Type {
	case TypeConnect:
		if m.Token == "" {
			return Errorf(InvalidParameter, `connect needs "token": get one with "parley token USER --api-key KEY"`)
		}
		if m.Session != "" && !ValidID(m.Session) {
			return Errorf(InvalidParameter, "session %.64q is not a valid id (letters, digits and . _ - @ +)",
				m.Session)
		}
	case TypeDial:
		if err := CheckUserID(m.To); err != nil {
			return err
		}
		if m.SDP == "" {
			return Errorf(InvalidParameter, `dial needs "sdp" with the offer`)
		}
	case TypeAnswer:
		if err := needCall(); err != nil {
			return err
		}
		if m.SDP == "" {
			return Errorf(InvalidParameter, `answer needs "sdp" with the answer`)
		}
	case TypeRinging, TypeReject, TypeHangup, TypeFail, TypeResume, TypeMoved:
		return needCall()
	case TypeCandidate:
		if err := needCall(); err != nil {
			return err
		}
		if m.Candidate == nil {
			return Errorf(InvalidParameter, `candidate needs "candidate"`)
		}
		if len(m.Candidate.Candidate) > MaxCandidate {
			return Errorf(InvalidParameter, "candidate is longer than %d characters", MaxCandidate)
		}
		c := m.Candidate
		for _, f := range []struct {
			what string
			s    *string
		}{{"candidate", &c.Candidate}, {"sdpMid", c.SDPMid}, {"usernameFragment", c.UsernameFragment}} {
			if f.s != nil {
				if err := checkPrintable(f.what, *f.s); err != nil {
					return err
				}
			}
		}
	case TypeRenegotiate:
		if err := needCall(); err != nil {
			return err
		}
		switch {
		case m.SDPType == "request" && m.SDP == "":
		case (m.SDPType == "offer" || m.SDPType == "answer") && m.SDP != "":
		default:
			return Errorf(InvalidParameter,
				`renegotiate needs "sdp_type" offer or answer with "sdp", or "request" without`)
		}
	case TypeMute:
		if err := needCall(); err != nil {
			return err
		}
		if m.Muted == nil {
			return Errorf(InvalidParameter, `mute needs "muted": true or false`)
		}
	case TypeHold:
		if err := needCall(); err != nil {
			return err
		}
		if m.Held == nil {
			return Errorf(InvalidParameter, `hold needs "held": true to hold, false to resume`)
		}
	case TypePresence:
		switch {
		case (m.State == "") == (m.Idle == nil):
			return Errorf(InvalidParameter,
				`presence needs either "state" (online, away or dnd) or "idle" (true or false)`)
		case m.State != "" && !m.State.Settable():
			return Errorf(InvalidParameter, "state %.20q cannot be set: use online, away or dnd", string(m.State))
		}
	case TypeRefresh:
		if m.Token == "" {
			return Errorf(InvalidParameter, `refresh needs "token": the renewed token`)
		}
	case TypeWatch:
		for _, u := range m.Users {
			if err := CheckUserID(u); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t Type) isRoom() bool { return strings.HasPrefix(string(t), "room_") }

// validateRoom checks a room message.
func (m Message) validateRoom() error {
	if err := CheckRoomName(m.Room); err != nil {
		return err
	}
	if m.CallID != "" || m.To != "" || m.Candidate != nil || m.SDPType != "" || len(m.Users) > 0 || m.Token != "" {
		return Errorf(InvalidParameter, "%s: call_id, to, candidate, sdp_type, users and token are not for rooms",
			m.Type)
	}
	if m.Target != "" {
		if m.Type != TypeRoomMute && m.Type != TypeRoomRemove && m.Type != TypeRoomAdmit && m.Type != TypeRoomDeny {
			return Errorf(InvalidParameter, "%s has no target: only room_mute, room_remove, room_admit and "+
				"room_deny do", m.Type)
		}
		if err := CheckUserID(m.Target); err != nil {
			return err
		}
	}
	if m.SDP != "" && m.Type != TypeRoomJoin {
		return Errorf(InvalidParameter, "%s has no sdp: only room_join does", m.Type)
	}
	if m.Muted != nil && m.Type != TypeRoomMute && m.Type != TypeRoomJoin {
		return Errorf(InvalidParameter, "%s has no muted: only room_mute and room_join do", m.Type)
	}
	if m.ListenOnly && m.Type != TypeRoomJoin {
		return Errorf(InvalidParameter, "listen_only is for room_join")
	}
	switch m.Type {
	case TypeRoomJoin:
		if m.SDP == "" {
			return Errorf(InvalidParameter, `room_join needs "sdp" with the offer`)
		}
		if m.Locked != nil {
			return Errorf(InvalidParameter, "room_join has no locked")
		}
	case TypeRoomLock:
		if m.Locked == nil {
			return Errorf(InvalidParameter, `room_lock needs "locked": true or false`)
		}
	case TypeRoomMute:
		if m.Muted == nil {
			return Errorf(InvalidParameter, `room_mute needs "muted": true or false`)
		}
		if m.Locked != nil && m.Target == "" {
			return Errorf(InvalidParameter, `room_mute: "locked" locks another participant's microphone: name them `+
				`in "target"`)
		}
	case TypeRoomRemove, TypeRoomAdmit, TypeRoomDeny:
		if m.Target == "" {
			return Errorf(InvalidParameter, `%s needs "target": the user id of the participant or guest`, m.Type)
		}
		if m.Locked != nil {
			return Errorf(InvalidParameter, "%s has no locked", m.Type)
		}
	default:
		if m.Locked != nil {
			return Errorf(InvalidParameter, "%s has no locked", m.Type)
		}
	}
	return nil
}

// ValidID reports whether s can be a user, session or call id: 1 to 64
// letters, digits or one of . _ - @ +.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.' || r == '_' || r == '-' || r == '@' || r == '+':
		default:
			return false
		}
	}
	return true
}

// CheckUserID returns an InvalidParameter error when id is not a valid user
// id: a ValidID that starts with a letter or a digit and has no two of
// . _ - @ + in a row ("a.b@c.com", "first_last" and "bob-2" are; "..",
// ".bob" and "a..b" are not). The server made users of any ValidID before,
// and still accepts their tokens.
func CheckUserID(id string) error {
	if id == "" {
		return Errorf(InvalidParameter, "user id is empty: name the person to reach")
	}
	if !ValidID(id) || !plainID(id) {
		return Errorf(InvalidParameter,
			"user id %.64q is not valid: use 1 to 64 letters, digits and . _ - @ +, starting with a letter or digit, "+
				"with no two of . _ - @ + in a row", id)
	}
	return nil
}

// plainID reports whether the ValidID id starts with a letter or a digit
// and has no two punctuation marks in a row.
func plainID(id string) bool {
	punct := true // as if one came before the first character
	for i := 0; i < len(id); i++ {
		c := id[i]
		p := c == '.' || c == '_' || c == '-' || c == '@' || c == '+'
		if p && punct {
			return false
		}
		punct = p
	}
	return true
}
