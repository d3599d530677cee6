package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/token"
	"github.com/parley-voice/parley/signaling/server/turn"
)

// Sign-in: invites, device credentials, access tokens, logout and
// revocation (docs/SERVER.md tells the design).

// credentialPrefix starts every device credential, so that a credential is
// told from a token at a glance.
const credentialPrefix = "pd1"

// inviteAlphabet has no look-alikes (no 0 o 1 l i): 31 symbols, so the
// twelve of a code carry 59 bits.
const inviteAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

const inviteLength = 12

// maxBody is the largest request body the JSON endpoints read.
const maxBody = 16 << 10

// newInviteCode returns a random code like "k7dm-q2xe-hw4n".
func newInviteCode() string {
	b := make([]byte, inviteLength)
	out := make([]byte, 0, inviteLength+2)
	for i := range b {
		for { // rejection sampling: no bias
			var r [1]byte
			_, _ = rand.Read(r[:])
			if int(r[0]) < 256-256%len(inviteAlphabet) {
				b[i] = inviteAlphabet[int(r[0])%len(inviteAlphabet)]
				break
			}
		}
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, b[i])
	}
	return string(out)
}

// normalizeCode makes a typed code comparable: lower case, without the
// dashes and spaces. It returns "" for what cannot be a code.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(inviteAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != inviteLength {
		return ""
	}
	return b.String()
}

// makeCredential encodes a device credential.
func makeCredential(team, user, device, secret string) string {
	who := base64.RawURLEncoding.EncodeToString([]byte(team + "\n" + user))
	return strings.Join([]string{credentialPrefix, who, device, secret}, ".")
}

// parseCredential decodes a device credential; ok is false for anything
// that is not one.
func parseCredential(c string) (team, user, device, secret string, ok bool) {
	parts := strings.Split(c, ".")
	if len(c) > signaling.MaxTokenLength || len(parts) != 4 || parts[0] != credentialPrefix {
		return "", "", "", "", false
	}
	who, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", "", "", false
	}
	team, user, ok = strings.Cut(string(who), "\n")
	if !ok || !signaling.ValidID(team) || !signaling.ValidID(user) || !signaling.ValidID(parts[2]) ||
		len(parts[3]) < 32 {
		return "", "", "", "", false
	}
	return team, user, parts[2], parts[3], true
}

// deviceKey is a device's key in the devices bucket.
func deviceKey(team, user, device string) string {
	return store.UserKey(team, user) + "." + store.Token(device)
}

