package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/spf13/cobra"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// check is one line of the doctor's checklist.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Skip   bool   `json:"skipped,omitempty"` // not applicable here: neither pass nor fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // what to do, for a failure
}

// doctor runs the checks and collects their results.
type doctor struct {
	e      *env
	log    *slog.Logger
	out    io.Writer
	json   bool
	checks []check
}

func (d *doctor) add(c check) {
	d.checks = append(d.checks, c)
	if d.json {
		return
	}
	mark := "✓"
	switch {
	case c.Skip:
		mark = "-"
	case !c.OK:
		mark = "✗"
	}
	say(d.out, "%s %-18s %s", mark, c.Name, c.Detail) // the detail may hold the server's words
	if !c.OK && !c.Skip && c.Fix != "" {
		say(d.out, "  %-18s → %s", "", c.Fix)
	}
}

func (e *env) doctorCommand() *cobra.Command {
	var (
		in, out, echoUser string
		echoDelay         time.Duration
		asJSON, noAudio   bool
		ice               iceFlags
	)
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the audio devices, the server, the network and a call to the echo service",
		Long: `Check what a call needs, one line each, and say what to do about each failure:
the audio devices (listed, opened; 2 s recorded with the level shown; a test
tone played), the server (reachable, token valid, round trip), STUN and TURN
over UDP and TCP, and a call to the echo service with its round trip and
quality. Exit status 0 when every check passes, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := e.logger("parley")
			if err != nil {
				return fail(err)
			}
			d := &doctor{e: e, log: log, out: e.stdout, json: asJSON}
			d.run(cmd.Context(), in, out, echoUser, echoDelay, noAudio, ice)
			if asJSON {
				b, _ := json.MarshalIndent(struct {
					OK     bool    `json:"ok"`
					Checks []check `json:"checks"`
				}{d.passed(), d.checks}, "", "  ")
				fmt.Fprintf(e.stdout, "%s\n", harmlessJSON(b))
			} else if d.passed() {
				fmt.Fprintln(e.stdout, "all checks passed")
			}
			if !d.passed() {
				return &exitCode{code: exitOffline}
			}
			return nil
		},
	}
	c.Flags().StringVar(&in, "in", "", "microphone to check (default: the saved input, else default)")
	c.Flags().StringVar(&out, "out", "", "speaker to check (default: the saved output, else default)")
	c.Flags().StringVar(&echoUser, "echo", "echo", "the echo service's user id (parley demo and parley echo run one)")
	c.Flags().DurationVar(&echoDelay, "echo-delay", time.Second, "how long the echo service holds audio before playing it back (parley echo --delay)")
	c.Flags().BoolVar(&noAudio, "no-audio", false, "skip the audio devices (a machine without a sound system)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the checklist as one JSON object")
	ice.register(c.Flags())
	return c
}

func (d *doctor) passed() bool {
	for _, c := range d.checks {
		if !c.OK && !c.Skip {
			return false
		}
	}
	return true
}

func (d *doctor) run(ctx context.Context, in, out, echoUser string, echoDelay time.Duration, noAudio bool, ice iceFlags) {
	cfg, err := d.e.config()
	if err == nil {
		err = cfg.Validate()
	}
	if !noAudio {
		d.audio(pick(in, cfg.Input), pick(out, cfg.Output))
	}
	if err != nil {
		d.add(check{Name: "configuration", Detail: err.Error(), Fix: "sign in with `parley login INVITE` (your admin gives you the invite), or pass --server and --token"})
		return
	}
	if !d.server(ctx, cfg.Server) {
		return
	}
	// A device signed in with `parley login` trades its credential for an
	// access token, as every command does.
	token, source := d.e.auth(cfg)
	if source != nil {
		if token, err = source(ctx); err != nil {
			d.add(check{Name: "token", Detail: err.Error(), Fix: "sign in again with `parley login INVITE`: this device may have been revoked"})
			return
		}
	}
	sig, ok := d.signIn(ctx, cfg.Server, token)
	if !ok {
		return
	}
	var pc call.Config
	if err := ice.apply(&pc, cfg); err != nil {
		d.add(check{Name: "ICE servers", Detail: err.Error(), Fix: "fix the --ice-server flags or ice_servers in the config"})
	}
	servers := append([]signaling.ICEServer(nil), sig.ICEServers...)
	for _, s := range pc.ICEServers {
		servers = append(servers, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: fmt.Sprint(s.Credential)})
	}
	sig.Close()
	d.network(servers)
	d.echoCall(ctx, cfg.Server, token, echoUser, echoDelay, pc)
}

// audio lists and opens the devices, records 2 s and plays a test tone.
func (d *doctor) audio(in, out string) {
	sys, err := audio.NewSystem(d.log)
	if err != nil {
		d.add(check{Name: "audio system", Detail: err.Error(), Fix: "install and start a sound server (PulseAudio or PipeWire), or use --no-audio on a machine without sound"})
		return
	}
	defer sys.Close()
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
	d.add(check{Name: "audio devices", OK: ok, Detail: fmt.Sprintf("%d inputs, %d outputs (parley devices lists them)", ins, outs),
		Fix: "no microphone or no speaker: is the sound server running, and may your user use it (the audio group)?"})
	if !ok {
		return
	}
	if src, err := audio.OpenSource(sys, in, audio.FrameSamples); err != nil {
		d.add(check{Name: "microphone", Detail: err.Error(), Fix: "pick another with --in (see parley devices)"})
	} else {
		d.record(src, in)
		src.Close()
	}
	if sink, err := audio.OpenSink(sys, out, audio.FrameSamples); err != nil {
		d.add(check{Name: "speaker", Detail: err.Error(), Fix: "pick another with --out (see parley devices)"})
	} else {
		d.tone(sink, out)
		sink.Close()
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
			d.add(check{Name: "microphone", Detail: fmt.Sprintf("%s: %v", name, err), Fix: "the device stopped delivering audio: pick another with --in"})
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
	detail := fmt.Sprintf("%s: recorded 2 s, level %.0f dBFS, peak %.0f dBFS", name, db, 20*math.Log10(float64(peak)/32768+1e-12))
	silent := int(hi)-int(lo) <= 4 || db < -80
	d.add(check{Name: "microphone", OK: !silent, Detail: detail,
		Fix: "your microphone seems silent: unmute it, raise its volume, or pick another with --in (parley devices lists them)"})
}

// tone plays 1 s of 440 Hz at -12 dBFS on sink.
func (d *doctor) tone(sink audio.Sink, name string) {
	src := audio.NewTone(440, 0.25, audio.FrameSamples)
	defer src.Close()
	frame := make([]int16, audio.FrameSamples)
	start := time.Now()
	for range 50 {
		src.Read(frame)
		if err := sink.Write(frame); err != nil {
			d.add(check{Name: "speaker", Detail: fmt.Sprintf("%s: %v", name, err), Fix: "the device stopped taking audio: pick another with --out"})
			return
		}
	}
	d.add(check{Name: "speaker", OK: true, Detail: fmt.Sprintf("%s: played a 440 Hz test tone for %v (you should have heard it)", name, time.Since(start).Round(100*time.Millisecond))})
}

// server checks that the server answers and how fast.
func (d *doctor) server(ctx context.Context, server string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/healthz", nil)
	if err != nil {
		d.add(check{Name: "server", Detail: err.Error(), Fix: "check --server (e.g. http://127.0.0.1:7700)"})
		return false
	}
	start := time.Now()
	resp, err := d.e.http.Do(req)
	rtt := time.Since(start)
	if err != nil {
		d.add(check{Name: "server", Detail: fmt.Sprintf("%s: %v", server, err), Fix: "is `parley serve` running there, and does a firewall let you through?"})
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.add(check{Name: "server", Detail: fmt.Sprintf("%s: /healthz answered %s", server, resp.Status), Fix: "the server is not healthy: see its log"})
		return false
	}
	d.add(check{Name: "server", OK: true, Detail: fmt.Sprintf("%s reachable, round trip %v", server, rtt.Round(100*time.Microsecond))})
	return true
}

// signIn checks the token by signing in.
func (d *doctor) signIn(ctx context.Context, server, token string) (*signaling.Client, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	sig, err := signaling.Dial(ctx, server, token, signaling.DialOptions{HTTPClient: d.e.http})
	if err != nil {
		fix := "check that the server runs and that the token is this server's"
		var se *signaling.Error
		if errors.As(err, &se) && se.Code == signaling.InvalidToken {
			fix = "sign in again with `parley login INVITE` (ask your admin for an invite), or get a new token from your admin"
		}
		d.add(check{Name: "token", Detail: err.Error(), Fix: fix})
		return nil, false
	}
	d.add(check{Name: "token", OK: true, Detail: fmt.Sprintf("valid: signed in as %s in %v", sig.User, time.Since(start).Round(100*time.Microsecond))})
	return sig, true
}

// network checks the STUN and TURN servers over UDP and TCP.
func (d *doctor) network(servers []signaling.ICEServer) {
	type target struct {
		uri        *stun.URI
		user, pass string
	}
	var stuns, turns []target
	for _, s := range servers {
		for _, u := range s.URLs {
			uri, err := stun.ParseURI(u)
			if err != nil {
				continue
			}
			t := target{uri, s.Username, s.Credential}
			if uri.Scheme == stun.SchemeTypeSTUN {
				stuns = append(stuns, t)
			} else if uri.Scheme == stun.SchemeTypeTURN {
				turns = append(turns, t)
			}
		}
	}
	// A TURN server answers STUN binding requests too: after the STUN
	// servers, try those.
	for _, t := range turns {
		stuns = append(stuns, target{uri: &stun.URI{Scheme: stun.SchemeTypeSTUN, Host: t.uri.Host, Port: t.uri.Port, Proto: t.uri.Proto}})
	}
	for _, proto := range []stun.ProtoType{stun.ProtoTypeUDP, stun.ProtoTypeTCP} {
		name := "STUN " + proto.String()
		var tried []string
		done := false
		for _, t := range stuns {
			if t.uri.Proto != proto && !(proto == stun.ProtoTypeUDP && t.uri.Proto == stun.ProtoTypeUnknown) {
				continue
			}
			addr := net.JoinHostPort(t.uri.Host, fmt.Sprint(t.uri.Port))
			start := time.Now()
			mapped, err := turnProbe(proto, addr, "", "", false)
			if err != nil {
				tried = append(tried, fmt.Sprintf("%s: %v", addr, err))
				continue
			}
			d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("%s answered in %v: you are %s", addr, time.Since(start).Round(100*time.Microsecond), mapped)})
			done = true
			break
		}
		switch {
		case done:
		case len(tried) == 0:
			d.add(check{Name: name, Skip: true, Detail: "no STUN server over " + proto.String() + " is offered"})
		default:
			d.add(check{Name: name, Detail: strings.Join(tried, "; "), Fix: "a firewall blocks " + proto.String() + " to the STUN server; calls may still work through TURN"})
		}
	}
	for _, proto := range []stun.ProtoType{stun.ProtoTypeUDP, stun.ProtoTypeTCP} {
		name := "TURN " + proto.String()
		var tried []string
		done := false
		for _, t := range turns {
			if t.uri.Proto != proto {
				continue
			}
			addr := net.JoinHostPort(t.uri.Host, fmt.Sprint(t.uri.Port))
			start := time.Now()
			relay, err := turnProbe(proto, addr, t.user, t.pass, true)
			if err != nil {
				tried = append(tried, fmt.Sprintf("%s: %v", addr, err))
				continue
			}
			d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("%s gave a relay at %s in %v", addr, relay, time.Since(start).Round(100*time.Microsecond))})
			done = true
			break
		}
		switch {
		case done:
		case len(tried) == 0:
			d.add(check{Name: name, Skip: true, Detail: "not offered by this server (nor by --ice-server)"})
		default:
			d.add(check{Name: name, Detail: strings.Join(tried, "; "),
				Fix: "check the TURN credentials and that " + proto.String() + " to the TURN server is allowed; behind a strict firewall calls need TURN over TCP"})
		}
	}
}

// turnProbe sends a STUN binding request (and, with allocate, asks for a
// TURN relay) to addr over proto and returns the mapped or relayed
// address.
func turnProbe(proto stun.ProtoType, addr, user, pass string, allocate bool) (net.Addr, error) {
	var conn net.PacketConn
	switch proto {
	case stun.ProtoTypeTCP:
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return nil, err
		}
		conn = turn.NewSTUNConn(c)
	default:
		c, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			return nil, err
		}
		conn = c
	}
	defer conn.Close()
	cfg := &turn.ClientConfig{STUNServerAddr: addr, Conn: conn, RTO: 300 * time.Millisecond}
	if allocate {
		cfg.TURNServerAddr, cfg.Username, cfg.Password = addr, user, pass
	}
	client, err := turn.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		return nil, err
	}
	type result struct {
		addr net.Addr
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if !allocate {
			a, err := client.SendBindingRequest()
			done <- result{a, err}
			return
		}
		relay, err := client.Allocate()
		if err != nil {
			done <- result{nil, err}
			return
		}
		done <- result{relay.LocalAddr(), nil}
		relay.Close()
	}()
	select {
	case r := <-done:
		return r.addr, r.err
	case <-time.After(5 * time.Second):
		return nil, errors.New("no answer in 5 s")
	}
}

// echoCall calls the echo service with a generated source: a 1 kHz burst
// every 1.5 s; the sink times each burst's return. The round trip is that
// time less the echo's hold.
func (d *doctor) echoCall(ctx context.Context, server, token, echoUser string, hold time.Duration, pc call.Config) {
	probe := newEchoProbe()
	pc.Server, pc.Token, pc.HTTPClient, pc.Logger = server, token, d.e.http, d.log
	pc.Devices = probe
	ph, err := call.Start(ctx, pc)
	if err != nil {
		d.add(check{Name: "echo call", Detail: err.Error(), Fix: "the server refused to sign in a second time: see its log"})
		return
	}
	defer ph.Close()
	ph.Dial(echoUser)
	deadline := time.After(15 * time.Second)
	var stats *call.Stats
	answered := false
	for {
		select {
		case ev, ok := <-ph.Events():
			if !ok {
				d.add(check{Name: "echo call", Detail: "the phone stopped"})
				return
			}
			switch ev := ev.(type) {
			case call.Failure:
				d.add(check{Name: "echo call", Detail: ev.Err.Message, Fix: "is the echo service (parley echo, or parley demo) signed in as " + echoUser + "? pass its user id with --echo"})
				return
			case call.StatusChanged:
				switch {
				case ev.Status == signaling.Answered:
					answered = true
				case ev.Status.Terminal():
					d.add(check{Name: "echo call", Detail: fmt.Sprintf("the call ended: %s %s", ev.Status, ev.Reason), Fix: "see the log (parley --log) for why media could not flow"})
					return
				}
			case call.Stats:
				s := ev
				stats = &s
			}
		case <-probe.enough:
			ph.Hangup()
			rt := probe.roundTrip() - hold
			detail := fmt.Sprintf("%s answered; audio round trip %v (after the echo's %v hold), %d of %d bursts back", echoUser, rt.Round(time.Millisecond), hold, probe.heard(), probe.sent())
			if stats != nil {
				detail += fmt.Sprintf("; network RTT %v, jitter %v, loss %.1f%%", stats.RTT.Round(100*time.Microsecond), stats.Jitter.Round(100*time.Microsecond), 100*stats.Loss)
				if stats.MOS > 0 {
					detail += fmt.Sprintf(", MOS %.1f", stats.MOS)
				}
			}
			ok := rt < 800*time.Millisecond && (stats == nil || stats.Loss < 0.05)
			d.add(check{Name: "echo call", OK: ok, Detail: detail, Fix: "the round trip or the loss is high: a slow or lossy network (try a wired connection, or TURN over UDP)"})
			return
		case <-deadline:
			what := "no answer"
			fix := "is the echo service (parley echo, or parley demo) online as " + echoUser + "?"
			if answered {
				what, fix = "answered, but no audio came back within 15 s", "media cannot flow: check the STUN and TURN lines above"
			}
			d.add(check{Name: "echo call", Detail: what, Fix: fix})
			return
		case <-ctx.Done():
			return
		}
	}
}

// echoProbe is the doctor's call devices: a source of 1 kHz bursts and a
// sink that times their return.
type echoProbe struct {
	mu       sync.Mutex
	sentAt   []time.Time
	heardAt  []time.Time
	enough   chan struct{}
	enoughMu sync.Once
}

func newEchoProbe() *echoProbe { return &echoProbe{enough: make(chan struct{})} }

const (
	probeEvery  = 75 // frames between bursts (1.5 s)
	probeBursts = 3  // bursts timed before hanging up
)

func (p *echoProbe) OpenSource(n int) (audio.Source, error) {
	return &probeSource{p: p, clock: audio.NewSilence(n), tone: audio.NewTone(1000, 0.5, n)}, nil
}

func (p *echoProbe) OpenSink(n int) (audio.Sink, error) {
	return &probeSink{p: p, clock: audio.NewNullSink()}, nil
}

func (p *echoProbe) sent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sentAt)
}

func (p *echoProbe) heard() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heardAt)
}

// roundTrip is the median time from a burst's start to its return.
func (p *echoProbe) roundTrip() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rts []time.Duration
	for i, h := range p.heardAt {
		if i < len(p.sentAt) {
			rts = append(rts, h.Sub(p.sentAt[i]))
		}
	}
	if len(rts) == 0 {
		return 0
	}
	for i := range rts { // sort (three values)
		for j := i + 1; j < len(rts); j++ {
			if rts[j] < rts[i] {
				rts[i], rts[j] = rts[j], rts[i]
			}
		}
	}
	return rts[len(rts)/2]
}

type probeSource struct {
	p     *echoProbe
	clock audio.Source
	tone  audio.Source
	n     int
}

func (s *probeSource) Read(frame []int16) error {
	if err := s.clock.Read(frame); err != nil {
		return err
	}
	k := s.n % probeEvery
	s.n++
	if k < 10 { // a 200 ms burst
		if k == 0 {
			s.p.mu.Lock()
			s.p.sentAt = append(s.p.sentAt, time.Now())
			s.p.mu.Unlock()
		}
		return s.tone.Read(frame)
	}
	return nil
}

func (s *probeSource) Close() error {
	s.tone.Close()
	return s.clock.Close()
}

type probeSink struct {
	p      *echoProbe
	clock  audio.Sink
	inTone bool
}

func (s *probeSink) Write(frame []int16) error {
	if err := s.clock.Write(frame); err != nil {
		return err
	}
	var sum float64
	for _, v := range frame {
		sum += float64(v) * float64(v)
	}
	loud := math.Sqrt(sum/float64(len(frame))) > 0.05*32768
	if loud && !s.inTone {
		s.p.mu.Lock()
		if len(s.p.heardAt) < len(s.p.sentAt) { // not the ringback: a burst sent
			s.p.heardAt = append(s.p.heardAt, time.Now())
		}
		if len(s.p.heardAt) >= probeBursts {
			s.p.enoughMu.Do(func() { close(s.p.enough) })
		}
		s.p.mu.Unlock()
	}
	s.inTone = loud
	return nil
}

func (s *probeSink) Close() error { return s.clock.Close() }
