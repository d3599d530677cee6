package call_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/roomtest"
	"github.com/parley-voice/parley/signaling"
)

// phases is a source that plays a loud tone, then silence, then the tone
// again, each for the given number of frames (the last for ever).
type phases struct {
	hz      float64
	loud    int
	silent  int
	n, pos  int
	closed  chan struct{}
	closeMu sync.Once
	clock   *time.Ticker
}

func (p *phases) Read(frame []int16) error {
	select {
	case <-p.closed:
		return audio.ErrClosed
	case <-p.clock.C:
	}
	if p.n >= p.loud && p.n < p.loud+p.silent {
		clear(frame)
	} else {
		for i := range frame {
			frame[i] = roomtest.Sine(p.hz, 0.5, p.pos)
			p.pos++
		}
	}
	p.n++
	return nil
}

func (p *phases) Close() error {
	p.closeMu.Do(func() { close(p.closed); p.clock.Stop() })
	return nil
}

// nextRoom waits for the next event that is neither levels nor stats.
func nextRoom(t *testing.T, ph *call.Phone) call.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				t.Fatal("the phone stopped")
			}
			switch ev.(type) {
			case call.Levels, call.RoomLevels, call.Stats, call.RoomStats:
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event within 15 s")
		}
	}
}

func roomChanged(t *testing.T, ph *call.Phone, kind signaling.RoomEventKind) call.RoomChanged {
	t.Helper()
	ev := nextRoom(t, ph)
	rc, ok := ev.(call.RoomChanged)
	if !ok || rc.Kind != kind {
		t.Fatalf("got %#v, want room event %s", ev, kind)
	}
	return rc
}

// The room's side is played by internal/roomtest until the server has
// rooms: its signaling and a real Pion peer answering as the room's node.

