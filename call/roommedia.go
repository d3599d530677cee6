package call

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// roomMedia is a room's audio: the sender (microphone → processing → Opus
// → RTP packets carrying the RFC 6464 audio level) and the speaker (each
// receive slot → its own jitter buffer and decoder → mixed into the one
// sink). Like media, the sender and the speaker each run in a goroutine
// that owns its state, and the phone's loop reads their atomics.
type roomMedia struct {
	frameSamples int
	wg           sync.WaitGroup
	quit         chan struct{}
	stopOnce     sync.Once

	dev       *devicePath
	muted     atomic.Bool
	micLevel  atomicFloat
	spkLevel  atomicFloat
	slotLevel [signaling.RoomSlots]atomicFloat // what each slot played in the last frame, as audio.Level
	sentLevel atomic.Int32                     // the last level written on a packet, -dBov (for the log)
	lastRTP   atomic.Int64                     // when the last packet arrived on any slot (unix ns)
	played                                     // what the slots' jitter buffers played, for RoomStats
	// slotPlaying tells, for each slot, whether its audio plays (decoded,
	// not waiting for its jitter buffer to fill); started, when set, is
	// called (in a goroutine of its own) when one starts to.
	slotPlaying [signaling.RoomSlots]atomic.Bool
	started     func()

	packets chan packet               // received RTP payloads, with their slot and arrival time
	bufs    chan *[packetBufSize]byte // free buffers for received packets (as media's)
	chimes  chan []int16              // short sounds played once over the room (someone joined, left)
}

// slotIdle is how long a slot may go without a packet before it stops
// being played: nobody speaks on it, and its jitter buffer starts afresh
// when someone does.
const slotIdle = 400 * time.Millisecond

// The audio level written on the packets (RFC 6464): -dBov from 0 (loudest)
// to 127 (silence), and the voice activity bit, set while the level is
// voiceLevel or louder and for voiceHangover after (never while muted).
const (
	silentLevel   = 127
	voiceLevel    = 50 // -50 dBov
	voiceHangover = 300 * time.Millisecond
)

func newRoomMedia(sink audio.Sink, frameSamples int, started func()) *roomMedia {
	m := &roomMedia{
		frameSamples: frameSamples,
		started:      started,
		quit:         make(chan struct{}),
		dev:          newDevicePath(sink, frameSamples),
		packets:      make(chan packet, packetQueue),
		bufs:         newPacketBufs(),
		chimes:       make(chan []int16, 4),
	}
	m.wg.Add(1)
	go m.speak()
	return m
}

// chime plays sound once over the room's audio (nil or empty: nothing).
func (m *roomMedia) chime(sound []int16) {
	if len(sound) == 0 {
		return
	}
	select {
	case m.chimes <- sound:
	default:
	}
}

// attach gives the media its source (none for a listener); stop closes it.
func (m *roomMedia) attach(src audio.Source) { m.dev.attach(src) }

// rtpWriter is where the sender writes its packets: the room's
// *webrtc.TrackLocalStaticRTP.
type rtpWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// send starts the sender: the attached source is read at its own pace,
// processed, encoded, one Opus frame per packet, with the audio level in
// header extension extID (0: none was negotiated). Muted, the packets
// carry encoded silence marked silentLevel, so that the stream stays
// continuous and unmuting is heard at once.
func (m *roomMedia) send(track rtpWriter, extID uint8) error {
	enc, err := audio.NewEncoder(m.frameSamples)
	if err != nil {
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		frame := make([]int16, m.frameSamples)
		buf := make([]byte, audio.MaxPacketSize)
		frameDur := time.Duration(m.frameSamples) * time.Second / audio.SampleRate
		var ext [1]byte
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: opusPayloadType, Marker: true,
			SequenceNumber: uint16(time.Now().UnixNano()), Timestamp: uint32(time.Now().UnixNano() >> 10)}}
		sinceVoice := time.Hour // since the level was last voiceLevel or louder
		for {
			if err := m.dev.read(frame); err != nil {
				return
			}
			m.micLevel.Store(audio.Level(frame))
			muted := m.muted.Load()
			m.dev.process(frame, muted)
			if muted {
				clear(frame)
			}
			level := AudioLevel(frame)
			switch {
			case muted:
				sinceVoice = time.Hour
			case level <= voiceLevel:
				sinceVoice = 0
			default:
				sinceVoice += frameDur
			}
			ext[0] = level
			if sinceVoice <= voiceHangover {
				ext[0] |= 0x80
			}
			m.sentLevel.Store(int32(level))
			n, err := enc.Encode(frame, buf)
			if err == nil {
				pkt.Payload = buf[:n]
				if extID != 0 {
					if err := pkt.SetExtension(extID, ext[:]); err != nil {
						extID = 0
					}
				}
				// An error means the connection is going away: the loop
				// ends when the source is closed.
				_ = track.WriteRTP(&pkt)
				pkt.Marker = false
			}
			pkt.SequenceNumber++
			pkt.Timestamp += uint32(m.frameSamples)
		}
	}()
	return nil
}

