package server

// Guest links: a call page for someone who has no account, in their
// browser. A member makes a link (POST /v1/me/links); the first browser
// to join it claims it (a cookie), gets a guest token that can only call
// the link's host, and knocks; the link is spent once its call completes
// or is rejected. The guest's token and relay credentials work while the
// link does (guestLink). docs/SERVER.md tells the design.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/token"
	"github.com/parley-voice/parley/signaling/server/turn"
)

// guestCallMargin is how long past its link's expiry a guest's call may go
// on: a call answered just before the link expires. The guest's token and
// relay credentials, and the link's record, last until the link's expiry
// and this margin; past the expiry they work only while the guest is in a
// call.
const guestCallMargin = 4 * time.Hour

// linkCookie names the cookie by which the browser that claimed a link
// shows it again.
const linkCookie = "parley_guest"

// pathGuestAssets serves the call page's script and style sheet.
const pathGuestAssets = "/guest/"

//go:embed web
var webFS embed.FS

var joinPage = template.Must(template.ParseFS(webFS, "web/join.html"))

// How a spent link's call ended.
const (
	spentCompleted = string(signaling.Completed)
	spentRejected  = string(signaling.Rejected)
)

// linkRecord is the value of a key in the links bucket.
type linkRecord struct {
	Team      string    `json:"team"`
	Host      string    `json:"host"`
	HostName  string    `json:"host_name,omitempty"`
	Guest     string    `json:"guest"`
	GuestName string    `json:"guest_name"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	ClaimHash string    `json:"claim_hash,omitempty"` // of the secret of the browser that joined first
	Spent     string    `json:"spent,omitempty"`      // spentCompleted or spentRejected
	Room      string    `json:"room,omitempty"`       // a room's link (roomguests.go): Host is the room's host
}

// linkCode returns a random code of 26 lower-case letters and digits.
func linkCode() string { return strings.ToLower(rand.Text()) }

// handleMakeLink makes a guest link to a call with the caller: POST
// /v1/me/links {name, ttl}.
func (s *Server) handleMakeLink(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if c.Role == RoleGuest {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"a guest cannot make guest links: ask a member of your team to make one"))
		return
	}
	var req signaling.LinkRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	name := "Guest"
	if strings.TrimSpace(req.Name) != "" {
		n, err := signaling.CheckName("the guest's name", req.Name)
		if err != nil {
			s.httpError(w, r, c.Subject, signaling.AsError(err))
			return
		}
		name = n
	}
	ttl := s.cfg.LinkTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < time.Second || d > MaxLinkTTL {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
				"expires %.40q is not a duration from 1s to %v, such as 2h", req.TTL, MaxLinkTTL))
			return
		}
		ttl = d
	}
	now := time.Now().UTC().Truncate(time.Second)
	rec := linkRecord{
		Team: c.TeamID(), Host: c.Subject, HostName: u.Name,
		Guest: "guest-" + newID()[:12], GuestName: name,
		Created: now, Expires: now.Add(ttl),
	}
	code := linkCode()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if e := s.countLink(ctx, hashHex(code), rec); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if err := s.store.PutLink(ctx, hashHex(code), rec, 0, s.linkEnd(rec.Expires)); err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not record the link: %v", err))
		return
	}
	s.log.Info("guest link made", "host", rec.Host, "team", rec.Team, "guest", rec.Guest, "expires", rec.Expires)
	writeJSON(w, http.StatusOK, signaling.Link{
		URL: s.publicLink("/join/" + code), Code: code, // admin.go
		Host: rec.Host, HostName: rec.HostName, Guest: rec.Guest, GuestName: rec.GuestName, Expires: rec.Expires,
	})
}

// linkState is what a browser may do with a link.
type linkState int

const (
	linkOpen    linkState = iota // join, or join again
	linkUnknown                  // no such link (mistyped, or older than MaxLinkTTL)
	linkExpired
	linkTaken // claimed by another browser
	linkOver  // its call completed
	linkTurnedAway
	linkWithdrawn // its host's access was revoked
)

// linkFor reads the link of code and tells what the browser with claim
// (its cookie, or "") may do with it.
func (s *Server) linkFor(ctx context.Context, code,
	claim string) (rec linkRecord, rev uint64, st linkState, err error) {
	if len(code) != 26 {
		return rec, 0, linkUnknown, nil
	}
	rev, found, err := store.GetJSON(ctx, s.store.Links, hashHex(strings.ToLower(code)), &rec)
	switch {
	case err != nil:
		return rec, 0, linkUnknown, err
	case !found:
		return rec, 0, linkUnknown, nil
	}
	mine := rec.ClaimHash == "" || (claim != "" && subtle.ConstantTimeCompare([]byte(rec.ClaimHash),
		[]byte(hashHex(claim))) == 1)
	st, err = s.withdrawn(ctx, rec, rec.state(mine))
	return rec, rev, st, err
}

// withdrawn turns st, the state of the link rec, into linkWithdrawn when
// its host's access was revoked since they made it: a link works only as
// long as its host's access.
func (s *Server) withdrawn(ctx context.Context, rec linkRecord, st linkState) (linkState, error) {
	if st != linkOpen && st != linkExpired {
		return st, nil
	}
	host, found, err := s.lookup(ctx, rec.Team, rec.Host)
	if err != nil {
		return st, err
	}
	if found && host.Revokes(rec.Created) {
		return linkWithdrawn, nil
	}
	return st, nil
}

// state tells what the browser that claimed the link (mine), or may claim
// it, may do with it now.
func (rec linkRecord) state(mine bool) linkState {
	switch {
	case !mine:
		return linkTaken
	case rec.Spent == spentCompleted:
		return linkOver
	case rec.Spent == spentRejected:
		return linkTurnedAway
	case time.Now().After(rec.Expires):
		return linkExpired
	}
	return linkOpen
}

// refusal says, in words for the guest, why a link cannot be used.
func (st linkState) refusal(rec linkRecord) (status int, title, msg string) {
	host := cmpOr(rec.HostName, rec.Host)
	switch st {
	case linkExpired:
		return http.StatusGone, "This link has expired",
			"It could be used until " + rec.Expires.Format("2 January 2006, 15:04 MST") + ". Ask " + host +
				" for a new one."
	case linkTaken:
		return http.StatusGone, "This link was used already",
			"A guest link is for one person, and someone else opened it first. Ask " + host + " for a link of your own."
	case linkOver:
		return http.StatusGone, "Your call is over",
			"Your call with " + host + " has ended. To talk again, ask " + host + " for a new link."
	case linkTurnedAway:
		if rec.Room != "" {
			return http.StatusGone, "You were not let in",
				"Someone in room " + rec.Room + " turned you away. You can ask " + host + " for a new link."
		}
		return http.StatusGone, host + " did not let you in",
			host + " turned the call down. You can ask them for a new link."
	case linkWithdrawn:
		return http.StatusGone, "This link was withdrawn",
			host + " can no longer take calls here, so their links no longer work."
	}
	return http.StatusNotFound, "This link does not work",
		"Check that you copied the whole link, or ask whoever sent it for a new one."
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// joinPageData fills web/join.html.
type joinPageData struct {
	Title, Message      string // a refusal; empty for the call page
	HostName, GuestName string
	Expires             string
	Room                string // a room's link
}

// handleJoinPage serves the call page of a guest link, or a page that says
// why it cannot be used: GET /join/{code}. It does not claim the link.
func (s *Server) handleJoinPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	rec, _, st, err := s.linkFor(ctx, r.PathValue("code"), claimOf(r))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy",
		"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "+
			"media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status, data := http.StatusOK, joinPageData{
		HostName: cmpOr(rec.HostName, rec.Host), GuestName: rec.GuestName,
		Expires: rec.Expires.Format(time.RFC3339), Room: rec.Room,
	}
	switch {
	case err != nil:
		s.log.Error("could not read a guest link", "err", err)
		status, data.Title, data.Message = http.StatusServiceUnavailable, "The call page is not available right now",
			"The server could not read the link. Try again in a minute."
	case st != linkOpen:
		status, data.Title, data.Message = st.refusal(rec)
		s.log.Info("guest link refused", "state", data.Title, "remote", r.RemoteAddr)
	}
	w.WriteHeader(status)
	if err := joinPage.Execute(w, data); err != nil {
		s.log.Warn("join page", "err", err)
	}
}

// claimOf is the claim secret the browser sent, or "".
func claimOf(r *http.Request) string {
	if c, err := r.Cookie(linkCookie); err == nil {
		return c.Value
	}
	return ""
}

// handleJoin lets a browser join a guest link: POST /join/{code}. The first
// claims it; the answer is a guest token for a call with the host.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	done, ok := s.gate(w, r, limitJoin)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	code := strings.ToLower(r.PathValue("code"))
	claim := claimOf(r)
	rec, rev, st, err := s.linkFor(ctx, code, claim)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the link: %v", err))
		return
	}
	if st != linkOpen {
		done(st != linkUnknown)
		_, title, msg := st.refusal(rec)
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg))
		return
	}
	done(true)
	key, end := hashHex(code), s.linkEnd(rec.Expires)
	if rec.ClaimHash == "" {
		// The first join claims it: of two at once, one updates it at rev.
		claim = strings.ToLower(rand.Text() + rand.Text())
		rec.ClaimHash = hashHex(claim)
		if err := s.store.PutLink(ctx, key, rec, rev, end); err != nil {
			_, title, msg := linkTaken.refusal(rec)
			s.httpError(w, r, "", signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: linkCookie, Value: claim, Path: "/join/" + code,
			Expires: end, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
		s.log.Info("guest link claimed", "host", rec.Host, "guest", rec.Guest, "remote", r.RemoteAddr)
	}
	// The token lasts as long as the link, and a call that outlives it.
	o, err := s.tokens.Check(rec.Guest, token.Options{Role: RoleGuest, Team: rec.Team, TTL: time.Until(end)})
	if err != nil {
		s.httpError(w, r, rec.Guest, signaling.AsError(err))
		return
	}
	o.Link = &token.GuestLink{Key: key, Host: rec.Host, Name: rec.GuestName, Room: rec.Room}
	tok, err := s.tokens.Sign(rec.Guest, o, time.Now())
	if err != nil {
		s.httpError(w, r, rec.Guest, signaling.Errorf(signaling.UnknownError, "could not sign the token: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.Join{
		Token: tok, ICEServers: s.turn.ICEServers(turn.Holder{User: rec.Guest, Link: key, End: end}),
		Host: rec.Host, HostName: rec.HostName, Guest: rec.Guest, GuestName: rec.GuestName, Expires: rec.Expires,
		Room: rec.Room,
	})
}

// guestAssets serves the call page's script and style sheet.
func guestAssets() http.Handler {
	sub, _ := fs.Sub(webFS, "web")
	files := http.StripPrefix(pathGuestAssets, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".js") && !strings.HasSuffix(r.URL.Path, ".css") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// linkKey is the key of a guest's link, or "" for anyone else.
func linkKey(l *token.GuestLink) string {
	if l == nil {
		return ""
	}
	return l.Key
}

// guestAccess is checkAccess for a guest link's token: the link still
// works for its guest (guestLink), in the token's team.
func (s *Server) guestAccess(ctx context.Context, c Claims) (store.User, error) {
	rec, err := s.guestLink(ctx, c.Link.Key, c.Subject)
	if err != nil {
		return store.User{}, err
	}
	if rec.Team != c.TeamID() {
		return store.User{}, signaling.Errorf(signaling.InvalidToken,
			"this guest link no longer exists: ask for a new one")
	}
	return store.User{User: c.Subject, Team: rec.Team, Name: rec.GuestName, Role: RoleGuest}, nil
}

// guestLink checks that the link at key still works for guest, for a
// connect or the relay: it is open, or it expired during the guest's call,
// which may go on for the margin. It returns the link, or InvalidToken
// with the reason in words for the guest.
func (s *Server) guestLink(ctx context.Context, key, guest string) (linkRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec linkRecord
	_, found, err := store.GetJSON(ctx, s.store.Links, key, &rec)
	if err != nil {
		return rec, signaling.Errorf(signaling.UnknownError, "could not read your link: %v", err)
	}
	if !found || rec.Guest != guest {
		return rec, signaling.Errorf(signaling.InvalidToken, "this guest link no longer exists: ask for a new one")
	}
	st, err := s.withdrawn(ctx, rec, rec.state(true)) // the guest claimed it
	if err == nil && st == linkExpired && time.Now().Before(s.linkEnd(rec.Expires)) {
		var busy bool
		if busy, err = s.isBusy(ctx, store.UserKey(rec.Team, rec.Guest)); busy {
			st = linkOpen // a call that outlives the link
		}
	}
	if err != nil {
		return rec, signaling.Errorf(signaling.UnknownError, "could not check your link: %v", err)
	}
	if st != linkOpen {
		_, title, msg := st.refusal(rec)
		return rec, signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg)
	}
	return rec, nil
}

// guestDial checks a guest's dial: only the link's host, while the link is
// open. It returns the host.
func (s *Server) guestDial(ctx context.Context, c *conn, to string) (store.User, *signaling.Error) {
	if c.link.Room != "" {
		return store.User{}, signaling.Errorf(signaling.PermissionDenied,
			"your guest link is for room %s: it calls no one", c.link.Room)
	}
	if to != c.link.Host {
		return store.User{}, signaling.Errorf(signaling.InvalidParameter,
			"a guest link is for a call with %s only", c.link.Host)
	}
	rec, err := s.guestLink(ctx, c.link.Key, c.user)
	if err == nil && time.Now().After(rec.Expires) { // in a call that outlives it: no new knock
		_, title, msg := linkExpired.refusal(rec)
		err = signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg)
	}
	if err != nil {
		return store.User{}, signaling.AsError(err)
	}
	host, found, err := s.lookup(ctx, rec.Team, rec.Host)
	if err != nil {
		return store.User{}, signaling.Errorf(signaling.UnknownError, "%v", err)
	}
	if !found {
		return store.User{}, unknownUser(rec.Host)
	}
	return host, nil
}

// spendLink marks the link of a call that completed or was rejected, so
// that it cannot be used again, and no longer counts it as its host's. A
// failure is logged: the link then stays usable until it expires.
func (s *Server) spendLink(key, how string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	rec, err := store.UpdateLink(ctx, s.store, key, func(rec *linkRecord, found bool) bool {
		if !found || rec.Spent != "" {
			return false
		}
		rec.Spent = how
		return true
	}, func(rec linkRecord) time.Time { return s.linkEnd(rec.Expires) })
	if err == nil && rec.Host != "" {
		_, err = store.UpdateLink(ctx, s.store, hostKey(rec.Team, rec.Host), func(h *hostLinks, _ bool) bool {
			n := len(h.Links)
			h.Links = slices.DeleteFunc(h.Links, func(l hostLink) bool { return l.Key == key })
			return len(h.Links) < n
		}, s.hostLinksEnd)
	}
	if err != nil {
		s.log.Warn("could not mark a guest link used", "err", err)
	}
}

// linkEnd is when a link that expires at expires ends for good: its record
// goes, and with it any call of its guest that outlived it.
func (s *Server) linkEnd(expires time.Time) time.Time { return expires.Add(s.cfg.linkMargin) }

// hostLinks is the record, in the links bucket at hostKey, of the links a
// member made that were not used and have not ended: what MaxOpenLinks
// counts (one read and one write per link made, rather than a listing of
// the bucket), and whose guests the member's revocation disconnects.
type hostLinks struct {
	Links []hostLink `json:"links"`
}

type hostLink struct {
	Key     string    `json:"key"` // in the links bucket
	Guest   string    `json:"guest"`
	Expires time.Time `json:"expires"`
}

// hostKey is the key of the hostLinks of a member.
func hostKey(team, user string) string { return "host." + store.UserKey(team, user) }

// hostLinksEnd is when a member's hostLinks may go: when their last link
// ends.
func (s *Server) hostLinksEnd(h hostLinks) time.Time {
	end := time.Now()
	for _, l := range h.Links {
		if e := s.linkEnd(l.Expires); e.After(end) {
			end = e
		}
	}
	return end
}

// countLink adds the link rec, at key, to its host's, unless they have
// MaxOpenLinks open already (not expired): that is an InvalidParameter
// refusal. Links whose end has come are dropped from the record.
func (s *Server) countLink(ctx context.Context, key string, rec linkRecord) *signaling.Error {
	var full *signaling.Error
	_, err := store.UpdateLink(ctx, s.store, hostKey(rec.Team, rec.Host), func(h *hostLinks, _ bool) bool {
		now := time.Now()
		h.Links = slices.DeleteFunc(h.Links, func(l hostLink) bool { return now.After(s.linkEnd(l.Expires)) })
		open, next := 0, time.Time{}
		for _, l := range h.Links {
			if now.Before(l.Expires) {
				open++
				if next.IsZero() || l.Expires.Before(next) {
					next = l.Expires
				}
			}
		}
		full = nil
		if open >= MaxOpenLinks {
			full = signaling.Errorf(signaling.InvalidParameter,
				"you have %d open guest links, the most a member may have: make another once one is used or expires "+
					"(the next at %s)",
				open, next.UTC().Format(time.RFC3339))
			return false
		}
		h.Links = append(h.Links, hostLink{Key: key, Guest: rec.Guest, Expires: rec.Expires})
		return true
	}, s.hostLinksEnd)
	if err != nil {
		return signaling.Errorf(signaling.UnknownError, "could not record the link: %v", err)
	}
	return full
}

// revokeGuests disconnects the guests of the links of a member whose access
// was revoked: those links no longer work (linkWithdrawn). A failure is
// logged: the guests' next request is refused all the same.
func (s *Server) revokeGuests(ctx context.Context, team, host string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var h hostLinks
	if _, _, err := store.GetJSON(ctx, s.store.Links, hostKey(team, host), &h); err != nil {
		s.log.Warn("could not read the guest links of a revoked user", "user", host, "team", team, "err", err)
		return
	}
	for _, l := range h.Links {
		s.control(store.UserKey(team, l.Guest), ctlRevoke, "", nil)
	}
}
