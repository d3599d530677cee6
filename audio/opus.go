package audio

import (
	"errors"
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

// Opus codec settings.
const (
	// MaxPacketSize is the largest Opus packet for one frame; an out buffer
	// of this size is always enough for Encode.
	MaxPacketSize = 1275
	// MaxFrameSamples is the longest Opus packet (120 ms) in samples; a pcm
	// buffer of this size is always enough for Decode.
	MaxFrameSamples = SampleRate * 120 / 1000
	// DefaultBitrate is the encoder's initial bitrate in bit/s.
	DefaultBitrate = 32000
	// DefaultPacketLoss is the encoder's initial expected packet loss in
	// percent. libopus 1.3.1 only adds in-band FEC to packets when the
	// expected loss is 10 % or more, so starting there means FEC is present
	// from the first packet.
	DefaultPacketLoss = 10
)

// Encoder compresses 48 kHz mono PCM frames to Opus packets for VoIP:
// application VoIP, in-band FEC on, DTX off. It is not safe for concurrent
// use; the send loop owns it.
type Encoder struct {
	enc   *opus.Encoder
	frame int
}

// NewEncoder returns an Encoder for frames of frameSamples samples (0 means
// FrameSamples). Usual values are 480 (10 ms) and 960 (20 ms); any Opus frame
// duration (2.5 to 60 ms) is accepted.
func NewEncoder(frameSamples int) (*Encoder, error) {
	if frameSamples == 0 {
		frameSamples = FrameSamples
	}
	if !validFrame(frameSamples) || frameSamples > SampleRate*60/1000 {
		return nil, fmt.Errorf("audio: opus encoder: frame of %d samples is not 2.5, 5, 10, 20, 40 or 60 ms",
			frameSamples)
	}
	enc, err := opus.NewEncoder(SampleRate, Channels, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("audio: opus encoder: %w", err)
	}
	e := &Encoder{enc: enc, frame: frameSamples}
	if err := errors.Join(
		enc.SetInBandFEC(true),
		enc.SetDTX(false),
		enc.SetPacketLossPerc(DefaultPacketLoss),
		enc.SetBitrate(DefaultBitrate),
	); err != nil {
		return nil, fmt.Errorf("audio: opus encoder: %w", err)
	}
	return e, nil
}

func validFrame(n int) bool {
	switch n {
	case 120, 240, 480, 960, 1920, 2880, 3840, 4800, 5760:
		return true
	}
	return false
}

// FrameSamples returns the frame size Encode expects.
func (e *Encoder) FrameSamples() int { return e.frame }

// SetBitrate sets the target bitrate in bit/s (500 to 512000).
func (e *Encoder) SetBitrate(bps int) error {
	if err := e.enc.SetBitrate(bps); err != nil {
		return fmt.Errorf("audio: opus set bitrate %d: %w", bps, err)
	}
	return nil
}

// SetPacketLoss tells the encoder the expected packet loss in percent
// (0..100), which sets how much redundancy in-band FEC carries. With libopus
// 1.3.1 values below 10 turn FEC off in practice; pass at least 10 to keep it.
func (e *Encoder) SetPacketLoss(pct int) error {
	if err := e.enc.SetPacketLossPerc(pct); err != nil {
		return fmt.Errorf("audio: opus set packet loss %d%%: %w", pct, err)
	}
	return nil
}

// Encode compresses one frame (exactly FrameSamples() samples) into out and
// returns the packet length. out should be MaxPacketSize bytes; Encode never
// writes past len(out). It does not allocate.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if len(pcm) != e.frame {
		return 0, fmt.Errorf("audio: opus encode: got %d samples, want %d", len(pcm), e.frame)
	}
	n, err := e.enc.Encode(pcm, out[:len(out):len(out)])
	if err != nil {
		return 0, fmt.Errorf("audio: opus encode: %w", err)
	}
	return n, nil
}

// Decoder expands Opus packets to 48 kHz mono PCM and conceals lost ones.
// It is not safe for concurrent use; the jitter buffer owns it.
type Decoder struct {
	dec *opus.Decoder
}

// NewDecoder returns a Decoder.
func NewDecoder() (*Decoder, error) {
	dec, err := opus.NewDecoder(SampleRate, Channels)
	if err != nil {
		return nil, fmt.Errorf("audio: opus decoder: %w", err)
	}
	return &Decoder{dec: dec}, nil
}

// Decode expands pkt into pcm and returns the number of samples written.
// pcm must hold the whole packet (MaxFrameSamples is always enough); Decode
// never writes past len(pcm). It does not allocate.
func (d *Decoder) Decode(pkt []byte, pcm []int16) (int, error) {
	if len(pkt) == 0 {
		return 0, errors.New("audio: opus decode: empty packet (use Conceal for a lost one)")
	}
	n, err := d.dec.Decode(pkt, pcm[:len(pcm):len(pcm)])
	if err != nil {
		return 0, fmt.Errorf("audio: opus decode: %w", err)
	}
	return n, nil
}