// AudioLevel is frame's level as RFC 6464 writes it: its RMS in -dBov
// (relative to a full-scale square wave), rounded, from 0 (loudest) to 127
// (silence and anything quieter).
func AudioLevel(frame []int16) uint8 {
	var sum float64
	for _, s := range frame {
		v := float64(s)
		sum += v * v
	}
	if len(frame) == 0 || sum == 0 {
		return silentLevel
	}
	db := -20 * math.Log10(math.Sqrt(sum/float64(len(frame)))/32768)
	return uint8(max(0, min(silentLevel, math.Round(db))))
}

// receive starts reading the remote track of one slot into the speaker.
func (m *roomMedia) receive(slot int, track rtpReader) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		readPackets(track, slot, m.bufs, m.packets, m.quit, &m.lastRTP)
	}()
}

// speak owns the sink and the slots' jitter buffers: each frame, every
// slot that plays gives one frame, and their sum (clipped) is written to
// the sink, which paces the loop.
func (m *roomMedia) speak() {
	defer m.wg.Done()
	var jbs [signaling.RoomSlots]*audio.JitterBuffer
	for i := range jbs {
		jb, err := audio.NewJitterBuffer(audio.JitterConfig{FrameSamples: m.frameSamples})
		if err != nil {
			return
		}
		jbs[i] = jb
	}
	var last [signaling.RoomSlots]time.Time // the last packet's arrival; zero: the slot is idle
	var playing [signaling.RoomSlots]bool
	frame := make([]int16, m.frameSamples)
	slot := make([]int16, m.frameSamples)
	sum := make([]int32, m.frameSamples)
	var chime []int16
	for {
	drain:
		for {
			select {
			case p := <-m.packets:
				if len(p.payload) > 0 {
					jbs[p.slot].Push(p.seq, p.ts, p.payload, p.arrival)
					last[p.slot] = p.arrival
				}
				m.bufs <- p.buf // Push copied the payload
			case c := <-m.chimes:
				chime = c
			case <-m.quit:
				return
			default:
				break drain
			}
		}
		clear(sum)
		flowing := false
		now := time.Now()
		for i, jb := range jbs {
			if !last[i].IsZero() && now.Sub(last[i]) > slotIdle {
				jb.Reset()
				last[i] = time.Time{}
			}
			playing[i] = !last[i].IsZero()
			if !playing[i] {
				m.slotLevel[i].Store(0)
				m.slotPlaying[i].Store(false)
				continue
			}
			flowing = true
			if jb.Pop(slot) != audio.Waiting && !m.slotPlaying[i].Swap(true) && m.started != nil {
				go m.started() // the phone's loop may be waiting for us
			}
			m.slotLevel[i].Store(audio.Level(slot))
			for k, v := range slot {
				sum[k] += int32(v)
			}
		}
		m.notePlayed(jbs[:], playing[:])
		n := min(len(chime), len(sum))
		for k := range n {
			sum[k] += int32(chime[k])
		}
		chime = chime[n:]
		for k, v := range sum {
			frame[k] = int16(max(math.MinInt16, min(math.MaxInt16, v)))
		}
		m.spkLevel.Store(audio.Level(frame))
		m.dev.played(frame, flowing)
		if err := m.dev.write(frame); err != nil {
			return
		}
	}
}

// stop ends both directions, closes the devices and waits for the
// goroutines; the peer connection is closed first, so that reads return.
func (m *roomMedia) stop() {
	m.stopOnce.Do(func() {
		close(m.quit)
		m.dev.close()
	})
	m.wg.Wait()
	m.dev.free()
}
