package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildParley builds the parley command from the module at dir into out,
// with the race detector when race is set (a test binary built with -race
// then shares its compiled packages), and with the build tags given
// ("client": the client build, without the server).
func BuildParley(ctx context.Context, dir, out string, race bool, tags ...string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		// No go on PATH: the toolchain that built this harness (go test,
		// go run), which is where its GOROOT points.
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: see above

	}
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, gobin, append(args, ".")...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: go build parley: %w: %s", err, b)
	}
	return nil
}

// ModuleRoot returns the directory of the parley module, found from the
// working directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b),
			"module github.com/parley-voice/parley\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("bench: not inside the parley module")
		}
		dir = up
	}
}

// apiKey is the admin API key of the servers the harness runs.
const apiKey = "parley-bench-api-key-0123456789"

// Server is a `parley serve` process.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer runs `parley serve` on a free loopback port with its data in
// dir and its log in dir/serve.log.
func StartServer(ctx context.Context, parley, dir string, args ...string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the server writes to its own copy
	// The calls of a benchmark come one after another between the same
	// two users, as fast as they can: no limit on them.
	cmd := exec.Command(parley, append([]string{"serve", "--listen", "127.0.0.1:0",
		"--data", filepath.Join(dir, "data"), "--log", filepath.Join(dir, "serve.log"),
		"--dial-limit", "-1", "--ring-limit", "-1", "--message-limit", "-1"}, args...)...)
	cmd.Env = append(os.Environ(), "PARLEY_API_KEY="+apiKey)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: parley serve: %w", err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	const prefix = "parley server listening on "
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, prefix) {
			s.Stop()
			return nil, fmt.Errorf("bench: parley serve printed %q", l)
		}
		s.URL = strings.TrimSpace(strings.TrimPrefix(l, prefix))
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("bench: parley serve exited: see %s", filepath.Join(dir, "serve.log"))
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, errors.New("bench: parley serve did not start within 30s")
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop interrupts the server and waits for it.
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Token issues a token for user from the server's token endpoint, through
// hc (nil: a default client).
func (s *Server) Token(ctx context.Context, hc *http.Client, user string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/voice/users/"+url.PathEscape(user)+
			"/token", nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("APP_API_KEY", apiKey)
		resp, err := hc.Do(req)
		if err != nil {
			if try < 5 && ctx.Err() == nil {
				time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
				continue
			}
			return "", fmt.Errorf("bench: token for %s: %w", user, err)
		}
		var body struct {
			Token   string `json:"token"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && try < 50 {
			time.Sleep(time.Second) // the per-address limit: wait for its bucket
			continue
		}
		if err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
			return "", fmt.Errorf("bench: token for %s: HTTP %d: %v %s", user, resp.StatusCode, err, body.Message)
		}
		return body.Token, nil
	}
}

// fromAddr returns an HTTP client whose connections leave from the
// loopback address ip, so that many clients spread over several addresses
// (the server limits requests per address, and each address has its own
// ephemeral ports).
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// Proc is a client process whose stdout is read line by line.
type Proc struct {
	Name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error

	mu   sync.Mutex
	tail []string // the last lines, for error messages
}

// StartProc starts a client process with env added to this process's.
func StartProc(name, dir string, env []string, bin string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := os.Create(filepath.Join(dir, name+".stderr"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = stderr.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = stderr.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	stdout, err := os.Create(filepath.Join(dir, name+".stdout"))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		_ = stderr.Close()
		return nil, err
	}
	p := &Proc{Name: name, cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer func() { _ = stderr.Close() }() // the process wrote to its own copy
		defer func() { _ = stdout.Close() }() // a copy of what p.lines has
		sc := bufio.NewScanner(io.TeeReader(out, stdout))
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.tail = append(p.tail, sc.Text())
			if len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for lines this far back
			}
		}
		close(p.lines)
		p.err = cmd.Wait()
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitLine waits for a line for which match returns true.
func (p *Proc) WaitLine(ctx context.Context, timeout time.Duration, what string,
	match func(string) bool) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				return "", fmt.Errorf("bench: %s exited (%v) before %s; last output: %s", p.Name, p.err, what,
					p.lastLines())
			}
			if match(l) {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("bench: %s: no %s within %v; last output: %s", p.Name, what, timeout, p.lastLines())
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// WaitEvent waits for a --json event with the given fields.
func (p *Proc) WaitEvent(ctx context.Context, timeout time.Duration, want map[string]string) error {
	_, err := p.WaitLine(ctx, timeout, fmt.Sprint(want), func(l string) bool {
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) != nil {
			return false
		}
		for k, v := range want {
			if fmt.Sprint(ev[k]) != v {
				return false
			}
		}
		return true
	})
	return err
}

func (p *Proc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, " | ")
}

// Stop asks the process to end with sig, and kills it after a while.
func (p *Proc) Stop(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
