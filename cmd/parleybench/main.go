// Command parleybench measures parley beside baresip and writes
// docs/BENCHMARKS.md and its plot: `make bench` runs it from the module's
// root. See package internal/bench for what it measures and how.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-voice/parley/internal/bench"
	"github.com/parley-voice/parley/internal/pulsetest"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "devloop":
			os.Exit(devloop(os.Args[2:]))
		case "idle":
			os.Exit(idle(os.Args[2:]))
		case "roompeers":
			os.Exit(roomPeers(os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "parleybench: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	out, work                  string
	only                       string
	rounds                     int
	chirps                     time.Duration
	calls                      int
	conns                      int
	loadedCalls                int
	clusterCalls, clusterPairs int
	microCount                 int
	contenders                 string
	results                    string
	roomSizes                  string
	roomWindow                 time.Duration
}

func run(ctx context.Context) error {
	var o options
	flag.StringVar(&o.out, "out", "docs/BENCHMARKS.md", "the report to write; the plot goes beside it")
	flag.StringVar(&o.work, "work", "", "work directory, kept afterwards (default: a temporary one, removed)")
	flag.StringVar(&o.only, "only", "latency,setup,capacity,cluster,rooms,echo,micro", "which measurements to run, "+
		"comma-separated")
	flag.IntVar(&o.rounds, "rounds", 3, "calls per latency set-up (the set-ups take turns)")
	flag.DurationVar(&o.chirps, "chirps", 20*time.Second, "how long each latency call plays chirps (CPU is measured "+
		"over the same time)")
	flag.IntVar(&o.calls, "calls", 200, "calls for the call setup figures")
	flag.IntVar(&o.conns, "conns", 20000, "idle connections for the server capacity")
	flag.IntVar(&o.loadedCalls, "loaded-calls", 200, "calls placed while the idle connections stay up")
	flag.IntVar(&o.clusterCalls, "cluster-calls", 2000, "calls of each configuration of the several-nodes run")
	flag.IntVar(&o.clusterPairs, "cluster-pairs", 8, "caller and callee pairs placing them at once")
	flag.StringVar(&o.roomSizes, "room-sizes", "5,10,25,50", "participants of the rooms measured, comma-separated "+
		"(three of them speak; the largest room's figures are judged against the targets)")
	flag.DurationVar(&o.roomWindow, "room-window", 20*time.Second, "how long each room's server CPU is measured "+
		"(and its participants record)")
	flag.IntVar(&o.microCount, "micro-count", 5, "runs of each Go micro-benchmark")
	flag.StringVar(&o.contenders, "contenders", "", "a regular expression: only the latency set-ups whose names match")
	flag.StringVar(&o.results, "results", "", "write the report from this results.json of an earlier run (in its "+
		"work directory) instead of measuring")
	flag.Parse()
	want := map[string]bool{}
	for _, s := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(s)] = true
	}

	root, err := bench.ModuleRoot()
	if err != nil {
		return err
	}
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "parleybench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if o.results != "" {
		b, err := os.ReadFile(o.results)
		if err != nil {
			return err
		}
		res := &bench.Results{}
		if err := json.Unmarshal(b, res); err != nil {
			return fmt.Errorf("%s: %w", o.results, err)
		}
		return write(root, o.out, res, logf)
	}
	start := time.Now()
	res := &bench.Results{Date: start, Machine: bench.ReadMachine(), Rounds: o.rounds, Chirps: o.chirps}
	res.Versions = bench.Versions(ctx, root)
	logf("building parley")
	bin := filepath.Join(work, "bin", "parley")
	if err := bench.BuildParley(ctx, root, bin, false); err != nil {
		return err
	}
	client := filepath.Join(work, "bin", "client", "parley")
	if err := bench.BuildParley(ctx, root, client, false, "client"); err != nil {
		return err
	}
	if st, err := os.Stat(bin); err == nil {
		res.BinarySize = st.Size()
	}
	if st, err := os.Stat(client); err == nil {
		res.ClientSize = st.Size()
	}
	e := &bench.Env{Dir: work, Parley: bin, Client: client, Logf: logf, Self: self}
	if want["latency"] || want["setup"] {
		srv, err := bench.StartServer(ctx, bin, filepath.Join(work, "server"))
		if err != nil {
			return err
		}
		defer srv.Stop()
		e.Server = srv
	}
	problem := func(format string, args ...any) {
		p := fmt.Sprintf(format, args...)
		logf("%s", p)
		res.Problems = append(res.Problems, p)
	}

	if want["latency"] {
		profiled := map[string]bool{}
		e.Profile = func(c bench.Contender) bool {
			first := (c.Name == "parley" || c.Name == "baresip") && !profiled[c.Name]
			profiled[c.Name] = true
			return first
		}
		if err := latency(ctx, e, o, res, problem); err != nil {
			return err
		}
		for _, b := range []struct {
			bin, build string
			args       []string
		}{{client, "", []string{"--help"}}, {client, "", []string{"devices"}}, {bin, " (the full build)",
			[]string{"--help"}}} {
			rss, err := bench.PeakRSS([]string{"PARLEY_CONFIG=" + filepath.Join(work, "none.json"), "XDG_STATE_HOME=" +
				work}, b.bin, b.args...)
			if err != nil {
				problem("baseline memory: %v", err)
				continue
			}
			res.Baseline = append(res.Baseline, bench.Baseline{Command: "parley " + strings.Join(b.args, " "),
				Build: b.build, RSS: rss})
		}
	}
	if want["setup"] {
		logf("call setup: %d calls", o.calls)
		s, err := bench.MeasureSetup(ctx, e.Server, nil, "setup", o.calls)
		if err != nil {
			problem("call setup: %v", err)
		} else {
			res.Setup = s
		}
	}
	if want["capacity"] {
		logf("server capacity: %d idle connections", o.conns)
		c, err := bench.MeasureCapacity(ctx, e, o.conns, o.loadedCalls, 10*time.Second)
		if err != nil {
			problem("server capacity: %v", err)
		}
		res.Capacity = c
	}
	if want["cluster"] {
		logf("several nodes: %d calls, %d pairs at once", o.clusterCalls, o.clusterPairs)
		c, err := bench.MeasureCluster(ctx, e, o.clusterPairs, o.clusterCalls)
		if err != nil {
			problem("several nodes: %v", err)
		}
		res.Cluster = c
	}
	if want["rooms"] {
		sizes, err := bench.ParseRoomSizes(o.roomSizes)
		if err != nil {
			return err
		}
		logf("rooms: %v participants", sizes)
		r, err := bench.MeasureRooms(ctx, e, sizes, 3*time.Second, o.roomWindow)
		if err != nil {
			problem("rooms: %v", err)
		}
		res.Rooms = r
	}
	if want["echo"] {
		logf("echo cancellation")
		e, err := bench.MeasureEcho()
		if err != nil {
			problem("echo cancellation: %v", err)
		}
		res.Echo = e
	}
	if want["micro"] {
		logf("Go micro-benchmarks")
		m, err := bench.RunMicro(ctx, root, o.microCount)
		if err != nil {
			problem("micro-benchmarks: %v", err)
		}
		res.Micro = m
		if res.ProcessingDelay20, err = bench.ProcessingDelay(960); err != nil {
			problem("processing delay: %v", err)
		}
		if res.ProcessingDelay10, err = bench.ProcessingDelay(480); err != nil {
			problem("processing delay: %v", err)
		}
		a, err := allocs(ctx, root)
		if err != nil {
			problem("allocations per frame: %v", err)
		}
		res.Allocs = a
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.Duration = time.Since(start)
	if b, err := json.MarshalIndent(res, "", "\t"); err == nil {
		if err := os.WriteFile(filepath.Join(work, "results.json"), b, 0o644); err != nil {
			logf("results: %v", err)
		}
	}
	return write(root, o.out, res, logf)
}

