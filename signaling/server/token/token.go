// Package token signs and verifies parley's tokens: JWTs (HS256) that
// name a user (sub), their role, team and free data, and, for the access
// token of a signed-in device, the device (did), or, for a guest of a
// guest link, the link (lnk). The server's secret (DataDir/token_secret)
// signs them; nodes that share it accept each other's tokens.
//
// A Signer neither reads files nor knows who was revoked: the server
// loads the secret and checks a verified token against its records.
package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-voice/parley/signaling"
)

// Token roles. A token without a role is a member's.
const (
	RoleMember = "member"
	RoleAdmin  = "admin"
	RoleGuest  = "guest"
)

// Issuer is the iss claim of every token.
const Issuer = "parley"

// DefaultTeam is the team of a token without a team claim: the team of
// the server's own API key, and of every user made before teams existed.
const DefaultTeam = "default"

// MaxTTL is the longest lifetime a token may be given.
const MaxTTL = 30 * 24 * time.Hour

// Options describe a token to sign. The zero value is a member's token of
// the default team valid for the Signer's default lifetime, without data.
type Options struct {
	Role string        // RoleMember (default), RoleAdmin or RoleGuest
	Data string        // free metadata for the token's holder, at most signaling.MaxDataLength characters
	TTL  time.Duration // lifetime; 0 means the Signer's default; at most MaxTTL
	Team string        // the user's team; "" is DefaultTeam
	Name string        // a display name for the user (not signed: the server records it)

	// Device is the device an access token is for; Link the guest link a
	// guest's token opens. Set by the server, never from a request.
	Device string
	Link   *GuestLink
}

// GuestLink is what a guest link's token carries: the link, the host the
// guest may call and the guest's name.
type GuestLink struct {
	Key  string `json:"key"` // the link's key in the links bucket
	Host string `json:"host"`
	Name string `json:"name"`
	Room string `json:"room,omitempty"` // a room's link: the guest joins this room's lobby, and calls no one
}

// Claims are the claims of a parley token (JWT, HS256).
type Claims struct {
	Role   string `json:"role"`
	Data   string `json:"data,omitempty"`
	Team   string `json:"team,omitempty"` // absent for the default team
	Device string `json:"did,omitempty"`  // the device an access token was issued to
	// Link is set in the token of a guest who opened a guest link: it can
	// only call the link's host.
	Link *GuestLink `json:"lnk,omitempty"`
	jwt.RegisteredClaims
}

// TeamID is the token's team: DefaultTeam when the claim is absent.
func (c Claims) TeamID() string {
	if c.Team == "" {
		return DefaultTeam
	}
	return c.Team
}

// Issued is when the token was issued; zero when it does not say.
func (c Claims) Issued() time.Time {
	if c.IssuedAt == nil {
		return time.Time{}
	}
	return c.IssuedAt.Time
}

// Signer signs and verifies tokens with one secret. Safe for concurrent
// use.
type Signer struct {
	secret []byte
	ttl    time.Duration // default lifetime
}

// NewSigner returns a Signer with secret, whose tokens live ttl unless
// their Options say otherwise.
func NewSigner(secret []byte, ttl time.Duration) *Signer {
	return &Signer{secret: secret, ttl: ttl}
}

// Check validates o for a token of user, filling in the defaults, or
// returns an InvalidParameter error saying what is wrong.
func (s *Signer) Check(user string, o Options) (Options, error) {
	if err := signaling.CheckUserID(user); err != nil {
		return o, err
	}
	switch o.Role {
	case "":
		o.Role = RoleMember
	case RoleMember, RoleAdmin, RoleGuest:
	default:
		return o, signaling.Errorf(signaling.InvalidParameter, "role %.40q is not one of member, admin, guest", o.Role)
	}
	if n := utf8.RuneCountInString(o.Data); n > signaling.MaxDataLength {
		return o, signaling.Errorf(signaling.InvalidParameter,
			"data is %d characters, over the limit of %d", n, signaling.MaxDataLength)
	}
	if !utf8.ValidString(o.Data) {
		return o, signaling.Errorf(signaling.InvalidParameter, "data is not valid UTF-8")
	}
	if o.TTL == 0 {
		o.TTL = s.ttl
	}
	if o.TTL < time.Second || o.TTL > MaxTTL {
		return o, signaling.Errorf(signaling.InvalidParameter, "ttl %v is outside 1s to %v", o.TTL, MaxTTL)
	}
	if o.Team == "" {
		o.Team = DefaultTeam
	}
	if !signaling.ValidID(o.Team) {
		return o, signaling.Errorf(signaling.InvalidParameter, "team %.64q is not a valid id", o.Team)
	}
	if o.Name != "" {
		name, err := signaling.CheckName("name", o.Name)
		if err != nil {
			return o, err
		}
		o.Name = name
	}
	return o, nil
}

// Sign makes a token for user, issued at now; o must have passed Check.
func (s *Signer) Sign(user string, o Options, now time.Time) (string, error) {
	team := o.Team
	if team == DefaultTeam {
		team = ""
	}
	var link *GuestLink
	if o.Link != nil && o.Link.Key != "" {
		link = o.Link
	}
	c := Claims{
		Role:   o.Role,
		Data:   o.Data,
		Team:   team,
		Device: o.Device,
		Link:   link,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   user,
			ID:        strings.ToLower(rand.Text()),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(o.TTL)),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return tok, nil
}

// Verify checks a token's signature, issuer, expiry, subject and role. A
// refusal is an InvalidToken error that says why and what to do.
func (s *Signer) Verify(tok string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	const fix = "sign in again (`parley login INVITE`) or get a new token (`parley token USER --api-key KEY`)"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return c, signaling.Errorf(signaling.InvalidToken, "token expired at %s: %s",
			c.ExpiresAt.UTC().Format(time.RFC3339), fix)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return c, signaling.Errorf(signaling.InvalidToken, "token was not signed by this server: %s", fix)
	case err != nil:
		return c, signaling.Errorf(signaling.InvalidToken, "token is not valid (%v): %s", err, fix)
	}
	// Any id the server ever issued a token to (ValidID), not only those
	// it takes for new users now (CheckUserID).
	if !signaling.ValidID(c.Subject) {
		return c, signaling.Errorf(signaling.InvalidToken, "token names no valid user: %s", fix)
	}
	switch c.Role {
	case "", RoleMember, RoleAdmin, RoleGuest:
	default:
		return c, signaling.Errorf(signaling.InvalidToken, "token has a bad role %.40q: %s", c.Role, fix)
	}
	if (c.Team != "" && !signaling.ValidID(c.Team)) || (c.Device != "" && !signaling.ValidID(c.Device)) {
		return c, signaling.Errorf(signaling.InvalidToken, "token names no valid team or device: %s", fix)
	}
	if c.Link != nil && (c.Role != RoleGuest || c.Link.Key == "" || !signaling.ValidID(c.Link.Host)) {
		return c, signaling.Errorf(signaling.InvalidToken, "token has a bad guest link: open the link again")
	}
	return c, nil
}
