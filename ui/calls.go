package ui

import (
	"errors"
	"fmt"
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/header"
	"github.com/parley-voice/parley/ui/history"
)

// handleEvent applies one event from the Phone.
func (m *Model) handleEvent(ev call.Event) tea.Cmd {
	log := m.common.Logger
	log.Debug("ui: event", "type", fmt.Sprintf("%T", ev), "event", ev)
	switch ev := ev.(type) {
	case call.Connected:
		return m.connected(ev)
	case call.Presence:
		return m.presenceChanged(ev)
	case call.VoiceMessage:
		return m.voiceLeft(ev) // voicemail.go
	case call.TextReceived:
		return m.textReceived(ev) // texts.go
	case call.Verification:
		if c := m.active; c != nil && (ev.CallID == "" || ev.CallID == c.ID) {
			c.Verification = ev.Code
		}
	case call.StatusChanged:
		return m.statusChanged(ev)
	case call.Muted:
		c := m.active
		if c == nil || (ev.CallID != "" && c.ID != "" && ev.CallID != c.ID) {
			return nil
		}
		if ev.Local {
			c.Muted = ev.Muted
		} else {
			c.RemoteMuted = ev.Muted
		}
	case call.Held:
		c := m.active
		if h := m.held; h != nil && ev.CallID == h.ID {
			c = h
		}
		if c == nil || (ev.CallID != "" && c.ID != "" && ev.CallID != c.ID) {
			return nil
		}
		if ev.Local {
			c.Held = ev.Held
		} else {
			c.RemoteHeld = ev.Held
		}
	case call.Levels:
		if m.active.Up() {
			m.active.Levels = ev
		}
	case call.Stats:
		c := m.active
		if c.Up() && (ev.CallID == "" || ev.CallID == c.ID) {
			s := ev
			c.Stats = &s
		}
	case call.Warning:
		c := m.active
		if c.Up() && (ev.CallID == "" || ev.CallID == c.ID) {
			c.Warnings = slices.DeleteFunc(c.Warnings, func(w string) bool { return w == ev.Name })
			if ev.Raised {
				c.Warnings = append(c.Warnings, ev.Name)
			}
		}
	case call.Failure:
		return m.failure(ev)
	case call.RoomChanged:
		return m.roomChanged(ev.RoomEvent)
	case call.RoomLevels:
		m.roomLevels(ev)
	case call.RoomStats:
		m.roomStats(ev)
	case call.RoomFailure:
		return m.roomFailure(ev)
	case call.RoomRejoining:
		m.roomRejoining(ev)
	case call.RoomLeft:
		return m.roomLeft(ev)
	case call.Grew:
		return m.grew(ev) // grow.go
	case call.Switched:
		return m.switched(ev)
	case call.MicWarning, call.DeviceChanged:
		m.audioEvent(ev) // settings.go
	case call.DevicePlugged:
		return m.devicePlugged(ev) // settings.go
	default:
		log.Warn("ui: unknown event", "type", fmt.Sprintf("%T", ev))
	}
	return nil
}

// connected applies a change of the signaling connection.
func (m *Model) connected(ev call.Connected) tea.Cmd {
	if ev.Up {
		m.header.SetState(header.Connected, "")
		if ev.User != "" {
			m.self = ev.User
			if ev.Name != "" {
				m.names[ev.User] = ev.Name
			}
			m.header.SetUser(signaling.Label(ev.User, m.names[ev.User]))
		}
		// The Phone watches the same users again by itself. The texts that
		// came while it was away were told to no connection of this one.
		return m.reloadTexts() // texts.go
	}
	// Presence is unknown until the server reports it again; how the
	// invitations ringing end would not be told (the rooms pane still
	// joins their rooms).
	clear(m.presence)
	m.invites = nil
	if ev.Err == nil {
		m.header.SetState(header.Reconnecting, "")
		return nil
	}
	var se *signaling.Error
	if errors.As(ev.Err, &se) {
		switch se.Code {
		case signaling.InvalidToken, signaling.AlreadyConnectedSession:
			// The engine does not retry these: the user has to act.
			m.header.SetState(header.Offline, se.Message)
			m.setNotice(noticeError, "Signed out: "+history.FailureText(se.Code, se.Message))
			return nil
		}
		m.header.SetState(header.Reconnecting, se.Message)
		return nil
	}
	m.header.SetState(header.Reconnecting, downReason(ev.Err))
	return nil
}

// downReason is why the connection is down, in a sentence for the header
// (the error itself, a library's text, goes to the log).
func downReason(err error) string {
	var u *signaling.UnreachableError
	if errors.As(err, &u) {
		return "cannot reach the server: " + signaling.Reason(u.Err)
	}
	return "the connection to the server was lost"
}

