package audio

import (
	"fmt"
	"math"
	"os"
)

// NewTone returns a Source of a continuous sine wave at hz with peak
// amplitude (0..1 of full scale), paced by the wall clock like a microphone.
// frameSamples is the frame size the caller will usually read (0 means
// FrameSamples); Read accepts any frame length.
func NewTone(hz, amplitude float64, frameSamples int) Source {
	amplitude = max(0, min(1, amplitude))
	t := &tone{
		closer: newCloser(),
		step:   2 * math.Pi * hz / SampleRate,
		peak:   amplitude * math.MaxInt16,
	}
	t.clk = newPacer(t.done)
	return t
}

type tone struct {
	closer
	clk         pacer
	phase, step float64
	peak        float64
}

func (t *tone) Read(frame []int16) error {
	if err := t.clk.source(len(frame)); err != nil {
		return err
	}
	for i := range frame {
		frame[i] = int16(math.Round(t.peak * math.Sin(t.phase)))
		t.phase += t.step
		if t.phase >= 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
	return nil
}

func (t *tone) Close() error {
	t.close()
	return nil
}

// NewSilence returns a Source of digital silence paced like a microphone.
// frameSamples is as for NewTone.
func NewSilence(frameSamples int) Source {
	s := &silence{closer: newCloser()}
	s.clk = newPacer(s.done)
	return s
}

type silence struct {
	closer
	clk pacer
}

func (s *silence) Read(frame []int16) error {
	if err := s.clk.source(len(frame)); err != nil {
		return err
	}
	clear(frame)
	return nil
}

func (s *silence) Close() error {
	s.close()
	return nil
}

// OpenWAVSource opens a WAV file as a Source. The whole file is decoded and
// converted to 48 kHz mono when opened (channels are averaged, other rates are
// resampled linearly), so errors in the file surface here. Read then plays it
// at real-time pace and yields silence after the end, like a microphone in a
// quiet room.
//
// Accepted encodings: integer PCM of 8, 16, 24 or 32 bits, IEEE float of 32
// or 64 bits, A-law and µ-law, plain or WAVE_FORMAT_EXTENSIBLE, at any rate
// and channel count; this covers what sox and espeak-ng write.
func OpenWAVSource(path string) (Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audio: open wav source: %w", err)
	}
	pcm, err := decodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("audio: open wav source %s: %w", path, err)
	}
	w := &wavSource{closer: newCloser(), pcm: pcm}
	w.clk = newPacer(w.done)
	return w, nil
}

type wavSource struct {
	closer
	clk pacer
	pcm []int16
	pos int
}

func (w *wavSource) Read(frame []int16) error {
	if err := w.clk.source(len(frame)); err != nil {
		return err
	}
	n := copy(frame, w.pcm[w.pos:])
	w.pos += n
	clear(frame[n:])
	return nil
}

func (w *wavSource) Close() error {
	w.close()
	return nil
}
