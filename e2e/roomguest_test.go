//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// TestRoomGuestInBrowser: alice makes room clinic with a guest link for
// Dana; alice (host, 440 Hz) and bob (member, 660 Hz) are in it with
// `parley join` on PulseAudio devices. Dana opens the link in headless
// Chromium (her microphone a fake device playing an 880 Hz tone) and waits
// in the lobby: alice and bob are told (lobby_knock), and nobody hears her
// nor she anyone. Bob lets her in with a --commands line (admit): her tone
// is then in both speakers, theirs reach her page, and the browser's offer
// and the server's answer carry the audio-level extension the server picks
// speakers by. She leaves; alice ends the room.
func TestRoomGuestInBrowser(t *testing.T) {
	pulse := pulsetest.Start(t)
	w := newWorld(t)
	const aliceHz, bobHz, danaHz = 440, 660, 880

	// Dana's microphone: Chromium's fake device plays this file in a loop.
	wav := filepath.Join(t.TempDir(), "dana.wav")
	if err := audiotest.WriteWAV(wav, audiotest.Tone(danaHz, 0.3, 10*audiotest.SampleRate), audiotest.SampleRate,
		1); err != nil {
		t.Fatal(err)
	}

	type member struct {
		user     string
		hz       float64
		mic, spk string
		env      []string
		cmds     *os.File
		p        *proc
	}
	alice, bob := &member{user: "alice", hz: aliceHz}, &member{user: "bob", hz: bobHz}
	for _, m := range []*member{alice, bob} {
		m.mic, m.spk = pulse.NullSink(t, m.user+"_mic"), pulse.NullSink(t, m.user+"_spk")
		m.env = append(pulsetest.Env(m.mic, m.spk), "PARLEY_TOKEN="+w.token(m.user))
		pulse.Loop(t, m.mic, audiotest.Tone(m.hz, 0.2, 20*audiotest.SampleRate))
	}

	out, code := w.run(alice.env, "room", "create", "clinic", "--guest", "Dana", "--json")
	var room signaling.Room
	if code != exitOK || json.Unmarshal([]byte(out), &room) != nil || len(room.Links) != 1 ||
		room.Links[0].Room != "clinic" || !strings.Contains(room.Links[0].URL, "/join/") {
		t.Fatalf("parley room create --guest: exit %d: %s", code, out)
	}
	link := room.Links[0].URL

	// The browser first: its start takes the machine's cores for a while.
	tab, _ := browser(t, wav)
	if text := bodyText(t, tab, link); !strings.Contains(text, "Room clinic") ||
		!strings.Contains(text, "You join as Dana") {
		t.Errorf("the room's guest page reads:\n%s\nwant it to name the room and Dana", text)
	}

	plain := []string{"--json", "--aec", "off", "--noise-suppression", "off", "--agc", "off"}
	for _, m := range []*member{alice, bob} {
		fifo := filepath.Join(t.TempDir(), m.user)
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not wait for the reader
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		m.cmds = f
		m.p = w.start(m.env, append([]string{"join", "clinic", "--commands", fifo}, plain...)...)
		m.p.expectRoom(t, "joined", map[string]any{"room": "clinic", "user": m.user})
	}
	act := func(m *member, line string) {
		t.Helper()
		if _, err := fmt.Fprintln(m.cmds, line); err != nil {
			t.Fatal(err)
		}
	}

	click(t, tab, "join")
	waitStatus(t, tab, "Waiting to be let in", 20*time.Second)
	var guest string
	for _, m := range []*member{alice, bob} {
		ev := m.p.expectRoom(t, "lobby_knock", map[string]any{"name": "Dana", "role": "guest"})
		guest, _ = ev["user"].(string)
	}
	if !strings.HasPrefix(guest, "guest-") {
		t.Fatalf("the knock is from %q, want a guest- id", guest)
	}

	// Waiting: the two hear each other, not Dana; her page hears nothing.
	hearMixes(t, "Dana in the lobby",
		mix{who: "alice's speaker", sink: alice.spk, present: []float64{bobHz}, absent: []float64{aliceHz, danaHz}},
		mix{who: "bob's speaker", sink: bob.spk, present: []float64{aliceHz}, absent: []float64{bobHz, danaHz}})
	silent, err := chromedp.Run(tab, chromedp.Evaluate[bool](
		`window.parley.state.phase === 'lobby' && !(window.parley.remoteTone().level > -90)`))
	if err != nil || !silent {
		t.Fatalf("in the lobby, the page is not silent (%v)", err)
	}

	act(bob, "admit "+guest)
	for _, m := range []*member{alice, bob} {
		m.p.expectRoom(t, "admitted", map[string]any{"user": guest, "by": "bob"})
		m.p.expectRoom(t, "participant_joined", map[string]any{"user": guest, "role": "guest"})
	}
	waitStatus(t, tab, "In the room", 15*time.Second)
	// Chromium's processing (noise suppression, gain) is on, as for any
	// guest; it leaves the tone whole (0.30 in most 200 ms of a member's
	// speaker), but the browser's stream comes on the browser's clock, and
	// each sample parley's jitter buffer adds or drops slips the tone's
	// phase: measured over two seconds at once it reads 0.02 to 0.30 from
	// one run to the next. The present tones are measured in 100 ms windows.
	hearMixes(t, "Dana let in",
		mix{who: "alice's speaker", sink: alice.spk, present: []float64{bobHz, danaHz}, absent: []float64{aliceHz},
			windowed: true},
		mix{who: "bob's speaker", sink: bob.spk, present: []float64{aliceHz, danaHz}, absent: []float64{bobHz},
			windowed: true})

	// Alice's and Bob's tones in the page: the strongest frequency of what
	// it receives, and its level, read every 100 ms for 2 s.
	if err := waitFor(tab, `window.parley.remoteTone().level > -40`, 10*time.Second); err != nil {
		t.Fatalf("no audio from the room reached the page: %v", err)
	}
	var levels []float64
	heard := map[float64]int{}
	for range 20 {
		tone, err := chromedp.Run(tab, chromedp.Evaluate[struct{ Hz, Db, Level float64 }](`window.parley.remoteTone()`))
		if err != nil {
			t.Fatal(err)
		}
		levels = append(levels, tone.Level)
		for _, hz := range []float64{aliceHz, bobHz} {
			if math.Abs(tone.Hz-hz) <= 15 {
				heard[hz]++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	lvl := audiotest.Median(levels)
	t.Logf("the page hears 440 Hz strongest %d times, 660 Hz %d times in 20, at %.1f dBFS (median)", heard[aliceHz],
		heard[bobHz], lvl)
	if heard[aliceHz]+heard[bobHz] < 18 || lvl < -30 {
		t.Errorf("the page's strongest tone was 440 or 660 Hz %d times in 20 at %.1f dBFS, want ≥ 18 above -30 dBFS",
			heard[aliceHz]+heard[bobHz], lvl)
	}
	sdp, err := chromedp.Run(tab, chromedp.Evaluate[struct {
		Local, Remote string
		Sent          []string
	}](`window.parley.sdp()`))
	if err != nil {
		t.Fatal(err)
	}
	// What the microphone's sender writes on each packet, as negotiated.
	if !slices.Contains(sdp.Sent, signaling.RoomAudioLevelURI) {
		t.Errorf("the browser's microphone sends the header extensions %q, want %s among them", sdp.Sent,
			signaling.RoomAudioLevelURI)
	}
	t.Logf("the browser's microphone writes %q", sdp.Sent)
	for what, s := range map[string]string{"the browser's offer": sdp.Local, "the server's answer": sdp.Remote} {
		if !strings.Contains(s, signaling.RoomAudioLevelURI) || strings.Count(s, "m=audio") != 1+signaling.RoomSlots {
			t.Errorf("%s has no %s, or not %d audio sections:\n%s", what, signaling.RoomAudioLevelURI,
				1+signaling.RoomSlots, s)
		}
	}

	click(t, tab, "hangup")
	waitStatus(t, tab, "You left the room", 10*time.Second)
	for _, m := range []*member{alice, bob} {
		m.p.expectRoom(t, "participant_left", map[string]any{"user": guest, "reason": "left"})
	}
	act(alice, "end")
	for _, m := range []*member{alice, bob} {
		m.p.expectRoom(t, "room_ended", map[string]any{"reason": "ended by host"})
		if code := m.p.wait(t); code != exitOK {
			t.Errorf("%s's parley join exited %d after the room ended, want 0", m.user, code)
		}
		if s := m.p.stderr.String(); s != "" {
			t.Errorf("%s's parley join wrote to stderr: %q", m.user, s)
		}
	}
}
