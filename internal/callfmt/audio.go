package callfmt

import (
	"fmt"
	"time"

	"github.com/parley-voice/parley/call"
)

// printAudio prints the audio events, for people or as JSON; it reports
// whether ev was one.
func (p *Printer) printAudio(ev call.Event) bool {
	var v any
	var text string
	switch ev := ev.(type) {
	case call.DeviceChanged:
		j := jsonDevice{Event: "device", Time: p.time(time.Time{}), ID: ev.CallID, Kind: ev.Kind, Device: ev.Device,
			Lost: ev.Lost}
		if ev.Err != nil {
			j.Error = ev.Err.Error()
		}
		v, text = j, deviceText(ev)
	case call.MicWarning:
		v = jsonMicWarning{Event: "mic_warning", Time: p.time(time.Time{}), ID: ev.CallID, Silent: ev.Raised}
		text = "your microphone picks up sound again"
		if ev.Raised {
			text = "your microphone seems silent: check it, or pick another one with --in (parley devices lists them)"
		}
	default:
		return false
	}
	if p.json {
		writeJSON(p.w, v)
	} else {
		Say(p.w, "%s", text)
	}
	return true
}

// deviceText says what a DeviceChanged means.
func deviceText(ev call.DeviceChanged) string {
	switch {
	case ev.Kind == call.RingDevice && ev.Device != "":
		return fmt.Sprintf("the ring device could not ring (%v): ringing on %s", ev.Err, ev.Device)
	case ev.Kind == call.RingDevice:
		return fmt.Sprintf("no speaker could ring (%v): the call rings without a sound", ev.Err)
	case ev.Lost && ev.Device != "":
		return fmt.Sprintf("the %s stopped working (%v): now using the system default, %s", ev.Kind, ev.Err, ev.Device)
	case ev.Lost:
		return fmt.Sprintf("the %s stopped working: %v", ev.Kind, ev.Err)
	case ev.Err != nil:
		return fmt.Sprintf("could not switch the %s: %v", ev.Kind, ev.Err)
	}
	return fmt.Sprintf("%s: now %s", ev.Kind, ev.Device)
}
