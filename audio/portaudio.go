package audio

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gordonklaus/portaudio"
)

// Device stream settings. A speaker's small periods keep latency low:
// PortAudio calls back every 5 ms for more, and the rings between the
// callbacks and Read/Write hold little more than one frame. A microphone's
// period is its frame: a frame can be read only once whole whatever the
// period, so smaller ones would wake PortAudio's thread and the sound
// server's client thread more often for nothing (200 times a second each
// at 5 ms, 50 at 20 ms frames).
const (
	paBufferSamples = SampleRate * 5 / 1000 // 240: the speaker's period
	// stallTimeout is how long Read or Write waits for the device before
	// giving up with ErrStalled. It is generous because a PulseAudio null
	// sink that has been idle wakes up only after its 2 s render block.
	stallTimeout = 4 * time.Second
)

// Device describes an audio device as PortAudio enumerates it, or a sink
// or source of the sound server (HostAPI ServerHostAPI; see pulse.go).
type Device struct {
	Index int
	// Name is PortAudio's name of the device, or the sound server's name
	// of the sink or source (alsa_output.usb-Logitech_…analog-stereo),
	// which stays the same across reboots and replugging.
	Name string
	// Description is the sound server's description of the sink or
	// source ("USB Headset Analog Stereo"); "" for PortAudio's devices.
	Description       string
	HostAPI           string
	MaxInputChannels  int
	MaxOutputChannels int
	DefaultInput      bool
	DefaultOutput     bool
	Monitor           bool // a source that records what a sink plays
}

// System is the PortAudio host: it lists devices and opens microphones and
// speakers. PortAudio keeps process-wide state, so a process should have one
// System, opened at start-up and closed at exit. PortAudio reads the device
// list when it starts; System restarts it to read the list again (devices
// plugged in since) when a device asked for is not in it, or the list is
// asked for, and no stream is open: restarting PortAudio closes every
// stream, so during a call the list stays as it was.
//
// PortAudio and the ALSA and JACK libraries below it print diagnostics to
// the process's standard error from C. System silences them by pointing file
// descriptor 2 at /dev/null while it calls into PortAudio (initialisation,
// listing, opening, closing); anything else the process writes to stderr in
// those moments is lost too. It also sets JACK_NO_START_SERVER=1 unless it is
// already set, so probing never launches a JACK server.
//
// A System is safe for concurrent use. Close closes every stream it opened.
type System struct {
	log *slog.Logger

	mu      sync.Mutex // serialises PortAudio calls and the stderr swap around them
	closed  bool
	down    bool // PortAudio is terminated (a restart failed, or Close)
	devices []*portaudio.DeviceInfo
	listed  time.Time // when devices was read
	defIn   int       // index of the default input, -1 if none
	defOut  int
	streams map[*paStream]func() // open streams and how to wake their users
	outLat  time.Duration        // the device latency speakers start with (SetOutputLatency)

	// The sound server's sinks and sources (pulse.go), when ALSA's
	// PulseAudio plugin can open them (pulsePCM is listed), read again
	// when a second old: that needs no restart of PortAudio, so they are
	// listed anew during a call too.
	pulsePCM *portaudio.DeviceInfo
	server   serverDevices
	serverAt time.Time
}

// SetOutputLatency sets the device latency the speakers opened from now on
// start with; 0, the default, is the device's lowest. A speaker whose
// device runs dry asks for more (see OpenSpeaker).
func (s *System) SetOutputLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outLat = d
}

// relistAfter is how old the device list must be before Devices reads it
// again.
const relistAfter = time.Second

