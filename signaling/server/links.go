package server

// Guest links (issue 9): a call page for someone who has no account, in
// their browser.
//
// A signed-in member makes a link (POST /v1/me/links): a random code of 26
// letters and digits (128 bits), kept as the SHA-256 of the code in the
// bucket parley_links (TTL MaxLinkTTL) with the host (its maker), the guest's
// name and user id ("guest-…", never in parley_users) and when it expires.
//
// GET /join/CODE serves the call page (web/), or a page that says plainly
// why the link does not work. The page's script POSTs to the same address to
// join: the first browser to do so claims the link (a random secret in an
// HttpOnly cookie for that path, its hash in the record), and later joins
// must bring the same cookie, so a link is for one person but survives a
// reload. A join returns a guest token whose lnk claim names the link and
// its host: with it a connection may dial the host and act on that call,
// and nothing else (no watch, no presence, no HTTP API), and it reaches no
// one either, since no one has the guest as a contact.
//
// The guest dials the host like any caller; the call event says guest, so
// the host's terminal shows "Guest NAME is waiting", and it rings for
// Config.LobbyTimeout rather than RingTimeout: answering lets the guest in,
// rejecting turns them away. The link is spent once its call completes or
// is rejected; until then (and until it expires) the same browser may
// knock again, after a knock nobody answered or a call that failed.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// guestTokenTTL is the lifetime of a guest token: long enough for a call
// that starts just before the link expires.
const guestTokenTTL = 12 * time.Hour

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
		Team: c.team(), Host: c.Subject, HostName: u.Name,
		Guest: "guest-" + newID()[:12], GuestName: name,
		Created: now, Expires: now.Add(ttl),
	}
	code := linkCode()
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.bus.links.Create(ctx, hashHex(code), b); err != nil {
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
)

// linkFor reads the link of code and tells what the browser with claim
// (its cookie, or "") may do with it.
func (s *Server) linkFor(ctx context.Context, code, claim string) (rec linkRecord, rev uint64, st linkState, err error) {
	if len(code) != 26 {
		return rec, 0, linkUnknown, nil
	}
	rev, found, err := getJSON(ctx, s.bus.links, hashHex(strings.ToLower(code)), &rec)
	switch {
	case err != nil:
		return rec, 0, linkUnknown, err
	case !found:
		return rec, 0, linkUnknown, nil
	}
	mine := rec.ClaimHash == "" || (claim != "" && subtle.ConstantTimeCompare([]byte(rec.ClaimHash), []byte(hashHex(claim))) == 1)
	return rec, rev, rec.state(mine), nil
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
			"It could be used until " + rec.Expires.Format("2 January 2006, 15:04 MST") + ". Ask " + host + " for a new one."
	case linkTaken:
		return http.StatusGone, "This link was used already",
			"A guest link is for one person, and someone else opened it first. Ask " + host + " for a link of your own."
	case linkOver:
		return http.StatusGone, "Your call is over",
			"Your call with " + host + " has ended. To talk again, ask " + host + " for a new link."
	case linkTurnedAway:
		return http.StatusGone, host + " did not let you in",
			host + " turned the call down. You can ask them for a new link."
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
		"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status, data := http.StatusOK, joinPageData{
		HostName: cmpOr(rec.HostName, rec.Host), GuestName: rec.GuestName,
		Expires: rec.Expires.Format(time.RFC3339),
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
	done, ok := s.gate(w, r, limitLogin)
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
	if rec.ClaimHash == "" {
		// The first join claims it: of two at once, one updates it at rev.
		claim = strings.ToLower(rand.Text() + rand.Text())
		rec.ClaimHash = hashHex(claim)
		b, _ := json.Marshal(rec)
		if _, err := s.bus.links.Update(ctx, hashHex(code), b, rev); err != nil {
			_, title, msg := linkTaken.refusal(rec)
			s.httpError(w, r, "", signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: linkCookie, Value: claim, Path: "/join/" + code,
			Expires: rec.Expires.Add(guestTokenTTL), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
		s.log.Info("guest link claimed", "host", rec.Host, "guest", rec.Guest, "remote", r.RemoteAddr)
	}
	o, err := s.tokens.check(rec.Guest, TokenOptions{Role: RoleGuest, Team: rec.Team, TTL: guestTokenTTL})
	if err != nil {
		s.httpError(w, r, rec.Guest, signaling.AsError(err))
		return
	}
	o.link = guestLink{Key: hashHex(code), Host: rec.Host, Name: rec.GuestName}
	tok, err := s.tokens.sign(rec.Guest, o, time.Now())
	if err != nil {
		s.httpError(w, r, rec.Guest, signaling.Errorf(signaling.UnknownError, "could not sign the token: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.Join{
		Token: tok, ICEServers: s.turn.iceServers(turnHolder{user: rec.Guest}),
		Host: rec.Host, HostName: rec.HostName, Guest: rec.Guest, GuestName: rec.GuestName, Expires: rec.Expires,
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
func linkKey(l *guestLink) string {
	if l == nil {
		return ""
	}
	return l.Key
}

// guestAccess is checkAccess for a guest link's token: the link must
// still be there, and the guest is who it names.
func (s *Server) guestAccess(ctx context.Context, c Claims) (userRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec linkRecord
	_, found, err := getJSON(ctx, s.bus.links, c.Link.Key, &rec)
	if err != nil {
		return userRecord{}, signaling.Errorf(signaling.UnknownError, "could not read your link: %v", err)
	}
	if !found || rec.Guest != c.Subject || rec.Team != c.team() {
		return userRecord{}, signaling.Errorf(signaling.InvalidToken, "this guest link no longer exists: ask for a new one")
	}
	return userRecord{User: c.Subject, Team: rec.Team, Name: rec.GuestName, Role: RoleGuest}, nil
}

// guestDial checks a guest's dial: only the link's host, while the link is
// open. It returns the host.
func (s *Server) guestDial(ctx context.Context, c *conn, to string) (userRecord, *signaling.Error) {
	if to != c.link.Host {
		return userRecord{}, signaling.Errorf(signaling.InvalidParameter,
			"a guest link is for a call with %s only", c.link.Host)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rec linkRecord
	_, found, err := getJSON(ctx, s.bus.links, c.link.Key, &rec)
	if err != nil {
		return userRecord{}, signaling.Errorf(signaling.UnknownError, "could not read your link: %v", err)
	}
	st := linkUnknown
	if found {
		st = rec.state(true) // the token's holder claimed it
	}
	if st != linkOpen {
		_, title, msg := st.refusal(rec)
		return userRecord{}, signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg)
	}
	host, found, err := s.lookup(ctx, rec.Team, rec.Host)
	if err != nil {
		return userRecord{}, signaling.Errorf(signaling.UnknownError, "%v", err)
	}
	if !found {
		return userRecord{}, unknownUser(rec.Host)
	}
	return host, nil
}

// spendLink marks the link of a call that completed or was rejected, so
// that it cannot be used again. A failure is logged: the link then stays
// usable until it expires.
func (s *Server) spendLink(key, how string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	_, err := update(ctx, s.bus.links, key, func(rec *linkRecord, found bool) bool {
		if !found || rec.Spent != "" {
			return false
		}
		rec.Spent = how
		return true
	})
	if err != nil {
		s.log.Warn("could not mark a guest link used", "err", err)
	}
}
