package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/ratelimit"
	"github.com/parley-voice/parley/signaling/server/store"
	"github.com/parley-voice/parley/signaling/server/token"
	"github.com/parley-voice/parley/signaling/server/turn"
)

// hardReadLimit is the largest WebSocket message the server reads at all:
// a message over signaling.MaxMessageBytes but under this is refused with
// InvalidParameter and the connection goes on; a larger one closes the
// connection (status 1009).
const hardReadLimit = 1 << 20

// Buffers of a WebSocket connection: the HTTP server's are 4 KB each, which
// every idle connection would keep for its life. A message larger than a
// buffer is read or written past it, straight to or from the socket.
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 512
)

// conn is one WebSocket client.
//
// Goroutines: the reader (serve) reads and handles one message at a time
// and owns the session fields. The writer is the only one to write
// messages to the socket; it runs only while there is something to write
// (or, once the connection ends, to say goodbye and close the socket).
// Keepalive pings run on a timer, and the session's presence is refreshed
// by the node's keeper. The node's feed follows the presence of the users
// the connection watches, and the node's hub delivers the user's messages:
// both on their own goroutines, which only queue them. Everything that
// wants to send queues without blocking (sendQueue): a client whose queue
// reaches Config.SendQueue is disconnected (errSlow).
type conn struct {
	s      *Server
	ws     *websocket.Conn
	sock   *hijacked // its connection
	remote string
	id     string          // this connection, in its presence record
	ctx    context.Context // ends when the connection must close; the cause says why
	cancel context.CancelCauseFunc
	done   chan struct{}  // closed by the writer once the socket is closed
	wg     sync.WaitGroup // the watches of contacts added elsewhere, the room actions (room.go)

	// Written by the reader at connect, before the session is admitted
	// (and so before the hub, the keeper and the watcher use them), and
	// never again.
	user, session, role string
	team, key           string           // the user's team and userKey
	device, name        string           // the token's device, if any; the user's display name
	link                *token.GuestLink // a guest of a guest link: one call, with its host (links.go)

	// who is the user, team and session for the logs, published once
	// connected: the keepalive timer's goroutine logs too, and may run
	// while the reader connects.
	who atomic.Pointer[[3]string]

	slowOnce sync.Once
	pinger   *time.Timer // the next keepalive ping

	// Owned by the reader.
	hello   *time.Timer         // closes the connection when it has not connected in time; nil once it has
	expiry  *time.Timer         // closes the connection when its token expires
	msgs    ratelimit.Allowance // the allowance of messages it reads
	strikes int                 // messages refused in a row
	rooms   chan struct{}       // closed when the last room action sent on is done (room.go)

	q sendQueue // what waits to be written, and whether the writer runs

	mu sync.Mutex // guards what follows
	// admitted is set once the welcome is queued; the user's messages
	// that come before wait in held.
	admitted bool
	held     []*nats.Msg
	// pres is the session's presence record, which the keeper writes.
	pres presenceRecord
}

// handleWS upgrades to the signaling WebSocket and serves it on a goroutine
// of its own until it closes. The handler returns at once, so that what
// net/http keeps for the request is freed.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !s.track(&s.conns) {
		e := signaling.Errorf(signaling.UnknownError, "the server is shutting down: connect again in a moment")
		s.logRefusal(e, "", r.RemoteAddr, "path", r.URL.Path)
		writeJSON(w, http.StatusServiceUnavailable, e)
		return
	}
	served := false
	defer func() {
		if !served {
			s.conns.Done()
		}
	}()
	if retry, ok := s.limits.Admit(limitConnect, remoteHost(r.RemoteAddr)); !ok {
		e := tooMany(retry)
		s.logRefusal(e, "", r.RemoteAddr, "path", r.URL.Path, "limit", limitConnect)
		w.Header().Set("Retry-After", fmt.Sprint(int(retry.Seconds())+1))
		writeJSON(w, http.StatusTooManyRequests, e)
		return
	}
	// The HTTP server's timeouts are for ordinary requests: net/http clears
	// its deadlines when Accept hijacks the connection (see
	// TestHTTPTimeoutsSpareWebSockets); the WebSocket has its own keepalive
	// and write timeouts.
	sock := &hijacked{ResponseWriter: w}
	ws, err := websocket.Accept(sock, r, nil)
	if err != nil {
		s.log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // Accept wrote the HTTP error
	}
	sock.ResponseWriter = nil // and with it net/http's buffers and the request
	ws.SetReadLimit(hardReadLimit)
	ctx, cancel := context.WithCancelCause(s.connCtx)
	c := &conn{
		s:      s,
		ws:     ws,
		sock:   sock,
		remote: r.RemoteAddr,
		id:     newID(),
		q:      sendQueue{limit: s.cfg.SendQueue},
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	served = true
	go func() {
		defer s.conns.Done()
		c.serve()
	}()
}

