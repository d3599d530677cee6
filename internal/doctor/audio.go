package doctor

import (
	"fmt"
	"math"
	"time"

	"github.com/parley-voice/parley/audio"
)

// audio lists and opens the devices, records 2 s and plays a test tone.
func (d *doctor) audio(in, out string) {
	sys, err := audio.NewSystem(d.o.Log)
	if err != nil {
		d.add(Check{Name: "audio system", Detail: err.Error(),
			Fix: "install and start a sound server (PulseAudio or PipeWire), or use --no-audio on a machine " +
				"without sound"})
		return
	}
	defer func() { _ = sys.Close() }() // the checks below report what failed
	devs, _ := sys.Devices()
	var ins, outs int
	for _, dv := range devs {
		if dv.MaxInputChannels > 0 {
			ins++
		}
		if dv.MaxOutputChannels > 0 {
			outs++
		}
	}
	ok := ins > 0 && outs > 0
	d.add(Check{Name: "audio devices", OK: ok,
		Detail: fmt.Sprintf("%d inputs, %d outputs (parley devices lists them)", ins, outs),
		Fix: "no microphone or no speaker: is the sound server running, and may your user use it (the " +
			"audio group)?"})
	if !ok {
		return
	}
	if src, err := audio.OpenSource(sys, in, audio.FrameSamples); err != nil {
		d.add(Check{Name: "microphone", Detail: err.Error(), Fix: "pick another with --in (see parley devices)"})
	} else {
		d.record(src, in)
		src.Close()
	}
	if sink, err := audio.OpenSink(sys, out, audio.FrameSamples); err != nil {
		d.add(Check{Name: "speaker", Detail: err.Error(), Fix: "pick another with --out (see parley devices)"})
	} else {
		d.tone(sink, out)
		_ = sink.Close() // the check is the tone's writes, reported by tone
	}
}

// record reads 2 s from src and reports its level.
func (d *doctor) record(src audio.Source, name string) {
	frame := make([]int16, audio.FrameSamples)
	var sum float64
	var peak, n int
	lo, hi := int16(math.MaxInt16), int16(math.MinInt16)
	for range 100 { // 2 s
		if err := src.Read(frame); err != nil {
			d.add(Check{Name: "microphone", Detail: fmt.Sprintf("%s: %v", name, err),
				Fix: "the device stopped delivering audio: pick another with --in"})
			return
		}
		for _, v := range frame {
			sum += float64(v) * float64(v)
			peak = max(peak, int(math.Abs(float64(v))))
			lo, hi = min(lo, v), max(hi, v)
		}
		n += len(frame)
	}
	db := 10 * math.Log10(sum/float64(n)/32768/32768+1e-12)
	detail := fmt.Sprintf("%s: recorded 2 s, level %.0f dBFS, peak %.0f dBFS",
		name, db, 20*math.Log10(float64(peak)/32768+1e-12))
	silent := int(hi)-int(lo) <= 4 || db < -80
	d.add(Check{Name: "microphone", OK: !silent, Detail: detail,
		Fix: "your microphone seems silent: unmute it, raise its volume, or pick another with --in " +
			"(parley devices lists them)"})
}

// tone plays 1 s of 440 Hz at -12 dBFS on sink.
func (d *doctor) tone(sink audio.Sink, name string) {
	src := audio.NewTone(440, 0.25, audio.FrameSamples)
	defer src.Close()
	frame := make([]int16, audio.FrameSamples)
	start := time.Now()
	for range 50 {
		_ = src.Read(frame) // a tone never fails
		if err := sink.Write(frame); err != nil {
			d.add(Check{Name: "speaker", Detail: fmt.Sprintf("%s: %v", name, err),
				Fix: "the device stopped taking audio: pick another with --out"})
			return
		}
	}
	d.add(Check{Name: "speaker", OK: true, Detail: fmt.Sprintf(
		"%s: played a 440 Hz test tone for %v (you should have heard it)",
		name, time.Since(start).Round(100*time.Millisecond))})
}
