package ui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/header"
	"github.com/parley-voice/parley/ui/components/prompt"
)

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if m.screen == screenQuit && (!m.up() || m.quitting) {
		m.screen = m.base()
	}
	if m.screen == screenRoomConfirm && m.room == nil {
		m.screen = m.base()
	}
	if m.screen == screenHome || m.screen == screenCall || m.screen == screenRoom {
		m.screen = m.base()
	}
	if m.quitting {
		cmd = tea.Batch(cmd, m.maybeQuit())
	}
	m.layout()
	return m, cmd
}

// update handles one message and returns what to do next.
func (m *Model) update(msg tea.Msg) tea.Cmd {
	log := m.common.Logger
	switch msg := harmless(msg).(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return nil

	case tea.KeyMsg:
		return tea.Batch(m.keyPressed(), m.handleKey(msg))

	case eventMsg:
		return tea.Batch(m.handleEvent(msg.event), waitEvent(m.phone.Events(), m.done))

	case phoneClosedMsg:
		return m.phoneStopped()

	case tickMsg:
		if msg.gen == m.tickGen && m.active.Up() {
			return tick(msg.gen, untilNextSecond(m.active.Answered, m.common.Now()), m.done)
		}
		return nil

	case queueDoneMsg:
		var next tea.Cmd
		switch msg.queue {
		case phoneQueue:
			next = m.phoneQ.next()
		case historyQueue:
			next = m.historyQ.next()
		}
		if msg.msg == nil {
			return next
		}
		return tea.Batch(next, m.update(msg.msg))

	case historyLoadedMsg:
		return m.historyLoaded(msg)

	case historySavedMsg:
		if msg.err != nil {
			log.Error("ui: saving recent calls", "err", msg.err)
			m.setNotice(noticeError, "Could not save the recent calls: "+msg.err.Error())
		}
		return nil

	case devicesListedMsg:
		if msg.err != nil {
			log.Error("ui: listing devices", "err", msg.err)
		}
		m.devices.SetDevices(msg.inputs, msg.outputs, msg.input, msg.output, msg.err)
		m.devices.SetLabels(msg.labels)
		return nil

	case devicesChosenMsg:
		m.devices.Saved(msg.input, msg.output, msg.err)
		if msg.err != nil {
			log.Error("ui: saving devices", "err", msg.err)
			return nil
		}
		m.setNotice(noticeSuccess, "Now using microphone "+msg.input+", speaker "+msg.output+" (saved).")
		return nil

	case quitTimeoutMsg:
		log.Warn("ui: quitting without waiting any longer for the hang-up")
		return tea.Quit

	case common.DialMsg:
		return m.dial(msg.User)

	case common.AddToCallMsg:
		return m.addToCall(msg.User) // grow.go

	case common.MakeLinkMsg:
		if m.people == nil {
			return nil
		}
		return makeLink(m.people, m.clipboard, msg.Name)

	case linkMadeMsg:
		m.linkMade(msg)
		return nil

	case contactsLoadedMsg:
		return m.contactsLoaded(msg)

	case missedMsg:
		return m.missedLoaded(msg) // missed.go

	case textsLoadedMsg:
		return m.textsLoaded(msg) // texts.go

	case textSentMsg:
		m.textSent(msg)
		return nil

	case serverHistoryMsg:
		return m.serverHistoryLoaded(msg)

	case voiceLoadedMsg: // voicemail.go
		return m.voiceLoaded(msg)

	case common.PlayVoiceMsg:
		return m.playVoice(msg.ID)

	case voicePlayedMsg:
		m.voicePlayed(msg)
		return nil

	case voiceSentMsg:
		m.voiceSent(msg)
		return nil

	case roomsLoadedMsg:
		m.roomsLoaded(msg)
		return nil

	case roomsTickMsg:
		return m.roomsTick(msg)

	case common.JoinRoomMsg:
		return m.joinRoom(msg.Name)

	case contactAddedMsg:
		return m.contactAdded(msg)

	case directoryMsg:
		m.directory.SetResults(msg.seq, msg.people, msg.err)
		return nil

	case idleCheckMsg:
		return m.checkIdle()

	case common.NotifyMsg:
		m.toggleNotify(msg.User)
		return nil

	case common.SearchMsg:
		if m.people == nil {
			return nil
		}
		return searchDirectory(m.people, msg.Query, msg.Seq)

	case common.AddContactMsg:
		if m.people == nil {
			return nil
		}
		return addContact(m.people, msg.User)

	case common.SetProcessingMsg, processingSavedMsg:
		return m.audio.update(msg)

	case common.ChooseDevicesMsg:
		if m.devAPI == nil {
			return nil
		}
		m.devices.Saving()
		return chooseDevices(m.devAPI, msg.Input, msg.Output)

	case common.CloseMsg:
		m.screen = m.base()
		return nil

	case common.ConfirmMsg:
		if m.screen == screenRoomConfirm {
			return m.roomConfirmed(msg.Yes)
		}
		if !msg.Yes {
			m.screen = m.base()
			return nil
		}
		return m.hangupAndQuit()
	}

	// Anything else (a text input's own messages) goes to the text input
	// that has the keyboard.
	switch {
	case m.screen == screenPrompt:
		_, cmd := m.prompt.Update(msg)
		return cmd
	case m.screen == screenSearch:
		_, cmd := m.directory.Update(msg)
		return cmd
	case m.screen == screenTexts && m.conv != nil:
		var cmd tea.Cmd
		m.conv.input, cmd = m.conv.input.Update(msg)
		return cmd
	case m.typing():
		_, cmd := m.contactsPane.Update(msg)
		return cmd
	}
	return nil
}

