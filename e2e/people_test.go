//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-voice/parley/config"
	"github.com/parley-voice/parley/internal/testcert"
)

// The CLI of issue 4, with real parley processes against `parley serve`:
// invite, login, logout, contacts, presence, status --wait, two devices,
// revocation, teams and TLS.

// device is the environment of one signed-in device: its own config file.
func (w *world) device(name string) []string {
	return []string{"PARLEY_CONFIG=" + filepath.Join(w.home, name+".json")}
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// invite runs `parley invite` and returns its link.
func (w *world) invite(args ...string) string {
	w.t.Helper()
	out, code := w.run(nil, append([]string{"invite"}, args...)...)
	if code != exitOK {
		w.t.Fatalf("parley invite %v: exit %d: %s", args, code, out)
	}
	link := lastLine(out)
	if !strings.HasPrefix(link, w.server+"/invite/") || strings.Contains(link, " ") {
		w.t.Fatalf("parley invite: last line %q is not the link alone:\n%s", link, out)
	}
	return link
}

// login signs a device in with an invite for user.
func (w *world) login(dev []string, user string, extra ...string) {
	w.t.Helper()
	link := w.invite(append([]string{user}, extra...)...)
	out, code := w.run(dev, "login", link, "--device", "test")
	if code != exitOK || !strings.Contains(out, "Signed in as") {
		w.t.Fatalf("parley login: exit %d: %s", code, out)
	}
}

// readConfig reads a device's config file and checks its mode.
func readConfig(t *testing.T, dev []string) config.Config {
	t.Helper()
	path := strings.TrimPrefix(dev[0], "PARLEY_CONFIG=")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	c, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInviteLoginLogout: an admin invites, the person signs in on a fresh
// config with the link, calls and is called with their display name, sees
// the verification code, and signs out.
func TestInviteLoginLogout(t *testing.T) {
	w := newWorld(t)
	alice := "PARLEY_TOKEN=" + w.token("alice")
	bob := w.device("bob")

	out, code := w.run(nil, "invite", "bob", "--name", "Bob Builder")
	if code != exitOK {
		t.Fatalf("invite: %d %s", code, out)
	}
	t.Logf("parley invite bob:\n%s", out)
	link := lastLine(out)
	codeWord := link[strings.LastIndex(link, "/")+1:]
	if !strings.Contains(out, "Code: "+codeWord) || !strings.Contains(out, "Bob Builder (bob)") {
		t.Errorf("invite output lacks the code or the name:\n%s", out)
	}
	out, code = w.run(bob, "login", link, "--device", "laptop")
	if code != exitOK || !strings.Contains(out, "Bob Builder (bob)") {
		t.Fatalf("login: %d %s", code, out)
	}
	cfg := readConfig(t, bob)
	if cfg.Credential == "" || cfg.Token != "" || cfg.User != "bob" || cfg.Name != "Bob Builder" ||
		cfg.Server != w.server || !strings.HasPrefix(cfg.Device, "dev-") {
		t.Fatalf("config after login: %+v", cfg)
	}
	// The doctor signs in as the device does.
	if out, _ := w.run(bob, "doctor", "--no-audio"); !strings.Contains(out, "✓ token") ||
		!strings.Contains(out, "signed in as bob") {
		t.Errorf("doctor on a device signed in with login does not sign in:\n%s", out)
	}
	// The link works once.
	if out, code := w.run(w.device("eve"), "login", link); code != exitError {
		t.Errorf("second login with the link: exit %d: %s", code, out)
	}
	// A code works too, with the server named.
	link2 := w.invite("bob")
	code2 := link2[strings.LastIndex(link2, "/")+1:]
	if out, code := w.run(w.device("bob-phone"), "login", code2, "--server", w.server); code != exitOK {
		t.Errorf("login with a code: exit %d: %s", code, out)
	}

	// Signed in with the device: a call, both sides read the same code.
	b := w.start(bob, "answer", "--in", "tone:660", "--out", "null", "--json")
	b.expect(t, "connected", map[string]any{"user": "bob", "name": "Bob Builder"})
	a := w.start([]string{alice}, "call", "bob", "--in", "tone:440", "--out", "null", "--for", "1s", "--json")
	a.expect(t, "connected", nil)
	a.expect(t, "call", map[string]any{"to": "bob", "to_name": "Bob Builder"})
	b.expect(t, "call", map[string]any{"from": "alice", "to_name": "Bob Builder"})
	codes := map[string]string{}
	for name, p := range map[string]*proc{"alice": a, "bob": b} {
		p.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
		p.expect(t, "call_status_changed", map[string]any{"status": "answered"})
		v := p.expect(t, "verification", nil)
		codes[name], _ = v["code"].(string)
		p.expect(t, "call_status_changed", map[string]any{"status": "completed"})
		if code := p.wait(t); code != exitOK {
			t.Errorf("%s exit %d", name, code)
		}
	}
	t.Logf("verification codes: %v", codes)
	if codes["alice"] == "" || codes["alice"] != codes["bob"] {
		t.Errorf("verification codes differ: %v", codes)
	}

	// Contacts on the server, and the status with the last seen.
	if out, code := w.run(bob, "contacts", "add", "alice"); code != exitOK || !strings.Contains(out, "Added alice") {
		t.Errorf("contacts add: %d %s", code, out)
	}
	if out, code := w.run(bob, "contacts", "add", "nobody"); code != exitError {
		t.Errorf("contacts add nobody: %d %s", code, out)
	}
	if out, code := w.run(bob, "contacts"); code != exitOK || !strings.Contains(out, "alice") {
		t.Errorf("contacts: %d %s", code, out)
	}
	out, code = w.run([]string{alice}, "status", "bob")
	if code != exitOffline || !strings.HasPrefix(out, "offline\nname: Bob Builder\nlast seen: ") {
		t.Errorf("status bob: exit %d:\n%s", code, out)
	}
	if _, code := w.run([]string{alice}, "status", "nobody"); code != exitError {
		t.Errorf("status of nobody: exit %d, want %d", code, exitError)
	}

	// Do not disturb: the call is refused at once, and the caller told why.
	if out, code := w.run(bob, "presence", "dnd"); code != exitOK || !strings.Contains(out, "do not disturb") {
		t.Errorf("presence dnd: %d %s", code, out)
	}
	b = w.start(bob, "answer", "--in", "silence", "--out", "null", "--json")
	b.expect(t, "connected", nil)
	if out, code := w.run([]string{alice}, "status", "bob"); code != exitOK || !strings.HasPrefix(out, "dnd\n") {
		t.Errorf("status of bob in dnd: exit %d: %s", code, out)
	}
	a = w.start([]string{alice}, "call", "bob", "--in", "silence", "--out", "null", "--json")
	a.expect(t, "connected", nil)
	e := a.expect(t, "error", map[string]any{"code": float64(80202)})
	if msg, _ := e["message"].(string); !strings.Contains(msg, "do not disturb") {
		t.Errorf("refusal %v does not say why", e)
	}
	if code := a.wait(t); code != exitError {
		t.Errorf("call to dnd: exit %d", code)
	}
	if out, code := w.run(bob, "presence", "online"); code != exitOK {
		t.Errorf("presence online: %d %s", code, out)
	}

	// Logout revokes the device: the running answer is cut off, the
	// config forgets the credential, and nothing signs in any more.
	out, code = w.run(bob, "logout")
	if code != exitOK || !strings.Contains(out, "Signed out") {
		t.Fatalf("logout: %d %s", code, out)
	}
	b.expect(t, "error", map[string]any{"code": float64(80401)})
	if code := b.wait(t); code != exitError {
		t.Errorf("answer after logout: exit %d", code)
	}
	if cfg := readConfig(t, bob); cfg.Credential != "" || cfg.Device != "" {
		t.Errorf("config after logout %+v", cfg)
	}
	if _, code := w.run(bob, "contacts"); code == exitOK {
		t.Error("contacts after logout worked")
	}

	// A plain-HTTP server that is not this machine is refused.
	out, code = w.run(w.device("far"), "login", "http://192.0.2.7:7700/invite/abcd-efgh-jkmn")
	if code != exitError {
		t.Errorf("login over plain HTTP far away: exit %d: %s", code, out)
	}
}

// TestTwoDevicesRing: one person on two terminals; the call rings on both,
// the first to answer takes it, the other hears it went elsewhere.
func TestTwoDevicesRing(t *testing.T) {
	w := newWorld(t)
	alice := "PARLEY_TOKEN=" + w.token("alice")
	laptop, phone := w.device("laptop"), w.device("phone")
	w.login(laptop, "bob", "--name", "Bob")
	w.login(phone, "bob")
	media := []string{"--in", "silence", "--out", "null", "--json"}
	devs := []*proc{w.start(laptop, append([]string{"answer"}, media...)...),
		w.start(phone, append([]string{"answer"}, media...)...)}
	for _, d := range devs {
		d.expect(t, "connected", map[string]any{"user": "bob"})
	}
	// One person online, with two sessions.
	if out, code := w.run([]string{alice}, "status", "bob"); code != exitOK || !strings.HasPrefix(out, "online\n") {
		t.Errorf("status: %d %s", code, out)
	}
	a := w.start([]string{alice}, append([]string{"call", "bob", "--for", "500ms"}, media...)...)
	a.expect(t, "connected", nil)
	start := a.expect(t, "call", nil)
	var took, elsewhere int
	for _, d := range devs {
		d.expect(t, "call", map[string]any{"id": start["id"], "direction": "inbound"})
	}
	for i, d := range devs {
		d.expect(t, "call_status_changed", map[string]any{"status": "ringing"})
		ev := d.expect(t, "call_status_changed", map[string]any{"status": "answered"})
		if ev["reason"] == "answered on another device" {
			elsewhere++
			if code := d.wait(t); code != exitUnanswered {
				t.Errorf("device %d: answered elsewhere, exit %d, want %d", i, code, exitUnanswered)
			}
			continue
		}
		took++
		d.expect(t, "call_status_changed", map[string]any{"status": "completed"})
		if code := d.wait(t); code != exitOK {
			t.Errorf("device %d: exit %d", i, code)
		}
	}
	if took != 1 || elsewhere != 1 {
		t.Errorf("%d devices took the call, %d heard it went elsewhere; want 1 and 1", took, elsewhere)
	}
	if code := a.wait(t); code != exitOK {
		t.Errorf("caller exit %d", code)
	}
}

// TestRevokeDevice: an admin revokes a running device: it is cut off
// within 5 s and cannot sign in again; the user's other device goes on.
func TestRevokeDevice(t *testing.T) {
	w := newWorld(t)
	laptop, phone := w.device("laptop"), w.device("phone")
	w.login(laptop, "bob")
	w.login(phone, "bob")
	media := []string{"--in", "silence", "--out", "null", "--json"}
	onLaptop := w.start(laptop, append([]string{"answer"}, media...)...)
	onLaptop.expect(t, "connected", nil)
	onPhone := w.start(phone, append([]string{"answer"}, media...)...)
	onPhone.expect(t, "connected", nil)

	out, code := w.run(nil, "admin", "devices", "bob")
	if code != exitOK || strings.Count(out, "dev-") != 2 {
		t.Fatalf("admin devices: %d\n%s", code, out)
	}
	dev := readConfig(t, laptop).Device
	start := time.Now()
	out, code = w.run(nil, "admin", "revoke", dev)
	if code != exitOK || !strings.Contains(out, dev) {
		t.Fatalf("admin revoke: %d %s", code, out)
	}
	onLaptop.expect(t, "error", map[string]any{"code": float64(80401)})
	if code := onLaptop.wait(t); code != exitError {
		t.Errorf("revoked answer: exit %d", code)
	}
	took := time.Since(start)
	t.Logf("revoked device cut off %v after `parley admin revoke` started", took)
	if took > 5*time.Second {
		t.Errorf("cut off after %v, want within 5 s", took)
	}
	if out, code := w.run(laptop, "answer", "--in", "silence", "--out", "null"); code != exitError {
		t.Errorf("revoked device signs in again: exit %d: %s", code, out)
	}
	out, code = w.run(nil, "admin", "users")
	if code != exitOK || !strings.Contains(out, "bob") {
		t.Errorf("admin users: %d\n%s", code, out)
	}
	t.Logf("parley admin users:\n%s", out)
	// The phone is still signed in.
	if out, code := w.run(phone, "contacts"); code != exitOK {
		t.Errorf("the other device: %d %s", code, out)
	}
	out, code = w.run(nil, "admin", "revoke", "bob")
	if code != exitOK || !strings.Contains(out, "Revoked bob") {
		t.Errorf("revoke bob: %d %s", code, out)
	}
	onPhone.expect(t, "error", map[string]any{"code": float64(80401)})
}

// TestTeamsCLI: a team made with the server's key; its key acts within it;
// a user of another team looks like one who does not exist.
func TestTeamsCLI(t *testing.T) {
	w := newWorld(t)
	w.token("alice") // default team
	out, code := w.run(nil, "admin", "team", "add", "acme")
	if code != exitOK {
		t.Fatalf("team add: %d %s", code, out)
	}
	key := lastLine(out)
	if len(key) < 20 || strings.Contains(key, " ") {
		t.Fatalf("the last line %q is not the key alone:\n%s", key, out)
	}
	if _, code := w.run(nil, "admin", "team", "add", "other", "--api-key", key); code != exitError {
		t.Errorf("a team key made a team: exit %d", code)
	}
	tok, code := w.run(nil, "token", "carol", "--api-key", key)
	if code != exitOK {
		t.Fatalf("token in acme: %d", code)
	}
	carol := []string{"PARLEY_TOKEN=" + strings.TrimSpace(tok)}
	refusal := func(user string) map[string]any {
		p := w.start(carol, "call", user, "--in", "silence", "--out", "null", "--json")
		p.expect(t, "connected", nil)
		e := p.expect(t, "error", map[string]any{"code": float64(80102)})
		if code := p.wait(t); code != exitError {
			t.Errorf("call %s: exit %d", user, code)
		}
		return e
	}
	other, nobody := refusal("alice"), refusal("nobody")
	if strings.ReplaceAll(other["message"].(string), "alice", "X") != strings.ReplaceAll(nobody["message"].(string),
		"nobody", "X") {
		t.Errorf("another team's user: %v\nnobody: %v", other, nobody)
	}
	out1, c1 := w.run(carol, "status", "alice")
	out2, c2 := w.run(carol, "status", "nobody")
	if c1 != c2 || c1 != exitError || out1 != out2 {
		t.Errorf("status of another team's user: %d %q; of nobody: %d %q", c1, out1, c2, out2)
	}
	out, code = w.run(nil, "admin", "users", "--api-key", key)
	if code != exitOK || !strings.Contains(out, "carol") || strings.Contains(out, "alice") {
		t.Errorf("acme users: %d\n%s", code, out)
	}
	// An invite with the team key signs in to the team.
	link := w.invite("dave", "--api-key", key)
	dev := w.device("dave")
	if out, code := w.run(dev, "login", link); code != exitOK || !strings.Contains(out, "team acme") {
		t.Errorf("login to acme: %d %s", code, out)
	}
}

// TestStatusWait: `parley status USER --wait` returns once USER is online.
func TestStatusWait(t *testing.T) {
	w := newWorld(t)
	alice := "PARLEY_TOKEN=" + w.token("alice")
	bob := "PARLEY_TOKEN=" + w.token("bob")
	waiter := w.start([]string{alice}, "status", "bob", "--wait")
	time.Sleep(500 * time.Millisecond)
	select {
	case <-waiter.done:
		t.Fatalf("status --wait returned while bob was offline: %d", waiter.code)
	default:
	}
	start := time.Now()
	b := w.start([]string{bob}, "answer", "--in", "silence", "--out", "null", "--json")
	b.expect(t, "connected", nil)
	if l := waiter.line(t); l != "online" {
		t.Errorf("status --wait printed %q", l)
	}
	if code := waiter.wait(t); code != exitOK {
		t.Errorf("status --wait: exit %d", code)
	}
	t.Logf("status --wait returned %v after bob started", time.Since(start))
}

// TestTLSCLI: `parley serve --tls-cert --tls-key`; clients verify the
// certificate against --ca (remembered at login), and refuse another CA.
func TestTLSCLI(t *testing.T) {
	dir := t.TempDir()
	good, other := testcert.Write(t, dir, "good"), testcert.Write(t, dir, "other")
	w := newWorld(t, "--tls-cert", good.Cert, "--tls-key", good.Key)
	if !strings.HasPrefix(w.server, "https://") {
		t.Fatalf("server at %s", w.server)
	}
	if out, code := w.run(nil, "token", "alice", "--ca", good.CA); code != exitOK {
		t.Fatalf("token over TLS: %d %s", code, out)
	}
	p := w.start(nil, "token", "alice")
	for range p.lines {
	}
	if code := p.wait(t); code == exitOK || !strings.Contains(p.stderr.String(), "--ca") {
		t.Errorf("token without the CA: exit %d: %s", code, p.stderr.String())
	}
	if _, code := w.run(nil, "token", "alice", "--ca", other.CA); code == exitOK {
		t.Error("another CA was trusted")
	}
	link := strings.TrimSpace(lastLine(func() string {
		out, code := w.run([]string{"PARLEY_CA=" + good.CA}, "invite", "bob")
		if code != exitOK {
			t.Fatalf("invite over TLS: %d %s", code, out)
		}
		return out
	}()))
	if !strings.HasPrefix(link, "https://") {
		t.Fatalf("link %s", link)
	}
	bob := w.device("bob")
	if out, code := w.run(bob, "login", link, "--ca", good.CA); code != exitOK {
		t.Fatalf("login over TLS: %d %s", code, out)
	}
	if cfg := readConfig(t, bob); cfg.CA != good.CA {
		t.Errorf("the CA is not remembered: %+v", cfg)
	}
	b := w.start(bob, "answer", "--in", "silence", "--out", "null", "--json") // wss, with the saved CA
	b.expect(t, "connected", map[string]any{"user": "bob"})
	out, code := w.run([]string{"PARLEY_TOKEN=" + w.token2("alice", good.CA), "PARLEY_CA=" + good.CA}, "status", "bob")
	if code != exitOK || !strings.HasPrefix(out, "online") {
		t.Errorf("status over TLS: %d %s", code, out)
	}
}

// token2 gets a token with extra flags (a CA).
func (w *world) token2(user, ca string) string {
	w.t.Helper()
	out, code := w.run(nil, "token", user, "--ca", ca)
	if code != exitOK {
		w.t.Fatalf("token %s: %d", user, code)
	}
	return strings.TrimSpace(out)
}
