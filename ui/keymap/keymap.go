// Package keymap holds parley's key bindings as data: one KeyMap, made by
// DefaultKeyMap and handed to every component. Components match keys with
// key.Matches against these bindings, and the help (the footer and the help
// screen) is generated from them, so the two cannot disagree.
package keymap

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key binding of the UI. Several bindings share a key
// (esc, enter) where the screens they belong to never overlap.
type KeyMap struct {
	// Lists: contacts, recent calls, rooms, devices.
	Up         key.Binding
	Down       key.Binding
	Call       key.Binding // enter: call the selected contact or recent peer
	NextPane   key.Binding // tab: contacts → recent calls → rooms
	Filter     key.Binding // /: filter the contacts or the recent calls
	Apply      key.Binding // enter: stop typing, keep the filter
	Clear      key.Binding // esc: clear the filter
	CallUser   key.Binding // c: prompt for any user id
	AddContact key.Binding // +: search the team's directory and add a contact
	Notify     key.Binding // w: tell me when the selected contact comes online
	GuestLink  key.Binding // g: a guest link, for someone to call you from a browser
	Play       key.Binding // p: play the voice message selected in the recent calls
	// LeaveMessage: v, after a call that could not be answered: record a
	// voice message for the callee.
	LeaveMessage key.Binding
	Texts        key.Binding // t: the texts with the selected contact, or the call's peer

	// Calls.
	Answer  key.Binding
	Reject  key.Binding
	Mute    key.Binding
	Hold    key.Binding // p: put the answered call on hold, or take it off (h hangs up)
	Swap    key.Binding // x: with a call held beside this one (call waiting), hold this one and go back to it
	Hangup  key.Binding
	Cancel  key.Binding // h or esc: cancel an outgoing call still ringing
	Dismiss key.Binding // esc: hide how the last call ended
	// AddToCall is + in an answered call: add someone, which grows the
	// call into a room.
	AddToCall key.Binding

	// Rooms. m (Mute) mutes you in a room too.
	JoinRoom  key.Binding // enter: join the selected room
	LeaveRoom key.Binding // l: leave the room (esc too, while joining)
	MuteOther key.Binding // M: host: mute or unmute the selected participant
	LockMic   key.Binding // K: host: lock the selected participant's microphone muted, or unlock it
	Remove    key.Binding // x: host: remove the selected participant
	LockRoom  key.Binding // L: host: lock or unlock the room
	EndRoom   key.Binding // E: host: end the room for everyone

	// Dialogs and overlays.
	Choose     key.Binding // enter: choose a device, confirm the dial prompt
	SwitchList key.Binding // devices: inputs ⇄ outputs
	Close      key.Binding // esc: close an overlay
	Yes        key.Binding
	No         key.Binding
	Toggle     key.Binding // enter or space: switch a setting on or off

	// Everywhere.
	Settings key.Binding // s: audio settings
	Devices  key.Binding
	Help     key.Binding
	Quit     key.Binding
}

// Group is a titled set of bindings for the help screen.
type Group struct {
	Title    string
	Bindings []key.Binding
}

// DefaultKeyMap returns parley's key bindings.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Call:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "call")),
		NextPane:     key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "switch pane")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Apply:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		Clear:        key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		CallUser:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "call id")),
		AddContact:   key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "add contact")),
		Notify:       key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "notify when online")),
		GuestLink:    key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "guest link")),
		Play:         key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "play voice message")),
		LeaveMessage: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "voice message")),
		Texts:        key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "texts")),

		Answer:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "answer")),
		Reject:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reject")),
		Mute:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mute/unmute")),
		Hold:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "hold/resume")),
		Hangup:  key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "hang up")),
		Swap:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "swap calls")),
		Cancel:  key.NewBinding(key.WithKeys("h", "esc"), key.WithHelp("h/esc", "cancel call")),
		Dismiss: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "dismiss")),

		AddToCall: key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "add someone")),

		JoinRoom:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "join room")),
		LeaveRoom: key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "leave room")),
		MuteOther: key.NewBinding(key.WithKeys("M"), key.WithHelp("M", "host: mute/unmute them")),
		LockMic:   key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "host: lock/unlock their mic")),
		Remove:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "host: remove them")),
		LockRoom:  key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "host: lock/unlock room")),
		EndRoom:   key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "host: end room for all")),

		Choose:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		SwitchList: key.NewBinding(key.WithKeys("tab", "left", "right"), key.WithHelp("tab/←/→", "inputs/outputs")),
		Close:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		Yes:        key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:         key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n/esc", "no")),

		Toggle:   key.NewBinding(key.WithKeys("enter", " "), key.WithHelp("enter/space", "on/off")),
		Settings: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "audio settings")),
		Devices:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "devices")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// Groups returns every binding, grouped and titled for the help screen.
func (k *KeyMap) Groups() []Group {
	return []Group{
		{"Contacts & recent calls", []key.Binding{k.Up, k.Down, k.Call, k.NextPane, k.Filter, k.Apply, k.Clear,
			k.CallUser, k.AddContact, k.Notify, k.GuestLink, k.Texts, k.Play}},
		{"Calls", []key.Binding{k.Answer, k.Reject, k.Mute, k.Hold, k.Swap, k.Hangup, k.AddToCall, k.Cancel,
			k.Dismiss, k.LeaveMessage}},
		{"Rooms", []key.Binding{k.JoinRoom, k.Mute, k.LeaveRoom, k.MuteOther, k.LockMic, k.Remove, k.LockRoom,
			k.EndRoom}},
		{"Dialogs", []key.Binding{k.Choose, k.SwitchList, k.Toggle, k.Close, k.Yes, k.No}},
		{"General", []key.Binding{k.Settings, k.Devices, k.Help, k.Quit}},
	}
}

// ShortHelp returns the keys that work everywhere (help.KeyMap).
func (k *KeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Help, k.Quit} }

// FullHelp returns every binding in the groups of Groups (help.KeyMap).
func (k *KeyMap) FullHelp() [][]key.Binding {
	groups := k.Groups()
	out := make([][]key.Binding, len(groups))
	for i, g := range groups {
		out[i] = g.Bindings
	}
	return out
}
