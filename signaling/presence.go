package signaling

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// State is a user's presence as others see it.
//
// A user is online while at least one of their sessions is connected. The
// server then shows, in this order of precedence: in_call while they are
// in a call (set and cleared by the server); dnd or away when they set it
// by hand (it stays until they set online again, across sessions and
// restarts); away when every session is idle (the UI says so after ten
// minutes without a key press); else online. Offline comes with the time
// they were last seen.
type State string

// The presence states.
const (
	StateOnline  State = "online"
	StateAway    State = "away"
	StateDND     State = "dnd"     // do not disturb: calls to them are refused at once
	StateInCall  State = "in_call" // in a call
	StateOffline State = "offline"
)

// States lists every state, from the most reachable to the least.
func States() []State {
	return []State{StateOnline, StateAway, StateDND, StateInCall, StateOffline}
}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	switch s {
	case StateOnline, StateAway, StateDND, StateInCall, StateOffline:
		return true
	}
	return false
}

// Settable reports whether a user may set s as their own state by hand:
// online (which clears what was set), away or dnd.
func (s State) Settable() bool {
	return s == StateOnline || s == StateAway || s == StateDND
}

// Online reports whether a user in state s has a connected session.
func (s State) Online() bool { return s.Valid() && s != StateOffline }

// Words is the state as a person reads it: "online", "away", "do not
// disturb", "in a call", "offline".
func (s State) Words() string {
	switch s {
	case StateDND:
		return "do not disturb"
	case StateInCall:
		return "in a call"
	case "":
		return "unknown"
	}
	return string(s)
}

// Person is a user as others see them: the directory, contacts, the
// presence endpoint.
type Person struct {
	User     string     `json:"user"`
	Name     string     `json:"name,omitempty"`      // display name
	Role     string     `json:"role,omitempty"`      // admin, member or guest
	State    State      `json:"state,omitempty"`     // presence; the directory tells online or offline only
	Online   bool       `json:"online"`              // State is not offline
	LastSeen *time.Time `json:"last_seen,omitempty"` // offline: when last online, if ever
}

// Label is how a person is shown: "Bob Smith (bob)", or "bob" without a
// display name.
func Label(user, name string) string {
	if name == "" || name == user {
		return user
	}
	return name + " (" + user + ")"
}

// CheckName checks a display name or device name: 1 to MaxNameLength
// printable characters, no control characters, not only spaces. It returns
// the name trimmed.
func CheckName(what, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", Errorf(InvalidParameter, "%s is empty", what)
	case !utf8.ValidString(name):
		return "", Errorf(InvalidParameter, "%s is not valid UTF-8", what)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "", Errorf(InvalidParameter, "%s is longer than %d characters", what, MaxNameLength)
	}
	if err := checkPrintable(what, name); err != nil {
		return "", err
	}
	return name, nil
}

// Ago says how long ago t was, for "last seen": "just now", "5 minutes
// ago", "3 hours ago", "2 days ago".
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s ago", unit)
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}
