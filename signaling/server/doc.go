// Package server is parley's signaling server: it issues tokens, signs
// people in, tells who is online, and carries calls between parley
// clients over a WebSocket, speaking the vocabulary of package signaling.
// Media never passes through it. Every call and presence change goes
// through NATS, so that nodes that share a NATS form one service.
//
//	s, err := server.New(cfg)  // checks cfg, loads or makes the secret and API key
//	err = s.Run(ctx)           // serves until ctx ends, then shuts down gracefully
//
// or, where the address must be known (tests): Start, then Addr, then
// Shutdown. Ready is closed once Start has succeeded.
//
// This package is the coupled core: connections, calls, presence, sign-in
// and the HTTP API. Its self-contained parts are beside it, in packages
// token, store, turn, ratelimit and webhook. docs/SERVER.md in the
// repository tells the design; docs/PROTOCOL.md the messages, errors,
// close codes and endpoints a client uses.
package server
