// Package devices chooses and opens the audio devices of calls: the
// microphone, the speaker and the ring device named by --in, --out and
// --ring-device or by the saved choice (Pick), falling back to the
// system's defaults when one stops working; and it lists the devices and
// saves the choices of the UI's picker and settings screen.
package devices

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
)

// Pick is the source or sink spec a command uses: the flag's, else the
// saved one (the config's input or output), else "default".
func Pick(flag, saved string) string {
	if flag != "" {
		return flag
	}
	if saved != "" {
		return saved
	}
	return "default"
}

// CheckSource finds what is wrong with a source spec without opening a
// device, so that a command can refuse it before it signs in: a malformed
// spec (tone:abc, null), a WAV file that is missing or cannot be decoded. A
// device name is checked when it is opened (PortAudio starts only then), as
// is a file the user may not read: that is the call's to refuse
// (permission_denied, as for a microphone).
func CheckSource(spec string) error {
	if namesDevice(spec) && spec != "null" {
		return nil
	}
	src, err := audio.OpenSource(nil, spec, checkFrame)
	if errors.Is(err, fs.ErrPermission) {
		return nil
	}
	if err != nil {
		return err
	}
	return src.Close()
}

// CheckSink is CheckSource for a sink spec: a malformed spec (silence,
// tone:HZ, file: without a path), a file: whose folder does not exist. The
// file itself is created only when the call opens the sink.
func CheckSink(spec string) error {
	path, isFile := strings.CutPrefix(spec, "file:")
	switch {
	case isFile && path != "":
		fi, err := os.Stat(filepath.Dir(path))
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a folder", filepath.Dir(path))
		}
		if err != nil {
			return fmt.Errorf("devices: sink %q: %w", spec, err)
		}
		return nil
	case namesDevice(spec):
		return nil
	}
	sink, err := audio.OpenSink(nil, spec, checkFrame)
	if err != nil {
		return err
	}
	return sink.Close()
}

// checkFrame is the frame the checks open sources and sinks with (20 ms).
const checkFrame = audio.SampleRate / 50

// Options are what a Manager starts with.
type Options struct {
	Input, Output string          // the source and sink specs (see Pick and audio.OpenSource)
	Ring          string          // the ringtone's device; "": the output
	OutputLatency time.Duration   // the speaker's device latency to start with (0: the lowest)
	Processing    call.Processing // the microphone's processing, for the settings screen
	ConfigPath    string          // the config file that Choose and SetProcessing save to
	// Absent: a device named but not there (a saved headset, unplugged)
	// opens the system's default in its place, rather than failing the
	// call; the UI offers the device again when it is plugged in.
	Absent bool
	Logger *slog.Logger
}

// Phone is what the choices made during a call apply to, and what hears
// of devices plugged in and unplugged (a *call.Phone).
type Phone interface {
	SwitchDevices(mic, speaker bool)
	SetProcessing(p call.Processing)
	DevicePluggedIn(kind, device, label string)
	DeviceUnplugged(kind, label string)
}

// Manager opens the audio of a command's calls, and lists and saves
// devices for the UI. PortAudio is started only when a spec names a
// device, and stays up until Close. The phone's loop and the UI both call
// it, so a mutex guards it.
type Manager struct {
	log        *slog.Logger
	configPath string
	outLat     time.Duration
	absent     bool

	mu      sync.Mutex
	in, out string
	ring    string
	proc    call.Processing
	phone   Phone // the phone the choices apply to, once attached
	sys     *audio.System
	labels  map[string]string // what the devices List named are shown as, by name
	inUse   [2]string         // the microphone and the speaker last opened, as shown (InUse)
	specs   [2]string         // and the specs they were opened by ("default" in place of one absent)
	watched chan struct{}     // closed when Watch's goroutine ends; nil if none runs
	unwatch context.CancelFunc
}

var (
	_ call.Devices         = (*Manager)(nil)
	_ call.RingDevices     = (*Manager)(nil)
	_ call.FallbackDevices = (*Manager)(nil)
)

// New returns a Manager of the devices o names; it opens nothing yet.
func New(o Options) *Manager {
	return &Manager{log: o.Logger, configPath: o.ConfigPath, outLat: o.OutputLatency, absent: o.Absent,
		in: o.Input, out: o.Output, ring: o.Ring, proc: o.Processing}
}

