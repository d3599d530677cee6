package ui

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/banner"
	"github.com/parley-voice/parley/ui/components/callview"
	"github.com/parley-voice/parley/ui/components/confirm"
	"github.com/parley-voice/parley/ui/components/contacts"
	"github.com/parley-voice/parley/ui/components/devices"
	"github.com/parley-voice/parley/ui/components/directory"
	"github.com/parley-voice/parley/ui/components/header"
	"github.com/parley-voice/parley/ui/components/helpview"
	"github.com/parley-voice/parley/ui/components/prompt"
	"github.com/parley-voice/parley/ui/components/recents"
	"github.com/parley-voice/parley/ui/components/rooms"
	"github.com/parley-voice/parley/ui/components/roomview"
	"github.com/parley-voice/parley/ui/history"
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

// screen is what the body of the screen shows.
type screen int

// The screens. Home, call and room are the base screens; the others open over
// them and go back to the base screen when closed.
const (
	screenHome        screen = iota // the contacts, recent-calls or rooms pane
	screenCall                      // an outgoing call, or a call in progress
	screenRoom                      // the room you are in, or joining (rooms.go)
	screenHelp                      // every key
	screenDevices                   // the audio device picker
	screenSettings                  // the audio settings (settings.go)
	screenPrompt                    // the dial prompt
	screenSearch                    // the add-contact dialog: a search of the directory
	screenQuit                      // "A call is up: hang up and quit? y/n"
	screenRoomConfirm               // a host action to confirm: remove someone, end the room
	screenTexts                     // the conversation with someone: texts (texts.go)
)

// pane is the pane the home screen shows.
type pane int

// The panes, in tab order.
const (
	paneContacts pane = iota
	paneRecents
	paneRooms // only with Options.Rooms
)

// noticeKind says how a notice is styled.
type noticeKind int

// The notice kinds.
const (
	noticeInfo noticeKind = iota
	noticeSuccess
	noticeError
)

// notice is the line under the body: how the last call ended, or what went
// wrong. It stays until dismissed (esc) or the next call action.
type notice struct {
	kind noticeKind
	text string
}

// quitQuestion is what the quit confirmation asks; roomQuitQuestion, in a
// room.
const (
	quitQuestion     = "A call is up: hang up and quit? y/n"
	roomQuitQuestion = "You are in a room: leave it and quit? y/n"
)

// Model is the root model. Make it with New.
type Model struct {
	common common.Common

	phone     Phone
	devAPI    Devices
	audio     audioSettings // the settings screen and its API (settings.go)
	store     *history.Store
	bell      io.Writer
	clipboard Clipboard
	done      <-chan struct{} // closed when the program ends (Run); its commands then give up
	self      string
	contacts  []string // shown: the config's, then the server's

	notifications Notifications // desktop notifications (notify.go)

	people         People
	roomsAPI       Rooms       // nil: no rooms pane
	callHistory    CallHistory // nil: no missed-calls notice
	textsAPI       Texts       // nil: no texts (texts.go)
	unreadTexts    map[string]int
	conv           *conversation                               // the open conversation pane; nil when none
	voiceAPI       VoiceMessages                               // nil: no voice messages (voicemail.go)
	playVoiceFn    func(ctx context.Context, ogg []byte) error // nil: none played
	voice          []history.Record                            // the voice messages, among the recent calls
	recordVoiceFn  func(ctx context.Context, stop <-chan struct{}) ([]byte, error)
	offerTo        string     // a voice message may be left for this peer (v) while offerNotice is shown
	offerNotice    *notice    //
	recorded       *recording // the voice message being recorded
	roomsEvery     time.Duration
	roomsGen       int // the current run of reads of the open rooms pane
	presenceSet    PresenceSetter
	configContacts []string
	serverContacts []string
	names          map[string]string    // display names, from the server
	lastSeen       map[string]time.Time // of offline users
	notify         map[string]bool      // tell when they come online (w)
	idleAfter      time.Duration
	lastKey        time.Time // the last key press
	idle           bool      // SetIdle(true) was sent

	width, height int
	screen        screen
	pane          pane

	header       *header.Model
	contactsPane *contacts.Model
	recents      *recents.Model
	callView     *callview.Model
	roomsPane    *rooms.Model
	roomView     *roomview.Model
	roomConfirm  *confirm.Model
	banner       *banner.Model
	devices      *devices.Model
	help         *helpview.Model
	prompt       *prompt.Model
	directory    *directory.Model
	confirm      *confirm.Model
	footer       help.Model

	// The calls. active is the outgoing call or the call in progress;
	// incoming is a call ringing here. Both can be set when a call comes in
	// while another is up.
	active   *common.Call
	incoming *common.Call
	// held is the call held beside active (call waiting): answering the
	// incoming call while active is up holds active and makes it held;
	// Swap exchanges the two.
	held *common.Call
	// room is the room you are in, or joining; never with active.
	room    *common.Room
	roomAsk roomQuestion // the host action screenRoomConfirm asks about
	// invites are the invitations to rooms ringing here, first rung first
	// (invite.go).
	invites []roomInvite

	notice   *notice
	records  []history.Record // newest first
	presence map[string]common.Presence
	watched  []string // the set last sent to Phone.Watch
	loaded   bool     // the history file has been read
	// fromServer: the records are the server's (missed.go); unseen is how
	// many missed calls among them were not seen yet.
	fromServer bool
	unseen     int

	phoneQ   queue
	historyQ queue
	tickGen  int

	quitting    bool // waiting for the hang-up and history writes before quitting
	phoneClosed bool // the Phone's event channel was closed
}

