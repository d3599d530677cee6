// Package server is parley's signaling server: it issues tokens, tells who
// is online, and carries calls between parley clients over a WebSocket,
// speaking the vocabulary of package signaling. Media never passes through
// it.
//
// # Life cycle
//
//	s, err := server.New(cfg)  // checks cfg, loads or makes the secret and API key
//	err = s.Run(ctx)           // serves until ctx ends, then shuts down gracefully
//
// or, where the address must be known (tests): Start, then Addr, then
// Shutdown. Ready is closed once Start has succeeded.
//
// # HTTP
//
//	GET /v1/voice/users/{user}/token    APP_API_KEY: KEY   → 200 {"token":"…"}
//	    query: ttl (Go duration, ≤ 720h), role (member|admin|guest), data (≤ 1000 characters)
//	GET /v1/voice/users/{user}/session  Authorization: Bearer TOKEN → 200 {"user":"…","online":bool}
//	GET /healthz                        → 200 {"status":"ok"}
//	GET /v1/ws                          the signaling WebSocket
//
// Refusals are JSON {"code","name","message"}: 401 with 80401 for a missing
// or wrong key or token, 400 with 80101 for bad parameters, 500 with 80999.
//
// Tokens are JWTs (HS256) with the claims sub, role, data, iss "parley",
// iat, exp and jti, signed with a secret kept in DataDir/token_secret.
//
// # WebSocket
//
// One JSON message per text frame. The first must be connect {token,
// session?}, answered by welcome {user, session, role}; see the table in
// package signaling for the rest. Every refusal is an error message {error,
// ref, call_id} that echoes the ref and call id of what it refuses; the
// connection stays open, except after an invalid token (closed with 1008),
// a missing connect after ConnectTimeout (1008), a message over 1 MiB
// (1009), or a full send queue (closed at once). At shutdown every client
// gets shutdown and the socket closes with 1001.
//
// # Calls
//
// The caller's dialing session and all of the callee's sessions hear of a
// call: the caller gets call {event, ref}, each callee session call {event,
// sdp: the offer}. Status changes come as call_status_changed to the same
// sessions; the caller's answered carries the answer's sdp. Once a session
// answers, candidates and mute go between the dialing and the answering
// session only, and the callee's other sessions can no longer act on the
// call. The call fails when the dialing session goes, when the answering
// session goes, or before an answer when the callee has no session left.
//
// # NATS
//
// Every call and presence change goes through NATS (embedded, or
// Config.NATSURL for several nodes), never through this process's memory,
// so nodes that share a NATS share calls and presence:
//
//	parley.user.<user>   messages for a user's connections, in wire form; the
//	                     header Parley-Session addresses one session
//	parley.call.<id>     requests to the call's owner: actions, answered
//	                     with {} or {"error":…}; no responder means no call
//
// and JetStream key-value buckets:
//
//	parley_users     file    user → last token issued: the known users
//	parley_presence  memory  user.session → node, connection; expires 2.5
//	                         heartbeats after its last refresh
//	parley_busy      memory  user → call id while in a call; same expiry
//	parley_calls     file    call id → call record, kept CallHistory
//
// Ids in subjects and keys are escaped: letters, digits, - and _ stay,
// other bytes become =XX ("a.b@c" → "a=2Eb=40c").
package server
