package cli

import (
	"testing"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/config"
)

// TestAECFlag: --aec names the echo canceller (which turns it on) or turns
// it on or off; without it, the config's echo_canceller stands.
func TestAECFlag(t *testing.T) {
	off := false
	for _, c := range []struct {
		flag string
		cfg  config.Config
		want call.Processing
	}{
		{"", config.Config{}, call.DefaultProcessing},
		{"webrtc", config.Config{}, call.Processing{EchoCancellation: true, NoiseSuppression: true, AutoGain: true,
			Canceller: audio.WebRTC}},
		{"speex", config.Config{AEC: &off, EchoCanceller: "webrtc"}, call.Processing{EchoCancellation: true,
			NoiseSuppression: true, AutoGain: true, Canceller: audio.Speex}},
		{"", config.Config{EchoCanceller: "webrtc"}, call.Processing{EchoCancellation: true, NoiseSuppression: true,
			AutoGain: true, Canceller: audio.WebRTC}},
		{"off", config.Config{EchoCanceller: "webrtc"}, call.Processing{NoiseSuppression: true, AutoGain: true,
			Canceller: audio.WebRTC}},
	} {
		var f audioFlags
		if c.flag != "" {
			if err := f.aec.Set(c.flag); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.processing(c.cfg, call.DefaultProcessing); got != c.want {
			t.Errorf("--aec %q, config %+v: %+v, want %+v", c.flag, c.cfg, got, c.want)
		}
	}
	var f audioFlags
	if err := f.aec.Set("maybe"); err == nil {
		t.Error("--aec maybe accepted")
	}
}
