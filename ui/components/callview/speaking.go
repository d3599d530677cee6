package callview

import "github.com/parley-voice/parley/ui/common"

// speakingWord marks the meter of whoever is speaking.
const speakingWord = "speaking"

// MicSilentText is the warning shown while the microphone sends nothing.
const MicSilentText = "⚠ Your microphone seems silent: pick another device with d"

// InUseText is the line that says which microphone and speaker the call
// uses.
func InUseText(mic, speaker string) string {
	return "Mic: " + orUnknown(mic) + " · Speaker: " + orUnknown(speaker)
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// audioLines are the lines under the meters about the devices: the
// silent-microphone warning (not while muted or held: nothing is sent
// then) and what replaced a device that stopped working.
func (m *Model) audioLines() []string {
	st := m.common.Styles
	w := m.common.Width
	c := m.call
	var lines []string
	if c.MicSilent && !c.Muted && !c.Held && !c.RemoteHeld {
		lines = append(lines, st.Call.Warning.Render(common.Truncate(MicSilentText, w)))
	}
	if c.DeviceNote != "" {
		lines = append(lines, st.Call.Warning.Render(common.Truncate("⚠ "+c.DeviceNote, w)))
	}
	if c.Mic != "" || c.Speaker != "" {
		lines = append(lines, st.Dim.Render(common.Truncate(InUseText(c.Mic, c.Speaker), w)))
	}
	return lines
}
