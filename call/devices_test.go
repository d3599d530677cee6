//go:build e2e

package call_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	devmanager "github.com/parley-voice/parley/internal/devices"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server"
)

// These tests give a phone real devices: PortAudio streams on a PulseAudio
// daemon of the test's own, whose null sinks are speakers (recorded from
// their monitors) and, with a sine played into them, microphones (their
// monitors hear the tone).

// pulseDevices opens real devices through PortAudio's ALSA "default"
// device. ALSA's pulse plugin takes the source and the sink a stream uses
// from PULSE_SOURCE and PULSE_SINK when it opens; open sets the one it
// needs to the device the test picked (use), as a user picks a device, and
// the fallbacks to the daemon's defaults unset it. The other stays as it
// was: a speaker that opens its device again with more latency (after it
// ran dry) reads PULSE_SINK then, and must find its own sink there. It is
// call.Devices, call.RingDevices and call.FallbackDevices.
type pulseDevices struct {
	sys *audio.System

	mu sync.Mutex // held while opening, as the environment is the process's
	// mic and spk are the sinks whose monitor is the microphone, and the
	// speaker; "": a 440 Hz tone generator, a sink that discards.
	mic, spk string
	ring     string // the ringtone's sink; "": the speaker
}

func newPulseDevices(t *testing.T, pulse *pulsetest.Pulse, mic, spk string) *pulseDevices {
	t.Helper()
	t.Setenv("PULSE_SERVER", pulse.Server())
	// Restored when the test ends; set for each stream as it opens.
	t.Setenv("PULSE_SOURCE", "")
	t.Setenv("PULSE_SINK", "")
	sys, err := audio.NewSystem(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	return &pulseDevices{sys: sys, mic: mic, spk: spk}
}

// use picks the microphone and the speaker the next opens take.
func (d *pulseDevices) use(mic, spk string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mic, d.spk = mic, spk
}

// routed runs open with the environment variable key (PULSE_SOURCE or
// PULSE_SINK) set to device, or unset if "": the daemon's default.
func routed(key, device string, open func() error) error {
	var err error
	if device == "" {
		err = os.Unsetenv(key)
	} else {
		err = os.Setenv(key, device)
	}
	if err != nil {
		return err
	}
	return open()
}

func (d *pulseDevices) OpenSource(n int) (src audio.Source, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mic == "" {
		return audio.NewTone(440, 0.5, n), nil
	}
	err = routed("PULSE_SOURCE", pulsetest.Monitor(d.mic), func() (err error) {
		src, err = d.sys.OpenMic("default", n)
		return
	})
	return src, err
}

func (d *pulseDevices) OpenSink(n int) (sink audio.Sink, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.spk == "" {
		return audio.NewNullSink(), nil
	}
	err = routed("PULSE_SINK", d.spk, func() (err error) { sink, err = d.sys.OpenSpeaker("default", n); return })
	return sink, err
}

func (d *pulseDevices) OpenRing(n int) (sink audio.Sink, ok bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ring == "" {
		return nil, false, nil
	}
	err = routed("PULSE_SINK", d.ring, func() (err error) { sink, err = d.sys.OpenSpeaker("default", n); return })
	return sink, err == nil, err
}

func (d *pulseDevices) OpenDefaultSource(n int) (src audio.Source, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err = routed("PULSE_SOURCE", "", func() (err error) { src, err = d.sys.OpenMic("default", n); return })
	return src, err
}

func (d *pulseDevices) OpenDefaultSink(n int) (sink audio.Sink, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err = routed("PULSE_SINK", "", func() (err error) { sink, err = d.sys.OpenSpeaker("default", n); return })
	return sink, err
}

var (
	_ call.RingDevices     = (*pulseDevices)(nil)
	_ call.FallbackDevices = (*pulseDevices)(nil)
)

// phoneOn signs user in with the devices d.
func (r *rig) phoneOn(user string, d call.Devices, change func(*call.Config)) *party {
	r.t.Helper()
	return r.phoneWith(user, devices{}, func(c *call.Config) {
		c.Devices = d
		change(c)
	})
}

// playsTone waits until sink plays a steady tone at hz
// (pulsetest.SteadyTone) and fails the test if it does not within 15 s. A
// speaker that has just been opened may run dry on a loaded machine and
// open its device again with more latency (see audio.System.OpenSpeaker),
// a skip each time, before it settles.
func playsTone(t *testing.T, pulse *pulsetest.Pulse, what, sink string, hz float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	_, got, err := pulse.SteadyTone(ctx, sink, hz)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %s, %v after it was asked", what, got, time.Since(start).Round(time.Millisecond))
}

// playing records what sink plays for d, from after in on: a stream that
// has just started, or moved, settles meanwhile.
func playing(t *testing.T, pulse *pulsetest.Pulse, sink string, after, d time.Duration) []int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), after+d+10*time.Second)
	defer cancel()
	skip := int(after * audio.SampleRate / time.Second)
	s, err := pulse.RecordN(ctx, pulsetest.Monitor(sink), skip+int(d*audio.SampleRate/time.Second))
	if err != nil {
		t.Fatalf("record %s: %v", sink, err)
	}
	return s[skip:]
}

