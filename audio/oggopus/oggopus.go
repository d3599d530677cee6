// Package oggopus writes Opus packets to an Ogg Opus file and reads them
// back, with pion's oggwriter and oggreader, for voice messages: the
// packets a call's encoder makes are stored as they are, without
// transcoding. It is pure Go (no libopus), so that the server can check an
// upload with it.
package oggopus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// SampleRate is the rate of Ogg Opus granule positions.
const SampleRate = 48000

// Writer writes Opus packets of a mono 48 kHz stream as an Ogg Opus file,
// one packet a page.
type Writer struct {
	w   *oggwriter.OggWriter
	seq uint16
}

// NewWriter starts an Ogg Opus stream on out (its headers are written
// now).
func NewWriter(out io.Writer) (*Writer, error) {
	w, err := oggwriter.NewWith(out, SampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("oggopus: %w", err)
	}
	return &Writer{w: w}, nil
}

// WritePacket writes one Opus packet.
func (w *Writer) WritePacket(pkt []byte) error {
	w.seq++
	// oggwriter takes RTP packets; it reads only the payload, and counts
	// the granule position from the packet's own frame durations.
	if err := w.w.WriteRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: w.seq}, Payload: pkt}); err != nil {
		return fmt.Errorf("oggopus: %w", err)
	}
	return nil
}

// Close ends the stream. It does not close out.
func (w *Writer) Close() error {
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("oggopus: %w", err)
	}
	return nil
}

// Stream is an Ogg Opus file read whole: its packets and how long they
// play.
type Stream struct {
	Channels int
	PreSkip  int // samples to drop at the start
	Packets  [][]byte
	Duration time.Duration // of the audio, pre-skip excluded
}

// ErrNotOggOpus is Read refusing what is not a mono or stereo Ogg Opus
// stream.
var ErrNotOggOpus = errors.New("not an Ogg Opus stream")

// Read reads an Ogg Opus file whole. It takes one packet a page, as
// Writer writes (and as a page holds when it ends its packets: a packet
// continued over pages, or several in a page, is refused).
func Read(b []byte) (Stream, error) {
	r, head, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		return Stream{}, fmt.Errorf("oggopus: %w: %w", ErrNotOggOpus, err)
	}
	if head.Channels < 1 || head.Channels > 2 {
		return Stream{}, fmt.Errorf("oggopus: %w: %d channels", ErrNotOggOpus, head.Channels)
	}
	s := Stream{Channels: int(head.Channels), PreSkip: int(head.PreSkip)}
	var granule uint64
	for page := 1; ; page++ {
		payload, ph, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Stream{}, fmt.Errorf("oggopus: page %d: %w", page, err)
		}
		if page == 1 || len(payload) == 0 { // the comment header; the end-of-stream page
			continue
		}
		s.Packets = append(s.Packets, payload)
		granule = max(granule, ph.GranulePosition)
	}
	if granule > uint64(s.PreSkip) {
		s.Duration = time.Duration(granule-uint64(s.PreSkip)) * time.Second / SampleRate
	}
	return s, nil
}
