package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/signaling"
)

var t0 = time.Date(2025, 3, 14, 15, 4, 5, 0, time.UTC)

func rec(peer string, dir signaling.Direction, status signaling.Status) Record {
	return Record{Peer: peer, Direction: dir, Status: status, Start: t0, End: t0.Add(time.Minute)}
}

func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "history.jsonl")
	s := NewStore(path)
	recs, skipped, err := s.Load()
	if err != nil || recs != nil || skipped != 0 {
		t.Fatalf("Load of a missing file = %v, %d, %v; want nothing", recs, skipped, err)
	}
	want := []Record{
		rec("bob", signaling.Outbound, signaling.Completed),
		rec("carol", signaling.Inbound, signaling.Unanswered),
		{Peer: "dave", Direction: signaling.Outbound, Status: signaling.Failed, Code: signaling.NoConnectedDestination,
			Reason: "dave is not online", Start: t0, End: t0},
	}
	want[0].Answered = t0.Add(5 * time.Second)
	for _, r := range want {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	got, skipped, err := NewStore(path).Load()
	if err != nil || skipped != 0 {
		t.Fatalf("Load = %d skipped, %v", skipped, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Load returned %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || !got[i].Answered.Equal(want[i].Answered) ||
			got[i].Peer != want[i].Peer ||
			got[i].Status != want[i].Status || got[i].Code != want[i].Code || got[i].Reason != want[i].Reason {
			t.Errorf("record %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v; want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), `"answered":"0001`) {
		t.Errorf("a call never answered stores a zero answer time:\n%s", b)
	}
}

func TestStoreSkipsBadLinesAndKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	s := NewStore(path)
	for i := range MaxRecords + 5 {
		r := rec("bob", signaling.Outbound, signaling.Completed)
		r.CallID = "c" + string(rune('a'+i%26))
		r.Start = t0.Add(time.Duration(i) * time.Minute)
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A line without a peer, then a line torn by a crash.
	if _, err := f.WriteString("\n{\"status\":\"completed\"}\n{\"peer\":\"bob\",\"sta"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, skipped, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 2 {
		t.Errorf("skipped = %d; want 2", skipped)
	}
	if len(recs) != MaxRecords {
		t.Fatalf("Load returned %d records; want %d", len(recs), MaxRecords)
	}
	if want := t0.Add((MaxRecords + 4) * time.Minute); !recs[len(recs)-1].Start.Equal(want) {
		t.Errorf("last record starts %v; want the newest, %v", recs[len(recs)-1].Start, want)
	}
}

func TestStoreWithoutPath(t *testing.T) {
	s := NewStore("")
	if err := s.Append(rec("bob", signaling.Outbound, signaling.Completed)); err != nil {
		t.Errorf("Append = %v", err)
	}
	if recs, _, err := s.Load(); recs != nil || err != nil {
		t.Errorf("Load = %v, %v; want nothing", recs, err)
	}
}

func TestStoreUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := NewStore(filepath.Join(blocker, "history.jsonl")).Append(rec("bob", signaling.Outbound, signaling.Completed))
	if err == nil || !strings.HasPrefix(err.Error(), "history: ") {
		t.Errorf("Append under a file = %v; want a history: error", err)
	}
}

func TestWords(t *testing.T) {
	answered := rec("bob", signaling.Outbound, signaling.Completed)
	answered.Answered = t0.Add(time.Minute - 133*time.Second)
	answered.End = t0.Add(time.Minute)
	cancelled := rec("bob", signaling.Outbound, signaling.Unanswered)
	cancelled.Cancelled = true
	failed := rec("bob", signaling.Outbound, signaling.Failed)
	failed.Code, failed.Reason = signaling.UnknownError, "media could not be set up"
	bare := rec("bob", signaling.Outbound, signaling.Failed)
	named := rec("bob", signaling.Outbound, signaling.Failed)
	named.Code = signaling.PermissionDenied
	refused := func(code signaling.Code) Record {
		r := rec("bob", signaling.Outbound, signaling.Failed)
		r.Code, r.Reason = code, "the server's words"
		return r
	}
	tests := []struct {
		r             Record
		word, summary string
	}{
		{answered, "completed", "Call with bob completed · 02:13"},
		{rec("bob", signaling.Outbound, signaling.Rejected), "rejected", "bob rejected the call"},
		{rec("bob", signaling.Inbound, signaling.Rejected), "declined", "You declined the call from bob"},
		{rec("bob", signaling.Outbound, signaling.Unanswered), "no answer", "bob did not answer"},
		{cancelled, "cancelled", "You cancelled the call to bob"},
		{rec("bob", signaling.Inbound, signaling.Unanswered), "missed", "Missed call from bob"},
		{failed, "failed", "Call failed: media could not be set up — try again; if it persists, run with --log and " +
			"report the log file"},
		{bare, "failed", "Call failed: the call could not be set up or broke off — try again; if it persists, run " +
			"with --log and report the log file"},
		{named, "failed", "Call failed: permission denied — allow parley to use the microphone, then try again"},
		{refused(signaling.NoConnectedDestination), "offline", "bob is not online — try again when they are online"},
		{refused(signaling.AlreadyBusyCall), "busy", "bob is busy on another call — try again later"},
		{refused(signaling.NotFoundUserSessionID), "unknown user", "bob is not a known user — check the user id"},
	}
	for _, tt := range tests {
		if got := tt.r.StatusWord(); got != tt.word {
			t.Errorf("StatusWord(%+v) = %q; want %q", tt.r, got, tt.word)
		}
		if got := tt.r.Summary(); got != tt.summary {
			t.Errorf("Summary(%+v) =\n%q; want\n%q", tt.r, got, tt.summary)
		}
	}
}

func TestAdviceForEveryCode(t *testing.T) {
	generic := Advice(0)
	for _, c := range signaling.Codes() {
		if c != signaling.UnknownError && Advice(c) == generic {
			t.Errorf("code %d (%s) has only the generic advice", c, c.Name())
		}
	}
}

func TestClock(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00"},
		{-time.Second, "00:00"},
		{999 * time.Millisecond, "00:00"},
		{133 * time.Second, "02:13"},
		{59*time.Minute + 59*time.Second, "59:59"},
		{time.Hour + 2*time.Minute + 7*time.Second, "1:02:07"},
	}
	for _, tt := range tests {
		if got := Clock(tt.d); got != tt.want {
			t.Errorf("Clock(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}
