package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Text messages (signaling/texts.go): kept in the texts' stream, one
// message each under the subject of its recipient and sender, so that the
// stream's sequence orders them on every node and survives a restart. A
// text is told at once to every connection of both parties (TypeText);
// each device of the recipient then takes the texts after its delivery
// mark (handleNewTexts) and moves the mark (handleDelivered), so that it
// has each once, whether it was online when the text came or not.
//
// Texts stay within a team: the subjects are made of team-scoped user
// keys, and a user of another team reads as unknown (findVisible), as for
// a call. The text is kept as it was sent, escape sequences included:
// clients show it through signaling.Printable.

// textRoutes adds the texts' endpoints to mux.
func (s *Server) textRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+signaling.PathTexts, s.handleSendText)
	mux.HandleFunc("GET "+signaling.PathTexts, s.handleTexts)
	mux.HandleFunc("GET "+signaling.PathTextsNew, s.handleNewTexts)
	mux.HandleFunc("POST "+signaling.PathTextsDelivered, s.handleDelivered)
	mux.HandleFunc("POST "+signaling.PathTextsRead, s.handleReadTexts)
}

// handleSendText sends a text: POST /v1/me/texts. A guest of a guest link
// texts its host only, while the link works.
func (s *Server) handleSendText(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearerOrGuest(w, r, true)
	if !ok {
		return
	}
	var req signaling.SendText
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if e := checkText(req.Text); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if req.To == c.Subject {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.SameCallerAndDestination,
			"you cannot send a text to yourself: send it to another user"))
		return
	}
	team := c.TeamID()
	to, e := s.textRecipient(r.Context(), c, req.To)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	from := store.UserKey(team, c.Subject)
	if ok, retry := s.textsSent.Allow(from); !ok {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"you sent %d texts in a minute, the most there may be: try again in %s", s.cfg.TextLimit, seconds(retry)))
		return
	}
	t := signaling.Text{From: c.Subject, FromName: u.Name, To: to.User, ToName: to.Name, Text: req.Text,
		Sent: time.Now().UTC()}
	b, _ := json.Marshal(t)
	toKey := store.UserKey(team, to.User)
	seq, err := s.texts.Add(r.Context(), toKey, from, b)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not keep the text: %v: try again",
			err))
		return
	}
	t.Seq = seq
	// Every connection of both: the recipient's devices take it, the
	// sender's other devices show it in the conversation.
	for _, key := range []string{toKey, from} {
		if err := s.deliver(key, "", signaling.Message{Type: signaling.TypeText, Text: &t}); err != nil {
			s.log.Warn("could not tell of a text", "to", to.User, "from", c.Subject, "err", err)
		}
	}
	s.log.Debug("text sent", "from", c.Subject, "to", to.User, "team", team, "seq", seq, "bytes", len(req.Text))
	writeJSON(w, http.StatusOK, t)
}

// textRecipient finds to for a text from c: a user of c's team that c may
// see; for a guest, the host of its link alone; for a member, also the
// guest of one of their links that still works.
func (s *Server) textRecipient(ctx context.Context, c Claims, to string) (store.User, *signaling.Error) {
	team := c.TeamID()
	if l := c.Link; l != nil {
		switch {
		case l.Room != "":
			return store.User{}, signaling.Errorf(signaling.PermissionDenied,
				"your guest link is for room %s: it texts no one", l.Room)
		case to != l.Host:
			return store.User{}, signaling.Errorf(signaling.InvalidParameter,
				"a guest link is for texts with %s only", l.Host)
		}
		u, found, err := s.lookup(ctx, team, to)
		if err != nil {
			return u, signaling.Errorf(signaling.UnknownError, "%v", err)
		}
		if !found {
			return u, unknownUser(to)
		}
		return u, nil
	}
	u, e := s.findVisible(ctx, team, c.Subject, c.Role, to)
	if e == nil || e.Code != signaling.NotFoundUserSessionID {
		return u, e
	}
	var h hostLinks
	if _, _, err := store.GetJSON(ctx, s.store.Links, hostKey(team, c.Subject), &h); err != nil {
		return u, signaling.Errorf(signaling.UnknownError, "could not read your guest links: %v", err)
	}
	for _, hl := range h.Links {
		if hl.Guest != to {
			continue
		}
		if rec, err := s.guestLink(ctx, hl.Key, to); err == nil && rec.Host == c.Subject {
			return store.User{User: to, Team: team, Name: rec.GuestName, Role: RoleGuest}, nil
		}
	}
	return u, e
}

