// Package config holds the client's settings: the server and token to use,
// the audio devices and the contacts, kept in a JSON file under the user's
// configuration directory, with environment variables on top.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// DefaultServer is where `parley serve` listens unless told otherwise.
const DefaultServer = "http://127.0.0.1:7700"

// Config is the client's configuration file.
type Config struct {
	Server string `json:"server,omitempty"` // URL of `parley serve`; PARLEY_SERVER overrides
	// Servers are more URLs of the same service (other nodes), tried in
	// turn after Server.
	Servers  []string `json:"servers,omitempty"`
	Token    string   `json:"token,omitempty"`    // the user's token; PARLEY_TOKEN overrides
	Input    string   `json:"input,omitempty"`    // microphone: "default", a device name or index
	Output   string   `json:"output,omitempty"`   // speaker: same forms
	Contacts []string `json:"contacts,omitempty"` // user ids shown in the UI

	// CallWaiting, when set, turns call waiting on or off on the server at
	// each sign-in, for every device of the user, as `parley presence
	// --call-waiting on|off` does: off, a call while in another is refused
	// as busy (80202) instead of ringing as a waiting call. Unset, the
	// server keeps what was set last.
	CallWaiting *bool `json:"call_waiting,omitempty"`

	// The media path, for this server: STUN or TURN servers besides the
	// server's own, and whether to send media only through a relay.
	ICEServers []signaling.ICEServer `json:"ice_servers,omitempty"`
	RelayOnly  bool                  `json:"relay_only,omitempty"`

	// Audio: the ringtone's speaker (default: the output), and the
	// microphone's processing, each on unless set to false.
	RingDevice       string `json:"ring_device,omitempty"`
	AEC              *bool  `json:"aec,omitempty"`               // echo cancellation
	NoiseSuppression *bool  `json:"noise_suppression,omitempty"` // noise suppression
	AGC              *bool  `json:"agc,omitempty"`               // automatic gain control
	// EchoCanceller is "webrtc" (WebRTC's, the default: it follows an
	// echo path on two clocks) or "speex" (speexdsp's: one clock only).
	EchoCanceller string `json:"echo_canceller,omitempty"`
	// OutputLatency is the speaker's device latency to start with (a Go
	// duration such as "40ms"); empty: the device's lowest. It grows when
	// the device runs dry.
	OutputLatency string `json:"output_latency,omitempty"`

	// Set by `parley login`, cleared by `parley logout`: this device's
	// credential, traded for short-lived tokens, and who it signs in. The
	// contacts kept on the server are shown besides Contacts.
	Credential string `json:"credential,omitempty"`
	User       string `json:"user,omitempty"`
	Name       string `json:"name,omitempty"`   // the user's display name
	Device     string `json:"device,omitempty"` // this device's id on the server

	// Notifications, on unless set to false: the UI's desktop
	// notifications (a call coming in, a missed call, a new text), through
	// the terminal's own escape sequences (OSC 9, or OSC 777 in VTE).
	Notifications *bool `json:"notifications,omitempty"`

	// CA is a PEM file of the CA that signed the server's certificate,
	// trusted besides the system's (--ca, PARLEY_CA).
	CA string `json:"ca,omitempty"`
}

// Dir returns parley's configuration directory ($XDG_CONFIG_HOME/parley or
// ~/.config/parley).
func Dir(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "parley")
	}
	return filepath.Join(home(getenv), ".config", "parley")
}

// StateDir returns where parley keeps what it records (recent calls, logs):
// $XDG_STATE_HOME/parley or ~/.local/state/parley.
func StateDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "parley")
	}
	return filepath.Join(home(getenv), ".local", "state", "parley")
}

// DataDir returns where `parley serve` keeps its data by default:
// $XDG_DATA_HOME/parley or ~/.local/share/parley.
func DataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "parley")
	}
	return filepath.Join(home(getenv), ".local", "share", "parley")
}

func home(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	return "."
}

// Path returns the configuration file's path: PARLEY_CONFIG, or config.json
// in Dir.
func Path(getenv func(string) string) string {
	if p := getenv("PARLEY_CONFIG"); p != "" {
		return p
	}
	return filepath.Join(Dir(getenv), "config.json")
}

// Read reads the file at path as it is; a missing file is an empty
// configuration.
func Read(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return c, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Load reads the file at path, then applies PARLEY_SERVER, PARLEY_TOKEN
// and PARLEY_CA and the defaults. PARLEY_SERVER may list several
// addresses, separated by commas: they replace both Server and Servers.
// Server is always set afterwards: the first address of the list.
func Load(path string, getenv func(string) string) (Config, error) {
	c, err := Read(path)
	if err != nil {
		return c, err
	}
	if v := getenv("PARLEY_SERVER"); v != "" {
		c.SetServers(strings.Split(v, ","))
	}
	if v := getenv("PARLEY_TOKEN"); v != "" {
		c.Token = v
	}
	if v := getenv("PARLEY_CA"); v != "" {
		c.CA = v
	}
	if c.Server == "" && len(c.Servers) > 0 {
		c.SetServers(c.Servers) // only "servers" in the file
	}
	if c.Server == "" {
		c.Server = DefaultServer
	}
	return c, nil
}

// ServerList is the service's addresses in the order to try them: Server,
// then Servers, each once.
func (c Config) ServerList() []string {
	return signaling.Addresses(append([]string{c.Server}, c.Servers...)...)
}

// SetServers makes addrs (blanks dropped, each once) the service's
// addresses: the first is Server, the others Servers. An empty list
// leaves c as it is.
func (c *Config) SetServers(addrs []string) {
	addrs = signaling.Addresses(addrs...)
	if len(addrs) == 0 {
		return
	}
	c.Server, c.Servers = addrs[0], addrs[1:]
	if len(c.Servers) == 0 {
		c.Servers = nil
	}
}

// Update changes the file at path with change and saves it; what came from
// the environment is not written.
func Update(path string, change func(*Config)) error {
	c, err := Read(path)
	if err != nil {
		return err
	}
	change(&c)
	return c.Save(path)
}

// Validate checks the fields a client needs to connect.
func (c Config) Validate() error {
	if len(c.ServerList()) == 0 {
		return fmt.Errorf("config: no server: pass --server URL like %s", DefaultServer)
	}
	for _, s := range c.ServerList() {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: server %q is not a URL like %s", s, DefaultServer)
		}
	}
	if _, err := c.OutputLatencyDuration(); err != nil {
		return err
	}
	if e := c.EchoCanceller; e != "" && e != "speex" && e != "webrtc" {
		return fmt.Errorf("config: echo_canceller %q: use \"speex\" or \"webrtc\"", e)
	}
	if c.Token == "" && c.Credential == "" {
		return errors.New("config: not signed in: run `parley login INVITE` with the invite your admin gave you, or " +
			"pass --token (PARLEY_TOKEN)")
	}
	return nil
}

// MaxOutputLatency bounds OutputLatency.
const MaxOutputLatency = 200 * time.Millisecond

// OutputLatencyDuration parses OutputLatency (0 when empty).
func (c Config) OutputLatencyDuration() (time.Duration, error) {
	if c.OutputLatency == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.OutputLatency)
	if err != nil || d < 0 || d > MaxOutputLatency {
		return 0, fmt.Errorf("config: output_latency %q is not a duration from 0 to %v, such as \"40ms\"",
			c.OutputLatency, MaxOutputLatency)
	}
	return d, nil
}

// Save writes c to path with mode 0600 (it holds a credential), creating the
// directory.
func (c Config) Save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
