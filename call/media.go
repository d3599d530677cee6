package call

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-voice/parley/audio"
)

// media is one call's audio: a sender (microphone → Opus → track) and a
// speaker (cues or track → jitter buffer → sink). Each runs in its own
// goroutine and owns its state; the phone's loop talks to them only through
// channels and atomics. stop ends both and closes the devices.
type media struct {
	frameSamples int
	wg           sync.WaitGroup
	quit         chan struct{}
	stopOnce     sync.Once

	dev      *devicePath // the microphone and speaker, and their processing (devices.go, dsp.go)
	muted    atomic.Bool
	hushed   atomic.Bool // the speaker plays silence: the call's peer is heard in the room it grew into (grow.go)
	held     atomic.Bool // either side holds the call: nothing is sent, the speaker plays silence (hold.go)
	holdTone atomic.Bool // while held, the speaker plays the hold tone instead: the other side holds (hold.go)
	micLevel atomicFloat
	spkLevel atomicFloat
	lastRTP  atomic.Int64 // when the last packet arrived (unix ns); 0 before the first
	played                // what the jitter buffer played, for Stats

	// What the receiver reports (readRTCP writes, the sender reads) and
	// what the encoder is set to (the sender writes, stats read).
	reportedLoss atomicFloat  // fraction lost in the last receiver report
	lastLoss     atomic.Int64 // when a report last said something was lost (unix ns)
	sendLoss     atomic.Int64 // expected loss the encoder protects against, %
	sendBitrate  atomic.Int64 // bit/s
	sent         atomic.Int64 // packets written to the track since the call began

	cues    chan cue                  // sounds for the speaker
	packets chan packet               // received RTP payloads, with their arrival time
	bufs    chan *[packetBufSize]byte // free buffers for received packets
}

// cue is a sound for the speaker: looped until media flows (ringing), or,
// when done is set, played once over everything and then done is closed
// (the sound that ends a call). A nil sound stops a looping cue.
type cue struct {
	sound []int16
	done  chan struct{}
}

type packet struct {
	slot    int // the receive slot it came on (a room's; 0 in a call)
	seq     uint16
	ts      uint32
	payload []byte // in buf
	arrival time.Time
	buf     *[packetBufSize]byte
}

// Received packets are read into a fixed set of buffers: the receiver
// takes a free one for each read, the speaker gives it back once the jitter
// buffer has copied the payload, so that receiving does not allocate. There
// is one for every packet the hand-off holds, one being read and one being
// filed.
const (
	packetQueue   = 128
	packetBufSize = 1500 // an Ethernet MTU; Pion reads at most 1460
)

// newPacketBufs is a full set of free buffers for received packets.
func newPacketBufs() chan *[packetBufSize]byte {
	bufs := make(chan *[packetBufSize]byte, packetQueue+2)
	for range cap(bufs) {
		bufs <- new([packetBufSize]byte)
	}
	return bufs
}

func newMedia(sink audio.Sink, frameSamples int) *media {
	m := &media{
		frameSamples: frameSamples,
		quit:         make(chan struct{}),
		dev:          newDevicePath(sink, frameSamples),
		cues:         make(chan cue, 4),
		packets:      make(chan packet, packetQueue),
		bufs:         newPacketBufs(),
	}
	m.wg.Add(1)
	go m.speak()
	return m
}

// cue loops sound on the speaker until media arrives, or stops a cue (nil).
func (m *media) cue(sound []int16) {
	select {
	case m.cues <- cue{sound: sound}:
	default:
	}
}

// finish plays sound once (if any) and then stops the media, as stop.
func (m *media) finish(sound []int16) {
	if len(sound) > 0 {
		done := make(chan struct{})
		select {
		case m.cues <- cue{sound: sound, done: done}:
			d := time.Duration(len(sound)) * time.Second / audio.SampleRate
			select {
			case <-done:
			case <-time.After(d + 500*time.Millisecond): // the speaker is stuck
			}
		default:
		}
	}
	m.stop()
}

// attach gives the media its source; it is closed by stop. Nothing is read
// from it before send, so a file starts from its beginning and a
// microphone from the present when the call is answered.
func (m *media) attach(src audio.Source) { m.dev.attach(src) }

// sampleWriter is where the sender writes Opus packets: the call's
// *webrtc.TrackLocalStaticSample, or a fake in benchmarks.
type sampleWriter interface {
	WriteSample(pionmedia.Sample) error
}