// checkText refuses an empty text, one over MaxTextBytes, or one that is
// not UTF-8. Anything else is data: kept as it is.
func checkText(text string) *signaling.Error {
	switch {
	case text == "":
		return signaling.Errorf(signaling.InvalidParameter, "the text is empty: write something to send")
	case len(text) > signaling.MaxTextBytes:
		return signaling.Errorf(signaling.InvalidParameter,
			"the text is %d bytes, over the limit of %d: send it in several texts, or share a file another way",
			len(text), signaling.MaxTextBytes)
	case !utf8.ValidString(text):
		return signaling.Errorf(signaling.InvalidParameter, "the text is not valid UTF-8: send text, not bytes")
	}
	return nil
}

// readTexts calls f with the texts of the user with key (to them, and
// from them unless toOnly), after sequence after, in order. With with,
// only those of the conversation with that key.
func (s *Server) readTexts(ctx context.Context, key, with string, after uint64, toOnly bool,
	f func(signaling.Text)) error {
	filters := []string{store.TextsTo(key)}
	if !toOnly {
		filters = append(filters, store.TextsFrom(key))
	}
	if with != "" {
		filters = []string{store.TextSubject(key, with)}
		if !toOnly {
			filters = append(filters, store.TextSubject(with, key))
		}
	}
	var all []signaling.Text
	for _, filter := range filters {
		_, err := s.texts.Read(ctx, filter, after, func(m *jetstream.RawStreamMsg) {
			var t signaling.Text
			if json.Unmarshal(m.Data, &t) != nil {
				s.log.Warn("damaged text", "seq", m.Sequence)
				return
			}
			t.Seq = m.Sequence
			all = append(all, t)
		})
		if err != nil {
			return err
		}
	}
	slices.SortFunc(all, func(a, b signaling.Text) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, t := range all {
		f(t)
	}
	return nil
}

// unread counts the texts to the user with key, by sender, after the
// user's read marks.
func (s *Server) unread(ctx context.Context, team, user string) (map[string]int, error) {
	var marks store.TextRead
	key := store.UserKey(team, user)
	if _, _, err := store.GetJSON(ctx, s.texts.ReadMarks, key, &marks); err != nil {
		return nil, err
	}
	out := map[string]int{}
	err := s.readTexts(ctx, key, "", 0, true, func(t signaling.Text) {
		if t.Seq > marks.Read[t.From] {
			out[t.From]++
		}
	})
	return out, err
}

// handleTexts lists the caller's texts, oldest first: GET /v1/me/texts
// [?with=USER&after=SEQ&limit=N], with their unread counts. A guest's are
// those with its host.
func (s *Server) handleTexts(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearerOrGuest(w, r, true)
	if !ok {
		return
	}
	v := r.URL.Query()
	q := signaling.TextsQuery{With: v.Get("with"), Limit: signaling.DefaultTextsLimit}
	if q.With != "" {
		if err := checkStoredUser(q.With); err != nil {
			s.httpError(w, r, c.Subject, signaling.AsError(err))
			return
		}
	}
	if a := v.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
				"after %.20q is not a text's sequence: use the seq of the last text listed", a))
			return
		}
		q.After = n
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > signaling.MaxTextsLimit {
			s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
				"limit %.20q is not a number from 1 to %d", l, signaling.MaxTextsLimit))
			return
		}
		q.Limit = n
	}
	team := c.TeamID()
	key, with := store.UserKey(team, c.Subject), ""
	if q.With != "" {
		with = store.UserKey(team, q.With)
	}
	out := signaling.Texts{Texts: []signaling.Text{}}
	err := s.readTexts(r.Context(), key, with, q.After, false, func(t signaling.Text) {
		out.Texts = append(out.Texts, t)
	})
	if err == nil {
		out.Unread, err = s.unread(r.Context(), team, c.Subject)
	}
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not list your texts: %v", err))
		return
	}
	if n := len(out.Texts); n > q.Limit {
		if q.After > 0 {
			out.Texts = out.Texts[:q.Limit] // the next page, from the mark on
		} else {
			out.Texts = out.Texts[n-q.Limit:] // the latest
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// bearerDevice is bearer for the texts' delivery to devices, with the key
// of the caller's device in the delivered bucket; refused for a token that
// is not a device's.
func (s *Server) bearerDevice(w http.ResponseWriter, r *http.Request) (Claims, string, bool) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return c, "", false
	}
	if c.Device == "" {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.NotFoundDevice,
			"this token is not a signed-in device's, and texts are delivered to devices: sign in with `parley "+
				"login INVITE`, or list the texts with `parley msgs`"))
		return c, "", false
	}
	return c, store.UserKey(c.TeamID(), c.Subject) + "." + store.Token(c.Device), true
}

