package audio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/jfreymuth/pulse/proto"
)

// The sound server's own devices. On a PulseAudio or PipeWire desktop,
// PortAudio over ALSA sees two devices, default and pulse, which both play
// on the server's default sink: the sinks and sources behind them (a USB
// headset, HDMI, a Bluetooth speaker) are the server's, and only its own
// protocol lists them. System lists them beside PortAudio's devices (by
// their descriptions, with their names as their stable ids) and opens one
// through PortAudio all the same, on the ALSA PulseAudio plugin's PCM
// pointed at it (pointPulsePCM). github.com/jfreymuth/pulse speaks the
// server's native protocol in Go, so no libpulse is linked for it.

// ServerHostAPI is the HostAPI of the sound server's devices in Devices.
const ServerHostAPI = "PulseAudio"

// Label is what a person is shown for the device: its description, if
// the sound server gave one, else its name. A microphone's or speaker's
// Device method returns it.
func (d Device) Label() string {
	if d.Description != "" {
		return d.Description
	}
	return d.Name
}

// serverDevices are the sound server's sinks (outputs) and sources
// (inputs), sinks first. None is marked as a default: the default
// devices are PortAudio's default (and pulse), which play on the server's
// default sink, and follow it when it changes.
type serverDevices struct {
	devs           []Device          // Index unset; Name is the sink's or source's
	sinks, sources map[uint32]string // names by the server's index, for WatchServer
}

// pulseServer is the server string of the sound server that libpulse (and
// so ALSA's plugin) reaches: PULSE_SERVER, else the sockets it looks for,
// in its order: the runtime directory (PULSE_RUNTIME_PATH, else
// XDG_RUNTIME_DIR's pulse, else the one in the config directory named
// after the machine: a session without XDG_RUNTIME_DIR), then the
// system-wide daemon's.
func pulseServer() string {
	if s := os.Getenv("PULSE_SERVER"); s != "" {
		return s
	}
	var dirs []string
	if d := os.Getenv("PULSE_RUNTIME_PATH"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "pulse"))
	}
	if conf, err := os.UserConfigDir(); err == nil {
		for _, f := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
			if id, err := os.ReadFile(f); err == nil {
				dirs = append(dirs, filepath.Join(conf, "pulse", strings.TrimSpace(string(id))+"-runtime"))
				break
			}
		}
	}
	dirs = append(dirs, "/var/run/pulse")
	var servers []string
	for _, d := range dirs {
		if !strings.ContainsAny(d, " \t\n") { // the server string is split at spaces
			servers = append(servers, "unix:"+filepath.Join(d, "native"))
		}
	}
	return strings.Join(servers, " ")
}

// pulseConnect connects to the sound server (pulseServer).
func pulseConnect() (*proto.Client, net.Conn, error) {
	c, conn, err := proto.Connect(pulseServer())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the sound server: %w", err)
	}
	props := proto.PropList{"application.name": proto.PropListString("parley")}
	if err := c.Request(&proto.SetClientName{Props: props}, &proto.SetClientNameReply{}); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("sound server: %w", err)
	}
	return c, conn, nil
}

// listServer lists the sound server's sinks and sources.
func listServer() (serverDevices, error) {
	c, conn, err := pulseConnect()
	if err != nil {
		return serverDevices{}, err
	}
	defer func() { _ = conn.Close() }()
	return readServer(c)
}

// readServer reads the sinks, the sources and the defaults over c.
func readServer(c *proto.Client) (serverDevices, error) {
	var (
		sinks   proto.GetSinkInfoListReply
		sources proto.GetSourceInfoListReply
	)
	if err := errors.Join(c.Request(&proto.GetSinkInfoList{}, &sinks),
		c.Request(&proto.GetSourceInfoList{}, &sources)); err != nil {
		return serverDevices{}, fmt.Errorf("list the sound server's devices: %w", err)
	}
	sd := serverDevices{sinks: map[uint32]string{}, sources: map[uint32]string{}}
	for _, s := range sinks {
		sd.devs = append(sd.devs, sinkDevice(s))
		sd.sinks[s.SinkIndex] = s.SinkName
	}
	for _, s := range sources {
		sd.devs = append(sd.devs, sourceDevice(s))
		sd.sources[s.SourceIndex] = s.SourceName
	}
	return sd, nil
}

