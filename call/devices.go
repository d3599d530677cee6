package call

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-voice/parley/audio"
)

// RingDevices is implemented by Devices that play the ringtone of an
// incoming call on a device of its own (a loud speaker while the call
// itself goes to headphones). The phone opens it when a call comes in and
// opens the call's speaker only when the call is answered.
type RingDevices interface {
	// OpenRing opens the ringtone's sink; ok is false (and sink nil) when
	// the ringtone plays on the call's speaker.
	OpenRing(frameSamples int) (sink audio.Sink, ok bool, err error)
}

// FallbackDevices is implemented by Devices that can open the system's
// default microphone and speaker in place of a device that stopped working
// during a call (unplugged, or its driver gave up).
type FallbackDevices interface {
	OpenDefaultSource(frameSamples int) (audio.Source, error)
	OpenDefaultSink(frameSamples int) (audio.Sink, error)
}

// Device kinds, as DeviceChanged names them.
const (
	Microphone = "microphone"
	Speaker    = "speaker"
	RingDevice = "ring device" // the ringtone's speaker (RingDevices)
)

// DeviceChanged reports that the call's microphone or speaker changed:
// switched as asked (SwitchDevices), or, when Lost is set, replaced by the
// system default because the device in use stopped working (Err says how).
// Device names what is in use now; it is empty, and Err set, when nothing
// could be opened: the call goes on without that device, the default is
// tried again every second, and another DeviceChanged reports it once it
// opens.
//
// For RingDevice, Err says why an incoming call could not ring on the ring
// device, and Device names the speaker it rings on instead ("": none could
// be opened, so it rings without a sound; the UI's bell still rings).
type DeviceChanged struct {
	CallID string
	Kind   string // Microphone, Speaker or RingDevice
	Device string
	Lost   bool
	Err    error
}

func (DeviceChanged) event() {}

// named is implemented by sources and sinks that are devices
// (audio.System's microphones and speakers). Only devices are watched,
// replaced when they fail, and have their audio processed.
type named interface{ Device() string }

func deviceName(v any) string {
	if n, ok := v.(named); ok {
		return n.Device()
	}
	return ""
}

// fallbackEvery limits how often a failed device is replaced, so that a
// default device that fails as well is not reopened in a tight loop;
// fallbackRetry is how often the default is tried again when there was
// none to open (the only device went; another may be plugged in).
const (
	fallbackEvery = 5 * time.Second
	fallbackRetry = time.Second
)

// devicePath holds one call's microphone and speaker. The sender goroutine
// owns the source and the speaker goroutine the sink; the phone's loop hands
// replacements over through newSrc and newSink, and learns of failures
// through srcFailed and sinkFailed. mu guards the fields that stop and the
// swaps share, so that closing always reaches the device in use.
type devicePath struct {
	log     *slog.Logger
	frame   int
	newSrc  chan audio.Source
	newSink chan audio.Sink

	srcFailed, sinkFailed atomic.Pointer[error]

	mu     sync.Mutex
	src    audio.Source // nil until attached
	sink   audio.Sink
	closed bool

	proc    atomic.Pointer[audio.Processor] // set when a microphone is attached
	opts    atomic.Uint32                   // Processing as bits, for the next processor
	dsp     *dspState                       // speaking and silence detection (dsp.go)
	freeDSP sync.Once

	// The loop's: when each device was last replaced after a failure, and
	// whether the default could not be opened then (it is tried again).
	lastFallback [2]time.Time
	noDefault    [2]bool
}

func newDevicePath(sink audio.Sink, frame int) *devicePath {
	return &devicePath{
		frame:   frame,
		sink:    sink,
		newSrc:  make(chan audio.Source, 1),
		newSink: make(chan audio.Sink, 1),
		dsp:     newDSPState(frame),
		log:     slog.New(slog.DiscardHandler),
	}
}

