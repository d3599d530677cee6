package ui

import (
	"context"
	"testing"
	"time"

	"github.com/parley-voice/parley/call"
	"github.com/parley-voice/parley/signaling"
)

// fakeVoice is a VoiceMessages for tests: a mailbox, and the ids whose
// recording was fetched.
type fakeVoice struct {
	box     signaling.VoiceMessages
	fetched chan string
}

func (f fakeVoice) VoiceMessages(context.Context) (signaling.VoiceMessages, error) { return f.box, nil }

func (f fakeVoice) LeaveVoiceMessage(_ context.Context, user string, ogg []byte) (signaling.VoiceMessage, error) {
	return signaling.VoiceMessage{ID: "v9", From: "alice", To: user, DurationMS: int64(len(ogg)) * 1000}, nil
}

func (f fakeVoice) VoiceMessageAudio(_ context.Context, id string) ([]byte, error) {
	f.fetched <- id
	return []byte("ogg of " + id), nil
}

// TestVoiceMessagesPlayed: the voice messages are among the recent calls
// with their length, new or heard; p on one fetches its recording and
// plays it, after which it is heard; one left meanwhile is told at once
// and added.
func TestVoiceMessagesPlayed(t *testing.T) {
	fv := fakeVoice{fetched: make(chan string, 4), box: signaling.VoiceMessages{Unheard: 1,
		Messages: []signaling.VoiceMessage{{ID: "v1", From: "gina", FromName: "Gina", To: "alice",
			Created: t0.Add(-time.Minute), DurationMS: 12300}}}}
	played := make(chan string, 4)
	f := startFlowWith(t, "", func(o *Options) {
		o.Voice = fv
		o.PlayVoice = func(_ context.Context, ogg []byte) error {
			played <- string(ogg)
			return nil
		}
	})
	f.waitFor("1 voice message not heard yet: Gina: p plays one in the recent calls.")
	f.press("tab")
	f.waitFor("Gina (gina)", "new message", "00:12")
	f.press("p")
	select {
	case id := <-fv.fetched:
		if id != "v1" {
			t.Errorf("fetched %q, want v1", id)
		}
	case <-time.After(wait):
		t.Fatal("p did not fetch the voice message")
	}
	select {
	case ogg := <-played:
		if ogg != "ogg of v1" {
			t.Errorf("played %q, want v1's recording", ogg)
		}
	case <-time.After(wait):
		t.Fatal("p did not play the voice message")
	}
	f.phone.events <- call.VoiceMessage{VoiceMessage: signaling.VoiceMessage{ID: "v2", From: "hal", To: "alice",
		Created: t0, DurationMS: 65000}}
	f.waitFor("Voice message from hal (01:05): p plays it in the recent calls.", "01:05")
	f.press("q")
	m := f.finish()
	if len(m.voice) != 2 || !m.voice[0].VoiceHeard || m.voice[1].VoiceHeard || m.voice[1].VoiceID != "v2" {
		t.Errorf("voice messages at the end: %+v; want v1 heard, v2 new", m.voice)
	}
}

// TestVoiceMessageOffered: bob does not answer; the outcome offers a voice
// message, v records one (every other key waits) until enter, which sends
// it to bob, and the UI says it was left.
func TestVoiceMessageOffered(t *testing.T) {
	fv := fakeVoice{fetched: make(chan string, 4)}
	recording := make(chan struct{})
	f := startFlowWith(t, "", func(o *Options) {
		o.Voice = fv
		o.RecordVoice = func(_ context.Context, stop <-chan struct{}) ([]byte, error) {
			close(recording)
			<-stop
			return []byte("12345"), nil // fakeVoice makes it 5 s long
		}
	})
	f.phone.expectWatch(t, "bob", "carol", "dave", "erin")
	f.connect()
	f.press("enter") // bob is selected
	f.phone.expectCalls(t, "Dial(bob)")
	f.phone.push(statusEvent("c1", signaling.Started, signaling.Outbound, "alice", "bob", f.clock.Now()),
		statusEvent("c1", signaling.Ringing, signaling.Outbound, "alice", "bob", f.clock.Now()),
		statusEvent("c1", signaling.Unanswered, signaling.Outbound, "alice", "bob", f.clock.Now()))
	f.waitFor("bob did not answer · v: leave a voice message")
	f.press("v")
	select {
	case <-recording:
	case <-time.After(wait):
		t.Fatal("v did not start recording")
	}
	f.waitFor("Recording a voice message for bob", "enter send message")
	f.press("j", "enter")
	f.waitFor("Voice message of 00:05 left for bob.")
	f.phone.expectNoCalls(t) // enter sent the message: it did not call bob
}
