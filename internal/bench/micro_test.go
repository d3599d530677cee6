package bench

import (
	"testing"
	"time"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkEncode-2          	    5000	    196512 ns/op	       0 B/op	       0 allocs/op
BenchmarkEncode-2          	    5000	    200000 ns/op	       0 B/op	       0 allocs/op
BenchmarkEncode-2          	    5000	    180000 ns/op	       0 B/op	       0 allocs/op
BenchmarkSendPath/20ms+dsp-2         	    5000	    585300 ns/op	       2 B/op	       1 allocs/op
PASS
ok  	github.com/parley-voice/parley/audio	3.1s
`)
	got := parseBench(out)
	want := []Micro{
		{Name: "Encode", PerOp: 196512 * time.Nanosecond, Runs: 3},
		{Name: "SendPath/20ms+dsp", PerOp: 585300 * time.Nanosecond, Allocs: 1, Bytes: 2, Runs: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %+v, want %+v", got[i], want[i])
		}
	}
}
