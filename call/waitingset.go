package call

import (
	"context"
	"time"

	"github.com/parley-voice/parley/signaling"
)

// waitingSetTimeout bounds the request that sets Config.CallWaiting.
const waitingSetTimeout = 5 * time.Second

// setCallWaiting sets Config.CallWaiting on the server at server, the
// node just signed in to, unless it is set already. It runs where the
// connection was made (Start, or the redial's worker), before the loop
// hears of it: the call waiting of the config holds from the first call
// that can come. When the server refuses, the next connection tries
// again; until then the server keeps what it had.
func (p *Phone) setCallWaiting(ctx context.Context, server string) {
	on := p.cfg.CallWaiting
	if on == nil || p.waitingSet.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, waitingSetTimeout)
	defer cancel()
	api := &signaling.API{Server: server, HTTP: p.cfg.HTTPClient, Token: p.cfg.token}
	if _, err := api.SetCallWaiting(ctx, *on); err != nil {
		p.log.Warn("the config's call_waiting could not be set on the server: it keeps what it had", "on", *on,
			"err", err)
		return
	}
	p.waitingSet.Store(true)
	p.log.Info("call waiting set from the config", "on", *on)
}