// statusChanged applies a call's status change.
func (m *Model) statusChanged(ev call.StatusChanged) tea.Cmd {
	log := m.common.Logger
	at := ev.At
	if at.IsZero() {
		at = m.common.Now()
	}
	c, cmd := m.callFor(ev, at)
	m.inUse(c)
	if c == nil {
		log.Debug("ui: status of a call not shown", "id", ev.ID, "status", ev.Status)
		return nil
	}
	if name := ev.PeerName(); name != "" {
		c.PeerName = name
		m.names[c.Peer] = name
	}
	switch {
	case m.movedAway(c, ev):
		return tea.Batch(cmd, m.moved(c, ev, at)) // grow.go
	case ev.Status.Terminal():
		cmd = tea.Batch(cmd, m.finish(c, ev.Status, ev.Code, ev.Reason, at))
		if ev.Untold { // hung up while the server was unreachable
			m.notice.text += " · the server is told when it is back"
		}
		return cmd
	case ev.Status == signaling.Reconnecting:
		if c.Up() {
			c.Status = signaling.Reconnecting
		}
		return cmd
	case ev.Status == signaling.Answered:
		if c.Up() {
			c.Status = signaling.Answered // back from reconnecting, or a repeat
			return cmd
		}
		if c == m.incoming && (!c.Answering || ev.Reason != "") {
			// Answered, but not here: another device of this user took it.
			m.incoming = nil
			why := ev.Reason
			if why == "" {
				why = "answered elsewhere"
			}
			m.setNotice(noticeInfo, "The call from "+c.Label()+" was "+why+".")
			return cmd
		}
		c.Status, c.Answered, c.Answering = signaling.Answered, at, false
		if c == m.incoming {
			switch {
			case m.active.Up() && m.held == nil: // a waiting call: the phone held the active one
				m.held = m.active
			case m.active != nil:
				log.Warn("ui: a call was answered while another is up", "up", m.active.ID, "answered", c.ID)
			}
			m.active, m.incoming = c, nil
			m.notice = nil
		}
		m.tickGen++
		return tea.Batch(cmd, tick(m.tickGen, untilNextSecond(c.Answered, m.common.Now()), m.done))
	case ev.Status.Valid() && !c.Up():
		c.Status = ev.Status
	}
	return cmd
}

// callFor returns the call ev is about, making it when ev announces a new
// one (with the bell, for a call coming in). It returns nil for an event
// about a call the UI does not show.
func (m *Model) callFor(ev call.StatusChanged, at time.Time) (*common.Call, tea.Cmd) {
	switch {
	case m.active != nil && m.active.ID != "" && m.active.ID == ev.ID:
		return m.active, nil
	case m.incoming != nil && m.incoming.ID == ev.ID:
		return m.incoming, nil
	case m.held != nil && m.held.ID == ev.ID:
		return m.held, nil
	case m.active != nil && m.active.ID == "" && ev.Direction == signaling.Outbound && ev.To == m.active.Peer:
		// The server created the call this side dialed.
		m.active.ID = ev.ID
		return m.active, nil
	case ev.Status.Terminal():
		return nil, nil
	case ev.Direction == signaling.Inbound:
		if m.incoming != nil {
			m.common.Logger.Warn("ui: a second call came in while one rings; not shown", "id", ev.ID, "from", ev.From)
			return nil, nil
		}
		m.incoming = &common.Call{
			ID: ev.ID, Peer: ev.From, PeerName: ev.FromName, Direction: signaling.Inbound,
			Status: ev.Status, Started: at, Guest: ev.Guest,
		}
		// Close text inputs so that a and r answer and reject.
		if m.screen == screenPrompt || m.screen == screenSearch || m.screen == screenTexts {
			m.screen = m.base()
			m.conv = nil
		}
		m.contactsPane.StopFiltering()
		m.recents.StopFiltering()
		return m.incoming, tea.Batch(ringBell(m.bell, m.common.Logger), m.desktopNotify(incomingNotice(m.incoming,
			m.active.Up())))
	case ev.Direction == signaling.Outbound && m.active == nil:
		// A call dialed from this session by other means.
		m.active = &common.Call{
			ID: ev.ID, Peer: ev.To, PeerName: ev.ToName, Direction: signaling.Outbound,
			Status: ev.Status, Started: at,
		}
		return m.active, nil
	}
	return nil, nil
}

// switched follows the phone to another call: the held one is active, and
// the active one held. The phone also says so when the active call ended
// and the held one is current (HeldID ""); the ended call's status follows,
// and finish makes the held call active then.
func (m *Model) switched(ev call.Switched) tea.Cmd {
	if h := m.held; h != nil && h.ID == ev.CallID && ev.HeldID != "" {
		m.active, m.held = h, m.active
		return m.restartTimer()
	}
	return nil
}

// restartTimer runs the call timer for the active call (another one's
// stops).
func (m *Model) restartTimer() tea.Cmd {
	m.tickGen++
	return tick(m.tickGen, untilNextSecond(m.active.Answered, m.common.Now()), m.done)
}

