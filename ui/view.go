package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/ui/common"
)

// The screen, top to bottom: the header; the incoming-call banner while a
// call rings (or a guest waits in the lobby of your room, or an invitation
// to a room rings); the tabs on the home screen; the body, framed by the Pane
// style, showing the current screen's component; the notice, if any; the
// footer with the short key help. The body gets what the other parts leave.

// layout sizes the components from the window size and the heights of the
// parts around the body, which it measures by rendering them.
func (m *Model) layout() {
	if m.width <= 0 || m.height <= 0 {
		return
	}
	st := m.common.Styles
	m.header.SetSize(m.width, 1)
	if m.incoming != nil {
		busy := ""
		switch {
		case m.active.Up() && m.held == nil && m.room == nil: // call waiting: answering holds the active call
		case m.active != nil:
			busy = "hang up to answer"
		case m.room != nil:
			busy = "leave the room to answer"
		}
		if busy == "" && m.active != nil {
			m.banner.SetWaiting(*m.incoming, m.active.Who())
		} else {
			m.banner.SetCall(*m.incoming, busy)
		}
	} else if guest, more, ok := m.knocking(); ok { // lobby.go
		m.banner.SetKnock(guest, more)
	} else if inv, ok := m.inviting(); ok { // invite.go
		m.banner.SetInvite(m.inviteText(inv), m.inviteBusy())
	}
	m.banner.SetSize(m.width, 0)
	if m.active != nil {
		m.callView.SetCall(*m.active)
	}
	m.callView.SetHeld("")
	if m.held != nil {
		m.callView.SetHeld(m.held.Who())
	}
	if m.room != nil {
		m.roomView.SetRoom(*m.room)
	}

	w := m.width - st.Pane.GetHorizontalFrameSize()
	h := m.bodyHeight() - st.Pane.GetVerticalFrameSize()
	for _, c := range []common.Component{
		m.contactsPane, m.recents, m.roomsPane, m.callView, m.roomView, m.devices, m.audio.view, m.help, m.prompt,
		m.directory, m.confirm, m.roomConfirm,
	} {
		c.SetSize(w, h)
	}
}

// bodyHeight is the height of the framed body.
func (m *Model) bodyHeight() int {
	h := m.height - lipgloss.Height(m.header.View()) - lipgloss.Height(m.footerView())
	if m.bannerUp() {
		h -= lipgloss.Height(m.banner.View())
	}
	if m.screen == screenHome {
		h -= lipgloss.Height(m.tabsView())
	}
	if n := m.noticeView(); n != "" {
		h -= lipgloss.Height(n)
	}
	return max(0, h)
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	if m.tooSmall() {
		msg := fmt.Sprintf("Terminal too small: %d×%d, need %d×%d", m.width, m.height, MinWidth, MinHeight)
		return m.common.Styles.TooSmall.Render(common.Truncate(msg, m.width))
	}
	parts := []string{m.header.View()}
	if m.bannerUp() {
		parts = append(parts, m.banner.View())
	}
	if m.screen == screenHome {
		parts = append(parts, m.tabsView())
	}
	parts = append(parts, common.Box(m.common.Styles.Pane, m.width, m.bodyHeight(), m.bodyView()))
	if n := m.noticeView(); n != "" {
		parts = append(parts, n)
	}
	parts = append(parts, m.footerView())
	return strings.Join(parts, "\n")
}

// bodyView is the current screen's component.
func (m *Model) bodyView() string {
	switch m.screen {
	case screenCall:
		return m.callView.View()
	case screenHelp:
		return m.help.View()
	case screenDevices:
		return m.devices.View()
	case screenSettings:
		return m.audio.view.View()
	case screenPrompt:
		return m.prompt.View()
	case screenSearch:
		return m.directory.View()
	case screenQuit:
		return m.confirm.View()
	case screenRoom:
		return m.roomView.View()
	case screenRoomConfirm:
		return m.roomConfirm.View()
	case screenTexts:
		st := m.common.Styles.Pane
		return m.textsView(m.width-st.GetHorizontalFrameSize(), m.bodyHeight()-st.GetVerticalFrameSize())
	}
	switch m.pane {
	case paneRecents:
		return m.recents.View()
	case paneRooms:
		return m.roomsPane.View()
	}
	return m.contactsPane.View()
}

// tabsView is the line that names the panes, the open one in brackets.
func (m *Model) tabsView() string {
	st := m.common.Styles.Tabs
	online := 0
	for _, u := range m.contacts {
		if m.presence[u].Reachable() {
			online++
		}
	}
	names := []string{
		fmt.Sprintf("Contacts %d/%d online", online, len(m.contacts)),
		fmt.Sprintf("Recent calls %d", m.recents.Len()),
	}
	if m.unseen > 0 {
		names[1] += fmt.Sprintf(" (%d new)", m.unseen) // missed calls not seen yet
	}
	if n := m.unreadTextsTotal(); n > 0 {
		names[0] += fmt.Sprintf(" (%d unread texts)", n) // texts.go
	}
	if m.roomsAPI != nil {
		names = append(names, fmt.Sprintf("Rooms %d", m.roomsPane.Len()))
	}
	tabs := make([]string, len(names))
	for i, n := range names {
		if pane(i) == m.pane {
			tabs[i] = st.Active.Render("[" + n + "]")
		} else {
			tabs[i] = st.Inactive.Render(" " + n + " ")
		}
	}
	line := common.Truncate(strings.Join(tabs, "  "), m.width-st.Bar.GetHorizontalFrameSize())
	return common.Box(st.Bar, m.width, 0, line)
}

