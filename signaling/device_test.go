package signaling_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-voice/parley/internal/testcert"
	"github.com/parley-voice/parley/signaling"
)

// tokenServer answers access-token requests for the credential "cred" with
// a token issued age ago that lives for life, and counts the requests;
// other credentials are refused with 80401.
func tokenServer(t *testing.T, age, life time.Duration) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path != signaling.PathAccessToken || r.Header.Get("Authorization") != "Device cred" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(signaling.Errorf(signaling.InvalidToken, "unknown device"))
			return
		}
		iat := time.Now().Add(-age)
		claims := fmt.Sprintf(`{"sub":"alice","iat":%d,"exp":%d,"n":%d}`, iat.Unix(), iat.Add(life).Unix(), n.Load())
		tok := "e30." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
		_ = json.NewEncoder(w).Encode(signaling.AccessToken{Token: tok, User: "alice"})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// TestDeviceTokens: an unreachable node is passed over for the next; a
// token is kept while it has more than half its life left, and renewed
// after; a refusal is final (every node would give it).
func TestDeviceTokens(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // unreachable from now on
	fresh, asked := tokenServer(t, 0, time.Hour)
	d := signaling.NewDeviceTokens("cred", &signaling.API{Server: gone.URL}, &signaling.API{Server: fresh})
	first, err := d.Token(t.Context())
	if err != nil || first == "" {
		t.Fatalf("Token: %q, %v; want a token from the second node", first, err)
	}
	again, err := d.Token(t.Context())
	if err != nil || again != first || asked.Load() != 1 {
		t.Errorf("Token again: %q, %v after %d requests; want the same token, 1 request", again, err, asked.Load())
	}

	old, askedOld := tokenServer(t, 40*time.Minute, time.Hour) // past half its life
	d = signaling.NewDeviceTokens("cred", &signaling.API{Server: old})
	for range 2 {
		if _, err := d.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if askedOld.Load() != 2 {
		t.Errorf("a token past half its life: %d requests for 2 Token calls, want 2", askedOld.Load())
	}

	other, askedOther := tokenServer(t, 0, time.Hour)
	d = signaling.NewDeviceTokens("revoked", &signaling.API{Server: old}, &signaling.API{Server: other})
	_, err = d.Token(t.Context())
	var se *signaling.Error
	if !errors.As(err, &se) || se.Code != signaling.InvalidToken || askedOther.Load() != 0 {
		t.Errorf("a refused credential: %v, the second node asked %d times; want 80401 and 0", err, askedOther.Load())
	}

	_, err = signaling.NewDeviceTokens("cred").Token(t.Context())
	if !errors.As(err, &se) || se.Code != signaling.InvalidParameter {
		t.Errorf("no server: %v, want 80101", err)
	}
}

// TestTrustCA: the client reaches a server whose certificate the CA signed;
// a file without a certificate is refused, naming it.
func TestTrustCA(t *testing.T) {
	dir := t.TempDir()
	files := testcert.Write(t, dir, "parley")
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	hc, err := signaling.TrustCA(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatalf("a server the CA signed for: %v", err)
	}
	resp.Body.Close()
	if _, err := http.Get(srv.URL); err == nil {
		t.Errorf("without the CA, the server is trusted too: the test proves nothing")
	}

	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signaling.TrustCA(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("TrustCA(a file without a certificate) = %v; want an error naming it", err)
	}
	if _, err := signaling.TrustCA(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TrustCA(a missing file) = %v; want os.ErrNotExist", err)
	}
}