// decodeBody reads a JSON request body into v, strictly.
func decodeBody(r *http.Request, v any) *signaling.Error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return signaling.Errorf(signaling.InvalidParameter, "could not read the request: %v", err)
	}
	if len(b) > maxBody {
		return signaling.Errorf(signaling.InvalidParameter, "request body is over the limit of %d bytes", maxBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return signaling.Errorf(signaling.InvalidParameter, "request is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

// badInvite is the refusal of a code that cannot be used, whatever the
// reason, so that it tells nothing about other codes.
func badInvite() *signaling.Error {
	return signaling.Errorf(signaling.InvalidToken,
		"this invite cannot be used: it is mistyped, was used already, or expired; ask your admin for a new one")
}

// handleLogin trades an invite for a device credential: POST
// /v1/auth/login {invite, device}.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	done, ok := s.gate(w, r, limitLogin)
	if !ok {
		return
	}
	var req signaling.LoginRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	deviceName := req.Device
	if strings.TrimSpace(deviceName) == "" {
		deviceName = "device"
	}
	deviceName, err := signaling.CheckName("device name", deviceName)
	if err != nil {
		s.httpError(w, r, "", signaling.AsError(err))
		return
	}
	code := normalizeCode(req.Invite)
	if code == "" {
		done(false)
		s.httpError(w, r, "", badInvite())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	var inv store.Invite
	key := hashHex(code)
	rev, found, err := store.GetJSON(ctx, s.store.Invites, key, &inv)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the invite: %v", err))
		return
	}
	// An invite made before user ids were checked as they are now makes
	// no user of an id that is no longer taken.
	if !found || time.Now().After(inv.Expires) || signaling.CheckUserID(inv.User) != nil {
		done(false)
		if found {
			_ = s.store.Invites.Delete(ctx, key, jetstream.LastRevision(rev))
		}
		s.httpError(w, r, "", badInvite())
		return
	}
	// Spend it: of two logins with one code, one deletes it at rev.
	if err := s.store.Invites.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		done(false)
		s.httpError(w, r, inv.User, badInvite())
		return
	}
	done(true)
	u, err := s.saveUser(ctx, inv.Team, inv.User, func(u *store.User) {
		u.Role = inv.Role
		if inv.Name != "" {
			u.Name = inv.Name
		}
	})
	if err != nil {
		s.httpError(w, r, inv.User, signaling.AsError(err))
		return
	}
	dev := store.Device{
		ID: "dev-" + newID()[:10], Team: inv.Team, User: inv.User, Name: deviceName,
		Created: time.Now().UTC(),
	}
	secret := strings.ToLower(rand.Text() + rand.Text())
	dev.SecretHash = hashHex(secret)
	b, _ := json.Marshal(dev)
	if _, err := s.store.Devices.Create(ctx, deviceKey(dev.Team, dev.User, dev.ID), b); err != nil {
		s.httpError(w, r, inv.User, signaling.Errorf(signaling.UnknownError, "could not record the device: %v", err))
		return
	}
	s.log.Info("signed in", "user", inv.User, "team", inv.Team, "role", u.EffectiveRole(), "device", dev.ID,
		"device_name", dev.Name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, signaling.Login{
		User: inv.User, Name: u.Name, Team: inv.Team, Role: u.EffectiveRole(), Device: dev.ID,
		Credential: makeCredential(dev.Team, dev.User, dev.ID, secret),
	})
}

// badCredential is the refusal of a device credential that is not good.
func badCredential(revoked bool) *signaling.Error {
	if revoked {
		return signaling.Errorf(signaling.InvalidToken,
			"this device was signed out (revoked): sign in again with a new invite (`parley login INVITE`)")
	}
	return signaling.Errorf(signaling.InvalidToken,
		"the device credential is not valid: sign in again with `parley login INVITE`")
}

// device checks the Authorization: Device credential of r. A refusal says
// why; the limiter hears of it.
func (s *Server) device(w http.ResponseWriter, r *http.Request) (store.Device, uint64, bool) {
	done, ok := s.gate(w, r, limitDevice)
	if !ok {
		return store.Device{}, 0, false
	}
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Device ")
	team, user, id, secret, valid := parseCredential(strings.TrimSpace(cred))
	if !ok || !valid {
		done(false)
		s.httpError(w, r, "", badCredential(false))
		return store.Device{}, 0, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	var dev store.Device
	rev, found, err := store.GetJSON(ctx, s.store.Devices, deviceKey(team, user, id), &dev)
	if err != nil {
		s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "could not read the device: %v", err))
		return store.Device{}, 0, false
	}
	if !found || !keysEqual(hashHex(secret), dev.SecretHash) {
		done(false)
		s.httpError(w, r, user, badCredential(false))
		return store.Device{}, 0, false
	}
	if !dev.Revoked.IsZero() {
		done(false)
		s.httpError(w, r, user, badCredential(true))
		return store.Device{}, 0, false
	}
	done(true)
	return dev, rev, true
}

// handleAccessToken trades a device credential for an access token: POST
// /v1/auth/token with Authorization: Device CRED.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	dev, rev, ok := s.device(w, r)
	if !ok {
		return
	}
	u, found, err := s.lookup(r.Context(), dev.Team, dev.User)
	if err != nil || !found {
		s.httpError(w, r, dev.User, signaling.Errorf(signaling.UnknownError, "the user of this device is missing: %v",
			err))
		return
	}
	now := time.Now()
	o := token.Options{Role: u.EffectiveRole(), Team: dev.Team, TTL: s.cfg.AccessTokenTTL, Device: dev.ID}
	tok, err := s.tokens.Sign(dev.User, o, now)
	if err != nil {
		s.httpError(w, r, dev.User, signaling.Errorf(signaling.UnknownError, "could not sign the token: %v", err))
		return
	}
	// The last use is to the second: renewals within it write nothing, so
	// that a device renewing in a loop does not win every race for its
	// record against a revocation (revokeDevice's store.Update).
	if used := now.UTC().Truncate(time.Second); !used.Equal(dev.LastUsed) {
		dev.LastUsed = used
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		if b, err := json.Marshal(dev); err == nil {
			if _, err := s.store.Devices.Update(ctx, deviceKey(dev.Team, dev.User, dev.ID), b, rev); err != nil {
				s.log.Debug("could not record the device's last use", "device", dev.ID, "err", err)
			}
		}
	}
	s.log.Debug("access token issued", "user", dev.User, "team", dev.Team, "device", dev.ID)
	writeJSON(w, http.StatusOK, signaling.AccessToken{
		Token: tok, Expires: now.Add(s.cfg.AccessTokenTTL).UTC().Truncate(time.Second),
		User: dev.User, Name: u.Name, Role: u.EffectiveRole(),
	})
}

