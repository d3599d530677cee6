package audio_test

import (
	"math"
	"testing"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
)

// encodeAll encodes pcm frame by frame and returns the packets.
func encodeAll(t testing.TB, enc *audio.Encoder, pcm []int16) [][]byte {
	t.Helper()
	n := enc.FrameSamples()
	var pkts [][]byte
	buf := make([]byte, audio.MaxPacketSize)
	for i := 0; i+n <= len(pcm); i += n {
		k, err := enc.Encode(pcm[i:i+n], buf)
		if err != nil {
			t.Fatalf("Encode frame %d: %v", i/n, err)
		}
		pkts = append(pkts, append([]byte(nil), buf[:k]...))
	}
	return pkts
}

func TestOpusToneRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame int
	}{{"10ms", 480}, {"20ms", 960}} {
		frame := tc.frame
		t.Run(tc.name, func(t *testing.T) {
			enc, err := audio.NewEncoder(frame)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := audio.NewDecoder()
			if err != nil {
				t.Fatal(err)
			}
			in := audiotest.Tone(440, 0.5, audio.SampleRate)
			var out []int16
			pcm := make([]int16, audio.MaxFrameSamples)
			for _, p := range encodeAll(t, enc, in) {
				n, err := dec.Decode(p, pcm)
				if err != nil {
					t.Fatal(err)
				}
				if n != frame {
					t.Fatalf("Decode returned %d samples, want %d", n, frame)
				}
				out = append(out, pcm[:n]...)
			}
			steady := out[audio.SampleRate/10:] // skip the codec's warm-up
			if got := audiotest.DominantFrequency(steady); math.Abs(got-440) > 2 {
				t.Errorf("dominant frequency = %.2f Hz, want 440 ± 2", got)
			}
			if snr := audiotest.ToneSNR(steady, 440); snr < 20 {
				t.Errorf("tone SNR = %.1f dB, want >= 20", snr)
			}
			if d := audiotest.DBFS(steady) - audiotest.DBFS(in); math.Abs(d) > 1.5 {
				t.Errorf("level changed by %.2f dB, want within ±1.5", d)
			}
		})
	}
}