// send starts the sender: the attached source is read at its own pace,
// encoded and written to track.
func (m *media) send(track sampleWriter) error {
	enc, err := audio.NewEncoder(m.frameSamples)
	if err != nil {
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		frame := make([]int16, m.frameSamples)
		buf := make([]byte, audio.MaxPacketSize)
		d := time.Duration(m.frameSamples) * time.Second / audio.SampleRate
		loss, bitrate := audio.DefaultPacketLoss, audio.DefaultBitrate
		m.sendLoss.Store(int64(loss))
		m.sendBitrate.Store(int64(bitrate))
		// Protect the first seconds as if loss had just been reported:
		// the first report comes a second or more into the call.
		m.lastLoss.CompareAndSwap(0, time.Now().UnixNano())
		skipped := 0 // frames not sent while held
		for n := 0; ; n++ {
			if err := m.dev.read(frame); err != nil {
				return
			}
			if n%50 == 0 { // about once a second, follow the receiver's reports
				since := time.Duration(time.Now().UnixNano() - m.lastLoss.Load())
				l, b := adaptation(m.reportedLoss.Load(), since)
				if l != loss && enc.SetPacketLoss(l) == nil {
					loss = l
					m.sendLoss.Store(int64(l))
				}
				if b != bitrate && enc.SetBitrate(b) == nil {
					bitrate = b
					m.sendBitrate.Store(int64(b))
				}
			}
			m.micLevel.Store(audio.Level(frame))
			m.dev.process(frame, m.muted.Load())
			if m.held.Load() {
				// Held: no packet at all, not even silence, so that the
				// other side hears nothing of this one (the source is
				// still read at its pace, to resume from the present).
				skipped++
				continue
			}
			if m.muted.Load() {
				clear(frame)
			}
			n, err := enc.Encode(frame, buf)
			if err != nil {
				continue
			}
			// An error means the connection is going away: the loop
			// ends when the source is closed.
			// After a hold, the packet's sequence number and timestamp
			// skip the frames not sent, as if they were lost: the other
			// side's jitter buffer then finds the audio where the clock
			// says, rather than behind its playout point (where every
			// packet of a short hold's aftermath was dropped as late, and
			// the audio stuttered for seconds). A long hold's receiver
			// starts over anyway (it resets while held): the skip is capped
			// well inside the sequence numbers' half range.
			_ = track.WriteSample(pionmedia.Sample{Data: buf[:n], Duration: d,
				PrevDroppedPackets: uint16(min(skipped, maxHoldSkip))})
			skipped = 0
			m.sent.Add(1)
		}
	}()
	return nil
}

// maxHoldSkip is the most frames a packet after a hold skips (see send):
// 20 s of 20 ms frames.
const maxHoldSkip = 1000

// readRTCP starts reading what the receiver reports about our stream (the
// interceptors need it read too), keeping the loss it reports for the
// sender. It returns when the peer connection closes, which the phone does
// before it stops the media; stop waits for it.
func (m *media) readRTCP(sender *webrtc.RTPSender) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.reports(sender)
	}()
}

func (m *media) reports(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			var reports []rtcp.ReceptionReport
			switch p := p.(type) {
			case *rtcp.ReceiverReport:
				reports = p.Reports
			case *rtcp.SenderReport:
				reports = p.Reports
			}
			for _, r := range reports {
				loss := float64(r.FractionLost) / 256
				m.reportedLoss.Store(loss)
				if loss > 0 {
					m.lastLoss.Store(time.Now().UnixNano())
				}
			}
		}
	}
}

// rtpReader is where received RTP packets come from: the call's
// *webrtc.TrackRemote, or a fake in benchmarks.
type rtpReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// receive starts reading the remote track into the speaker.
func (m *media) receive(track rtpReader) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		readPackets(track, 0, m.bufs, m.packets, m.quit, &m.lastRTP)
	}()
}

// readPackets reads track into packets, tagged with slot, until the read
// fails or quit closes. Each packet is read into a free buffer from bufs and
// parsed in place (TrackRemote.ReadRTP would allocate a buffer and a packet
// for every read); the speaker gives the buffer back.
func readPackets(track rtpReader, slot int, bufs chan *[packetBufSize]byte, packets chan<- packet,
	quit <-chan struct{}, lastRTP *atomic.Int64) {
	var p rtp.Packet
	var spare [packetBufSize]byte // for reads while the speaker holds every buffer
	for {
		var buf *[packetBufSize]byte
		select {
		case buf = <-bufs:
		default:
			buf = &spare
		}
		n, _, err := track.Read(buf[:])
		if err != nil {
			return
		}
		now := time.Now()
		lastRTP.Store(now.UnixNano())
		if buf == &spare || p.Unmarshal(buf[:n]) != nil {
			continue // the speaker is stuck, or not RTP: drop
		}
		select {
		case packets <- packet{slot, p.SequenceNumber, p.Timestamp, p.Payload, now, buf}:
		case <-quit:
			return
		default: // the speaker is stuck: drop rather than block the network
			bufs <- buf
		}
	}
}

