package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/webhook"
)

// Webhooks: the admin API that registers them. Their delivery is package
// webhook's; docs/SERVER.md tells the design.

// WebhookOptions tunes the delivery of webhooks (package webhook).
type WebhookOptions = webhook.Options

// Defaults of WebhookOptions.
const (
	DefaultWebhookTimeout   = webhook.DefaultTimeout
	DefaultWebhookRetryBase = webhook.DefaultRetryBase
	DefaultWebhookRetryMax  = webhook.DefaultRetryMax
	DefaultWebhookAttempts  = webhook.DefaultAttempts
	DefaultWebhookWorkers   = webhook.DefaultWorkers
)

// handleAddWebhook registers a webhook: POST /v1/voice/webhooks {url} →
// {id, url, secret, created}, with the team's API key (or an admin's
// token).
func (s *Server) handleAddWebhook(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	var req signaling.WebhookRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout) // its name's lookup
	e := s.hooks.CheckURL(ctx, req.URL)
	cancel()
	if e != nil {
		s.httpError(w, r, "", e)
		return
	}
	list, err := s.store.ListWebhooks(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the webhooks: %v", err))
		return
	}
	if len(list) >= signaling.MaxWebhooks {
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter,
			"team %s has %d webhooks, the most there may be: remove one (`parley admin webhook remove ID`)", a.team,
			len(list)))
		return
	}
	rec := store.Webhook{ID: newID()[:16], Team: a.team, URL: req.URL, Secret: newID() + newID(),
		Created: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	ctx, cancel = context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.store.Webhooks.Create(ctx, store.WebhookKey(a.team, rec.ID), b); err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not save the webhook: %v", err))
		return
	}
	s.log.Info("webhook added", "team", a.team, "webhook", rec.ID, "url", rec.URL, "by", a.by)
	writeJSON(w, http.StatusOK, signaling.Webhook{ID: rec.ID, URL: rec.URL, Secret: rec.Secret, Created: rec.Created})
}

// handleWebhooks lists the team's webhooks without their secrets: GET
// /v1/voice/webhooks.
func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	list, err := s.store.ListWebhooks(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the webhooks: %v", err))
		return
	}
	out := signaling.Webhooks{Webhooks: make([]signaling.Webhook, 0, len(list))}
	for _, h := range list {
		out.Webhooks = append(out.Webhooks, signaling.Webhook{ID: h.ID, URL: h.URL, Created: h.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRemoveWebhook removes a webhook: DELETE /v1/voice/webhooks/{id}.
// Deliveries of it still queued are dropped.
func (s *Server) handleRemoveWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	unknown := signaling.Errorf(signaling.InvalidParameter,
		"team %s has no webhook %.40q: `parley admin webhook list` shows them", a.team, id)
	if !signaling.ValidID(id) {
		s.httpError(w, r, "", unknown)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	kv, key := s.store.Webhooks, store.WebhookKey(a.team, id)
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.httpError(w, r, "", unknown)
		return
	}
	var rec store.Webhook
	if err == nil {
		_ = json.Unmarshal(e.Value(), &rec) // only for the answer
		err = kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	}
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not remove webhook %s: %v", id, err))
		return
	}
	s.log.Info("webhook removed", "team", a.team, "webhook", id, "by", a.by)
	writeJSON(w, http.StatusOK, signaling.Webhook{ID: id, URL: rec.URL, Created: rec.Created})
}