// noticeView is the notice, wrapped to the width, or "".
func (m *Model) noticeView() string {
	if m.notice == nil {
		return ""
	}
	st := m.common.Styles.Notice
	s := st.Info
	switch m.notice.kind {
	case noticeSuccess:
		s = st.Success
	case noticeError:
		s = st.Error
	}
	return common.Box(s, m.width, 0, m.notice.text)
}

// footerView is the short help for the current screen, cut to fit.
func (m *Model) footerView() string {
	st := m.common.Styles
	if m.quitting {
		return common.Box(st.Footer, m.width, 0, st.Dim.Render("Quitting…"))
	}
	// The help model's own cutting (Width) drops keys from the end, help and
	// quit first; this drops the least important ones instead.
	keys := m.footerKeys()
	width := m.width - st.Footer.GetHorizontalFrameSize()
	line := m.footer.ShortHelpView(bindings(keys))
	for lipgloss.Width(line) > width && len(keys) > 1 {
		// Drop the least important key; of equals, the last one.
		drop := len(keys) - 1
		for i := len(keys) - 1; i >= 0; i-- {
			if keys[i].rank < keys[drop].rank {
				drop = i
			}
		}
		keys = slices.Delete(keys, drop, drop+1)
		line = m.footer.ShortHelpView(bindings(keys))
	}
	return common.Box(st.Footer, m.width, 0, common.Truncate(line, width))
}

// footerKey is a key of the footer and how much it matters there.
type footerKey struct {
	binding key.Binding
	rank    int
}

// The ranks of footer keys: keys of lower rank are dropped first when the
// footer does not fit.
const (
	rankOptional = iota // devices
	rankDismiss         // esc dismiss
	rankScreen          // the screen's own keys
	rankPinned          // answer, reject, help, quit
)

func bindings(keys []footerKey) []key.Binding {
	b := make([]key.Binding, len(keys))
	for i, k := range keys {
		b[i] = k.binding
	}
	return b
}

// footerKeys are the keys that act now: the incoming call's first, then the
// screen's, then the general ones.
func (m *Model) footerKeys() []footerKey {
	km := m.common.KeyMap
	var keys []footerKey
	add := func(rank int, bs ...key.Binding) {
		for _, b := range bs {
			keys = append(keys, footerKey{b, rank})
		}
	}
	if m.bannerUp() && m.screen != screenQuit && !m.typing() {
		add(rankPinned, m.banner.ShortHelp()...)
	}
	general := func() {
		if m.notice != nil {
			add(rankDismiss, km.Dismiss)
		}
		if m.audio.api != nil {
			add(rankOptional, km.Settings)
		}
		if m.devAPI != nil {
			add(rankOptional, km.Devices)
		}
		add(rankPinned, km.Help, km.Quit)
	}
	if m.recorded != nil { // a voice message (voicemail.go): only its keys work
		send, cancel := km.Apply, km.Dismiss
		send.SetHelp(send.Help().Key, "send message")
		cancel.SetHelp(cancel.Help().Key, "cancel message")
		add(rankPinned, send, cancel)
		return keys
	}
	switch m.screen {
	case screenHome:
		switch m.pane {
		case paneContacts:
			add(rankScreen, m.contactsPane.ShortHelp()...)
			if m.contactsPane.Filtering() {
				return keys
			}
			if u, ok := m.contactsPane.Selected(); ok && m.presence[u] == common.Offline {
				notify := km.Notify
				notify.SetHelp(notify.Help().Key, "notify when online")
				add(rankOptional, notify)
			}
		case paneRecents:
			add(rankScreen, m.recents.ShortHelp()...)
			if m.recents.Filtering() {
				return keys
			}
		case paneRooms:
			add(rankScreen, m.roomsPane.ShortHelp()...)
		}
		next := km.NextPane
		switch (m.pane + 1) % m.panes() {
		case paneRecents:
			next.SetHelp(next.Help().Key, "recent")
		case paneRooms:
			next.SetHelp(next.Help().Key, "rooms")
		default:
			next.SetHelp(next.Help().Key, "contacts")
		}
		add(rankScreen, next)
		if m.pane == paneContacts && m.textsAPI != nil && m.incoming == nil {
			if _, ok := m.contactsPane.Selected(); ok {
				add(rankOptional, km.Texts)
			}
		}
		if m.incoming == nil {
			add(rankScreen, km.CallUser)
			if m.people != nil {
				add(rankOptional, km.AddContact)
			}
		}
		general()
	case screenCall:
		add(rankPinned, m.callView.ShortHelp()...)
		if m.textsAPI != nil {
			add(rankOptional, km.Texts)
		}
		general()
	case screenRoom:
		// Mute and leave stay; the host's keys go before the general ones.
		for _, b := range m.roomView.ShortHelp() {
			rank := rankScreen
			if slices.Equal(b.Keys(), km.Mute.Keys()) || slices.Equal(b.Keys(), km.LeaveRoom.Keys()) {
				rank = rankPinned
			}
			add(rank, b)
		}
		general()
	case screenRoomConfirm:
		add(rankPinned, m.roomConfirm.ShortHelp()...)
	case screenHelp:
		add(rankPinned, m.help.ShortHelp()...)
		add(rankPinned, km.Quit)
	case screenDevices:
		add(rankPinned, m.devices.ShortHelp()...)
	case screenSettings:
		add(rankPinned, m.audio.view.ShortHelp()...)
	case screenPrompt:
		add(rankPinned, m.prompt.ShortHelp()...)
	case screenSearch:
		add(rankPinned, m.directory.ShortHelp()...)
	case screenQuit:
		add(rankPinned, m.confirm.ShortHelp()...)
	case screenTexts:
		send := km.Choose
		send.SetHelp("enter", "send")
		add(rankPinned, send, km.Close)
	}
	return keys
}
