// Package roomview draws the room the user is in: everyone in it with their
// name, role, a live level bar and speaking mark, and muted state, the
// active speaker highlighted, your own row with your microphone's level,
// and what happened lately. It keeps the selected participant (the target
// of the host's keys); the root model owns the room and handles its keys.
package roomview

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/history"
)

// EncryptionText says how far the room's media is encrypted.
const EncryptionText = "Media is encrypted to the server, not end to end."

// Model is the room view.
type Model struct {
	common   common.Common
	room     common.Room
	selected string // the selected participant (never you); "" for none
}

// New returns a room view with no room.
func New(c common.Common) *Model { return &Model{common: c} }

// SetRoom sets the room to draw. The selection stays on the same
// participant while they are in it, and otherwise moves to the first other
// participant.
func (m *Model) SetRoom(r common.Room) {
	m.room = r
	others := m.others()
	for _, p := range others {
		if p.User == m.selected {
			return
		}
	}
	m.selected = ""
	if len(others) > 0 {
		m.selected = others[0].User
	}
}

// Selected returns the selected participant, if any.
func (m *Model) Selected() (common.RoomPerson, bool) {
	for _, p := range m.others() {
		if p.User == m.selected {
			return p, true
		}
	}
	return common.RoomPerson{}, false
}

// others is everyone in the room but you, in the order shown.
func (m *Model) others() []common.RoomPerson {
	var out []common.RoomPerson
	for _, p := range m.room.People {
		if p.User != m.room.Self {
			out = append(out, p)
		}
	}
	return out
}

// SetSize implements common.Component.
func (m *Model) SetSize(width, height int) { m.common.SetSize(width, height) }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: up and down move the selection; the root
// model handles the room's other keys.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.KeyMap
	by := 0
	switch {
	case key.Matches(k, km.Up):
		by = -1
	case key.Matches(k, km.Down):
		by = 1
	default:
		return m, nil
	}
	others := m.others()
	for i, p := range others {
		if p.User == m.selected {
			m.selected = others[max(0, min(len(others)-1, i+by))].User
			break
		}
	}
	return m, nil
}