// NewSystem initialises PortAudio quietly and enumerates devices. log
// receives device events; nil discards them.
func NewSystem(log *slog.Logger) (*System, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, ok := os.LookupEnv("JACK_NO_START_SERVER"); !ok {
		_ = os.Setenv("JACK_NO_START_SERVER", "1") // fails only for a name or value with NUL or =
	}
	quietALSA()
	s := &System{log: log, defIn: -1, defOut: -1, streams: map[*paStream]func(){}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.quietly(s.start); err != nil {
		return nil, fmt.Errorf("audio: initialise portaudio: %w", classify(err))
	}
	log.Debug("audio: portaudio ready", "version", portaudio.VersionText(), "devices", len(s.devices))
	return s, nil
}

// start initialises PortAudio and reads the device list; s.mu must be held
// and stderr silenced.
func (s *System) start() error {
	if n, err := skipConverters(); err != nil {
		s.log.Debug("audio: ALSA's converters are probed too", "err", err)
	} else {
		s.log.Debug("audio: ALSA's converters skipped", "pcms", n)
	}
	if ok, err := pointPulsePCM(""); err != nil || !ok {
		s.log.Debug("audio: the sound server's devices cannot be opened by name", "plugin", ok, "err", err)
	}
	if err := portaudio.Initialize(); err != nil {
		return err
	}
	devs, err := portaudio.Devices()
	if err != nil {
		_ = portaudio.Terminate()
		return err
	}
	s.devices, s.listed, s.defIn, s.defOut, s.pulsePCM = devs, time.Now(), -1, -1, nil
	for _, d := range devs {
		if d.Name == pulsePCM {
			s.pulsePCM = d
		}
	}
	s.serverAt = time.Time{} // read again with the list
	if d, err := portaudio.DefaultInputDevice(); err == nil {
		s.defIn = d.Index
	}
	if d, err := portaudio.DefaultOutputDevice(); err == nil {
		s.defOut = d.Index
	}
	return nil
}

// relist restarts PortAudio to read the device list again, if no stream is
// open, and reports whether it did; s.mu must be held. If PortAudio cannot
// start again, the System is left closed.
func (s *System) relist() bool {
	if s.closed || len(s.streams) > 0 {
		return false
	}
	err := s.quietly(func() error {
		if err := portaudio.Terminate(); err != nil {
			return err
		}
		if err := s.start(); err != nil {
			s.down = true
			return err
		}
		return nil
	})
	if err != nil {
		s.log.Warn("audio: restarting portaudio to list devices failed", "err", err)
		s.closed = s.down
		return false
	}
	s.log.Debug("audio: devices listed again", "devices", len(s.devices))
	return true
}

// quietly runs fn with stderr silenced; s.mu must be held.
func (s *System) quietly(fn func() error) error {
	restore, err := silenceStderr()
	if err != nil {
		s.log.Warn("audio: cannot silence stderr", "err", err)
		return fn()
	}
	defer restore()
	return fn()
}

// Close stops and closes every open stream and terminates PortAudio. Reads
// and writes blocked on those streams return ErrClosed. Close is idempotent.
func (s *System) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.quietly(func() error {
		var errs []error
		for st, wake := range s.streams {
			wake()
			errs = append(errs, st.close())
		}
		clear(s.streams)
		if !s.down {
			s.down = true
			errs = append(errs, portaudio.Terminate())
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("audio: close portaudio: %w", err)
		}
		return nil
	})
}

// Devices lists the devices: PortAudio's, read again if the list is more
// than a second old and no stream is open, else as last read; then the
// sound server's sinks and sources (see pulse.go), read again if more than
// a second old, numbered on from PortAudio's.
func (s *System) Devices() ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.listed) > relistAfter {
		s.relist()
	}
	if s.closed {
		return nil, fmt.Errorf("audio: list devices: %w", ErrClosed)
	}
	if time.Since(s.serverAt) > relistAfter {
		s.listServer()
	}
	return s.list(), nil
}

// listServer reads the sound server's sinks and sources, if they can be
// opened (ALSA's PulseAudio plugin is there); s.mu must be held.
func (s *System) listServer() {
	s.serverAt = time.Now()
	if s.pulsePCM == nil {
		return
	}
	sd, err := listServer()
	if err != nil {
		s.log.Debug("audio: the sound server's devices are not listed", "err", err)
	}
	s.server = sd
}

// list is Devices' list, as last read; s.mu must be held.
func (s *System) list() []Device {
	out := make([]Device, 0, len(s.devices)+len(s.server.devs))
	for _, d := range s.devices {
		if d == s.pulsePCM {
			continue // opens the server's devices: they are listed below
		}
		dev := Device{
			Index:             d.Index,
			Name:              d.Name,
			MaxInputChannels:  d.MaxInputChannels,
			MaxOutputChannels: d.MaxOutputChannels,
			DefaultInput:      d.Index == s.defIn,
			DefaultOutput:     d.Index == s.defOut,
		}
		if d.HostApi != nil {
			dev.HostAPI = d.HostApi.Name
		}
		out = append(out, dev)
	}
	for i, d := range s.server.devs {
		d.Index = len(s.devices) + i
		out = append(out, d)
	}
	return out
}