// wantSilence checks that s is silent.
func wantSilence(t *testing.T, what string, s []int16) {
	t.Helper()
	if lvl := audiotest.DBFS(s); lvl > -60 {
		t.Errorf("%s: %.1f dBFS, want silence (≤ -60)", what, lvl)
	}
}

// hears waits until the last quarter second rec has is a tone at hz and
// returns how long that took, failing after limit. Then it waits, up to
// 10 s more, for the tone to be steady: the last second passes
// audiotest.SteadyTone, judged every quarter second (the jitter buffer
// settles after a change, and a path on a loaded machine may skip).
func hears(t *testing.T, rec *audiotest.Recorder, hz float64, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	const window = audio.SampleRate / 4
	for {
		n := rec.Len()
		if err := rec.Wait(ctx, n+audio.FrameSamples); err != nil {
			s := rec.Samples()
			t.Fatalf("no %.0f Hz within %v (the last quarter second: %.1f Hz): %v", hz, limit,
				audiotest.DominantFrequency(s[max(0, len(s)-window):]), err)
		}
		if s := rec.Samples(); len(s) >= window {
			if f := audiotest.DominantFrequency(s[len(s)-window:]); f > hz-5 && f < hz+5 {
				took := time.Since(start)
				steady(t, rec, hz, len(s))
				return took
			}
		}
	}
}

// steady waits until the last second rec has, from sample from on, is a
// steady tone at hz, judged every quarter second; it fails after 10 s.
func steady(t *testing.T, rec *audiotest.Recorder, hz float64, from int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last := "nothing"
	for n := from + audio.SampleRate; ; n += audio.SampleRate / 4 {
		if err := rec.Wait(ctx, n); err != nil {
			t.Fatalf("%.0f Hz heard, but not steady within 10 s; the last second: %s", hz, last)
		}
		s := rec.Samples()
		ok, found := audiotest.SteadyTone(s[len(s)-audio.SampleRate:], hz)
		if ok {
			t.Logf("%.0f Hz heard: %s, judged over the second to %v after it was first heard", hz, found,
				time.Duration(len(s)-from)*time.Second/audio.SampleRate)
			return
		}
		last = found
	}
}

// device returns the next DeviceChanged of kind; a status change on the
// way means the call did not go on, which fails the test.
func (p *party) device(kind string) call.DeviceChanged {
	p.t.Helper()
	for {
		switch ev := p.next().(type) {
		case call.DeviceChanged:
			if ev.Kind != kind {
				p.t.Fatalf("%s: %+v, want a change of the %s", p.name, ev, kind)
			}
			return ev
		case call.StatusChanged, call.Failure:
			p.t.Fatalf("%s: %#v while waiting for the %s to change: the call did not go on", p.name, ev, kind)
		}
	}
}

