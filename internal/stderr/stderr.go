// Package stderr owns file descriptor 2 of the parley process: the one
// place that moves it. parley's own messages go to a copy of descriptor 2
// made at start, while descriptor 2 itself is pointed at the log file once
// one is open, so that what C libraries print there (speexdsp's warnings,
// ALSA, JACK, PulseAudio) lands in the log rather than over the UI or among
// a command's output.
//
// Package audio also points descriptor 2 away, at /dev/null, while
// PortAudio probes the devices, and then back at what it found (the log,
// once toLog has run): it imports nothing of parley's and is used by
// programs that do not split their stderr (see audio's silenceStderr).
// Nothing else moves descriptor 2.
package stderr
