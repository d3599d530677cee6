package signaling

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeClient: DecodeClient never panics, refuses only with
// InvalidParameter, and whatever it accepts encodes and decodes back to the
// same message.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"connect","token":"t","session":"s1"}`,
		`{"type":"dial","ref":"1","to":"bob","sdp":"v=0"}`,
		`{"type":"answer","call_id":"c","sdp":"v=0"}`,
		`{"type":"ringing","call_id":"c"}`,
		`{"type":"hangup","call_id":"c","reason":"bye"}`,
		`{"type":"candidate","call_id":"c",` +
			`"candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","call_id":"c","muted":false}`,
		`{"type":"hold","call_id":"c","held":true}`,
		`{"type":"hold","call_id":"c"}`,
		`{"type":"watch","users":["a","b.c@d"]}`,
		`{"type":"watch","users":[]}`,
		`{"type":"ping","ref":"x"}`,
		`{"type":"pong"}`,
		`{"type":"ping"} {}`,
		`{"TYPE":"ping"}`,
		`{"type":"dial","to":"a b","sdp":"x"}`,
		`{"type":"dial","to":"bob","sdp":"x","event":{}}`,
		"{\"type\":\"ping\",\"ref\":\"\xff\"}",
		`[]`, `null`, ``, `{`,
		`{"type":"watch","users":["` + strings.Repeat("u", 65) + `"]}`,
		`{"type":"presence","state":"dnd"}`,
		`{"type":"presence","idle":false}`,
		`{"type":"presence","state":"in_call"}`,
		`{"type":"presence","state":"away","idle":true}`,
		`{"type":"presence","name":"me","state":"away"}`,
		`{"type":"refresh","ref":"refresh-1","token":"t"}`,
		`{"type":"refresh"}`,
		`{"type":"fail","call_id":"c","reason":"\u001b]0;pwned\u0007"}`,
		`{"type":"hangup","call_id":"c","reason":"a\u202eb\u009b"}`,
		`{"type":"room_join","room":"standup","sdp":"v=0","muted":true}`,
		`{"type":"room_join","room":"standup","sdp":"v=0","listen_only":true}`,
		`{"type":"room_mute","room":"standup","target":"bob","muted":true,"locked":true}`,
		`{"type":"room_remove","room":"standup","target":"bob"}`,
		`{"type":"room_lock","room":"standup","locked":false}`,
		`{"type":"room_end","room":"standup"}`,
		`{"type":"room_admit","room":"standup","target":"guest-x"}`,
		`{"type":"room_deny","room":"standup","target":"guest-x"}`,
		`{"type":"room_leave","room":"Stand Up"}`,
		`{"type":"mute","call_id":"c","muted":true,"room":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClient(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != InvalidParameter || e.Name != "invalid_parameter" || e.Message == "" {
				t.Fatalf("refused with %v, want an InvalidParameter error with a message", err)
			}
			if !reflect.DeepEqual(m, Message{}) {
				t.Fatalf("refused, yet returned %+v", m)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", b, err)
		}
		again, err := DecodeClient(enc)
		if err != nil {
			t.Fatalf("accepted %q but not its encoding %q: %v", b, enc, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("accepted %q as %+v, its encoding %q decodes to %+v", b, m, enc, again)
		}
	})
}

// TestDecodeClientRefusesControls: text a client sends that reaches another
// party (a call's reason, a candidate) is refused with InvalidParameter when
// it holds a control character, as display names are.
func TestDecodeClientRefusesControls(t *testing.T) {
	tests := []struct {
		msg  string
		want string // "" when accepted, else in the refusal's message
	}{
		{`{"type":"fail","call_id":"c","reason":"no microphone"}`, ""},
		{`{"type":"fail","call_id":"c","reason":"micro introuvable — réessayez, 日本語"}`, ""},
		{`{"type":"fail","call_id":"c","reason":"\u001b]0;pwned\u0007"}`, "reason contains a control " +
			"character (U+001B)"},
		{`{"type":"fail","call_id":"c","reason":"\u001b[2J"}`, "reason contains a control character (U+001B)"},
		{`{"type":"hangup","call_id":"c","reason":"bye\nrun this"}`, "reason contains a control character (U+000A)"},
		{`{"type":"fail","call_id":"c","reason":"tab\there"}`, "reason contains a control character (U+0009)"},
		{`{"type":"fail","call_id":"c","reason":"csi \u009b2J"}`, "reason contains a control character (U+009B)"},
		{`{"type":"fail","call_id":"c","reason":"del \u007f"}`, "reason contains a control character (U+007F)"},
		{`{"type":"fail","call_id":"c","reason":"txt.exe\u202egnp"}`, "reason contains a control character (U+202E)"},
		{`{"type":"fail","call_id":"c","reason":"\u2066isolate"}`, "reason contains a control character (U+2066)"},
		{`{"type":"candidate","call_id":"c",` +
			`"candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host\u001b[2J"}}`,
			"candidate contains a control character (U+001B)"},
		{`{"type":"candidate","call_id":"c","candidate":{"candidate":"","sdpMid":"0\u0007"}}`,
			"sdpMid contains a control character (U+0007)"},
		{`{"type":"candidate","call_id":"c","candidate":{"candidate":"","usernameFragment":"\r"}}`,
			"usernameFragment contains a control character (U+000D)"},
	}
	for _, tt := range tests {
		_, err := DecodeClient([]byte(tt.msg))
		if tt.want == "" {
			if err != nil {
				t.Errorf("DecodeClient(%s) = %v; want it accepted", tt.msg, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidParameter || !strings.Contains(e.Message, tt.want) ||
			!strings.Contains(e.Message, "use one line of printable text") {
			t.Errorf("DecodeClient(%s) = %v; want invalid_parameter saying %q and what to send", tt.msg, err, tt.want)
		}
	}
}

// TestCheckUserID: a user id starts with a letter or digit and has no two
// punctuation marks in a row; other ids (ValidID) keep their rule.
// TestHoldMessage: a hold needs its call and whether it holds.
func TestHoldMessage(t *testing.T) {
	m, err := DecodeClient([]byte(`{"type":"hold","call_id":"c","held":false}`))
	if err != nil || m.Held == nil || *m.Held || m.CallID != "c" {
		t.Fatalf("hold: %+v, %v", m, err)
	}
	for in, want := range map[string]string{
		`{"type":"hold","held":true}`:                `needs "call_id"`,
		`{"type":"hold","call_id":"c"}`:              `needs "held"`,
		`{"type":"hold","call_id":"c","held":"yes"}`: "not a valid signaling message",
	} {
		_, err := DecodeClient([]byte(in))
		if e := AsError(err); err == nil || e.Code != InvalidParameter || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %v, want InvalidParameter with %q", in, err, want)
		}
	}
}

func TestCheckUserID(t *testing.T) {
	for _, id := range []string{
		"a", "7", "alice", "a.b@c.com", "first_last", "bob-2", "a+tag@example.org", "bob.", "Z9",
		strings.Repeat("a", MaxIDLength),
	} {
		if err := CheckUserID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{
		"", "..", "...@+", ".bob", "a..b", "_x", "-x", "@x", "+x", "a._b", "a@-b", "a b", "a/b",
		strings.Repeat("a", MaxIDLength+1),
	} {
		var e *Error
		if err := CheckUserID(id); !errors.As(err, &e) || e.Code != InvalidParameter {
			t.Errorf("%q: got %v, want %d", id, err, InvalidParameter)
		}
	}
	if !ValidID("..") || !ValidID(".session-1") {
		t.Errorf("ValidID changed: sessions, devices, teams and nodes keep their ids")
	}
}

// TestRoomMessages: room messages are accepted in their documented shapes
// and refused, with a message naming the problem, otherwise.
func TestRoomMessages(t *testing.T) {
	for _, ok := range []string{
		`{"type":"room_join","room":"standup","sdp":"v=0"}`,
		`{"type":"room_join","room":"team-sync.2","sdp":"v=0","muted":true,"listen_only":true}`,
		`{"type":"room_leave","room":"standup"}`,
		`{"type":"room_mute","room":"standup","muted":false}`,
		`{"type":"room_mute","room":"standup","target":"bob","muted":true,"locked":true}`,
		`{"type":"room_remove","room":"standup","target":"bob","ref":"r1"}`,
		`{"type":"room_lock","room":"standup","locked":true}`,
		`{"type":"room_end","room":"standup"}`,
		`{"type":"room_admit","room":"standup","target":"guest-1a2b3c"}`,
		`{"type":"room_deny","room":"standup","target":"guest-1a2b3c","ref":"r2"}`,
	} {
		if _, err := DecodeClient([]byte(ok)); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, tc := range []struct{ msg, want string }{
		{`{"type":"room_join","room":"Stand Up","sdp":"v=0"}`, "room name"},
		{`{"type":"room_join","room":"-x","sdp":"v=0"}`, "starting with a letter or digit"},
		{`{"type":"room_join","sdp":"v=0"}`, "room name"},
		{`{"type":"room_join","room":"standup"}`, `needs "sdp"`},
		{`{"type":"room_leave","room":"standup","sdp":"v=0"}`, "has no sdp"},
		{`{"type":"room_mute","room":"standup"}`, `needs "muted"`},
		{`{"type":"room_mute","room":"standup","muted":true,"locked":true}`, `name them in "target"`},
		{`{"type":"room_remove","room":"standup"}`, `needs "target"`},
		{`{"type":"room_remove","room":"standup","target":"a b"}`, "user id"},
		{`{"type":"room_lock","room":"standup"}`, `needs "locked"`},
		{`{"type":"room_admit","room":"standup"}`, `room_admit needs "target"`},
		{`{"type":"room_deny","room":"standup"}`, `room_deny needs "target"`},
		{`{"type":"room_deny","room":"standup","target":"..x"}`, "user id"},
		{`{"type":"room_admit","room":"standup","target":"dana","muted":true}`, "has no muted"},
		{`{"type":"room_admit","room":"standup","target":"dana","locked":true}`, "has no locked"},
		{`{"type":"room_deny","room":"standup","target":"dana","sdp":"v=0"}`, "has no sdp"},
		{`{"type":"room_end","room":"standup","target":"bob"}`, "has no target"},
		{`{"type":"room_leave","room":"standup","call_id":"c"}`, "not for rooms"},
		{`{"type":"mute","call_id":"c","muted":true,"room":"standup"}`, "belong to room messages"},
		{`{"type":"room_event","room":"standup"}`, "unknown message type"},
	} {
		_, err := DecodeClient([]byte(tc.msg))
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidParameter || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: got %v, want 80101 saying %q", tc.msg, err, tc.want)
		}
	}
}

// TestDecodeClientRefusesServerFields: what only the server sets (an event,
// a text or voice message it delivers) is refused from a client, with the
// fields named.
func TestDecodeClientRefusesServerFields(t *testing.T) {
	for _, msg := range []string{
		`{"type":"hangup","call_id":"c","text":{"seq":1,"from":"bob","to":"alice","text":"hi"}}`,
		`{"type":"hangup","call_id":"c","voice_message":{"id":"1"}}`,
		`{"type":"hangup","call_id":"c","online":true}`,
	} {
		_, err := DecodeClient([]byte(msg))
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidParameter || !strings.Contains(e.Message, "set by the server only") {
			t.Errorf("DecodeClient(%s) = %v; want invalid_parameter: set by the server only", msg, err)
		}
	}
}
