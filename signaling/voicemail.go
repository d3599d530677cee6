package signaling

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Voice messages: a caller whose call was not answered (or was refused
// because the callee was offline, busy or in do not disturb) leaves a
// recording, Ogg Opus, that the server keeps for the callee for the
// server's retention period, within the callee's quota.
const (
	// PathLeaveVoiceMessage: POST, the body the Ogg Opus recording
	// (Content-Type audio/ogg) → VoiceMessage; refused as a call to USER
	// would be when USER may not be called by you.
	PathLeaveVoiceMessage = "/v1/users/{user}/voice-messages"
	PathVoiceMessages     = "/v1/me/voice-messages" // GET → VoiceMessages
	// PathVoiceMessage: GET → the Ogg Opus recording (which marks it
	// heard); DELETE → VoiceMessage.
	PathVoiceMessage = "/v1/me/voice-messages/{id}"
)

// Limits of a voice message.
const (
	// MaxVoiceMessage is the longest recording a voice message may hold.
	MaxVoiceMessage = 2 * time.Minute
	// MaxVoiceMessageBytes bounds an upload: two minutes of Opus at 64
	// kbit/s (twice what parley sends) with the Ogg pages of 20 ms frames.
	MaxVoiceMessageBytes = 1 << 20
	// ContentTypeOgg is the type of a voice message's body.
	ContentTypeOgg = "audio/ogg"
)

// TypeVoiceMessage is the message by which the server tells every
// connection of the recipient that a voice message was left for them.
const TypeVoiceMessage Type = "voice_message"

// EventMessageCreated is the webhook event of a new voice message
// (VoiceMessageWebhookEvent).
const EventMessageCreated = "message.created"

// VoiceMessage is a voice message as its recipient (or its sender, just
// left) sees it.
type VoiceMessage struct {
	ID         string    `json:"id"`
	From       string    `json:"from"`
	FromName   string    `json:"from_name,omitempty"`
	To         string    `json:"to"`
	Created    time.Time `json:"created"`
	DurationMS int64     `json:"duration_ms"`
	Bytes      int64     `json:"bytes"`
	Heard      bool      `json:"heard"`            // played once by the recipient, on any device
	Expires    time.Time `json:"expires,omitzero"` // when the server deletes it (its retention)
}

// VoiceMessages is the answer of GET /v1/me/voice-messages: the messages,
// newest first, how many were not heard yet, and the mailbox's use of its
// quota in bytes.
type VoiceMessages struct {
	Messages []VoiceMessage `json:"messages"`
	Unheard  int            `json:"unheard"`
	Bytes    int64          `json:"bytes"`
	Quota    int64          `json:"quota"`
}

// VoiceMessageWebhookEvent is the body of the webhook event
// message.created. EventID is the message's id.
type VoiceMessageWebhookEvent struct {
	Event      string    `json:"event"` // EventMessageCreated
	EventID    string    `json:"event_id"`
	Kind       string    `json:"kind"` // "voice"
	ID         string    `json:"id"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
	Bytes      int64     `json:"bytes"`
	Node       string    `json:"node"`
}

// LeaveVoiceMessage leaves the Ogg Opus recording ogg for user.
func (a *API) LeaveVoiceMessage(ctx context.Context, user string, ogg []byte) (VoiceMessage, error) {
	var out VoiceMessage
	if err := CheckUserID(user); err != nil {
		return out, err
	}
	p := strings.Replace(PathLeaveVoiceMessage, "{user}", url.PathEscape(user), 1)
	err := a.raw(ctx, http.MethodPost, p, ogg, &out)
	return out, err
}

// VoiceMessages lists the signed-in user's voice messages, newest first.
func (a *API) VoiceMessages(ctx context.Context) (VoiceMessages, error) {
	var out VoiceMessages
	err := a.do(ctx, http.MethodGet, PathVoiceMessages, a.bearer, nil, &out)
	return out, err
}

// VoiceMessageAudio fetches a voice message's Ogg Opus recording, which
// marks it heard on every device.
func (a *API) VoiceMessageAudio(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	err := a.raw(ctx, http.MethodGet, voiceMessagePath(id), nil, &out)
	return out, err
}

// DeleteVoiceMessage deletes one of the signed-in user's voice messages.
func (a *API) DeleteVoiceMessage(ctx context.Context, id string) (VoiceMessage, error) {
	var out VoiceMessage
	err := a.do(ctx, http.MethodDelete, voiceMessagePath(id), a.bearer, nil, &out)
	return out, err
}

func voiceMessagePath(id string) string {
	return strings.Replace(PathVoiceMessage, "{id}", url.PathEscape(id), 1)
}

// raw is do for a body that is not JSON (an Ogg recording, when not nil),
// and for an answer that may not be: out is a *[]byte for the answer as
// it is, or a value to decode the JSON answer into.
func (a *API) raw(ctx context.Context, method, path string, body []byte, out any) error {
	u, err := endpoint(a.Server, "")
	if err != nil {
		return err
	}
	header, err := a.bearer(ctx)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(u, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("signaling: %w", err)
	}
	req.Header = header
	if body != nil {
		req.Header.Set("Content-Type", ContentTypeOgg)
	}
	return roundTrip(a.HTTP, req, a.Server, out)
}

// VoiceMessagesCount is "1 voice message" or "N voice messages".
func VoiceMessagesCount(n int) string { return counted(n, "voice message") }

// VoiceMessageNotice is the line a client says as it signs in when voice
// messages wait unheard: "2 voice messages not heard yet: Alice (2)" (the
// client adds how to play them); "" when there are none.
func VoiceMessageNotice(v VoiceMessages) string {
	if v.Unheard == 0 {
		return ""
	}
	var who senders
	for _, m := range v.Messages {
		if !m.Heard {
			who.add(m.From, m.FromName, 1)
		}
	}
	return VoiceMessagesCount(v.Unheard) + " not heard yet: " + who.String()
}
