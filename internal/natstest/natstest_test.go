//go:build e2e

package natstest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestVersionOK(t *testing.T) {
	for _, c := range []struct {
		version string
		want    bool
	}{
		{"v2.9.10", false},
		{"v2.10.24", false},
		{"v2.11.0", true},
		{"v2.15.2", true},
		{"v3.0.0", true},
		{"", false},
		{"2.11.4", false}, // not as nats-server prints it
	} {
		if got := VersionOK(c.version); got != c.want {
			t.Errorf("VersionOK(%q) = %v, want %v", c.version, got, c.want)
		}
	}
}

// TestStart: the server takes a loopback port of its own choosing, serves
// JetStream (a key-value bucket keeps a value), and is gone after Stop.
func TestStart(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL, "nats://127.0.0.1:") || strings.HasSuffix(s.URL, ":-1") {
		t.Fatalf("URL %q, want nats://127.0.0.1:PORT", s.URL)
	}
	nc, err := nats.Connect(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "natstest"})
	if err != nil {
		t.Fatalf("JetStream: %v\n%s", err, s.Log())
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("Get(k) = %v, %v; want v", e, err)
	}
	s.Stop()
	addr := strings.TrimPrefix(s.URL, "nats://")
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
	s.Stop() // a second Stop returns at once
}

// TestRunFails: a server that exits before it is ready is an error that
// carries its log.
func TestRunFails(t *testing.T) {
	bin, _, err := Binary(context.Background(), t.TempDir())
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Where JetStream would store, a file: the server cannot start.
	if err := os.WriteFile(filepath.Join(dir, "jetstream"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), bin, dir)
	if err == nil {
		s.Stop()
		t.Fatal("Run succeeded with a file for a store")
	}
	if msg := err.Error(); !strings.Contains(msg, "exited before it was ready") || !strings.Contains(msg, "JetStream") {
		t.Errorf("Run: %v; want it to say the server exited, with its log", err)
	}
}