func direction(input bool) string {
	if input {
		return "input"
	}
	return "output"
}

func channels(d *portaudio.DeviceInfo, input bool) int {
	if input {
		return d.MaxInputChannels
	}
	return d.MaxOutputChannels
}

// target is a device to open: a PortAudio device, and for the sound
// server's sinks and sources the one pa (pulsePCM) is to reach.
type target struct {
	pa     *portaudio.DeviceInfo
	server string // the sink's or source's name; "" for PortAudio's own devices
	label  string // Device.Label
}

// find resolves a device name: "" or "default" is the default device, a
// decimal number is an index, otherwise an exact name or description, or
// else a unique case-insensitive substring of the names and descriptions
// of the devices with channels in that direction (a sound server's
// monitor gives way to a device of its own). s.mu must be held.
func (s *System) find(name string, input bool) (target, error) {
	dir := direction(input)
	var usable []Device
	for _, d := range s.list() {
		if d.MaxInputChannels > 0 && input || d.MaxOutputChannels > 0 && !input {
			usable = append(usable, d)
		}
	}
	notFound := func(format string, args ...any) error {
		var b strings.Builder
		for i, d := range usable {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d %q", d.Index, d.Label())
		}
		avail := b.String()
		if avail == "" {
			avail = "none; is a sound server running and is the device accessible?"
		}
		return fmt.Errorf("%w: %s (available %ss: %s)", ErrDeviceNotFound, fmt.Sprintf(format, args...), dir, avail)
	}

	if name == "" || name == "default" {
		def := s.defIn
		if !input {
			def = s.defOut
		}
		if def >= 0 && def < len(s.devices) && channels(s.devices[def], input) > 0 {
			return target{pa: s.devices[def], label: s.devices[def].Name}, nil
		}
		return target{}, notFound("no default %s device", dir)
	}
	if i, err := strconv.Atoi(name); err == nil {
		for _, d := range usable {
			if d.Index == i {
				return s.target(d), nil
			}
		}
		return target{}, notFound("no %s device with index %d", dir, i)
	}
	for _, same := range []func(d Device) bool{
		func(d Device) bool { return d.Name == name },
		func(d Device) bool { return d.Description != "" && strings.EqualFold(d.Description, name) },
	} {
		if i := slices.IndexFunc(usable, same); i >= 0 {
			return s.target(usable[i]), nil
		}
	}
	var matches []Device
	lower := strings.ToLower(name)
	for _, d := range usable {
		if strings.Contains(strings.ToLower(d.Name), lower) || strings.Contains(strings.ToLower(d.Description), lower) {
			matches = append(matches, d)
		}
	}
	if own := slices.DeleteFunc(slices.Clone(matches), func(d Device) bool { return d.Monitor }); len(own) == 1 {
		matches = own
	}
	switch len(matches) {
	case 1:
		return s.target(matches[0]), nil
	case 0:
		return target{}, notFound("no %s device named %q", dir, name)
	}
	names := make([]string, len(matches))
	for i, d := range matches {
		names[i] = strconv.Quote(d.Label())
	}
	return target{}, notFound("%q matches several %s devices (%s); use a full name or an index", name, dir,
		strings.Join(names, ", "))
}

// target is what opens d, one of list's; s.mu must be held.
func (s *System) target(d Device) target {
	if d.HostAPI == ServerHostAPI {
		return target{pa: s.pulsePCM, server: d.Name, label: d.Label()}
	}
	return target{pa: s.devices[d.Index], label: d.Name}
}

// findListed is find, after reading the device lists again if the device
// is not in them (plugged in since they were read): the sound server's at
// any time, PortAudio's if that can be done (no stream is open). s.mu must
// be held.
func (s *System) findListed(name string, input bool) (target, error) {
	dev, err := s.find(name, input)
	if errors.Is(err, ErrDeviceNotFound) {
		s.listServer()
		dev, err = s.find(name, input)
	}
	if errors.Is(err, ErrDeviceNotFound) && s.relist() {
		s.listServer()
		dev, err = s.find(name, input)
	}
	return dev, err
}