// write writes the report and its plot.
func write(root, out string, res *bench.Results, logf func(string, ...any)) error {
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	plotName := bench.PlotName(out)
	if len(res.Latency) > 0 {
		if err := res.WritePlot(filepath.Join(filepath.Dir(out), plotName)); err != nil {
			logf("plot: %v", err)
			res.Problems = append(res.Problems, fmt.Sprintf("plot: %v", err))
			plotName = ""
		}
	} else {
		plotName = ""
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	res.RoomsPlot = ""
	if res.Rooms != nil && len(res.Rooms.Runs) > 0 {
		name := bench.RoomsPlotName(out)
		if err := res.Rooms.WritePlot(filepath.Join(filepath.Dir(out), name)); err != nil {
			logf("rooms plot: %v", err)
			res.Problems = append(res.Problems, fmt.Sprintf("rooms plot: %v", err))
		} else {
			res.RoomsPlot = name
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := res.WriteMarkdown(f, plotName); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// latency runs every contender's calls over one rig, in rounds.
func latency(ctx context.Context, e *bench.Env, o options, res *bench.Results, problem func(string, ...any)) error {
	pulse, err := pulsetest.EnsureShared(ctx, nil)
	if err != nil {
		problem("latency: %v", err)
		return nil
	}
	rig, err := bench.NewRig(ctx, pulse, "run")
	if err != nil {
		return err
	}
	defer func() {
		if err := rig.Close(); err != nil {
			problem("latency: %v", err)
		}
	}()
	var all []bench.Contender
	match, err := regexp.Compile(o.contenders)
	if err != nil {
		return err
	}
	for _, c := range append(append([]bench.Contender(nil), bench.Contenders...), bench.Floors...) {
		if match.MatchString(c.Name) {
			all = append(all, c)
		}
	}
	calls := make([][]*bench.CallResult, len(all))
	errs := make([]string, len(all))
	baresip := bench.HaveBaresip()
	for round := range o.rounds {
		for i, c := range all {
			if c.Client == "baresip" && baresip != nil {
				errs[i] = baresip.Error()
				continue
			}
			e.Logf("latency: %s, call %d of %d", c.Name, round+1, o.rounds)
			r, err := bench.RunCall(ctx, e, rig, c, o.chirps, uint64(100*round+i+1))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				e.Logf("latency: %s: %v", c.Name, err)
				errs[i] = err.Error()
				continue
			}
			calls[i] = append(calls[i], r)
		}
	}
	for round := range o.rounds {
		for _, s := range bench.Stalls {
			c := s.Contender()
			if !match.MatchString(c.Name) {
				continue
			}
			e.Logf("latency: %s, call %d of %d", c.Name, round+1, o.rounds)
			r, err := bench.RunCall(ctx, e, rig, c, s.After+5*time.Second, uint64(100*round+len(all)+1))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				problem("latency, %s: %v", c.Name, err)
				continue
			}
			res.Stalls = append(res.Stalls, bench.Stalled(r))
		}
	}
	for i, c := range all {
		agg := bench.Aggregate(c, calls[i])
		if len(calls[i]) < o.rounds && errs[i] != "" {
			if len(calls[i]) == 0 {
				agg.Err = errs[i]
			}
			problem("latency, %s: %d of %d calls measured: %s", c.Name, len(calls[i]), o.rounds, errs[i])
		}
		if c.Client == "devloop" {
			res.Floors = append(res.Floors, agg)
		} else {
			res.Latency = append(res.Latency, agg)
		}
	}
	return nil
}

var allocLine = regexp.MustCompile(`(send|receive) path, (\S+): ([0-9.]+) allocations per frame`)

// allocs runs the call package's allocation test and reads its figures.
func allocs(ctx context.Context, root string) ([]bench.AllocFigure, error) {
	out, err := bench.GoTest(ctx, root, "-run", "^TestMediaPathAllocs$", "-count", "1", "-v", "./call")
	var figs []bench.AllocFigure
	for _, m := range allocLine.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		figs = append(figs, bench.AllocFigure{Path: m[1] + " " + m[2], PerFrame: v})
	}
	if err != nil {
		return figs, fmt.Errorf("%w: %s", err, out)
	}
	return figs, nil
}

// roomPeers is the hidden sub-command that runs the participants of a
// room for the rooms measurement.
func roomPeers(args []string) int {
	fs := flag.NewFlagSet("roompeers", flag.ContinueOnError)
	config := fs.String("config", "", "a JSON file of bench.RoomPeersConfig")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	b, err := os.ReadFile(*config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "roompeers: %v\n", err)
		return 1
	}
	var c bench.RoomPeersConfig
	if err := json.Unmarshal(b, &c); err != nil {
		fmt.Fprintf(os.Stderr, "roompeers: %s: %v\n", *config, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.RunRoomPeers(ctx, c, os.Stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "roompeers: %v\n", err)
		return 1
	}
	return 0
}

// devloop is the hidden sub-command the device floors run as.
func devloop(args []string) int {
	fs := flag.NewFlagSet("devloop", flag.ContinueOnError)
	frame := fs.Int("frame", 960, "frame, samples")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.DevLoop(ctx, *frame); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "devloop: %v\n", err)
		return 1
	}
	return 0
}

// idle is the hidden sub-command that holds idle connections for the
// capacity measurement.
func idle(args []string) int {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	server := fs.String("server", "", "server URL")
	tokens := fs.String("tokens", "", "file of tokens, one a line")
	first := fs.Int("first", 0, "number of the first connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.RunIdle(ctx, *server, *tokens, *first, os.Stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "idle: %v\n", err)
		return 1
	}
	return 0
}
