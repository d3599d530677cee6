package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/parley-voice/parley/signaling"
)

// server checks that the server answers and how fast.
func (d *doctor) server(ctx context.Context, server string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/healthz", nil)
	if err != nil {
		d.add(Check{Name: "server", Detail: err.Error(), Fix: "check --server (e.g. http://127.0.0.1:7700)"})
		return false
	}
	start := time.Now()
	resp, err := d.o.HTTP.Do(req)
	rtt := time.Since(start)
	if err != nil {
		d.add(Check{Name: "server", Detail: fmt.Sprintf("%s: %v", server, err),
			Fix: "is `parley serve` running there, and does a firewall let you through?"})
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.add(Check{Name: "server", Detail: fmt.Sprintf("%s: /healthz answered %s", server, resp.Status),
			Fix: "the server is not healthy: see its log"})
		return false
	}
	d.add(Check{Name: "server", OK: true,
		Detail: fmt.Sprintf("%s reachable, round trip %v", server, rtt.Round(100*time.Microsecond))})
	return true
}

// signIn checks the token by signing in.
func (d *doctor) signIn(ctx context.Context, server, token string) (*signaling.Client, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	sig, err := signaling.Dial(ctx, server, token, signaling.DialOptions{HTTPClient: d.o.HTTP})
	if err != nil {
		fix := "check that the server runs and that the token is this server's"
		var se *signaling.Error
		if errors.As(err, &se) && se.Code == signaling.InvalidToken {
			fix = "sign in again with `parley login INVITE` (ask your admin for an invite), " +
				"or get a new token from your admin"
		}
		d.add(Check{Name: "token", Detail: err.Error(), Fix: fix})
		return nil, false
	}
	d.add(Check{Name: "token", OK: true,
		Detail: fmt.Sprintf("valid: signed in as %s in %v", sig.User, time.Since(start).Round(100*time.Microsecond))})
	return sig, true
}

// target is a STUN or TURN server to probe.
type target struct {
	uri        *stun.URI
	user, pass string
}

// network checks the STUN and TURN servers over UDP and TCP.
func (d *doctor) network(servers []signaling.ICEServer) {
	var stuns, turns []target
	for _, s := range servers {
		for _, u := range s.URLs {
			uri, err := stun.ParseURI(u)
			if err != nil {
				continue
			}
			t := target{uri, s.Username, s.Credential}
			switch uri.Scheme {
			case stun.SchemeTypeSTUN:
				stuns = append(stuns, t)
			case stun.SchemeTypeTURN:
				turns = append(turns, t)
			}
		}
	}
	// A TURN server answers STUN binding requests too: after the STUN
	// servers, try those.
	for _, t := range turns {
		uri := &stun.URI{Scheme: stun.SchemeTypeSTUN, Host: t.uri.Host, Port: t.uri.Port, Proto: t.uri.Proto}
		stuns = append(stuns, target{uri: uri})
	}
	for _, proto := range []stun.ProtoType{stun.ProtoTypeUDP, stun.ProtoTypeTCP} {
		d.stun(proto, stuns)
	}
	for _, proto := range []stun.ProtoType{stun.ProtoTypeUDP, stun.ProtoTypeTCP} {
		d.turn(proto, turns)
	}
}

// stun checks the first STUN server over proto that answers.
func (d *doctor) stun(proto stun.ProtoType, stuns []target) {
	name := "STUN " + proto.String()
	var tried []string
	for _, t := range stuns {
		if t.uri.Proto != proto && !(proto == stun.ProtoTypeUDP && t.uri.Proto == stun.ProtoTypeUnknown) {
			continue
		}
		addr := net.JoinHostPort(t.uri.Host, fmt.Sprint(t.uri.Port))
		start := time.Now()
		mapped, err := probe(proto, addr, "", "", false)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", addr, err))
			continue
		}
		d.add(Check{Name: name, OK: true,
			Detail: fmt.Sprintf("%s answered in %v: you are %s", addr, time.Since(start).Round(100*time.Microsecond),
				mapped)})
		return
	}
	if len(tried) == 0 {
		d.add(Check{Name: name, Skip: true, Detail: "no STUN server over " + proto.String() + " is offered"})
		return
	}
	d.add(Check{Name: name, Detail: strings.Join(tried, "; "),
		Fix: "a firewall blocks " + proto.String() + " to the STUN server; calls may still work through TURN"})
}

// turn checks the first TURN server over proto that gives a relay.
func (d *doctor) turn(proto stun.ProtoType, turns []target) {
	name := "TURN " + proto.String()
	var tried []string
	for _, t := range turns {
		if t.uri.Proto != proto {
			continue
		}
		addr := net.JoinHostPort(t.uri.Host, fmt.Sprint(t.uri.Port))
		start := time.Now()
		relay, err := probe(proto, addr, t.user, t.pass, true)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", addr, err))
			continue
		}
		d.add(Check{Name: name, OK: true,
			Detail: fmt.Sprintf("%s gave a relay at %s in %v", addr, relay,
				time.Since(start).Round(100*time.Microsecond))})
		return
	}
	if len(tried) == 0 {
		d.add(Check{Name: name, Skip: true, Detail: "not offered by this server (nor by --ice-server)"})
		return
	}
	d.add(Check{Name: name, Detail: strings.Join(tried, "; "),
		Fix: "check the TURN credentials and that " + proto.String() +
			" to the TURN server is allowed; behind a strict firewall calls need TURN over TCP"})
}

// probe sends a STUN binding request (and, with allocate, asks for a TURN
// relay) to addr over proto and returns the mapped or relayed address.
func probe(proto stun.ProtoType, addr, user, pass string, allocate bool) (net.Addr, error) {
	var conn net.PacketConn
	switch proto {
	case stun.ProtoTypeTCP:
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return nil, err
		}
		conn = turn.NewSTUNConn(c)
	default:
		c, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			return nil, err
		}
		conn = c
	}
	defer conn.Close()
	cfg := &turn.ClientConfig{STUNServerAddr: addr, Conn: conn, RTO: 300 * time.Millisecond}
	if allocate {
		cfg.TURNServerAddr, cfg.Username, cfg.Password = addr, user, pass
	}
	client, err := turn.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		return nil, err
	}
	type result struct {
		addr net.Addr
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if !allocate {
			a, err := client.SendBindingRequest()
			done <- result{a, err}
			return
		}
		relay, err := client.Allocate()
		if err != nil {
			done <- result{nil, err}
			return
		}
		done <- result{relay.LocalAddr(), nil}
		relay.Close()
	}()
	select {
	case r := <-done:
		return r.addr, r.err
	case <-time.After(5 * time.Second):
		return nil, errors.New("no answer in 5 s")
	}
}