// hijacked is the http.ResponseWriter that the WebSocket hijacks: it
// hands it buffers of wsReadBuffer and wsWriteBuffer bytes instead of
// net/http's, and keeps the connection for conn: its write deadlines, and
// its waits for something to read.
type hijacked struct {
	http.ResponseWriter
	nc net.Conn
	br *bufio.Reader // the WebSocket's reader, nil when net/http's was kept
	// raw is a plain TCP connection's, for waiting with a small stack (see
	// idle); nil for TLS, whose connection holds what it decrypted.
	raw syscall.RawConn
	// mu is held by idle while it looks into br outside the WebSocket's
	// own lock, and by close while the WebSocket's closing handshake reads
	// br on the writer's goroutine.
	mu sync.Mutex
}

func (h *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nc, brw, err
	}
	h.nc = nc
	if brw.Reader.Buffered() > 0 {
		return nc, brw, nil // what the client sent early stays in the reader that holds it
	}
	h.br = bufio.NewReaderSize(nc, wsReadBuffer)
	if tc, ok := nc.(*net.TCPConn); ok {
		h.raw, _ = tc.SyscallConn()
	}
	return nc, bufio.NewReadWriter(h.br, bufio.NewWriterSize(nc, wsWriteBuffer)), nil
}

// serve runs the connection until it closes, then cleans up after it.
func (c *conn) serve() {
	c.logger().Debug("websocket open")
	c.hello = time.AfterFunc(c.s.cfg.ConnectTimeout, c.connectTimedOut)
	defer func() {
		if c.hello != nil {
			c.hello.Stop()
		}
	}()
	// Once the connection must end, the writer says goodbye and closes the
	// socket, which ends the read.
	context.AfterFunc(c.ctx, c.wakeWriter)
	c.pinger = time.AfterFunc(math.MaxInt64, c.ping) // set before it can fire
	c.pinger.Reset(c.s.cfg.PingInterval)
	err := c.readLoop()
	c.cancel(err)
	<-c.done
	c.wg.Wait()
	c.cleanup()
	c.logger().Info("disconnected", "cause", context.Cause(c.ctx))
}

// logger is the connection's logger: with its remote address, and once
// connected its user, team and session. (Made when needed: kept, it cost
// each idle connection 350 bytes.)
func (c *conn) logger() *slog.Logger {
	who := c.who.Load()
	if who == nil {
		return c.s.log.With("remote", c.remote)
	}
	return c.s.log.With("remote", c.remote, "user", who[0], "team", who[1], "session", who[2])
}

// connectTimedOut closes a connection that has not connected in time.
func (c *conn) connectTimedOut() {
	c.mu.Lock()
	admitted := c.admitted
	c.mu.Unlock()
	if admitted {
		return
	}
	e := signaling.Errorf(signaling.NoConnectedSession,
		"no connect within %v: connect right after opening the WebSocket", c.s.cfg.ConnectTimeout)
	c.s.logRefusal(e, "", c.remote)
	c.send(signaling.Message{Type: signaling.TypeError, Error: e})
	c.cancel(errNoHello)
}

// readLoop reads and handles messages until the socket fails or a message
// requires closing; it returns why.
func (c *conn) readLoop() error {
	// Not c.ctx: cancelling a read closes the socket at once, and the
	// writer must first be able to say goodbye. The writer's Close ends
	// the read.
	ctx := context.WithoutCancel(c.ctx)
	for {
		if err := c.idle(); err != nil {
			return err
		}
		if err := c.readMessage(ctx); err != nil {
			return err
		}
	}
}