// classify wraps err with ErrPermission when the host reports EACCES/EPERM.
func classify(err error) error {
	var he portaudio.UnanticipatedHostError
	if errors.As(err, &he) {
		if he.Code == -int(syscall.EACCES) || he.Code == -int(syscall.EPERM) ||
			strings.Contains(strings.ToLower(he.Text), "permission denied") {
			return fmt.Errorf("%w: %v", ErrPermission, err)
		}
	}
	return err
}

// open opens and starts a stream on dev, mono if the device allows and
// stereo otherwise, registers it for System.Close (with wake, which makes
// its user's Read or Write return) and returns it with its channel count.
// latency is the device latency to ask for; 0 means the device's low
// latency. period is how many samples PortAudio moves per callback.
func (s *System) open(t target, input bool, latency time.Duration, period, capSamples, low int,
	wake func()) (*paStream, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, ErrClosed
	}
	dev := t.pa
	if t.server != "" {
		if _, err := pointPulsePCM(t.server); err != nil {
			return nil, 0, err
		}
	}
	if latency <= 0 {
		latency = dev.DefaultLowOutputLatency
		if input {
			latency = dev.DefaultLowInputLatency
		}
	}
	var (
		st  *paStream
		ch  int
		err error
	)
	for _, ch = range []int{1, 2} {
		if ch > channels(dev, input) {
			break
		}
		err = s.quietly(func() error {
			var err error
			st, err = openPAStream(dev.Index, input, ch, latency, period, capSamples, low)
			return err
		})
		if err == nil || !errors.Is(err, portaudio.InvalidChannelCount) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, portaudio.InvalidSampleRate) {
			err = fmt.Errorf("%w (the device cannot run at %d Hz)", err, SampleRate)
		}
		return nil, 0, classify(err)
	}
	s.streams[st] = wake
	return st, ch, nil
}

// release stops and frees st unless System.Close already did.
func (s *System) release(st *paStream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[st]; !ok {
		return nil
	}
	delete(s.streams, st)
	return s.quietly(st.close)
}

// Stream ring sizes. micRing is how much captured audio the capture ring
// holds, and micBacklog how far behind a reader may fall before it skips to
// the newest audio: a reader held up (a loaded machine, a garbage
// collection) gets every sample, late, rather than lose some; an echo
// canceller, whose reference runs on sample for sample with the
// microphone, takes audio that comes late in its stride, and audio that is
// missing badly. The playback ring is in frames of the size given to
// OpenSpeaker.
const (
	micRing       = time.Second
	micBacklog    = 500 * time.Millisecond
	spkRingFrames = 3 // playback ring; Write keeps 0.5 to 2 frames queued (see speaker.adapt), plus the frame it adds
)

// micRingSamples is the capture ring's size for frames of frameSamples.
func micRingSamples(frameSamples int) int {
	frames := (int(micRing*SampleRate/time.Second) + frameSamples - 1) / frameSamples
	return max(frames, 2) * frameSamples
}

// OpenMic opens an input device as a Source of 48 kHz mono frames. name is
// "" or "default", a device name (exact, else a unique case-insensitive
// substring) or a decimal index from Devices. frameSamples is the frame size
// the caller will usually read (0 means FrameSamples); it sizes the buffer.
//
// Capture runs from the moment OpenMic returns; the first Read returns the
// newest audio. Read returns a frame as soon as the device has delivered
// its last sample (PortAudio delivers a frame at a time). A reader that falls
// behind gets every sample, up to half a second behind; further behind, it
// skips to the newest audio. A stereo-only device is mixed down.
func (s *System) OpenMic(name string, frameSamples int) (Source, error) {
	if frameSamples <= 0 {
		frameSamples = FrameSamples
	}
	s.mu.Lock()
	dev, err := s.findListed(name, true)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("audio: open microphone: %w", ErrClosed)
	}
	if err != nil {
		return nil, fmt.Errorf("audio: open microphone: %w", err)
	}
	m := &mic{sys: s, log: s.log, closer: newCloser(), frame: frameSamples, buf: make([]byte, 64), name: dev.label}
	st, ch, err := s.open(dev, true, 0, frameSamples, micRingSamples(frameSamples), 0, func() { m.close() })
	if err != nil {
		return nil, fmt.Errorf("audio: open microphone %q: %w", dev.label, err)
	}
	m.st = st
	s.log.Info("audio: microphone open", "device", dev.label, "server_device", dev.server, "channels", ch,
		"latency", st.latency(), "realtime",
		st.realtime())
	return m, nil
}

