//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-voice/parley/internal/audiotest"
)

// chromium is Debian's Chromium, which `make test` installs.
const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium whose microphone plays wav in a loop,
// with its media permission granted and nothing sent off this machine. It
// returns a context for a tab; newTab makes another tab in a fresh
// profile (no cookies).
func browser(t *testing.T, wav string) (tab context.Context, newTab func() context.Context) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no Chromium at %s (`make test-deps` installs the Debian package chromium): %v", chromium, err)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root, in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns,Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, stopAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, stop := chromedp.NewContext(alloc)
	t.Cleanup(func() { stop(); stopAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx, func() context.Context {
		c, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(c); err != nil { // open the tab
			t.Fatalf("open a tab: %v", err)
		}
		return c
	}
}

// waitFor waits until the JavaScript expression js is true in the page.
func waitFor(tab context.Context, js string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(tab, within)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(within)))
	return err
}

// waitStatus waits until the page's status line shows want.
func waitStatus(t *testing.T, tab context.Context, want string, within time.Duration) {
	t.Helper()
	js := fmt.Sprintf(`(document.getElementById('status')?.textContent ?? '').includes(%q)`, want)
	if err := waitFor(tab, js, within); err != nil {
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the page did not show %q within %v: %v; it shows:\n%s", want, within, err, text)
	}
}

// click clicks the button with id.
func click(t *testing.T, tab context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID(id))); err != nil {
		t.Fatalf("click #%s: %v", id, err)
	}
}

// bodyText is the text of the page at url, opened in tab.
func bodyText(t *testing.T, tab context.Context, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return text
}

// speechWAV writes a few seconds of espeak-ng speech as 48 kHz mono and
// returns its path and samples.
func speechWAV(t *testing.T) (string, []int16) {
	t.Helper()
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "espeak.wav"), filepath.Join(dir, "speech.wav")
	text := "Hello from the browser. This is a guest calling through a link, to check that every word arrives."
	if out, err := exec.Command("espeak-ng", "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	if out, err := exec.Command("sox", raw, "-r", "48000", "-c", "1", "-b", "16", wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	w, err := audiotest.ReadWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	return wav, w.Samples
}

