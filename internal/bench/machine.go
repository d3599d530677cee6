package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPU      string
	Cores    int
	MemoryGB float64
	OS       string
	Kernel   string
}

// ReadMachine reads the machine's description from /proc and /etc.
func ReadMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), CPU: "unknown", OS: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); v != nil {
			m.CPU = strings.TrimSpace(string(v[1]))
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); v != nil {
			kb, _ := strconv.ParseFloat(string(v[1]), 64)
			m.MemoryGB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if v := regexp.MustCompile(`(?m)^PRETTY_NAME="?([^"\n]+)"?$`).FindSubmatch(b); v != nil {
			m.OS = string(v[1])
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// LoadAverage returns the 1-minute load average.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// Version is one component's version.
type Version struct{ Name, Version string }

// Versions lists the versions of what the measurements ran: parley's
// commit, Go, the libraries parley links, the Go modules that matter, the
// sound server and baresip.
func Versions(ctx context.Context, root string) []Version {
	run := func(dir string, name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		b, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	commit := or(run(root, "git", "rev-parse", "--short", "HEAD"), "unknown")
	if run(root, "git", "status", "--porcelain", "--untracked-files=no") != "" {
		commit += " with uncommitted changes"
	}
	deb := func(pkg string) string {
		return or(run("", "dpkg-query", "-W", "-f=${Version}", pkg), "not installed")
	}
	v := []Version{
		{"parley", commit},
		{"Go", runtime.Version()},
		{"libopus", or(run("", "pkg-config", "--modversion", "opus"), "unknown")},
		{"PortAudio", "Debian " + deb("libportaudio2")},
		{"PulseAudio", deb("pulseaudio")},
		{"ALSA pulse plugin", "Debian " + deb("libasound2-plugins")},
		{"speexdsp", "Debian " + deb("libspeexdsp1")},
		{"webrtc-audio-processing", "Debian " + deb("libwebrtc-audio-processing1")},
	}
	for _, mod := range []string{"github.com/pion/webrtc/v4", "github.com/coder/websocket",
		"github.com/nats-io/nats-server/v2"} {
		v = append(v, Version{mod, or(modVersion(root, mod), "unknown")})
	}
	bs := "not installed"
	if HaveBaresip() == nil {
		bs = BaresipVersion() + " (Debian " + deb("baresip-core") + ")"
	}
	return append(v, Version{"baresip", bs})
}

// modVersion reads a module's required version from go.mod.
func modVersion(root, mod string) string {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fs) >= 2 && fs[0] == mod {
			return fs[1]
		}
	}
	return ""
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.0f GB; %s, kernel %s", m.CPU, m.Cores, m.MemoryGB, m.OS, m.Kernel)
}