// handleKey handles a key press.
func (m *Model) handleKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	if k.Type == tea.KeyCtrlC {
		switch {
		case m.quitting:
			return tea.Quit // a second ctrl+c does not wait
		case m.screen == screenQuit:
			return m.hangupAndQuit()
		}
		return m.requestQuit()
	}
	if m.quitting {
		return nil
	}
	if m.screen == screenQuit {
		_, cmd := m.confirm.Update(k)
		return cmd
	}
	if m.screen == screenRoomConfirm {
		_, cmd := m.roomConfirm.Update(k)
		return cmd
	}
	if cmd, ok := m.voiceKey(k); ok { // voicemail.go
		return cmd
	}

	// The incoming call's keys work over every screen. No text input has
	// the keyboard while a call rings: they are closed when it comes in,
	// and do not open until it is over.
	if m.incoming != nil && !m.typing() {
		switch {
		case key.Matches(k, km.Answer):
			return m.answer()
		case key.Matches(k, km.Reject):
			return m.reject()
		}
	}
	if cmd, ok := m.lobbyKey(k); ok { // lobby.go
		return cmd
	}
	if cmd, ok := m.inviteKey(k); ok { // invite.go
		return cmd
	}

	switch m.screen {
	case screenTexts:
		return m.textsKey(k) // texts.go
	case screenPrompt:
		_, cmd := m.prompt.Update(k)
		return cmd
	case screenSearch:
		_, cmd := m.directory.Update(k)
		return cmd
	case screenHelp:
		if key.Matches(k, km.Quit) {
			return m.requestQuit()
		}
		_, cmd := m.help.Update(k)
		return cmd
	case screenDevices:
		if key.Matches(k, km.Quit) {
			return m.requestQuit()
		}
		_, cmd := m.devices.Update(k)
		return cmd
	case screenSettings:
		if key.Matches(k, km.Quit) {
			return m.requestQuit()
		}
		return m.audio.key(k)
	case screenCall:
		return m.callKey(k)
	case screenRoom:
		return m.roomKey(k)
	}
	return m.homeKey(k)
}

// globalKey handles the keys that open overlays or quit, on the base
// screens. It reports whether k was one of them.
func (m *Model) globalKey(k tea.KeyMsg) (tea.Cmd, bool) {
	km := m.common.KeyMap
	switch {
	case key.Matches(k, km.Quit):
		return m.requestQuit(), true
	case key.Matches(k, km.Help):
		m.help.Reset()
		m.screen = screenHelp
		return nil, true
	case key.Matches(k, km.Settings) && m.audio.api != nil:
		m.screen = screenSettings
		return m.audio.open(), true
	case key.Matches(k, km.Devices) && m.devAPI != nil:
		m.devices.Loading()
		m.screen = screenDevices
		return listDevices(m.devAPI), true
	}
	return nil, false
}

