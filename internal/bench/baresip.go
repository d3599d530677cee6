package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/parley-voice/parley/internal/pulsetest"
)

// HaveBaresip reports whether baresip (with its Opus and ALSA modules) is
// installed.
func HaveBaresip() error {
	if _, err := exec.LookPath("baresip"); err != nil {
		return errNoBaresip
	}
	for _, m := range []string{"opus.so", "alsa.so", "menu.so", "account.so"} {
		if _, err := os.Stat(filepath.Join(baresipModules, m)); err != nil {
			return fmt.Errorf("%w: %v", errNoBaresip, err)
		}
	}
	return nil
}

const baresipModules = "/usr/lib/baresip/modules"

// BaresipVersion returns what `baresip -h` says of its version.
func BaresipVersion() string {
	out, _ := exec.Command("baresip", "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	if v, _, ok := strings.Cut(strings.TrimPrefix(first, "baresip "), " Copyright"); ok {
		return v
	}
	return "unknown"
}

// baresipConfig is a private configuration: SIP on loopback only, Opus
// only (48 kHz, mono, 32 kbit/s as parley sends), audio through ALSA's
// default device (PulseAudio's plugin, as parley's PortAudio uses), the
// given jitter buffer, and the menu module for the dial command and
// auto-answer. Everything else is baresip's default.
func baresipConfig(port int, jitter string) string {
	return fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%[1]d
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		1
audio_player		alsa,default
audio_source		alsa,default
audio_alert		alsa,default
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		1
auplay_channels		1
audio_buffer		20-160
rtp_tos			184
rtcp_mux		no
jitter_buffer_delay	%[2]s
rtp_stats		no
module_path		%[3]s
module			opus.so
module			alsa.so
module_tmp		account.so
module_app		menu.so
opus_bitrate		32000
opus_stereo		no
opus_sprop_stereo	no
`, port, jitter, baresipModules)
}

// startBaresip starts two baresip instances, B answering automatically and
// A dialling B's SIP URI directly (no registrar), and returns once both say
// the call is established.
func startBaresip(ctx context.Context, rig *Rig, c Contender, dir string) (*callPair, error) {
	if err := HaveBaresip(); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	instance := func(who, user string, port int, account string) (string, error) {
		d := filepath.Join(dir, "baresip-"+who)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		files := map[string]string{
			"config":   baresipConfig(port, c.Jitter),
			"accounts": fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;ptime=20%s\n", user, port, account),
			"contacts": "",
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o600); err != nil {
				return "", err
			}
		}
		return d, nil
	}
	bdir, err := instance("b", "bob", ports[0], ";answermode=auto")
	if err != nil {
		return nil, err
	}
	adir, err := instance("a", "alice", ports[1], "")
	if err != nil {
		return nil, err
	}
	// stdbuf: baresip's stdout is a pipe here, and its events must come
	// line by line.
	b, err := StartProc("baresip-b", bdir, PulseEnv(pulsetest.Monitor(rig.BMic), rig.BSpk),
		"stdbuf", "-oL", "baresip", "-4", "-f", bdir)
	if err != nil {
		return nil, err
	}
	pair := &callPair{b: b}
	pair.stop = func() {
		if pair.a != nil {
			pair.a.Stop(syscall.SIGTERM)
		}
		pair.b.Stop(syscall.SIGTERM)
	}
	fail := func(err error) (*callPair, error) {
		pair.stop()
		return nil, err
	}
	const wait = 30 * time.Second
	ready := func(l string) bool { return strings.Contains(l, "baresip is ready") }
	if _, err := b.WaitLine(ctx, wait, "baresip is ready", ready); err != nil {
		return fail(err)
	}
	a, err := StartProc("baresip-a", adir, PulseEnv(rig.AMicSource, rig.ASpk),
		"stdbuf", "-oL", "baresip", "-4", "-f", adir,
		"-e", fmt.Sprintf("/dial sip:bob@127.0.0.1:%d", ports[0]))
	if err != nil {
		return fail(err)
	}
	pair.a = a
	established := func(l string) bool { return strings.Contains(l, "Call established") }
	for _, p := range []*Proc{a, b} {
		if _, err := p.WaitLine(ctx, wait, "an established call", established); err != nil {
			return fail(err)
		}
	}
	return pair, nil
}

// freePorts finds n loopback ports free for UDP and TCP, each with the
// next one free too (baresip listens for SIP over TLS one port up).
func freePorts(n int) ([]int, error) {
	var ports []int
	var held []interface{ Close() error }
	defer func() {
		for _, h := range held {
			_ = h.Close() // sockets held to keep ports: nothing to flush
		}
	}()
	for try := 0; len(ports) < n && try < 100; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		var mine []interface{ Close() error }
		for _, q := range []int{p, p + 1} {
			t, err1 := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			u, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", q))
			if t != nil {
				mine = append(mine, t)
			}
			if u != nil {
				mine = append(mine, u)
			}
			if err1 != nil || err2 != nil {
				ok = false
			}
		}
		if !ok {
			for _, m := range mine {
				_ = m.Close()
			}
			continue
		}
		held = append(held, mine...) // until all are found, so none is picked twice
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("bench: no %d free port pairs on loopback", n)
	}
	return ports, nil
}
