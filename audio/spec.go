package audio

import (
	"fmt"
	"strconv"
	"strings"
)

// What the command line accepts, for error messages and help text.
const (
	SourceSpecHelp = "default | DEVICE-NAME | DEVICE-INDEX | file:PATH.wav | tone:HZ | silence"
	SinkSpecHelp   = "default | DEVICE-NAME | DEVICE-INDEX | file:PATH.wav | null"
)

// toneSpecAmplitude is the peak amplitude of a tone:HZ source (-6 dBFS).
const toneSpecAmplitude = 0.5

// OpenSource opens the Source a command-line spec names (SourceSpecHelp):
//
//	default, ""      the default microphone
//	NAME or INDEX    a microphone, as for System.OpenMic
//	file:PATH.wav    a WAV file played once at real-time pace, then silence
//	tone:HZ          a sine wave at HZ (0 < HZ < 24000), peak -6 dBFS
//	silence          digital silence
//
// sys may be nil if the spec needs no device; a device spec then fails with
// ErrNoSystem. A malformed spec fails with ErrBadSpec.
func OpenSource(sys *System, spec string, frameSamples int) (Source, error) {
	switch {
	case spec == "silence":
		return NewSilence(frameSamples), nil
	case strings.HasPrefix(spec, "tone:"):
		hz, err := strconv.ParseFloat(strings.TrimPrefix(spec, "tone:"), 64)
		if err != nil || !(hz > 0 && hz < SampleRate/2) {
			return nil, badSpec("source", spec, SourceSpecHelp,
				"tone:HZ needs a frequency between 0 and 24000 Hz, e.g. tone:440")
		}
		return NewTone(hz, toneSpecAmplitude, frameSamples), nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, badSpec("source", spec, SourceSpecHelp, "file: needs a path, e.g. file:hello.wav")
		}
		return OpenWAVSource(path)
	case spec == "null":
		return nil, badSpec("source", spec, SourceSpecHelp, "null is a sink; use silence")
	}
	if sys == nil {
		return nil, fmt.Errorf("audio: source %q is a device but no audio system is open: %w", spec, ErrNoSystem)
	}
	return sys.OpenMic(spec, frameSamples)
}

// OpenSink opens the Sink a command-line spec names (SinkSpecHelp):
//
//	default, ""      the default speaker
//	NAME or INDEX    a speaker, as for System.OpenSpeaker
//	file:PATH.wav    a 48 kHz mono 16-bit WAV file, written at real-time pace
//	null             discard at real-time pace
//
// sys may be nil as for OpenSource.
func OpenSink(sys *System, spec string, frameSamples int) (Sink, error) {
	switch {
	case spec == "null":
		return NewNullSink(), nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, badSpec("sink", spec, SinkSpecHelp, "file: needs a path, e.g. file:out.wav")
		}
		return CreateWAVSink(path)
	case spec == "silence", strings.HasPrefix(spec, "tone:"):
		return nil, badSpec("sink", spec, SinkSpecHelp, "that is a source; use null to discard audio")
	}
	if sys == nil {
		return nil, fmt.Errorf("audio: sink %q is a device but no audio system is open: %w", spec, ErrNoSystem)
	}
	return sys.OpenSpeaker(spec, frameSamples)
}

func badSpec(kind, spec, help, why string) error {
	return fmt.Errorf("%w: %s %q: %s (accepted: %s)", ErrBadSpec, kind, spec, why, help)
}
