//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-voice/parley/internal/natstest"
	"github.com/parley-voice/parley/signaling"
)

// The text messages of issue 18, with real parley processes against
// `parley serve`.

// A text that would retitle the window, clear the screen and move the
// cursor, and what the text output shows instead.
const (
	hostileText = "\x1b]0;pwned\x07\x1b[2J\x1b[10;10Hgotcha\u009b2J"
	shownText   = `\x1b]0;pwned\a\x1b[2J\x1b[10;10Hgotcha\u009b2J`
)

// TestTextsToOfflineDevices: Alice sends Bob three texts while he is
// offline (one from standard input, carrying escape sequences); too long
// a text and one to nobody are refused with their codes; the server
// restarts; each of Bob's two devices, as it follows its texts, prints the
// three once, in order, the escapes made visible (text) or escaped (JSON);
// a fourth comes live to both, once; followed again, a device prints
// nothing it had. Listing them on one device reads them on both.
func TestTextsToOfflineDevices(t *testing.T) {
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	serve := []string{"--data", filepath.Join(w.home, "data"), "--turn-listen", "off", "--room-port", "0"}
	var srv *proc
	w.server, srv = w.startNode(serve...)
	aliceDev, laptop, phone := w.device("alice"), w.device("laptop"), w.device("phone")
	w.login(aliceDev, "alice", "--name", "Alice")
	w.login(laptop, "bob")
	w.login(phone, "bob")

	for _, args := range [][]string{{"msg", "bob", "one"}, {"msg", "bob"}, {"msg", "bob", "three", "words"}} {
		var p *proc
		if len(args) == 2 {
			p = w.startIn(strings.NewReader(hostileText+"\n"), aliceDev, args...)
		} else {
			p = w.start(aliceDev, args...)
		}
		if l := p.line(t); l != "sent to bob" {
			t.Errorf("parley %v printed %q", args, l)
		}
		if code := p.wait(t); code != exitOK {
			t.Fatalf("parley %v: exit %d: %s", args, code, p.stderr.String())
		}
	}
	for _, tc := range []struct {
		args  []string
		stdin string
		code  string
	}{
		{[]string{"msg", "bob"}, strings.Repeat("x", signaling.MaxTextBytes+1), "invalid_parameter (80101)"},
		{[]string{"msg", "nobody", "hi"}, "", "not_found_user_session_id (80102)"},
	} {
		p := w.startIn(strings.NewReader(tc.stdin), aliceDev, tc.args...)
		for range p.lines {
		}
		if code := p.wait(t); code != exitError || !strings.Contains(p.stderr.String(), tc.code) {
			t.Errorf("parley %v: exit %d, stderr %q; want %d and %s", tc.args[:2], code, p.stderr.String(), exitError,
				tc.code)
		}
	}

	// The texts are in JetStream: they survive a restart.
	srv.cmd.Process.Signal(os.Interrupt)
	if code := srv.wait(t); code != exitOK {
		t.Fatalf("parley serve exited %d", code)
	}
	u, err := url.Parse(w.server)
	if err != nil {
		t.Fatal(err)
	}
	w.startNode(append(serve, "--listen", u.Host)...)

	onLaptop := w.start(laptop, "msgs", "--follow")
	onPhone := w.start(phone, "msgs", "--follow", "--json")
	var printed []string
	for _, want := range []string{"one", shownText, "three words"} {
		l := onLaptop.line(t)
		printed = append(printed, l)
		if !strings.HasSuffix(l, " Alice (alice) → bob: "+want) {
			t.Errorf("the laptop printed %q, want the text %q from Alice", l, want)
		}
	}
	phoneText := func() signaling.Text {
		t.Helper()
		l := onPhone.line(t)
		printed = append(printed, l)
		var x signaling.Text
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("the phone printed %q: %v", l, err)
		}
		return x
	}
	for _, want := range []string{"one", hostileText, "three words"} {
		if x := phoneText(); x.Text != want || x.From != "alice" || x.FromName != "Alice" {
			t.Errorf("the phone printed %+v, want the text %q from Alice", x, want)
		}
	}
	if out, code := w.run(aliceDev, "msg", "bob", "four"); code != exitOK {
		t.Fatalf("parley msg bob four: exit %d: %s", code, out)
	}
	if l := onLaptop.line(t); !strings.HasSuffix(l, ": four") {
		t.Errorf("the laptop printed %q, want four", l)
	}
	if x := phoneText(); x.Text != "four" {
		t.Errorf("the phone printed %+v, want four", x)
	}
	for _, l := range printed {
		if s := harmful(l); s != "" {
			t.Errorf("a line printed holds %q: %q", s, l)
		}
	}

	// Followed again, the laptop prints only what came since: five.
	onLaptop.cmd.Process.Signal(os.Interrupt)
	if code := onLaptop.wait(t); code != exitOK {
		t.Errorf("msgs --follow interrupted: exit %d: %s", code, onLaptop.stderr.String())
	}
	if out, code := w.run(aliceDev, "msg", "bob", "five"); code != exitOK {
		t.Fatalf("parley msg bob five: exit %d: %s", code, out)
	}
	again := w.start(laptop, "msgs", "--follow")
	if l := again.line(t); !strings.HasSuffix(l, ": five") {
		t.Errorf("the laptop, followed again, printed %q first, want five", l)
	}
	if x := phoneText(); x.Text != "five" {
		t.Errorf("the phone printed %+v, want five", x)
	}

	// Listed on the phone: all five, unread; then read on the laptop too.
	out, code := w.run(phone, "msgs", "alice")
	if code != exitOK || strings.Count(out, "Alice (alice) → bob: ") != 5 ||
		!strings.HasSuffix(out, "5 unread: alice (5)\n") || harmful(out) != "" || !strings.Contains(out, shownText) {
		t.Errorf("parley msgs alice on the phone: exit %d:\n%s", code, out)
	}
	out, code = w.run(laptop, "msgs", "--json")
	var l signaling.Texts
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != exitOK || len(l.Texts) != 5 ||
		len(l.Unread) != 0 || l.Texts[1].Text != hostileText || harmful(out) != "" {
		t.Errorf("parley msgs --json on the laptop once read on the phone: exit %d, %v:\n%s", code, err, out)
	}
}