// failure applies a refusal or an error that did not end a call by itself.
func (m *Model) failure(ev call.Failure) tea.Cmd {
	e := ev.Err
	if e == nil {
		e = signaling.Errorf(signaling.UnknownError, "")
	}
	m.common.Logger.Info("ui: failure", "call", ev.CallID, "code", e.Code, "message", e.Message)
	switch c := m.active; {
	case c != nil && c.Direction == signaling.Outbound && c.ID == "" && !c.Up():
		// The dial was refused before the server made a call of it.
		return m.finish(c, signaling.Failed, e.Code, e.Message, m.common.Now())
	case c != nil && e.Code == signaling.NoConnectedCall && (ev.CallID == "" || ev.CallID == c.ID):
		// The call is already over on the server.
		status := signaling.Failed
		switch {
		case c.Up():
			status = signaling.Completed
		case c.Cancelled:
			status = signaling.Unanswered
		}
		return m.finish(c, status, 0, "", m.common.Now())
	}
	if c := m.incoming; c != nil && (ev.CallID == "" || ev.CallID == c.ID) {
		c.Answering, c.Rejecting = false, false
		if e.Code == signaling.NoConnectedCall {
			return m.finish(c, signaling.Unanswered, 0, "", m.common.Now())
		}
	}
	if c := m.active; c != nil && (ev.CallID == "" || ev.CallID == c.ID) {
		c.Ending = false
	}
	m.setNotice(noticeError, history.FailureText(e.Code, e.Message))
	return nil
}

// finishLocally ends the active call here without waiting for the Phone to
// report it (hang up pressed twice). Later events about it are ignored.
func (m *Model) finishLocally() tea.Cmd {
	c := m.active
	status := signaling.Unanswered
	if c.Up() {
		status = signaling.Completed
	}
	m.common.Logger.Warn("ui: ending the call without the phone's report", "id", c.ID)
	return m.finish(c, status, 0, "", m.common.Now())
}

// finish ends call c with status: it leaves the screen, its outcome is
// shown until dismissed, and it is added to the recent calls.
func (m *Model) finish(c *common.Call, status signaling.Status, code signaling.Code, reason string,
	at time.Time) tea.Cmd {
	var timer tea.Cmd // the held call's, once it is the active one
	rec := history.Record{
		CallID:    c.ID,
		Peer:      c.Peer,
		PeerName:  c.PeerName,
		Guest:     c.Guest,
		Direction: c.Direction,
		Status:    status,
		Cancelled: c.Cancelled && status == signaling.Unanswered && c.Direction == signaling.Outbound,
		Code:      code,
		Reason:    reason,
		Start:     c.Started,
		Answered:  c.Answered,
		End:       at,
	}
	switch c {
	case m.active:
		m.active = nil
		m.tickGen++        // stops the timer
		if m.held != nil { // the phone makes the held call current
			m.active, m.held = m.held, nil
			timer = m.restartTimer()
		}
	case m.incoming:
		m.incoming = nil
	case m.held:
		m.held = nil
	}
	kind := noticeInfo
	switch status {
	case signaling.Completed:
		kind = noticeSuccess
	case signaling.Failed:
		kind = noticeError
	}
	m.setNotice(kind, rec.Summary())
	var missed tea.Cmd
	if c.Direction == signaling.Inbound && status == signaling.Unanswered {
		missed = m.desktopNotify(rec.Summary()) // "Missed call from Bob"
	}
	if offersVoice(c, status, code, reason) {
		m.offerVoice(c.Peer) // voicemail.go
	}
	switch code {
	case signaling.InvalidParameter, signaling.NotFoundUserSessionID, signaling.SameCallerAndDestination:
		// Not a call to anyone: nothing to call back.
		return tea.Batch(timer, missed)
	}
	return tea.Batch(timer, missed, m.record(rec))
}

// record adds rec to the recent calls and appends it to the history file.
func (m *Model) record(rec history.Record) tea.Cmd {
	m.records = slices.Insert(m.records, 0, rec)
	if len(m.records) > history.MaxRecords {
		m.records = m.records[:history.MaxRecords]
	}
	m.showRecents()           // voicemail.go
	if m.callHistory != nil { // the server has it too, as every device will
		return tea.Batch(m.historyQ.push(saveRecord(m.store, rec)), m.watch(), loadServerHistory(m.callHistory))
	}
	return tea.Batch(m.historyQ.push(saveRecord(m.store, rec)), m.watch())
}

// historyLoaded shows the recent calls read at start and watches the
// contacts and recent peers.
func (m *Model) historyLoaded(msg historyLoadedMsg) tea.Cmd {
	log := m.common.Logger
	m.loaded = true
	if msg.err != nil {
		log.Error("ui: reading recent calls", "err", msg.err)
		m.setNotice(noticeError, "Could not read the recent calls: "+msg.err.Error())
	}
	if msg.skipped > 0 {
		log.Warn("ui: skipped unreadable lines in the recent calls", "lines", msg.skipped, "path", m.store.Path())
	}
	if m.fromServer { // the server's came first: this device's file is only a fallback
		return m.watch() // not sent before: the file was not read yet
	}
	loaded := slices.Clone(msg.records)
	slices.Reverse(loaded)
	// Calls that ended before the file was read come first.
	m.records = append(m.records, loaded...)
	if len(m.records) > history.MaxRecords {
		m.records = m.records[:history.MaxRecords]
	}
	m.showRecents() // voicemail.go
	return m.watch()
}
