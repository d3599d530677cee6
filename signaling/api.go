package signaling

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The HTTP API besides the Gitple token and session endpoints: signing in
// with an invite, device credentials and access tokens, contacts, the
// directory, presence, and administration. Every refusal is an *Error in
// the body, with an HTTP status that fits (400, 401, 404, 429, 500).

// Paths of the HTTP API.
const (
	PathLogin       = "/v1/auth/login"                 // POST LoginRequest → Login
	PathAccessToken = "/v1/auth/token"                 // POST, Authorization: Device CRED → AccessToken
	PathLogout      = "/v1/auth/logout"                // POST, Authorization: Device CRED: the device is revoked
	PathContacts    = "/v1/me/contacts"                // GET → People; PUT or DELETE /v1/me/contacts/{user}
	PathMyPresence  = "/v1/me/presence"                // PUT PresenceRequest → Person
	PathDirectory   = "/v1/directory"                  // GET ?q= → People
	PathPresence    = "/v1/users/{user}/presence"      // GET [?wait=DUR] → Person
	PathInvites     = "/v1/admin/invites"              // POST InviteRequest → Invite
	PathUsers       = "/v1/admin/users"                // GET → Users
	PathDevices     = "/v1/admin/users/{user}/devices" // GET → Devices
	PathRevoke      = "/v1/admin/revoke"               // POST RevokeRequest → Revoked
	PathTeams       = "/v1/admin/teams"                // POST TeamRequest → Team (server key only)
	PathInvitePage  = "/invite/{code}"                 // GET: the invite link, for a browser
	PathLinks       = "/v1/me/links"                   // POST LinkRequest → Link: a guest link to a call with you
	PathJoin        = "/join/{code}"                   // GET: a guest link's call page; POST: join it → Join
)

// MaxWait is the longest a presence request may wait for a user to come
// online.
const MaxWait = time.Minute

// LoginRequest trades an invite for a device credential.
type LoginRequest struct {
	Invite string `json:"invite"`           // the code
	Device string `json:"device,omitempty"` // a name for this device, such as the host name
}

// Login is a successful sign-in: who you are and this device's credential,
// to keep (it does not expire; logout or an admin revokes it).
type Login struct {
	User       string `json:"user"`
	Name       string `json:"name,omitempty"`
	Team       string `json:"team"`
	Role       string `json:"role"`
	Device     string `json:"device"`     // the device id
	Credential string `json:"credential"` // DEVICE.SECRET
}

// AccessToken is a short-lived token traded for a device credential.
type AccessToken struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Role    string    `json:"role"`
}

// People is a list of persons (contacts, the directory).
type People struct {
	People []Person `json:"people"`
}

// PresenceRequest sets your own state by hand.
type PresenceRequest struct {
	State State `json:"state,omitempty"` // online (clears), away or dnd; "" keeps it
	// CallWaiting, when set, turns call waiting on or off for every device:
	// off, a call while in another is refused as busy (80202) instead of
	// ringing as a waiting call.
	CallWaiting *bool `json:"call_waiting,omitempty"`
}

// InviteRequest asks for a single-use invite for User.
type InviteRequest struct {
	User string `json:"user"`
	Name string `json:"name,omitempty"` // display name
	Role string `json:"role,omitempty"` // member (default), admin or guest
	TTL  string `json:"ttl,omitempty"`  // how long it may be used, a Go duration; default the server's
}

// Invite is a single-use invite: the code, and a link that carries it.
type Invite struct {
	Code    string    `json:"code"`
	URL     string    `json:"url"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Role    string    `json:"role"`
	Team    string    `json:"team"`
	Expires time.Time `json:"expires"`
}

// LinkRequest asks for a guest link: a call page for one person who has
// no account, to call the one who made it.
type LinkRequest struct {
	Name string `json:"name,omitempty"` // the guest's name, shown to you when they knock; default "Guest"
	TTL  string `json:"ttl,omitempty"`  // how long it may be opened, a Go duration; default the server's (2 h)
}

// Link is a guest link. Whoever opens it first in a browser is the guest;
// it opens again only in that browser, until the call with its host ends
// (completed, or the guest was turned away) or it expires.
type Link struct {
	URL       string    `json:"url"`
	Code      string    `json:"code"`
	Host      string    `json:"host"` // who made it, and whom the guest calls
	HostName  string    `json:"host_name,omitempty"`
	Guest     string    `json:"guest"` // the guest's user id, as calls name them
	GuestName string    `json:"guest_name"`
	Expires   time.Time `json:"expires"`
	Room      string    `json:"room,omitempty"` // a room's link: the guest joins this room (room.go)
}

// Join is what a browser gets for opening a guest link: a guest token that
// can only call the host, and the STUN and TURN servers.
type Join struct {
	Token      string      `json:"token"`
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	Host       string      `json:"host"`
	HostName   string      `json:"host_name,omitempty"`
	Guest      string      `json:"guest"`
	GuestName  string      `json:"guest_name"`
	Expires    time.Time   `json:"expires"`        // of the link
	Room       string      `json:"room,omitempty"` // a room's link: join this room, and wait in its lobby
}

// UserInfo is a user as an admin sees them.
type UserInfo struct {
	Person
	Team     string     `json:"team"`
	Created  *time.Time `json:"created,omitempty"`
	Devices  int        `json:"devices"` // devices signed in and not revoked
	Disabled bool       `json:"disabled,omitempty"`
}

// Users is the users of a team.
type Users struct {
	Users []UserInfo `json:"users"`
}

// Device is a signed-in device.
type Device struct {
	ID       string     `json:"id"`
	User     string     `json:"user"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
}

