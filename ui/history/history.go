// Package history keeps parley's recent calls: one Record per call that
// ended, stored as JSON lines in a file so that they survive a restart, and
// worded for the user (Summary, StatusWord).
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// MaxRecords is how many records Load returns at most: the newest ones.
const MaxRecords = 200

// Record is one call that ended (or a dial the server refused).
type Record struct {
	CallID    string              `json:"call_id,omitempty"`
	Peer      string              `json:"peer"`
	PeerName  string              `json:"peer_name,omitempty"` // the peer's display name, when known
	Guest     bool                `json:"guest,omitempty"`     // the peer was a guest of a link: cannot be called back
	Direction signaling.Direction `json:"direction"`
	Status    signaling.Status    `json:"status"` // a terminal status
	// Cancelled is set on an outbound call that this side hung up before it
	// was answered (its status is unanswered).
	Cancelled bool           `json:"cancelled,omitempty"`
	Code      signaling.Code `json:"code,omitempty"`   // why it failed, from the error table
	Reason    string         `json:"reason,omitempty"` // why it failed, in words
	Start     time.Time      `json:"start"`            // when it was placed or came in
	Answered  time.Time      `json:"answered,omitzero"`
	End       time.Time      `json:"end"`

	// A voice message left for you (shown among the recent calls, never
	// stored in the file): its id, length and whether it was played on any
	// device. Peer left it, at Start.
	VoiceID    string `json:"voice_id,omitempty"`
	VoiceMS    int64  `json:"voice_ms,omitempty"`
	VoiceHeard bool   `json:"voice_heard,omitempty"`
}

// Duration is how long the call was up: from answer to end, 0 if it was
// never answered.
func (r Record) Duration() time.Duration {
	if r.Answered.IsZero() || r.End.Before(r.Answered) {
		return 0
	}
	return r.End.Sub(r.Answered)
}

// Store appends records to a JSON-lines file and loads them back. Its
// methods may be called from several goroutines. A Store with an empty path
// keeps nothing.
type Store struct {
	path string
	mu   sync.Mutex
}

// NewStore returns a store for the file at path; it touches no file until
// Load or Append.
func NewStore(path string) *Store { return &Store{path: path} }

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Load returns the newest MaxRecords records, oldest first. A missing file
// is no records. Lines that do not parse (a torn last line after a crash)
// are skipped and counted in skipped.
func (s *Store) Load() (records []Record, skipped int, err error) {
	if s.path == "" {
		return nil, 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil || r.Peer == "" {
			skipped++
			continue
		}
		records = append(records, r)
	}
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("history: %s: %w", s.path, err)
	}
	if len(records) > MaxRecords {
		records = records[len(records)-MaxRecords:]
	}
	return records, skipped, nil
}