// ShortHelp implements help.KeyMap: the keys that act in the room now.
func (m *Model) ShortHelp() []key.Binding {
	km := m.common.KeyMap
	r := m.room
	if r.Joining {
		leave := km.LeaveRoom
		leave.SetHelp("l/esc", "cancel")
		return []key.Binding{leave}
	}
	var b []key.Binding
	if me, ok := r.Me(); ok && me.Role != signaling.RoleListener {
		mute := km.Mute
		if me.Muted {
			mute.SetHelp(mute.Help().Key, "unmute")
		} else {
			mute.SetHelp(mute.Help().Key, "mute")
		}
		b = append(b, mute)
	}
	leave := km.LeaveRoom
	leave.SetHelp(leave.Help().Key, "leave")
	b = append(b, leave)
	if r.Role != signaling.RoleHost {
		return b
	}
	if p, ok := m.Selected(); ok {
		mo, lm, rm := km.MuteOther, km.LockMic, km.Remove
		if p.Muted {
			mo.SetHelp(mo.Help().Key, "unmute them")
		} else {
			mo.SetHelp(mo.Help().Key, "mute them")
		}
		if p.MicLocked {
			lm.SetHelp(lm.Help().Key, "unlock their mic")
		} else {
			lm.SetHelp(lm.Help().Key, "lock their mic")
		}
		rm.SetHelp(rm.Help().Key, "remove")
		b = append(b, mo, lm, rm)
	}
	lr, er := km.LockRoom, km.EndRoom
	if r.Locked {
		lr.SetHelp(lr.Help().Key, "unlock room")
	} else {
		lr.SetHelp(lr.Help().Key, "lock room")
	}
	er.SetHelp(er.Help().Key, "end for all")
	return append(b, lr, er)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.common.KeyMap
	return [][]key.Binding{{km.Mute, km.LeaveRoom, km.MuteOther, km.LockMic, km.Remove, km.LockRoom, km.EndRoom}}
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.common.Width <= 0 || m.common.Height <= 0 {
		return ""
	}
	st := m.common.Styles
	w := m.common.Width
	r := m.room
	if r.Joining {
		joining := "Joining the room " + r.Name + "…"
		if r.GrownFrom != "" {
			joining = "Your call with " + r.GrownFrom + " becomes the room " + r.Name + "…"
		}
		return common.FitLines(strings.Join([]string{
			st.Call.Peer.Render(common.Truncate(joining, w)),
			"",
			st.Dim.Render(common.Truncate(EncryptionText, w)),
		}, "\n"), m.common.Height)
	}

	timer := history.Clock(m.common.Now().Sub(r.Joined))
	title := common.Truncate("Room "+r.Name, max(1, w-lipgloss.Width(timer)-1))
	titleLine := st.Call.Peer.Render(title) +
		strings.Repeat(" ", max(1, w-lipgloss.Width(title)-lipgloss.Width(timer))) +
		st.Call.Timer.Render(timer)
	status := []string{people(len(r.People)), "you are " + article(r.Role)}
	if r.GrownFrom != "" {
		status = append(status, "grown from your call with "+r.GrownFrom)
	}
	if r.Locked {
		status = append(status, "locked: only the host lets people in")
	}
	head := []string{titleLine}
	if r.Rejoining != "" {
		// The room was lost; the phone joins it again by itself.
		head = append(head, st.Call.Warning.Render(common.Truncate("rejoining… ("+r.Rejoining+")", w)))
	}
	head = append(head,
		st.Call.Status.Render(common.Truncate(strings.Join(status, " · "), w)),
		st.Dim.Render(common.Truncate(EncryptionText, w)),
	)
	if r.Stats != nil {
		// What reaches you, as the 1:1 call view shows it, graded as the
		// participants are.
		head = append(head, common.Truncate(st.Call.Quality.Render("Quality: ")+
			common.GradeMark(st, common.Grade(*r.Stats))+" "+st.Call.Quality.Render(common.QualityText(*r.Stats)), w))
	}
	if me, ok := r.Me(); ok && me.Muted && r.MutedBy != "" {
		text := r.MutedBy + " (host) muted you: m unmutes."
		if me.MicLocked {
			text = r.MutedBy + " (host) muted you and locked your mic."
		}
		head = append(head, st.Call.Muted.Render(common.Truncate(text, w)))
	}
	head = append(head, "")
	var tail []string
	if len(r.Log) > 0 {
		tail = append(tail, "")
		for _, l := range r.Log {
			tail = append(tail, st.Dim.Render(common.Truncate(l.At.In(m.common.Now().Location()).Format("15:04")+
				" "+l.Text, w)))
		}
	}
	rows := m.rows()
	// The rows take what the head and one line of the log leave; the log
	// gets the rest, newest kept.
	h := m.common.Height
	room := max(1, h-len(head)-min(len(tail), 2))
	if len(rows) > room {
		rows = m.window(rows, room)
	}
	if free := h - len(head) - len(rows); len(tail) > free {
		if free <= 1 {
			tail = nil
		} else {
			tail = append([]string{""}, tail[len(tail)-(free-1):]...)
		}
	}
	return common.FitLines(strings.Join(append(append(head, rows...), tail...), "\n"), h)
}

// window cuts the participant rows to height, keeping your row (the first)
// and the selected participant's.
func (m *Model) window(rows []string, height int) []string {
	if height <= 1 {
		return rows[:height]
	}
	others := rows[1:]
	sel := 0
	for i, p := range m.others() {
		if p.User == m.selected {
			sel = i
		}
	}
	off := common.Scroll(sel, 0, height-1, len(others))
	return append([]string{rows[0]}, others[off:off+height-1]...)
}

