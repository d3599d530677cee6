package audiotest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// WriteWAV writes samples as a 16-bit PCM WAV file. channels samples are
// interleaved.
func WriteWAV(path string, samples []int16, rate, channels int) error {
	data := len(samples) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], uint16(channels))
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(b[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("audiotest: write wav: %w", err)
	}
	return nil
}

// WAV is the content of a 16-bit PCM WAV file as ReadWAV finds it.
type WAV struct {
	Rate, Channels int
	// Samples are interleaved.
	Samples []int16
	// DataSize is the data chunk size the header claims, in bytes.
	DataSize uint32
	// RIFFSize is the RIFF chunk size the header claims.
	RIFFSize uint32
}

// ReadWAV reads a 16-bit PCM WAV file strictly: the header sizes must agree
// with the file, so it also checks that a writer finished its header.
func ReadWAV(path string) (WAV, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return WAV{}, fmt.Errorf("audiotest: read wav: %w", err)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return WAV{}, errors.New("audiotest: read wav: not RIFF WAVE")
	}
	w := WAV{RIFFSize: binary.LittleEndian.Uint32(b[4:])}
	if int(w.RIFFSize) != len(b)-8 {
		return w, fmt.Errorf("audiotest: read wav: RIFF size %d, file has %d", w.RIFFSize, len(b)-8)
	}
	haveFmt := false
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > len(body) {
			return w, fmt.Errorf("audiotest: read wav: chunk %q of %d bytes, %d left", id, size, len(body))
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(body) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				return w, errors.New("audiotest: read wav: not 16-bit PCM")
			}
			w.Channels = int(binary.LittleEndian.Uint16(body[2:]))
			w.Rate = int(binary.LittleEndian.Uint32(body[4:]))
			haveFmt = true
		case "data":
			if !haveFmt {
				return w, errors.New("audiotest: read wav: data before fmt")
			}
			w.DataSize = uint32(size)
			w.Samples = make([]int16, size/2)
			for i := range w.Samples {
				w.Samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return w, nil
		}
		p += 8 + size + size&1
	}
	return w, errors.New("audiotest: read wav: no data chunk")
}
