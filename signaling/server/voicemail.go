package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/audio/oggopus"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Voice messages: a caller leaves a recording (Ogg Opus, at most
// signaling.MaxVoiceMessage) for someone they may call; the server keeps
// it for Config.VoiceMessageRetention in the voice buckets (store.Voice),
// within the recipient's Config.VoiceMessageQuota, tells the recipient's
// connections at once (voice_message) and the team's webhooks
// (message.created). The recipient lists, fetches (which marks it heard)
// and deletes their own, from any node.

// Defaults of Config.VoiceMessageRetention and Config.VoiceMessageQuota
// (10 MiB: about 30 minutes of parley's Opus, 5.5 kB/s with its Ogg pages).
const (
	DefaultVoiceMessageRetention = 30 * 24 * time.Hour
	DefaultVoiceMessageQuota     = 10 << 20
)

// voiceSlack is how much longer than signaling.MaxVoiceMessage a recording
// may be: its last packet may end past the limit (a 60 ms frame at most).
const voiceSlack = 60 * time.Millisecond

// handleLeaveVoiceMessage stores a voice message for a user: POST
// /v1/users/{user}/voice-messages, the body the Ogg Opus recording. It is
// refused as a call would be to someone the caller may not call (unknown,
// of another team, not visible to a guest), and when the recording is
// not Ogg Opus, is too long or does not fit in the recipient's quota.
func (s *Server) handleLeaveVoiceMessage(w http.ResponseWriter, r *http.Request) {
	c, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	to := r.PathValue("user")
	if c.Role == RoleGuest {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"guests cannot leave voice messages: call %s again later through your link", to))
		return
	}
	if to == c.Subject {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.SameCallerAndDestination,
			"you cannot leave yourself a voice message: leave it for another user"))
		return
	}
	team := c.TeamID()
	_, e := s.findVisible(r.Context(), team, c.Subject, c.Role, to)
	if e != nil {
		s.httpError(w, r, c.Subject, e)
		return
	}
	// Counted as a dial, so that messages cannot be left faster than
	// calls placed (abuse.go).
	if ok, retry := s.dials.Allow(store.UserKey(team, c.Subject)); !ok {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"you placed %d calls and voice messages in a minute, the most there may be: try again in %s",
			s.cfg.DialLimit, seconds(retry)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, signaling.MaxVoiceMessageBytes+1))
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"could not read the recording: %v", err))
		return
	}
	if len(body) > signaling.MaxVoiceMessageBytes {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"the recording is over %d bytes, the most a voice message may have: record at most %s at parley's bitrate",
			signaling.MaxVoiceMessageBytes, signaling.MaxVoiceMessage))
		return
	}
	st, err := oggopus.Read(body)
	if err != nil || len(st.Packets) == 0 || st.Duration <= 0 {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"the recording is not Ogg Opus audio (%v): record it with parley call %s --leave-message", err, to))
		return
	}
	if st.Duration > signaling.MaxVoiceMessage+voiceSlack {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"the recording lasts %s, longer than the %s a voice message may: record a shorter one",
			st.Duration.Round(time.Second), signaling.MaxVoiceMessage))
		return
	}
	mine, err := s.liveVoice(r.Context(), team, to)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not read the voice messages: %v", err))
		return
	}
	var used int64
	for _, m := range mine {
		used += m.Bytes
	}
	if used+int64(len(body)) > s.cfg.VoiceMessageQuota {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.InvalidParameter,
			"the voice mailbox of %s is full (%d messages, %d of %d bytes): call again later, once they have "+
				"listened to and deleted some", to, len(mine), used, s.cfg.VoiceMessageQuota))
		return
	}
	rec := store.VoiceMessage{ID: newID(), Team: team, From: c.Subject, FromName: u.Name, To: to,
		Created: time.Now().UTC(), DurationMS: st.Duration.Milliseconds(), Bytes: int64(len(body))}
	if err := s.saveVoice(r.Context(), rec, body); err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not store the voice message: %v: try again", err))
		return
	}
	out := s.publicVoice(rec)
	s.log.Info("voice message left", "from", c.Subject, "to", to, "team", team, "id", rec.ID,
		"duration_ms", rec.DurationMS, "bytes", rec.Bytes)
	if err := s.deliver(store.UserKey(team, to), "", signaling.Message{Type: signaling.TypeVoiceMessage,
		VoiceMessage: &out}); err != nil {
		s.log.Warn("could not tell of a voice message", "to", to, "err", err) // told at sign-in
	}
	s.hooks.PublishBody(team, rec.ID, signaling.VoiceMessageWebhookEvent{
		Event: signaling.EventMessageCreated, EventID: rec.ID, Kind: "voice", ID: rec.ID, From: rec.From, To: to,
		Time: rec.Created, DurationMS: rec.DurationMS, Bytes: rec.Bytes, Node: s.cfg.NodeName,
	})
	writeJSON(w, http.StatusOK, out)
}

