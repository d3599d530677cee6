//go:build e2e

package e2e

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
)

// freePort returns a port free on 127.0.0.1 for both UDP and TCP, as far
// as can be told.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestCoturn: with parley's own TURN server off, two parley processes in
// relay-only mode call each other through coturn, a standard TURN server,
// with TURN REST API credentials given on the command line.
func TestCoturn(t *testing.T) {
	if _, err := exec.LookPath("turnserver"); err != nil {
		t.Skip("coturn is not installed (make test installs it)")
	}
	port := freePort(t)
	const secret = "coturn-test-secret"
	dir := t.TempDir()
	turn := exec.Command("turnserver", "-n", "--no-tls", "--no-dtls", "--no-cli", "--no-stdout-log",
		"--log-file", filepath.Join(dir, "turn.log"), "--pidfile", filepath.Join(dir, "turn.pid"),
		"--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--listening-port", strconv.Itoa(port),
		"--min-port", "49152", "--max-port", "65535",
		"--use-auth-secret", "--static-auth-secret", secret, "--realm", "parley",
		"--allow-loopback-peers", "--no-multicast-peers", "--userdb", filepath.Join(dir, "turndb"))
	if err := turn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { turn.Process.Kill(); turn.Wait() })
	// Ready when it takes TCP connections on its port.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "turn.log"))
			t.Fatalf("coturn did not start: %s", log)
		}
		time.Sleep(50 * time.Millisecond) // coturn says nothing when ready
	}
	creds := func(user string) []string {
		name := fmt.Sprintf("%d:%s", time.Now().Add(time.Hour).Unix(), user)
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write([]byte(name))
		return []string{"--relay-only", "--ice-server", fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port),
			"--ice-username", name, "--ice-password", base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	}

	w := newWorld(t, "--turn-listen", "off")
	alice, bob := "PARLEY_TOKEN="+w.token("alice"), "PARLEY_TOKEN="+w.token("bob")
	heard := filepath.Join(dir, "bob.wav")
	b := w.start([]string{bob}, append([]string{"answer", "--in", "tone:660", "--out", "file:" + heard, "--json"},
		creds("bob")...)...)
	b.expect(t, "connected", nil)
	a := w.start([]string{alice}, append([]string{"call", "bob", "--in", "tone:440", "--out", "null", "--for", "3s",
		"--json"}, creds("alice")...)...)
	a.expect(t, "connected", nil)
	a.expect(t, "call", nil)
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
	a.expect(t, "call_status_changed", map[string]any{"status": "answered"})
	st := a.expect(t, "stats", nil)
	t.Logf("through coturn: %v", st)
	if st["relayed"] != true || st["transport"] != "udp" {
		t.Errorf("stats %v, want relayed over udp", st)
	}
	a.expect(t, "call_status_changed", map[string]any{"status": "completed"})
	if code := b.wait(t); code != exitOK {
		t.Fatalf("answer exited %d: %s", code, b.stderr.String())
	}
	wav, err := audiotest.ReadWAV(heard)
	if err != nil {
		t.Fatal(err)
	}
	s := wav.Samples[len(wav.Samples)/2:]
	if f := audiotest.DominantFrequency(s); f < 435 || f > 445 {
		t.Errorf("bob heard %.1f Hz through coturn, want 440", f)
	}
}
