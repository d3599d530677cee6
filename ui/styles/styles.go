// Package styles holds the look of parley's terminal UI: one Styles value,
// made by DefaultStyles for a lipgloss renderer and handed to every
// component. There are no package-level styles.
//
// Colours are adaptive (light and dark terminals). The renderer decides the
// colour profile: with NO_COLOR, or when the output is not a terminal, every
// colour and attribute is dropped, so nothing may rely on colour alone: list
// selections have a cursor glyph, presence has a word, the incoming-call
// banner has a heavy border and capital letters.
package styles

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles is every style of the UI.
type Styles struct {
	// Renderer made the styles; components use it to place blocks
	// (Renderer.Place) so that whitespace follows the same colour profile.
	Renderer *lipgloss.Renderer

	// Header is the top line: brand, signed-in user, server, connection.
	Header struct {
		Bar, Brand, User, Server                     lipgloss.Style
		Connected, Connecting, Reconnecting, Offline lipgloss.Style
	}

	// Tabs is the line above the contacts and recent-calls panes.
	Tabs struct {
		Bar, Active, Inactive lipgloss.Style
	}

	// Pane frames the body (a list, the call, help, the device picker).
	Pane lipgloss.Style
	// Title is a pane's or a dialog's title line.
	Title lipgloss.Style
	// Dim is secondary text: hints, empty-list messages, column values.
	Dim lipgloss.Style

	// List styles rows of the contacts, recent calls and device lists.
	List struct {
		Item, Selected lipgloss.Style
		Online         lipgloss.Style
		Away           lipgloss.Style
		DND            lipgloss.Style // do not disturb
		InCall         lipgloss.Style
		Offline        lipgloss.Style
		Unknown        lipgloss.Style
		Outgoing       lipgloss.Style
		Incoming       lipgloss.Style
		Failed         lipgloss.Style
		Current        lipgloss.Style // the device in use
	}

	// Input styles the text inputs (the contacts filter, the dial prompt).
	Input struct {
		Prompt, Text, Placeholder, Cursor lipgloss.Style
	}

	// Banner is the incoming-call banner: full width, bright, bold.
	Banner struct {
		Box, Text, Keys lipgloss.Style
	}

	// Call styles the call view.
	Call struct {
		Peer, Status, Timer, Label lipgloss.Style
		MeterOn, MeterOff          lipgloss.Style
		Muted                      lipgloss.Style
		Quality                    lipgloss.Style
		Speaking, Warning          lipgloss.Style // who speaks; a device problem
		Good, Fair, Poor           lipgloss.Style // a connection's grade
	}

	// Notice is the line under the body that tells how a call ended, or what
	// went wrong.
	Notice struct {
		Info, Success, Error lipgloss.Style
	}

	// Dialog frames the dial prompt and the quit confirmation.
	Dialog lipgloss.Style
	// Error is an error inside a component (a device list that failed).
	Error lipgloss.Style

	// Help styles the key help, short (footer) and full (help screen).
	Help help.Styles
	// Footer holds the short key help.
	Footer lipgloss.Style
	// TooSmall is the line shown when the terminal is below the minimum size.
	TooSmall lipgloss.Style
}

