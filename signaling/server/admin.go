package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Administration of a team: invites, users, devices, revocation; and, with
// the server's own key, teams.

// publicLink is the link to path (such as /invite/CODE) on the server:
// on Config.PublicURL, else on the listener's own URL when it listens on
// one address; "" when it listens on every address (0.0.0.0, ::), as the
// server does not know which of its names people reach it at. It never
// takes the request's Host header, which whoever makes the request sets:
// the links' makers build them from the address they used (`parley invite`
// and `parley link` do).
func (s *Server) publicLink(path string) string {
	switch {
	case s.cfg.PublicURL != "":
		return strings.TrimSuffix(s.cfg.PublicURL, "/") + path
	case everyAddress(s.ln.Addr()):
		return ""
	}
	return s.URL() + path
}

// everyAddress reports whether a listener's address is every address of
// the host (an unspecified IP).
func everyAddress(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return !ok || tcp.IP.IsUnspecified()
}

// checkStoredUser is CheckUserID for a user who may exist already: any id
// the server ever made a user of (ValidID), so that an admin can still
// list, look up and revoke a user whose id new users may no longer have.
func checkStoredUser(id string) error {
	if signaling.ValidID(id) {
		return nil
	}
	return signaling.CheckUserID(id) // its refusal says what an id is
}

// handleInvite makes a single-use invite: POST /v1/admin/invites.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	var req signaling.InviteRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	if err := signaling.CheckUserID(req.User); err != nil {
		s.httpError(w, r, "", signaling.AsError(err))
		return
	}
	inv := store.Invite{Team: a.team, User: req.User, Role: req.Role, By: a.by}
	switch inv.Role {
	case "":
		inv.Role = RoleMember
	case RoleMember, RoleAdmin, RoleGuest:
	default:
		s.httpError(w, r, req.User, signaling.Errorf(signaling.InvalidParameter,
			"role %.40q is not one of member, admin, guest", req.Role))
		return
	}
	if req.Name != "" {
		name, err := signaling.CheckName("name", req.Name)
		if err != nil {
			s.httpError(w, r, req.User, signaling.AsError(err))
			return
		}
		inv.Name = name
	}
	ttl := s.cfg.InviteTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < time.Second || d > MaxInviteTTL {
			s.httpError(w, r, req.User, signaling.Errorf(signaling.InvalidParameter,
				"ttl %.40q is not a duration from 1s to %v, such as 24h", req.TTL, MaxInviteTTL))
			return
		}
		ttl = d
	}
	now := time.Now().UTC().Truncate(time.Second)
	inv.Created, inv.Expires = now, now.Add(ttl)
	code := newInviteCode()
	b, _ := json.Marshal(inv)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.store.Invites.Create(ctx, hashHex(normalizeCode(code)), b); err != nil {
		s.httpError(w, r, req.User, signaling.Errorf(signaling.UnknownError, "could not record the invite: %v", err))
		return
	}
	s.log.Info("invite made", "user", inv.User, "team", inv.Team, "role", inv.Role, "by", a.by, "expires", inv.Expires)
	writeJSON(w, http.StatusOK, signaling.Invite{
		Code: code, URL: s.publicLink("/invite/" + code),
		User: inv.User, Name: inv.Name, Role: inv.Role, Team: inv.Team, Expires: inv.Expires,
	})
}

// handleInvitePage tells a browser that followed an invite link what to do
// with it. It neither checks nor spends the code.
func (s *Server) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	link := s.publicLink("/invite/" + url.PathEscape(r.PathValue("code")))
	if link == "" {
		link = "LINK\n\nwith the address of this page (the link you opened) for LINK"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, "This is an invite to a parley voice server.\n\nTo sign in, run in a terminal:\n\n    parley "+
		"login %s\n\nThe invite works once.\n", link)
}

// handleUsers lists the users of the team: GET /v1/admin/users.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	users, err := s.listUsers(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not list users: %v", err))
		return
	}
	out := signaling.Users{Users: []signaling.UserInfo{}}
	for _, u := range users {
		p, err := s.person(r.Context(), a.team, u)
		if err != nil {
			s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "%v", err))
			return
		}
		info := signaling.UserInfo{Person: p, Team: a.team}
		if !u.Created.IsZero() {
			c := u.Created
			info.Created = &c
		}
		devs, err := s.devicesOf(r.Context(), a.team, u.User)
		if err != nil {
			s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "%v", err))
			return
		}
		for _, d := range devs {
			if d.Revoked.IsZero() {
				info.Devices++
			}
		}
		info.Disabled = !u.RevokedAt.IsZero() && info.Devices == 0
		out.Users = append(out.Users, info)
	}
	writeJSON(w, http.StatusOK, out)
}

