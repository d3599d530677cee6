package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/parley-voice/parley/audio"
)

// DevLoop copies parley's default microphone to its default speaker,
// frames of frameSamples through audio.System, until ctx ends: the floor of
// parley's audio path without a call (no codec, network or jitter buffer).
// As in a call, the microphone is read as fast as it delivers (so that no
// backlog stays in its buffer) and the speaker, at its own pace, plays the
// newest frame read (silence when there is none). The harness runs it in a
// process of its own, with the rig's devices in PULSE_SOURCE and
// PULSE_SINK.
func DevLoop(ctx context.Context, frameSamples int) error {
	sys, err := audio.NewSystem(nil)
	if err != nil {
		return err
	}
	defer func() { _ = sys.Close() }() // the loop's result is all there is to report
	mic, err := sys.OpenMic("default", frameSamples)
	if err != nil {
		return err
	}
	defer mic.Close()
	spk, err := sys.OpenSpeaker("default", frameSamples)
	if err != nil {
		return err
	}
	defer func() { _ = spk.Close() }()
	go func() { <-ctx.Done(); mic.Close(); _ = spk.Close() }() // unblock the loop

	var (
		mu     sync.Mutex
		latest = make([]int16, frameSamples)
		fresh  bool
	)
	errc := make(chan error, 1)
	go func() {
		in := make([]int16, frameSamples)
		for {
			if err := mic.Read(in); err != nil {
				errc <- err
				return
			}
			mu.Lock()
			copy(latest, in)
			fresh = true
			mu.Unlock()
		}
	}()
	fmt.Println("devloop running")
	out := make([]int16, frameSamples)
	for {
		mu.Lock()
		if fresh {
			copy(out, latest)
			fresh = false
		} else {
			clear(out)
		}
		mu.Unlock()
		if err := spk.Write(out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		default:
		}
	}
}