// readMessage reads and handles one message. (A function of its own, so
// that its locals are off the stack while the reader waits in idle.)
func (c *conn) readMessage(ctx context.Context) error {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return fmt.Errorf("server: read: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, signaling.MaxMessageBytes+1))
	if err != nil {
		return fmt.Errorf("server: read: %w", err)
	}
	if len(b) > signaling.MaxMessageBytes {
		rest, err := io.Copy(io.Discard, r)
		if err != nil {
			return fmt.Errorf("server: read: %w", err)
		}
		return c.strike(signaling.Errorf(signaling.InvalidParameter,
			"message of %d bytes is over the limit of %d: send one message per frame, SDP under %d bytes",
			int64(len(b))+rest, signaling.MaxMessageBytes, signaling.MaxSDPLength), "", "")
	}
	if typ != websocket.MessageText {
		return c.strike(signaling.Errorf(signaling.InvalidParameter,
			"binary frame: signaling messages are JSON in text frames"), "", "")
	}
	if !c.msgs.Allow(c.s.cfg.MessageLimit, time.Now()) {
		ref, callID := peekRef(b)
		return c.strike(signaling.Errorf(signaling.InvalidParameter,
			"too many messages: send at most %d a second", c.s.cfg.MessageLimit), ref, callID)
	}
	m, err := signaling.DecodeClient(b)
	if err != nil {
		ref, callID := peekRef(b)
		return c.strike(signaling.AsError(err), ref, callID)
	}
	c.strikes = 0
	return c.handle(m)
}

// strike refuses the message answered by ref and callID, and ends the
// connection (errFlood) after msgStrikes refusals in a row, or
// helloStrikes before it signed in.
func (c *conn) strike(e *signaling.Error, ref, callID string) error {
	c.refuse(e, ref, callID)
	c.strikes++
	if c.strikes >= msgStrikes || c.user == "" && c.strikes >= helloStrikes {
		c.logger().Info("too many refused messages: disconnecting", "refused", c.strikes)
		return errFlood
	}
	return nil
}

// peekRef finds ref and call_id in a message that failed to decode, so that
// the refusal can still name what it answers.
func peekRef(b []byte) (ref, callID string) {
	var p struct {
		Ref    any `json:"ref"`
		CallID any `json:"call_id"`
	}
	if json.Unmarshal(b, &p) != nil {
		return "", ""
	}
	str := func(v any) string {
		s, ok := v.(string)
		if !ok || len(s) > signaling.MaxIDLength {
			return ""
		}
		return s
	}
	return str(p.Ref), str(p.CallID)
}

// handle handles one valid message. A non-nil result closes the connection
// with that cause.
func (c *conn) handle(m signaling.Message) error {
	if c.user == "" {
		if m.Type != signaling.TypeConnect {
			return c.strike(signaling.Errorf(signaling.NoConnectedSession,
				`connect first: send {"type":"connect","token":TOKEN}; get a token with `+"`parley token USER "+
					"--api-key KEY`"), m.Ref, m.CallID)
		}
		return c.connect(m)
	}
	switch m.Type {
	case signaling.TypeConnect:
		c.refuse(signaling.Errorf(signaling.AlreadyConnectedSession,
			"this connection is already connected as %s (session %s): open another connection to connect again", c.user,
			c.session), m.Ref, "")
	case signaling.TypePing:
		c.send(signaling.Message{Type: signaling.TypePong, Ref: m.Ref})
	case signaling.TypeDial:
		c.dial(m)
	case signaling.TypeWatch, signaling.TypePresence:
		if c.link != nil {
			c.refuse(signaling.Errorf(signaling.InvalidParameter,
				"a guest link is for a call with %s only: there is no presence to watch or set", c.link.Host), m.Ref,
				"")
		} else if m.Type == signaling.TypeWatch {
			c.watch(m)
		} else {
			c.setOwnPresence(m)
		}
	case signaling.TypeResume:
		c.actAdopting(m)
	case signaling.TypeRefresh:
		c.refresh(m)
	case signaling.TypeRoomJoin, signaling.TypeRoomLeave, signaling.TypeRoomMute, signaling.TypeRoomRemove,
		signaling.TypeRoomLock, signaling.TypeRoomEnd, signaling.TypeRoomAdmit, signaling.TypeRoomDeny:
		c.room(m) // room.go
	default:
		c.actAdopting(m)
	}
	return nil
}

// connect signs the connection in: a valid token that was not revoked, a
// session id that is not connected elsewhere; then the session is online
// and welcomed, its contacts watched, and its end set to the token's
// expiry.
func (c *conn) connect(m signaling.Message) error {
	addr := remoteHost(c.remote)
	claims, err := c.s.tokens.Verify(m.Token)
	var u store.User
	if err == nil {
		u, err = c.s.checkAccess(c.ctx, claims)
	} else if e := c.s.tokenLocked(addr, err); e != nil {
		c.refuse(e, m.Ref, "")
		return errBadToken
	}
	if err != nil {
		e := signaling.AsError(err)
		if e.Code != signaling.InvalidToken {
			c.refuse(e, m.Ref, "")
			return nil // the store failed: they may try again
		}
		c.s.failedGuess(c.ctx, limitConnect, addr, "")
		c.refuse(e, m.Ref, "")
		return errBadToken
	}
	team, user, session := claims.TeamID(), claims.Subject, m.Session
	key := store.UserKey(team, user)
	if session == "" {
		session = newID()
	}
	// checkAccess read the user; read the state set by hand.
	manual, err := c.s.manualState(c.ctx, key)
	if err != nil {
		c.logger().Warn("could not read the state set by hand", "err", err)
	}
	contacts, err := c.s.contactsOf(c.ctx, team, user)
	if err != nil {
		c.logger().Warn("could not read the contacts", "err", err)
	}
	// Messages for the user wait in held until the welcome is queued, so
	// that the welcome comes first; if the connect fails, they are dropped.
	c.s.hub.add(key, c)
	fail := func(e *signaling.Error) error {
		c.s.hub.remove(key, c)
		c.mu.Lock()
		c.held = nil
		c.mu.Unlock()
		c.refuse(e, m.Ref, "")
		return nil
	}
	now := time.Now().UTC()
	rec := presenceRecord{Node: c.s.cfg.NodeName, Conn: c.id, Since: now, Updated: now, Device: claims.Device,
		Name: u.Name}
	if manual.State != signaling.StateOnline {
		rec.Manual, rec.ManualSince = manual.State, manual.Since
	}
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	if n := c.s.feed.sessions(ctx, key); n >= MaxSessions && !m.Resume {
		return fail(tooManySessions(user, n))
	}
	rev, err := c.s.store.Presence.Create(ctx, presenceKey(key, session), b)
	if errors.Is(err, jetstream.ErrKeyExists) && m.Resume {
		// A reconnect before the server noticed the old connection die:
		// take the session over; the old connection's heartbeat finds the
		// key no longer its own and closes it.
		rev, err = c.s.store.Presence.Put(ctx, presenceKey(key, session), b)
		c.logger().Info("session taken over by a reconnect", "session", session)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fail(signaling.Errorf(signaling.AlreadyConnectedSession,
			"session %s of %s is already connected elsewhere: disconnect it there, or connect without a session id "+
				"to get a new one", session, user))
	}
	if err != nil {
		return fail(signaling.Errorf(signaling.UnknownError, "could not record your presence: %v", err))
	}
	if !m.Resume {
		// The count above may be a moment behind (a session put but not yet
		// applied, here or on another node): count again, in bucket order.
		n, err := c.s.feed.sessionsUpTo(ctx, key, rev)
		if err == nil && n > MaxSessions {
			pk := presenceKey(key, session)
			if err := c.s.store.Presence.Delete(ctx, pk, jetstream.LastRevision(rev)); err != nil {
				c.logger().Warn("could not remove a refused session's presence; it expires by itself", "err", err)
			}
			return fail(tooManySessions(user, n-1))
		}
	}
	c.user, c.session, c.role = user, session, claims.Role
	c.team, c.key, c.device, c.name = team, key, claims.Device, u.Name
	c.link = claims.Link
	c.who.Store(&[3]string{user, team, session})
	c.mu.Lock()
	c.pres = rec
	c.mu.Unlock()
	if c.link == nil { // a guest of a link is seen by no one
		c.s.markSeen(ctx, key, now)
	}
	c.s.keeper.join(c, presenceKey(key, session), rev)
	c.expiry = time.AfterFunc(time.Until(claims.ExpiresAt.Time), c.tokenExpired)
	holder := turn.Holder{User: user, Team: team, Device: claims.Device, Issued: claims.Issued()}
	if c.link != nil { // a guest's: as long as its link works, and its token at most
		holder = turn.Holder{User: user, Link: c.link.Key, End: claims.ExpiresAt.Time}
	}
	c.send(signaling.Message{Type: signaling.TypeWelcome, Ref: m.Ref, User: user, Name: u.Name, Session: session,
		Role:       claims.Role,
		ICEServers: c.s.turn.ICEServers(holder)})
	c.admit()
	c.hello.Stop()
	c.hello = nil
	c.logger().Info("connected", "role", claims.Role, "device", claims.Device)
	if len(contacts) > 0 {
		// Everyone who has a person as a contact hears of their presence.
		c.watchUsers(watchRequest{users: contacts, auto: true})
	}
	return nil
}

// receive takes a message on the user's subject, on the hub's goroutine:
// it is held until the session is admitted, then handled by route.
func (c *conn) receive(msg *nats.Msg) {
	c.mu.Lock()
	if !c.admitted {
		full := len(c.held) >= c.s.cfg.SendQueue
		if !full {
			c.held = append(c.held, msg)
		}
		c.mu.Unlock()
		if full {
			c.tooSlow()
		}
		return
	}
	c.mu.Unlock()
	c.route(msg)
}

// admit lets the user's messages through, after those held meanwhile, in
// their order. The reader calls it once the welcome is queued.
func (c *conn) admit() {
	for {
		c.mu.Lock()
		held := c.held
		c.held = nil
		if len(held) == 0 {
			c.admitted = true
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, msg := range held {
			c.route(msg)
		}
	}
}

// route handles a message on the user's subject: a control message, or
// one to pass on to the client unless it is for another session. Once the
// connection is ending (such as after a revoke), nothing more is.
func (c *conn) route(msg *nats.Msg) {
	if c.ctx.Err() != nil {
		return
	}
	if ctl := msg.Header.Get(hdrControl); ctl != "" {
		c.control(ctl, msg)
		return
	}
	if to := msg.Header.Get(hdrSession); to != "" && to != c.session {
		return
	}
	c.enqueue(msg.Data)
}

// control handles a control message on the user's subject.
func (c *conn) control(ctl string, msg *nats.Msg) {
	switch ctl {
	case ctlRevoke:
		dev := msg.Header.Get(hdrDevice)
		if dev != "" && dev != c.device {
			return
		}
		e := signaling.Errorf(signaling.InvalidToken,
			"your access was revoked by an admin: sign in again with a new invite (`parley login INVITE`)")
		if dev != "" {
			e = badCredential(true)
		} else if c.link != nil { // the host's access was (revokeGuests)
			_, title, msg := linkWithdrawn.refusal(linkRecord{Host: c.link.Host})
			e = signaling.Errorf(signaling.InvalidToken, "%s. %s", title, msg)
		}
		c.refuse(e, "", "")
		c.cancel(errRevoked)
	case ctlStatus:
		var st store.Status
		if json.Unmarshal(msg.Data, &st) != nil {
			return
		}
		c.setPresence(func(r *presenceRecord) { r.Manual, r.ManualSince = st.State, st.Since })
	case ctlContacts:
		if u := string(msg.Data); signaling.ValidID(u) {
			c.watchAdded(u)
		}
	}
}

// setPresence changes the session's presence record and has the keeper
// write it at once. Safe from any goroutine.
func (c *conn) setPresence(change func(*presenceRecord)) {
	c.mu.Lock()
	change(&c.pres)
	c.mu.Unlock()
	c.s.keeper.kick(c)
}

// presenceJSON is the session's presence record as of now, in JSON.
func (c *conn) presenceJSON() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pres.Updated = time.Now().UTC()
	b, _ := json.Marshal(c.pres)
	return b
}

// setOwnPresence handles a presence message from the client: a state set
// by hand (for every session of the user, kept), or this session's idle
// flag.
func (c *conn) setOwnPresence(m signaling.Message) {
	if m.Idle != nil {
		idle := *m.Idle
		c.setPresence(func(r *presenceRecord) { r.Idle = idle })
		return
	}
	if err := c.s.setManual(c.ctx, c.team, c.user, m.State); err != nil {
		c.refuse(signaling.AsError(err), m.Ref, "")
	}
}

// tokenExpired closes a connection whose token expired without a refresh.
func (c *conn) tokenExpired() {
	c.refuse(signaling.Errorf(signaling.InvalidToken,
		"your token expired: clients renew it before it does (refresh); sign in again (`parley login INVITE`) or get "+
			"a new token"), "", "")
	c.cancel(errExpired)
}

// refresh takes a renewed token for the connection: same user, team and
// device, not revoked. The connection then lasts until that token expires.
func (c *conn) refresh(m signaling.Message) {
	addr := remoteHost(c.remote)
	claims, err := c.s.tokens.Verify(m.Token)
	if e := c.s.tokenLocked(addr, err); e != nil {
		c.refuse(e, m.Ref, "")
		return
	}
	if err == nil && (claims.Subject != c.user || claims.TeamID() != c.team || claims.Device != c.device) {
		err = signaling.Errorf(signaling.InvalidToken,
			"the token is for another user or device than this connection's: connect again with it")
	}
	if err == nil {
		_, err = c.s.checkAccess(c.ctx, claims)
	}
	if err != nil {
		if e := signaling.AsError(err); e.Code == signaling.InvalidToken {
			c.s.failedGuess(c.ctx, limitConnect, addr, "")
		}
		c.refuse(signaling.AsError(err), m.Ref, "")
		return
	}
	if claims.Role != c.role {
		// The rights of a connection are its role's, taken at connect:
		// a new role takes a new connection.
		c.refuse(signaling.Errorf(signaling.InvalidToken,
			"your role changed from %s to %s: connect again with the new token", c.role, claims.Role), m.Ref, "")
		c.logger().Info("role changed: disconnecting", "from", c.role, "to", claims.Role)
		c.cancel(errRoleChanged)
		return
	}
	c.expiry.Reset(time.Until(claims.ExpiresAt.Time))
	c.logger().Debug("token refreshed", "expires", claims.ExpiresAt.Time)
	c.send(signaling.Message{Type: signaling.TypeRefreshed, Ref: m.Ref})
}

// dial checks a dial, marks both users busy and starts the call.
func (c *conn) dial(m signaling.Message) {
	refuse := func(e *signaling.Error) { c.refuse(e, m.Ref, "") }
	internal := func(what string, err error) {
		refuse(signaling.Errorf(signaling.UnknownError, "%s: %v", what, err))
	}
	select {
	case <-c.s.stopping:
		refuse(signaling.Errorf(signaling.UnknownError, "the server is shutting down: dial again once reconnected"))
		return
	default:
	}
	if m.To == c.user {
		refuse(signaling.Errorf(signaling.SameCallerAndDestination, "you cannot call yourself: dial another user"))
		return
	}
	// A user of another team, or one a guest may not reach, is not there.
	var callee store.User
	var e *signaling.Error
	if c.link != nil {
		callee, e = c.s.guestDial(c.ctx, c, m.To) // links.go
	} else {
		callee, e = c.s.findVisible(c.ctx, c.team, c.user, c.role, m.To)
	}
	if e != nil {
		refuse(e)
		return
	}
	if callee.EffectiveRole() == RoleGuest {
		ok, err := c.s.hasContact(c.ctx, c.team, c.user, m.To)
		if err != nil {
			internal("could not read your contacts", err)
			return
		}
		if !ok {
			refuse(signaling.Errorf(signaling.InvalidParameter,
				"%s is a guest: only people who have them as a contact can call them; add them with `parley "+
					"contacts add %s`", m.To, m.To))
			return
		}
	}
	toKey := store.UserKey(c.team, m.To)
	if ok, retry := c.s.dials.Allow(c.key); !ok {
		refuse(signaling.Errorf(signaling.InvalidParameter,
			"you placed %d calls in a minute, the most there may be: try again in %s", c.s.cfg.DialLimit,
			seconds(retry)))
		return
	}
	if ok, retry := c.s.daily.Allow(c.key); !ok {
		refuse(signaling.Errorf(signaling.InvalidParameter,
			"you placed %d calls today, the most there may be: try again in %s", dailyDials, retry.Round(time.Minute)))
		return
	}
	// Refused because of the callee: both keep the attempt in their history.
	refused := func(reason string, e *signaling.Error) {
		c.s.recordRefused(c.ctx, callRecord{Team: c.team, From: c.user, FromSession: c.session, FromName: c.name,
			To: m.To, ToName: callee.Name, Link: linkKey(c.link), Reason: reason, Code: e.Code}) // history.go
		refuse(e)
	}
	if reason, e := c.s.calleeRefusal(c.ctx, c.team, callee); e != nil {
		if reason == "" {
			refuse(e)
		} else {
			refused(reason, e)
		}
		return
	}
	if ok, retry := c.s.rings.Allow(toKey); !ok {
		refuse(signaling.Errorf(signaling.AlreadyBusyCall,
			"%s was called %d times in the last minute, the most there may be: try again in %s", m.To,
			c.s.cfg.RingLimit, seconds(retry)))
		return
	}
	id := newID()
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	callerRev, err := c.s.store.Busy.Create(ctx, c.key, []byte(id))
	if errors.Is(err, jetstream.ErrKeyExists) {
		refuse(signaling.Errorf(signaling.AlreadyBusyCall, "you are already in a call: hang up before dialing again"))
		return
	}
	if err != nil {
		internal("could not mark you busy", err)
		return
	}
	mark, err := c.s.markCallee(ctx, toKey, id)
	if err != nil {
		c.s.releaseBusy(c.key, callerRev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			refused(ReasonBusy, busyRefusal(m.To))
		} else {
			internal("could not mark "+m.To+" busy", err)
		}
		return
	}
	err = c.s.startCall(callSetup{
		id: id, team: c.team, from: c.user, fromSession: c.session, to: m.To, ref: m.Ref, offer: m.SDP,
		fromName: c.name, toName: callee.Name,
		fromBusy: callerRev, toBusy: mark.rev, waiting: mark.waiting, secondMark: mark.second,
		link: linkKey(c.link),
	})
	if err != nil {
		c.s.releaseBusy(c.key, callerRev)
		c.s.releaseBusy(mark.key, mark.rev)
		internal("could not start the call", err)
	}
}

// act sends a call action to the call's owner, wherever it runs, and
// passes on its refusal. An action that finds no owner, or an owner that
// stepped down, is not refused: act says so, and the call may be adopted
// (resume.go).
func (c *conn) act(m signaling.Message) actResult {
	a := m
	a.Ref, a.User, a.Session, a.Role = "", c.user, c.session, c.role
	a.State, a.Idle = "", nil
	data, err := signaling.Encode(a)
	if err != nil {
		c.refuse(signaling.Errorf(signaling.UnknownError, "could not encode %s: %v", m.Type, err), m.Ref, m.CallID)
		return acted
	}
	req := nats.NewMsg(callSubject(m.CallID))
	req.Data = data
	req.Header.Set(hdrTeam, c.team) // a call's parties are (team, user, session)
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	defer cancel()
	msg, err := c.s.bus.nc.RequestMsgWithContext(ctx, req)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return noOwner
	case err != nil:
		if c.ctx.Err() == nil {
			c.refuse(signaling.Errorf(signaling.UnknownError, "call %s did not respond: %v", m.CallID, err), m.Ref,
				m.CallID)
		}
		return acted
	}
	var r actionReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		c.refuse(signaling.Errorf(signaling.UnknownError, "call %s answered nonsense: %v", m.CallID, err), m.Ref,
			m.CallID)
		return acted
	}
	if r.Again {
		return askAgain
	}
	if r.Error != nil {
		c.refuse(r.Error, m.Ref, m.CallID)
	}
	return acted
}

