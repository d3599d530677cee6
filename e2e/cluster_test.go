//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/natstest"
	"github.com/parley-voice/parley/internal/pulsetest"
	"github.com/parley-voice/parley/signaling"
)

// TestClusterOnNATS: three `parley serve --nats` nodes on a real nats-server
// with JetStream form one service. Presence is the same from every node;
// alice on node 1 calls bob on node 2 over PulseAudio virtual devices and
// each hears the other's tone. Bob's client knows nodes 2 and 3; alice's
// only node 1. Bob's node is killed (SIGKILL) mid-call: his client is on
// node 3 within 5 s and the audio goes on. Then alice's node, which owns
// the call, is killed: the audio goes on (media is peer to peer) and alice,
// who has nowhere to go, shows offline from node 3 within 15 s.
func TestClusterOnNATS(t *testing.T) {
	natsURL := natstest.Start(t).URL
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	// The three nodes share the token secret (the first one makes it) and the
	// API key (PARLEY_API_KEY). Their TURN servers are off: the calls are on
	// loopback, and three would contend for port 3478.
	node := func(i int) (string, *proc) {
		data := w.nodeData(i)
		return w.startNode("--data", data, "--nats", natsURL+","+strings.Replace(natsURL, "127.0.0.1", "localhost", 1),
			"--turn-listen", "off",
			"--webhook-allow", "127.0.0.1") // the webhook's receiver is on loopback
	}
	var nodes [3]string
	var procs [3]*proc
	for i := range nodes {
		nodes[i], procs[i] = node(i + 1)
	}
	w.server = nodes[0]
	alice, bob, carol := w.token("alice"), w.token("bob"), w.token("carol")

	// status asks node i (0-based) for user's state, as carol.
	status := func(i int, user string) (string, int) {
		out, code := w.run([]string{"PARLEY_SERVER=" + nodes[i], "PARLEY_TOKEN=" + carol}, "status", user)
		state, _, _ := strings.Cut(out, "\n") // offline: "last seen ..." follows
		return state, code
	}
	sameEverywhere := func(user, want string) {
		t.Helper()
		for i := range nodes {
			if got, code := status(i, user); got != want {
				t.Errorf("status %s on node %d = %q (exit %d), want %q", user, i+1, got, code, want)
			}
		}
	}

	// A webhook, registered on node 3, receives every status change of
	// the call once, signed, whichever node ran the call.
	hooks := make(chan signaling.WebhookEvent, 64)
	var secret string
	var secretOnce sync.WaitGroup
	secretOnce.Add(1)
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		secretOnce.Wait()
		if err != nil || signaling.VerifyWebhook(secret, r.Header, body, time.Minute, time.Now()) != nil {
			t.Errorf("webhook: unsigned or badly signed POST (%v): %s", err, body)
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev signaling.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook: %v: %s", err, body)
		}
		hooks <- ev
	}))
	t.Cleanup(receiver.Close)
	out, code := w.run([]string{"PARLEY_SERVER=" + nodes[2]}, "admin", "webhook", "add", receiver.URL)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) < 2 {
		t.Fatalf("parley admin webhook add: exit %d: %s", code, out)
	}
	secret = lines[len(lines)-1]
	secretOnce.Done()
	// hooked waits for the webhook's events of call id up to status want,
	// in any order, and checks that each status came once.
	seen := map[signaling.Status]int{}
	hooked := func(id string, want ...signaling.Status) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for _, st := range want {
			for seen[st] == 0 {
				select {
				case ev := <-hooks:
					if ev.ID != id {
						t.Errorf("webhook: event of call %s, want %s", ev.ID, id)
					}
					seen[ev.Status]++
					t.Logf("webhook: %s %s from node %s, %v after it happened", ev.ID, ev.Status, ev.Node,
						time.Since(ev.Time).Round(time.Millisecond))
				case <-timeout:
					t.Fatalf("webhook: no %s event for call %s within 15 s (seen %v)", st, id, seen)
				}
			}
		}
		for st, n := range seen {
			if n != 1 {
				t.Errorf("webhook: %s delivered %d times, want once", st, n)
			}
		}
	}

	pulse := pulsetest.Start(t)
	aMic, aSpk := pulse.NullSink(t, "alice_mic"), pulse.NullSink(t, "alice_spk")
	bMic, bSpk := pulse.NullSink(t, "bob_mic"), pulse.NullSink(t, "bob_spk")
	aTone, bTone := audiotest.Tone(440, 0.5, 20*audiotest.SampleRate), audiotest.Tone(660, 0.5, 20*audiotest.SampleRate)
	pulse.Loop(t, aMic, aTone)
	pulse.Loop(t, bMic, bTone)
	// Plain tones, as in TestCallOverRealDevices (see there why).
	plain := []string{"--aec", "off", "--noise-suppression", "off", "--agc", "off"}

	b := w.start(append(pulsetest.Env(bMic, bSpk), "PARLEY_SERVER="+nodes[1]+","+nodes[2], "PARLEY_TOKEN="+bob),
		append([]string{"answer", "--json"}, plain...)...)
	b.expect(t, "connected", map[string]any{"user": "bob", "server": nodes[1]})
	sameEverywhere("bob", "online")
	sameEverywhere("alice", "offline")

	a := w.start(append(pulsetest.Env(aMic, aSpk), "PARLEY_SERVER="+nodes[0], "PARLEY_TOKEN="+alice),
		append([]string{"call", "bob", "--json"}, plain...)...)
	a.expect(t, "connected", map[string]any{"user": "alice"})
	start := a.expect(t, "call", map[string]any{"status": "started", "direction": "outbound", "from": "alice",
		"to": "bob"})
	b.expect(t, "call", map[string]any{"status": "started", "direction": "inbound", "id": start["id"]})
	for _, p := range []*proc{a, b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "ringing", "id": start["id"]})
		p.expect(t, "call_status_changed", map[string]any{"status": "answered", "id": start["id"]})
	}
	sameEverywhere("alice", "in_call")
	sameEverywhere("bob", "in_call")
	hooked(start["id"].(string), signaling.Started, signaling.Ringing, signaling.Answered)

	// hear checks that each speaker plays the other's tone.
	hear := func(when string) {
		t.Helper()
		hearTones(t, when, speaker{"alice's speaker", aSpk, 660}, speaker{"bob's speaker", bSpk, 440})
	}
	hear("across nodes")

	// killNode kills node i (0-based) with SIGKILL and returns when.
	killNode := func(i int) time.Time {
		t.Helper()
		if err := procs[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		procs[i].wait(t)
		return killed
	}
	// stillUp checks that both clients still run.
	stillUp := func(what string) {
		t.Helper()
		for _, p := range []*proc{a, b} {
			select {
			case <-p.done:
				t.Fatalf("%s: %v exited (%d) mid-call; stderr: %s", what, p.cmd.Args[1:], p.code, p.stderr.String())
			default:
			}
		}
	}
	// kill kills node i, checks that the call's audio goes on, and waits
	// for user (whose client cl was on that node, and knows no other) to
	// show offline from node 3: within 15 s. The presence of a dead
	// node's sessions expires 2.5 heartbeats (5 s) after its last refresh,
	// 7.5 to 12.5 s after the node died, so status is asked every 250 ms.
	kill := func(i int, user string, cl *proc) {
		t.Helper()
		killed := killNode(i)
		what := fmt.Sprintf("node %d (%s's) killed", i+1, user)
		hear(what)
		var offline time.Duration
		for {
			st, code := status(2, user)
			if code == exitOffline && st == "offline" {
				offline = time.Since(killed)
				break
			}
			if st != "in_call" && st != "online" {
				t.Fatalf("%s: status %s on node 3 = %q (exit %d), want in_call until offline", what, user, st, code)
			}
			if time.Since(killed) > 20*time.Second {
				t.Fatalf("%s: %s still %q on node 3 after 20 s", what, user, st)
			}
			select {
			case <-time.After(250 * time.Millisecond):
			case <-cl.done:
				t.Fatalf("%s: %s's client exited (%d); stderr: %s", what, user, cl.code, cl.stderr.String())
			}
		}
		t.Logf("%s: %s offline on node 3 after %v", what, user, offline.Round(time.Millisecond))
		if offline > 15*time.Second {
			t.Errorf("%s: %s offline after %v, want within 15 s", what, user, offline.Round(time.Millisecond))
		}
		// The call is still up on both ends, and its audio flows.
		stillUp(what)
		hear(fmt.Sprintf("%s %v ago", what, time.Since(killed).Round(time.Second)))
	}
	// Bob's node dies: his client moves to node 3, resumes its session
	// there, and the call goes on.
	killed := killNode(1)
	b.expect(t, "connected", map[string]any{"up": false})
	b.expect(t, "connected", map[string]any{"up": true, "user": "bob", "server": nodes[2]})
	moved := time.Since(killed)
	t.Logf("node 2 (bob's) killed: bob's client on node 3 after %v", moved.Round(time.Millisecond))
	if moved > 5*time.Second {
		t.Errorf("bob's client moved to node 3 after %v, want within 5 s", moved.Round(time.Millisecond))
	}
	for _, i := range []int{0, 2} {
		if got, code := status(i, "bob"); got != "in_call" {
			t.Errorf("status bob on node %d after his node died = %q (exit %d), want in_call", i+1, got, code)
		}
	}
	stillUp("node 2 (bob's) killed")
	hear("node 2 (bob's) killed, bob on node 3")

	// Alice's node dies, which owns the call (the caller's node does).
	kill(0, "alice", a)

	// Bob hangs up: node 3 takes the call over from the calls bucket and
	// ends it, and the webhook hears of it once.
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	b.expect(t, "call_status_changed", map[string]any{"status": "completed", "id": start["id"]})
	if code := b.wait(t); code != exitOK {
		t.Errorf("bob's parley answer exited %d after hanging up, want 0", code)
	}
	hooked(start["id"].(string), signaling.Completed)
}

