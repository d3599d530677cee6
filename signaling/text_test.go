package signaling

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Bob Smith", "Bob Smith"},
		{"Zoë 日本語 — ok ✓ 🎧", "Zoë 日本語 — ok ✓ 🎧"},
		{`C:\path \x1b`, `C:\path \x1b`}, // a backslash stays
		{"\x1b]0;pwned\x07\x1b[2J", `\x1b]0;pwned\a\x1b[2J`},
		{"a\tb\nc\rd\be", `a\tb\nc\rd\be`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b2J", `csi\u009b2J`},
		{"exe.\u202etxt", `exe.\u202etxt`},
		{"\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d", `\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"line\u2028sep", `line\u2028sep`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"raw \x9b byte \xff", `raw \x9b byte \xff`},
		{"\uFFFD stays", "\uFFFD stays"},
	}
	for _, tt := range tests {
		got := Printable(tt.in)
		if got != tt.want {
			t.Errorf("Printable(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if again := Printable(got); again != got {
			t.Errorf("Printable(Printable(%q)) = %q; want it unchanged, %q", tt.in, again, got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Errorf("Printable(%q) = %q holds %U", tt.in, got, r)
			}
		}
		if !utf8.ValidString(got) || strings.ContainsAny(got, "\x1b\x07\n\t\x7f") {
			t.Errorf("Printable(%q) = %q is not harmless", tt.in, got)
		}
	}
}

// TestPrintableAgreesWithTheServer: what Printable leaves unchanged is what
// the server accepts in a reason or a name, and the reverse.
func TestPrintableAgreesWithTheServer(t *testing.T) {
	for _, s := range []string{"ok", "Zoë", "\x1b[2J", "a\u202eb", "a\u00a0b", "\u200d", "x\x7f"} {
		_, err := CheckName("name", "n"+s)
		if (err == nil) != (Printable(s) == s) {
			t.Errorf("%q: CheckName says %v, Printable gives %q", s, err, Printable(s))
		}
	}
}

// TestFitReason: whatever a client's reason holds, FitReason makes one the
// server accepts, unchanged when it was acceptable already.
func TestFitReason(t *testing.T) {
	for _, r := range []string{"", "ice failed", "one\ntwo", "\x1b[2J", strings.Repeat("é", 200),
		strings.Repeat("x", 255) + "é", strings.Repeat("\x07", 100)} {
		got := FitReason(r)
		if _, err := DecodeClient([]byte(`{"type":"fail","call_id":"c","reason":` + strconv.Quote(got) +
			`}`)); err != nil {
			t.Errorf("FitReason(%q) = %q, refused: %v", r, got, err)
		}
		if len(r) <= MaxReasonLength && Printable(r) == r && got != r {
			t.Errorf("FitReason(%q) = %q; want it unchanged", r, got)
		}
	}
}
