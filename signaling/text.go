package signaling

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s made harmless for a terminal, for text that came from
// someone else (another person, a server, a file) and is about to be shown.
//
// Every character that unicode.IsPrint rejects is replaced by its escape as
// Go's %q writes it: ESC becomes `\x1b`, BEL `\a`, tab `\t`, newline `\n`,
// DEL `\x7f`, the C1 CSI `\u009b`, the bidi override U+202E `\u202e`; a byte
// that is not UTF-8 becomes `\x9b` and so on. That covers the C0 and C1
// controls and DEL (escape sequences that retitle a window, clear the
// screen, move the cursor, ring), the bidi controls and other invisible
// format characters (which reorder or hide what the reader sees), and line
// and paragraph breaks (so that a one-line field stays one line). It is the
// test CheckName makes and the server applies to what clients send, so text
// a server following these rules sends is shown unchanged.
//
// A visible escape rather than U+FFFD or nothing: the reader sees that
// something was there, and what (a `\x1b]0;` is plainly an attempt, worth
// reporting), different inputs stay different, and Printable of its own
// output changes nothing, so text made harmless twice (a call record saved
// and loaded again) reads the same. A backslash is left as it is: the
// escapes are for the eye, not to be decoded, and ordinary text stays
// ordinary.
func Printable(s string) string {
	if firstUnprintable(s) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// firstUnprintable returns the index in s of the first byte that is not
// UTF-8 or starts a character unicode.IsPrint rejects, or -1.
func firstUnprintable(s string) int {
	for i, r := range s {
		if !unicode.IsPrint(r) || (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) {
			return i
		}
	}
	return -1
}

// checkPrintable returns an InvalidParameter error when s holds a character
// Printable would escape; what names the field.
func checkPrintable(what, s string) error {
	i := firstUnprintable(s)
	if i < 0 {
		return nil
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return Errorf(InvalidParameter, "%s contains a control character (%U): use one line of printable text", what, r)
}

// FitReason returns reason as DecodeClient accepts it in a fail or a
// hangup: Printable, and cut to MaxReasonLength bytes. A client's reasons
// often end with an error's text, which may be long or hold a newline.
func FitReason(reason string) string {
	r := Printable(reason)
	if len(r) > MaxReasonLength {
		r = strings.ToValidUTF8(r[:MaxReasonLength], "") // no half character at the cut
	}
	return r
}