// mic is a capture stream; Read takes from the C ring that the PortAudio
// callback fills.
type mic struct {
	sys  *System
	log  *slog.Logger
	st   *paStream
	name string
	closer
	frame    int
	buf      []byte // for draining the wake pipe
	closeErr error
	reading  bool // Read has returned audio (the reader's)
}

// Read fills frame with the oldest captured audio, waiting for the device
// if needed.
func (m *mic) Read(frame []int16) error {
	backlog := int(micBacklog * SampleRate / time.Second)
	if !m.reading {
		backlog = len(frame) // what was captured before the first Read is stale
	}
	for len(frame) > 0 {
		if err := m.checkClosed(); err != nil {
			return err
		}
		chunk := frame[:min(len(frame), m.frame)]
		ok, err := m.st.take(chunk, backlog)
		if err != nil {
			return err
		}
		if ok {
			frame = frame[len(chunk):]
			backlog = micRingSamples(m.frame) // only trim before the first chunk
			m.reading = true
			continue
		}
		if err := m.st.wait(stallTimeout, m.buf); err != nil {
			switch {
			case errors.Is(err, errStopped):
				return fmt.Errorf("audio: microphone %q: %w", m.name, err)
			case errors.Is(err, ErrStalled):
				return fmt.Errorf("audio: microphone %q: no audio for %v: %w", m.name, stallTimeout, err)
			}
			return err
		}
	}
	return nil
}

// Device names the microphone's device: its Label as Devices lists it.
func (m *mic) Device() string { return m.name }

// Gaps counts the samples of captured audio lost since the microphone was
// opened (the reader fell behind): what Read returns skips ahead by that
// much. An echo canceller moves its reference along with it.
func (m *mic) Gaps() uint64 { return m.st.gaps() }

// Shift is how many samples later than Gaps accounts for the audio Read
// returns was captured, since the microphone was opened: when the stream
// restarts below PortAudio (an xrun: with PulseAudio, the sound server or
// this process was held up), audio is lost that no count sees, and the
// capture timestamps move by that much. It may be negative. An echo
// canceller moves its reference along with it.
func (m *mic) Shift() int64 {
	n, _ := m.st.shift()
	return n
}

func (m *mic) checkClosed() error {
	select {
	case <-m.done:
		return ErrClosed
	default:
		return nil
	}
}

// Close stops capture. It is safe to call from any goroutine, more than
// once, and after System.Close.
func (m *mic) Close() error {
	if m.close() {
		overruns, _ := m.st.counters()
		shift, xruns := m.st.shift()
		callbacks := m.st.callbacks()
		m.closeErr = m.sys.release(m.st)
		m.log.Info("audio: microphone closed", "dropped_samples", overruns, "xruns", xruns, "shift",
			samplesDuration(shift), "callbacks", callbacks)
		if m.closeErr != nil {
			m.closeErr = fmt.Errorf("audio: close microphone: %w", m.closeErr)
		}
	}
	return m.closeErr
}

// OpenSpeaker opens an output device as a Sink of 48 kHz mono frames. name
// is as for OpenMic; frameSamples is the frame size the caller will usually
// write (0 means FrameSamples).
//
// Write queues the frame and returns once no more than one device period
// (paBufferSamples, 5 ms) is still queued, so at most a frame and a period
// ever wait ahead of the device and the caller's next frame is produced
// just in time. When the writer is late the device plays silence, and the
// level Write waits for grows by half a frame (see adapt). A stereo-only
// device gets the mono signal on both channels.
//
// The device starts with the System's output latency. When it runs dry
// below PortAudio (an xrun), the speaker opens it again with twice the
// latency (see minRaisedLatency), and counts a reopen (Reopens).
func (s *System) OpenSpeaker(name string, frameSamples int) (Sink, error) {
	if frameSamples <= 0 {
		frameSamples = FrameSamples
	}
	s.mu.Lock()
	dev, err := s.findListed(name, false)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("audio: open speaker: %w", ErrClosed)
	}
	if err != nil {
		return nil, fmt.Errorf("audio: open speaker: %w", err)
	}
	floor := min(paBufferSamples, frameSamples/2)
	sp := &speaker{sys: s, log: s.log, closer: newCloser(), buf: make([]byte, 64), name: dev.label, dev: dev,
		frame: frameSamples, step: frameSamples / 2, floor: floor, low: floor, maxLow: 2 * frameSamples,
		calm: time.Now()}
	s.mu.Lock()
	latency := s.outLat
	s.mu.Unlock()
	st, ch, err := s.open(dev, false, latency, paBufferSamples, spkRingFrames*frameSamples, sp.low,
		func() { sp.close() })
	if err != nil {
		return nil, fmt.Errorf("audio: open speaker %q: %w", dev.label, err)
	}
	sp.st, sp.latency = st, st.latency()
	s.log.Info("audio: speaker open", "device", dev.label, "server_device", dev.server, "channels", ch,
		"latency", sp.latency, "queue_ms",
		sp.low*1000/SampleRate, "realtime", st.realtime())
	return sp, nil
}

