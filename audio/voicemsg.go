package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/parley-voice/parley/audio/oggopus"
)

// Voice messages are Ogg Opus: the packets of the call's own encoder, in
// 20 ms frames, stored as they are (package oggopus).

// oggPreSkip is the pre-skip pion's oggwriter declares (80 ms, RFC 7845's
// recommendation). VoiceWriter starts with that much silence, so that a
// player drops silence only and the stream's length is the recording's.
const oggPreSkip = 3840

// VoiceWriter encodes 48 kHz mono PCM to an Ogg Opus stream.
type VoiceWriter struct {
	enc     *Encoder
	ogg     *oggopus.Writer
	pending []int16 // samples short of a frame
	pkt     [MaxPacketSize]byte
	samples int // encoded, the pre-skip excluded
}

// NewVoiceWriter starts an Ogg Opus stream on out.
func NewVoiceWriter(out io.Writer) (*VoiceWriter, error) {
	enc, err := NewEncoder(FrameSamples)
	if err != nil {
		return nil, err
	}
	ogg, err := oggopus.NewWriter(out)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	v := &VoiceWriter{enc: enc, ogg: ogg}
	silence := make([]int16, FrameSamples)
	for range oggPreSkip / FrameSamples {
		if err := v.frame(silence); err != nil {
			return nil, err
		}
	}
	v.samples = 0
	return v, nil
}

// Write encodes pcm, any length; a partial frame waits for the next Write
// or for Close.
func (v *VoiceWriter) Write(pcm []int16) error {
	for len(pcm) > 0 {
		if len(v.pending) == 0 && len(pcm) >= FrameSamples {
			if err := v.frame(pcm[:FrameSamples]); err != nil {
				return err
			}
			pcm = pcm[FrameSamples:]
			continue
		}
		n := min(FrameSamples-len(v.pending), len(pcm))
		v.pending = append(v.pending, pcm[:n]...)
		pcm = pcm[n:]
		if len(v.pending) == FrameSamples {
			if err := v.frame(v.pending); err != nil {
				return err
			}
			v.pending = v.pending[:0]
		}
	}
	return nil
}

func (v *VoiceWriter) frame(pcm []int16) error {
	n, err := v.enc.Encode(pcm, v.pkt[:])
	if err != nil {
		return err
	}
	if err := v.ogg.WritePacket(v.pkt[:n]); err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	v.samples += len(pcm)
	return nil
}

// Duration is how much audio was encoded.
func (v *VoiceWriter) Duration() time.Duration {
	return time.Duration(v.samples) * time.Second / SampleRate
}

// Close encodes the partial frame left, padded with silence, and ends the
// stream. It does not close the writer it writes to.
func (v *VoiceWriter) Close() error {
	if len(v.pending) > 0 {
		last := append(v.pending, make([]int16, FrameSamples-len(v.pending))...)
		if err := v.frame(last); err != nil {
			return err
		}
	}
	return v.ogg.Close()
}

// EncodeVoice encodes pcm, at most limit of it, as an Ogg Opus stream.
func EncodeVoice(pcm []int16, limit time.Duration) ([]byte, error) {
	pcm = pcm[:min(len(pcm), int(limit*SampleRate/time.Second))]
	var b bytes.Buffer
	v, err := NewVoiceWriter(&b)
	if err != nil {
		return nil, err
	}
	if err := v.Write(pcm); err != nil {
		return nil, err
	}
	if err := v.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// RecordVoice records src as an Ogg Opus stream until stop is closed or
// limit is recorded, and returns it. src paces it (a microphone by its
// clock).
func RecordVoice(src Source, limit time.Duration, stop <-chan struct{}) ([]byte, time.Duration, error) {
	var b bytes.Buffer
	v, err := NewVoiceWriter(&b)
	if err != nil {
		return nil, 0, err
	}
	frame := make([]int16, FrameSamples)
	for v.Duration() < limit {
		select {
		case <-stop:
			limit = 0
			continue
		default:
		}
		if err := src.Read(frame); err != nil {
			return nil, 0, fmt.Errorf("audio: record: %w", err)
		}
		if err := v.Write(frame); err != nil {
			return nil, 0, err
		}
	}
	if err := v.Close(); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), v.Duration(), nil
}

// DecodeVoice decodes an Ogg Opus stream to 48 kHz mono PCM, its pre-skip
// dropped.
func DecodeVoice(b []byte) ([]int16, error) {
	st, err := oggopus.Read(b)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	dec, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	var pcm []int16
	buf := make([]int16, MaxFrameSamples)
	for _, pkt := range st.Packets {
		n, err := dec.Decode(pkt, buf)
		if err != nil {
			return nil, err
		}
		pcm = append(pcm, buf[:n]...)
	}
	return pcm[min(st.PreSkip, len(pcm)):], nil
}

// ReadWAV reads a WAV file whole as 48 kHz mono PCM (the encodings
// OpenWAVSource accepts).
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	pcm, err := decodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	return pcm, nil
}

// WriteWAV writes pcm as a 48 kHz mono 16-bit WAV file at once (where a
// WAV sink writes at real-time pace).
func WriteWAV(path string, pcm []int16) error {
	b := make([]byte, wavHeaderSize+2*len(pcm))
	wavHeader(b[:wavHeaderSize], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[wavHeaderSize+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	return nil
}