// actResult is what became of an action sent to a call's owner.
type actResult int

const (
	acted    actResult = iota // carried out, or refused (and the refusal passed on)
	noOwner                   // nobody runs the call
	askAgain                  // its owner stepped down (resume.go)
)

// watch hands a watch to the watcher.
func (c *conn) watch(m signaling.Message) {
	if len(m.Users) == 0 {
		c.refuse(signaling.Errorf(signaling.InvalidParameter, `watch needs "users": the users whose presence you want`),
			m.Ref, "")
		return
	}
	c.watchUsers(watchRequest{ref: m.Ref, users: m.Users})
}

// watchAdded has the feed follow user, a contact added elsewhere, on a
// goroutine of its own: it is called on the hub's, which must not wait.
func (c *conn) watchAdded(user string) {
	c.q.whileOpen(func() { // serve waits for c.wg once the socket is closed
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.watchUsers(watchRequest{users: []string{user}, auto: true})
		}()
	})
}

// send queues a message for the client.
func (c *conn) send(m signaling.Message) {
	b, err := signaling.Encode(m)
	if err != nil {
		c.logger().Error("encode", "type", m.Type, "err", err)
		return
	}
	c.enqueue(b)
}

// enqueue queues a message in wire form, or disconnects the client when
// its queue is full. Safe from any goroutine; what is queued once the
// socket closes is dropped.
func (c *conn) enqueue(b []byte) {
	c.queued(c.q.put(b))
}