// Append adds r to the file, creating it (mode 0600) and its directories
// (mode 0700) when missing.
func (s *Store) Append(r Record) error {
	if s.path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("history: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// Clock formats a duration as mm:ss, or h:mm:ss from an hour up.
func Clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// DirectionWord is the direction in words: "outgoing" or "incoming".
func (r Record) DirectionWord() string {
	if r.Direction == signaling.Outbound {
		return "outgoing"
	}
	return "incoming"
}

// Arrow is the direction as an arrow: ↗ outgoing, ↙ incoming.
func (r Record) Arrow() string {
	if r.Direction == signaling.Outbound {
		return "↗"
	}
	return "↙"
}

// StatusWord is how the call ended in one or two words, for the recent
// calls list.
func (r Record) StatusWord() string {
	if r.VoiceID != "" {
		if r.VoiceHeard {
			return "message"
		}
		return "new message"
	}
	out := r.Direction == signaling.Outbound
	switch r.Status {
	case signaling.Completed:
		return "completed"
	case signaling.Rejected:
		if out {
			return "rejected"
		}
		return "declined"
	case signaling.Unanswered:
		switch {
		case out && r.Cancelled:
			return "cancelled"
		case out:
			return "no answer"
		}
		return "missed"
	case signaling.Failed:
		if w, ok := refusalFor(r.Code); ok {
			return w.word
		}
		return "failed"
	}
	return string(r.Status)
}

// Summary is how the call ended in a sentence, as shown after the call:
// "Call with bob completed · 02:13", "bob rejected the call",
// "bob is not online — try again when they are online",
// "Call failed: <reason> — <what to do>".
func (r Record) Summary() string {
	out := r.Direction == signaling.Outbound
	peer := r.Peer // in running text: the display name, when known
	if r.PeerName != "" {
		peer = r.PeerName
	}
	if r.Guest {
		peer = "guest " + peer
		switch r.Status {
		case signaling.Rejected:
			return "You turned " + peer + " away"
		case signaling.Unanswered:
			return peer + " knocked; you did not let them in"
		}
	}
	switch r.Status {
	case signaling.Completed:
		return fmt.Sprintf("Call with %s completed · %s", peer, Clock(r.Duration()))
	case signaling.Rejected:
		if out {
			return peer + " rejected the call"
		}
		return "You declined the call from " + peer
	case signaling.Unanswered:
		switch {
		case out && r.Cancelled:
			return "You cancelled the call to " + peer
		case out:
			return peer + " did not answer"
		}
		return "Missed call from " + peer
	}
	if r.Code == signaling.AlreadyBusyCall && strings.Contains(r.Reason, "do not disturb") {
		return peer + " does not want to be disturbed (do not disturb) — " + Advice(r.Code)
	}
	if w, ok := refusalFor(r.Code); ok {
		return fmt.Sprintf(w.headline, peer) + " — " + Advice(r.Code)
	}
	return "Call failed: " + FailureText(r.Code, r.Reason)
}

// FailureText is "<reason> — <what to do>" for a failure with code and
// reason, either of which may be empty.
func FailureText(code signaling.Code, reason string) string {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		if name := code.Name(); name != "" && code != signaling.UnknownError {
			reason = strings.ReplaceAll(name, "_", " ")
		} else {
			reason = "the call could not be set up or broke off"
		}
	}
	return reason + " — " + Advice(code)
}

// refusal words a failure whose code says why the peer could not be
// reached.
type refusal struct {
	headline string // with %s for the peer
	word     string // for StatusWord
}

// refusalFor returns the wording of a failure with code, if the code says
// why the peer could not be reached.
func refusalFor(code signaling.Code) (refusal, bool) {
	switch code {
	case signaling.NoConnectedDestination:
		return refusal{"%s is not online", "offline"}, true
	case signaling.AlreadyBusyCall:
		return refusal{"%s is busy on another call", "busy"}, true
	case signaling.NotFoundUserSessionID:
		return refusal{"%s is not a known user", "unknown user"}, true
	case signaling.SameCallerAndDestination:
		return refusal{"%s is you: you cannot call yourself", "failed"}, true
	}
	return refusal{}, false
}

// Advice tells the user what to do about an error with code.
func Advice(code signaling.Code) string {
	switch code {
	case signaling.InvalidParameter:
		return "check the user id and try again"
	case signaling.NotFoundUserSessionID:
		return "check the user id"
	case signaling.SameCallerAndDestination:
		return "call someone else"
	case signaling.AlreadyConnectedSession:
		return "parley is signed in elsewhere; close the other session and try again"
	case signaling.AlreadyBusyCall:
		return "try again later"
	case signaling.InvalidToken:
		return "your sign-in is no longer valid: sign in again (parley login) and restart parley"
	case signaling.NoConnectedSession:
		return "wait until the header shows connected, then try again"
	case signaling.NoConnectedCall:
		return "the call has already ended"
	case signaling.NoConnectedDestination:
		return "try again when they are online"
	case signaling.NotFoundDevice:
		return "press d to choose another audio device"
	case signaling.PermissionDenied:
		return "allow parley to use the microphone, then try again"
	}
	return "try again; if it persists, run with --log and report the log file"
}