// Devices is a user's devices.
type Devices struct {
	Devices []Device `json:"devices"`
}

// RevokeRequest revokes a device (by id) or every device of a user.
type RevokeRequest struct {
	Target string `json:"target"`
}

// Revoked tells what a revoke did.
type Revoked struct {
	User    string   `json:"user"`
	Devices []string `json:"devices"` // the ids revoked now
	All     bool     `json:"all"`     // the target was the user: every device, and tokens issued before now
}

// TeamRequest creates a team.
type TeamRequest struct {
	Name string `json:"name"`
}

// Team is a new team with its API key (shown once: the server keeps a hash).
type Team struct {
	Team   string `json:"team"`
	APIKey string `json:"api_key"`
}

// API is a client of the HTTP API. Set Token for a user's requests, APIKey
// (or a Token with the admin role) for administration.
type API struct {
	Server string       // http(s)://host:port
	HTTP   *http.Client // nil: http.DefaultClient
	// Token returns a token to send as Authorization: Bearer.
	Token  func(ctx context.Context) (string, error)
	APIKey string // sent as APP_API_KEY
}

// Login trades an invite code for a device credential at server.
func (a *API) Login(ctx context.Context, code, device string) (Login, error) {
	var out Login
	err := a.do(ctx, http.MethodPost, PathLogin, nil, LoginRequest{Invite: code, Device: device}, &out)
	return out, err
}

// AccessToken trades a device credential for an access token.
func (a *API) AccessToken(ctx context.Context, credential string) (AccessToken, error) {
	var out AccessToken
	err := a.do(ctx, http.MethodPost, PathAccessToken, http.Header{"Authorization": {"Device " + credential}}, nil,
		&out)
	return out, err
}

// Logout revokes the device of credential.
func (a *API) Logout(ctx context.Context, credential string) error {
	return a.do(ctx, http.MethodPost, PathLogout, http.Header{"Authorization": {"Device " + credential}}, nil, nil)
}

// Contacts lists your contacts with their presence.
func (a *API) Contacts(ctx context.Context) ([]Person, error) {
	var out People
	err := a.do(ctx, http.MethodGet, PathContacts, a.bearer, nil, &out)
	return out.People, err
}

// AddContact adds user to your contacts.
func (a *API) AddContact(ctx context.Context, user string) (Person, error) {
	var out Person
	if err := CheckUserID(user); err != nil {
		return out, err
	}
	err := a.do(ctx, http.MethodPut, PathContacts+"/"+url.PathEscape(user), a.bearer, nil, &out)
	return out, err
}

// RemoveContact removes user from your contacts.
func (a *API) RemoveContact(ctx context.Context, user string) error {
	if err := CheckUserID(user); err != nil {
		return err
	}
	return a.do(ctx, http.MethodDelete, PathContacts+"/"+url.PathEscape(user), a.bearer, nil, nil)
}

// Directory lists the people of your team whose id or name contains q.
func (a *API) Directory(ctx context.Context, q string) ([]Person, error) {
	var out People
	p := PathDirectory
	if q != "" {
		p += "?q=" + url.QueryEscape(q)
	}
	err := a.do(ctx, http.MethodGet, p, a.bearer, nil, &out)
	return out.People, err
}

// SetPresence sets your state by hand: online (clears), away or dnd.
func (a *API) SetPresence(ctx context.Context, s State) (Person, error) {
	var out Person
	err := a.do(ctx, http.MethodPut, PathMyPresence, a.bearer, PresenceRequest{State: s}, &out)
	return out, err
}

// SetCallWaiting turns call waiting on or off for every device of yours.
func (a *API) SetCallWaiting(ctx context.Context, on bool) (Person, error) {
	var out Person
	err := a.do(ctx, http.MethodPut, PathMyPresence, a.bearer, PresenceRequest{CallWaiting: &on}, &out)
	return out, err
}

// Presence tells user's state. With wait > 0, the server waits up to wait
// (at most MaxWait) for an offline user to come online before answering.
func (a *API) Presence(ctx context.Context, user string, wait time.Duration) (Person, error) {
	var out Person
	if err := CheckUserID(user); err != nil {
		return out, err
	}
	p := strings.Replace(PathPresence, "{user}", url.PathEscape(user), 1)
	if wait > 0 {
		p += "?wait=" + url.QueryEscape(min(wait, MaxWait).String())
	}
	err := a.do(ctx, http.MethodGet, p, a.bearer, nil, &out)
	return out, err
}