// Speaker latency. A speaker starts with the device latency the System is
// set to (SetOutputLatency), by default the device's lowest. At an xrun
// the device ran dry below PortAudio (with PulseAudio: the sound server or
// this process was held up), which moves what is played against what was
// written and spoils an echo canceller's model for a second or more: the
// speaker opens the device again with twice the latency, at least
// minRaisedLatency and at most maxSpeakerLatency. (Measured with
// PulseAudio on this project's two-core virtual machines: 10 ms runs dry
// several times a second, 20 ms now and then, 40 ms not in minutes.)
const (
	minRaisedLatency  = 20 * time.Millisecond
	maxSpeakerLatency = 80 * time.Millisecond
)

// speaker is a playback stream; Write fills the C ring that the PortAudio
// callback drains, with silence when it runs dry.
//
// The writer owns everything but what Close reads from another goroutine:
// mu guards the stream in use, its latency and the counts of the streams
// reopen closed, where the writer replaces them.
type speaker struct {
	sys  *System
	log  *slog.Logger
	dev  target
	name string
	closer
	buf      []byte
	closeErr error

	mu      sync.Mutex
	st      *paStream
	latency time.Duration // the stream's
	prior   streamCounts  // of the streams reopen closed
	reopens atomic.Uint64

	// The queue level Write waits for adapts, owned by the writer: it
	// starts at floor (one device period); each underrun (the device found
	// the queue dry, because this process or the machine was slow) raises
	// it by step, up to maxLow; after a calm minute it comes down by a step
	// again, to no less than floor.
	frame                    int
	floor, step, low, maxLow int
	underruns                uint64
	calm                     time.Time
	reopenFailed             bool // the device could not be opened again: it keeps its latency
}

// streamCounts are a playback stream's counts (see paStream).
type streamCounts struct {
	gaps, underruns, xruns uint64
	shift                  int64
}

func countsOf(st *paStream) streamCounts {
	_, u := st.counters()
	shift, x := st.shift()
	return streamCounts{gaps: st.gaps(), underruns: u, xruns: x, shift: shift}
}

func (c streamCounts) plus(d streamCounts) streamCounts {
	return streamCounts{gaps: c.gaps + d.gaps, underruns: c.underruns + d.underruns, xruns: c.xruns + d.xruns,
		shift: c.shift + d.shift}
}

// speakerCalm is how long playback must go without an underrun before the
// queue shrinks again.
const speakerCalm = time.Minute

// adapt follows the device's underruns with the queue level, and its
// xruns with the device latency.
func (sp *speaker) adapt() {
	_, u := sp.st.counters()
	switch {
	case u > sp.underruns:
		sp.underruns = u
		sp.calm = time.Now()
		if sp.low < sp.maxLow {
			sp.low += sp.step
			sp.st.setLow(sp.low)
			sp.log.Info("audio: speaker underrun: queueing more", "queue_ms", sp.low*1000/SampleRate)
		}
	case sp.low > sp.floor && time.Since(sp.calm) > speakerCalm:
		sp.calm = time.Now()
		sp.low = max(sp.low-sp.step, sp.floor)
		sp.st.setLow(sp.low)
	}
	if _, x := sp.st.shift(); x > 0 && sp.latency < maxSpeakerLatency && !sp.reopenFailed { // the writer's own fields
		sp.reopen(min(max(2*sp.latency, minRaisedLatency), maxSpeakerLatency))
	}
}

