package call

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// Access tokens are short-lived: with Config.TokenSource the phone asks for
// a token at each (re)connect, and renews the token of a live connection
// before it expires (a refresh message), so that the server does not close
// it. Nothing of this shows while it works.

// refreshRef starts the ref of refresh messages, so that their refusals
// are told from the others.
const refreshRef = "refresh-"

// token returns the token to connect with: a fresh one from TokenSource, or
// the fixed Token.
func (c *Config) token(ctx context.Context) (string, error) {
	if c.TokenSource != nil {
		return c.TokenSource(ctx)
	}
	return c.Token, nil
}

// renewAt is when a token issued at iat that expires at exp is renewed: at
// two thirds of its life.
func renewAt(iat, exp time.Time) time.Time {
	if iat.IsZero() || !iat.Before(exp) {
		return exp.Add(-time.Minute)
	}
	return iat.Add(exp.Sub(iat) * 2 / 3)
}

// keepFresh renews the token of sig, until sig's connection ends: it sends
// a refresh with a new token from TokenSource at two thirds of the
// current token's life. Without TokenSource it does nothing: a fixed token
// lasts what it lasts.
func (p *Phone) keepFresh(ctx context.Context, sig *signaling.Client, tok string) {
	if p.cfg.TokenSource == nil {
		return
	}
	p.spawn(func() {
		for n := 1; ; n++ {
			iat, exp, ok := signaling.TokenTimes(tok)
			if !ok {
				p.log.Warn("token renewal: the token does not say when it expires; not renewed")
				return
			}
			t := time.NewTimer(time.Until(renewAt(iat, exp)))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-sig.Done():
				t.Stop()
				return
			case <-t.C:
			}
			next, err := p.freshToken(ctx, sig, exp)
			if err != nil {
				p.log.Warn("token renewal failed; the connection ends when the token expires", "err", err, "expires",
					exp)
				return
			}
			if err := sig.Send(signaling.Message{Type: signaling.TypeRefresh, Ref: refreshRef + strconv.Itoa(n),
				Token: next}); err != nil {
				return
			}
			p.log.Debug("token renewed")
			tok = next
		}
	})
}

// freshToken asks TokenSource for a new token, again a few times until
// the old one expires when it fails for another reason than a refusal.
func (p *Phone) freshToken(ctx context.Context, sig *signaling.Client, exp time.Time) (string, error) {
	wait := time.Second
	for {
		tok, err := p.cfg.TokenSource(ctx)
		if err == nil {
			return tok, nil
		}
		var se *signaling.Error
		if errors.As(err, &se) || time.Until(exp) < wait {
			return "", err
		}
		p.log.Info("token renewal failed; trying again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-sig.Done():
			return "", err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// refreshRefused reports (and logs) a refusal of a refresh: it is not the
// user's business; if it matters, the server closes the connection at the
// token's expiry.
func (p *Phone) refreshRefused(m signaling.Message) bool {
	if !strings.HasPrefix(m.Ref, refreshRef) || m.Error == nil {
		return false
	}
	p.log.Warn("token refresh refused", "code", m.Error.Code, "err", m.Error.Message)
	return true
}
