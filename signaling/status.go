package signaling

// Status is the state of a call, as in the Gitple voice SDK.
//
// Normal flow: started → ringing → answered → completed. Exceptions:
// started → (ringing) → unanswered | rejected | failed, and answered → failed.
type Status string

// The call statuses.
const (
	Started    Status = "started"    // the call was created by the server
	Ringing    Status = "ringing"    // the callee's device confirmed it is ringing
	Answered   Status = "answered"   // the callee answered
	Completed  Status = "completed"  // an answered call ended normally
	Failed     Status = "failed"     // the call could not be set up or broke off
	Rejected   Status = "rejected"   // the callee declined
	Unanswered Status = "unanswered" // nobody answered in time, or the caller gave up

	// Reconnecting is seen by a client, not set by the server: the media
	// of an answered call stopped and is being restored. It returns to
	// answered when media flows again, or the call ends.
	Reconnecting Status = "reconnecting"
)

// Statuses lists every status in the order of the normal flow, then the
// exceptions.
func Statuses() []Status {
	return []Status{Started, Ringing, Answered, Completed, Failed, Rejected, Unanswered, Reconnecting}
}

// Terminal reports whether a call in this status is over.
func (s Status) Terminal() bool {
	switch s {
	case Completed, Failed, Rejected, Unanswered:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

var transitions = map[Status][]Status{
	Started:      {Ringing, Answered, Rejected, Unanswered, Failed},
	Ringing:      {Answered, Rejected, Unanswered, Failed},
	Answered:     {Completed, Failed, Reconnecting},
	Reconnecting: {Answered, Completed, Failed},
	Completed:    nil,
	Failed:       nil,
	Rejected:     nil,
	Unanswered:   nil,
}

// CanTransition reports whether a call may move from one status to another.
// Staying in the same status is not a transition.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Direction tells which side of a call a participant is on.
type Direction string

// The directions.
const (
	Outbound Direction = "outbound" // the caller's side
	Inbound  Direction = "inbound"  // the callee's side
)

// CallEvent is the payload of the "call" and "call_status_changed" events:
// {"id","status","direction","from","to"}, with the display names beside
// from and to when the users have them. Reason and Code explain how a call
// ended when it did not complete normally.
type CallEvent struct {
	ID        string    `json:"id"`
	Status    Status    `json:"status"`
	Direction Direction `json:"direction"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	FromName  string    `json:"from_name,omitempty"` // the caller's display name, when they have one
	ToName    string    `json:"to_name,omitempty"`   // the callee's display name
	Reason    string    `json:"reason,omitempty"`
	Code      Code      `json:"code,omitempty"`
	// Guest is set when the caller joined from a browser through a guest
	// link of the callee's: they knock, and answering lets them in.
	Guest bool `json:"guest,omitempty"`
	// Waiting is set, on the callee's side, on a call that rang while
	// they were in another: a waiting call (answering it holds the other).
	Waiting bool `json:"waiting,omitempty"`
}

// Peer is the other participant as seen from this event's direction.
func (e CallEvent) Peer() string {
	if e.Direction == Outbound {
		return e.To
	}
	return e.From
}

// PeerName is the other participant's display name, or "".
func (e CallEvent) PeerName() string {
	if e.Direction == Outbound {
		return e.ToName
	}
	return e.FromName
}
