// Package assets holds parley's embedded sounds: the ringtone, the ringback
// and busy tones, and the hang-up blip.
//
// Every sound is 48 kHz, mono, signed 16-bit PCM (the format of package
// audio). The WAV files hold only the audible part of one cycle; PCM appends
// the cycle's silent part, so that playing PCM's result in a loop gives the
// sound's cadence (ringback: 1 s on, 4 s off). The files are made by
// generate.sh with SoX.
package assets

//go:generate sh generate.sh

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

//go:embed *.wav
var files embed.FS

// SampleRate is the sample rate of every sound, in Hz.
const SampleRate = 48000

// Sound names one of the embedded sounds.
type Sound string

// The sounds.
const (
	Ringtone Sound = "ringtone" // an incoming call is ringing here: two tones, 2 s cycle
	Ringback Sound = "ringback" // the callee's phone is ringing: 425 Hz, 1 s on, 4 s off
	Busy     Sound = "busy"     // the callee is busy: 425 Hz, 0.5 s on, 0.5 s off
	Hangup   Sound = "hangup"   // the call ended: a short falling blip, played once
)

// Sounds lists every sound.
func Sounds() []Sound { return []Sound{Ringtone, Ringback, Busy, Hangup} }

// Silence is the silent part of s's cycle that PCM appends to the file's
// samples: 0 for a sound played once, and for an unknown sound.
func (s Sound) Silence() time.Duration {
	switch s {
	case Ringtone:
		return 800 * time.Millisecond
	case Ringback:
		return 4 * time.Second
	case Busy:
		return 500 * time.Millisecond
	}
	return 0
}

// PCM returns one cycle of s: the file's samples followed by the cycle's
// silent part. The slice is new on every call; the caller owns it.
func PCM(s Sound) ([]int16, error) {
	b, err := files.ReadFile(string(s) + ".wav")
	if err != nil {
		return nil, fmt.Errorf("assets: no sound %q", s)
	}
	f, samples, err := decodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("assets: %s: %w", s, err)
	}
	if f.rate != SampleRate || f.channels != 1 {
		return nil, fmt.Errorf("assets: %s: %d Hz, %d channels; want %d Hz mono", s, f.rate, f.channels, SampleRate)
	}
	silence := int(s.Silence() * SampleRate / time.Second)
	return append(samples, make([]int16, silence)...), nil
}

// format is what a WAV file's fmt chunk says about its samples.
type format struct {
	rate     int
	channels int
}

// The WAV format tags decodeWAV accepts.
const (
	wavPCM        = 0x0001
	wavExtensible = 0xFFFE
)

// decodeWAV parses a RIFF WAVE file of 16-bit integer PCM. It walks the
// chunks, so LIST and other chunks before or after "data" are skipped, and
// accepts WAVE_FORMAT_EXTENSIBLE with the PCM sub-format. Samples of several
// channels stay interleaved.
func decodeWAV(b []byte) (format, []int16, error) {
	var f format
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return f, nil, errors.New("not a RIFF WAVE file")
	}
	le := binary.LittleEndian
	var haveFmt bool
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(le.Uint32(b[p+4 : p+8]))
		body := p + 8
		if size < 0 || body+size > len(b) {
			return f, nil, fmt.Errorf("chunk %q of %d bytes runs past the end of the file", id, size)
		}
		c := b[body : body+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return f, nil, fmt.Errorf("fmt chunk of %d bytes is too short", size)
			}
			tag := le.Uint16(c[0:2])
			if tag == wavExtensible {
				// cbSize(2) validBits(2) channelMask(4) then the sub-format GUID,
				// whose first two bytes are the format tag.
				if size < 40 {
					return f, nil, errors.New("extensible fmt chunk is too short")
				}
				tag = le.Uint16(c[24:26])
			}
			if tag != wavPCM {
				return f, nil, fmt.Errorf("format tag %#04x is not integer PCM", tag)
			}
			f.channels = int(le.Uint16(c[2:4]))
			f.rate = int(le.Uint32(c[4:8]))
			if bits := le.Uint16(c[14:16]); bits != 16 {
				return f, nil, fmt.Errorf("%d bits per sample; want 16", bits)
			}
			if f.channels < 1 || f.rate < 1 {
				return f, nil, fmt.Errorf("%d channels at %d Hz", f.channels, f.rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, nil, errors.New("data chunk before the fmt chunk")
			}
			if size%(2*f.channels) != 0 {
				return f, nil, fmt.Errorf("data chunk of %d bytes is not whole frames", size)
			}
			samples := make([]int16, size/2)
			for i := range samples {
				samples[i] = int16(le.Uint16(c[2*i:]))
			}
			return f, samples, nil
		}
		p = body + size + size%2 // chunks are padded to an even size
	}
	return f, nil, errors.New("no data chunk")
}
