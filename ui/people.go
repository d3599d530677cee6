package ui

import (
	"context"
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
)

// People: the contacts kept on the server, the add-contact dialog over the
// team's directory, rich presence with names and last seen, "tell me when
// they are online" (w), and the automatic away after IdleAfter without a
// key press.

// People is the team's directory and the contacts kept on the server.
// Methods block: the UI calls them in commands. *signaling.API is one.
type People interface {
	Contacts(ctx context.Context) ([]signaling.Person, error)
	AddContact(ctx context.Context, user string) (signaling.Person, error)
	Directory(ctx context.Context, query string) ([]signaling.Person, error)
	MakeLink(ctx context.Context, r signaling.LinkRequest) (signaling.Link, error) // links.go
}

// PresenceSetter sets this user's own presence; the call.Phone is one.
// Methods don't block.
type PresenceSetter interface {
	SetIdle(idle bool)
}

// DefaultIdleAfter is how long without a key press makes the user away.
const DefaultIdleAfter = 10 * time.Minute

// peopleTimeout bounds one request of People.
const peopleTimeout = 10 * time.Second

// contactsLoadedMsg carries the contacts kept on the server.
type contactsLoadedMsg struct {
	people []signaling.Person
	err    error
}

// loadContacts returns a command that reads the contacts kept on the
// server.
func loadContacts(p People) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		people, err := p.Contacts(ctx)
		return contactsLoadedMsg{people: people, err: err}
	}
}

// directoryMsg carries the answer to search seq of the directory.
type directoryMsg struct {
	seq    int
	people []signaling.Person
	err    error
}

// searchDirectory returns a command that searches the directory.
func searchDirectory(p People, query string, seq int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		people, err := p.Directory(ctx, query)
		return directoryMsg{seq: seq, people: people, err: err}
	}
}

// contactAddedMsg reports that user was added to the contacts (or not).
type contactAddedMsg struct {
	user   string
	person signaling.Person
	err    error
}

// addContact returns a command that adds user to the contacts.
func addContact(p People, user string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), peopleTimeout)
		defer cancel()
		person, err := p.AddContact(ctx, user)
		return contactAddedMsg{user: user, person: person, err: err}
	}
}

// idleCheckMsg makes the model check whether the user has gone idle.
type idleCheckMsg struct{}

// idleCheck returns a command that sends idleCheckMsg after d.
func idleCheck(d time.Duration, done <-chan struct{}) tea.Cmd {
	return after(d, done, idleCheckMsg{})
}

// idleEvery is how often the model checks for idleness.
func (m *Model) idleEvery() time.Duration { return min(30*time.Second, m.idleAfter/2) }

// personOf is what the UI knows of user.
func (m *Model) personOf(user string) common.Person {
	return common.Person{
		Name:     m.names[user],
		Presence: m.presence[user],
		LastSeen: m.lastSeen[user],
		Notify:   m.notify[user],
		Unread:   m.unreadTexts[user],
	}
}

// learn records what a server's Person says of someone.
func (m *Model) learn(p signaling.Person) {
	if p.Name != "" {
		m.names[p.User] = p.Name
	}
	if p.State != "" {
		m.presence[p.User] = common.PresenceOfState(p.State)
	}
	if p.LastSeen != nil {
		m.lastSeen[p.User] = *p.LastSeen
	}
}

// setContacts shows the contacts of the config, then those of the server.
func (m *Model) setContacts() {
	m.contacts = m.contacts[:0]
	for _, u := range append(slices.Clone(m.configContacts), m.serverContacts...) {
		if u != "" && !slices.Contains(m.contacts, u) {
			m.contacts = append(m.contacts, u)
		}
	}
	m.contactsPane.SetContacts(m.contacts)
}

