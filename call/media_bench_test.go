package call

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// The media paths per frame, through the same goroutines as a call but
// with in-memory ends: the capture-to-send path (source → processing →
// level → Opus → track) and the receive-to-playback path (RTP reads →
// hand-off → jitter buffer → Opus → level → sink). Pion's own work (RTP
// packetisation, SRTP, interceptors, sockets) is left out: the fakes stand
// where the Pion tracks are. The "+dsp" cases pass for a microphone, so
// that echo cancellation, noise suppression and gain control run too.

// benchSource is an unpaced Source of a speech-like signal. hook runs
// before each frame with the frame's number (from 1); an error from it ends
// the sender.
type benchSource struct {
	pcm  []int16
	pos  int
	n    int
	hook func(n int) error
}

func (s *benchSource) Read(frame []int16) error {
	s.n++
	if err := s.hook(s.n); err != nil {
		return err
	}
	for i := range frame {
		frame[i] = s.pcm[s.pos]
		s.pos = (s.pos + 1) % len(s.pcm)
	}
	return nil
}

func (s *benchSource) Close() error { return nil }

// benchMic is a benchSource that passes for a microphone.
type benchMic struct{ *benchSource }

func (benchMic) Device() string { return "bench microphone" }

// benchSink is an unpaced Sink; hook runs after each frame with its number.
type benchSink struct {
	n    int
	hook func(n int) error
	quit chan struct{}
}

func (s *benchSink) Write([]int16) error {
	select {
	case <-s.quit:
		return audio.ErrClosed
	default:
	}
	s.n++
	return s.hook(s.n)
}

func (s *benchSink) Close() error {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	return nil
}

// blockedSink takes nothing until closed: the speaker stays out of the way
// while the sender is measured.
type blockedSink struct{ quit chan struct{} }

func (s blockedSink) Write([]int16) error { <-s.quit; return audio.ErrClosed }
func (s blockedSink) Close() error {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	return nil
}

// discardTrack stands for the local track.
type discardTrack struct{ n int }

func (t *discardTrack) WriteSample(s pionmedia.Sample) error { t.n += len(s.Data); return nil }

// benchTrack stands for the remote track: it serves RTP packets of
// pre-encoded speech, one per credit, so that reception keeps pace with
// playback however fast both run.
type benchTrack struct {
	payloads [][]byte
	seq      uint16
	ts       uint32
	frame    int
	i        int
	credit   chan struct{}
	quit     chan struct{}
}

func newBenchTrack(tb testing.TB, frame int) *benchTrack {
	tb.Helper()
	enc, err := audio.NewEncoder(frame)
	if err != nil {
		tb.Fatal(err)
	}
	speech := audiotest.Speech(1, 2*time.Second)
	t := &benchTrack{frame: frame, credit: make(chan struct{}, 1024), quit: make(chan struct{})}
	buf := make([]byte, audio.MaxPacketSize)
	for off := 0; off+frame <= len(speech); off += frame {
		n, err := enc.Encode(speech[off:off+frame], buf)
		if err != nil {
			tb.Fatal(err)
		}
		t.payloads = append(t.payloads, append([]byte(nil), buf[:n]...))
	}
	return t
}

func (t *benchTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case <-t.credit:
	case <-t.quit:
		return 0, nil, io.EOF
	}
	h := rtp.Header{Version: 2, PayloadType: opusPayloadType, SequenceNumber: t.seq, Timestamp: t.ts, SSRC: 0x5eed}
	n, err := h.MarshalTo(b)
	if err != nil {
		return 0, nil, err
	}
	n += copy(b[n:], t.payloads[t.i])
	t.i = (t.i + 1) % len(t.payloads)
	t.seq++
	t.ts += uint32(t.frame)
	return n, nil, nil
}

func (t *benchTrack) close() { close(t.quit) }

