package signaling

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Text messages between two people of a team, kept by the server for its
// retention period (parley serve --text-retention) in the order it took
// them: each has a sequence number, the same on every node, that orders it
// among all texts. Every device of the recipient gets each text once: the
// server keeps, per device, the sequence of the last text it delivered
// (PathTextsNew, then PathTextsDelivered), and tells every connection of
// both parties at once (a TypeText message on the WebSocket). Read marks are
// per person and per sender: reading on one device reads on all.
//
// The text is data, kept as it was sent: it may hold anything, escape
// sequences included. Show it through Printable.
const (
	// PathTexts: POST SendText → Text; GET [?with=&after=&limit=] → Texts.
	PathTexts = "/v1/me/texts"
	// PathTextsNew: GET → Texts: the texts to you that this device (its
	// token's) has not had yet, oldest first.
	PathTextsNew = "/v1/me/texts/new"
	// PathTextsDelivered: POST TextMark → TextMark: this device has had
	// the texts up to Seq. The mark never moves back.
	PathTextsDelivered = "/v1/me/texts/delivered"
	// PathTextsRead: POST TextMark → TextMark: the texts from With up to
	// Seq (0: all) were read, on every device. The mark never moves back.
	PathTextsRead = "/v1/me/texts/read"
)

// TypeText is a server message: a text was sent to the user or by them
// (from another of their devices), with the Text.
const TypeText Type = "text"

// Limits of texts.
const (
	MaxTextBytes      = 4096 // one text, in bytes of UTF-8
	DefaultTextsLimit = 50   // texts listed without ?limit=
	MaxTextsLimit     = 1000 // the largest ?limit=, and the most PathTextsNew answers at once
)

// Text is one text message as the server keeps it.
type Text struct {
	Seq      uint64    `json:"seq"` // its place among all texts: later texts have larger ones
	From     string    `json:"from"`
	FromName string    `json:"from_name,omitempty"`
	To       string    `json:"to"`
	ToName   string    `json:"to_name,omitempty"`
	Text     string    `json:"text"`
	Sent     time.Time `json:"sent"`
}

// SendText is the body of POST PathTexts.
type SendText struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// TextsQuery narrows GET PathTexts.
type TextsQuery struct {
	With  string // only the conversation with this user
	After uint64 // only texts after this sequence: the next page, oldest first
	Limit int    // at most this many (0: DefaultTextsLimit); without After, the latest
}

// Texts is a list of texts, oldest first, and how many texts to the user
// are unread, by sender, of all (not only of the list).
type Texts struct {
	Texts  []Text         `json:"texts"`
	Unread map[string]int `json:"unread"`
}

// TextMark is a delivery mark (a device's) or a read mark (With's texts).
type TextMark struct {
	With string `json:"with,omitempty"`
	Seq  uint64 `json:"seq"`
}

// SendText sends text to user.
func (a *API) SendText(ctx context.Context, to, text string) (Text, error) {
	var out Text
	if err := CheckUserID(to); err != nil {
		return out, err
	}
	err := a.do(ctx, http.MethodPost, PathTexts, a.bearer, SendText{To: to, Text: text}, &out)
	return out, err
}

// Texts lists the signed-in user's texts, oldest first.
func (a *API) Texts(ctx context.Context, q TextsQuery) (Texts, error) {
	v := url.Values{}
	if q.With != "" {
		v.Set("with", q.With)
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	p := PathTexts
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out Texts
	err := a.do(ctx, http.MethodGet, p, a.bearer, nil, &out)
	return out, err
}

// NewTexts lists the texts to the signed-in user that this device has not
// had yet, oldest first, at most MaxTextsLimit; Delivered says it had them.
func (a *API) NewTexts(ctx context.Context) (Texts, error) {
	var out Texts
	err := a.do(ctx, http.MethodGet, PathTextsNew, a.bearer, nil, &out)
	return out, err
}

// Delivered marks the texts up to seq as had by this device.
func (a *API) Delivered(ctx context.Context, seq uint64) (TextMark, error) {
	var out TextMark
	err := a.do(ctx, http.MethodPost, PathTextsDelivered, a.bearer, TextMark{Seq: seq}, &out)
	return out, err
}

// ReadTexts marks the texts from with up to seq (0: all) as read, on every
// device of the signed-in user.
func (a *API) ReadTexts(ctx context.Context, with string, seq uint64) (TextMark, error) {
	var out TextMark
	err := a.do(ctx, http.MethodPost, PathTextsRead, a.bearer, TextMark{With: with, Seq: seq}, &out)
	return out, err
}