// enqueueWait queues a message, waiting up to a write timeout for room:
// for a burst the connection itself asked for, such as the presence of a
// thousand watched users.
func (c *conn) enqueueWait(b []byte) {
	c.queued(c.q.putWait(c.ctx, b, c.s.cfg.WriteTimeout))
}

// queued acts on what a put said: start the writer, or drop a client too
// slow for its queue.
func (c *conn) queued(start, full bool) {
	switch {
	case full:
		c.tooSlow()
	case start:
		go c.writer()
	}
}

// tooSlow disconnects a client that does not read what is sent to it.
func (c *conn) tooSlow() {
	c.slowOnce.Do(func() {
		// c.log is the reader's: log with fields of its own.
		c.s.log.Warn("disconnecting a slow client", "remote", c.remote, "queue", c.s.cfg.SendQueue)
	})
	c.cancel(errSlow)
	c.deadline(time.Now()) // a write under way gives up now
}

// refuse logs a refusal and sends it to the client. Safe from any
// goroutine once connect has returned (or before connect, from the reader).
func (c *conn) refuse(e *signaling.Error, ref, callID string) {
	c.s.logRefusal(e, c.user, c.remote, "session", c.session, "ref", ref, "call", callID)
	c.send(signaling.Message{Type: signaling.TypeError, Ref: ref, CallID: callID, Error: e})
}