// New returns the UI's root model for opts. Run uses it; tests drive it
// directly or through teatest. opts.Phone must not be nil.
func New(opts Options) *Model {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	r := opts.Renderer
	if r == nil {
		out := opts.Output
		if out == nil {
			out = os.Stdout
		}
		r = lipgloss.NewRenderer(out)
	}
	km := opts.KeyMap
	if km == nil {
		km = keymap.DefaultKeyMap()
	}
	c := common.Common{
		Styles: styles.DefaultStyles(r),
		KeyMap: km,
		Logger: log,
		Now:    now,
	}
	m := &Model{
		common:        c,
		phone:         opts.Phone,
		devAPI:        opts.Devices,
		store:         history.NewStore(opts.HistoryPath),
		bell:          opts.Bell,
		clipboard:     opts.Clipboard,
		self:          opts.Self,
		presence:      map[string]common.Presence{},
		people:        opts.People,
		roomsAPI:      opts.Rooms,
		callHistory:   opts.History,
		textsAPI:      opts.Texts,
		voiceAPI:      opts.Voice,
		playVoiceFn:   opts.PlayVoice,
		recordVoiceFn: opts.RecordVoice,
		names:         map[string]string{},
		lastSeen:      map[string]time.Time{},
		notify:        map[string]bool{},
		phoneQ:        queue{id: phoneQueue},
		historyQ:      queue{id: historyQueue},
	}
	if opts.Presence != nil {
		m.presenceSet = opts.Presence
	}
	m.notifications = opts.Notifications
	m.roomsEvery = opts.RoomsEvery
	if m.roomsEvery <= 0 {
		m.roomsEvery = DefaultRoomsEvery
	}
	m.idleAfter = opts.IdleAfter
	if m.idleAfter == 0 {
		m.idleAfter = DefaultIdleAfter
	}
	m.lastKey = now()
	if opts.SelfName != "" {
		m.names[opts.Self] = opts.SelfName
	}
	m.contactsPane = contacts.New(c, nil, m.personOf)
	for _, u := range opts.Contacts {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(m.configContacts, u) {
			m.configContacts = append(m.configContacts, u)
		}
	}
	m.setContacts()
	m.header = header.New(c, signaling.Label(opts.Self, opts.SelfName), opts.Server)
	m.recents = recents.New(c, m.personOf)
	m.callView = callview.New(c)
	m.callView.SetGrow(opts.Rooms != nil)
	m.roomsPane = rooms.New(c)
	m.roomView = roomview.New(c)
	m.roomConfirm = confirm.New(c, "")
	m.banner = banner.New(c)
	m.devices = devices.New(c)
	m.audio = newAudioSettings(c, opts.Settings)
	m.help = helpview.New(c)
	m.prompt = prompt.New(c)
	m.directory = directory.New(c)
	m.confirm = confirm.New(c, quitQuestion)
	m.footer = help.New()
	m.footer.Styles = c.Styles.Help
	return m
}

