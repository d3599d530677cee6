package call

import "github.com/parley-voice/parley/signaling"

// TextReceived reports a text message sent to the signed-in user, or by
// them from another of their devices, as the server tells every
// connection of both people (signaling.TypeText). The text is as sent:
// show it through signaling.Printable.
type TextReceived struct {
	Text signaling.Text
}

func (TextReceived) event() {}
