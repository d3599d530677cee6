package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
)

// onOff is a flag that takes on or off (also true/false, yes/no, 1/0) and
// remembers whether it was given.
type onOff struct {
	set, on bool
}

func (o *onOff) String() string {
	switch {
	case !o.set:
		return ""
	case o.on:
		return "on"
	}
	return "off"
}

func (o *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		o.set, o.on = true, true
	case "off", "false", "no", "0":
		o.set, o.on = true, false
	default:
		return fmt.Errorf("%q: use on or off", s)
	}
	return nil
}

func (o *onOff) Type() string { return "on|off" }

// audioFlags are the microphone processing flags of call, answer, demo and
// echo, and the speaker's latency.
type audioFlags struct {
	aec, ns, agc onOff
	outLatency   time.Duration // --output-latency; 0: not given
}

func (f *audioFlags) register(c *cobra.Command, def string) {
	c.Flags().Var(&f.aec, "aec", "echo cancellation: on or off (default "+def+")")
	c.Flags().Var(&f.ns, "noise-suppression", "noise suppression: on or off (default "+def+")")
	c.Flags().Var(&f.agc, "agc", "automatic gain control: on or off (default "+def+")")
	c.Flags().DurationVar(&f.outLatency, "output-latency", 0,
		"the speaker's device latency to start with, such as 40ms (default: the config's output_latency, else the device's lowest); it grows when the device runs dry")
}

// outputLatency is the speaker latency the flag, else the config, asks for.
func (f *audioFlags) outputLatency(cfg config.Config) (time.Duration, error) {
	if f.outLatency != 0 {
		if f.outLatency < 0 || f.outLatency > config.MaxOutputLatency {
			return 0, fmt.Errorf("--output-latency %v: give a duration from 0 to %v, such as 40ms", f.outLatency, config.MaxOutputLatency)
		}
		return f.outLatency, nil
	}
	return cfg.OutputLatencyDuration()
}

// processing is what the flags, else the config, else def ask for.
func (f *audioFlags) processing(cfg config.Config, def call.Processing) call.Processing {
	p := configProcessing(cfg, def)
	for _, o := range []struct {
		flag *onOff
		dst  *bool
	}{{&f.aec, &p.EchoCancellation}, {&f.ns, &p.NoiseSuppression}, {&f.agc, &p.AutoGain}} {
		if o.flag.set {
			*o.dst = o.flag.on
		}
	}
	return p
}

// configProcessing is the config's processing, def where it says nothing.
func configProcessing(cfg config.Config, def call.Processing) call.Processing {
	p := def
	for _, o := range []struct {
		cfg *bool
		dst *bool
	}{{cfg.AEC, &p.EchoCancellation}, {cfg.NoiseSuppression, &p.NoiseSuppression}, {cfg.AGC, &p.AutoGain}} {
		if o.cfg != nil {
			*o.dst = *o.cfg
		}
	}
	return p
}

var (
	_ call.RingDevices     = (*devices)(nil)
	_ call.FallbackDevices = (*devices)(nil)
)

// OpenRing opens the ring device, when one is set apart from the output.
func (d *devices) OpenRing(n int) (audio.Sink, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ring == "" || d.ring == d.out {
		return nil, false, nil
	}
	sys, err := d.system(d.ring)
	if err != nil {
		return nil, false, err
	}
	sink, err := audio.OpenSink(sys, d.ring, n)
	return sink, err == nil, err
}

// OpenDefaultSource opens the system's default microphone.
func (d *devices) OpenDefaultSource(n int) (audio.Source, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sys, err := d.system("default")
	if err != nil {
		return nil, err
	}
	return audio.OpenSource(sys, "default", n)
}

// OpenDefaultSink opens the system's default speaker.
func (d *devices) OpenDefaultSink(n int) (audio.Sink, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sys, err := d.system("default")
	if err != nil {
		return nil, err
	}
	return audio.OpenSink(sys, "default", n)
}

// Processing is what is done to the microphone now.
func (d *devices) Processing() call.Processing {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.proc
}

// SetProcessing saves p in the config file and applies it to the call in
// progress and the next ones.
func (d *devices) SetProcessing(p call.Processing) error {
	d.mu.Lock()
	d.proc = p
	ph := d.phone
	d.mu.Unlock()
	if ph != nil {
		ph.SetProcessing(p)
	}
	return config.Update(config.Path(d.e.getenv), func(c *config.Config) {
		c.AEC, c.NoiseSuppression, c.AGC = &p.EchoCancellation, &p.NoiseSuppression, &p.AutoGain
	})
}

// The --json forms of the audio events.
type (
	jsonDevice struct {
		Event  string `json:"event"` // "device"
		ID     string `json:"id,omitempty"`
		Kind   string `json:"kind"`
		Device string `json:"device"`
		Lost   bool   `json:"lost,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	jsonMicWarning struct {
		Event  string `json:"event"` // "mic_warning"
		ID     string `json:"id,omitempty"`
		Silent bool   `json:"silent"`
	}
)

// printAudio prints the audio events, for people or as JSON; it reports
// whether ev was one.
func (p *printer) printAudio(ev call.Event) bool {
	var v any
	var text string
	switch ev := ev.(type) {
	case call.DeviceChanged:
		j := jsonDevice{Event: "device", ID: ev.CallID, Kind: ev.Kind, Device: ev.Device, Lost: ev.Lost}
		if ev.Err != nil {
			j.Error = ev.Err.Error()
		}
		v, text = j, deviceText(ev)
	case call.MicWarning:
		v = jsonMicWarning{Event: "mic_warning", ID: ev.CallID, Silent: ev.Raised}
		text = "your microphone picks up sound again"
		if ev.Raised {
			text = "your microphone seems silent: check it, or pick another one with --in (parley devices lists them)"
		}
	default:
		return false
	}
	if p.json {
		b, _ := json.Marshal(v)
		fmt.Fprintf(p.w, "%s\n", harmlessJSON(b))
	} else {
		say(p.w, "%s", text)
	}
	return true
}

// deviceText says what a DeviceChanged means.
func deviceText(ev call.DeviceChanged) string {
	switch {
	case ev.Kind == call.RingDevice && ev.Device != "":
		return fmt.Sprintf("the ring device could not ring (%v): ringing on %s", ev.Err, ev.Device)
	case ev.Kind == call.RingDevice:
		return fmt.Sprintf("no speaker could ring (%v): the call rings without a sound", ev.Err)
	case ev.Lost && ev.Device != "":
		return fmt.Sprintf("the %s stopped working (%v): now using the system default, %s", ev.Kind, ev.Err, ev.Device)
	case ev.Lost:
		return fmt.Sprintf("the %s stopped working: %v", ev.Kind, ev.Err)
	case ev.Err != nil:
		return fmt.Sprintf("could not switch the %s: %v", ev.Kind, ev.Err)
	}
	return fmt.Sprintf("%s: now %s", ev.Kind, ev.Device)
}
