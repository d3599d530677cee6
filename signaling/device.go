package signaling

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// DeviceTokens trades a device credential (from Login) for access tokens,
// and keeps the last one while it has more than half of its life left. Its
// Token method is a call.Config.TokenSource and an API.Token. Safe for
// concurrent use (a phone renews from its own goroutine while a command's
// API calls ask too).
type DeviceTokens struct {
	apis []*API // one per node of the service, tried in turn
	cred string

	mu       sync.Mutex
	cur      int // the API that answered last
	tok      string
	iat, exp time.Time
}

// NewDeviceTokens trades credential at apis, the nodes of one service:
// the one that answered last first, the next when it is unreachable.
func NewDeviceTokens(credential string, apis ...*API) *DeviceTokens {
	return &DeviceTokens{apis: apis, cred: credential}
}

// Token returns an access token with more than half its life left.
func (d *DeviceTokens) Token(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tok != "" && time.Now().Before(d.iat.Add(d.exp.Sub(d.iat)/2)) {
		return d.tok, nil
	}
	if len(d.apis) == 0 {
		return "", Errorf(InvalidParameter, "no server to sign in to: pass --server URL")
	}
	var at AccessToken
	var err error
	for range d.apis {
		at, err = d.apis[d.cur].AccessToken(ctx, d.cred)
		var se *Error
		if err == nil || errors.As(err, &se) || ctx.Err() != nil {
			break // an answer, or a refusal every node would give
		}
		d.cur = (d.cur + 1) % len(d.apis) // unreachable: the next node
	}
	if err != nil {
		return "", err
	}
	d.tok = at.Token
	d.iat, d.exp, _ = TokenTimes(at.Token)
	return d.tok, nil
}

// TrustCA returns an HTTP client that trusts the CA in the PEM file path
// besides the system's (for a server whose certificate a private CA
// signed). Its errors name the file; the caller says which setting named
// it.
func TrustCA(path string) (*http.Client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}