// reopen opens the device again with the given latency and, if that
// works, closes the stream in use for it: what was queued there is lost.
func (sp *speaker) reopen(latency time.Duration) {
	st, _, err := sp.sys.open(sp.dev, false, latency, paBufferSamples, spkRingFrames*sp.frame, sp.low,
		func() { sp.close() })
	if err != nil {
		sp.log.Warn("audio: speaker: opening again with more latency failed; going on as it is", "device", sp.name,
			"latency", latency, "err", err)
		sp.reopenFailed = true
		return
	}
	sp.mu.Lock()
	old, from := sp.st, sp.latency
	sp.st, sp.latency = st, st.latency()
	sp.prior = sp.prior.plus(countsOf(old))
	sp.mu.Unlock()
	if err := sp.sys.release(old); err != nil {
		sp.log.Warn("audio: speaker: closing the stream it replaced", "device", sp.name, "err", err)
	}
	if sp.checkClosed() != nil { // Close took the old one
		if err := sp.sys.release(st); err != nil {
			sp.log.Warn("audio: speaker: closing the new stream after Close", "device", sp.name, "err", err)
		}
	}
	sp.underruns = 0
	sp.reopens.Add(1)
	sp.log.Info("audio: speaker xruns: more device latency", "device", sp.name, "from", from, "to", st.latency())
}

// Write queues frame for playback at once, then waits until the device has
// played all but the queue level (one device period, more after
// underruns), so that the caller produces the next frame just in time: a
// frame spends at most that long in the queue before it starts playing,
// plus the device's own latency.
func (sp *speaker) Write(frame []int16) error {
	for {
		if err := sp.checkClosed(); err != nil {
			return err
		}
		if len(frame) > 0 {
			n, err := sp.st.put(frame)
			if err != nil {
				return err
			}
			frame = frame[n:]
		}
		ok, err := sp.st.drained()
		if err != nil {
			return err
		}
		if ok && len(frame) == 0 {
			sp.adapt()
			return nil
		}
		if !ok {
			if err := sp.st.wait(stallTimeout, sp.buf); err != nil {
				switch {
				case errors.Is(err, errStopped):
					return fmt.Errorf("audio: speaker %q: %w", sp.name, err)
				case errors.Is(err, ErrStalled):
					return fmt.Errorf("audio: speaker %q: device took no audio for %v: %w", sp.name, stallTimeout, err)
				}
				return err
			}
		}
	}
}

// Device names the speaker's device: its Label as Devices lists it.
func (sp *speaker) Device() string { return sp.name }

// Gaps counts the samples of silence the device played since the first
// Write because nothing was queued (the writer was late): what was written
// after plays that much later. An echo canceller delays its reference
// along with it. Call it from the writer's goroutine.
func (sp *speaker) Gaps() uint64 { return sp.prior.gaps + sp.st.gaps() }

// Shift is how many samples later than Gaps accounts for what Write queues
// is played, since the speaker was opened: when the stream restarts below
// PortAudio (an xrun: with PulseAudio, the sound server ran dry because it
// or this process was held up), the playback timestamps move by the time
// the restart took, less what was queued and dropped. It may be negative.
// An echo canceller delays its reference along with it. Call it from the
// writer's goroutine.
func (sp *speaker) Shift() int64 {
	n, _ := sp.st.shift()
	return sp.prior.shift + n
}

// Reopens counts the times the speaker opened its device again with more
// latency: what is played moved by an amount no count tells, so an echo
// canceller starts over. Any goroutine may call it.
func (sp *speaker) Reopens() uint64 { return sp.reopens.Load() }

func (sp *speaker) checkClosed() error {
	select {
	case <-sp.done:
		return ErrClosed
	default:
		return nil
	}
}

// Close stops playback at once, dropping what is queued. It is safe to call
// from any goroutine, more than once, and after System.Close.
func (sp *speaker) Close() error {
	if sp.close() {
		sp.mu.Lock()
		st, latency := sp.st, sp.latency
		c := sp.prior.plus(countsOf(st))
		sp.mu.Unlock()
		sp.closeErr = sp.sys.release(st)
		sp.log.Info("audio: speaker closed", "underruns", c.underruns, "xruns", c.xruns, "shift",
			samplesDuration(c.shift),
			"latency", latency, "reopens", sp.reopens.Load())
		if sp.closeErr != nil {
			sp.closeErr = fmt.Errorf("audio: close speaker: %w", sp.closeErr)
		}
	}
	return sp.closeErr
}