// contactsLoaded shows the contacts kept on the server besides the
// config's, and watches them.
func (m *Model) contactsLoaded(msg contactsLoadedMsg) tea.Cmd {
	if msg.err != nil {
		m.common.Logger.Warn("ui: reading the contacts kept on the server", "err", msg.err)
		m.setNotice(noticeError, "Could not read your contacts from the server: "+signaling.AsError(msg.err).Message)
		return nil
	}
	m.serverContacts = m.serverContacts[:0]
	for _, p := range msg.people {
		m.serverContacts = append(m.serverContacts, p.User)
		m.learn(p)
	}
	m.setContacts()
	return m.watch()
}

// contactAdded adds a contact the server accepted, or shows why not.
func (m *Model) contactAdded(msg contactAddedMsg) tea.Cmd {
	if msg.err != nil {
		m.directory.Added(msg.user, msg.err)
		return nil
	}
	m.learn(msg.person)
	if !slices.Contains(m.serverContacts, msg.user) {
		m.serverContacts = append(m.serverContacts, msg.user)
	}
	m.setContacts()
	if m.screen == screenSearch {
		m.screen = m.base()
	}
	m.pane = paneContacts
	m.setNotice(noticeSuccess, "Added "+m.personOf(msg.user).Label(msg.user)+" to your contacts.")
	return m.watch()
}

// openDirectory opens the add-contact dialog.
func (m *Model) openDirectory() tea.Cmd {
	if m.people == nil {
		m.setNotice(noticeError, "Contacts on the server need a server connection; add contacts to the config "+
			"file instead.")
		return nil
	}
	m.screen = screenSearch
	return m.directory.Open()
}

// presenceChanged applies a presence event; a contact someone asked to be
// told about who comes online rings the bell, with a notice.
func (m *Model) presenceChanged(ev call.Presence) tea.Cmd {
	p := common.PresenceOfState(ev.State)
	if p == common.Unknown {
		p = common.Offline
		if ev.Online {
			p = common.Online
		}
	}
	m.presence[ev.User] = p
	if ev.Name != "" {
		m.names[ev.User] = ev.Name
	}
	if !ev.LastSeen.IsZero() {
		m.lastSeen[ev.User] = ev.LastSeen
	}
	if !m.notify[ev.User] || !p.Reachable() {
		return nil
	}
	delete(m.notify, ev.User)
	who := m.personOf(ev.User).Label(ev.User)
	m.setNotice(noticeSuccess, who+" is online now ("+p.Word()+"): press enter on them to call.")
	return ringBell(m.bell, m.common.Logger)
}

// toggleNotify asks to be told when user comes online, or stops asking.
func (m *Model) toggleNotify(user string) {
	who := m.personOf(user).Label(user)
	switch {
	case m.presence[user].Reachable():
		m.setNotice(noticeInfo, who+" is online already.")
	case m.notify[user]:
		delete(m.notify, user)
		m.setNotice(noticeInfo, "No longer waiting for "+who+".")
	default:
		m.notify[user] = true
		m.setNotice(noticeInfo, "You will be told (with the bell) when "+who+" comes online.")
	}
}

// keyPressed marks a key press: a user who was idle is back.
func (m *Model) keyPressed() tea.Cmd {
	m.lastKey = m.common.Now()
	if !m.idle || m.presenceSet == nil {
		return nil
	}
	m.idle = false
	ps := m.presenceSet
	return m.phoneDo("SetIdle", func() { ps.SetIdle(false) })
}

// checkIdle makes the user away after idleAfter without a key press, and
// checks again later.
func (m *Model) checkIdle() tea.Cmd {
	if m.presenceSet == nil || m.idleAfter <= 0 || m.phoneClosed {
		return nil
	}
	next := idleCheck(m.idleEvery(), m.done)
	if m.idle || m.common.Now().Sub(m.lastKey) < m.idleAfter {
		return next
	}
	m.idle = true
	m.common.Logger.Info("ui: idle: away", "after", m.idleAfter)
	ps := m.presenceSet
	return tea.Batch(next, m.phoneDo("SetIdle", func() { ps.SetIdle(true) }))
}
