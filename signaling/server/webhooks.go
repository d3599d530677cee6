package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
)

// Webhooks.
//
// A team registers URLs (POST /v1/voice/webhooks, kept in the webhooks
// bucket); each receives every status change of the team's calls as a
// signed POST (signaling.WebhookEvent, signaling.SignWebhook). Delivery
// goes through one JetStream stream with work-queue retention, so that
// each event is handled by one node, whichever node saw it:
//
//   - The call's owner publishes each status change (noteStatus) on
//     parley.webhook.event.TEAM, with the event id as the message id, so
//     that a repeated publish is dropped by the stream.
//   - Every node pulls from one shared durable consumer of the events and
//     fans each one out: one message per webhook of the team on
//     parley.webhook.delivery.TEAM.HOOK (message id EVENT.HOOK), then acks
//     the event.
//   - Every node pulls from one shared durable consumer of the deliveries,
//     with WebhookOptions.Workers at a time. A 2xx answer acks the
//     delivery; a failure (another status, a network error, a timeout)
//     naks it with a delay that doubles from RetryBase up to RetryMax,
//     until Attempts attempts were made; then it is dropped and logged.
//
// A delivery acked is gone from the stream; a node that dies while it
// POSTs leaves its delivery to be redelivered by another node after the
// consumer's ack wait, so a receiver may, rarely, see an event twice: the
// event id (header X-Parley-Event) tells.

// Webhook stream, subjects and consumers.
const (
	streamWebhooks      = "PARLEY_WEBHOOKS"
	subjectHookEvent    = "parley.webhook.event."    // + token(team)
	subjectHookDelivery = "parley.webhook.delivery." // + token(team) + "." + token(hook)
	consumerHookEvents  = "parley_webhook_events"
	consumerHookSends   = "parley_webhook_deliveries"
	bucketWebhooks      = "parley_webhooks" // file: token(team).token(id) → webhookRecord

	hdrTeam  = "Parley-Team"
	hdrHook  = "Parley-Hook"
	hdrEvent = "Parley-Event" // a delivery's event id (its message id is EVENT.HOOK)

	// hookStreamMaxAge bounds how long an undelivered message may stay.
	hookStreamMaxAge = 24 * time.Hour
)

// Defaults of WebhookOptions.
const (
	DefaultWebhookTimeout   = 10 * time.Second
	DefaultWebhookRetryBase = time.Second
	DefaultWebhookRetryMax  = 2 * time.Minute
	DefaultWebhookAttempts  = 12 // 1+2+4+...+64 s, then 2 min: about 10 minutes in all
	DefaultWebhookWorkers   = 8
)

// WebhookOptions tunes webhook deliveries. Every node of a service should
// use the same. Zero fields take the defaults.
type WebhookOptions struct {
	Timeout   time.Duration // one POST, answer included; default DefaultWebhookTimeout
	RetryBase time.Duration // delay before the first retry, doubled after each; default DefaultWebhookRetryBase
	RetryMax  time.Duration // the longest delay between two attempts; default DefaultWebhookRetryMax
	Attempts  int           // attempts in all before a delivery is dropped; default DefaultWebhookAttempts
	Workers   int           // deliveries under way at once on this node; default DefaultWebhookWorkers
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultWebhookRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultWebhookRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.Attempts <= 0 {
		o.Attempts = DefaultWebhookAttempts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWebhookWorkers
	}
	return o
}

// backoff is the delay after the failed attempt number n (from 1).
func (o WebhookOptions) backoff(n int) time.Duration {
	d := o.RetryBase
	for i := 1; i < n && d < o.RetryMax; i++ {
		d *= 2
	}
	return min(d, o.RetryMax)
}

