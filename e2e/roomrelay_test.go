//go:build e2e

package e2e

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling/server/turn/turntest"
)

// TestRoomRelayOnly: `parley join --relay-only` sends and receives a
// room's media through the server's TURN relay alone, the relay being on
// this machine's address that is not loopback (one on loopback reaches the
// whole machine); Bob joins directly. Each hears the other's tone.
func TestRoomRelayOnly(t *testing.T) {
	ip := turntest.HostIPv4()
	if ip == "" {
		t.Skip("this machine has no IPv4 address but loopback")
	}
	w := newWorld(t, "--turn-listen", net.JoinHostPort(ip, "0"))
	alice, bob := []string{"PARLEY_TOKEN=" + w.token("alice")}, []string{"PARLEY_TOKEN=" + w.token("bob")}
	if out, code := w.run(alice, "room", "create", "firewalled"); code != exitOK {
		t.Fatalf("parley room create: exit %d: %s", code, out)
	}
	dir := t.TempDir()
	heard := map[string]string{"alice": filepath.Join(dir, "alice.wav"), "bob": filepath.Join(dir, "bob.wav")}
	a := w.start(alice, "join", "firewalled", "--relay-only", "--in", "tone:440", "--out", "file:"+heard["alice"],
		"--for", "4s", "--json")
	a.expectRoom(t, "joined", map[string]any{"user": "alice"})
	b := w.start(bob, "join", "firewalled", "--in", "tone:660", "--out", "file:"+heard["bob"], "--for", "3s",
		"--json")
	b.expectRoom(t, "joined", map[string]any{"user": "bob"})
	for _, p := range []*proc{a, b} {
		if code := p.wait(t); code != exitOK {
			t.Fatalf("%v exited %d: %s", p.cmd.Args[1:], code, p.stderr.String())
		}
	}
	// Both are in the room for Bob's 3 s, the middle of his recording and
	// the end of hers.
	for who, want := range map[string]float64{"alice": 660, "bob": 440} {
		wav, err := audiotest.ReadWAV(heard[who])
		if err != nil {
			t.Fatal(err)
		}
		n := len(wav.Samples)
		s := wav.Samples[n/3 : 2*n/3]
		if who == "alice" {
			s = wav.Samples[n/2 : n-n/8]
		}
		f := audiotest.DominantFrequency(s)
		if f < want-5 || f > want+5 {
			t.Errorf("%s heard %.1f Hz, want %.0f", who, f, want)
		}
		t.Logf("%s heard %.1f Hz", who, f)
	}
}