// Attach makes the choices made from now on (Choose, SetProcessing) apply
// to the call in progress on ph too.
func (m *Manager) Attach(ph Phone) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phone = ph
}

// Watch follows the sound server's sinks and sources (audio.WatchServer)
// until Close: each one plugged in is told to the attached phone
// (DevicePluggedIn), which tells the UI, and each one unplugged too
// (DeviceUnplugged), which moves a call off it. Without a sound server it
// does nothing.
func (m *Manager) Watch(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	m.mu.Lock()
	if m.watched != nil {
		m.mu.Unlock()
		cancel()
		return
	}
	m.watched, m.unwatch = done, cancel
	m.mu.Unlock()
	go func() {
		defer close(done)
		if err := audio.WatchServer(ctx, m.serverEvent); err != nil {
			m.logger().Info("devices: not watching the sound server's devices", "err", err)
		}
	}()
}

// serverEvent tells the phone of a device plugged in or unplugged.
func (m *Manager) serverEvent(ev audio.ServerEvent) {
	d := ev.Device
	kind := call.Speaker
	if d.MaxInputChannels > 0 {
		kind = call.Microphone
	}
	m.mu.Lock()
	ph := m.phone
	m.mu.Unlock()
	m.logger().Info("devices: sound server", "kind", kind, "device", d.Name, "label", d.Label(), "removed", ev.Removed)
	switch {
	case ph == nil:
	case ev.Removed:
		ph.DeviceUnplugged(kind, d.Label())
	case !d.Monitor: // a sink's monitor comes with it: no device to offer
		ph.DevicePluggedIn(kind, d.Name, d.Label())
	}
}

func (m *Manager) logger() *slog.Logger {
	if m.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.log
}

// Close stops watching and PortAudio, if they were started. Call it once
// the phone is closed.
func (m *Manager) Close() error {
	m.mu.Lock()
	sys, watched, unwatch := m.sys, m.watched, m.unwatch
	m.sys = nil
	m.mu.Unlock()
	if watched != nil {
		unwatch()
		<-watched
	}
	if sys == nil {
		return nil
	}
	return sys.Close()
}

// system starts PortAudio if spec needs it; m.mu must be held.
func (m *Manager) system(spec string) (*audio.System, error) {
	if !namesDevice(spec) || m.sys != nil {
		return m.sys, nil
	}
	sys, err := audio.NewSystem(m.log)
	if err != nil {
		return nil, err
	}
	sys.SetOutputLatency(m.outLat)
	m.sys = sys
	return sys, nil
}

// namesDevice tells whether a source or sink spec needs the sound system.
func namesDevice(spec string) bool {
	if strings.HasPrefix(spec, "file:") || strings.HasPrefix(spec, "tone:") {
		return false
	}
	return spec != "silence" && spec != "null"
}

// OpenSource opens the microphone (or the generated source) of the input
// spec.
func (m *Manager) OpenSource(n int) (audio.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sys, err := m.system(m.in)
	if err != nil {
		return nil, err
	}
	src, err := audio.OpenSource(sys, m.in, n)
	if errors.Is(err, audio.ErrDeviceNotFound) && m.absent {
		m.logger().Warn("devices: the microphone chosen is not there: the default stands in", "err", err)
		return opened[audio.Source](m, 0, "default")(audio.OpenSource(sys, "default", n))
	}
	return opened[audio.Source](m, 0, m.in)(src, err)
}

// OpenSink opens the speaker (or the file, or null) of the output spec.
func (m *Manager) OpenSink(n int) (audio.Sink, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sys, err := m.system(m.out)
	if err != nil {
		return nil, err
	}
	sink, err := audio.OpenSink(sys, m.out, n)
	if errors.Is(err, audio.ErrDeviceNotFound) && m.absent {
		m.logger().Warn("devices: the speaker chosen is not there: the default stands in", "err", err)
		return opened[audio.Sink](m, 1, "default")(audio.OpenSink(sys, "default", n))
	}
	return opened[audio.Sink](m, 1, m.out)(sink, err)
}