// TestRoomMedia joins a room whose node is an in-process Pion peer: the
// offer has the layout of signaling.RoomSlots with every candidate in it;
// the packets sent carry the RFC 6464 level (a tone at half scale: 9
// -dBov with the voice bit; silence and a host mute: 127 without it); the
// three slots' tones are all heard, at their level, mixed; a slot whose
// speaker changes keeps playing, the new voice in place of the old; the
// "speaking" slots turn into per-user levels; a host mute is followed and
// unmuting it is refused (80802); a removal ends the room here.
func TestRoomMedia(t *testing.T) {
	stub := roomtest.NewSignaling(t, "alice")
	rec := audiotest.NewRecorder(true)
	src := &phases{hz: 440, loud: 40, silent: 40, closed: make(chan struct{})}
	d := devices{
		source: func(int) (audio.Source, error) { src.clock = time.NewTicker(audio.FrameDuration); return src, nil },
		sink:   record(rec),
	}
	ph, err := call.Start(context.Background(), call.Config{Server: stub.URL, Token: "t", Devices: d})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	if _, ok := nextRoom(t, ph).(call.Connected); !ok {
		t.Fatal("not connected first")
	}

	ph.JoinRoom("standup", call.RoomOptions{})
	join := stub.Expect(signaling.TypeRoomJoin)
	if join.Room != "standup" || join.ListenOnly || join.Muted != nil {
		t.Fatalf("room_join %+v", join)
	}
	if n := strings.Count(join.SDP, "m=audio"); n != 1+signaling.RoomSlots {
		t.Errorf("the offer has %d audio sections, want %d", n, 1+signaling.RoomSlots)
	}
	for _, want := range []string{"a=sendonly", "a=recvonly", "a=candidate:", signaling.RoomAudioLevelURI,
		"a=end-of-candidates"} {
		if !strings.Contains(join.SDP, want) {
			t.Errorf("the offer lacks %q:\n%s", want, join.SDP)
		}
	}
	slots := [signaling.RoomSlots]int64{600, 1000, 1500}
	node, answer := roomtest.NewNode(t, join.SDP, slots)
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice", Role: signaling.RoleHost,
		Participants: []signaling.Participant{{User: "alice", Role: signaling.RoleHost}}}, answer)
	if rc := roomChanged(t, ph, signaling.RoomJoined); rc.User != "alice" || rc.Role != signaling.RoleHost {
		t.Fatalf("joined %+v", rc)
	}
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomSpeaking, Room: "standup", Slots: []string{"bob", "carol",
		"dave"}}, "")
	roomChanged(t, ph, signaling.RoomSpeaking)

	// Per-user levels: each of the three heard at roomtest.SlotAmp (0.2 peak, -17
	// dBFS RMS: 0.72 on Levels' scale).
	heard := false
	for deadline := time.After(10 * time.Second); !heard; {
		select {
		case ev := <-ph.Events():
			lv, ok := ev.(call.RoomLevels)
			if !ok || len(lv.Heard) != 3 {
				continue
			}
			heard = true
			for _, u := range []string{"bob", "carol", "dave"} {
				if l := lv.Heard[u]; l < 0.6 || l > 0.8 {
					heard = false
				}
			}
			if heard {
				t.Logf("levels heard: %v", lv.Heard)
			}
		case <-deadline:
			t.Fatal("no RoomLevels with bob, carol and dave each at 0.6..0.8 within 10 s")
		}
	}

	// The mix: a second of the speaker has each tone at its amplitude.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Wait(ctx, rec.Len()+audio.SampleRate); err != nil {
		t.Fatal(err)
	}
	mix := rec.Samples()
	mix = mix[len(mix)-audio.SampleRate:]
	for _, hz := range slots {
		a := audiotest.Goertzel(mix, float64(hz))
		t.Logf("mixed: %d Hz at %.3f of full scale", hz, a)
		if a < 0.15 || a > 0.25 {
			t.Errorf("the slot at %d Hz is heard at %.3f of full scale, want %.2f ± 0.05", hz, a, roomtest.SlotAmp)
		}
	}
	if a := audiotest.Goertzel(mix, 2300); a > 0.01 {
		t.Errorf("2300 Hz, which nobody sends yet, is at %.3f", a)
	}

	// Slot 1's speaker changes: the stream goes on with another voice.
	node.SetTone(1, 2300)
	if err := rec.Wait(ctx, rec.Len()+audio.SampleRate); err != nil {
		t.Fatal(err)
	}
	mix = rec.Samples()
	mix = mix[len(mix)-audio.SampleRate/2:]
	for hz, want := range map[float64]bool{600: true, 1000: false, 1500: true, 2300: true} {
		a := audiotest.Goertzel(mix, hz)
		t.Logf("after the change: %.0f Hz at %.3f", hz, a)
		if want && (a < 0.15 || a > 0.25) || !want && a > 0.01 {
			t.Errorf("after the change of speaker, %.0f Hz is at %.3f of full scale (want heard: %v)", hz, a, want)
		}
	}

	// What was sent: the tone at 9 -dBov with the voice bit, silence at 127
	// without it (after the hangover), and the tone again.
	levels, noExt := node.Received()
	if noExt > 0 {
		t.Errorf("%d packets without the audio level", noExt)
	}
	loud, quiet, hang := 0, 0, 0
	for i, b := range levels {
		lvl, voice := b&0x7f, b&0x80 != 0
		switch {
		case lvl >= 7 && lvl <= 11 && voice:
			loud++
		case lvl == 127 && !voice:
			quiet++
		case lvl == 127 && voice: // the hangover
			hang++
		default:
			t.Errorf("packet %d has level %d, voice %v: want 7..11 with voice or 127 without", i, lvl, voice)
		}
	}
	// 40 frames of silence, the first 15 (300 ms) in the hangover.
	if loud < 40 || quiet < 40-15 || hang != 15 {
		t.Errorf("%d loud packets (want ≥ 40), %d silent (want ≥ 25), %d silent with the voice bit (want 15)",
			loud, quiet, hang)
	}
	t.Logf("sent: %d packets, %d loud, %d silent, %d in the hangover", len(levels), loud, quiet, hang)

	// The host mutes alice and locks her microphone: she sends 127 though
	// her source plays, and unmuting is the server's to refuse.
	locked, muted := true, true
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomMuted, Room: "standup", User: "alice", By: "carol",
		Muted: &muted, Locked: &locked}, "")
	if rc := roomChanged(t, ph, signaling.RoomMuted); rc.By != "carol" {
		t.Fatalf("muted %+v", rc)
	}
	n := len(levels)
	for timeout := time.After(5 * time.Second); len(levels) < n+30; levels, _ = node.Received() {
		select {
		case <-node.Got:
		case <-timeout:
			t.Fatalf("%d packets in 5 s after the mute", len(levels)-n)
		}
	}
	// The first few may have left before the mute.
	for i, b := range levels[n+10:] {
		if b != 127 {
			t.Errorf("packet %d after the host's mute: level %d, voice %v; want 127 without", i, b&0x7f, b&0x80 != 0)
		}
	}
	ph.SetMuted(false)
	um := stub.Expect(signaling.TypeRoomMute)
	if um.Muted == nil || *um.Muted || um.Target != "" || um.Room != "standup" {
		t.Fatalf("room_mute %+v", um)
	}
	stub.Refuse(um.Ref, signaling.Errorf(signaling.PermissionDenied, "the host locked your microphone"))
	if f, ok := nextRoom(t, ph).(call.RoomFailure); !ok || f.Err.Code != signaling.PermissionDenied ||
		f.Room != "standup" {
		t.Fatalf("got %#v, want a RoomFailure 80802", f)
	}

	// The host unmutes her: that unlocks her microphone but does not open
	// it; the server is told she stays muted.
	muted = false
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomMuted, Room: "standup", User: "alice", By: "carol",
		Muted: &muted}, "")
	roomChanged(t, ph, signaling.RoomMuted)
	if m := stub.Expect(signaling.TypeRoomMute); m.Muted == nil || !*m.Muted || m.Target != "" {
		t.Errorf("after the host's unmute, room_mute %+v; want muted", m)
	}
	n = len(levels)
	for timeout := time.After(5 * time.Second); len(levels) < n+10; levels, _ = node.Received() {
		select {
		case <-node.Got:
		case <-timeout:
			t.Fatalf("%d packets in 5 s after the host's unmute", len(levels)-n)
		}
	}
	for i, b := range levels[n:] {
		if b != 127 {
			t.Errorf("packet %d after the host's unmute: level %d, voice %v; want 127 without", i, b&0x7f, b&0x80 != 0)
		}
	}

	stub.Event(signaling.RoomEvent{Kind: signaling.RoomRemoved, Room: "standup", User: "alice", By: "carol"}, "")
	roomChanged(t, ph, signaling.RoomRemoved)
	if l, ok := nextRoom(t, ph).(call.RoomLeft); !ok || l.Reason != signaling.LeftRemoved {
		t.Fatalf("got %#v, want RoomLeft removed", l)
	}
}

