package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
)

// NewNullSink returns a Sink that discards audio at real-time pace.
func NewNullSink() Sink {
	n := &nullSink{closer: newCloser()}
	n.clk = newPacer(n.done)
	return n
}

type nullSink struct {
	closer
	clk pacer
}

func (n *nullSink) Write(frame []int16) error { return n.clk.sink(len(frame)) }

func (n *nullSink) Close() error {
	n.close()
	return nil
}

// wavHeaderEvery is how much audio a WAV sink writes between header updates,
// so that a file being written is playable up to about this much from its end.
const wavHeaderEvery = SampleRate * 2 // one second of 16-bit mono

// maxWAVData is the most sample data a RIFF size field can describe.
const maxWAVData = math.MaxUint32 - 36

// CreateWAVSink creates (or truncates) a 48 kHz mono 16-bit WAV file and
// returns a Sink that appends to it at real-time pace. Each frame is written
// to the file as it is played; the header is rewritten about once a second
// and on Close, which finishes the file.
func CreateWAVSink(path string) (Sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("audio: create wav sink: %w", err)
	}
	w := &wavSink{closer: newCloser(), f: f, path: path}
	w.clk = newPacer(w.done)
	var h [wavHeaderSize]byte
	wavHeader(h[:], 0)
	if _, err := f.Write(h[:]); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("audio: create wav sink %s: %w", path, err)
	}
	return w, nil
}

type wavSink struct {
	closer
	clk  pacer // owned by the Write goroutine
	path string

	mu       sync.Mutex // serialises file access between Write and Close
	f        *os.File   // nil once closed
	buf      []byte
	data     int64 // sample bytes written
	headerAt int64 // data size recorded in the header
	closeErr error
	hdr      [wavHeaderSize]byte
}

func (w *wavSink) Write(frame []int16) error {
	if err := w.clk.sink(len(frame)); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return ErrClosed
	}
	if w.data+int64(len(frame))*2 > maxWAVData {
		return fmt.Errorf("audio: wav sink %s: file full (4 GiB RIFF limit)", w.path)
	}
	if cap(w.buf) < len(frame)*2 {
		w.buf = make([]byte, len(frame)*2)
	}
	b := w.buf[:len(frame)*2]
	for i, s := range frame {
		binary.LittleEndian.PutUint16(b[i*2:], uint16(s))
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("audio: wav sink %s: %w", w.path, err)
	}
	w.data += int64(len(b))
	if w.data-w.headerAt >= wavHeaderEvery {
		if err := w.writeHeader(); err != nil {
			return fmt.Errorf("audio: wav sink %s: %w", w.path, err)
		}
	}
	return nil
}

// writeHeader records the current data size; w.mu must be held.
func (w *wavSink) writeHeader() error {
	wavHeader(w.hdr[:], uint32(w.data))
	if _, err := w.f.WriteAt(w.hdr[:], 0); err != nil {
		return err
	}
	w.headerAt = w.data
	return nil
}

// Close finishes the header and closes the file. It is safe to call from
// any goroutine and more than once; later calls return the first result.
func (w *wavSink) Close() error {
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		err := w.writeHeader()
		err = errors.Join(err, w.f.Close())
		if err != nil {
			w.closeErr = fmt.Errorf("audio: close wav sink %s: %w", w.path, err)
		}
		w.f = nil
	}
	return w.closeErr
}