// sendPath runs the sender over a benchSource until hook ends it, and
// returns once it has stopped.
func sendPath(tb testing.TB, frame int, dsp bool, hook func(n int) error) {
	tb.Helper()
	done := make(chan struct{})
	src := &benchSource{pcm: audiotest.Speech(2, time.Second), hook: func(n int) error {
		err := hook(n)
		if err != nil {
			close(done)
		}
		return err
	}}
	m := newMedia(blockedSink{quit: make(chan struct{})}, frame)
	if dsp {
		m.dev.opts.Store(DefaultProcessing.bits())
		m.attach(benchMic{src})
	} else {
		m.attach(src)
	}
	if err := m.send(&discardTrack{}); err != nil {
		tb.Fatal(err)
	}
	<-done
	m.stop()
}

// receivePath runs the receiver and the speaker over a benchTrack until
// hook, called after each frame played, ends it.
func receivePath(tb testing.TB, frame int, dsp bool, hook func(n int) error) {
	tb.Helper()
	track := newBenchTrack(tb, frame)
	const ahead = 3 // packets in flight: the jitter buffer always has one at hand
	for range ahead {
		track.credit <- struct{}{}
	}
	done := make(chan struct{})
	sink := &benchSink{quit: make(chan struct{}), hook: func(n int) error {
		if err := hook(n); err != nil {
			close(done)
			return err
		}
		track.credit <- struct{}{}
		return nil
	}}
	m := newMedia(sink, frame)
	if dsp { // a microphone that never runs: only the speaker's half of the processing
		m.dev.opts.Store(DefaultProcessing.bits())
		m.attach(benchMic{&benchSource{}})
	}
	m.receive(track)
	<-done
	track.close()
	m.stop()
}

type pathCase struct {
	name  string
	frame int
	dsp   bool
}

var pathCases = []pathCase{
	{"20ms", audio.FrameSamples, false},
	{"10ms", audio.FrameSamples / 2, false},
	{"20ms+dsp", audio.FrameSamples, true},
}

// BenchmarkSendPath: one op is one frame from the source to the track.
func BenchmarkSendPath(b *testing.B) {
	for _, c := range pathCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			sendPath(b, c.frame, c.dsp, func(n int) error {
				if n == 1 {
					b.ResetTimer()
				}
				if n > b.N {
					b.StopTimer()
					return audio.ErrClosed
				}
				return nil
			})
		})
	}
}

// BenchmarkReceivePath: one op is one RTP packet from the track to a frame
// played.
func BenchmarkReceivePath(b *testing.B) {
	for _, c := range pathCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			receivePath(b, c.frame, c.dsp, func(n int) error {
				if n >= b.N {
					b.StopTimer()
					return audio.ErrClosed
				}
				return nil
			})
		})
	}
}

// mallocsPerFrame runs path and counts the heap allocations of the whole
// process between frame warm and frame warm+frames, over frames: the path's
// goroutines are the only ones running then.
func mallocsPerFrame(path func(hook func(n int) error), warm, frames int) float64 {
	var before, after runtime.MemStats
	path(func(n int) error {
		switch n {
		case warm:
			runtime.ReadMemStats(&before)
		case warm + frames:
			runtime.ReadMemStats(&after)
			return audio.ErrClosed
		}
		return nil
	})
	return float64(after.Mallocs-before.Mallocs) / float64(frames)
}

// TestMediaPathAllocs: neither media path allocates per frame once running,
// with or without the microphone's processing.
func TestMediaPathAllocs(t *testing.T) {
	for _, c := range pathCases {
		for _, p := range []struct {
			name string
			run  func(testing.TB, int, bool, func(int) error)
		}{{"send", sendPath}, {"receive", receivePath}} {
			t.Run(fmt.Sprintf("%s/%s", p.name, c.name), func(t *testing.T) {
				// A per-frame allocation shows in every try; the goroutines of
				// tests that ran before may still be winding down during one.
				var got float64
				for try := 0; try < 3; try++ {
					got = mallocsPerFrame(func(hook func(int) error) { p.run(t, c.frame, c.dsp, hook) }, 200, 1000)
					if got < 0.05 {
						break
					}
				}
				t.Logf("%s path, %s: %.3f allocations per frame", p.name, c.name, got)
				if got >= 0.05 { // a few stray allocations of the runtime in 1000 frames are not the path's
					t.Errorf("%s path, %s: %.3f allocations per frame, want 0", p.name, c.name, got)
				}
			})
		}
	}
}