// TestTextsInTheUI: Bob's UI counts Alice's text sent while he was away
// on her contact; t opens their conversation, which shows the text's
// escape sequences visibly: the window's title is not set, nothing is
// cleared or moved. A text Alice sends while it is open comes at once;
// Bob's reply reaches her.
func TestTextsInTheUI(t *testing.T) {
	w := newWorld(t)
	aliceDev, laptop := w.device("alice"), w.device("laptop")
	w.login(aliceDev, "alice", "--name", "Alice")
	w.login(laptop, "bob")
	if out, code := w.run(laptop, "contacts", "add", "alice"); code != exitOK {
		t.Fatalf("parley contacts add alice: exit %d: %s", code, out)
	}
	p := w.startIn(strings.NewReader(hostileText), aliceDev, "msg", "bob")
	for range p.lines {
	}
	if code := p.wait(t); code != exitOK {
		t.Fatalf("parley msg bob: exit %d: %s", code, p.stderr.String())
	}

	x := newTmux(t)
	x.open("laptop", append(laptop, "PARLEY_TEST_EXEC=1", "XDG_STATE_HOME="+filepath.Join(w.home, "tui"),
		"PARLEY_SERVER=", "PARLEY_TOKEN=", "TERM=xterm-256color"))
	x.waitFor("laptop", `● connected`)
	x.waitFor("laptop", `Alice \(alice\)\s+1 unread`)
	x.keys("laptop", "t")
	x.waitFor("laptop", regexp.QuoteMeta("Alice (alice): "+shownText))
	if title := x.run("display-message", "-p", "-t", "laptop", "#{pane_title}"); strings.Contains(title, "pwned") {
		t.Errorf("the window's title was set: %q", title)
	}
	if screen := x.screen("laptop"); strings.Count(screen, "gotcha") != 1 {
		t.Errorf("want gotcha once, in the text:\n%s", screen)
	}

	if out, code := w.run(aliceDev, "msg", "bob", "are you there?"); code != exitOK {
		t.Fatalf("parley msg bob: exit %d: %s", code, out)
	}
	x.waitFor("laptop", `Alice \(alice\): are you there\?`)
	x.keys("laptop", "-l", "yes, here")
	x.keys("laptop", "Enter")
	x.waitFor("laptop", `you: yes, here`)
	out, code := w.run(aliceDev, "msgs", "bob")
	if code != exitOK || !strings.Contains(out, "bob → Alice (alice): yes, here\n") ||
		!strings.HasSuffix(out, "1 unread: bob\n") {
		t.Errorf("alice's texts with bob: exit %d:\n%s", code, out)
	}
	x.keys("laptop", "Escape")
	x.waitFor("laptop", `Alice \(alice\)\s+(offline|last seen)`) // read: no longer counted
	x.keys("laptop", "q")
}

