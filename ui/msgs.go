package ui

import (
	"io"
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/ui/history"
)

// eventMsg carries one event from the Phone's Events channel.
type eventMsg struct{ event call.Event }

// phoneClosedMsg reports that the Phone's Events channel was closed: the
// call engine has shut down.
type phoneClosedMsg struct{}

// waitEvent returns a command that waits for the next event on ch. The
// model re-arms it after each eventMsg. It gives up (no message) when done
// is closed, so that no goroutine outlives the program.
func waitEvent(ch <-chan call.Event, done <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		select {
		case ev, ok := <-ch:
			if !ok {
				return phoneClosedMsg{}
			}
			return eventMsg{event: ev}
		case <-done:
			return nil
		}
	}
}

// tickMsg advances the call timer. gen tells ticks of an earlier call,
// which are dropped, from the current call's.
type tickMsg struct{ gen int }

// tick returns a command that sends tickMsg{gen} after d.
func tick(gen int, d time.Duration, done <-chan struct{}) tea.Cmd {
	return after(d, done, tickMsg{gen: gen})
}

// after returns a command that sends msg after d (counted from now, as
// tea.Tick does), or nothing once done is closed, so that no goroutine
// waits on after the program.
func after(d time.Duration, done <-chan struct{}, msg tea.Msg) tea.Cmd {
	t := time.NewTimer(d)
	return func() tea.Msg {
		defer t.Stop()
		select {
		case <-t.C:
			return msg
		case <-done:
			return nil
		}
	}
}

// untilNextSecond is how long until the timer of a call answered at
// answered shows the next second.
func untilNextSecond(answered, now time.Time) time.Duration {
	return time.Second - now.Sub(answered)%time.Second
}

// historyLoadedMsg carries the recent calls read from the history file,
// oldest first.
type historyLoadedMsg struct {
	records []history.Record
	skipped int // lines that did not parse
	err     error
}

// loadHistory returns a command that reads the history file.
func loadHistory(s *history.Store) tea.Cmd {
	return func() tea.Msg {
		recs, skipped, err := s.Load()
		return historyLoadedMsg{records: recs, skipped: skipped, err: err}
	}
}

// historySavedMsg reports that a record was appended to the history file.
type historySavedMsg struct{ err error }

// saveRecord returns a command that appends r to the history file.
func saveRecord(s *history.Store, r history.Record) tea.Cmd {
	return func() tea.Msg { return historySavedMsg{err: s.Append(r)} }
}

// ringBell returns a command that writes the terminal bell to w, or nil
// when there is no w.
func ringBell(w io.Writer, log *slog.Logger) tea.Cmd {
	if w == nil {
		return nil
	}
	return writeTerminal(w, "\a", log, "ui: bell")
}

// writeTerminal returns a command that writes s to the terminal w in one
// Write (the bell, desktop notifications), logging a failure as what.
func writeTerminal(w io.Writer, s string, log *slog.Logger, what string) tea.Cmd {
	return func() tea.Msg {
		if _, err := io.WriteString(w, s); err != nil {
			log.Warn(what, "err", err)
		}
		return nil
	}
}

// phoneCall returns a command that makes one Phone method call. The model
// queues these so that they run one at a time, in order.
func phoneCall(name string, log *slog.Logger, f func()) tea.Cmd {
	return func() tea.Msg {
		log.Debug("ui: phone", "call", name)
		f()
		return nil
	}
}

// devicesListedMsg carries the audio devices and the ones in use.
type devicesListedMsg struct {
	inputs, outputs []string
	input, output   string
	labels          map[string]string // what each is shown as, when Devices says (DeviceLabels)
	err             error
}

// listDevices returns a command that lists the audio devices.
func listDevices(d Devices) tea.Cmd {
	return func() tea.Msg {
		in, out, err := d.List()
		cin, cout := d.Current()
		msg := devicesListedMsg{inputs: in, outputs: out, input: cin, output: cout, err: err}
		if dl, ok := d.(DeviceLabels); ok {
			msg.labels = map[string]string{}
			for _, n := range append(append([]string{cin, cout}, in...), out...) {
				msg.labels[n] = dl.Label(n)
			}
		}
		return msg
	}
}

// devicesChosenMsg reports that the chosen devices were saved (or not).
type devicesChosenMsg struct {
	input, output string
	err           error
}

// chooseDevices returns a command that saves the chosen devices.
func chooseDevices(d Devices, input, output string) tea.Cmd {
	return func() tea.Msg {
		return devicesChosenMsg{input: input, output: output, err: d.Choose(input, output)}
	}
}

// quitTimeoutMsg ends the wait for a call to hang up before quitting.
type quitTimeoutMsg struct{}

// quitTimeout is how long quitting waits for the hang-up and the last
// history write.
const quitTimeout = 2 * time.Second

// queueDoneMsg reports that the command a queue was running finished with
// msg (nil for none).
type queueDoneMsg struct {
	queue queueID
	msg   tea.Msg
}

// queueID names one of the model's command queues.
type queueID int

// The queues: Phone calls, and history writes.
const (
	phoneQueue queueID = iota
	historyQueue
)

// queue runs commands one at a time, in the order they were pushed: Bubble
// Tea runs every command in its own goroutine, so two commands returned one
// after the other may otherwise run in either order (SetMuted(true) then
// SetMuted(false) must not swap).
type queue struct {
	id      queueID
	pending []tea.Cmd
	busy    bool
}

// push returns cmd, wrapped to report back, if the queue is idle; else it
// keeps cmd for later and returns nil.
func (q *queue) push(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	if q.busy {
		q.pending = append(q.pending, cmd)
		return nil
	}
	q.busy = true
	return q.wrap(cmd)
}

// next returns the next command once the running one is done, or nil when
// the queue is empty.
func (q *queue) next() tea.Cmd {
	if len(q.pending) == 0 {
		q.busy = false
		return nil
	}
	cmd := q.pending[0]
	q.pending = q.pending[1:]
	return q.wrap(cmd)
}

// idle reports whether nothing is running or waiting.
func (q *queue) idle() bool { return !q.busy && len(q.pending) == 0 }

func (q *queue) wrap(cmd tea.Cmd) tea.Cmd {
	id := q.id
	return func() tea.Msg { return queueDoneMsg{queue: id, msg: cmd()} }
}
