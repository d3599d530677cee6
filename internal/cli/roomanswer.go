package cli

import (
	"context"
	"errors"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/callfmt"
	"github.com/parley-voice/parley/signaling"
)

// roomInvitation is what converse returns to `parley answer` when an
// invitation to a room rings rather than a call.
type roomInvitation struct{ room string }

func (r roomInvitation) Error() string { return "invited to room " + r.room }

// answerRoom answers the invitation to room by joining it (as `parley
// join` does, leaving after hold when it is set), or rejects it: the
// exit status is then a rejected call's, or an unanswered one's when it
// stopped ringing first.
func answerRoom(ctx context.Context, ph *call.Phone, pr *callfmt.Printer, room string, reject bool,
	hold time.Duration) error {
	if !reject {
		return attend(ctx, ph, pr, room, call.RoomOptions{}, hold, nil)
	}
	ph.DeclineRoom(room)
	giveUp := time.NewTimer(10 * time.Second)
	defer giveUp.Stop()
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				return &exitCode{code: exitFailed, err: errors.New("the phone stopped")}
			}
			pr.Print(ev)
			switch ev := ev.(type) {
			case call.RoomChanged:
				if ev.Kind != signaling.RoomInvited || ev.Room != room || ev.Status == signaling.Ringing {
					continue
				}
				if ev.Status == signaling.Rejected {
					return &exitCode{code: exitRejected}
				}
				return &exitCode{code: exitUnanswered} // it rang out, or was answered elsewhere
			case call.RoomFailure:
				return &exitCode{code: exitError}
			}
		case <-giveUp.C:
			return &exitCode{code: exitFailed, err: errors.New("the server did not confirm the rejection")}
		case <-ctx.Done():
			return &exitCode{code: 130}
		}
	}
}