// TestTextsOnACluster: two `parley serve --nats` nodes on a real
// nats-server: a text sent through node 1 reaches Bob following his texts
// on node 2, and one sent while he follows comes at once across the
// nodes; both nodes list the same texts.
func TestTextsOnACluster(t *testing.T) {
	natsURL := natstest.Start(t).URL
	w := &world{t: t, home: t.TempDir(), apiKey: testAPIKey}
	nodes := w.twoNodes(natsURL)
	aliceDev, laptop := w.device("alice"), w.device("laptop")
	w.login(aliceDev, "alice", "--name", "Alice")
	w.login(laptop, "bob")
	onNode2 := append(slices.Clone(laptop), "PARLEY_SERVER="+nodes[1])

	if out, code := w.run(aliceDev, "msg", "bob", "through node 1"); code != exitOK {
		t.Fatalf("parley msg bob: exit %d: %s", code, out)
	}
	follow := w.start(onNode2, "msgs", "--follow")
	if l := follow.line(t); !strings.HasSuffix(l, "Alice (alice) → bob: through node 1") {
		t.Errorf("bob on node 2 printed %q", l)
	}
	if out, code := w.run(aliceDev, "msg", "bob", "live across"); code != exitOK {
		t.Fatalf("parley msg bob: exit %d: %s", code, out)
	}
	if l := follow.line(t); !strings.HasSuffix(l, "Alice (alice) → bob: live across") {
		t.Errorf("bob on node 2 printed %q", l)
	}
	var lists [2]string
	for i := range nodes {
		out, code := w.run(append(slices.Clone(laptop), "PARLEY_SERVER="+nodes[i]), "msgs", "--json",
			"--keep-unread")
		if code != exitOK || strings.Count(out, `"seq"`) != 2 {
			t.Errorf("bob's texts on node %d: exit %d: %s", i+1, code, out)
		}
		lists[i] = out
	}
	if lists[0] != lists[1] {
		t.Errorf("the nodes list other texts:\n%s\n%s", lists[0], lists[1])
	}
}

// TestGuestTextsInBrowser: Carol, a guest in headless Chromium, waits for
// Alice (offline) and writes to her from the call page; Alice reads it
// with `parley msgs` and replies to the guest's id; her reply shows in the
// page as text (its markup is not markup). Bob cannot write to Alice's
// guest (80102).
func TestGuestTextsInBrowser(t *testing.T) {
	w := newWorld(t)
	alice, bob := "PARLEY_TOKEN="+w.token("alice"), "PARLEY_TOKEN="+w.token("bob")
	out, code := w.run([]string{alice}, "link", "--name", "Carol")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	link := lines[len(lines)-1]
	if code != exitOK || !strings.Contains(link, "/join/") {
		t.Fatalf("parley link: exit %d: %s", code, out)
	}
	wav, _ := speechWAV(t)
	tab, _ := browser(t, wav)
	bodyText(t, tab, link)
	click(t, tab, "join")
	waitStatus(t, tab, "alice is not online yet", 20*time.Second)
	if err := waitFor(tab, `!document.getElementById('texts').hidden`, 10*time.Second); err != nil {
		t.Fatalf("no texts on the call page: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.SetValue(chromedp.ID("text-input"), "I am at the door")); err != nil {
		t.Fatal(err)
	}
	click(t, tab, "text-send")
	if err := waitFor(tab, `window.parley.texts.list.length === 1`, 10*time.Second); err != nil {
		t.Fatalf("the guest's text was not sent: %v", err)
	}

	out, code = w.run([]string{alice}, "msgs", "--json")
	var l signaling.Texts
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != exitOK || len(l.Texts) != 1 ||
		!strings.HasPrefix(l.Texts[0].From, "guest-") || l.Texts[0].FromName != "Carol" ||
		l.Texts[0].Text != "I am at the door" {
		t.Fatalf("alice's texts: exit %d, %v: %s", code, err, out)
	}
	guest := l.Texts[0].From
	if out, code := w.run([]string{alice}, "msg", guest, "coming <b>soon</b>"); code != exitOK {
		t.Fatalf("alice replies to %s: exit %d: %s", guest, code, out)
	}
	if err := waitFor(tab, `document.getElementById('text-list').innerText.includes('alice: coming <b>soon</b>') && `+
		`document.querySelectorAll('#text-list b').length === 0`, 10*time.Second); err != nil {
		t.Errorf("alice's reply is not shown as text in the page: %v", err)
	}
	p := w.start([]string{bob}, "msg", guest, "who are you?")
	for range p.lines {
	}
	if code := p.wait(t); code != exitError || !strings.Contains(p.stderr.String(), "(80102)") {
		t.Errorf("bob writes to alice's guest: exit %d, %s; want %d and 80102", code, p.stderr.String(), exitError)
	}
}
