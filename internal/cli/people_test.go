package cli

import (
	"strings"
	"testing"
)

// TestLinkOn: `parley invite` and `parley link` show the server's link;
// when the server made none (no --public-url, listening on every address)
// they build it on the address they reached the server at, and say so.
func TestLinkOn(t *testing.T) {
	if link, note := linkOn("https://voice.example.com/invite/abcd", "http://10.0.0.5:7700", "/invite/abcd"); link !=
		"https://voice.example.com/invite/abcd" || note != "" {
		t.Errorf("the server's link: got %q %q", link, note)
	}
	link, note := linkOn("", "http://10.0.0.5:7700/", "/join/xyz")
	if link != "http://10.0.0.5:7700/join/xyz" || !strings.Contains(note, "http://10.0.0.5:7700/") ||
		!strings.Contains(note, "--public-url") {
		t.Errorf("no link from the server: got %q %q", link, note)
	}
}
