package call_test

import (
	"context"
	"testing"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// TestTextReceived: a text sent over the HTTP API comes to the phones of
// both people as a TextReceived event, as kept (sequence, names, the text
// with its escape sequences, which the UI makes harmless).
func TestTextReceived(t *testing.T) {
	r := newRig(t, server.Config{})
	alice := r.phone("alice", devices{tone(440), null})
	bob := r.phone("bob", devices{tone(660), null})
	tok, err := r.srv.IssueToken(context.Background(), "alice", server.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api := &signaling.API{Server: r.url, Token: func(context.Context) (string, error) { return tok, nil }}
	sent, err := api.SendText(context.Background(), "bob", "hi\x1b]0;bob\x07")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*party{bob, alice} {
		ev, ok := p.next().(call.TextReceived)
		if !ok || ev.Text.Seq != sent.Seq || ev.Text.Text != sent.Text || ev.Text.From != "alice" ||
			ev.Text.To != "bob" {
			t.Errorf("%s: got %+v, want the text %+v", p.name, ev, sent)
		}
	}
}
