package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/signaling"
)

// turnServer runs a TURN server on 127.0.0.1, UDP and TCP on ports of
// their own (port 0), with the user "alice" and the password "secret".
func turnServer(t *testing.T) (udpPort, tcpPort int) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relay := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1"}
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: "parley",
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, turn.GenerateAuthKey("alice", ra.Realm, "secret"), ra.Username == "alice"
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay()}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relay()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port
}

// TestNetwork: the doctor's own probe gets a binding over UDP and TCP from
// a TURN server (which answers STUN too), and a relay over each with the
// right password; with the wrong one, TURN fails and says what to do.
// Without a STUN or TURN server, the lines are skipped.
func TestNetwork(t *testing.T) {
	udp, tcp := turnServer(t)
	servers := func(pass string) []signaling.ICEServer {
		return []signaling.ICEServer{{URLs: []string{
			fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", udp),
			fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", tcp),
		}, Username: "alice", Credential: pass}}
	}
	var out bytes.Buffer
	d := &doctor{o: Options{Out: &out}}
	d.network(servers("secret"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, want := range []string{"✓ STUN udp", "✓ STUN tcp", "✓ TURN udp", "✓ TURN tcp"} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d: want %q; the doctor printed\n%s", i+1, want, out.String())
		}
	}
	if !d.passed() || len(d.checks) != 4 {
		t.Errorf("%d checks, passed %v; want 4 that pass", len(d.checks), d.passed())
	}

	out.Reset()
	d = &doctor{o: Options{Out: &out}}
	d.network(servers("wrong"))
	if got := out.String(); d.passed() || !strings.Contains(got, "✗ TURN udp") ||
		!strings.Contains(got, "→ check the TURN credentials") {
		t.Errorf("with a wrong password, the doctor printed\n%s", out.String())
	}

	out.Reset()
	d = &doctor{o: Options{Out: &out}}
	d.network(nil)
	want := `- STUN udp           no STUN server over udp is offered
- STUN tcp           no STUN server over tcp is offered
- TURN udp           not offered by this server (nor by --ice-server)
- TURN tcp           not offered by this server (nor by --ice-server)
`
	if out.String() != want || !d.passed() {
		t.Errorf("without servers, the doctor printed\n%s\nwant\n%s", out.String(), want)
	}
}

// TestSetup: a configuration that cannot be used fails its check with what
// to do, and stops the checks; with JSON, the checklist is one object.
func TestSetup(t *testing.T) {
	o := Options{NoAudio: true, Setup: errors.New("no token: sign in first")}
	var out bytes.Buffer
	o.Out = &out
	if Run(t.Context(), o) {
		t.Error("Run passed")
	}
	want := "✗ configuration      no token: sign in first\n" +
		"                     → sign in with `parley login INVITE` (your admin gives you the invite), " +
		"or pass --server and --token\n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	o.JSON = true
	Run(t.Context(), o)
	var res struct {
		OK     bool    `json:"ok"`
		Checks []Check `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if res.OK || len(res.Checks) != 1 || res.Checks[0].Name != "configuration" || res.Checks[0].Fix == "" {
		t.Errorf("--json: %+v", res)
	}
}
