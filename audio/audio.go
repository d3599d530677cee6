// Package audio moves PCM between devices, files and generators, and holds
// the codec, the jitter buffer and the level meter. It knows nothing of calls
// or signaling.
//
// All PCM is 48 kHz, mono, signed 16-bit. A frame is a slice of samples whose
// length the caller chooses (FrameSamples for the usual 20 ms).
//
// Sources and sinks: System opens PortAudio microphones and speakers (one
// System per process); NewTone, NewSilence and OpenWAVSource are sources,
// CreateWAVSink and NewNullSink are sinks, all paced like devices by an
// absolute-deadline clock; OpenSource and OpenSink parse command-line specs
// into any of them.
//
// Media path, per frame and without allocating: Level meters a frame;
// Encoder and Decoder wrap Opus (VoIP, in-band FEC); JitterBuffer turns
// received packets back into a steady stream of frames, repairing losses
// with FEC and concealment.
//
// A typical send loop reads a Source, meters and encodes; a typical playout
// loop feeds received packets to a JitterBuffer, pops a frame and writes it
// to a Sink, whose pace drives the loop.
package audio

import "time"

// The PCM format of every Source and Sink.
const (
	SampleRate    = 48000
	Channels      = 1
	FrameDuration = 20 * time.Millisecond
	FrameSamples  = SampleRate * int(FrameDuration/time.Millisecond) / 1000 // 960
)

// Source produces PCM at real-time pace.
//
// Read fills all of frame and blocks until that much audio is due: a
// microphone by its own clock, a generator or a file by a timer. Read returns
// an error once the source is closed. Read must not be called from several
// goroutines at once; Close may be called from any goroutine and makes a
// blocked Read return.
type Source interface {
	Read(frame []int16) error
	Close() error
}

// Sink consumes PCM at real-time pace.
//
// Write blocks until the sink can take frame without queueing more than
// about one frame ahead of what it is rendering; a device by its own clock,
// a file or the null sink by a timer. Write must not be called from several
// goroutines at once; Close may be called from any goroutine.
type Sink interface {
	Write(frame []int16) error
	Close() error
}