func sinkDevice(s *proto.GetSinkInfoReply) Device {
	return Device{Name: s.SinkName, Description: s.Device, HostAPI: ServerHostAPI, MaxOutputChannels: int(s.Channels)}
}

func sourceDevice(s *proto.GetSourceInfoReply) Device {
	return Device{Name: s.SourceName, Description: s.Device, HostAPI: ServerHostAPI, MaxInputChannels: int(s.Channels),
		Monitor: s.MonitorSourceIndex != proto.Undefined} // the field holds the sink a source monitors
}

// ServerEvent reports a sink or source of the sound server that came
// (plugged in) or went (unplugged). Device is as Devices lists it, without
// an index; one that went has only its name and description.
type ServerEvent struct {
	Device  Device
	Removed bool
}

// WatchServer reports each sink and source that the sound server adds or
// removes to fn, from its own goroutine, until ctx is done (it returns
// nil then) or the connection fails. It returns at once with an error if
// the server cannot be reached (no PulseAudio or PipeWire).
func WatchServer(ctx context.Context, fn func(ServerEvent)) error {
	c, conn, err := pulseConnect()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	events := make(chan proto.SubscriptionEventType, 64)
	closed := make(chan struct{})
	// The callback runs on the connection's reading goroutine, which also
	// delivers the replies: it hands the events over and returns.
	c.Callback = func(msg any) {
		switch m := msg.(type) {
		case *proto.SubscribeEvent:
			f := m.Event.GetFacility()
			if f != proto.EventSink && f != proto.EventSource {
				return
			}
			select {
			case events <- m.Event | proto.SubscriptionEventType(m.Index)<<8: // index beside the type
			case <-ctx.Done():
			}
		case *proto.ConnectionClosed:
			close(closed)
		}
	}
	known, err := readServer(c)
	if err != nil {
		return err
	}
	if err := c.Request(&proto.Subscribe{Mask: proto.SubscriptionMaskSink | proto.SubscriptionMaskSource},
		nil); err != nil {
		return fmt.Errorf("sound server: subscribe: %w", err)
	}
	for {
		var ev proto.SubscriptionEventType
		select {
		case <-ctx.Done():
			return nil
		case <-closed:
			return errors.New("sound server: the connection closed")
		case ev = <-events:
		}
		if err := known.apply(c, ev, fn); err != nil {
			return err
		}
	}
}

// apply follows one subscription event: it reads a new sink or source and
// reports it, or reports and forgets one that went. (A device that went
// before it could be read is not reported.)
func (sd *serverDevices) apply(c *proto.Client, packed proto.SubscriptionEventType, fn func(ServerEvent)) error {
	index := uint32(packed >> 8)
	ev := packed & 0xff
	sink := ev.GetFacility() == proto.EventSink
	names := sd.sources
	if sink {
		names = sd.sinks
	}
	switch ev.GetType() {
	case proto.EventRemove:
		name, ok := names[index]
		if !ok {
			return nil
		}
		delete(names, index)
		fn(ServerEvent{Device: sd.forget(name, sink), Removed: true})
	case proto.EventNew:
		var d Device
		if sink {
			var r proto.GetSinkInfoReply
			if err := c.Request(&proto.GetSinkInfo{SinkIndex: index}, &r); err != nil {
				return ignoreGone(err)
			}
			d = sinkDevice(&r)
		} else {
			var r proto.GetSourceInfoReply
			if err := c.Request(&proto.GetSourceInfo{SourceIndex: index}, &r); err != nil {
				return ignoreGone(err)
			}
			d = sourceDevice(&r)
		}
		names[index] = d.Name
		sd.devs = append(sd.devs, d)
		fn(ServerEvent{Device: d})
	}
	return nil
}

// forget removes the device named name from the list and returns it.
func (sd *serverDevices) forget(name string, sink bool) Device {
	for i, d := range sd.devs {
		if d.Name == name && (d.MaxOutputChannels > 0) == sink {
			sd.devs = append(sd.devs[:i], sd.devs[i+1:]...)
			return d
		}
	}
	return Device{Name: name}
}

// ignoreGone is nil for the error of asking about a sink or source that
// went again before it was read.
func ignoreGone(err error) error {
	if errors.Is(err, proto.ErrNoSuchEntity) {
		return nil
	}
	return fmt.Errorf("sound server: %w", err)
}
