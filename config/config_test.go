package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestServers(t *testing.T) {
	for _, tc := range []struct {
		name, file, env string
		server          string   // Server after Load
		list            []string // ServerList after Load
	}{
		{"nothing", `{}`, "", DefaultServer, []string{DefaultServer}},
		{"server", `{"server":"http://a:1"}`, "", "http://a:1", []string{"http://a:1"}},
		{"server and servers", `{"server":"http://a:1","servers":["http://b:1","http://a:1"]}`, "", "http://a:1",
			[]string{"http://a:1", "http://b:1"}},
		{"servers only", `{"servers":["http://b:1","http://c:1"]}`, "", "http://b:1",
			[]string{"http://b:1", "http://c:1"}},
		{"env one", `{"server":"http://a:1","servers":["http://b:1"]}`, "http://e:1", "http://e:1",
			[]string{"http://e:1"}},
		{"env list", `{"server":"http://a:1"}`, "http://e:1, http://f:1,", "http://e:1",
			[]string{"http://e:1", "http://f:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string {
				if k == "PARLEY_SERVER" {
					return tc.env
				}
				return ""
			}
			c, err := Load(path, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if c.Server != tc.server || !reflect.DeepEqual(c.ServerList(), tc.list) {
				t.Errorf("Server %q, list %q; want %q, %q", c.Server, c.ServerList(), tc.server, tc.list)
			}
			c.Token = "t"
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateServers(t *testing.T) {
	c := Config{Server: "http://a:1", Servers: []string{"b:1"}, Token: "t"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `"b:1"`) {
		t.Errorf("Validate with a bad second server: %v", err)
	}
	if err := (Config{Token: "t"}).Validate(); err == nil {
		t.Error("Validate without a server passed")
	}
}

func TestSaveServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Update(path, func(c *Config) { c.SetServers([]string{"http://a:1", "http://b:1"}) }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"server": "http://a:1"`) || !strings.Contains(string(b), `"servers": [`) {
		t.Errorf("saved %s", b)
	}
	if err := Update(path, func(c *Config) { c.SetServers([]string{"http://c:1"}) }); err != nil {
		t.Fatal(err)
	}
	if b, _ = os.ReadFile(path); strings.Contains(string(b), "servers") {
		t.Errorf("one server saved as %s", b)
	}
}
