package ui

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/ui/common"
	"github.com/parley-voice/parley/ui/components/settings"
)

// Settings reads and saves the audio settings.
type Settings interface {
	Processing() call.Processing
	// SetProcessing applies p to the call in progress and the next ones,
	// and saves it in the config file.
	SetProcessing(p call.Processing) error
}

// audioSettings is the settings screen and the API behind it.
type audioSettings struct {
	api  Settings // nil: no settings screen
	view *settings.Model
}

func newAudioSettings(c common.Common, api Settings) audioSettings {
	return audioSettings{api: api, view: settings.New(c)}
}

// processingSavedMsg reports that the audio settings were applied and
// saved (or not).
type processingSavedMsg struct {
	processing call.Processing
	err        error
}

// open shows the settings screen with the settings in effect.
func (a *audioSettings) open() tea.Cmd {
	a.view.Open(a.api.Processing())
	return nil
}

func (a *audioSettings) key(k tea.KeyMsg) tea.Cmd {
	_, cmd := a.view.Update(k)
	return cmd
}

// update handles common.SetProcessingMsg (save, in a command) and
// processingSavedMsg.
func (a *audioSettings) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.SetProcessingMsg:
		if a.api == nil {
			return nil
		}
		a.view.Saving()
		api, p := a.api, msg.Processing
		return func() tea.Msg { return processingSavedMsg{processing: p, err: api.SetProcessing(p)} }
	case processingSavedMsg:
		a.view.Saved(msg.processing, msg.err)
	}
	return nil
}

// audioEvent applies the call engine's audio events to the call view: the
// silent-microphone warning and device changes (with a notice when a
// device stopped working).
func (m *Model) audioEvent(ev call.Event) {
	c := m.active
	switch ev := ev.(type) {
	case call.MicWarning:
		if c != nil && (ev.CallID == "" || c.ID == "" || ev.CallID == c.ID) {
			c.MicSilent = ev.Raised
		}
	case call.DeviceChanged:
		if c == nil || (ev.CallID != "" && c.ID != "" && ev.CallID != c.ID) {
			return
		}
		switch {
		case ev.Kind == call.RingDevice && ev.Device != "":
			m.setNotice(noticeError, fmt.Sprintf("The ring device could not ring (%v): ringing on %s.", ev.Err,
				ev.Device))
		case ev.Kind == call.RingDevice:
			m.setNotice(noticeError, fmt.Sprintf("No speaker could ring (%v): pick one with d.", ev.Err))
		case ev.Lost && ev.Device != "":
			c.DeviceNote = fmt.Sprintf("Your %s stopped working: now using the system default (%s).", ev.Kind,
				ev.Device)
			m.setNotice(noticeError, fmt.Sprintf("The %s stopped working (%v); parley switched to the system default.",
				ev.Kind, ev.Err))
		case ev.Lost:
			c.DeviceNote = fmt.Sprintf("Your %s stopped working and no other could be opened: pick one with d.",
				ev.Kind)
			m.setNotice(noticeError, fmt.Sprintf("The %s stopped working: %v", ev.Kind, ev.Err))
		case ev.Err != nil:
			m.setNotice(noticeError, fmt.Sprintf("Could not switch the %s: %v", ev.Kind, ev.Err))
		default:
			c.DeviceNote = ""
		}
		m.inUse(c)
	}
}

// inUse notes in c the microphone and the speaker the call has open, when
// Devices knows them.
func (m *Model) inUse(c *common.Call) {
	if d, ok := m.devAPI.(DevicesInUse); ok && c != nil {
		c.Mic, c.Speaker = d.InUse()
	}
}

// devicePlugged offers a device just plugged in (a headset): the picker,
// if open, lists it at once; a notice says how to move to it.
func (m *Model) devicePlugged(ev call.DevicePlugged) tea.Cmd {
	if m.devAPI == nil {
		return nil
	}
	what := "use it"
	if m.active != nil {
		what = "move the call to it"
	}
	m.setNotice(noticeInfo, fmt.Sprintf("%s plugged in (%s): press d to %s.", ev.Label, ev.Kind, what))
	if m.screen == screenDevices {
		return listDevices(m.devAPI)
	}
	return nil
}