// wakeWriter starts the writer, if it does not run, to close the
// connection: it runs once c.ctx has ended.
func (c *conn) wakeWriter() {
	if c.q.wake() {
		go c.writer()
	}
}

// writer writes queued messages until there are none left, then exits; once
// the connection ends, it closes the socket in the way the cause calls for.
func (c *conn) writer() {
	for {
		b, step := c.q.next(c.ctx)
		switch step {
		case writerIdle:
			return
		case writerEnd:
			c.close(context.Cause(c.ctx))
			close(c.done)
			return
		}
		if err := c.write(b); err != nil {
			c.cancel(fmt.Errorf("server: write: %w", err))
			c.q.close()
			_ = c.ws.CloseNow()
			close(c.done)
			return
		}
	}
}

// write writes one message, within a write timeout. (The timeout is the
// connection's deadline rather than a context's: the WebSocket keeps the
// context of its last write, which would keep its timer.)
func (c *conn) write(b []byte) error {
	c.deadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if errors.Is(context.Cause(c.ctx), errSlow) {
		c.deadline(time.Now()) // tooSlow's, which the line above may have undone
	}
	defer c.deadline(time.Time{})
	return c.ws.Write(context.Background(), websocket.MessageText, b)
}

// deadline sets the write deadline of the connection; the zero time
// clears it.
func (c *conn) deadline(t time.Time) {
	_ = c.sock.nc.SetWriteDeadline(t)
}

