package signaling

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Call records and webhooks: the HTTP API an app's backend uses with the
// team's API key (APP_API_KEY), like the token endpoint.
const (
	PathCalls    = "/v1/voice/calls"         // GET [?user=&status=&limit=&before=] → CallRecords
	PathWebhooks = "/v1/voice/webhooks"      // POST WebhookRequest → Webhook (with its secret); GET → Webhooks
	PathWebhook  = "/v1/voice/webhooks/{id}" // DELETE: the webhook is removed
)

// Limits of the records and webhooks API.
const (
	DefaultCallsLimit = 50   // records per page without ?limit=
	MaxCallsLimit     = 1000 // the largest ?limit=
	MaxWebhooks       = 20   // webhooks per team
	MaxWebhookURL     = 2048 // bytes of a webhook URL
)

// Webhook request headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp header's value, a dot, and the
	// body: "sha256=" + hex(HMAC(secret, TIMESTAMP + "." + BODY)).
	HeaderSignature = "X-Parley-Signature"
	// HeaderTimestamp is when this attempt was sent, in Unix seconds.
	HeaderTimestamp = "X-Parley-Timestamp"
	// HeaderEventID is the event's id, the same on every attempt: a
	// receiver that saw it already may ignore it.
	HeaderEventID = "X-Parley-Event"
	// HeaderAttempt counts the attempts of this delivery, from 1.
	HeaderAttempt = "X-Parley-Attempt"
)

// Webhook event names, as in the Gitple SDK: "call" when a call is
// created (status started), "call_status_changed" for every later status.
const (
	EventCall              = "call"
	EventCallStatusChanged = "call_status_changed"
)

// StatusChange is one status of a call and when the call entered it.
type StatusChange struct {
	Status Status    `json:"status"`
	Time   time.Time `json:"time"`
}

// CallRecord is a call as the records API lists it. Direction is set when
// the list was asked for one user: outbound when they placed the call,
// inbound when they were called. Duration is the time between the answer
// and the end, in milliseconds (0 for a call never answered or not ended).
type CallRecord struct {
	ID         string         `json:"id"`
	From       string         `json:"from"`
	To         string         `json:"to"`
	FromName   string         `json:"from_name,omitempty"` // display names, when the call had them
	ToName     string         `json:"to_name,omitempty"`
	Direction  Direction      `json:"direction,omitempty"`
	Status     Status         `json:"status"` // the latest
	Statuses   []StatusChange `json:"statuses"`
	Started    time.Time      `json:"started"`
	Answered   *time.Time     `json:"answered,omitempty"`
	Ended      *time.Time     `json:"ended,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Reason     string         `json:"reason,omitempty"`
	Code       Code           `json:"code,omitempty"`
	Node       string         `json:"node"`            // the server node that handled the call
	Guest      bool           `json:"guest,omitempty"` // the caller came through a guest link
	// In a member's history (History) only: the call was missed, and it
	// was started after their seen mark.
	Missed bool `json:"missed,omitempty"`
	Unseen bool `json:"unseen,omitempty"`
}

// CallRecords is the answer of GET /v1/voice/calls, newest first.
type CallRecords struct {
	Calls []CallRecord `json:"calls"`
}

// CallsQuery narrows GET /v1/voice/calls.
type CallsQuery struct {
	User   string    // calls from or to this user
	Status Status    // calls whose latest status is this one
	Limit  int       // at most this many (0: DefaultCallsLimit)
	Before time.Time // calls started before this time: the next page
}

// WebhookRequest registers a webhook.
type WebhookRequest struct {
	URL string `json:"url"`
}

// Webhook is a registered webhook. Secret is only in the answer to its
// registration: keep it, it verifies the signatures.
type Webhook struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
}

// Webhooks is the answer of GET /v1/voice/webhooks.
type Webhooks struct {
	Webhooks []Webhook `json:"webhooks"`
}

// WebhookEvent is the body a webhook receives: the Gitple SDK's event
// payload (id, status, direction, from, to) with the event's name and id,
// the time the call entered the status, and, for a call that ended other
// than completed, the reason and the error code. Direction is the caller's
// (outbound): From placed the call to To.
type WebhookEvent struct {
	Event     string    `json:"event"`    // EventCall or EventCallStatusChanged
	EventID   string    `json:"event_id"` // CALL-ID.N: the call's Nth status
	ID        string    `json:"id"`       // the call's id
	Status    Status    `json:"status"`
	Direction Direction `json:"direction"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason,omitempty"`
	Code      Code      `json:"code,omitempty"`
	Node      string    `json:"node"`            // the server node that handled the call
	Guest     bool      `json:"guest,omitempty"` // the caller came through a guest link
}

// SignWebhook is the value of HeaderSignature for body sent at timestamp
// (Unix seconds) with secret.
func SignWebhook(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a webhook request's signature and timestamp headers
// against its body: the signature must be secret's, and the timestamp
// within tolerance of now (0: not checked), so that an old request cannot
// be replayed.
func VerifyWebhook(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("signaling: webhook: no valid %s header: %w", HeaderTimestamp, err)
	}
	want := SignWebhook(secret, ts, body)
	if !hmac.Equal([]byte(header.Get(HeaderSignature)), []byte(want)) {
		return fmt.Errorf("signaling: webhook: %s does not match the body", HeaderSignature)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(ts, 0)).Abs(); d > tolerance {
			return fmt.Errorf("signaling: webhook: timestamp is %v away from now, over %v", d.Round(time.Second),
				tolerance)
		}
	}
	return nil
}

// Calls lists the team's call records, newest first.
func (a *API) Calls(ctx context.Context, q CallsQuery) ([]CallRecord, error) {
	var out CallRecords
	err := a.do(ctx, http.MethodGet, listPath(PathCalls, q.User, string(q.Status), q.Limit, q.Before), a.admin, nil,
		&out)
	return out.Calls, err
}

// listPath is the path of a listing of records (calls, rooms) with its
// query: user, status, limit and before, each when set.
func listPath(path, user, status string, limit int, before time.Time) string {
	v := url.Values{}
	if user != "" {
		v.Set("user", user)
	}
	if status != "" {
		v.Set("status", status)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if !before.IsZero() {
		v.Set("before", before.UTC().Format(time.RFC3339Nano))
	}
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return path
}

// AddWebhook registers a webhook; the answer carries its secret, once.
func (a *API) AddWebhook(ctx context.Context, u string) (Webhook, error) {
	var out Webhook
	err := a.do(ctx, http.MethodPost, PathWebhooks, a.admin, WebhookRequest{URL: u}, &out)
	return out, err
}

// Webhooks lists the team's webhooks, without their secrets.
func (a *API) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out Webhooks
	err := a.do(ctx, http.MethodGet, PathWebhooks, a.admin, nil, &out)
	return out.Webhooks, err
}

// RemoveWebhook removes a webhook by id.
func (a *API) RemoveWebhook(ctx context.Context, id string) error {
	if !ValidID(id) {
		return Errorf(InvalidParameter, "webhook id %.64q is not valid: `parley admin webhook list` shows the ids", id)
	}
	return a.do(ctx, http.MethodDelete, strings.Replace(PathWebhook, "{id}", url.PathEscape(id), 1), a.admin, nil, nil)
}
