// Package signaling is the protocol vocabulary that parley's client and
// server share (messages, statuses, error codes, presence states) and the
// client's side of it: the WebSocket client, the HTTP API client and the
// device-token exchange.
package signaling