// handleLogout revokes the device of the credential: POST /v1/auth/logout.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	dev, _, ok := s.device(w, r)
	if !ok {
		return
	}
	if _, err := s.revokeDevice(r.Context(), dev.Team, dev.User, dev.ID); err != nil {
		s.httpError(w, r, dev.User, signaling.AsError(err))
		return
	}
	s.log.Info("signed out", "user", dev.User, "team", dev.Team, "device", dev.ID)
	writeJSON(w, http.StatusOK, struct{}{})
}

// revokeDevice marks a device revoked and disconnects it everywhere. It
// reports whether it was not revoked before.
func (s *Server) revokeDevice(ctx context.Context, team, user, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	fresh := false
	_, err := store.Update(ctx, s.store.Devices, deviceKey(team, user, id), func(d *store.Device, found bool) bool {
		if !found || !d.Revoked.IsZero() {
			return false
		}
		d.Revoked, fresh = time.Now().UTC(), true
		return true
	})
	if err != nil {
		return false, signaling.Errorf(signaling.UnknownError, "could not revoke device %s: %v", id, err)
	}
	s.control(store.UserKey(team, user), ctlRevoke, id, nil)
	return fresh, nil
}

// revokeUser revokes every device of a user and every token issued to them
// so far, and the guest links they made, and disconnects them and their
// guests everywhere. It returns the devices revoked now.
func (s *Server) revokeUser(ctx context.Context, team, user string) ([]string, error) {
	var revoked []string
	devs, err := s.devicesOf(ctx, team, user)
	if err != nil {
		return nil, signaling.Errorf(signaling.UnknownError, "could not list the devices of %s: %v", user, err)
	}
	for _, d := range devs {
		fresh, err := s.revokeDevice(ctx, team, user, d.ID)
		if err != nil {
			return revoked, err
		}
		if fresh {
			revoked = append(revoked, d.ID)
		}
	}
	_, err = s.saveUser(ctx, team, user, func(u *store.User) { u.RevokedAt = time.Now().UTC() })
	if err != nil {
		return revoked, err
	}
	s.control(store.UserKey(team, user), ctlRevoke, "", nil)
	s.revokeGuests(ctx, team, user) // links.go
	return revoked, nil
}

// control publishes a control message on a user's subject (see hdrControl).
// A failure is logged: the checks at connect and refresh still hold.
func (s *Server) control(key, ctl, device string, body []byte) {
	msg := nats.NewMsg(userSubject(key))
	msg.Header.Set(hdrControl, ctl)
	if device != "" {
		msg.Header.Set(hdrDevice, device)
	}
	msg.Data = body
	if err := s.bus.nc.PublishMsg(msg); err != nil {
		s.log.Error("could not publish a control message", "control", ctl, "key", key, "err", err)
	}
}

// checkAccess checks that a verified token was not revoked since it was
// issued: its user's RevokedAt, and its device. It returns the user, or
// InvalidToken.
func (s *Server) checkAccess(ctx context.Context, c Claims) (store.User, error) {
	if c.Link != nil {
		return s.guestAccess(ctx, c) // links.go
	}
	team, user := c.TeamID(), c.Subject
	u, found, err := s.unrevoked(ctx, team, user, c.Device, c.Issued())
	if err != nil {
		return u, err
	}
	if !found {
		// Known by its valid token, but the users bucket lost it.
		u = s.markKnown(ctx, team, user, c.Role)
	}
	return u, nil
}

// unrevoked checks that access given to user at iat (on device, unless it
// is empty) was not revoked since: InvalidToken when it was. It returns
// the user's record, and whether there is one.
func (s *Server) unrevoked(ctx context.Context, team, user, device string, iat time.Time) (store.User, bool, error) {
	u, found, err := s.lookup(ctx, team, user)
	if err != nil {
		return u, false, signaling.Errorf(signaling.UnknownError, "%v", err)
	}
	if found && u.Revokes(iat) {
		return u, found, signaling.Errorf(signaling.InvalidToken,
			"your access was revoked by an admin: sign in again with a new invite (`parley login INVITE`)")
	}
	if device != "" {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
		var d store.Device
		_, dfound, err := store.GetJSON(ctx, s.store.Devices, deviceKey(team, user, device), &d)
		if err != nil {
			return u, found, signaling.Errorf(signaling.UnknownError, "could not read your device: %v", err)
		}
		if !dfound || !d.Revoked.IsZero() {
			return u, found, badCredential(true)
		}
	}
	return u, found, nil
}