// webhookRecord is the value of a key in the webhooks bucket.
type webhookRecord struct {
	ID      string    `json:"id"`
	Team    string    `json:"team"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

func webhookKey(team, id string) string { return token(team) + "." + token(id) }

// hooks publishes the webhook events of this node's calls and takes its
// share of the events and deliveries of every node. Its goroutines own
// nothing but the message each handles; close stops them.
type hooks struct {
	js         jetstream.JetStream
	kv         jetstream.KeyValue
	opts       WebhookOptions
	node       string
	reqTimeout time.Duration
	log        *slog.Logger
	hc         *http.Client

	events, sends jetstream.MessagesContext
	ctx           context.Context // ends at close: deliveries under way give up
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

// startHooks makes sure the webhooks bucket, the stream and its two
// consumers exist, and starts this node's share of the work.
func startHooks(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*hooks, error) {
	o := cfg.Webhooks.withDefaults()
	kv, err := racing(ctx, func() (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucketWebhooks, Description: "parley webhooks of each team",
			Storage: jetstream.FileStorage,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: bucket %s: %w", bucketWebhooks, err)
	}
	st, err := racing(ctx, func() (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        streamWebhooks,
			Description: "parley webhook events and deliveries, each handled once",
			Subjects:    []string{subjectHookEvent + ">", subjectHookDelivery + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      hookStreamMaxAge,
			Duplicates:  2 * time.Minute,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: stream %s: %w", streamWebhooks, err)
	}
	events, err := racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerHookEvents,
			Description:   "parley webhook events to fan out, shared by every node",
			FilterSubject: subjectHookEvent + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: consumer %s: %w", consumerHookEvents, err)
	}
	sends, err := racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerHookSends,
			Description:   "parley webhook deliveries, shared by every node",
			FilterSubject: subjectHookDelivery + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			// A node that died while it POSTed: another retries after this.
			AckWait:    o.Timeout + 20*time.Second,
			MaxDeliver: o.Attempts + 1, // +1: a delivery naked at shutdown is tried again
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: consumer %s: %w", consumerHookSends, err)
	}
	h := &hooks{
		js: js, kv: kv, opts: o, node: cfg.NodeName, reqTimeout: cfg.RequestTimeout,
		log: log.With("component", "webhooks"),
		hc: &http.Client{
			Timeout: o.Timeout,
			// A receiver's redirect is not followed: the POST would turn
			// into a GET. It counts as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if h.events, err = events.Messages(jetstream.PullMaxMessages(16)); err != nil {
		return nil, fmt.Errorf("server: pull %s: %w", consumerHookEvents, err)
	}
	if h.sends, err = sends.Messages(jetstream.PullMaxMessages(o.Workers)); err != nil {
		h.events.Stop()
		return nil, fmt.Errorf("server: pull %s: %w", consumerHookSends, err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.wg.Add(1 + o.Workers)
	go h.loop(h.events, h.fanOut)
	for range o.Workers {
		go h.loop(h.sends, h.deliver)
	}
	return h, nil
}

// close stops the work: deliveries under way give up and are naked, so
// that another node takes them at once, as are the messages pulled but not
// yet handled.
func (h *hooks) close() {
	if h == nil {
		return
	}
	h.cancel()
	h.events.Drain()
	h.sends.Drain()
	h.wg.Wait()
	h.hc.CloseIdleConnections()
}

// loop hands the messages of it to handle until it is closed.
func (h *hooks) loop(it jetstream.MessagesContext, handle func(jetstream.Msg)) {
	defer h.wg.Done()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			h.log.Debug("pull", "err", err)
			continue
		}
		if h.ctx.Err() != nil {
			_ = m.Nak()
			continue
		}
		handle(m)
	}
}

// publish queues a call's status change for the team's webhooks. It is
// called by the call's owner; a failure is logged, the call goes on.
func (h *hooks) publish(team string, e *signaling.WebhookEvent) {
	if h == nil || e == nil {
		return
	}
	if team == "" {
		team = DefaultTeam
	}
	body, _ := json.Marshal(e)
	m := nats.NewMsg(subjectHookEvent + token(team))
	m.Data = body
	m.Header.Set(hdrTeam, team)
	ctx, cancel := context.WithTimeout(context.Background(), h.reqTimeout)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, m, jetstream.WithMsgID(e.EventID)); err != nil {
		h.log.Warn("could not queue a webhook event", "event", e.EventID, "call", e.ID, "status", e.Status, "err", err)
	}
}

// fanOut turns an event into one delivery per webhook of its team.
func (h *hooks) fanOut(m jetstream.Msg) {
	team := m.Headers().Get(hdrTeam)
	eventID := m.Headers().Get(jetstream.MsgIDHeader)
	ctx, cancel := context.WithTimeout(h.ctx, h.reqTimeout)
	defer cancel()
	list, err := h.list(ctx, team)
	if err == nil {
		for _, w := range list {
			d := nats.NewMsg(subjectHookDelivery + token(team) + "." + token(w.ID))
			d.Data = m.Data()
			d.Header.Set(hdrTeam, team)
			d.Header.Set(hdrHook, w.ID)
			d.Header.Set(hdrEvent, eventID)
			if _, err = h.js.PublishMsg(ctx, d, jetstream.WithMsgID(eventID+"."+w.ID)); err != nil {
				err = fmt.Errorf("queue the delivery to %s: %w", w.ID, err)
				break
			}
		}
	}
	if err != nil {
		h.log.Warn("could not fan out a webhook event; retrying", "event", eventID, "team", team, "err", err)
		_ = m.NakWithDelay(h.opts.RetryBase)
		return
	}
	if err := m.Ack(); err != nil {
		// Redelivered: the deliveries' message ids make the repeat harmless.
		h.log.Warn("could not ack a webhook event", "event", eventID, "err", err)
	}
}

// deliver makes one attempt of one delivery.
func (h *hooks) deliver(m jetstream.Msg) {
	team, id, eventID := m.Headers().Get(hdrTeam), m.Headers().Get(hdrHook), m.Headers().Get(hdrEvent)
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := h.log.With("webhook", id, "team", team, "event", eventID, "attempt", attempt, "node", h.node)
	var w webhookRecord
	ctx, cancel := context.WithTimeout(h.ctx, h.reqTimeout)
	_, found, err := getJSON(ctx, h.kv, webhookKey(team, id), &w)
	cancel()
	switch {
	case err != nil:
		log.Warn("could not read the webhook; retrying", "err", err)
		_ = m.NakWithDelay(h.opts.RetryBase)
		return
	case !found:
		log.Info("webhook removed: delivery dropped")
		_ = m.Term()
		return
	}
	start := time.Now()
	code, err := h.post(w, eventID, attempt, m.Data())
	took := time.Since(start)
	// Logged before the ack, so that the log has it once the stream is
	// empty.
	switch {
	case err == nil:
		log.Info("webhook delivered", "url", w.URL, "status", code, "took", took)
		if err := m.Ack(); err != nil {
			log.Warn("could not ack a delivery: it may be repeated", "err", err)
		}
	case h.ctx.Err() != nil:
		_ = m.Nak() // shutting down: another node tries again now
	case attempt >= h.opts.Attempts:
		log.Error("webhook delivery given up", "url", w.URL, "status", code, "err", err)
		_ = m.Term()
	default:
		delay := h.opts.backoff(attempt)
		log.Warn("webhook delivery failed; retrying", "url", w.URL, "status", code, "err", err, "retry_in", delay)
		_ = m.NakWithDelay(delay)
	}
}

// post sends the signed body to w's URL; a 2xx answer is success.
func (h *hooks) post(w webhookRecord, eventID string, attempt int, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("server: webhook request: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-webhooks")
	req.Header.Set(signaling.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signaling.HeaderSignature, signaling.SignWebhook(w.Secret, ts, body))
	req.Header.Set(signaling.HeaderEventID, eventID)
	req.Header.Set(signaling.HeaderAttempt, strconv.Itoa(attempt))
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("server: webhook POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("server: webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// list reads team's webhooks, oldest first.
func (h *hooks) list(ctx context.Context, team string) ([]webhookRecord, error) {
	kl, err := h.kv.ListKeysFiltered(ctx, token(team)+".*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("server: list webhooks: %w", err)
	}
	defer func() { _ = kl.Stop() }()
	var out []webhookRecord
	for k := range kl.Keys() {
		var w webhookRecord
		_, found, err := getJSON(ctx, h.kv, k, &w)
		if err != nil {
			return nil, fmt.Errorf("server: read webhook: %w", err)
		}
		if found {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b webhookRecord) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// checkWebhookURL refuses a URL a webhook cannot be sent to.
func checkWebhookURL(raw string) *signaling.Error {
	bad := func(why string) *signaling.Error {
		return signaling.Errorf(signaling.InvalidParameter,
			"webhook URL %.80q %s: give an absolute http:// or https:// URL such as https://app.example.com/parley/events", raw, why)
	}
	if raw == "" {
		return bad("is empty")
	}
	if len(raw) > signaling.MaxWebhookURL {
		return bad(fmt.Sprintf("is over %d bytes", signaling.MaxWebhookURL))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("does not start with http:// or https://")
	case u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("carries a user name or password")
	case u.Fragment != "":
		return bad("has a #fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("has a port out of range")
		}
	}
	return nil
}

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
	if e := checkWebhookURL(req.URL); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	h := s.bus.hooks
	list, err := h.list(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the webhooks: %v", err))
		return
	}
	if len(list) >= signaling.MaxWebhooks {
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter,
			"team %s has %d webhooks, the most there may be: remove one (`parley admin webhook remove ID`)", a.team, len(list)))
		return
	}
	rec := webhookRecord{ID: newID()[:16], Team: a.team, URL: req.URL, Secret: newID() + newID(), Created: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := h.kv.Create(ctx, webhookKey(a.team, rec.ID), b); err != nil {
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
	list, err := s.bus.hooks.list(r.Context(), a.team)
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
	unknown := signaling.Errorf(signaling.InvalidParameter, "team %s has no webhook %.40q: `parley admin webhook list` shows them", a.team, id)
	if !signaling.ValidID(id) {
		s.httpError(w, r, "", unknown)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	kv, key := s.bus.hooks.kv, webhookKey(a.team, id)
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.httpError(w, r, "", unknown)
		return
	}
	var rec webhookRecord
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
