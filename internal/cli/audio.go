package cli

import (
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

// aecFlag is --aec: on or off like onOff, or the name of an echo canceller
// (which turns it on).
type aecFlag struct {
	onOff
	canceller audio.Canceller // "" unless named
}

func (a *aecFlag) Set(s string) error {
	for _, c := range audio.Cancellers() {
		if strings.EqualFold(s, string(c)) {
			a.set, a.on, a.canceller = true, true, c
			return nil
		}
	}
	if err := a.onOff.Set(s); err != nil {
		return fmt.Errorf("%q: use on, off, speex or webrtc", s)
	}
	return nil
}

func (a *aecFlag) String() string {
	if a.canceller != "" {
		return string(a.canceller)
	}
	return a.onOff.String()
}

func (a *aecFlag) Type() string { return "on|off|speex|webrtc" }

// audioFlags are the microphone processing flags of call, answer, demo and
// echo, and the speaker's latency.
type audioFlags struct {
	aec        aecFlag
	ns, agc    onOff
	outLatency time.Duration // --output-latency; 0: not given
}

// register adds the flags to c; off says that they default to off (the
// echo service) rather than to the config's setting, else on.
func (f *audioFlags) register(c *cobra.Command, off bool) {
	def := func(key string) string {
		if off {
			return " (default off: the echo returns what it hears)"
		}
		return " (default: the config's " + key + ", else on)"
	}
	c.Flags().Var(&f.aec, "aec", "echo cancellation: take out of your microphone what your speaker plays, so "+
		"that the other side does not hear itself; off with headphones; on is webrtc, which follows a "+
		"microphone and speaker that are separate devices (a USB microphone, a Bluetooth headset); speex for "+
		"a laptop's own, to be heard better while both talk"+
		def("aec"))
	c.Flags().Var(&f.ns, "noise-suppression", "noise suppression: take steady background noise (fans, hum) "+
		"out of your microphone"+def("noise_suppression"))
	c.Flags().Var(&f.agc, "agc", "automatic gain control: bring your microphone to an even level, louder when "+
		"you are far or quiet"+def("agc"))
	c.Flags().DurationVar(&f.outLatency, "output-latency", 0,
		"the speaker's device latency to start with, such as 40ms (default: the config's output_latency, "+
			"else the device's lowest); it grows when the device runs dry")
}

// outputLatency is the speaker latency the flag, else the config, asks for.
func (f *audioFlags) outputLatency(cfg config.Config) (time.Duration, error) {
	if f.outLatency != 0 {
		if f.outLatency < 0 || f.outLatency > config.MaxOutputLatency {
			return 0, fmt.Errorf("--output-latency %v: give a duration from 0 to %v, such as 40ms",
				f.outLatency, config.MaxOutputLatency)
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
	}{{&f.aec.onOff, &p.EchoCancellation}, {&f.ns, &p.NoiseSuppression}, {&f.agc, &p.AutoGain}} {
		if o.flag.set {
			*o.dst = o.flag.on
		}
	}
	if f.aec.canceller != "" {
		p.Canceller = f.aec.canceller
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
	if cfg.EchoCanceller != "" {
		p.Canceller = audio.Canceller(cfg.EchoCanceller)
	}
	return p
}