// TestSwitchDevicesMidCall: during a call Alice picks another microphone
// and another speaker. The call goes on: Bob hears the new microphone's
// tone instead of the old one's, Bob's voice comes out of the new speaker
// and no longer out of the old one, and both can hang up as usual.
func TestSwitchDevicesMidCall(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	mic1, mic2 := pulse.NullSink(t, "mic1"), pulse.NullSink(t, "mic2")
	pulse.Sine(t, mic1, 440)
	pulse.Sine(t, mic2, 880)
	spk1, spk2 := pulse.NullSink(t, "spk1"), pulse.NullSink(t, "spk2")
	devs := newPulseDevices(t, pulse, mic1, spk1)
	r := newRig(t, server.Config{})
	recB := audiotest.NewRecorder(true)
	alice := r.phoneOn("alice", devs, func(*call.Config) {})
	bob := r.phone("bob", devices{tone(660), record(recB)})
	connect(alice, bob)

	hears(t, recB, 440, 10*time.Second)
	playsTone(t, pulse, "Alice's first speaker", spk1, 660)

	devs.use(mic2, spk2)
	alice.ph.SwitchDevices(true, true)
	for _, kind := range []string{call.Microphone, call.Speaker} {
		if ev := alice.device(kind); ev.Err != nil || ev.Lost || ev.Device == "" {
			t.Errorf("switching the %s: %+v, want the new device and no error", kind, ev)
		}
	}
	took := hears(t, recB, 880, 5*time.Second)
	t.Logf("Bob hears the new microphone %v after the switch", took.Round(time.Millisecond))
	playsTone(t, pulse, "Alice's second speaker", spk2, 660)
	wantSilence(t, "Alice's first speaker after the switch", playing(t, pulse, spk1, time.Second/2, time.Second/2))
	hangup(alice, bob)
}

// TestDeviceUnplugged: the only speaker (or microphone) Alice has goes away
// mid-call, with nothing for PulseAudio to move the stream to. The phone
// says so (DeviceChanged, Lost, no default to go to) and the call goes on;
// when another device appears and becomes the default, the phone takes it
// up and says so, and audio flows through it.
func TestDeviceUnplugged(t *testing.T) {
	t.Run("speaker", func(t *testing.T) {
		pulse := pulsetest.StartPrivate(t)
		spk1 := pulse.NullSink(t, "spk1") // the only sink
		devs := newPulseDevices(t, pulse, "", spk1)
		r := newRig(t, server.Config{})
		recB := audiotest.NewRecorder(true)
		alice := r.phoneOn("alice", devs, func(*call.Config) {})
		bob := r.phone("bob", devices{tone(660), record(recB)})
		connect(alice, bob)
		playsTone(t, pulse, "Alice's speaker", spk1, 660)

		unplug(t, alice, call.Speaker, func() { pulse.Unload(t, spk1) })
		var spk2 string
		plugIn(t, alice, call.Speaker, func() { spk2 = pulse.NullSink(t, "spk2") }) // the only sink: the default
		// The jitter buffer plays out the delay that built up while nothing
		// took its audio, a little faster, for a second or two.
		playsTone(t, pulse, "the new speaker", spk2, 660)
		hears(t, recB, 440, 5*time.Second) // Alice's voice went on all along
		hangup(alice, bob)
	})
	t.Run("microphone", func(t *testing.T) {
		pulse := pulsetest.StartPrivate(t)
		mic1 := pulse.NullSink(t, "mic1") // the only sink, and its monitor the only source
		pulse.Sine(t, mic1, 440)
		devs := newPulseDevices(t, pulse, mic1, "")
		r := newRig(t, server.Config{})
		recB := audiotest.NewRecorder(true)
		alice := r.phoneOn("alice", devs, func(*call.Config) {})
		bob := r.phone("bob", devices{tone(660), record(recB)})
		connect(alice, bob)
		hears(t, recB, 440, 10*time.Second)

		unplug(t, alice, call.Microphone, func() { pulse.Unload(t, mic1) })
		plugIn(t, alice, call.Microphone, func() {
			mic2 := pulse.NullSink(t, "mic2")
			pulse.Sine(t, mic2, 880)
			out, err := pulse.Command("pactl", "set-default-source", pulsetest.Monitor(mic2)).CombinedOutput()
			if err != nil {
				t.Fatalf("set-default-source: %v: %s", err, out)
			}
		})
		took := hears(t, recB, 880, 5*time.Second)
		t.Logf("Bob hears the new microphone %v after the phone took it up", took.Round(time.Millisecond))
		hangup(alice, bob)
	})
}

