package server

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// hub hands the messages published on the users' subjects (parley.user.>)
// to this node's connections: one NATS subscription for the node, however
// many connections it has, where a subscription per connection would cost
// each one a goroutine and buffers in NATS. Every node receives every
// user's messages and keeps those of its own connections, so that the
// routing between nodes stays NATS's.
//
// NATS calls route on the subscription's one goroutine, in the order the
// messages were published; a connection's receive never blocks it.
// Connections add and remove themselves from their reader goroutines; mu
// guards conns, whose slices are never changed in place, so that route
// can use one after unlocking.
type hub struct {
	sub   *nats.Subscription
	mu    sync.RWMutex
	conns map[string][]*conn // by userKey
}

func startHub(nc *nats.Conn) (*hub, error) {
	h := &hub{conns: map[string][]*conn{}}
	sub, err := nc.Subscribe(subjectUser+">", h.route)
	if err != nil {
		return nil, fmt.Errorf("server: subscribe to %s>: %w", subjectUser, err)
	}
	h.sub = sub
	return h, nil
}

// route hands msg to the connections of its user on this node.
func (h *hub) route(msg *nats.Msg) {
	key := strings.TrimPrefix(msg.Subject, subjectUser)
	h.mu.RLock()
	conns := h.conns[key]
	h.mu.RUnlock()
	for _, c := range conns {
		c.receive(msg)
	}
}

// add makes c receive the messages of the user with userKey key.
func (h *hub) add(key string, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[key] = append(slices.Clip(h.conns[key]), c)
}

// remove undoes add.
func (h *hub) remove(key string, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := slices.DeleteFunc(slices.Clone(h.conns[key]), func(o *conn) bool { return o == c })
	if len(cs) == 0 {
		delete(h.conns, key)
		return
	}
	h.conns[key] = cs
}