// homeKey handles a key on the home screen.
func (m *Model) homeKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	if m.filtering() {
		return m.paneKey(k)
	}
	if cmd, ok := m.globalKey(k); ok {
		return cmd
	}
	switch {
	case key.Matches(k, km.CallUser):
		if m.incoming != nil {
			return nil
		}
		m.screen = screenPrompt
		return m.prompt.Open(prompt.Dial())
	case key.Matches(k, km.GuestLink) && m.people != nil:
		if m.incoming != nil {
			return nil
		}
		m.screen = screenPrompt
		return m.prompt.Open(prompt.GuestLink())
	case key.Matches(k, km.AddContact):
		if m.incoming != nil {
			return nil
		}
		return m.openDirectory()
	case key.Matches(k, km.NextPane):
		m.pane = (m.pane + 1) % m.panes()
		if m.pane == paneRooms {
			return m.refreshRooms()
		}
		return m.seeRecents() // missed.go
	case key.Matches(k, km.Filter) && m.incoming != nil:
		return nil
	case key.Matches(k, km.Texts) && m.pane == paneContacts && m.textsAPI != nil:
		u, _ := m.contactsPane.Selected()
		return m.openTexts(u) // texts.go
	case key.Matches(k, km.Dismiss) && m.notice != nil &&
		!(m.paneFilter() != nil && m.paneFilter().HasFilter()):
		m.notice = nil
		return nil
	}
	return m.paneKey(k)
}

// paneKey hands a key on the home screen to the pane shown.
func (m *Model) paneKey(k tea.KeyMsg) tea.Cmd {
	var cmd tea.Cmd
	switch m.pane {
	case paneContacts:
		_, cmd = m.contactsPane.Update(k)
	case paneRecents:
		_, cmd = m.recents.Update(k)
	case paneRooms:
		_, cmd = m.roomsPane.Update(k)
	}
	return cmd
}

// callKey handles a key on the call screen.
func (m *Model) callKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.KeyMap
	if cmd, ok := m.globalKey(k); ok {
		return cmd
	}
	c := m.active
	switch {
	case c.Up() && key.Matches(k, km.Mute):
		return m.toggleMute()
	case c.Up() && !c.Ending && key.Matches(k, km.Hold):
		return m.toggleHold()
	case c.Up() && !c.Ending && m.held != nil && key.Matches(k, km.Swap):
		p := m.phone
		return m.phoneDo("Swap", p.Swap) // call.Switched swaps the two here
	case c.Up() && !c.Ending && m.held != nil && key.Matches(k, km.AddToCall):
		return nil // not with a call held beside it
	case c.Up() && key.Matches(k, km.Hangup):
		return m.hangup()
	case c.Up() && !c.Ending && m.roomsAPI != nil && key.Matches(k, km.AddToCall):
		return m.openAddToCall() // grow.go
	case m.textsAPI != nil && key.Matches(k, km.Texts):
		return m.openTexts(c.Peer) // texts.go
	case !c.Up() && key.Matches(k, km.Cancel):
		return m.hangup()
	case key.Matches(k, km.Dismiss) && m.notice != nil:
		m.notice = nil
	}
	return nil
}

// requestQuit quits, first asking when a call is up. A call ringing here is
// rejected.
func (m *Model) requestQuit() tea.Cmd {
	if m.phoneClosed {
		return tea.Quit
	}
	if m.up() {
		m.confirm.SetQuestion(quitQuestion)
		if m.active == nil {
			m.confirm.SetQuestion(roomQuitQuestion)
		}
		m.screen = screenQuit
		return nil
	}
	var cmd tea.Cmd
	if m.incoming != nil && !m.incoming.Rejecting {
		cmd = m.reject()
	}
	return tea.Batch(cmd, m.beginQuit())
}

// hangupAndQuit hangs up the call, then quits once it has ended (or after
// quitTimeout).
func (m *Model) hangupAndQuit() tea.Cmd {
	var cmd tea.Cmd
	if m.active != nil && !m.active.Ending {
		cmd = m.hangup()
	}
	if m.room != nil {
		cmd = tea.Batch(cmd, m.leaveRoom())
	}
	return tea.Batch(cmd, m.beginQuit())
}

