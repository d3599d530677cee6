package devices

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
)

func TestPick(t *testing.T) {
	for _, tc := range []struct{ flag, saved, want string }{
		{"tone:440", "USB mic", "tone:440"},
		{"", "USB mic", "USB mic"},
		{"", "", "default"},
	} {
		if got := Pick(tc.flag, tc.saved); got != tc.want {
			t.Errorf("Pick(%q, %q) = %q, want %q", tc.flag, tc.saved, got, tc.want)
		}
	}
}

// switches records what a Manager asks of the phone in a call.
type switches struct {
	mic, speaker []bool
	proc         []call.Processing
}

func (s *switches) SwitchDevices(mic, speaker bool) {
	s.mic, s.speaker = append(s.mic, mic), append(s.speaker, speaker)
}
func (s *switches) SetProcessing(p call.Processing)            { s.proc = append(s.proc, p) }
func (s *switches) DevicePluggedIn(kind, device, label string) {}
func (s *switches) DeviceUnplugged(kind, label string)         {}

// TestManager: generated sources and sinks open without the sound system;
// no ring device apart from the output means none; a choice applies to the
// call in progress (only what changed) and is saved, and so is the
// processing.
func TestManager(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	m := New(Options{Input: "tone:440", Output: "null", Ring: "null", ConfigPath: path})
	defer m.Close()
	src, err := m.OpenSource(audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	sink, err := m.OpenSink(audio.FrameSamples)
	if err != nil {
		t.Fatal(err)
	}
	sink.Close()
	if ring, ok, err := m.OpenRing(audio.FrameSamples); ring != nil || ok || err != nil {
		t.Errorf("OpenRing with the ring device the output: %v %v %v, want nothing", ring, ok, err)
	}
	if m.sys != nil {
		t.Errorf("the sound system was started for generated audio")
	}

	var ph switches
	m.Attach(&ph)
	if err := m.Choose("tone:440", "file:"+filepath.Join(t.TempDir(), "out.wav")); err != nil {
		t.Fatal(err)
	}
	if len(ph.mic) != 1 || ph.mic[0] || !ph.speaker[0] {
		t.Errorf("a new output: the phone switched mic %v, speaker %v; want the speaker alone", ph.mic, ph.speaker)
	}
	if err := m.Choose(m.Current()); err != nil {
		t.Fatal(err)
	}
	if len(ph.mic) != 1 {
		t.Errorf("the same choice again switched devices: %v %v", ph.mic, ph.speaker)
	}
	p := call.Processing{EchoCancellation: true, AutoGain: true}
	if err := m.SetProcessing(p); err != nil {
		t.Fatal(err)
	}
	if len(ph.proc) != 1 || ph.proc[0] != p || m.Processing() != p {
		t.Errorf("SetProcessing(%+v): the phone got %+v, Processing() = %+v", p, ph.proc, m.Processing())
	}
	saved, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	in, out := m.Current()
	if saved.Input != in || saved.Output != out || saved.AEC == nil || !*saved.AEC || saved.NoiseSuppression == nil ||
		*saved.NoiseSuppression || saved.AGC == nil || !*saved.AGC {
		t.Errorf("saved input %q output %q aec %v ns %v agc %v; want %q, %q, on, off, on",
			saved.Input, saved.Output, saved.AEC, saved.NoiseSuppression, saved.AGC, in, out)
	}
}

// TestCheckSpecs: what is wrong with a source or sink spec is found
// without opening a device or creating a file; device names pass (they are
// checked when opened).
func TestCheckSpecs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		check func(string) error
		spec  string
		want  string // what the error says; "" for none
	}{
		{CheckSource, "default", ""},
		{CheckSource, "USB mic", ""},
		{CheckSource, "tone:440", ""},
		{CheckSource, "silence", ""},
		{CheckSource, "tone:abc", `audio: bad spec: source "tone:abc": tone:HZ needs a frequency`},
		{CheckSource, "null", `audio: bad spec: source "null": null is a sink; use silence`},
		{CheckSource, "file:" + dir + "/missing.wav", "missing.wav: no such file or directory"},
		{CheckSink, "default", ""},
		{CheckSink, "null", ""},
		{CheckSink, "file:" + dir + "/out.wav", ""},
		{CheckSink, "file:" + dir + "/no/out.wav", `devices: sink "file:` + dir + `/no/out.wav": stat ` + dir +
			"/no: no such file or directory"},
		{CheckSink, "silence", `audio: bad spec: sink "silence": that is a source`},
		{CheckSink, "file:", `audio: bad spec: sink "file:": file: needs a path`},
	} {
		err := tc.check(tc.spec)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.spec, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.wav")); err == nil {
		t.Error("CheckSink created the file")
	}
}