// policyCloses are the causes that close a connection with 1008 (policy
// violation), once what is queued is written, and the reason they give.
var policyCloses = []struct {
	cause  error
	reason string
}{
	{errBadToken, "invalid token"},
	{errNoHello, "no connect"},
	{errLost, "session taken over"},
	{errRevoked, "revoked"},
	{errExpired, "token expired"},
	{errRoleChanged, "role changed"},
	{errFlood, "too many refused messages"},
	{errPing, "no answer to pings"},
}

// close says goodbye and closes the socket.
func (c *conn) close(cause error) {
	c.sock.mu.Lock()
	defer c.sock.mu.Unlock()
	switch {
	case errors.Is(cause, errShutdown):
		// Queued messages are dropped: the client reconnects anyway.
		b, _ := signaling.Encode(signaling.Message{Type: signaling.TypeShutdown,
			Reason: "the server is shutting down: reconnect in a moment"})
		_ = c.write(b)
		_ = c.ws.Close(websocket.StatusGoingAway, "server shutting down")
	case errors.Is(cause, errSlow):
		// No closing handshake: it would wait for a client that does not read.
		_ = c.ws.CloseNow()
	default:
		code, reason := websocket.StatusNormalClosure, ""
		for _, p := range policyCloses {
			if errors.Is(cause, p.cause) {
				code, reason = websocket.StatusPolicyViolation, p.reason
				break
			}
		}
		c.flush()
		_ = c.ws.Close(code, reason)
	}
	c.q.clear()
}

