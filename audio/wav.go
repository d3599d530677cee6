package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// WAV format tags.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE
)

const wavHeaderSize = 44

type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// decodeWAV parses a RIFF WAVE file and returns its audio as 48 kHz mono.
func decodeWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	var (
		f       wavFormat
		haveFmt bool
		data    []byte
		found   bool
	)
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := b[p+8:]
		if size > len(body) || (id == "data" && size == 0) {
			// Writers that stream to a pipe leave sizes at 0 or 0xFFFFFFFF:
			// the chunk runs to the end of the file.
			size = len(body)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			var err error
			if f, err = parseFmt(body); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			data, found = body, true
		}
		if found {
			break
		}
		p += 8 + size + size&1 // chunks are padded to even sizes
	}
	if !haveFmt {
		return nil, errors.New("no fmt chunk")
	}
	if !found {
		return nil, errors.New("no data chunk")
	}
	return resample(toMono(f, data), f.rate), nil
}

func parseFmt(b []byte) (wavFormat, error) {
	if len(b) < 16 {
		return wavFormat{}, errors.New("short fmt chunk")
	}
	f := wavFormat{
		tag:        binary.LittleEndian.Uint16(b[0:2]),
		channels:   int(binary.LittleEndian.Uint16(b[2:4])),
		rate:       int(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:14])),
		bits:       int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == wavExtensible {
		if len(b) < 26 {
			return wavFormat{}, errors.New("short extensible fmt chunk")
		}
		// The sub-format GUID starts with the plain format tag.
		f.tag = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case f.channels < 1:
		return wavFormat{}, errors.New("no channels")
	case f.rate < 1000 || f.rate > 768000:
		return wavFormat{}, fmt.Errorf("unsupported sample rate %d Hz", f.rate)
	}
	width := 0
	switch f.tag {
	case wavPCM:
		if f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32 {
			width = f.bits / 8
		}
	case wavFloat:
		if f.bits == 32 || f.bits == 64 {
			width = f.bits / 8
		}
	case wavALaw, wavMuLaw:
		if f.bits == 8 {
			width = 1
		}
	}
	if width == 0 {
		return wavFormat{}, fmt.Errorf("unsupported encoding (format tag %#x, %d bits); use 16-bit PCM", f.tag, f.bits)
	}
	if f.blockAlign < width*f.channels {
		f.blockAlign = width * f.channels
	}
	return f, nil
}

// toMono decodes interleaved samples and averages the channels.
func toMono(f wavFormat, data []byte) []float64 {
	frames := len(data) / f.blockAlign
	out := make([]float64, frames)
	width := f.bits / 8
	for i := range out {
		frame := data[i*f.blockAlign:]
		sum := 0.0
		for c := range f.channels {
			sum += sampleAt(f.tag, width, frame[c*width:])
		}
		out[i] = sum / float64(f.channels)
	}
	return out
}

// sampleAt decodes one sample to the range -1..1.
func sampleAt(tag uint16, width int, b []byte) float64 {
	switch tag {
	case wavFloat:
		if width == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case wavALaw:
		return float64(alaw(b[0])) / 32768
	case wavMuLaw:
		return float64(mulaw(b[0])) / 32768
	}
	switch width {
	case 1:
		return (float64(b[0]) - 128) / 128
	case 2:
		return float64(int16(binary.LittleEndian.Uint16(b))) / 32768
	case 3:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default:
		return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}

// alaw and mulaw expand G.711 codes to 16-bit linear.
func alaw(a byte) int16 {
	a ^= 0x55
	t := int16(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}

func mulaw(u byte) int16 {
	u = ^u
	t := (int16(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

// resample converts x (at rate Hz, range -1..1) to SampleRate int16.
// Upsampling interpolates linearly; downsampling averages the input samples
// that fall into each output period, a crude but adequate anti-alias filter.
func resample(x []float64, rate int) []int16 {
	if len(x) == 0 {
		return nil
	}
	n := int(int64(len(x)) * SampleRate / int64(rate))
	out := make([]int16, n)
	for i := range out {
		var v float64
		switch {
		case rate == SampleRate:
			v = x[i]
		case rate < SampleRate:
			num := int64(i) * int64(rate)
			j := int(num / SampleRate)
			frac := float64(num%SampleRate) / SampleRate
			v = x[j]
			if j+1 < len(x) {
				v += (x[j+1] - x[j]) * frac
			}
		default:
			lo := int(int64(i) * int64(rate) / SampleRate)
			hi := min(int(int64(i+1)*int64(rate)/SampleRate), len(x))
			sum := 0.0
			for _, s := range x[lo:hi] {
				sum += s
			}
			v = sum / float64(max(1, hi-lo))
		}
		out[i] = toInt16(v * 32768)
	}
	return out
}

func toInt16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// wavHeader fills h (wavHeaderSize bytes) for 48 kHz mono 16-bit PCM with
// dataBytes bytes of samples.
func wavHeader(h []byte, dataBytes uint32) {
	copy(h[0:4], "RIFF")
	binary.LittleEndian.PutUint32(h[4:8], 36+dataBytes)
	copy(h[8:16], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], wavPCM)
	binary.LittleEndian.PutUint16(h[22:24], Channels)
	binary.LittleEndian.PutUint32(h[24:28], SampleRate)
	binary.LittleEndian.PutUint32(h[28:32], SampleRate*Channels*2)
	binary.LittleEndian.PutUint16(h[32:34], Channels*2)
	binary.LittleEndian.PutUint16(h[34:36], 16)
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], dataBytes)
}