func TestOpusFECRecoversLostFrame(t *testing.T) {
	// The tone jumps from 440 to 1000 Hz at frame lost: concealment can
	// only extrapolate 440 Hz, FEC carries the real 1000 Hz.
	const lost = 25
	n := audio.FrameSamples
	in := append(audiotest.Tone(440, 0.5, lost*n), audiotest.Tone(1000, 0.5, 10*n)...)
	enc, err := audio.NewEncoder(n)
	if err != nil {
		t.Fatal(err)
	}
	pkts := encodeAll(t, enc, in)

	fecDec, _ := audio.NewDecoder()
	plcDec, _ := audio.NewDecoder()
	pcm := make([]int16, audio.MaxFrameSamples)
	for _, p := range pkts[:lost] {
		for _, d := range []*audio.Decoder{fecDec, plcDec} {
			if _, err := d.Decode(p, pcm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !audio.PacketHasFEC(pkts[lost+1]) {
		t.Fatalf("packet after the lost one carries no FEC (TOC %#x)", pkts[lost+1][0])
	}
	recovered := make([]int16, n)
	if err := fecDec.DecodeFEC(pkts[lost+1], recovered); err != nil {
		t.Fatal(err)
	}
	concealed := make([]int16, n)
	if err := plcDec.Conceal(concealed); err != nil {
		t.Fatal(err)
	}
	if got := audiotest.DominantFrequency(recovered); math.Abs(got-1000) > 15 {
		t.Errorf("FEC frame dominant frequency = %.1f Hz, want 1000 ± 15", got)
	}
	if lvl := audiotest.DBFS(recovered); lvl < -20 {
		t.Errorf("FEC frame level = %.1f dBFS, want > -20", lvl)
	}
	if got := audiotest.DominantFrequency(concealed); math.Abs(got-1000) < 100 {
		t.Errorf("PLC frame dominant frequency = %.1f Hz; PLC cannot know the new tone, so the test proves nothing",
			got)
	}
	// The stream goes on normally after the recovered frame.
	if _, err := fecDec.Decode(pkts[lost+1], pcm); err != nil {
		t.Fatal(err)
	}
	if got := audiotest.DominantFrequency(pcm[:n]); math.Abs(got-1000) > 15 {
		t.Errorf("frame after recovery: dominant frequency = %.1f Hz, want 1000 ± 15", got)
	}
}

func TestPacketHasFECFollowsExpectedLoss(t *testing.T) {
	in := audiotest.Speech(1, 2e9)
	// libopus 1.3.1 weighs expected loss against bitrate: at 10 % and
	// more every packet after a voiced one carries FEC, at 0 % none does; in between
	// (5 %) only some do, which is logged rather than asserted.
	for _, tc := range []struct {
		loss     int
		minShare float64
		maxShare float64
	}{
		{audio.DefaultPacketLoss, 0.5, 1}, // pauses between syllables carry none
		{30, 0.5, 1},
		{0, 0, 0},
		{5, 0, 1},
	} {
		enc, err := audio.NewEncoder(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.SetPacketLoss(tc.loss); err != nil {
			t.Fatal(err)
		}
		pkts := encodeAll(t, enc, in)
		with := 0
		for _, p := range pkts[1:] {
			if audio.PacketHasFEC(p) {
				with++
			}
		}
		share := float64(with) / float64(len(pkts)-1)
		t.Logf("expected loss %2d%%: %3.0f%% of packets carry FEC", tc.loss, 100*share)
		if share < tc.minShare || share > tc.maxShare {
			t.Errorf("expected loss %d%%: %.0f%% of packets carry FEC, want %.0f%%..%.0f%%", tc.loss, 100*share,
				100*tc.minShare, 100*tc.maxShare)
		}
	}
}

func TestPacketSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		want int
	}{
		{"SILK WB 20 ms", []byte{9 << 3, 0}, 960},
		{"SILK NB 10 ms", []byte{0 << 3, 0}, 480},
		{"SILK WB 60 ms", []byte{11 << 3, 0}, 2880},
		{"CELT FB 2.5 ms", []byte{28 << 3, 0}, 120},
		{"CELT FB 20 ms, two frames", []byte{31<<3 | 1, 0}, 1920},
		{"hybrid FB 20 ms, code 3 x3", []byte{15<<3 | 3, 3}, 2880},
	} {
		got, err := audio.PacketSamples(tc.pkt)
		if err != nil || got != tc.want {
			t.Errorf("%s: PacketSamples = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{nil, {31<<3 | 3, 7}, {11<<3 | 3, 3}} {
		if n, err := audio.PacketSamples(bad); err == nil {
			t.Errorf("PacketSamples(%x) = %d, want an error", bad, n)
		}
	}
}

func TestEncoderRejectsWrongFrame(t *testing.T) {
	if _, err := audio.NewEncoder(1000); err == nil {
		t.Error("NewEncoder(1000) succeeded, want an error")
	}
	enc, err := audio.NewEncoder(960)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(make([]int16, 480), make([]byte, audio.MaxPacketSize)); err == nil {
		t.Error("Encode of 480 samples into a 960-sample encoder succeeded")
	}
	dec, _ := audio.NewDecoder()
	if err := dec.Conceal(make([]int16, 100)); err == nil {
		t.Error("Conceal of 100 samples succeeded, want an error (not a multiple of 2.5 ms)")
	}
}

func TestDecodeNeverWritesPastLen(t *testing.T) {
	enc, _ := audio.NewEncoder(960)
	dec, _ := audio.NewDecoder()
	pkts := encodeAll(t, enc, audiotest.Tone(440, 0.5, 960))
	buf := make([]int16, 2*960)
	for i := range buf {
		buf[i] = 7
	}
	if _, err := dec.Decode(pkts[0], buf[:480]); err == nil {
		t.Error("Decode into a too-short buffer succeeded")
	}
	for i, v := range buf[480:] {
		if v != 7 {
			t.Fatalf("sample %d beyond len was overwritten", 480+i)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	enc, _ := audio.NewEncoder(audio.FrameSamples)
	pcm := audiotest.Speech(1, 1e9)[:audio.FrameSamples]
	out := make([]byte, audio.MaxPacketSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(pcm, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	enc, _ := audio.NewEncoder(audio.FrameSamples)
	dec, _ := audio.NewDecoder()
	pkts := encodeAll(b, enc, audiotest.Speech(1, 1e9))
	pcm := make([]int16, audio.MaxFrameSamples)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(pkts[i%len(pkts)], pcm); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