// handleNewTexts lists the texts to the caller that their device has not
// had: GET /v1/me/texts/new, oldest first, at most MaxTextsLimit.
func (s *Server) handleNewTexts(w http.ResponseWriter, r *http.Request) {
	c, dev, ok := s.bearerDevice(w, r)
	if !ok {
		return
	}
	var mark store.TextMark
	_, _, err := store.GetJSON(r.Context(), s.texts.Delivered, dev, &mark)
	out := signaling.Texts{Texts: []signaling.Text{}}
	if err == nil {
		err = s.readTexts(r.Context(), store.UserKey(c.TeamID(), c.Subject), "", mark.Seq, true,
			func(t signaling.Text) {
				if len(out.Texts) < signaling.MaxTextsLimit {
					out.Texts = append(out.Texts, t)
				}
			})
	}
	if err == nil {
		out.Unread, err = s.unread(r.Context(), c.TeamID(), c.Subject)
	}
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError, "could not list your new texts: %v",
			err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDelivered moves the caller's device's delivery mark: POST
// /v1/me/texts/delivered. It never moves back, nor past the last text.
func (s *Server) handleDelivered(w http.ResponseWriter, r *http.Request) {
	c, dev, ok := s.bearerDevice(w, r)
	if !ok {
		return
	}
	var req signaling.TextMark
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	seq, e := s.markAt(r.Context(), req.Seq)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	v, err := store.Update(ctx, s.texts.Delivered, dev, func(v *store.TextMark, _ bool) bool {
		if seq <= v.Seq {
			return false
		}
		v.Seq = seq
		return true
	})
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not save the delivery mark: %v: try again", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.TextMark{Seq: v.Seq})
}

// markAt is seq as a mark may be: the last text's when 0 or past it.
func (s *Server) markAt(ctx context.Context, seq uint64) (uint64, *signaling.Error) {
	last, err := s.texts.Last(ctx)
	if err != nil {
		return 0, signaling.Errorf(signaling.UnknownError, "%v: try again", err)
	}
	if seq == 0 || seq > last {
		return last, nil
	}
	return seq, nil
}

// handleReadTexts moves the caller's read mark of one sender's texts: POST
// /v1/me/texts/read. It never moves back; every device reads it.
func (s *Server) handleReadTexts(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var req signaling.TextMark
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	if err := checkStoredUser(strings.TrimSpace(req.With)); err != nil || req.With == "" {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"with %.70q is not a user id: name whose texts you read", req.With))
		return
	}
	seq, e := s.markAt(r.Context(), req.Seq)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	v, err := store.Update(ctx, s.texts.ReadMarks, store.UserKey(c.TeamID(), c.Subject),
		func(v *store.TextRead, _ bool) bool {
			if seq <= v.Read[req.With] {
				return false
			}
			if v.Read == nil {
				v.Read = map[string]uint64{}
			}
			v.Read[req.With] = seq
			return true
		})
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not save your read mark: %v: try again", err))
		return
	}
	writeJSON(w, http.StatusOK, signaling.TextMark{With: req.With, Seq: v.Read[req.With]})
}