// speak owns the sink and the jitter buffer: it plays cues until the first
// packet arrives, then the call's audio, one frame per sink.Write.
func (m *media) speak() {
	defer m.wg.Done()
	jb, err := audio.NewJitterBuffer(audio.JitterConfig{FrameSamples: m.frameSamples})
	if err != nil {
		return
	}
	defer func() {
		if st := jb.Stats(); m.dev.log != nil && st.Decoded > 0 {
			m.dev.log.Info("jitter buffer", "decoded", st.Decoded, "recovered", st.Recovered, "concealed", st.Concealed,
				"late", st.Late, "dropped", st.Dropped, "accelerated", st.Accelerated, "inserted", st.Inserted,
				"resyncs", st.Resyncs, "target", st.TargetDelay)
		}
	}()
	jbs, always := []*audio.JitterBuffer{jb}, []bool{true} // for notePlayed
	frame := make([]int16, m.frameSamples)
	var now cue // the cue playing
	pos := 0
	flowing := false
	var tone []int16 // the hold tone, made at the first hold
	tonePos := 0
	for {
	drain:
		for {
			select {
			case c := <-m.cues:
				now, pos = c, 0
				if c.done != nil {
					flowing = false // the call is over: the last sound plays over it
				}
			case p := <-m.packets:
				jb.Push(p.seq, p.ts, p.payload, p.arrival)
				m.bufs <- p.buf // Push copied the payload
				flowing = true
			case <-m.quit:
				return
			default:
				break drain
			}
		}
		held := m.held.Load() && (len(now.sound) == 0 || now.done == nil) // the last sound plays over it
		if !held {
			tonePos = 0 // the next hold begins with a beep
		}
		if held {
			// Nothing comes while held; what came before is forgotten,
			// so that the call resumes from the first packet after it.
			jb.Reset()
			clear(frame)
			if m.holdTone.Load() {
				if tone == nil {
					tone = holdToneCycle()
				}
				tonePos = loopInto(frame, tone, tonePos)
			}
		} else if len(now.sound) > 0 && !flowing {
			for i := range frame {
				if pos == len(now.sound) {
					if now.done != nil { // played once: the rest is silence
						clear(frame[i:])
						close(now.done)
						now = cue{}
						break
					}
					pos = 0
				}
				frame[i] = now.sound[pos]
				pos++
			}
		} else {
			jb.Pop(frame)
			if m.hushed.Load() {
				clear(frame)
			}
			m.notePlayed(jbs, always)
		}
		m.spkLevel.Store(audio.Level(frame))
		m.dev.played(frame, flowing)
		if err := m.dev.write(frame); err != nil {
			return
		}
	}
}

// stop ends both directions, closes the devices and waits for the
// goroutines. The peer connection must be closed first or alongside, so that
// ReadRTP returns.
func (m *media) stop() {
	m.stopOnce.Do(func() {
		close(m.quit)
		m.dev.close()
	})
	m.wg.Wait()
	m.dev.free()
}

// frameCounts are the jitter buffer's counts of frames played, kept by the
// speaker for the phone's loop to read.
type frameCounts struct{ decoded, recovered, concealed atomic.Int64 }

// played is what a speaker's jitter buffers played, for Stats: the delay
// and the frames. The speaker's goroutine writes it, the loop reads it.
type played struct {
	jbDelay atomic.Int64 // playout delay, in nanoseconds (a room's: its slots' longest)
	frames  frameCounts
}

// notePlayed notes the figures of jitter buffers: their frames added up, the
// longest delay of those that play (playing[i] for jbs[i]).
func (pl *played) notePlayed(jbs []*audio.JitterBuffer, playing []bool) {
	var delay time.Duration
	var dec, rec, con uint64
	for i, jb := range jbs {
		js := jb.Stats()
		dec, rec, con = dec+js.Decoded, rec+js.Recovered, con+js.Concealed
		if playing[i] {
			delay = max(delay, js.PlayoutDelay)
		}
	}
	pl.jbDelay.Store(int64(delay))
	pl.frames.decoded.Store(int64(dec))
	pl.frames.recovered.Store(int64(rec))
	pl.frames.concealed.Store(int64(con))
}

// atomicFloat is a float64 shared between one writer and readers.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) Store(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) Load() float64   { return math.Float64frombits(f.bits.Load()) }
