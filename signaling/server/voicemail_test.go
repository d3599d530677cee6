package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/internal/audiotest"
	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/store"
)

// voiceTone is a voice message of a tone of hz lasting d.
func voiceTone(t *testing.T, hz float64, d time.Duration) []byte {
	t.Helper()
	b, err := audio.EncodeVoice(audiotest.Tone(hz, 0.5, int(d*audio.SampleRate/time.Second)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// code is the code of the refusal err carries, 0 for none.
func code(err error) signaling.Code {
	var e *signaling.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// TestVoiceMessages: on two nodes of one service, a voice message alice
// leaves on node a for bob is told at once to bob's connection on node b
// and to the team's webhook (message.created, signed), listed by bob on
// b as unheard, lasting what was recorded; its recording, fetched from
// b, is the bytes alice sent and is then heard on every node; bob
// deletes it. Nobody else reads or deletes it.
func TestVoiceMessages(t *testing.T) {
	a, b := startPair(t, func(c *Config) {
		c.Webhooks = WebhookOptions{RetryBase: 50 * time.Millisecond, Workers: 2, Allow: loopback}
	})
	ctx := context.Background()
	srv, got := startReceiver(t, func(hookRequest) int { return http.StatusNoContent })
	hook, err := a.adminAPI(a.APIKey()).AddWebhook(ctx, srv.URL+"/parley")
	if err != nil {
		t.Fatal(err)
	}
	bobTok := b.token(t, "bob")
	bob := b.connectWith(t, "bob", bobTok)
	alice := a.userAPI(a.teamToken(t, a.APIKey(), "alice", url.Values{"name": {"Alice Liddell"}}))

	rec := voiceTone(t, 600, 1500*time.Millisecond)
	left, err := alice.LeaveVoiceMessage(ctx, "bob", rec)
	if err != nil {
		t.Fatal(err)
	}
	if left.ID == "" || left.From != "alice" || left.FromName != "Alice Liddell" || left.To != "bob" ||
		left.DurationMS != 1500 || left.Bytes != int64(len(rec)) || left.Heard ||
		left.Expires.Sub(left.Created) != DefaultVoiceMessageRetention {
		t.Errorf("left: %s (recording of %d bytes)", js(left), len(rec))
	}
	told := bob.next()
	if told.Type != signaling.TypeVoiceMessage || told.VoiceMessage == nil || *told.VoiceMessage != left {
		t.Errorf("bob told %s, want the voice message %s", js(told), js(left))
	}
	r := nextHook(t, got)
	wantEvent(t, r, hook.Secret)
	var ev signaling.VoiceMessageWebhookEvent
	if err := json.Unmarshal(r.body, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Time = time.Time{}
	want := signaling.VoiceMessageWebhookEvent{Event: signaling.EventMessageCreated, EventID: left.ID, Kind: "voice",
		ID: left.ID, From: "alice", To: "bob", DurationMS: 1500, Bytes: left.Bytes, Node: "a"}
	if ev != want {
		t.Errorf("webhook: got %s, want %s", js(ev), js(want))
	}

	bobAPI := b.userAPI(bobTok)
	box, err := bobAPI.VoiceMessages(ctx)
	if err != nil || len(box.Messages) != 1 || box.Messages[0] != left || box.Unheard != 1 ||
		box.Bytes != left.Bytes || box.Quota != DefaultVoiceMessageQuota {
		t.Fatalf("bob's voice messages on b: %s, %v", js(box), err)
	}
	if line := signaling.VoiceMessageNotice(box); line !=
		"1 voice message not heard yet: Alice Liddell" {
		t.Errorf("notice: %q", line)
	}
	// Nobody but bob reads it: alice, from either node.
	for _, s := range []*testServer{a, b} {
		if _, err := s.userAPI(s.token(t, "alice")).VoiceMessageAudio(ctx, left.ID); code(err) !=
			signaling.NotFoundUserSessionID {
			t.Errorf("alice fetching bob's message: %v, want 80102", err)
		}
	}
	audioBytes, err := bobAPI.VoiceMessageAudio(ctx, left.ID)
	if err != nil || !bytes.Equal(audioBytes, rec) {
		t.Fatalf("bob's recording: %d bytes (%v), want the %d alice sent", len(audioBytes), err, len(rec))
	}
	box, err = a.userAPI(a.token(t, "bob")).VoiceMessages(ctx)
	if err != nil || len(box.Messages) != 1 || !box.Messages[0].Heard || box.Unheard != 0 ||
		signaling.VoiceMessageNotice(box) != "" {
		t.Errorf("bob's voice messages on a, once heard: %s, %v", js(box), err)
	}
	if _, err := a.userAPI(a.token(t, "alice")).DeleteVoiceMessage(ctx, left.ID); code(err) !=
		signaling.NotFoundUserSessionID {
		t.Errorf("alice deleting bob's message: %v, want 80102", err)
	}
	if del, err := bobAPI.DeleteVoiceMessage(ctx, left.ID); err != nil || del.ID != left.ID {
		t.Fatalf("delete: %s, %v", js(del), err)
	}
	if box, err := bobAPI.VoiceMessages(ctx); err != nil || len(box.Messages) != 0 || box.Bytes != 0 {
		t.Errorf("after the delete: %s, %v", js(box), err)
	}
	if _, err := bobAPI.VoiceMessageAudio(ctx, left.ID); code(err) != signaling.NotFoundUserSessionID {
		t.Errorf("the deleted message's recording: %v, want 80102", err)
	}
}

// TestVoiceMessageRefusals: each refusal of a voice message with its
// code: to nobody, to oneself, to another team, by a guest, what is not
// Ogg Opus, longer than 2 minutes, over the quota.
func TestVoiceMessageRefusals(t *testing.T) {
	rec := voiceTone(t, 600, time.Second)
	s := startServer(t, func(c *Config) { c.VoiceMessageQuota = int64(2*len(rec) + len(rec)/2) })
	ctx := context.Background()
	s.token(t, "bob")
	alice := s.userAPI(s.token(t, "alice"))
	team, err := s.adminAPI(s.APIKey()).AddTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	eve := s.userAPI(s.teamToken(t, team.APIKey, "eve", nil))
	guest := s.userAPI(s.teamToken(t, s.APIKey(), "gus", url.Values{"role": {RoleGuest}}))
	long := voiceTone(t, 600, signaling.MaxVoiceMessage+time.Second)
	for _, tc := range []struct {
		name string
		api  *signaling.API
		to   string
		body []byte
		want signaling.Code
	}{
		{"nobody", alice, "nobody", rec, signaling.NotFoundUserSessionID},
		{"oneself", alice, "alice", rec, signaling.SameCallerAndDestination},
		{"another team", eve, "bob", rec, signaling.NotFoundUserSessionID},
		{"a guest", guest, "bob", rec, signaling.InvalidParameter},
		{"not ogg", alice, "bob", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), signaling.InvalidParameter},
		{"too long", alice, "bob", long, signaling.InvalidParameter},
		{"too big", alice, "bob", bytes.Repeat(rec, signaling.MaxVoiceMessageBytes/len(rec)+1),
			signaling.InvalidParameter},
	} {
		if _, err := tc.api.LeaveVoiceMessage(ctx, tc.to, tc.body); code(err) != tc.want {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.want)
		}
	}
	for i := range 2 {
		if _, err := alice.LeaveVoiceMessage(ctx, "bob", rec); err != nil {
			t.Fatalf("message %d of the quota: %v", i+1, err)
		}
	}
	_, err = alice.LeaveVoiceMessage(ctx, "bob", rec)
	var e *signaling.Error
	if !errors.As(err, &e) || e.Code != signaling.InvalidParameter ||
		!bytes.Contains([]byte(e.Message), []byte("voice mailbox of bob is full (2 messages")) {
		t.Errorf("over the quota: %v", err)
	}
	if box, err := s.userAPI(s.token(t, "bob")).VoiceMessages(ctx); err != nil || len(box.Messages) != 2 {
		t.Errorf("bob's box: %s, %v; want the 2 messages within the quota", js(box), err)
	}
}

// TestVoiceMessageRestart: a voice message outlives the server's restart,
// its recording and its heard mark with it.
func TestVoiceMessageRestart(t *testing.T) {
	logs := &logBuffer{}
	cfg := testConfig(t.TempDir(), logs)
	s := startWith(t, cfg, logs)
	ctx := context.Background()
	rec := voiceTone(t, 600, time.Second)
	bobTok := s.token(t, "bob")
	left, err := s.userAPI(s.token(t, "alice")).LeaveVoiceMessage(ctx, "bob", rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.userAPI(bobTok).VoiceMessageAudio(ctx, left.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Listen = s.Addr()
	s = startWith(t, cfg, logs)
	bob := s.userAPI(s.token(t, "bob"))
	box, err := bob.VoiceMessages(ctx)
	left.Heard = true
	if err != nil || len(box.Messages) != 1 || box.Messages[0] != left {
		t.Fatalf("after the restart: %s, %v; want %s", js(box), err, js(left))
	}
	if b, err := bob.VoiceMessageAudio(ctx, left.ID); err != nil || !bytes.Equal(b, rec) {
		t.Errorf("the recording after the restart: %d bytes, %v; want %d", len(b), err, len(rec))
	}
}

// TestVoiceMessageRetention: a message is gone from the list, its
// recording refused, once the retention is over, and JetStream drops the
// recording itself. (A heard message's record is written again, so it
// outlives its recording in the bucket: the server leaves it out.)
func TestVoiceMessageRetention(t *testing.T) {
	const retention = 2 * time.Second
	s := startServer(t, func(c *Config) { c.VoiceMessageRetention = retention })
	ctx := context.Background()
	bob := s.userAPI(s.token(t, "bob"))
	left, err := s.userAPI(s.token(t, "alice")).LeaveVoiceMessage(ctx, "bob", voiceTone(t, 600, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if left.Expires.Sub(left.Created) != retention {
		t.Errorf("expires %v after it was left, want %v", left.Expires.Sub(left.Created), retention)
	}
	if _, err := bob.VoiceMessageAudio(ctx, left.ID); err != nil { // heard: its record is written again
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		box, err := bob.VoiceMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(box.Messages) == 0 {
			if gone := time.Since(left.Created); gone < retention {
				t.Fatalf("gone %v after it was left, before the retention of %v", gone, retention)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still listed %v after it was left: %s", time.Since(left.Created), js(box))
		}
		time.Sleep(100 * time.Millisecond) // expiry is by the clock: nothing to wait on
	}
	if _, err := bob.VoiceMessageAudio(ctx, left.ID); code(err) != signaling.NotFoundUserSessionID {
		t.Errorf("the expired message's recording: %v, want 80102", err)
	}
	key := store.VoiceKey(DefaultTeam, "bob", left.ID)
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := s.voice.Audio.GetInfo(ctx, key)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recording is still stored %v after it was left (%v)", time.Since(left.Created), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVoiceMessageDialLimit: a voice message counts as a dial: with a
// limit of 3 a minute (1 at once), the second in a row is refused.
func TestVoiceMessageDialLimit(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DialLimit = 3 })
	ctx := context.Background()
	s.token(t, "bob")
	alice := s.userAPI(s.token(t, "alice"))
	rec := voiceTone(t, 600, time.Second)
	if _, err := alice.LeaveVoiceMessage(ctx, "bob", rec); err != nil {
		t.Fatal(err)
	}
	_, err := alice.LeaveVoiceMessage(ctx, "bob", rec)
	var e *signaling.Error
	if !errors.As(err, &e) || e.Code != signaling.InvalidParameter ||
		!bytes.Contains([]byte(e.Message), []byte("calls and voice messages in a minute")) {
		t.Errorf("the second message at once: %v, want refused by the dial limit", err)
	}
}
