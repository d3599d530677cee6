package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// roomBedHz and roomBedAmp are the tone under the chirps in A's
// microphone in a room call: 200 Hz (under the chirps' sweeps), -43 dBov
// RMS, under the chirps' onset level. It keeps A speaking for the server,
// which frees a speaker's slot after 600 ms of quiet and gives one again
// at the first packet louder than -60 dBov: a chirp after a longer pause
// would lose that packet (20 ms) to the choice.
const (
	roomBedHz  = 200
	roomBedAmp = 0.01
)

// roomCallAmp is the peak amplitude of the tones of the harness speakers
// in a room call: -33 dBov RMS, loud enough to be forwarded (the server
// takes speakers from -60 dBov up) and quiet enough beside the chirps
// (0.25 to 0.5) to leave their cross-correlation alone.
const roomCallAmp = 0.03

// startRoom runs a room as a call: B (`parley join`, listening) joins a
// room of its own, then A (`parley join`, the chirps' microphone, which
// hears a quiet tone all along: roomBedHz), then two harness speakers with
// quiet tones, so that B hears three speakers, as many as a room forwards.
// It returns once B is told it hears A.
func startRoom(ctx context.Context, e *Env, rig *Rig, c Contender, dir string) (*callPair, error) {
	users := []string{"roomcall-a", "roomcall-b", "roomcall-c", "roomcall-d"}
	tokens := make([]string, len(users))
	for i, u := range users {
		var err error
		if tokens[i], err = e.Server.Token(ctx, nil, u); err != nil {
			return nil, err
		}
	}
	room := "latency-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	api := signaling.API{Server: e.Server.URL, Token: func(context.Context) (string, error) { return tokens[0], nil }}
	if _, err := api.CreateRoom(ctx, signaling.RoomRequest{Name: room}); err != nil {
		return nil, fmt.Errorf("bench: create room %s: %w", room, err)
	}
	env := func(who, token string) []string {
		return []string{
			"PARLEY_SERVER=" + e.Server.URL, "PARLEY_TOKEN=" + token,
			"PARLEY_CONFIG=" + filepath.Join(dir, "none.json"),
			"XDG_STATE_HOME=" + filepath.Join(dir, who), "XDG_DATA_HOME=" + filepath.Join(dir, who),
		}
	}
	pair := &callPair{}
	var speakers *ToneSpeakers
	bedCtx, stopBed := context.WithCancel(ctx)
	bed := make(chan struct{})
	go func() {
		defer close(bed)
		// Longer than any call; stopped with it.
		_ = rig.Play(bedCtx, rig.AMic, audiotest.Tone(roomBedHz, roomBedAmp, 600*SampleRate))
	}()
	pair.stop = func() {
		stopBed()
		<-bed
		if speakers != nil {
			speakers.Stop()
		}
		if pair.a != nil {
			pair.a.Stop(syscall.SIGINT) // leaves
		}
		if pair.b != nil {
			pair.b.Stop(syscall.SIGINT)
		}
	}
	fail := func(err error) (*callPair, error) {
		pair.stop()
		return nil, err
	}
	const wait = 30 * time.Second
	b, err := StartProc(roomListener, dir, append(env("b", tokens[1]), PulseEnv(pulsetest.Monitor(rig.BMic),
		rig.BSpk)...), e.client(), append([]string{"join", room, "--json"}, c.Args...)...)
	if err != nil {
		return fail(err)
	}
	pair.b = b
	if err := b.WaitEvent(ctx, wait, map[string]string{"event": "joined"}); err != nil {
		return fail(err)
	}
	a, err := StartProc("parley-join-a", dir, append(env("a", tokens[0]), PulseEnv(rig.AMicSource, rig.ASpk)...),
		e.client(), append([]string{"join", room, "--json"}, c.Args...)...)
	if err != nil {
		return fail(err)
	}
	pair.a = a
	if err := a.WaitEvent(ctx, wait, map[string]string{"event": "joined"}); err != nil {
		return fail(err)
	}
	if speakers, err = StartToneSpeakers(ctx, e.Server.URL, room, users[2:], tokens[2:], roomCallAmp); err != nil {
		return fail(err)
	}
	// In once B is told it hears A.
	if _, err := b.WaitLine(ctx, wait, "B hearing A", func(l string) bool {
		var ev struct {
			Event string   `json:"event"`
			Slots []string `json:"slots"`
		}
		return json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "speaking" && slices.Contains(ev.Slots, users[0])
	}); err != nil {
		return fail(err)
	}
	return pair, nil
}

// roomListener is the name of B's process in a room call.
const roomListener = "parley-join-b"
