//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/internal/natstest"
	"github.com/parley-voice/parley/signaling"
)

// The voice messages of issue 18, with real parley processes against two
// `parley serve` nodes of one service.

// TestVoiceMessages: Alice calls Bob while he is offline (80404) with
// --leave-message file: of a 600 Hz tone: the message (2 s) is left on
// node 1. Bob, signing in on node 2, is told "1 voice message not heard
// yet"; online there (parley answer, not answering), he is told at once of
// the 440 Hz message Alice leaves after her next call goes unanswered
// (--ring-timeout, exit 4). Node 1 lists both, new; Bob plays the 600 Hz
// one from node 2 to a file, where its tone is found at 600 Hz for 2 s;
// it is then heard, and deleted from node 1, gone on node 2. Last, Bob
// rejects Alice's call asking for a message (answer --reject-message):
// her call ends rejected, reason "leave a message" (exit 3), and she
// leaves one.
func TestVoiceMessages(t *testing.T) {
	natsURL := natstest.Start(t).URL
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	nodes := w.twoNodes(natsURL)
	aliceTok, bobTok := w.token("alice"), w.token("bob")
	alice := []string{"PARLEY_SERVER=" + nodes[0], "PARLEY_TOKEN=" + aliceTok}
	bobOn := func(node int) []string { return []string{"PARLEY_SERVER=" + nodes[node], "PARLEY_TOKEN=" + bobTok} }
	tones := map[float64]string{}
	for _, hz := range []float64{600, 440} {
		tones[hz] = filepath.Join(w.home, fmt.Sprintf("tone%.0f.wav", hz))
		if err := audiotest.WriteWAV(tones[hz], audiotest.Tone(hz, 0.5, 2*48000), 48000, 1); err != nil {
			t.Fatal(err)
		}
	}
	media := []string{"--in", "silence", "--out", "null", "--json"}
	left := func(out string) signaling.VoiceMessage {
		t.Helper()
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, `"event":"voice_message_left"`) {
				var m signaling.VoiceMessage
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
		t.Fatalf("no voice_message_left event in:\n%s", out)
		return signaling.VoiceMessage{}
	}

	// Offline: refused, and the message left.
	out, code := w.run(alice, append([]string{"call", "bob", "--leave-message", "file:" + tones[600]}, media...)...)
	if code != exitError || !strings.Contains(out, `"code":80404`) {
		t.Fatalf("alice calls bob, offline: exit %d, want %d with 80404:\n%s", code, exitError, out)
	}
	first := left(out)
	if first.To != "bob" || first.From != "alice" || first.DurationMS != 2000 {
		t.Errorf("the message left: %+v, want 2000 ms from alice to bob", first)
	}

	const notice = "1 voice message not heard yet: alice (parley messages, parley play ID)"
	p := w.start(bobOn(1), "status", "alice")
	if code := p.wait(t); code != exitOffline || !strings.Contains(p.stderr.String(), notice+"\n") {
		t.Errorf("bob's status on node 2: exit %d, stderr %q; want %d and %q", code, p.stderr.String(), exitOffline,
			notice)
	}

	// Online: told at once of the message left after an unanswered call.
	stdin, keep := io.Pipe() // the answer waits for a command that never comes: the call rings
	bob := w.startIn(stdin, bobOn(1), append([]string{"answer", "--auto", "--control", "stdin"}, media...)...)
	t.Cleanup(func() { keep.Close() }) // before the process's own, which waits for its stdin's copy
	bob.expect(t, "connected", map[string]any{"user": "bob"})
	start := time.Now()
	out, code = w.run(alice, append([]string{"call", "bob", "--ring-timeout", "1500ms", "--leave-message",
		"file:" + tones[440]}, media...)...)
	if code != exitUnanswered {
		t.Fatalf("alice calls bob, not answered: exit %d, want %d:\n%s", code, exitUnanswered, out)
	}
	second := left(out)
	for {
		ev := bob.event(t)
		if ev["event"] != "voice_message" {
			continue
		}
		if ev["id"] != second.ID || ev["from"] != "alice" || ev["duration_ms"] != 2000.0 {
			t.Errorf("bob told %v, want the message %s of 2000 ms from alice", ev, second.ID)
		}
		t.Logf("bob told of the message %v after alice's call began", time.Since(start).Round(time.Millisecond))
		break
	}

	out, code = w.run(bobOn(0), "messages", "--json")
	var box signaling.VoiceMessages
	if err := json.Unmarshal([]byte(out), &box); err != nil || code != exitOK || len(box.Messages) != 2 ||
		box.Unheard != 2 || box.Messages[0].ID != second.ID || box.Messages[1].ID != first.ID {
		t.Fatalf("bob's messages on node 1: exit %d, %v:\n%s", code, err, out)
	}

	// Played from node 2 (by the start of its id) to a file.
	wav := filepath.Join(w.home, "played.wav")
	p = w.start(bobOn(1), "play", first.ID[:8], "--out", "file:"+wav)
	if code := p.wait(t); code != exitOK {
		t.Fatalf("bob plays the first message: exit %d: %s", code, p.stderr.String())
	}
	got, err := audiotest.ReadWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	secs := float64(len(got.Samples)) / float64(got.Rate)
	hz := audiotest.DominantFrequency(got.Samples[4800:])
	t.Logf("played: %.3f s, tone at %.1f Hz, %.1f dBFS", secs, hz, audiotest.DBFS(got.Samples[4800:]))
	if math.Abs(hz-600) > 2 || math.Abs(secs-2) > 0.03 || audiotest.DBFS(got.Samples[4800:]) < -12 {
		t.Errorf("played: %.3f s at %.1f Hz (%.1f dBFS), want 2 s at 600 Hz (-9 dBFS)", secs, hz,
			audiotest.DBFS(got.Samples[4800:]))
	}

	out, code = w.run(bobOn(0), "messages", "delete", first.ID)
	if code != exitOK {
		t.Fatalf("delete: exit %d: %s", code, out)
	}
	out, code = w.run(bobOn(1), "messages", "--json")
	box = signaling.VoiceMessages{}
	if err := json.Unmarshal([]byte(out), &box); err != nil || code != exitOK || len(box.Messages) != 1 ||
		box.Messages[0].ID != second.ID || box.Unheard != 1 {
		t.Errorf("bob's messages on node 2 after the delete: exit %d, %v:\n%s", code, err, out)
	}

	// Rejected by bob, who asks for a message: left too.
	rej := w.start(bobOn(0), append([]string{"answer", "--reject-message"}, media...)...)
	rej.expect(t, "connected", map[string]any{"user": "bob"})
	out, code = w.run(alice, append([]string{"call", "bob", "--leave-message", "file:" + tones[600]}, media...)...)
	if code != exitRejected || !strings.Contains(out, `"reason":"leave a message"`) {
		t.Fatalf("alice calls bob, who asks for a message: exit %d, want %d with the reason:\n%s", code,
			exitRejected, out)
	}
	if third := left(out); third.DurationMS != 2000 {
		t.Errorf("the message left once rejected: %+v", third)
	}
	rej.wait(t)
	if out, _ := w.run(bobOn(1), "messages", "--json"); !strings.Contains(out, `"unheard":2`) {
		t.Errorf("bob's messages after the third: want 2 unheard:\n%s", out)
	}
}