// unplug runs remove, which takes away the device of kind that p uses and
// any it could fall back to, and checks that p says so.
func unplug(t *testing.T, p *party, kind string, remove func()) {
	t.Helper()
	at := time.Now()
	remove()
	ev := p.device(kind)
	t.Logf("%v after the %s went: %+v", time.Since(at).Round(time.Millisecond), kind, ev)
	if !ev.Lost || ev.Err == nil || ev.Device != "" {
		t.Errorf("the %s went with nothing to replace it: %+v, want Lost with an error and no device", kind, ev)
	}
}

// plugIn runs add, which makes a new default device of kind, and checks
// that p takes it up and says so.
func plugIn(t *testing.T, p *party, kind string, add func()) {
	t.Helper()
	add()
	at := time.Now()
	ev := p.device(kind)
	t.Logf("%v after another %s came: %+v", time.Since(at).Round(time.Millisecond), kind, ev)
	if !ev.Lost || ev.Device == "" {
		t.Errorf("another %s came: %+v, want Lost with the device now in use", kind, ev)
	}
}

// ringBob gives Bob a speaker and a ring device (gone: unplugged since he
// set it) and a 1000 Hz ringtone, and has Alice call him; it returns once
// both see the call started.
func ringBob(t *testing.T, gone bool) (pulse *pulsetest.Pulse, spk, ring string, alice, bob *party) {
	t.Helper()
	pulse = pulsetest.StartPrivate(t)
	spk, ring = pulse.NullSink(t, "spk"), pulse.NullSink(t, "ring")
	if gone {
		pulse.Unload(t, ring)
	}
	devs := newPulseDevices(t, pulse, "", spk)
	devs.ring = ring
	r := newRig(t, server.Config{})
	alice = r.phone("alice", devices{tone(660), null})
	bob = r.phoneOn("bob", devs, func(c *call.Config) {
		c.Sounds = call.Sounds{Ringtone: audiotest.Tone(1000, 0.5, audio.SampleRate)}
	})
	alice.ph.Dial("bob")
	alice.status(signaling.Started)
	bob.status(signaling.Started)
	return pulse, spk, ring, alice, bob
}

// TestRingDevice: Bob's ringtone plays on his ring device and not on his
// speaker; once he answers, Alice's voice comes out of the speaker and the
// ring device falls silent.
func TestRingDevice(t *testing.T) {
	pulse, spk, ring, alice, bob := ringBob(t, false)
	alice.status(signaling.Ringing)
	bob.status(signaling.Ringing)
	playsTone(t, pulse, "Bob's ring device while it rings", ring, 1000)
	wantSilence(t, "Bob's speaker while it rings", playing(t, pulse, spk, time.Second/2, time.Second/2))

	bob.ph.Answer()
	alice.status(signaling.Answered)
	bob.status(signaling.Answered)
	// The speaker opens at the answer; Alice's voice reaches it once
	// media flows.
	playsTone(t, pulse, "Bob's speaker after the answer", spk, 660)
	wantSilence(t, "Bob's ring device after the answer", playing(t, pulse, ring, time.Second/2, time.Second/2))
	hangup(alice, bob)
}

// TestRingDeviceGone: Bob's ring device is gone (unplugged since he set
// it). An incoming call still rings, on his speaker, and the phone says
// why; once he answers, Alice's voice comes out of the speaker.
func TestRingDeviceGone(t *testing.T) {
	pulse, spk, _, alice, bob := ringBob(t, true)
	ev, ok := bob.next().(call.DeviceChanged)
	if !ok || ev.Kind != call.RingDevice || ev.Err == nil || ev.Device == "" {
		t.Fatalf("bob: %+v, want the ring device's failure and the speaker it rings on instead", ev)
	}
	t.Logf("bob's ring device: %v; rings on %s", ev.Err, ev.Device)
	alice.status(signaling.Ringing)
	bob.status(signaling.Ringing)
	playsTone(t, pulse, "Bob's speaker while it rings", spk, 1000)

	bob.ph.Answer()
	alice.status(signaling.Answered)
	bob.status(signaling.Answered)
	// The speaker plays the ringtone out, then Alice's voice.
	playsTone(t, pulse, "Bob's speaker after the answer", spk, 660)
	hangup(alice, bob)
}