// attach sets the source before the sender starts; a microphone gets an
// audio processor.
func (d *devicePath) attach(src audio.Source) {
	d.mu.Lock()
	d.src = src
	d.mu.Unlock()
	if deviceName(src) != "" && d.proc.Load() == nil {
		pr := processingFromBits(d.opts.Load())
		p, err := audio.NewProcessorWith(pr.EchoCanceller(), d.frame, 0, pr.options())
		if err != nil {
			d.log.Warn("no audio processing", "err", err)
			return
		}
		d.log.Info("audio processing", "options", fmt.Sprintf("%+v", p.Options()), "canceller", p.Canceller(),
			"microphone", deviceName(src))
		d.proc.Store(p)
	}
}

// read reads the next frame from the source, taking a replacement handed
// over by the loop first. When a device fails, the frame is silence, the
// failure is left for the loop, and silence stands in until a replacement
// comes. Errors end the sender: the source was closed, or a source that is
// no device (a file, a generator) failed.
func (d *devicePath) read(frame []int16) error {
	select {
	case s := <-d.newSrc:
		d.replaceSource(s)
	default:
	}
	src := d.src // only this goroutine changes it once the sender runs
	err := src.Read(frame)
	if err == nil || errors.Is(err, audio.ErrClosed) || deviceName(src) == "" {
		return err
	}
	failed := err // a copy: taking err's address would put it on the heap for every frame
	d.srcFailed.Store(&failed)
	if !d.replaceSource(audio.NewSilence(d.frame)) {
		return err
	}
	clear(frame)
	return nil
}

// write plays frame on the sink, as read does for the source.
func (d *devicePath) write(frame []int16) error {
	select {
	case s := <-d.newSink:
		d.replaceSink(s)
	default:
	}
	sink := d.sink
	err := sink.Write(frame)
	if err == nil || errors.Is(err, audio.ErrClosed) || deviceName(sink) == "" {
		return err
	}
	failed := err // a copy: taking err's address would put it on the heap for every frame
	d.sinkFailed.Store(&failed)
	if !d.replaceSink(audio.NewNullSink()) {
		return err
	}
	return nil
}

// replaceSource makes s the source and closes the one it replaces; after
// close it closes s instead and reports false.
func (d *devicePath) replaceSource(s audio.Source) bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.Close()
		return false
	}
	old := d.src
	d.src = s
	d.mu.Unlock()
	if old != nil && !wraps(s, old) { // a share of old keeps it open (micshare.go)
		old.Close()
	}
	return true
}

func (d *devicePath) replaceSink(s audio.Sink) bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		d.closeSink(s)
		return false
	}
	old := d.sink
	d.sink = s
	d.mu.Unlock()
	d.closeSink(old)
	return true
}

// handSource gives the sender a new source (from the loop). A source not
// yet taken is closed in favour of the newer one; before the sender runs,
// the attached source is replaced at once.
func (d *devicePath) handSource(s audio.Source) {
	select {
	case old := <-d.newSrc:
		old.Close()
	default:
	}
	d.newSrc <- s
	if p := d.proc.Load(); p != nil {
		p.Reset()
	}
}

// handSink gives the speaker a new sink (from the loop).
func (d *devicePath) handSink(s audio.Sink) {
	select {
	case old := <-d.newSink:
		d.closeSink(old)
	default:
	}
	d.newSink <- s
	if p := d.proc.Load(); p != nil {
		p.Reset()
	}
}

// hasSource reports whether a source is attached (the call sends, or will).
func (d *devicePath) hasSource() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.src != nil
}

// close closes the devices in use and any not yet taken; later hand-overs
// are closed at once. Blocked reads and writes return.
func (d *devicePath) close() {
	d.mu.Lock()
	d.closed = true
	src, sink := d.src, d.sink
	d.mu.Unlock()
	if src != nil {
		src.Close()
	}
	d.closeSink(sink)
	for {
		select {
		case s := <-d.newSrc:
			s.Close()
		case s := <-d.newSink:
			d.closeSink(s)
		default:
			return
		}
	}
}

// closeSink closes a sink the call is done with. Nobody waits for its
// error (a WAV file that could not be finished, say), so it is logged.
func (d *devicePath) closeSink(s audio.Sink) {
	if err := s.Close(); err != nil {
		d.log.Warn("call: closing a speaker", "err", err)
	}
}

