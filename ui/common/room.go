package common

import (
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// SpeakingLevel is the least level (0..1, as in call.Levels) at which a
// participant heard in a room is marked as speaking: -42 dBFS, the
// threshold the call engine uses for its own speaking marks.
const SpeakingLevel = 0.3

// Room is the room the user is in, as the UI shows it. The root model owns
// it and hands copies to the room view.
type Room struct {
	Name    string
	Self    string             // your user id
	Role    signaling.RoomRole // yours; "" until joined
	Joining bool               // the join was asked for; the server has not answered yet
	Joined  time.Time          // zero until joined
	Locked  bool               // nobody but the host may join
	// People is everyone in the room, you included, in the order they
	// joined.
	People []RoomPerson
	// Your microphone's level and speech, from call.RoomLevels.
	Mic         float64
	MicSpeaking bool
	// MutedBy is who muted you when it was someone else (the host), as
	// shown; "" otherwise.
	MutedBy string
	// Log is what happened lately ("Bob joined"), newest last.
	Log []RoomLogLine
	// Lobby is the guests waiting to be let in, first knock first (shown
	// to the host and members, who may let them in).
	Lobby []RoomPerson
	// Rejoining is why the room was lost while the Phone joins it again by
	// itself (call.RoomRejoining); "" when in it.
	Rejoining string
	// Stats are the figures of what the room sends you (call.RoomStats);
	// nil before the first.
	Stats *call.Stats
	// GrownFrom is, for a room grown from your call (call.Grew), the
	// other person of that call as shown; "" for another room.
	GrownFrom string
}

// RoomLogLine is one thing that happened in the room.
type RoomLogLine struct {
	At   time.Time
	Text string
}

// RoomPerson is a participant of the room.
type RoomPerson struct {
	User      string
	Name      string // display name, "" when unknown
	Role      signaling.RoomRole
	Muted     bool
	MicLocked bool    // the host muted them and locked it
	Level     float64 // heard now, 0..1; 0 when not heard
	// Quality is their connection as the room's node rates what they
	// send (room_event quality); nil before it is rated, and for a
	// listener.
	Quality *signaling.Quality
}

// Label is the participant as shown: "Bob Smith (bob)", or the id.
func (p RoomPerson) Label() string { return signaling.Label(p.User, p.Name) }

// Who is the participant in running text: the display name, or the id.
func (p RoomPerson) Who() string {
	if p.Name != "" {
		return p.Name
	}
	return p.User
}

// Person returns the participant user, if in the room.
func (r *Room) Person(user string) (*RoomPerson, bool) {
	for i := range r.People {
		if r.People[i].User == user {
			return &r.People[i], true
		}
	}
	return nil, false
}

// Me is your own row, if joined.
func (r *Room) Me() (*RoomPerson, bool) { return r.Person(r.Self) }

// Host is the room's host among the participants, if one is in the room.
func (r *Room) Host() (RoomPerson, bool) {
	for _, p := range r.People {
		if p.Role == signaling.RoleHost {
			return p, true
		}
	}
	return RoomPerson{}, false
}

// Speaker is the active speaker: the loudest participant who speaks now
// (you when your microphone carries speech and is the loudest), or "".
func (r *Room) Speaker() string {
	best, level := "", 0.0
	for _, p := range r.People {
		l := p.Level
		speaking := l >= SpeakingLevel && !p.Muted
		if p.User == r.Self {
			l, speaking = r.Mic, r.MicSpeaking && !p.Muted
		}
		if speaking && l > level {
			best, level = p.User, l
		}
	}
	return best
}

// Speaking reports whether participant p speaks now.
func (r *Room) Speaking(p RoomPerson) bool {
	if p.User == r.Self {
		return r.MicSpeaking && !p.Muted
	}
	return !p.Muted && p.Level >= SpeakingLevel
}