// TestSilentMicrophoneWarning: Alice's microphone goes dead (its source is
// muted at the sound server, so it delivers zeros). Unmuted, the phone
// warns after 5 s and takes the warning back as soon as sound returns;
// while Alice is muted in the call there is no warning, and one comes 5 s
// after she unmutes if the microphone is still dead.
func TestSilentMicrophoneWarning(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	mic := pulse.NullSink(t, "mic")
	pulse.Sine(t, mic, 440)
	devs := newPulseDevices(t, pulse, mic, "")
	r := newRig(t, server.Config{})
	alice := r.phoneOn("alice", devs, func(*call.Config) {})
	bob := r.phone("bob", devices{tone(660), null})
	connect(alice, bob)
	deaf := func(dead bool) {
		t.Helper()
		v := "0"
		if dead {
			v = "1"
		}
		out, err := pulse.Command("pactl", "set-source-mute", pulsetest.Monitor(mic), v).CombinedOutput()
		if err != nil {
			t.Fatalf("mute %s: %v: %s", pulsetest.Monitor(mic), err, out)
		}
	}
	// warning waits for Alice's next MicWarning and returns it with when
	// it came.
	warning := func() (call.MicWarning, time.Time) {
		t.Helper()
		for {
			switch ev := alice.next().(type) {
			case call.MicWarning:
				return ev, time.Now()
			case call.Muted:
			default:
				t.Fatalf("alice: %#v, want a microphone warning", ev)
			}
		}
	}

	dead := time.Now()
	deaf(true)
	w, at := warning()
	t.Logf("dead microphone: warning %+v after %v", w, at.Sub(dead).Round(time.Millisecond))
	if !w.Raised || at.Sub(dead) < call.MicSilentAfter || at.Sub(dead) > call.MicSilentAfter+1500*time.Millisecond {
		t.Errorf("warning %+v %v after the microphone went dead, want raised after %v (+1.5 s)",
			w, at.Sub(dead), call.MicSilentAfter)
	}
	alive := time.Now()
	deaf(false)
	w, at = warning()
	t.Logf("sound again: %+v after %v", w, at.Sub(alive).Round(time.Millisecond))
	if w.Raised || at.Sub(alive) > time.Second {
		t.Errorf("warning %+v %v after sound returned, want cleared within 1 s", w, at.Sub(alive))
	}

	// Muted in the call, a dead microphone is nobody's concern.
	alice.ph.SetMuted(true)
	if ev, ok := bob.next().(call.Muted); !ok || ev.Local || !ev.Muted {
		t.Fatalf("bob: %#v, want Alice muted", ev)
	}
	deaf(true)
	quiet := time.After(call.MicSilentAfter + 2*time.Second)
	for waiting := true; waiting; {
		select {
		case ev := <-alice.ph.Events():
			if w, ok := ev.(call.MicWarning); ok {
				t.Fatalf("muted: %+v, want no warning", w)
			}
		case <-quiet:
			waiting = false
		}
	}
	unmuted := time.Now()
	alice.ph.SetMuted(false)
	if ev, ok := bob.next().(call.Muted); !ok || ev.Local || ev.Muted {
		t.Fatalf("bob: %#v, want Alice unmuted", ev)
	}
	w, at = warning()
	t.Logf("unmuted with the microphone still dead: %+v after %v", w, at.Sub(unmuted).Round(time.Millisecond))
	if !w.Raised || at.Sub(unmuted) < call.MicSilentAfter-time.Second {
		t.Errorf("warning %+v %v after unmuting, want raised after about %v", w, at.Sub(unmuted), call.MicSilentAfter)
	}
	deaf(false)
	if w, _ = warning(); w.Raised {
		t.Errorf("sound again: %+v, want the warning cleared", w)
	}
	hangup(alice, bob)
}