// DecodeFEC recovers the frame before nextPkt from the redundancy that
// in-band FEC put into nextPkt, filling all of pcm, whose length must be the
// duration of the lost packet. If nextPkt carries no FEC data libopus falls
// back to concealment; PacketHasFEC tells the two apart beforehand. Decode
// nextPkt itself afterwards as usual.
func (d *Decoder) DecodeFEC(nextPkt []byte, pcm []int16) error {
	if len(nextPkt) == 0 {
		return errors.New("audio: opus decode fec: empty packet")
	}
	if len(pcm)%120 != 0 {
		return fmt.Errorf("audio: opus decode fec: %d samples is not a multiple of 2.5 ms", len(pcm))
	}
	if err := d.dec.DecodeFEC(nextPkt, pcm[:len(pcm):len(pcm)]); err != nil {
		return fmt.Errorf("audio: opus decode fec: %w", err)
	}
	return nil
}

// Conceal fills pcm with packet loss concealment extrapolated from the audio
// decoded so far (it fades to silence over long gaps). len(pcm) must be a
// multiple of 2.5 ms (120 samples).
func (d *Decoder) Conceal(pcm []int16) error {
	if len(pcm) == 0 || len(pcm)%120 != 0 {
		return fmt.Errorf("audio: opus conceal: %d samples is not a multiple of 2.5 ms", len(pcm))
	}
	if err := d.dec.DecodePLC(pcm[:len(pcm):len(pcm)]); err != nil {
		return fmt.Errorf("audio: opus conceal: %w", err)
	}
	return nil
}

// opusFrameSamples is the frame duration in samples at 48 kHz for each of
// the 32 TOC configurations (RFC 6716 section 3.1).
var opusFrameSamples = [32]uint16{
	480, 960, 1920, 2880, // SILK NB
	480, 960, 1920, 2880, // SILK MB
	480, 960, 1920, 2880, // SILK WB
	480, 960, // Hybrid SWB
	480, 960, // Hybrid FB
	120, 240, 480, 960, // CELT NB
	120, 240, 480, 960, // CELT WB
	120, 240, 480, 960, // CELT SWB
	120, 240, 480, 960, // CELT FB
}

// PacketSamples returns the duration of an Opus packet in samples at
// 48 kHz, read from its TOC byte, or an error if the packet is malformed.
func PacketSamples(pkt []byte) (int, error) {
	if len(pkt) == 0 {
		return 0, errors.New("audio: opus packet: empty")
	}
	per := int(opusFrameSamples[pkt[0]>>3])
	frames := 1
	switch pkt[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(pkt) < 2 {
			return 0, errors.New("audio: opus packet: truncated frame count")
		}
		frames = int(pkt[1] & 0x3f)
	}
	n := per * frames
	if n == 0 || n > MaxFrameSamples {
		return 0, fmt.Errorf("audio: opus packet: bad duration of %d samples", n)
	}
	return n, nil
}

// PacketHasFEC reports whether an Opus packet carries in-band FEC data for
// the packet before it. This reads the LBRR flag that the SILK layer puts at
// the start of the first frame, as opus_packet_has_lbrr does in libopus 1.5.
func PacketHasFEC(pkt []byte) bool {
	if len(pkt) < 2 {
		return false
	}
	config := pkt[0] >> 3
	if config >= 16 { // CELT-only: no SILK layer, no FEC
		return false
	}
	silkFrames := max(1, int(opusFrameSamples[config])/960) // 20 ms SILK frames per Opus frame
	first := 1                                              // offset of the first frame's data
	switch pkt[0] & 3 {
	case 2:
		if pkt[1] >= 252 {
			first = 3
		} else {
			first = 2
		}
	case 3:
		if len(pkt) < 3 {
			return false
		}
		vbr, padded, count := pkt[1]&0x80 != 0, pkt[1]&0x40 != 0, int(pkt[1]&0x3f)
		first = 2
		if padded {
			for first < len(pkt) && pkt[first] == 255 {
				first++
			}
			first++
		}
		if vbr {
			for range count - 1 {
				if first >= len(pkt) {
					return false
				}
				if pkt[first] >= 252 {
					first += 2
				} else {
					first++
				}
			}
		}
	}
	if first >= len(pkt) {
		return false
	}
	b := pkt[first]
	lbrr := b>>(7-silkFrames)&1 != 0
	if pkt[0]&4 != 0 { // stereo: the side channel has its own flags
		lbrr = lbrr || b>>(6-2*silkFrames)&1 != 0
	}
	return lbrr
}
