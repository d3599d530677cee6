package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Micro is one Go benchmark's result: the median time per op over the
// runs, and the most allocations per op any run saw.
type Micro struct {
	Package string
	Name    string // without the Benchmark prefix and the -GOMAXPROCS suffix
	PerOp   time.Duration
	Allocs  int64
	Bytes   int64
	Runs    int
	About   string // what one op is
}

// microBenchmarks are the Go benchmarks of the media path, by package,
// with what one op is.
var microBenchmarks = []struct {
	pkg, pattern string
	about        map[string]string
}{
	{"./audio", "^Benchmark(Encode|Decode|JitterPushPop|Level|Processor)$", map[string]string{
		"Encode":        "Opus encode, one 20 ms frame",
		"Decode":        "Opus decode, one 20 ms packet",
		"JitterPushPop": "jitter buffer: push one packet, pop one 20 ms frame (decode included)",
		"Level":         "level meter, one 20 ms frame",
		"Processor":     "a microphone's processing (the options in the name), one 20 ms frame",
	}},
	{"./call", "^Benchmark(SendPath|ReceivePath)$", map[string]string{
		"SendPath":    "capture to send: source, processing, level, Opus, track (one frame)",
		"ReceivePath": "receive to playback: RTP read, hand-off, jitter buffer, Opus, level, sink (one packet)",
	}},
}

// RunMicro runs the media path's Go benchmarks count times each in the
// module at root and returns their results.
func RunMicro(ctx context.Context, root string, count int) ([]Micro, error) {
	var out []Micro
	for _, mb := range microBenchmarks {
		b, err := GoTest(ctx, root, "-run", "^$", "-bench", mb.pattern, "-benchmem", "-count", strconv.Itoa(count),
			mb.pkg)
		if err != nil {
			return nil, fmt.Errorf("bench: go test -bench %s: %w: %s", mb.pkg, err, b)
		}
		ms := parseBench([]byte(b))
		for i := range ms {
			ms[i].Package = strings.TrimPrefix(mb.pkg, "./")
			base, _, _ := strings.Cut(ms[i].Name, "/")
			ms[i].About = mb.about[base]
		}
		out = append(out, ms...)
	}
	return out, nil
}

// parseBench reads `go test -bench -benchmem` output.
func parseBench(b []byte) []Micro {
	type runs struct {
		ns            []float64
		allocs, bytes int64
	}
	byName := map[string]*runs{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		r := byName[name]
		if r == nil {
			r = &runs{}
			byName[name] = r
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.ns = append(r.ns, v)
			case "allocs/op":
				r.allocs = max(r.allocs, int64(v))
			case "B/op":
				r.bytes = max(r.bytes, int64(v))
			}
		}
	}
	var out []Micro
	for _, name := range order {
		r := byName[name]
		if len(r.ns) == 0 {
			continue
		}
		slices.Sort(r.ns)
		out = append(out, Micro{Name: name, PerOp: time.Duration(r.ns[len(r.ns)/2]), Allocs: r.allocs, Bytes: r.bytes,
			Runs: len(r.ns)})
	}
	return out
}

// GoTest runs `go test args...` in the module at root and returns its
// output.
func GoTest(ctx context.Context, root string, args ...string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		// No go on PATH: the toolchain that built this harness (go test,
		// go run), which is where its GOROOT points.
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: see above

	}
	cmd := exec.CommandContext(ctx, gobin, append([]string{"test"}, args...)...)
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	return string(b), err
}