// Invite makes a single-use invite.
func (a *API) Invite(ctx context.Context, r InviteRequest) (Invite, error) {
	var out Invite
	err := a.do(ctx, http.MethodPost, PathInvites, a.admin, r, &out)
	return out, err
}

// MakeLink makes a guest link to a call with the signed-in user.
func (a *API) MakeLink(ctx context.Context, r LinkRequest) (Link, error) {
	var out Link
	err := a.do(ctx, http.MethodPost, PathLinks, a.bearer, r, &out)
	return out, err
}

// Users lists the users of the team.
func (a *API) Users(ctx context.Context) ([]UserInfo, error) {
	var out Users
	err := a.do(ctx, http.MethodGet, PathUsers, a.admin, nil, &out)
	return out.Users, err
}

// Devices lists user's devices, revoked ones included.
func (a *API) Devices(ctx context.Context, user string) ([]Device, error) {
	var out Devices
	if err := CheckUserID(user); err != nil {
		return nil, err
	}
	err := a.do(ctx, http.MethodGet, strings.Replace(PathDevices, "{user}", url.PathEscape(user), 1), a.admin, nil,
		&out)
	return out.Devices, err
}

// Revoke revokes a device by id, or every device of a user.
func (a *API) Revoke(ctx context.Context, target string) (Revoked, error) {
	var out Revoked
	err := a.do(ctx, http.MethodPost, PathRevoke, a.admin, RevokeRequest{Target: target}, &out)
	return out, err
}

// AddTeam creates a team; it needs the server's own API key.
func (a *API) AddTeam(ctx context.Context, name string) (Team, error) {
	var out Team
	err := a.do(ctx, http.MethodPost, PathTeams, a.admin, TeamRequest{Name: name}, &out)
	return out, err
}

// bearer and admin make the headers of do.
func (a *API) bearer(ctx context.Context) (http.Header, error) {
	if a.Token == nil {
		return nil, Errorf(InvalidToken, "not signed in: run `parley login INVITE`, or pass --token")
	}
	tok, err := a.Token(ctx)
	if err != nil {
		return nil, err
	}
	return http.Header{"Authorization": {"Bearer " + tok}}, nil
}

func (a *API) admin(ctx context.Context) (http.Header, error) {
	if a.APIKey != "" {
		return http.Header{HeaderAPIKey: {a.APIKey}}, nil
	}
	if a.Token != nil {
		return a.bearer(ctx)
	}
	return nil, Errorf(InvalidParameter, "no API key: pass --api-key KEY or set PARLEY_API_KEY")
}

// HeaderAPIKey is the header that carries an API key, as in the Gitple SDK.
const HeaderAPIKey = "APP_API_KEY"

// do sends a request with a JSON body (when body is not nil) and decodes a
// JSON answer into out (when not nil). h is a header, a headerFunc, or nil.
func (a *API) do(ctx context.Context, method, path string, h any, body, out any) error {
	u, err := endpoint(a.Server, "")
	if err != nil {
		return err
	}
	u = strings.TrimSuffix(u, "/") + path
	var header http.Header
	switch h := h.(type) {
	case http.Header:
		header = h
	case func(context.Context) (http.Header, error):
		if header, err = h(ctx); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("signaling: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("signaling: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v // APP_API_KEY as written
	}
	return roundTrip(a.HTTP, req, a.Server, out)
}

// roundTrip sends req and decodes the answer: out on 200, an *Error
// otherwise.
func roundTrip(hc *http.Client, req *http.Request, server string, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("signaling: read %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(b, &e) == nil && e.Code != 0 {
			return &e
		}
		return fmt.Errorf("signaling: %s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok { // a voice message's recording (voicemail.go)
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("signaling: decode %s: %w", req.URL.Path, err)
	}
	return nil
}

// transportError explains a failure to reach the server: nothing answered
// (an *UnreachableError), or a certificate that is not trusted.
func transportError(server string, err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify) && errors.As(verify.Err, &unknown):
		return fmt.Errorf("signaling: %s: its certificate is not signed by a CA this machine trusts; pass --ca FILE "+
			"with the CA that signed it: %w", server, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("signaling: %s: its certificate is for another name: %w", server, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("signaling: %s: its certificate is not valid: %w", server, err)
	case unreachable(err):
		return &UnreachableError{Servers: []string{server}, Err: err}
	}
	return fmt.Errorf("signaling: %s: %w", server, err)
}

// TokenTimes reads when a token was issued and when it expires, without
// checking its signature (the server does): the client uses them to renew
// it in time. ok is false for a token that does not say.
func TokenTimes(token string) (issued, expires time.Time, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return issued, expires, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return issued, expires, false
	}
	var c struct {
		IAT float64 `json:"iat"`
		EXP float64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.EXP == 0 {
		return issued, expires, false
	}
	unix := func(f float64) time.Time { return time.Unix(0, int64(f*float64(time.Second))) }
	return unix(c.IAT), unix(c.EXP), true
}
