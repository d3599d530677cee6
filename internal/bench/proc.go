package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/PID/stat's times (USER_HZ), 100 on
// every Linux that matters.
const clockTick = 10 * time.Millisecond

// CPUTime returns the CPU time, user and system, that process pid and all
// its threads have used so far.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: cpu time of %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: cpu time of %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: cpu time of %d: malformed stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: cpu time of %d: malformed stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// Memory returns process pid's resident set size and its peak so far
// (VmRSS and VmHWM), in bytes.
func Memory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("bench: memory of %d: %w", pid, err)
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) != 2 || fs[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n * 1024
		} else {
			peak = n * 1024
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("bench: memory of %d: no VmRSS or VmHWM", pid)
	}
	return rss, peak, nil
}

// Mapped is how much of a process's memory is its own: its proportional
// set size (shared pages divided among the processes that map them) and
// its anonymous memory (heaps and stacks, its own alone), in bytes.
func Mapped(pid int) (pss, anon int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("bench: memory of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		fs := strings.Fields(v)
		if !ok || len(fs) != 2 {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "Pss":
			pss = n * 1024
		case "Anonymous":
			anon = n * 1024
		}
	}
	return pss, anon, nil
}

// CPUMeter measures the share of one core a process uses between Start
// and Stop.
type CPUMeter struct {
	pid   int
	cpu   time.Duration
	start time.Time
}

// StartCPU starts measuring process pid.
func StartCPU(pid int) (*CPUMeter, error) {
	c, err := CPUTime(pid)
	if err != nil {
		return nil, err
	}
	return &CPUMeter{pid: pid, cpu: c, start: time.Now()}, nil
}

// Share returns the CPU time used since StartCPU over the wall time: 1 is
// one core fully busy.
func (m *CPUMeter) Share() (float64, error) {
	c, err := CPUTime(m.pid)
	if err != nil {
		return 0, err
	}
	return (c - m.cpu).Seconds() / time.Since(m.start).Seconds(), nil
}

// RaiseFileLimit raises this process's limit of open files (soft and, when
// allowed, hard) to at least n; child processes inherit it. It returns the
// soft limit now in force.
func RaiseFileLimit(n uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= n {
		return lim.Cur, nil
	}
	want := lim
	want.Cur = n
	if want.Max < n {
		want.Max = n // needs CAP_SYS_RESOURCE
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// Without privileges: as far as the hard limit goes.
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return lim.Cur, err
		}
	}
	return want.Cur, nil
}

// PeakRSS runs a command to its end and returns its peak resident set
// size, in bytes. It runs it under GNU time, whose report is the command's
// own: the peak that wait4 reports for a child of this process would count
// this process's resident set as well, since a child starts as a copy of
// its parent and the kernel keeps the higher figure across exec.
func PeakRSS(env []string, bin string, args ...string) (int64, error) {
	out, err := os.CreateTemp("", "peakrss-*")
	if err != nil {
		return 0, err
	}
	_ = out.Close() // only its name is used: time writes the file
	defer os.Remove(out.Name())
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", out.Name(), bin}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("bench: %s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: GNU time's report %q: %w", b, err)
	}
	return kb << 10, nil
}

// Memory parts, as MemoryParts names them.
const (
	PartProgram = "the program's file"
	PartPulse   = "PulseAudio's shared memory"
	PartLibs    = "shared libraries"
	PartAnon    = "anonymous memory (heaps, stacks)"
	PartOther   = "other"
)

// MemoryParts splits process pid's resident set by what is mapped: its
// own executable, PulseAudio's shared memory pools, shared libraries,
// anonymous memory and the rest, in bytes.
func MemoryParts(pid int) (map[string]int64, error) {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, fmt.Errorf("bench: memory of %d: %w", pid, err)
	}
	parts := map[string]int64{}
	part := PartOther
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			name := ""
			if len(f) >= 6 {
				name = strings.Join(f[5:], " ")
			}
			switch {
			case name == exe && exe != "":
				part = PartProgram
			case strings.Contains(name, "memfd:pulseaudio"):
				part = PartPulse
			case strings.Contains(name, ".so"):
				part = PartLibs
			case name == "" || strings.HasPrefix(name, "[heap]") || strings.HasPrefix(name, "[stack") ||
				strings.HasPrefix(name, "[anon"):
				part = PartAnon
			default:
				part = PartOther
			}
			continue
		}
		if len(f) == 3 && f[0] == "Rss:" && f[2] == "kB" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				parts[part] += n * 1024
			}
		}
	}
	return parts, nil
}
