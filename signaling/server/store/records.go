package store

import (
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/token"
)

// User is the value of a key in the users bucket. Records written before
// teams existed have only User and LastToken: their team is the default
// team and their role member.
type User struct {
	User      string    `json:"user"`
	Team      string    `json:"team,omitempty"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	LastToken time.Time `json:"last_token,omitzero"` // the last token's time, to within an hour (nothing reads it)
	// RevokedAt: tokens issued at or before this second are refused.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// EffectiveRole is u's role: member when the record names none.
func (u User) EffectiveRole() string {
	if u.Role == "" {
		return token.RoleMember
	}
	return u.Role
}

// Revokes reports whether a token issued at iat was revoked by RevokedAt.
func (u User) Revokes(iat time.Time) bool {
	return !u.RevokedAt.IsZero() && !iat.Truncate(time.Second).After(u.RevokedAt.Truncate(time.Second))
}

// Device is the value of a key in the devices bucket: a signed-in device,
// with the SHA-256 of its secret.
type Device struct {
	ID         string    `json:"id"`
	Team       string    `json:"team"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	SecretHash string    `json:"secret_hash"`
	Created    time.Time `json:"created"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	Revoked    time.Time `json:"revoked,omitzero"`
}

// Public is the device as the API shows it.
func (d Device) Public() signaling.Device {
	out := signaling.Device{ID: d.ID, User: d.User, Name: d.Name, Created: d.Created}
	if !d.LastUsed.IsZero() {
		t := d.LastUsed
		out.LastUsed = &t
	}
	if !d.Revoked.IsZero() {
		t := d.Revoked
		out.Revoked = &t
	}
	return out
}

// Invite is the value of a key in the invites bucket.
type Invite struct {
	Team    string    `json:"team"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	By      string    `json:"by,omitempty"` // who made it: "api key" or an admin's user id
}

// Team is the value of "team.NAME" in the teams bucket.
type Team struct {
	Team    string    `json:"team"`
	KeyHash string    `json:"key_hash"`
	Created time.Time `json:"created"`
}

// Contacts is the value of a key in the contacts bucket: user ids of the
// same team.
type Contacts struct {
	Contacts []string `json:"contacts"`
}

// Status is the value of a key in the status bucket: a state set by hand.
// Online is not stored: setting it deletes the key.
type Status struct {
	State signaling.State `json:"state"`
	Since time.Time       `json:"since"`
	// NoWaiting: a second call while in one is refused as busy instead of
	// ringing as a waiting call (`parley presence --call-waiting off`).
	NoWaiting bool `json:"no_waiting,omitempty"`
}

// Seen is the value of a key in the seen bucket: when the user was last
// online.
type Seen struct {
	Seen time.Time `json:"seen"`
}

// Webhook is the value of a key in the webhooks bucket (WebhookKey).
type Webhook struct {
	ID      string    `json:"id"`
	Team    string    `json:"team"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

// HistorySeen is the value of a key in the history seen bucket: the user
// has seen their calls started up to UpTo, on some device.
type HistorySeen struct {
	UpTo time.Time `json:"up_to"`
}