// rows are the participants' rows: yours first, then the others in the
// order they joined.
func (m *Model) rows() []string {
	st := m.common.Styles
	w := m.common.Width
	r := m.room
	list := m.others()
	if me, ok := r.Me(); ok {
		list = append([]common.RoomPerson{*me}, list...)
	}
	speaker := r.Speaker()

	// Columns: cursor and speaker marks (4), the name, the role, the
	// connection's grade once anyone's is known, the bar (or "listens
	// only"), the state. Names are "Bob Builder (bob)" when they fit in a
	// third of the line, else the display names; the states are short
	// (without the connection's problem) when the long ones leave the bar
	// less than minBar cells.
	const (
		roleWidth = len("listener")
		minBar    = len("listens only")
	)
	label := common.RoomPerson.Label
	labelWidth, whoWidth := len("You"), len("You")
	for _, p := range list {
		if p.User != r.Self {
			labelWidth = max(labelWidth, lipgloss.Width(p.Label()))
			whoWidth = max(whoWidth, lipgloss.Width(p.Who()))
		}
	}
	nameWidth := labelWidth
	if labelWidth > w/3 {
		label, nameWidth = common.RoomPerson.Who, min(whoWidth, max(3, w/3))
	}
	stateWidth := func(short bool) int {
		n := 0
		for _, p := range list {
			s, pr := m.state(p, short), problem(p, short)
			sep := 0
			if s != "" && pr != "" {
				sep = lipgloss.Width(" · ")
			}
			n = max(n, lipgloss.Width(s)+sep+lipgloss.Width(pr))
		}
		return n
	}
	grades := 0
	for _, p := range list {
		if p.Quality != nil {
			grades = common.GradeWidth + 1
		}
	}
	short := false
	bar := w - 4 - nameWidth - 1 - roleWidth - 1 - grades - 1 - stateWidth(false)
	if bar < minBar {
		short = true
		bar = w - 4 - nameWidth - 1 - roleWidth - 1 - grades - 1 - stateWidth(true)
	}
	bar = max(minBar, bar)

	var out []string
	for _, p := range list {
		cur, nameStyle := "  ", st.List.Item
		if p.User == m.selected {
			cur, nameStyle = "› ", st.List.Selected
		}
		mark := "  "
		if p.User == speaker {
			mark, nameStyle = "▶ ", st.Call.Speaking
		}
		name := label(p)
		level := p.Level
		if p.User == r.Self {
			name, level = "You", r.Mic
		}
		meter := common.Meter(m.common.Styles, level, bar)
		if p.Role == signaling.RoleListener {
			meter = st.Dim.Render(common.PadRight("listens only", bar))
		}
		line := nameStyle.Render(cur) + st.Call.Speaking.Render(mark) +
			nameStyle.Render(common.PadRight(name, nameWidth)) + " " +
			st.Dim.Render(common.PadRight(roleWord(p.Role), roleWidth)) + " "
		if grades > 0 {
			var g signaling.Grade
			if p.Quality != nil {
				g = p.Quality.Grade
			}
			line += common.GradeMark(st, g) + " "
		}
		line += meter
		// The state, then the connection's problem: "muted · packet loss".
		var parts []string
		if s := m.state(p, short); s != "" {
			style := st.Call.Speaking
			if p.Muted {
				style = st.Call.Muted
			}
			parts = append(parts, style.Render(s))
		}
		if pr := problem(p, short); pr != "" {
			parts = append(parts, st.Call.Poor.Render(pr))
		}
		if len(parts) > 0 {
			line += " " + strings.Join(parts, st.Dim.Render(" · "))
		}
		out = append(out, common.Truncate(line, w))
	}
	return out
}

// problem is what is wrong with a participant's connection, in words
// ("packet loss"), when it is poor (the mark tells a fair one); "" when
// short.
func problem(p common.RoomPerson, short bool) string {
	q := p.Quality
	if short || q == nil || q.Grade != signaling.GradePoor || len(q.Problems) == 0 {
		return ""
	}
	for _, name := range q.Problems {
		if name != signaling.WarnLowMOS { // the cause rather than its effect
			return common.ProblemText(name)
		}
	}
	return common.ProblemText(q.Problems[0])
}

// state is a participant's state in words: speaking, or how they are
// muted ("muted", "muted · locked by host"; short: "muted · locked").
func (m *Model) state(p common.RoomPerson, short bool) string {
	r := m.room
	switch {
	case p.Muted && p.MicLocked && short:
		return "muted · locked"
	case p.Muted && p.MicLocked:
		return "muted · locked by host"
	case p.Muted:
		return "muted"
	case r.Speaking(p):
		return "speaking"
	}
	return ""
}

// article is a role with its article: "the host", "a member".
func article(r signaling.RoomRole) string {
	if r == signaling.RoleHost {
		return "the host"
	}
	return "a " + roleWord(r)
}

// roleWord is a role as shown.
func roleWord(r signaling.RoomRole) string {
	if r == "" {
		return "member"
	}
	return string(r)
}

func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}