// OpenRing opens the ring device, when one is set apart from the output.
func (m *Manager) OpenRing(n int) (audio.Sink, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ring == "" || m.ring == m.out {
		return nil, false, nil
	}
	sys, err := m.system(m.ring)
	if err != nil {
		return nil, false, err
	}
	sink, err := audio.OpenSink(sys, m.ring, n)
	return sink, err == nil, err
}

// OpenDefaultSource opens the system's default microphone.
func (m *Manager) OpenDefaultSource(n int) (audio.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sys, err := m.system("default")
	if err != nil {
		return nil, err
	}
	return opened[audio.Source](m, 0, "default")(audio.OpenSource(sys, "default", n))
}

// OpenDefaultSink opens the system's default speaker.
func (m *Manager) OpenDefaultSink(n int) (audio.Sink, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sys, err := m.system("default")
	if err != nil {
		return nil, err
	}
	return opened[audio.Sink](m, 1, "default")(audio.OpenSink(sys, "default", n))
}

// List names the input and output devices: PortAudio's and the sound
// server's, by their names (what Choose saves: a sink's or source's stays
// the same when it is plugged in again); Label says what each is shown as.
func (m *Manager) List() (inputs, outputs []string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sys, err := m.system("default")
	if err != nil {
		return nil, nil, err
	}
	all, err := sys.Devices()
	if err != nil {
		return nil, nil, err
	}
	m.labels = map[string]string{}
	for _, dev := range all {
		m.labels[dev.Name] = dev.Label()
		if dev.MaxInputChannels > 0 {
			inputs = append(inputs, dev.Name)
		}
		if dev.MaxOutputChannels > 0 {
			outputs = append(outputs, dev.Name)
		}
	}
	return inputs, outputs, nil
}

// Label is what the device named name, as List gave it, is shown as: the
// sound server's description ("USB Headset Analog Stereo"), else name.
func (m *Manager) Label(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.labels[name]; ok {
		return l
	}
	return name
}

// opened notes what the microphone (i 0) or the speaker (1) opened from
// spec is shown as (its device's label, else spec), for InUse; m.mu must
// be held.
func opened[T any](m *Manager, i int, spec string) func(v T, err error) (T, error) {
	return func(v T, err error) (T, error) {
		if err == nil {
			m.inUse[i], m.specs[i] = spec, spec
			if d, ok := any(v).(interface{ Device() string }); ok {
				m.inUse[i] = d.Device()
			}
		}
		return v, err
	}
}

// InUse is what the microphone and the speaker last opened for a call are
// shown as: the device's label ("USB Headset Analog Stereo", default), or
// the spec of a generator or a file; "" before any was opened.
func (m *Manager) InUse() (mic, speaker string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inUse[0], m.inUse[1]
}

// Current is the input and output the next call uses.
func (m *Manager) Current() (input, output string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.in, m.out
}

// Choose uses input and output from now on, in the call in progress too,
// and saves them in the config file.
func (m *Manager) Choose(input, output string) error {
	m.mu.Lock()
	// What changed switches, and so does what is not in use: the default
	// stood in for it, or took over when it was unplugged.
	mic := input != m.in || m.specs[0] == "default" && input != "default"
	speaker := output != m.out || m.specs[1] == "default" && output != "default"
	m.in, m.out = input, output
	ph := m.phone
	m.mu.Unlock()
	if ph != nil && (mic || speaker) {
		ph.SwitchDevices(mic, speaker)
	}
	return config.Update(m.configPath, func(c *config.Config) {
		c.Input, c.Output = input, output
	})
}

// Processing is what is done to the microphone now.
func (m *Manager) Processing() call.Processing {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// SetProcessing saves p in the config file and applies it to the call in
// progress and the next ones.
func (m *Manager) SetProcessing(p call.Processing) error {
	m.mu.Lock()
	m.proc = p
	ph := m.phone
	m.mu.Unlock()
	if ph != nil {
		ph.SetProcessing(p)
	}
	return config.Update(m.configPath, func(c *config.Config) {
		c.AEC, c.NoiseSuppression, c.AGC = &p.EchoCancellation, &p.NoiseSuppression, &p.AutoGain
	})
}