// saveVoice stores the recording, then its record: a record is never
// without its recording (a recording without a record, left by a failure
// between the two, goes with the retention).
func (s *Server) saveVoice(ctx context.Context, rec store.VoiceMessage, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	key := store.VoiceKey(rec.Team, rec.To, rec.ID)
	if _, err := s.voice.Audio.PutBytes(ctx, key, body); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	b, _ := json.Marshal(rec)
	if _, err := s.voice.Messages.Create(ctx, key, b); err != nil {
		_ = s.voice.Audio.Delete(ctx, key) // undone: the error is the one to report
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// publicVoice is the record as the API shows it.
func (s *Server) publicVoice(rec store.VoiceMessage) signaling.VoiceMessage {
	return signaling.VoiceMessage{ID: rec.ID, From: rec.From, FromName: rec.FromName, To: rec.To,
		Created: rec.Created, DurationMS: rec.DurationMS, Bytes: rec.Bytes, Heard: rec.Heard,
		Expires: rec.Created.Add(s.cfg.VoiceMessageRetention)}
}

// handleVoiceMessages lists the caller's voice messages, newest first:
// GET /v1/me/voice-messages.
func (s *Server) handleVoiceMessages(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.bearer(w, r)
	if !ok {
		return
	}
	v, err := s.voiceMessages(r.Context(), c.TeamID(), c.Subject)
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not list your voice messages: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// liveVoice lists a user's voice messages that are not past the retention.
func (s *Server) liveVoice(ctx context.Context, team, user string) ([]store.VoiceMessage, error) {
	list, err := s.voice.List(ctx, team, user)
	return slices.DeleteFunc(list, s.expired), err
}

// expired reports a message past the retention: its recording is gone
// (the object store keeps it that long from when it was left), while its
// record, written again when heard, may be kept longer.
func (s *Server) expired(rec store.VoiceMessage) bool {
	return time.Since(rec.Created) >= s.cfg.VoiceMessageRetention
}

// voiceMessages is a user's mailbox.
func (s *Server) voiceMessages(ctx context.Context, team, user string) (signaling.VoiceMessages, error) {
	out := signaling.VoiceMessages{Messages: []signaling.VoiceMessage{}, Quota: s.cfg.VoiceMessageQuota}
	list, err := s.liveVoice(ctx, team, user)
	if err != nil {
		return out, err
	}
	for _, m := range list {
		out.Messages = append(out.Messages, s.publicVoice(m))
		out.Bytes += m.Bytes
		if !m.Heard {
			out.Unheard++
		}
	}
	slices.SortFunc(out.Messages, func(a, b signaling.VoiceMessage) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// voiceMessage is bearer for a request on one of the caller's voice
// messages, the path's {id}: its record and key, read within the request's
// timeout; refused (NotFoundUserSessionID, 404) for an id they have none of.
func (s *Server) voiceMessage(w http.ResponseWriter, r *http.Request) (Claims, store.VoiceMessage, string, bool) {
	var rec store.VoiceMessage
	c, _, ok := s.bearer(w, r)
	if !ok {
		return c, rec, "", false
	}
	id, key := r.PathValue("id"), ""
	e := signaling.Errorf(signaling.NotFoundUserSessionID,
		"you have no voice message %.40q: `parley messages` lists yours (they are kept %s)", id,
		s.cfg.VoiceMessageRetention)
	if signaling.ValidID(id) {
		key = store.VoiceKey(c.TeamID(), c.Subject, id)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		_, found, err := store.GetJSON(ctx, s.voice.Messages, key, &rec)
		switch {
		case err != nil:
			e = signaling.Errorf(signaling.UnknownError, "could not read voice message %s: %v", id, err)
		case found && !s.expired(rec):
			return c, rec, key, true
		}
	}
	s.httpError(w, r, c.Subject, e)
	return c, rec, "", false
}

// handleVoiceMessageAudio answers one of the caller's voice messages'
// recording, Ogg Opus: GET /v1/me/voice-messages/{id}. It is then heard,
// on every device.
func (s *Server) handleVoiceMessageAudio(w http.ResponseWriter, r *http.Request) {
	c, rec, key, ok := s.voiceMessage(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	b, err := s.voice.Audio.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.NotFoundUserSessionID,
			"voice message %s has no recording any more (expired): delete it with parley messages delete %s", id, id))
		return
	}
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not read voice message %s: %v: try again", id, err))
		return
	}
	if !rec.Heard {
		_, err := store.Update(ctx, s.voice.Messages, key, func(v *store.VoiceMessage, found bool) bool {
			if !found || v.Heard {
				return false
			}
			v.Heard = true
			return true
		})
		if err != nil {
			s.log.Warn("could not mark a voice message heard", "user", c.Subject, "id", id, "err", err)
		}
	}
	w.Header().Set("Content-Type", signaling.ContentTypeOgg)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // the client went away: nothing to do
}

// handleDeleteVoiceMessage deletes one of the caller's voice messages:
// DELETE /v1/me/voice-messages/{id} → the message.
func (s *Server) handleDeleteVoiceMessage(w http.ResponseWriter, r *http.Request) {
	c, rec, key, ok := s.voiceMessage(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	// The record first: a message listed has its recording.
	err := s.voice.Messages.Delete(ctx, key)
	if err == nil {
		if err = s.voice.Audio.Delete(ctx, key); errors.Is(err, jetstream.ErrObjectNotFound) {
			err = nil // deleted by another request, or expired
		}
	}
	if err != nil {
		s.httpError(w, r, c.Subject, signaling.Errorf(signaling.UnknownError,
			"could not delete voice message %s: %v: try again", id, err))
		return
	}
	s.log.Info("voice message deleted", "user", c.Subject, "team", c.TeamID(), "id", id)
	writeJSON(w, http.StatusOK, s.publicVoice(rec))
}

// voiceRoutes adds the voice messages' endpoints to mux.
func (s *Server) voiceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+signaling.PathLeaveVoiceMessage, s.handleLeaveVoiceMessage)
	mux.HandleFunc("GET "+signaling.PathVoiceMessages, s.handleVoiceMessages)
	mux.HandleFunc("GET "+signaling.PathVoiceMessage, s.handleVoiceMessageAudio)
	mux.HandleFunc("DELETE "+signaling.PathVoiceMessage, s.handleDeleteVoiceMessage)
}