// TestClusterRefusesOldNATS: a node pointed at a nats-server older than
// 2.11 (Debian 12's is 2.9) does not start, and says which version it
// needs, rather than failing later on the first call.
func TestClusterRefusesOldNATS(t *testing.T) {
	bin, out, err := natstest.Installed(context.Background())
	if err != nil || natstest.VersionOK(out) {
		t.Skipf("no nats-server older than 2.11 here: %s %v", out, err)
	}
	url := natstest.StartBinary(t, bin).URL
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	p := w.start(nil, "serve", "--listen", "127.0.0.1:0", "--data", w.home+"/data", "--nats", url, "--turn-listen",
		"off")
	if code := p.wait(t); code == 0 {
		t.Fatalf("parley serve on %s exited 0", out)
	}
	msg := p.stderr.String()
	t.Logf("parley serve on %s: %s", out, msg)
	if !strings.Contains(msg, "needs nats-server 2.11 or later") {
		t.Errorf("parley serve on %s: stderr %q, want it to say it needs nats-server 2.11 or later", out, msg)
	}
}

// nodeData is the data directory of node i (from 1). The nodes share the
// token secret: the first one makes it, and the others get a copy.
func (w *world) nodeData(i int) string {
	w.t.Helper()
	data := filepath.Join(w.home, fmt.Sprintf("node%d", i))
	if i > 1 {
		secret, err := os.ReadFile(filepath.Join(w.home, "node1", "token_secret"))
		if err != nil {
			w.t.Fatal(err)
		}
		if err := errors.Join(os.MkdirAll(data, 0o700), os.WriteFile(filepath.Join(data, "token_secret"), secret,
			0o600)); err != nil {
			w.t.Fatal(err)
		}
	}
	return data
}

// startNode starts `parley serve` on a free loopback port with args and
// returns its URL and process.
// twoNodes starts two nodes on the NATS server at natsURL, without TURN,
// and makes the first the world's server; it returns their URLs.
func (w *world) twoNodes(natsURL string) [2]string {
	w.t.Helper()
	var nodes [2]string
	for i := range nodes {
		nodes[i], _ = w.startNode("--data", w.nodeData(i+1), "--nats", natsURL, "--turn-listen", "off",
			"--room-port", "0")
	}
	w.server = nodes[0]
	return nodes
}

func (w *world) startNode(args ...string) (string, *proc) {
	w.t.Helper()
	p := w.start(nil, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	line := p.line(w.t)
	const prefix = "parley server listening on "
	if !strings.HasPrefix(line, prefix) {
		w.t.Fatalf("parley serve printed %q", line)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, prefix)), p
}