// flush writes what is queued, within one write timeout in all.
func (c *conn) flush() {
	c.deadline(time.Now().Add(c.s.cfg.WriteTimeout))
	defer c.deadline(time.Time{})
	for {
		b, ok := c.q.pop()
		if !ok || c.ws.Write(context.Background(), websocket.MessageText, b) != nil {
			return
		}
	}
}

// ping pings the client, on the keepalive timer's goroutine, and sets the
// timer again; a client that does not answer within the interval is
// disconnected.
func (c *conn) ping() {
	if c.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.PingInterval)
	err := c.ws.Ping(ctx)
	cancel()
	switch {
	case c.ctx.Err() != nil:
	case err != nil:
		c.logger().Info("no answer to a ping: disconnecting", "within", c.s.cfg.PingInterval)
		c.cancel(fmt.Errorf("%w: %w", errPing, err))
	default:
		c.pinger.Reset(c.s.cfg.PingInterval)
	}
}

// tooManySessions refuses a connect of user, who has n sessions already.
func tooManySessions(user string, n int) *signaling.Error {
	return signaling.Errorf(signaling.AlreadyConnectedSession,
		"%s has %d sessions connected, the most there may be: close one, or sign out a device you no longer use "+
			"(`parley logout` there, or `parley admin revoke DEVICE`)", user, n)
}

// presenceRevision tells the revision of a presence key and whether it is
// this connection's; jetstream.ErrKeyNotFound when it is gone.
func (c *conn) presenceRevision(ctx context.Context, key string) (rev uint64, ours bool, err error) {
	e, err := c.s.store.Presence.Get(ctx, key)
	if err != nil {
		return 0, false, err
	}
	var p presenceRecord
	if json.Unmarshal(e.Value(), &p) != nil || p.Conn != c.id {
		return e.Revision(), false, nil
	}
	return e.Revision(), true, nil
}

// cleanup undoes connect once the socket is closed and the watcher done.
func (c *conn) cleanup() {
	c.pinger.Stop()
	if c.user == "" {
		return
	}
	c.s.hub.remove(c.key, c)
	c.s.feed.unwatch(c)
	c.expiry.Stop()
	rev := c.s.keeper.leave(c)
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RequestTimeout)
	defer cancel()
	// Seen before the presence goes, so that watchers who read it then
	// find the time of this disconnect.
	c.s.markSeen(ctx, c.key, time.Now())
	if errors.Is(context.Cause(c.ctx), errLost) {
		return // the key is someone else's now
	}
	key := presenceKey(c.key, c.session)
	err := c.s.store.Presence.Delete(ctx, key, jetstream.LastRevision(rev))
	if err != nil {
		// A refresh may have landed without its answer: delete if the key
		// is still ours.
		if rev, ours, rerr := c.presenceRevision(ctx, key); rerr == nil && ours {
			err = c.s.store.Presence.Delete(ctx, key, jetstream.LastRevision(rev))
		}
	}
	if err != nil {
		c.logger().Warn("could not remove presence; it expires by itself", "err", err)
	}
}