// devicesOf reads the devices of a user, oldest first.
func (s *Server) devicesOf(ctx context.Context, team, user string) ([]store.Device, error) {
	return s.devices(ctx, presenceFilter(store.UserKey(team, user)))
}

// devices reads the devices whose keys match filter, oldest first.
func (s *Server) devices(ctx context.Context, filter string) ([]store.Device, error) {
	msgs, err := s.store.Latest(ctx, store.BucketDevices, filter)
	if err != nil {
		return nil, err
	}
	var out []store.Device
	for k, m := range msgs {
		var d store.Device
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, fmt.Errorf("server: device %s is damaged: %w", k, err)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b store.Device) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// handleDevices lists a user's devices: GET /v1/admin/users/{user}/devices.
func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	if err := checkStoredUser(user); err != nil {
		s.httpError(w, r, user, signaling.AsError(err))
		return
	}
	if _, found, err := s.lookup(r.Context(), a.team, user); err != nil {
		s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	} else if !found {
		s.httpError(w, r, user, unknownUser(user))
		return
	}
	devs, err := s.devicesOf(r.Context(), a.team, user)
	if err != nil {
		s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "could not list devices: %v", err))
		return
	}
	out := signaling.Devices{Devices: []signaling.Device{}}
	for _, d := range devs {
		out.Devices = append(out.Devices, d.Public())
	}
	writeJSON(w, http.StatusOK, out)
}

// findDevice finds a device of team by id.
func (s *Server) findDevice(ctx context.Context, team, id string) (store.Device, bool, error) {
	if !signaling.ValidID(id) {
		return store.Device{}, false, nil
	}
	devs, err := s.devices(ctx, store.TeamFilter(team)+"."+store.Token(id))
	if err != nil || len(devs) == 0 {
		return store.Device{}, false, err
	}
	return devs[0], devs[0].Team == team, nil
}

// handleRevoke revokes a device or a user: POST /v1/admin/revoke {target}.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	var req signaling.RevokeRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	if !signaling.ValidID(req.Target) { // a user of any id made before (checkStoredUser), or a device
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter, "name a user id or a device id to revoke"))
		return
	}
	ctx := r.Context()
	d, found, err := s.findDevice(ctx, a.team, req.Target)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not look up devices: %v", err))
		return
	}
	if found {
		if _, err := s.revokeDevice(ctx, d.Team, d.User, d.ID); err != nil {
			s.httpError(w, r, d.User, signaling.AsError(err))
			return
		}
		s.log.Info("device revoked", "user", d.User, "team", d.Team, "device", d.ID, "by", a.by)
		writeJSON(w, http.StatusOK, signaling.Revoked{User: d.User, Devices: []string{d.ID}})
		return
	}
	if _, found, err := s.lookup(ctx, a.team, req.Target); err != nil {
		s.httpError(w, r, req.Target, signaling.Errorf(signaling.UnknownError, "%v", err))
		return
	} else if !found {
		s.httpError(w, r, req.Target, unknownUser(req.Target))
		return
	}
	ids, err := s.revokeUser(ctx, a.team, req.Target)
	if err != nil {
		s.httpError(w, r, req.Target, signaling.AsError(err))
		return
	}
	if ids == nil {
		ids = []string{}
	}
	s.log.Info("user revoked", "user", req.Target, "team", a.team, "devices", len(ids), "by", a.by)
	writeJSON(w, http.StatusOK, signaling.Revoked{User: req.Target, Devices: ids, All: true})
}

// handleTeams creates a team: POST /v1/admin/teams {name}, with the
// server's own API key.
func (s *Server) handleTeams(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	if !a.server {
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter,
			"only the server's own API key (DATA_DIR/api_key) can create teams"))
		return
	}
	var req signaling.TeamRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	if !signaling.ValidID(req.Name) || req.Name == DefaultTeam {
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter,
			"team name %.64q is not valid: use 1 to 64 letters, digits and . _ - @ +, not %q", req.Name, DefaultTeam))
		return
	}
	key := rand.Text()
	rec := store.Team{Team: req.Name, KeyHash: hashHex(key), Created: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.store.Teams.Create(ctx, "team."+store.Token(req.Name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter, "team %s exists already", req.Name))
			return
		}
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not record the team: %v", err))
		return
	}
	if _, err := s.store.Teams.Create(ctx, "key."+rec.KeyHash, []byte(req.Name)); err != nil {
		_ = s.store.Teams.Delete(ctx, "team."+store.Token(req.Name))
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not record the team's key: %v", err))
		return
	}
	s.log.Info("team created", "team", req.Name)
	writeJSON(w, http.StatusOK, signaling.Team{Team: req.Name, APIKey: key})
}