// TestGuestLinkInBrowser: Alice makes a guest link for Carol; Carol opens
// it in headless Chromium (her microphone plays recorded speech), joins and
// waits in the lobby while Alice is offline; `parley answer` comes online,
// sees "Guest Carol is waiting" and lets her in. Carol's speech arrives at
// Alice's side with its envelope intact, and Alice's 880 Hz tone reaches
// the page, measured there with WebAudio; Carol's mute reaches Alice. Once
// the call is over the link no longer opens a call: not for Carol, not for
// anyone else; and a link past its expiry says so.
func TestGuestLinkInBrowser(t *testing.T) {
	w := newWorld(t)
	alice := "PARLEY_TOKEN=" + w.token("alice")
	wav, speech := speechWAV(t)

	makeLink := func(args ...string) string {
		out, code := w.run([]string{alice}, append([]string{"link"}, args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || !strings.Contains(lines[len(lines)-1], "/join/") {
			t.Fatalf("parley link %v: exit %d: %s", args, code, out)
		}
		return lines[len(lines)-1] // the link stands alone on the last line
	}
	expiring := makeLink("--name", "Dan", "--expires", "1s")
	link := makeLink("--name", "Carol")
	t.Logf("guest link: %s", link)

	tab, newTab := browser(t, wav)
	if text := bodyText(t, tab, link); !strings.Contains(text, "Call with alice") ||
		!strings.Contains(text, "You join as Carol") {
		t.Errorf("the call page reads:\n%s\nwant it to name alice and Carol", text)
	}
	click(t, tab, "join")
	// Alice is not online yet: Carol waits, knocking again every few seconds.
	waitStatus(t, tab, "alice is not online yet", 20*time.Second)

	rec := filepath.Join(w.home, "alice-heard.wav")
	a := w.start([]string{alice}, "answer", "--json", "--in", "tone:880", "--out", "file:"+rec, "--for", "9s")
	a.expect(t, "connected", map[string]any{"user": "alice"})
	knock := a.expect(t, "call", map[string]any{"status": "started", "direction": "inbound", "to": "alice",
		"from_name": "Carol", "guest": true})
	if from, _ := knock["from"].(string); !strings.HasPrefix(from, "guest-") {
		t.Errorf("the guest's call comes from %q, want a guest- id", from)
	}
	waitStatus(t, tab, "Waiting for alice to let you in", 10*time.Second)
	a.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
	a.expect(t, "call_status_changed", map[string]any{"status": "answered"})
	waitStatus(t, tab, "In the call", 10*time.Second)

	// Alice's tone, in the page: the strongest frequency of what the page
	// receives, and its level, sampled every 100 ms for 2 s once audio
	// arrives.
	if err := waitFor(tab, `window.parley.remoteTone().level > -40`, 10*time.Second); err != nil {
		t.Fatalf("no audio from Alice reached the page: %v", err)
	}
	var hzs, levels []float64
	for range 20 {
		tone, err := chromedp.Run(tab, chromedp.Evaluate[struct{ Hz, Db, Level float64 }](`window.parley.remoteTone()`))
		if err != nil {
			t.Fatal(err)
		}
		hzs, levels = append(hzs, tone.Hz), append(levels, tone.Level)
		time.Sleep(100 * time.Millisecond)
	}
	hz, lvl := audiotest.Median(hzs), audiotest.Median(levels)
	t.Logf("the page hears %.1f Hz at %.1f dBFS (median of 20 readings; per reading %.0f Hz)", hz, lvl, hzs)
	if math.Abs(hz-880) > 15 || lvl < -30 {
		t.Errorf("the page hears %.1f Hz at %.1f dBFS, want 880 ± 15 Hz above -30 dBFS", hz, lvl)
	}

	// Carol mutes: Alice is told.
	click(t, tab, "mute")
	a.expect(t, "mute", map[string]any{"local": false, "muted": true})
	click(t, tab, "mute")
	a.expect(t, "mute", map[string]any{"local": false, "muted": false})

	a.expect(t, "call_status_changed", map[string]any{"status": "completed"})
	if code := a.wait(t); code != exitOK {
		t.Errorf("parley answer exited %d, want 0", code)
	}
	waitStatus(t, tab, "The call has ended", 10*time.Second)

	// Carol's speech at Alice's side: the envelope of the recording from
	// 2 s into the call (before: the mute test) matched against the looped
	// speech. Chromium's own processing (echo cancellation, noise
	// suppression, gain) is on, as for any guest.
	heard, err := audiotest.ReadWAV(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(heard.Samples) < 3*audiotest.SampleRate {
		t.Fatalf("Alice's side recorded %d samples, want a few seconds", len(heard.Samples))
	}
	got := heard.Samples[audiotest.SampleRate/2 : 5*audiotest.SampleRate/2] // 0.5 to 2.5 s after media began
	loop := slices.Concat(speech, speech, speech)
	corr, lag := audiotest.Correlate(audiotest.Envelope(loop), audiotest.Envelope(got),
		len(loop)/audiotest.EnvelopeWindow)
	t.Logf("Carol's speech at Alice's side: envelope correlation %.2f (lag %d ms into the loop), %.1f dBFS", corr,
		-lag*10, audiotest.DBFS(got))
	if corr < 0.7 {
		t.Errorf("Carol's speech arrives with an envelope correlation of %.2f, want ≥ 0.7", corr)
	}

	// The link is spent: Carol's browser is told the call is over, anyone
	// else that it was used. A link past its time says it expired.
	if text := bodyText(t, tab, link); !strings.Contains(text, "Your call is over") {
		t.Errorf("reopened after the call, the link shows:\n%s", text)
	}
	if text := bodyText(t, newTab(), link); !strings.Contains(text, "This link was used already") {
		t.Errorf("opened by someone else, the link shows:\n%s", text)
	}
	if text := bodyText(t, newTab(), expiring); !strings.Contains(text, "This link has expired") {
		t.Errorf("after its expiry, the link shows:\n%s", text)
	}
	for _, c := range []struct {
		url  string
		want int
	}{{link, http.StatusGone}, {expiring, http.StatusGone}, {strings.TrimSuffix(link, link[len(link)-4:]) + "zzzz",
		http.StatusNotFound}} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %s, want %d", c.url, resp.Status, c.want)
		}
	}
}
