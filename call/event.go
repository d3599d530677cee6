package call

import (
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Event is what a Phone reports on its Events channel: one of the types
// below. Events are values; the receiver may keep them.
type Event interface{ event() }

// Connected reports the signaling connection: up (with the signed-in user)
// or down (with the reason in Err).
type Connected struct {
	Up   bool
	User string
	Name string // the user's display name, if they have one
	// Server is the address connected to (Up), among Config.Server and
	// Config.Servers.
	Server string
	Err    error
}

// StatusChanged is a call's status change. First is true for the event that
// announces a new call ("call" in --json), false for later ones
// ("call_status_changed").
type StatusChanged struct {
	signaling.CallEvent
	First bool
	At    time.Time
	// Untold: the call was hung up here while the server was unreachable.
	// The phone tells the server once it is back, which ends the call for
	// the other side too; until then the other side is still in it.
	Untold bool
}

// Muted reports a mute change: Local is this side, otherwise the other
// participant.
type Muted struct {
	CallID string
	Local  bool
	Muted  bool
}

// Levels are the current microphone and speaker levels, 0 (silence) to 1
// (full scale) on a dB scale from -60 dBFS, sent about ten times a second
// while media flows.
type Levels struct {
	Mic, Speaker float64
	// Who is speaking: this side (after echo cancellation; never while
	// muted) and the other (from the audio received), with a short hangover.
	MicSpeaking, RemoteSpeaking bool
}

// Stats are the call's quality figures for the last second, sent once a
// second while the call is answered.
type Stats struct {
	CallID       string
	RTT          time.Duration // round trip of the media path (ICE)
	Jitter       time.Duration // interarrival jitter of what we receive
	Loss         float64       // fraction of packets lost in the last second, 0..1
	JitterBuffer time.Duration // playout delay of the jitter buffer
	MOS          float64       // estimated mean opinion score, 1..4.5 (E-model)
	Relayed      bool          // media goes through a TURN relay
	Network      string        // "udp" or "tcp" (to the relay, when relayed)
	SendLoss     int64         // expected loss the encoder protects against, %
	SendBitrate  int64         // the encoder's bitrate, bit/s
	Sent         int64         // audio packets sent since the call began (none while held)

	// Frames played since the call began: decoded as they arrived,
	// recovered from the next packet's FEC, or concealed (made up).
	Decoded, Recovered, Concealed int64
}

// Warning is a quality warning raised (Raised) or cleared, named as in the
// Twilio Voice SDK: WarnHighRTT, WarnHighJitter, WarnHighLoss, WarnLowMOS.
// Value is the figure that raised or cleared it (ms, %, or MOS).
type Warning struct {
	CallID string
	Name   string
	Value  float64
	Raised bool
}

// Presence reports whether a watched user is online.
type Presence struct {
	User     string
	Online   bool
	State    signaling.State // online, away, dnd, in_call or offline
	Name     string          // the user's display name, if known
	LastSeen time.Time       // offline: when last online; zero if never or unknown
}

// VoiceMessage is a voice message just left for this phone's user
// (signaling.TypeVoiceMessage), told to every device of theirs.
type VoiceMessage struct {
	signaling.VoiceMessage
}

// Verification is the call's verification code, the same on both sides
// unless someone sits in the middle (see VerificationCode). It comes once
// the call is answered.
type Verification struct {
	CallID string
	Code   string
}

// Failure is a refusal or an error that did not end a call by itself (a
// dial refused by the server ends the dial attempt; see StatusChanged for
// calls that ended).
type Failure struct {
	CallID string
	Err    *signaling.Error
}

// RoomChanged is a room event from the server, for the room this phone is
// in (signaling.RoomEvent says which kind). A room_event of kind joined
// means the phone is in the room; removed or room_ended, that it left.
// Kind invited is an invitation of this phone's user to a room, ringing or
// over (roominvite.go), or, in the room, the invitation of another.
type RoomChanged struct {
	signaling.RoomEvent
}

// RoomLevels are the levels in the room this phone is in, about ten times
// a second while its media flows, on the scale of Levels: the microphone's
// and, for each participant heard now (on a receive slot), theirs.
type RoomLevels struct {
	Room        string
	Mic         float64
	MicSpeaking bool
	Heard       map[string]float64 // user id → level; the others are silent
}

// RoomStats are the figures of what this phone receives in the room it is
// in, once a second while its media flows, as Stats are a call's: the
// loss, jitter and MOS are those of the speakers heard, as they reach this
// phone (their own connection's part is in room_event quality); CallID is
// "", and SendLoss and SendBitrate are 0 (a room's sender does not adapt).
type RoomStats struct {
	Room string
	Stats
}

// RoomFailure is a refusal or error about a room action (a join refused,
// a host action by a member, ...); the phone stays where it was.
type RoomFailure struct {
	Room string
	Err  *signaling.Error
}

func (RoomChanged) event()   {}
func (RoomLevels) event()    {}
func (RoomStats) event()     {}
func (RoomFailure) event()   {}
func (Connected) event()     {}
func (StatusChanged) event() {}
func (Muted) event()         {}
func (Levels) event()        {}
func (Stats) event()         {}
func (Warning) event()       {}
func (Presence) event()      {}
func (Verification) event()  {}
func (Failure) event()       {}
func (VoiceMessage) event()  {}