// free releases the processor once the goroutines have stopped.
func (d *devicePath) free() {
	d.freeDSP.Do(func() {
		if p := d.proc.Swap(nil); p != nil {
			d.log.Info("audio processing ended", "options", fmt.Sprintf("%+v", p.Options()), "echo_delay",
				p.EchoDelay(), "slips", p.Slips())
			p.Close()
		}
	})
}

// SwitchDevices reopens the microphone (mic) and the speaker (speaker) of
// the call or room in progress from Devices, which now name other ones; it
// goes on. DeviceChanged reports each switch. Without a call or a room it
// does nothing: the next one opens the new devices anyway.
func (p *Phone) SwitchDevices(mic, speaker bool) {
	p.post(func() { p.switchDevices(mic, speaker) })
}

// inUse is the devices of the call or room in progress, and the call's id
// ("" for a room); nil without either.
func (p *Phone) inUse() (*devicePath, string) {
	switch {
	case p.cur != nil && p.cur.media != nil:
		return p.cur.media.dev, p.cur.ev.ID
	case p.room != nil:
		return p.room.media.dev, ""
	}
	return nil, ""
}

func (p *Phone) switchDevices(mic, speaker bool) {
	d, id := p.inUse()
	if d == nil {
		return
	}
	n := p.frameSamples()
	if mic && d.hasSource() {
		src, err := p.cfg.Devices.OpenSource(n)
		if err != nil {
			p.emit(DeviceChanged{CallID: id, Kind: Microphone, Err: deviceError(Microphone, err)})
		} else {
			d.handSource(src)
			p.log.Info("microphone switched", "call", id, "device", deviceName(src))
			p.emit(DeviceChanged{CallID: id, Kind: Microphone, Device: deviceName(src)})
		}
	}
	if speaker && !d.onRingDevice() { // a call that rings on the ring device gets its speaker at answer
		sink, err := p.cfg.Devices.OpenSink(n)
		if err != nil {
			p.emit(DeviceChanged{CallID: id, Kind: Speaker, Err: deviceError(Speaker, err)})
		} else {
			d.handSink(sink)
			p.log.Info("speaker switched", "call", id, "device", deviceName(sink))
			p.emit(DeviceChanged{CallID: id, Kind: Speaker, Device: deviceName(sink)})
		}
	}
}

// openRing opens the sink the incoming call callID rings on: the ring
// device when Devices has one, else the call's speaker. A device that
// cannot be opened does not keep the call from ringing: the ring device
// falls back to the speaker, the speaker to silence, and the DeviceChanged
// returned says so (nil when all went well); answering opens the call's
// speaker again (answerSink).
func (p *Phone) openRing(callID string) (audio.Sink, *DeviceChanged) {
	n := p.frameSamples()
	var ringErr error
	if rd, ok := p.cfg.Devices.(RingDevices); ok {
		sink, ok, err := rd.OpenRing(n)
		if err == nil && ok {
			return ringSink{sink}, nil
		}
		if err != nil {
			ringErr = deviceError("ringtone speaker", err)
		}
	}
	sink, err := p.cfg.Devices.OpenSink(n)
	if err != nil {
		p.log.Warn("incoming call rings without a sound", "call", callID, "ring_device", ringErr, "speaker", err)
		return ringSink{audio.NewNullSink()}, &DeviceChanged{CallID: callID, Kind: RingDevice, Err: errors.Join(ringErr,
			deviceError(Speaker, err))}
	}
	if ringErr != nil {
		p.log.Warn("incoming call rings on the speaker", "call", callID, "ring_device", ringErr)
		return sink, &DeviceChanged{CallID: callID, Kind: RingDevice, Device: deviceName(sink), Err: ringErr}
	}
	return sink, nil
}

// ringSink marks a sink an incoming call rings on that is not the call's
// speaker (the ring device, or silence), so that answering moves the call
// to its speaker.
type ringSink struct{ audio.Sink }

func (r ringSink) Device() string { return deviceName(r.Sink) }

// onRingDevice reports whether the sink is the ring device's.
func (d *devicePath) onRingDevice() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sink.(ringSink)
	return ok
}

