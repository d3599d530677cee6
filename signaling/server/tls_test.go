package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/parley-voice/parley/internal/testcert"
	"github.com/parley-voice/parley/signaling"
)

// trusting is an HTTP client that trusts the CA in the PEM file ca only.
func trusting(t *testing.T, ca string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in", ca)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestTLS: with a certificate the server speaks HTTPS and WSS only; a
// client that trusts its CA signs in and calls, one that does not is
// refused by its own TLS, with a message that says why.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	good, other := testcert.Write(t, dir, "good"), testcert.Write(t, dir, "other")
	s := startServer(t, func(c *Config) { c.TLSCertFile, c.TLSKeyFile = good.Cert, good.Key })
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	ctx := context.Background()
	hc := trusting(t, good.CA)
	tok, err := signaling.FetchToken(ctx, hc, s.URL(), s.APIKey(), "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := signaling.Dial(ctx, s.URL(), tok, signaling.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer alice.Close()
	if alice.User != "alice" {
		t.Errorf("welcome as %q", alice.User)
	}
	inv, err := (&signaling.API{Server: s.URL(), HTTP: hc, APIKey: s.APIKey()}).Invite(ctx,
		signaling.InviteRequest{User: "bob"})
	if err != nil || !strings.HasPrefix(inv.URL, "https://") {
		t.Errorf("invite over TLS: %+v, %v", inv, err)
	}

	// A client that trusts another CA.
	_, err = signaling.FetchToken(ctx, trusting(t, other.CA), s.URL(), s.APIKey(), "alice", 0)
	if err == nil || !strings.Contains(err.Error(), "not signed by a CA") {
		t.Errorf("other CA: %v", err)
	}
	_, err = signaling.Dial(ctx, s.URL(), tok, signaling.DialOptions{HTTPClient: trusting(t, other.CA)})
	if err == nil || !strings.Contains(err.Error(), "--ca") {
		t.Errorf("wss with another CA: %v", err)
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if _, err := signaling.FetchToken(ctx, nil, "http://"+s.Addr(), s.APIKey(), "alice", 0); err == nil {
		t.Error("plain HTTP served")
	}
	// A key without its certificate is a configuration error.
	if _, err := New(Config{DataDir: t.TempDir(), TLSCertFile: good.Cert}); err == nil {
		t.Error("New accepted a certificate without its key")
	}
	if _, err := New(Config{DataDir: t.TempDir(), TLSCertFile: good.Key, TLSKeyFile: good.Key}); err == nil {
		t.Error("New accepted a key as a certificate")
	}
}