// joinStubRoom starts a phone on a stub signaling end, joins room standup
// with o and answers as its node (with tones of 600, 1000 and 1500 Hz on
// the slots); it returns the room_join the phone sent.
func joinStubRoom(t *testing.T, d call.Devices, o call.RoomOptions, sounds ...call.Sounds) (*roomtest.Signaling,
	*call.Phone, *roomtest.Node, signaling.Message) {
	t.Helper()
	stub := roomtest.NewSignaling(t, "alice")
	cfg := call.Config{Server: stub.URL, Token: "t", Devices: d}
	if len(sounds) > 0 {
		cfg.Sounds = sounds[0]
	}
	ph, err := call.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	if _, ok := nextRoom(t, ph).(call.Connected); !ok {
		t.Fatal("not connected first")
	}
	ph.JoinRoom("standup", o)
	join := stub.Expect(signaling.TypeRoomJoin)
	node, answer := roomtest.NewNode(t, join.SDP, [signaling.RoomSlots]int64{600, 1000, 1500})
	stub.Event(signaling.RoomEvent{Kind: signaling.RoomJoined, Room: "standup", User: "alice",
		Role: signaling.RoleMember}, answer)
	roomChanged(t, ph, signaling.RoomJoined)
	return stub, ph, node, join
}

// TestRoomListenOnly: a listener opens no microphone and sends nothing
// (not one packet in the second it hears the room), and hears the room;
// leaving tells the server and ends with RoomLeft left.
func TestRoomListenOnly(t *testing.T) {
	rec := audiotest.NewRecorder(true)
	d := devices{
		source: func(int) (audio.Source, error) {
			t.Error("a listener opened a microphone")
			return audio.NewSilence(audio.FrameSamples), nil
		},
		sink: record(rec),
	}
	stub, ph, node, join := joinStubRoom(t, d, call.RoomOptions{ListenOnly: true})
	if !join.ListenOnly || join.Muted != nil {
		t.Errorf("room_join: listen_only %v, muted %v; want true, none", join.ListenOnly, join.Muted)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := audiotest.FirstAbove(rec.Samples(), 0.05)
	for ; first < 0; first = audiotest.FirstAbove(rec.Samples(), 0.05) {
		if err := rec.Wait(ctx, rec.Len()+audio.FrameSamples); err != nil {
			t.Fatal("the listener hears nothing: ", err)
		}
	}
	if err := rec.Wait(ctx, first+audio.SampleRate); err != nil {
		t.Fatal(err)
	}
	heard := rec.Samples()[first : first+audio.SampleRate]
	for _, hz := range []float64{600, 1000, 1500} {
		if a := audiotest.Goertzel(heard[audio.SampleRate/2:], hz); a < 0.15 {
			t.Errorf("the listener hears %.0f Hz at %.3f, want about %.2f", hz, a, roomtest.SlotAmp)
		}
	}
	if levels, noExt := node.Received(); len(levels)+noExt > 0 {
		t.Errorf("a listener sent %d packets", len(levels)+noExt)
	}
	ph.LeaveRoom()
	if l := stub.Expect(signaling.TypeRoomLeave); l.Room != "standup" {
		t.Errorf("room_leave %+v", l)
	}
	if l, ok := nextRoom(t, ph).(call.RoomLeft); !ok || l.Reason != signaling.LeftLeft {
		t.Fatalf("got %#v, want RoomLeft left", l)
	}
}

// TestRoomJoinMuted: joined muted, the microphone's tone is not sent:
// every packet is silence at 127 without the voice bit; unmuted, it is.
func TestRoomJoinMuted(t *testing.T) {
	stub, ph, node, join := joinStubRoom(t, devices{source: tone(440), sink: null}, call.RoomOptions{Muted: true})
	if join.Muted == nil || !*join.Muted {
		t.Fatalf("room_join: muted %v, want true", join.Muted)
	}
	wait := func(n int) []byte {
		t.Helper()
		levels, _ := node.Received()
		for timeout := time.After(5 * time.Second); len(levels) < n; levels, _ = node.Received() {
			select {
			case <-node.Got:
			case <-timeout:
				t.Fatalf("%d packets in 5 s, want %d", len(levels), n)
			}
		}
		return levels
	}
	for i, b := range wait(25) {
		if b != 127 {
			t.Fatalf("packet %d while muted: level %d, voice %v; want 127 without", i, b&0x7f, b&0x80 != 0)
		}
	}
	ph.SetMuted(false)
	if m := stub.Expect(signaling.TypeRoomMute); m.Muted == nil || *m.Muted {
		t.Fatalf("room_mute %+v", m)
	}
	n := len(wait(0))
	levels := wait(n + 25)
	// Those on their way when it unmuted may be silent still.
	for i, b := range levels[n+5:] {
		if lvl := b & 0x7f; lvl < 7 || lvl > 11 || b&0x80 == 0 {
			t.Fatalf("packet %d after unmuting: level %d, voice %v; want 7..11 with", i, lvl, b&0x80 != 0)
		}
	}
}

// TestRoomChimes: someone joining and someone leaving play the phone's
// Joined and Left sounds once over the room (3 and 4 kHz here, absent
// before).
func TestRoomChimes(t *testing.T) {
	rec := audiotest.NewRecorder(true)
	chime := func(hz float64) []int16 { return audiotest.Tone(hz, 0.3, audio.SampleRate/4) }
	stub, ph, _, _ := joinStubRoom(t, devices{source: tone(440), sink: record(rec)}, call.RoomOptions{},
		call.Sounds{Joined: chime(3000), Left: chime(4000)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		ev signaling.RoomEvent
		hz float64
	}{
		{signaling.RoomEvent{Kind: signaling.ParticipantJoined, Room: "standup", User: "bob",
			Role: signaling.RoleMember}, 3000},
		{signaling.RoomEvent{Kind: signaling.ParticipantLeft, Room: "standup", User: "bob",
			Reason: signaling.LeftLeft}, 4000},
	} {
		before := rec.Len()
		stub.Event(tc.ev, "")
		roomChanged(t, ph, tc.ev.Kind)
		if err := rec.Wait(ctx, before+audio.SampleRate/2); err != nil {
			t.Fatal(err)
		}
		s := rec.Samples()
		was, now := audiotest.Goertzel(s[max(0, before-audio.SampleRate/2):before], tc.hz),
			audiotest.Goertzel(s[before:before+audio.SampleRate/2], tc.hz)
		t.Logf("%s: %.0f Hz at %.3f before, %.3f after", tc.ev.Kind, tc.hz, was, now)
		if was > 0.01 || now < 0.05 {
			t.Errorf("%s: %.0f Hz at %.3f before, %.3f in the half second after; want under 0.01, then over 0.05",
				tc.ev.Kind, tc.hz, was, now)
		}
	}
}

// failingMic is a microphone (it has a device name) that stops working
// after frames frames.
type failingMic struct {
	audio.Source
	frames int
	name   string
}

func (f *failingMic) Read(frame []int16) error {
	if f.frames == 0 {
		return errors.New("unplugged")
	}
	f.frames--
	return f.Source.Read(frame)
}

func (f *failingMic) Device() string { return f.name }

// withDefaults are devices whose system defaults (call.FallbackDevices)
// are given.
type withDefaults struct {
	devices
	defaultSource func(int) (audio.Source, error)
}

func (d withDefaults) OpenDefaultSource(n int) (audio.Source, error) { return d.defaultSource(n) }
func (d withDefaults) OpenDefaultSink(n int) (audio.Sink, error)     { return d.sink(n) }

// TestRoomMicUnplugged: a room's microphone that stops working is replaced
// by the system default, which DeviceChanged reports, and the room hears
// it (the packets are loud again).
func TestRoomMicUnplugged(t *testing.T) {
	d := withDefaults{
		devices: devices{source: func(n int) (audio.Source, error) {
			return &failingMic{Source: audio.NewTone(440, 0.5, n), frames: 25, name: "usb mic"}, nil
		}, sink: null},
		defaultSource: func(n int) (audio.Source, error) {
			return &failingMic{Source: audio.NewTone(880, 0.5, n), frames: -1, name: "default mic"}, nil
		},
	}
	_, ph, node, _ := joinStubRoom(t, d, call.RoomOptions{})
	ev := nextRoom(t, ph)
	if dc, ok := ev.(call.DeviceChanged); !ok || dc.Kind != call.Microphone || !dc.Lost || dc.Device != "default mic" {
		t.Fatalf("got %#v, want the microphone lost and replaced by the default mic", ev)
	}
	levels, _ := node.Received()
	n := len(levels)
	for timeout := time.After(5 * time.Second); len(levels) < n+20; levels, _ = node.Received() {
		select {
		case <-node.Got:
		case <-timeout:
			t.Fatalf("%d packets in 5 s after the fallback", len(levels)-n)
		}
	}
	for i, b := range levels[n+10:] {
		if lvl := b & 0x7f; lvl < 7 || lvl > 11 {
			t.Errorf("packet %d on the default microphone: level %d, want 7..11", i, lvl)
		}
	}
}