// turnAllowed reports whether the holder of a TURN credential still has
// access (package turn): a guest's link still works for them (links.go). When
// the stores cannot tell, it allows: the credential is signed and expires.
func (s *Server) turnAllowed(h turn.Holder) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	var err error
	if h.Link != "" {
		_, err = s.guestLink(ctx, h.Link, h.User)
	} else {
		_, _, err = s.unrevoked(ctx, h.Team, h.User, h.Device, h.Issued)
	}
	var e *signaling.Error
	if errors.As(err, &e) && e.Code == signaling.InvalidToken {
		return false
	}
	if err != nil {
		s.log.Warn("turn: could not check a credential's holder", "user", h.User, "team", h.Team, "err", err)
	}
	return true
}

// bearer checks the Authorization: Bearer token of an API request, limited
// per address. It answers the refusal itself.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (Claims, store.User, bool) {
	return s.bearerOrGuest(w, r, false)
}

// bearerOrGuest is bearer that also takes, with guests, the token of a
// guest link's guest, while the link works (checkAccess).
func (s *Server) bearerOrGuest(w http.ResponseWriter, r *http.Request, guests bool) (Claims, store.User, bool) {
	done, ok := s.gate(w, r, limitBearer)
	if !ok {
		return Claims{}, store.User{}, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		done(false)
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidToken,
			"send your token as Authorization: Bearer TOKEN; sign in with `parley login INVITE`"))
		return Claims{}, store.User{}, false
	}
	c, err := s.tokens.Verify(tok)
	if err != nil {
		done(false)
		s.httpError(w, r, "", signaling.AsError(err))
		return Claims{}, store.User{}, false
	}
	u, err := s.checkAccess(r.Context(), c)
	if err != nil {
		done(false)
		s.httpError(w, r, c.Subject, signaling.AsError(err))
		return Claims{}, store.User{}, false
	}
	done(true)
	if c.Link != nil && !guests {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"a guest link is for one call: its token opens nothing else"))
		return Claims{}, store.User{}, false
	}
	return c, u, true
}

// teamOfKey finds the team whose API key key is; the server's own key is
// the default team's (server true).
func (s *Server) teamOfKey(ctx context.Context, key string) (team string, server, ok bool, err error) {
	if key == "" {
		return "", false, false, nil
	}
	if keysEqual(key, s.apiKey) {
		return DefaultTeam, true, true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	e, err := s.store.Teams.Get(ctx, "key."+hashHex(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, fmt.Errorf("server: look up API key: %w", err)
	}
	return string(e.Value()), false, true, nil
}

// wrongKey is the refusal of a missing or wrong API key.
func wrongKey(missing bool) *signaling.Error {
	what := "wrong"
	if missing {
		what = "missing"
	}
	return signaling.Errorf(signaling.InvalidToken,
		"%s API key: send it in the %s header; it is in the server's DATA_DIR/api_key or PARLEY_API_KEY, or the key "+
			"`parley admin team add` printed",
		what, HeaderAPIKey)
}

// checkAPIKey checks the APP_API_KEY header of r, limited per address, and
// answers the refusal itself.
func (s *Server) checkAPIKey(w http.ResponseWriter, r *http.Request, user string) (team string, server, ok bool) {
	done, ok := s.gate(w, r, limitAPIKey)
	if !ok {
		return "", false, false
	}
	key := r.Header.Get(HeaderAPIKey)
	team, server, found, err := s.teamOfKey(r.Context(), key)
	if err != nil {
		s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "%v", err))
		return "", false, false
	}
	if !found {
		done(false)
		s.httpError(w, r, user, wrongKey(key == ""))
		return "", false, false
	}
	done(true)
	return team, server, true
}

// adminCaller is who calls an admin endpoint.
type adminCaller struct {
	team   string
	server bool   // with the server's own API key
	by     string // "api key" or the admin's user id
}

// admin checks that r may administer a team: its API key, or a bearer
// token with the admin role. It answers the refusal itself.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) (adminCaller, bool) {
	if r.Header.Get(HeaderAPIKey) != "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		team, server, ok := s.checkAPIKey(w, r, "")
		return adminCaller{team: team, server: server, by: "api key"}, ok
	}
	c, _, ok := s.bearer(w, r)
	if !ok {
		return adminCaller{}, false
	}
	if c.Role != RoleAdmin {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"administration needs the team's API key or the admin role; you are a %s", c.Role))
		return adminCaller{}, false
	}
	return adminCaller{team: c.TeamID(), by: c.Subject}, true
}
