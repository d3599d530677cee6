package common

import (
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/styles"
)

// Presence is what is known of a user's presence.
type Presence int

// The presence states. Unknown is before the first report and while the
// signaling connection is down.
const (
	Unknown Presence = iota
	Offline
	Online
	Away   // set by hand, or idle on every device
	DND    // do not disturb: calls to them are refused
	InCall // in a call
)

// PresenceOfState maps a state reported by the server to a Presence.
func PresenceOfState(s signaling.State) Presence {
	switch s {
	case signaling.StateOnline:
		return Online
	case signaling.StateAway:
		return Away
	case signaling.StateDND:
		return DND
	case signaling.StateInCall:
		return InCall
	case signaling.StateOffline:
		return Offline
	}
	return Unknown
}

// Reachable reports whether the user has a session: every state but
// offline and unknown.
func (p Presence) Reachable() bool { return p != Unknown && p != Offline }

// Marker is the presence as a glyph: ● online, ◐ away, ⊘ do not disturb,
// ◉ in a call, ○ offline, ◌ unknown. The Word goes with it, so that no
// state is told by its colour only.
func (p Presence) Marker() string {
	switch p {
	case Online:
		return "●"
	case Away:
		return "◐"
	case DND:
		return "⊘"
	case InCall:
		return "◉"
	case Offline:
		return "○"
	}
	return "◌"
}

// Word is the presence in words.
func (p Presence) Word() string {
	switch p {
	case Online:
		return "online"
	case Away:
		return "away"
	case DND:
		return "do not disturb"
	case InCall:
		return "in a call"
	case Offline:
		return "offline"
	}
	return "unknown"
}

// Style is the style of the presence's marker and word.
func (p Presence) Style(st *styles.Styles) lipgloss.Style {
	switch p {
	case Online:
		return st.List.Online
	case Away:
		return st.List.Away
	case DND:
		return st.List.DND
	case InCall:
		return st.List.InCall
	case Offline:
		return st.List.Offline
	}
	return st.List.Unknown
}

// Person is what the UI knows of a user besides their id.
type Person struct {
	Name     string // display name, "" when unknown
	Presence Presence
	LastSeen time.Time // offline: when last online; zero when unknown
	Notify   bool      // the UI tells when they come online
	Unread   int       // their texts to you not read yet
}

// Label is the call's peer as shown: "Bob Smith (bob)", or the id.
func (c *Call) Label() string { return signaling.Label(c.Peer, c.PeerName) }

// Who is the call's peer in running text: the display name, or the id.
func (c *Call) Who() string {
	if c.PeerName != "" {
		return c.PeerName
	}
	return c.Peer
}

// Label is the person's display name and id, "Bob Smith (bob)", or the id.
func (p Person) Label(user string) string { return signaling.Label(user, p.Name) }

// Status is the presence in words, with the last seen when offline and the
// notification when one is asked: "offline, seen 5 minutes ago · will
// notify".
func (p Person) Status(now time.Time) string {
	s := p.Presence.Word()
	if p.Presence == Offline && !p.LastSeen.IsZero() {
		s += ", seen " + signaling.Ago(p.LastSeen, now)
	}
	if p.Notify {
		s += " · will notify"
	}
	return s
}

// PersonOf is a lookup of what is known of users.
type PersonOf func(user string) Person

// Call is a call as the UI shows it. The root model owns it and hands
// copies to the call view and the incoming banner.
type Call struct {
	ID        string // "" until the server has created the call
	Peer      string
	PeerName  string // the peer's display name, "" when unknown
	Direction signaling.Direction
	Guest     bool             // a guest from a browser, through a guest link: they knock
	Status    signaling.Status // "" while dialing, before the server answers
	Started   time.Time        // when it was dialed or came in
	Answered  time.Time        // zero until answered

	Muted       bool        // this side's microphone
	RemoteMuted bool        // the other side's
	Held        bool        // this side holds the call: nothing flows either way
	RemoteHeld  bool        // the other side holds it: the hold tone plays here
	Levels      call.Levels // latest levels
	Stats       *call.Stats // nil before the first stats
	Warnings    []string    // quality warnings raised and not cleared, in order
	MicSilent   bool        // the microphone has sent only silence for a while
	DeviceNote  string      // a device changed by itself: what is in use now
	Mic         string      // the microphone in use, as shown; "" when not known
	Speaker     string      // the speaker in use
	// Verification is the code both sides read to each other to check
	// that no one sits in the middle; "" until the call is answered.
	Verification string

	Answering bool // incoming: answer was pressed, waiting for the server
	Rejecting bool // incoming: reject was pressed
	Ending    bool // hang up (or cancel) was pressed, waiting for the end
	Cancelled bool // outbound: hung up before it was answered
	// Moving: the call is moving into a room grown from it (call.Grew):
	// the room is shown, the call ends once the room plays the peer.
	Moving bool
}

// Up reports whether the call has been answered and not yet ended.
func (c *Call) Up() bool {
	return c != nil && (c.Status == signaling.Answered || c.Status == signaling.Reconnecting)
}