// answerSink moves an answered incoming call from the ring device to the
// call's speaker, when it rang on a ring device of its own.
func (p *Phone) answerSink(a *active) {
	d := a.media.dev
	if !d.onRingDevice() {
		return
	}
	sink, err := p.cfg.Devices.OpenSink(p.frameSamples())
	if err != nil {
		p.emit(DeviceChanged{CallID: a.ev.ID, Kind: Speaker, Err: deviceError(Speaker, err)})
		return
	}
	d.handSink(sink)
}

// watchDevices replaces devices that failed with the system defaults and
// reports it; the loop calls it on its ticker. When there is no default to
// open, it says so once and tries again every fallbackRetry, and reports
// the device it finally opens. callID names the call ("" in a room).
func (p *Phone) watchDevices(d *devicePath, callID string) {
	n := p.frameSamples()
	fb, canFallback := p.cfg.Devices.(FallbackDevices)
	for i, kind := range []string{Microphone, Speaker} {
		failed := &d.srcFailed
		if i == 1 {
			failed = &d.sinkFailed
		}
		errp := failed.Load()
		wait := fallbackEvery
		if d.noDefault[i] {
			wait = fallbackRetry
		}
		if errp == nil || time.Since(d.lastFallback[i]) < wait {
			continue
		}
		failed.Store(nil)
		d.lastFallback[i] = time.Now()
		cause := *errp
		ev := DeviceChanged{CallID: callID, Kind: kind, Lost: true, Err: cause}
		if !d.noDefault[i] {
			p.log.Warn("device stopped working", "kind", kind, "err", cause)
		}
		var err error
		switch {
		case !canFallback:
			err = errors.New("no default device to fall back to")
		case i == 0:
			var src audio.Source
			if src, err = fb.OpenDefaultSource(n); err == nil {
				d.handSource(src)
				ev.Device = deviceName(src)
			}
		default:
			var sink audio.Sink
			if sink, err = fb.OpenDefaultSink(n); err == nil {
				d.handSink(sink)
				ev.Device = deviceName(sink)
			}
		}
		if err != nil {
			if canFallback {
				failed.Store(errp) // try again
			}
			if d.noDefault[i] {
				continue // said so already
			}
			d.noDefault[i] = true
			p.log.Warn("no device to fall back to", "kind", kind, "err", err)
			ev.Err = fmt.Errorf("%w; and the default %s could not be opened: %v", cause, kind, err)
		} else {
			d.noDefault[i] = false
			p.log.Info("fell back to the default device", "kind", kind, "device", ev.Device)
		}
		p.emit(ev)
	}
}

// DevicePlugged reports that the sound server has a new microphone or
// speaker (a headset plugged in): Device is its name (what Devices take),
// Label what a person is shown. The call goes on with the devices it has;
// the UI offers to move it.
type DevicePlugged struct {
	Kind   string // Microphone or Speaker
	Device string
	Label  string
}

func (DevicePlugged) event() {}

// DevicePluggedIn reports a device that was plugged in (DevicePlugged).
func (p *Phone) DevicePluggedIn(kind, device, label string) {
	p.post(func() { p.emit(DevicePlugged{Kind: kind, Device: device, Label: label}) })
}

// DeviceUnplugged tells the phone that the device labelled label (as its
// microphone's or speaker's Device names it) was unplugged. If the call
// or room in progress uses it, it moves to the system default as when the
// device fails (FallbackDevices; DeviceChanged with Lost): the sound
// server may have moved the stream to another device by itself, which
// nothing else would tell.
func (p *Phone) DeviceUnplugged(kind, label string) {
	p.post(func() {
		d, _ := p.inUse()
		if d == nil {
			return
		}
		d.mu.Lock()
		src, sink := d.src, d.sink
		d.mu.Unlock()
		err := fmt.Errorf("%s %q was unplugged", kind, label)
		switch {
		case kind == Microphone && src != nil && deviceName(src) == label:
			d.srcFailed.Store(&err)
		case kind == Speaker && deviceName(sink) == label:
			d.sinkFailed.Store(&err)
		default:
			return
		}
		p.log.Info("device in use unplugged", "kind", kind, "device", label)
	})
}