// beginQuit starts quitting: the program ends once no call is left, the
// queued Phone calls are made and the history is written, or after
// quitTimeout.
func (m *Model) beginQuit() tea.Cmd {
	m.quitting = true
	m.screen = m.base()
	return after(quitTimeout, m.done, quitTimeoutMsg{})
}

// maybeQuit returns tea.Quit once quitting has nothing left to wait for.
func (m *Model) maybeQuit() tea.Cmd {
	calls := m.active == nil && m.incoming == nil
	if (calls || m.phoneClosed) && m.phoneQ.idle() && m.historyQ.idle() {
		return tea.Quit
	}
	return nil
}

// dial calls user, unless a call is already up or ringing.
func (m *Model) dial(user string) tea.Cmd {
	switch {
	case prompt.Validate(user) != "":
		return nil
	case m.phoneClosed:
		m.setNotice(noticeError, "The phone has stopped; restart parley to call again.")
		return nil
	case m.active != nil:
		m.setNotice(noticeError, "Hang up the current call first.")
		return nil
	case m.room != nil:
		m.setNotice(noticeError, "Leave the room "+m.room.Name+" first (l), then call.")
		return nil
	case m.incoming != nil:
		m.setNotice(noticeError, "Answer or reject the incoming call first.")
		return nil
	case user == m.self:
		m.setNotice(noticeError, "You cannot call yourself.")
		return nil
	}
	m.notice = nil
	m.active = &common.Call{Peer: user, PeerName: m.names[user], Direction: signaling.Outbound, Started: m.common.Now()}
	m.screen = screenCall
	p := m.phone
	return m.phoneDo("Dial", func() { p.Dial(user) })
}

// answer answers the incoming call.
func (m *Model) answer() tea.Cmd {
	c := m.incoming
	switch {
	case c.Answering || c.Rejecting:
		return nil
	case m.active != nil && (!m.active.Up() || m.held != nil):
		m.setNotice(noticeError, "Hang up the current call first, then answer.")
		return nil
	case m.room != nil:
		m.setNotice(noticeError, "Leave the room "+m.room.Name+" first (l), then answer.")
		return nil
	}
	c.Answering = true
	m.notice = nil
	p := m.phone
	return m.phoneDo("Answer", p.Answer)
}

// reject rejects the incoming call.
func (m *Model) reject() tea.Cmd {
	c := m.incoming
	if c.Answering || c.Rejecting {
		return nil
	}
	c.Rejecting = true
	p := m.phone
	return m.phoneDo("Reject", p.Reject)
}

// toggleMute mutes or unmutes this side.
func (m *Model) toggleMute() tea.Cmd {
	c := m.active
	c.Muted = !c.Muted
	muted := c.Muted
	p := m.phone
	return m.phoneDo("SetMuted", func() { p.SetMuted(muted) })
}

// toggleHold holds the call or resumes it; the view follows call.Held,
// which comes at once (or a refusal, as a reconnecting call's).
func (m *Model) toggleHold() tea.Cmd {
	held := !m.active.Held
	p := m.phone
	return m.phoneDo("SetHeld", func() { p.SetHeld(held) })
}

// hangup hangs up the active call, or cancels it while it rings. Pressed
// again while the Phone has not yet reported the end, it ends the call here
// without waiting.
func (m *Model) hangup() tea.Cmd {
	c := m.active
	if c.Ending {
		return m.finishLocally()
	}
	c.Ending = true
	if !c.Up() {
		c.Cancelled = true
	}
	p := m.phone
	return m.phoneDo("Hangup", p.Hangup)
}

// phoneStopped handles the end of the Phone's events.
func (m *Model) phoneStopped() tea.Cmd {
	m.phoneClosed = true
	m.header.SetState(header.Offline, "the phone stopped")
	m.common.Logger.Warn("ui: the phone's event channel was closed")
	var cmds []tea.Cmd
	m.invites = nil
	if m.room != nil {
		m.room = nil
		m.setNotice(noticeError, "parley's call engine stopped: you are no longer in the room.")
	}
	for _, c := range []*common.Call{m.incoming, m.active, m.held} {
		if c != nil {
			cmds = append(cmds, m.finish(c, signaling.Failed, 0, "parley's call engine stopped", m.common.Now()))
		}
	}
	return tea.Batch(cmds...)
}