// DefaultStyles returns parley's styles for renderer r.
func DefaultStyles(r *lipgloss.Renderer) *Styles {
	var (
		accent   = lipgloss.AdaptiveColor{Light: "#5A56E0", Dark: "#8B87FF"}
		subtle   = lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#8B949E"}
		faint    = lipgloss.AdaptiveColor{Light: "#C8CDD2", Dark: "#3D444D"}
		text     = lipgloss.AdaptiveColor{Light: "#1F2328", Dark: "#E6EDF3"}
		green    = lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"}
		red      = lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"}
		amber    = lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"}
		blue     = lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#58A6FF"}
		barBg    = lipgloss.AdaptiveColor{Light: "#EAEEF2", Dark: "#161B22"}
		bright   = lipgloss.AdaptiveColor{Light: "#FFD33D", Dark: "#FFD33D"}
		onBright = lipgloss.AdaptiveColor{Light: "#000000", Dark: "#000000"}
	)
	s := &Styles{Renderer: r}
	n := r.NewStyle

	s.Header.Bar = n().Padding(0, 1).Background(barBg).Foreground(text)
	s.Header.Brand = n().Bold(true).Foreground(accent).Background(barBg)
	s.Header.User = n().Bold(true).Foreground(text).Background(barBg)
	s.Header.Server = n().Foreground(subtle).Background(barBg)
	s.Header.Connected = n().Foreground(green).Background(barBg)
	s.Header.Connecting = n().Foreground(subtle).Background(barBg)
	s.Header.Reconnecting = n().Foreground(amber).Background(barBg)
	s.Header.Offline = n().Bold(true).Foreground(red).Background(barBg)

	s.Tabs.Bar = n().Padding(0, 1)
	s.Tabs.Active = n().Bold(true).Foreground(accent)
	s.Tabs.Inactive = n().Foreground(subtle)

	s.Pane = n().Border(lipgloss.RoundedBorder()).BorderForeground(faint).Padding(0, 1)
	s.Title = n().Bold(true).Foreground(text)
	s.Dim = n().Foreground(subtle)

	s.List.Item = n().Foreground(text)
	s.List.Selected = n().Bold(true).Foreground(accent)
	s.List.Online = n().Foreground(green)
	s.List.Away = n().Foreground(amber)
	s.List.DND = n().Foreground(red)
	s.List.InCall = n().Foreground(blue)
	s.List.Offline = n().Foreground(subtle)
	s.List.Unknown = n().Foreground(subtle).Faint(true)
	s.List.Outgoing = n().Foreground(blue)
	s.List.Incoming = n().Foreground(green)
	s.List.Failed = n().Foreground(red)
	s.List.Current = n().Foreground(green)

	s.Input.Prompt = n().Foreground(accent).Bold(true)
	s.Input.Text = n().Foreground(text)
	s.Input.Placeholder = n().Foreground(subtle)
	s.Input.Cursor = n().Foreground(accent)

	s.Banner.Box = n().
		Border(lipgloss.ThickBorder()).
		BorderForeground(onBright).
		Background(bright).
		Foreground(onBright).
		Bold(true).
		Padding(0, 1)
	if r.ColorProfile() != termenv.Ascii {
		// Without colours lipgloss would still wrap the border in an empty
		// colour sequence.
		s.Banner.Box = s.Banner.Box.BorderBackground(bright)
	}
	s.Banner.Text = n().Bold(true).Background(bright).Foreground(onBright)
	s.Banner.Keys = n().Background(bright).Foreground(onBright)

	s.Call.Peer = n().Bold(true).Foreground(text)
	s.Call.Status = n().Foreground(subtle)
	s.Call.Timer = n().Bold(true).Foreground(accent)
	s.Call.Label = n().Foreground(text)
	s.Call.MeterOn = n().Foreground(green)
	s.Call.MeterOff = n().Foreground(faint)
	s.Call.Muted = n().Bold(true).Foreground(red)
	s.Call.Quality = n().Foreground(subtle)
	s.Call.Speaking = n().Bold(true).Foreground(green)
	s.Call.Warning = n().Bold(true).Foreground(red)
	s.Call.Good = n().Foreground(green)
	s.Call.Fair = n().Foreground(amber)
	s.Call.Poor = n().Bold(true).Foreground(red)

	s.Notice.Info = n().Padding(0, 1).Foreground(text)
	s.Notice.Success = n().Padding(0, 1).Foreground(green)
	s.Notice.Error = n().Padding(0, 1).Foreground(red)

	s.Dialog = n().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(1, 2)
	s.Error = n().Foreground(red)

	keyStyle := n().Foreground(text).Bold(true)
	descStyle := n().Foreground(subtle)
	sepStyle := n().Foreground(faint)
	s.Help = help.Styles{
		Ellipsis:       sepStyle,
		ShortKey:       keyStyle,
		ShortDesc:      descStyle,
		ShortSeparator: sepStyle,
		FullKey:        keyStyle,
		FullDesc:       descStyle,
		FullSeparator:  sepStyle,
	}
	s.Footer = n().Padding(0, 1)
	s.TooSmall = n().Foreground(amber)
	return s
}
