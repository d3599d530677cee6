package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// Files in DataDir.
const (
	secretFile = "token_secret"
	apiKeyFile = "api_key"
)

// TokenOptions customise a token. The zero value is a member's token of the
// default team valid for Config.TokenTTL, without data.
type TokenOptions struct {
	Role string        // RoleMember (default), RoleAdmin or RoleGuest
	Data string        // free metadata for the token's holder, at most signaling.MaxDataLength characters
	TTL  time.Duration // lifetime; 0 means Config.TokenTTL; at most MaxTokenTTL
	Team string        // the user's team; "" is DefaultTeam
	Name string        // a display name to record for the user; "" keeps theirs

	device string // the device an access token is for
	link   guestLink
}

// guestLink is what a guest link's token carries: the link, the host the
// guest may call and the guest's name.
type guestLink struct {
	Key  string `json:"key"` // the link's key in the links bucket
	Host string `json:"host"`
	Name string `json:"name"`
}

// Claims are the claims of a parley token (JWT, HS256).
type Claims struct {
	Role   string `json:"role"`
	Data   string `json:"data,omitempty"`
	Team   string `json:"team,omitempty"` // absent for the default team
	Device string `json:"did,omitempty"`  // the device an access token was issued to
	// Link is set in the token of a guest who opened a guest link: it can
	// only call the link's host (links.go).
	Link *guestLink `json:"lnk,omitempty"`
	jwt.RegisteredClaims
}

// team is the token's team.
func (c Claims) team() string {
	if c.Team == "" {
		return DefaultTeam
	}
	return c.Team
}

// issued is when the token was issued.
func (c Claims) issued() time.Time {
	if c.IssuedAt == nil {
		return time.Time{}
	}
	return c.IssuedAt.Time
}

// tokens signs and verifies tokens with the server's secret.
type tokens struct {
	secret []byte
	ttl    time.Duration // default lifetime
}

// check validates o, filling in the defaults, or returns an
// InvalidParameter error saying what is wrong.
func (t *tokens) check(user string, o TokenOptions) (TokenOptions, error) {
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
		return o, signaling.Errorf(signaling.InvalidParameter, "data is %d characters, over the limit of %d", n, signaling.MaxDataLength)
	}
	if !utf8.ValidString(o.Data) {
		return o, signaling.Errorf(signaling.InvalidParameter, "data is not valid UTF-8")
	}
	if o.TTL == 0 {
		o.TTL = t.ttl
	}
	if o.TTL < time.Second || o.TTL > MaxTokenTTL {
		return o, signaling.Errorf(signaling.InvalidParameter, "ttl %v is outside 1s to %v", o.TTL, MaxTokenTTL)
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

// sign makes a token for user; o must have passed check.
func (t *tokens) sign(user string, o TokenOptions, now time.Time) (string, error) {
	team := o.Team
	if team == DefaultTeam {
		team = ""
	}
	var link *guestLink
	if o.link.Key != "" {
		link = &o.link
	}
	c := Claims{
		Role:   o.Role,
		Data:   o.Data,
		Team:   team,
		Device: o.device,
		Link:   link,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   user,
			ID:        newID(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(o.TTL)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("server: sign token: %w", err)
	}
	return s, nil
}

// verify checks a token's signature, issuer, expiry, subject and role. A
// refusal is an InvalidToken error that says why and what to do.
func (t *tokens) verify(s string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
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

// keysEqual compares two API keys in constant time (of their hashes, so
// that not even the length leaks).
func keysEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// newID returns a random id of 26 lower-case letters and digits.
func newID() string { return strings.ToLower(rand.Text()) }

// loadSecret reads the token secret from dir, making one on first start.
func loadSecret(dir string) ([]byte, error) {
	s, _, err := loadOrCreate(filepath.Join(dir, secretFile), func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b)
	})
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("server: %s is damaged: remove it to make a new one (every token issued so far stops working)",
			filepath.Join(dir, secretFile))
	}
	return b, nil
}

// loadAPIKey reads the API key from dir, generating one when there is none;
// generated says whether it did.
func loadAPIKey(dir string) (key string, generated bool, err error) {
	return loadOrCreate(filepath.Join(dir, apiKeyFile), rand.Text)
}

// loadOrCreate returns the trimmed content of path, or, when it does not
// exist, writes generate() there with mode 0600 and returns it with created
// true. A file that another process creates at the same moment wins.
func loadOrCreate(path string, generate func() string) (value string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", false, fmt.Errorf("server: %s is empty: remove it to make a new one", path)
		}
		return v, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("server: %w", err)
	}
	v := generate()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreate(path, generate)
	}
	if err != nil {
		return "", false, fmt.Errorf("server: %w", err)
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", false, fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("server: write %s: %w", path, err)
	}
	return v, true, nil
}
