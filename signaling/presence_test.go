package signaling

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestPresenceMessages(t *testing.T) {
	tests := []struct {
		msg string
		ok  bool
	}{
		{`{"type":"presence","state":"away"}`, true},
		{`{"type":"presence","state":"dnd"}`, true},
		{`{"type":"presence","state":"online"}`, true},
		{`{"type":"presence","idle":true}`, true},
		{`{"type":"presence","state":"in_call"}`, false}, // set by the server
		{`{"type":"presence","state":"offline"}`, false},
		{`{"type":"presence"}`, false},
		{`{"type":"presence","state":"away","idle":true}`, false},
		{`{"type":"presence","state":"away","online":true}`, false},
		{`{"type":"presence","state":"away","last_seen":"2025-01-01T00:00:00Z"}`, false},
		{`{"type":"refresh","token":"t"}`, true},
		{`{"type":"refresh"}`, false},
		{`{"type":"refresh","token":"` + strings.Repeat("t", MaxTokenLength+1) + `"}`, false},
	}
	for _, tt := range tests {
		_, err := DecodeClient([]byte(tt.msg))
		if (err == nil) != tt.ok {
			t.Errorf("DecodeClient(%.80s) = %v; want ok %v", tt.msg, err, tt.ok)
		}
	}
}

func TestStates(t *testing.T) {
	for _, s := range States() {
		if !s.Valid() || s.Words() == "" {
			t.Errorf("state %q", s)
		}
		if s.Online() == (s == StateOffline) {
			t.Errorf("%s.Online() = %v", s, s.Online())
		}
	}
	if State("busy").Valid() || StateInCall.Settable() || !StateDND.Settable() {
		t.Error("validity or settable states wrong")
	}
}

func TestNamesAndLabels(t *testing.T) {
	if got := Label("bob", "Bob Builder"); got != "Bob Builder (bob)" {
		t.Errorf("Label = %q", got)
	}
	if got := Label("bob", ""); got != "bob" {
		t.Errorf("Label without a name = %q", got)
	}
	for _, bad := range []string{"", "   ", "a\x00b", "tab\there", strings.Repeat("é", MaxNameLength+1), "\xff"} {
		if _, err := CheckName("name", bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	if n, err := CheckName("name", "  Zoë Ångström  "); err != nil || n != "Zoë Ångström" {
		t.Errorf("CheckName = %q, %v", n, err)
	}
	now := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", time.Minute: "1 minute ago", 5 * time.Minute: "5 minutes ago",
		3 * time.Hour: "3 hours ago", 50 * time.Hour: "2 days ago",
	} {
		if got := Ago(now.Add(-d), now); got != want {
			t.Errorf("Ago(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestTokenTimes(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"bob","iat":1700000000,"exp":1700000900}`))
	iat, exp, ok := TokenTimes("e30." + payload + ".sig")
	if !ok || iat.Unix() != 1700000000 || exp.Sub(iat) != 15*time.Minute {
		t.Errorf("TokenTimes = %v %v %v", iat, exp, ok)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".c"} {
		if _, _, ok := TokenTimes(bad); ok {
			t.Errorf("TokenTimes(%q) ok", bad)
		}
	}
}