// TestHeadsetPluggedInAndOut: Alice is in a call on the built-in speaker
// (the sound server's default) when she plugs in a headset (a null sink
// loaded, described as one): her phone hears of it within 2 s, she moves
// the call to it by the name it came with, and Bob's voice plays there.
// When she unplugs it (the sink unloaded), the call moves to the default
// without dropping: still answered, Bob's voice on the built-in speaker
// again, and the phone says so. The devices are the Manager parley's UI
// uses, which opens the headset by name through ALSA's PulseAudio plugin
// and watches the sound server.
func TestHeadsetPluggedInAndOut(t *testing.T) {
	pulse := pulsetest.StartPrivate(t)
	builtin := pulse.DescribedSink(t, "builtin", "Built-in Audio Analog Stereo")
	if _, err := pulse.Pactl(context.Background(), "set-default-sink", builtin); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULSE_SERVER", pulse.Server())
	t.Setenv("PULSE_SINK", "")
	if err := os.Unsetenv("PULSE_SINK"); err != nil { // the daemon's default
		t.Fatal(err)
	}
	devs := devmanager.New(devmanager.Options{Input: "tone:440", Output: "default",
		ConfigPath: filepath.Join(t.TempDir(), "config.json")})
	t.Cleanup(func() { devs.Close() })
	r := newRig(t, server.Config{})
	alice := r.phoneOn("alice", devs, func(*call.Config) {})
	devs.Attach(alice.ph)
	devs.Watch(context.Background())
	bob := r.phone("bob", devices{tone(660), record(audiotest.NewRecorder(true))})
	connect(alice, bob)
	playsTone(t, pulse, "the built-in speaker", builtin, 660)

	var headset string
	plugged := time.Now()
	for headset == "" { // Watch subscribes in the background: a sink loaded before is in its first list
		name := pulse.DescribedSink(t, "headset", "USB Headset Analog Stereo")
		if ev, ok := alice.plugged(2 * time.Second); ok {
			if ev.Device != name || ev.Label != "USB Headset Analog Stereo" || ev.Kind != call.Speaker {
				t.Fatalf("plugged in %s: %+v", name, ev)
			}
			headset = name
		}
		if headset == "" {
			plugged = time.Now()
		}
	}
	took := time.Since(plugged)
	t.Logf("the headset was reported %v after it was plugged in", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the headset was reported %v after it was plugged in, want within 2 s", took)
	}

	if err := devs.Choose("tone:440", headset); err != nil { // as the picker does
		t.Fatal(err)
	}
	if ev := alice.device(call.Speaker); ev.Device != "USB Headset Analog Stereo" || ev.Err != nil {
		t.Fatalf("moved to the headset: %+v", ev)
	}
	playsTone(t, pulse, "the headset", headset, 660)

	unplugged := time.Now()
	pulse.Unload(t, headset)
	ev := alice.device(call.Speaker)
	t.Logf("%v after the headset was unplugged: %+v", time.Since(unplugged).Round(time.Millisecond), ev)
	if !ev.Lost || ev.Device != "default" {
		t.Errorf("the headset unplugged: %+v, want Lost, on the default", ev)
	}
	playsTone(t, pulse, "the built-in speaker, after the headset", builtin, 660)
	t.Logf("Bob's voice plays on the built-in speaker %v after the headset was unplugged",
		time.Since(unplugged).Round(time.Millisecond))
	hangup(alice, bob) // the call was still answered
}

// plugged returns the next DevicePlugged, if one comes within d; a status
// change on the way fails the test.
func (p *party) plugged(d time.Duration) (call.DevicePlugged, bool) {
	p.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-p.ph.Events():
			if !ok {
				p.t.Fatalf("%s: the phone closed", p.name)
			}
			switch ev := ev.(type) {
			case call.DevicePlugged:
				return ev, true
			case call.StatusChanged, call.Failure:
				p.t.Fatalf("%s: %#v while waiting for a device: the call did not go on", p.name, ev)
			}
		case <-timeout:
			return call.DevicePlugged{}, false
		}
	}
}