// Init implements tea.Model: it reads the history file (then watches the
// contacts and recent peers) and starts waiting for the Phone's events.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{
		loadHistory(m.store),
		waitEvent(m.phone.Events(), m.done),
	}
	if m.people != nil {
		cmds = append(cmds, loadContacts(m.people))
	}
	if m.roomsAPI != nil {
		cmds = append(cmds, loadRooms(m.roomsAPI))
	}
	if m.callHistory != nil {
		cmds = append(cmds, loadServerHistory(m.callHistory)) // missed.go
	}
	if m.callHistory != nil || m.textsAPI != nil {
		cmds = append(cmds, loadMissed(m.callHistory, m.textsAPI)) // missed.go: the sign-in notice
	}
	if m.voiceAPI != nil {
		cmds = append(cmds, loadVoice(m.voiceAPI)) // voicemail.go
	}
	if m.textsAPI != nil {
		cmds = append(cmds, loadTexts(m.textsAPI, "")) // texts.go: the unread counts
	}
	if m.presenceSet != nil && m.idleAfter > 0 {
		cmds = append(cmds, idleCheck(m.idleEvery(), m.done))
	}
	return tea.Batch(cmds...)
}

// base is the screen overlays go back to.
func (m *Model) base() screen {
	switch {
	case m.active != nil && !(m.active.Moving && m.room != nil): // a call moving into a room shows the room
		return screenCall
	case m.room != nil:
		return screenRoom
	}
	return screenHome
}

// panes is how many panes the home screen has.
func (m *Model) panes() pane {
	if m.roomsAPI != nil {
		return paneRooms + 1
	}
	return paneRooms
}

// up reports whether a call or a room is up: quitting asks first.
func (m *Model) up() bool { return m.active != nil || m.room != nil }

// tooSmall reports whether the terminal is below the minimum size.
func (m *Model) tooSmall() bool { return m.width < MinWidth || m.height < MinHeight }

// typing reports whether a text input has the keyboard.
func (m *Model) typing() bool {
	return m.screen == screenPrompt || m.screen == screenSearch || m.screen == screenTexts ||
		(m.screen == screenHome && m.filtering())
}

// listFilter is what the root model asks of a pane's filter.
type listFilter interface {
	Filtering() bool
	HasFilter() bool
	StopFiltering()
}

// paneFilter is the filter of the pane shown, for those that have one
// (the contacts, the recent calls); nil for the rooms.
func (m *Model) paneFilter() listFilter {
	switch m.pane {
	case paneContacts:
		return m.contactsPane
	case paneRecents:
		return m.recents
	}
	return nil
}

// filtering reports whether the shown pane's filter has the keyboard.
func (m *Model) filtering() bool {
	f := m.paneFilter()
	return f != nil && f.Filtering()
}

// setNotice shows text under the body.
func (m *Model) setNotice(kind noticeKind, text string) {
	m.notice = &notice{kind: kind, text: text}
}

// phoneDo queues a Phone method call; it is made once the calls queued
// before it have been made.
func (m *Model) phoneDo(name string, f func()) tea.Cmd {
	return m.phoneQ.push(phoneCall(name, m.common.Logger, f))
}

// watchSet is the users whose presence the UI shows: the contacts, then the
// peers of recent calls, without yourself.
func (m *Model) watchSet() []string {
	set := make([]string, 0, len(m.contacts)+len(m.records))
	add := func(u string) {
		if u != "" && u != m.self && !slices.Contains(set, u) && len(set) < signaling.MaxWatch {
			set = append(set, u)
		}
	}
	for _, u := range m.contacts {
		add(u)
	}
	for _, r := range m.records {
		add(r.Peer)
	}
	return set
}

// watch sends the watch set to the Phone once the history is read, and
// again whenever the set changes (a call with someone new). The Phone keeps
// the set across reconnects.
func (m *Model) watch() tea.Cmd {
	if !m.loaded || m.phoneClosed {
		return nil
	}
	set := m.watchSet()
	if slices.Equal(set, m.watched) {
		return nil
	}
	m.watched = set
	users := slices.Clone(set)
	p := m.phone
	return m.phoneDo("Watch", func() { p.Watch(users) })
}
