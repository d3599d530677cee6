package server

import (
	"cmp"
	"encoding/json"
	"net/http"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/ratelimit"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/turn"
)

// HTTP paths.
const (
	PathToken   = "/v1/voice/users/{user}/token"   // GET, header APP_API_KEY → {"token"}
	PathSession = "/v1/voice/users/{user}/session" // GET, Authorization: Bearer → {"user","online"}
	PathHealth  = "/healthz"                       // GET → {"status":"ok"}
	PathWS      = "/v1/ws"                         // the signaling WebSocket
)

// HeaderAPIKey is the header that carries the API key, as in the Gitple SDK.
const HeaderAPIKey = "APP_API_KEY"

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathToken, s.handleToken)
	mux.HandleFunc("GET "+PathSession, s.handleSession)
	mux.HandleFunc("GET "+PathHealth, s.handleHealth)
	mux.HandleFunc("GET "+PathWS, s.handleWS)

	mux.HandleFunc("POST "+signaling.PathLogin, s.handleLogin)
	mux.HandleFunc("POST "+signaling.PathAccessToken, s.handleAccessToken)
	mux.HandleFunc("POST "+signaling.PathLogout, s.handleLogout)
	mux.HandleFunc("GET "+signaling.PathContacts, s.handleContacts)
	mux.HandleFunc("PUT "+signaling.PathContacts+"/{user}", s.handleAddContact)
	mux.HandleFunc("DELETE "+signaling.PathContacts+"/{user}", s.handleRemoveContact)
	mux.HandleFunc("PUT "+signaling.PathMyPresence, s.handleMyPresence)
	mux.HandleFunc("GET "+signaling.PathDirectory, s.handleDirectory)
	mux.HandleFunc("GET "+signaling.PathPresence, s.handlePresence)
	mux.HandleFunc("POST "+signaling.PathInvites, s.handleInvite)
	mux.HandleFunc("GET "+signaling.PathUsers, s.handleUsers)
	mux.HandleFunc("GET "+signaling.PathDevices, s.handleDevices)
	mux.HandleFunc("POST "+signaling.PathRevoke, s.handleRevoke)
	mux.HandleFunc("POST "+signaling.PathTeams, s.handleTeams)
	mux.HandleFunc("GET "+signaling.PathInvitePage, s.handleInvitePage)
	mux.HandleFunc("POST "+signaling.PathLinks, s.handleMakeLink)          // links.go
	mux.HandleFunc("GET "+signaling.PathJoin, s.handleJoinPage)            // links.go
	mux.HandleFunc("POST "+signaling.PathJoin, s.handleJoin)               // links.go
	mux.Handle("GET "+pathGuestAssets, guestAssets())                      // links.go
	mux.HandleFunc("GET "+signaling.PathCalls, s.handleCalls)              // records.go
	mux.HandleFunc("GET "+signaling.PathHistory, s.handleHistory)          // history.go
	mux.HandleFunc("POST "+signaling.PathHistorySeen, s.handleHistorySeen) // history.go
	mux.HandleFunc("POST "+signaling.PathCallable, s.handleCallable)       // history.go
	mux.HandleFunc("POST "+signaling.PathWebhooks, s.handleAddWebhook)     // webhooks.go
	mux.HandleFunc("GET "+signaling.PathWebhooks, s.handleWebhooks)        // webhooks.go
	mux.HandleFunc("DELETE "+signaling.PathWebhook, s.handleRemoveWebhook) // webhooks.go
	mux.HandleFunc("POST "+signaling.PathRooms, s.handleCreateRoom)        // room.go
	mux.HandleFunc("GET "+signaling.PathRooms, s.handleRooms)              // room.go
	mux.HandleFunc("GET "+signaling.PathRoom, s.handleRoom)                // room.go
	mux.HandleFunc("DELETE "+signaling.PathRoom, s.handleEndRoom)          // room.go
	mux.HandleFunc("GET "+signaling.PathRoomRecords, s.handleRoomRecords)  // roomrecords.go
	s.voiceRoutes(mux)                                                     // voicemail.go

	s.textRoutes(mux) // texts.go
	return ratelimit.FromProxies(s.cfg.TrustedProxies, mux)
}

// tokenResponse is the token endpoint's answer, as in the Gitple SDK,
// with the STUN and TURN servers (short-lived TURN credentials) for the
// token's user beside it.
type tokenResponse struct {
	Token      string                `json:"token"`
	ICEServers []signaling.ICEServer `json:"ice_servers,omitempty"`
}

// sessionResponse is the session endpoint's answer.
type sessionResponse struct {
	User   string `json:"user"`
	Online bool   `json:"online"`
}

type healthResponse struct {
	Status string `json:"status"`
}

// handleToken issues a token: GET /v1/voice/users/{user}/token with the API
// key in APP_API_KEY; optional query ttl (Go duration), role, data, and name
// (a display name to record). The key's team is the user's team.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	team, _, ok := s.checkAPIKey(w, r, user)
	if !ok {
		return
	}
	q := r.URL.Query()
	o := TokenOptions{Role: q.Get("role"), Data: q.Get("data"), Name: q.Get("name"), Team: team}
	if v := q.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			s.httpError(w, r, user, signaling.Errorf(signaling.InvalidParameter,
				"ttl %.40q is not a positive duration such as 1h or 30m", v))
			return
		}
		o.TTL = d
	}
	tok, err := s.IssueToken(r.Context(), user, o)
	if err != nil {
		s.httpRefuse(w, r, user, err) // people.go
		return
	}
	s.log.Info("token issued", "user", user, "team", team, "role", cmp.Or(o.Role, RoleMember), "remote", r.RemoteAddr)
	holder := turn.Holder{User: user, Team: team, Issued: time.Now()}
	writeJSON(w, http.StatusOK, tokenResponse{Token: tok, ICEServers: s.turn.ICEServers(holder)})
}

// handleSession tells whether a user is online: GET
// /v1/voice/users/{user}/session with Authorization: Bearer TOKEN (any valid
// token), like the Gitple SDK's checkSession. A user of another team, or
// one a guest may not see, is offline, as is a user who does not exist.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if err := signaling.CheckUserID(user); err != nil {
		s.httpError(w, r, user, signaling.AsError(err))
		return
	}
	if vis, err := s.visible(r.Context(), c.TeamID(), c.Subject, c.Role, user); err != nil || !vis {
		if err != nil {
			s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "%v", err))
			return
		}
		writeJSON(w, http.StatusOK, sessionResponse{User: user})
		return
	}
	online, err := s.online(r.Context(), store.UserKey(c.TeamID(), user))
	if err != nil {
		s.httpError(w, r, user, signaling.Errorf(signaling.UnknownError, "could not read presence: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, sessionResponse{User: user, Online: online})
}

// handleHealth answers 200 {"status":"ok"} while NATS is up.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if !s.bus.nc.IsConnected() || (s.bus.ns != nil && !s.bus.ns.Running()) {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "nats unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
}

// httpError logs and writes a refusal as JSON {"code","name","message"}.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, user string, e *signaling.Error) {
	s.logRefusal(e, user, r.RemoteAddr, "path", r.URL.Path)
	status := http.StatusBadRequest
	switch e.Code {
	case signaling.InvalidToken:
		status = http.StatusUnauthorized
	case signaling.NotFoundUserSessionID:
		status = http.StatusNotFound
	case signaling.UnknownError:
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
