// Package common holds what parley's UI components share: the Common bundle
// handed to every constructor, the Component interface, the messages
// components send up to the root model, and the view state they draw.
package common

import (
	"log/slog"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/ui/keymap"
	"github.com/parley-voice/parley/ui/styles"
)

// Common is the bundle every component gets: its size, and the styles,
// keys, logger and clock shared by the whole UI. Components keep their own
// copy and change only its size.
type Common struct {
	Width, Height int
	Styles        *styles.Styles
	KeyMap        *keymap.KeyMap
	Logger        *slog.Logger
	Now           func() time.Time
}

// SetSize sets the size the component may draw in.
func (c *Common) SetSize(width, height int) {
	c.Width, c.Height = width, height
}

// Component is a part of the screen: a model that can be resized and tells
// which keys it takes (for the footer and help).
type Component interface {
	tea.Model
	help.KeyMap
	SetSize(width, height int)
}

// AddToCallMsg asks the root model to add User to the answered call,
// which grows it into a room (the add prompt).
type AddToCallMsg struct{ User string }

// AddToCall returns a command that sends AddToCallMsg for user.
func AddToCall(user string) tea.Cmd {
	return func() tea.Msg { return AddToCallMsg{User: user} }
}

// DialMsg asks the root model to call User (enter on a contact or a recent
// call, or the dial prompt).
type DialMsg struct{ User string }

// Dial returns a command that sends DialMsg for user.
func Dial(user string) tea.Cmd {
	return func() tea.Msg { return DialMsg{User: user} }
}

// PlayVoiceMsg asks the root model to play the voice message ID (p on one
// in the recent calls).
type PlayVoiceMsg struct{ ID string }

// PlayVoice returns a command that sends PlayVoiceMsg for id.
func PlayVoice(id string) tea.Cmd {
	return func() tea.Msg { return PlayVoiceMsg{ID: id} }
}

// MakeLinkMsg asks the root model to make a guest link for a guest called
// Name ("" for the server's default).
type MakeLinkMsg struct{ Name string }

// MakeLink returns a command that sends MakeLinkMsg for name.
func MakeLink(name string) tea.Cmd {
	return func() tea.Msg { return MakeLinkMsg{Name: name} }
}

// SetProcessingMsg asks the root model to apply and save the audio
// settings (the settings screen).
type SetProcessingMsg struct{ Processing call.Processing }

// SetProcessing returns a command that sends SetProcessingMsg.
func SetProcessing(p call.Processing) tea.Cmd {
	return func() tea.Msg { return SetProcessingMsg{Processing: p} }
}

// ChooseDevicesMsg asks the root model to save Input and Output as the audio
// devices (the device picker's enter).
type ChooseDevicesMsg struct{ Input, Output string }

// ChooseDevices returns a command that sends ChooseDevicesMsg.
func ChooseDevices(input, output string) tea.Cmd {
	return func() tea.Msg { return ChooseDevicesMsg{Input: input, Output: output} }
}

// CloseMsg asks the root model to close the overlay that sent it (help,
// device picker, dial prompt).
type CloseMsg struct{}

// Close is a command that sends CloseMsg.
func Close() tea.Msg { return CloseMsg{} }

// ConfirmMsg is the answer to a yes/no question (the quit confirmation).
type ConfirmMsg struct{ Yes bool }

// Confirm returns a command that sends ConfirmMsg with yes.
func Confirm(yes bool) tea.Cmd {
	return func() tea.Msg { return ConfirmMsg{Yes: yes} }
}

// NotifyMsg asks the root model to tell the user when User comes online
// (w on an offline contact), or to stop asking when it was asked already.
type NotifyMsg struct{ User string }

// Notify returns a command that sends NotifyMsg for user.
func Notify(user string) tea.Cmd {
	return func() tea.Msg { return NotifyMsg{User: user} }
}

// SearchMsg asks the root model to search the team's directory for Query
// (the add-contact dialog, as the user types). Seq tells the answers to
// older searches from the answer to the latest.
type SearchMsg struct {
	Query string
	Seq   int
}

// Search returns a command that sends SearchMsg.
func Search(query string, seq int) tea.Cmd {
	return func() tea.Msg { return SearchMsg{Query: query, Seq: seq} }
}

// AddContactMsg asks the root model to add User to the contacts kept on the
// server (enter in the add-contact dialog).
type AddContactMsg struct{ User string }

// AddContact returns a command that sends AddContactMsg for user.
func AddContact(user string) tea.Cmd {
	return func() tea.Msg { return AddContactMsg{User: user} }
}

// JoinRoomMsg asks the root model to join the room Name (enter in the
// rooms pane).
type JoinRoomMsg struct{ Name string }

// JoinRoom returns a command that sends JoinRoomMsg for name.
func JoinRoom(name string) tea.Cmd {
	return func() tea.Msg { return JoinRoomMsg{Name: name} }
}
