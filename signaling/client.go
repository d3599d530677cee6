package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Client is one signaling connection to a parley server, already signed in.
//
// A reader goroutine decodes what the server sends onto Messages; a writer
// goroutine sends what Send queues. Messages is closed when the connection
// ends; Err then tells why.
type Client struct {
	User    string // the signed-in user, from the welcome
	Name    string // the user's display name, if they have one
	Session string // this connection's session id
	Role    string
	Server  string // the address this connection went to
	// ICEServers are the server's STUN and TURN servers, with TURN
	// credentials for this user, from the welcome.
	ICEServers []ICEServer

	conn    *websocket.Conn
	in      chan Message
	out     chan []byte
	done    chan struct{}
	written chan struct{} // closed when the writer has flushed and closed

	closeOnce sync.Once
	mu        sync.Mutex // guards err
	err       error
}

// DialOptions tune Dial. The zero value is fine.
type DialOptions struct {
	Session    string       // resume or name this session; empty lets the server pick
	Resume     bool         // take Session over even if the server still sees it connected (a reconnect)
	HTTPClient *http.Client // for TLS settings; nil uses http.DefaultClient
	// KeepAlive, when set, pings the server this often; a ping it does
	// not answer within KeepAlive ends the connection. It finds a node
	// that went away without closing the connection (its host died, the
	// network between went), which the connection alone shows only much
	// later. Zero: no pings.
	KeepAlive time.Duration
}

// Dial connects to the server at serverURL (http://host:port or
// https://host:port), signs in with token and waits for the welcome. A refusal
// is returned as *Error (InvalidToken for a bad token).
func Dial(ctx context.Context, serverURL, token string, opts DialOptions) (*Client, error) {
	wsURL, err := endpoint(serverURL, "/v1/ws")
	if err != nil {
		return nil, err
	}
	wsURL = "ws" + strings.TrimPrefix(wsURL, "http")
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, transportError(serverURL, err)
	}
	conn.SetReadLimit(MaxMessageBytes * 2)
	hello, _ := Encode(Message{Type: TypeConnect, Token: token, Session: opts.Session, Resume: opts.Resume})
	if err := conn.Write(ctx, websocket.MessageText, hello); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("signaling: sign in to %s: %w", serverURL, err)
	}
	_, b, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("signaling: sign in to %s: %w", serverURL, err)
	}
	m, err := DecodeServer(b)
	if err != nil {
		conn.CloseNow()
		return nil, err
	}
	switch {
	case m.Type == TypeError && m.Error != nil:
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return nil, m.Error
	case m.Type != TypeWelcome:
		conn.CloseNow()
		return nil, fmt.Errorf("signaling: expected welcome from %s, got %q", serverURL, m.Type)
	}
	c := &Client{
		User: m.User, Name: m.Name, Session: m.Session, Role: m.Role, ICEServers: m.ICEServers,
		Server:  serverURL,
		conn:    conn,
		in:      make(chan Message, 64),
		out:     make(chan []byte, 64),
		done:    make(chan struct{}),
		written: make(chan struct{}),
	}
	go c.read()
	go c.write()
	if opts.KeepAlive > 0 {
		go c.keepAlive(opts.KeepAlive)
	}
	return c, nil
}

// keepAlive pings the server every interval until the connection ends, and
// ends it when a ping is not answered in time.
func (c *Client) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := c.conn.Ping(ctx)
		cancel()
		if err != nil {
			c.finish(fmt.Errorf("signaling: the server did not answer a ping within %v: %w", every, err))
			c.conn.CloseNow() // the reader stops now, not after the writer's flush
			return
		}
	}
}

// attemptTimeout bounds one address's dial when others are left to try, so
// that a node that does not answer at all (a dead host, a dropped SYN)
// does not hold up the move to another.
const attemptTimeout = 3 * time.Second

// DialAny dials the addresses of one service (several nodes) in order and
// returns the first connection that signs in; Client.Server tells which
// address it is. An address that cannot be reached is skipped, but a
// refusal (*Error, such as InvalidToken) is returned at once: every node
// of the service would give the same answer. When none can be reached, the
// error joins each address's.
func DialAny(ctx context.Context, addrs []string, token string, opts DialOptions) (*Client, error) {
	if len(addrs) == 0 {
		return nil, Errorf(InvalidParameter, "no server address to connect to")
	}
	var errs []error
	var down *UnreachableError // the addresses where nothing answered
	for i, addr := range addrs {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if i < len(addrs)-1 {
			actx, cancel = context.WithTimeout(ctx, attemptTimeout)
		}
		c, err := Dial(actx, addr, token, opts)
		cancel()
		if err == nil {
			return c, nil
		}
		var se *Error
		if errors.As(err, &se) {
			return nil, err
		}
		var u *UnreachableError
		switch {
		case !errors.As(err, &u):
			errs = append(errs, err)
		case down == nil:
			down = &UnreachableError{Servers: []string{addr}, Err: u.Err}
		default:
			down.Servers = append(down.Servers, addr)
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case len(errs) == 0:
		return nil, down
	case len(errs) == 1 && down == nil:
		return nil, errs[0]
	case down != nil:
		// Where something answered, it says more: down is told, not
		// wrapped, so that the error is not taken for unreachable.
		errs = append(errs, errors.New(down.Message()))
	}
	return nil, fmt.Errorf("signaling: no server could be reached: %w", errors.Join(errs...))
}

// Addresses returns the addresses of one service to use, in order: each
// non-empty one once, the first occurrence kept.
func Addresses(addrs ...string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// FailoverOrder is the order in which to try addrs after the connection to
// current dropped: the addresses after current first, in turn (wrapping
// around), current itself last, since its node may be gone. With current
// not among addrs, addrs are tried in their order.
func FailoverOrder(addrs []string, current string) []string {
	i := slices.Index(addrs, current)
	if i < 0 {
		return slices.Clone(addrs)
	}
	out := make([]string, 0, len(addrs))
	out = append(out, addrs[i+1:]...)
	out = append(out, addrs[:i]...)
	return append(out, current)
}

// Messages delivers what the server sends, in order. It is closed when the
// connection ends.
func (c *Client) Messages() <-chan Message { return c.in }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err tells why the connection ended; nil while it is up or after Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send queues m for the server without blocking. It fails when the
// connection is gone or when the queue is full (the server stopped reading).
func (c *Client) Send(m Message) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return Errorf(NoConnectedSession, "not connected to the server: check that `parley serve` runs and try again")
	default:
	}
	select {
	case c.out <- b:
		return nil
	case <-c.done:
		return Errorf(NoConnectedSession, "not connected to the server: check that `parley serve` runs and try again")
	default:
		return fmt.Errorf("signaling: send queue full, the server is not reading")
	}
}

// Close flushes what was queued (for up to a second), closes the
// connection, and returns once that is done (or after closeWait), so that
// a program may exit right after: a hang-up is often its last message.
func (c *Client) Close() error {
	c.finish(nil)
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.written:
	case <-t.C:
	}
	return nil
}

// closeWait bounds Close: the flush, then the close handshake with a
// server that may not answer.
const closeWait = 2 * time.Second

func (c *Client) finish(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *Client) read() {
	defer close(c.in)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure || errors.Is(err, io.EOF) {
				err = Errorf(NoConnectedSession, "the server closed the connection")
			}
			c.finish(fmt.Errorf("signaling: %w", err))
			return
		}
		m, err := DecodeServer(b)
		if err != nil {
			continue // a newer server may send what we don't know; skip it
		}
		select {
		case c.in <- m:
		case <-c.done:
			return
		}
	}
}

func (c *Client) write() {
	defer close(c.written)
	defer c.conn.CloseNow()
	for {
		select {
		case b := <-c.out:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.conn.Write(ctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.finish(fmt.Errorf("signaling: write: %w", err))
				return
			}
		case <-c.done:
			c.flush()
			return
		}
	}
}

// flush sends what is still queued, for up to a second, then closes the
// connection politely.
func (c *Client) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		select {
		case b := <-c.out:
			if c.conn.Write(ctx, websocket.MessageText, b) != nil {
				return
			}
		default:
			_ = c.conn.Close(websocket.StatusNormalClosure, "bye") // the queue is flushed: closing is all that is left
			return
		}
	}
}

// endpoint joins a server URL and a path, checking the scheme.
func endpoint(serverURL, path string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", Errorf(InvalidParameter, "server %q is not a URL like http://127.0.0.1:7700", serverURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// FetchToken asks the server for a token for user, with the admin API key
// (GET /v1/voice/users/{user}/token with header APP_API_KEY). A ttl of 0
// takes the server's default.
func FetchToken(ctx context.Context, hc *http.Client, serverURL, apiKey, user string,
	ttl time.Duration) (string, error) {
	if err := CheckUserID(user); err != nil {
		return "", err
	}
	u, err := endpoint(serverURL, "/v1/voice/users/"+url.PathEscape(user)+"/token")
	if err != nil {
		return "", err
	}
	if ttl > 0 {
		u += "?ttl=" + url.QueryEscape(ttl.String())
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := getJSON(ctx, hc, serverURL, u, http.Header{"APP_API_KEY": {apiKey}}, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// CheckSession reports whether user has a connected client, like the Gitple
// SDK's checkSession (GET /v1/voice/users/{user}/session).
func CheckSession(ctx context.Context, hc *http.Client, serverURL, token, user string) (bool, error) {
	if err := CheckUserID(user); err != nil {
		return false, err
	}
	u, err := endpoint(serverURL, "/v1/voice/users/"+url.PathEscape(user)+"/session")
	if err != nil {
		return false, err
	}
	var out struct {
		Online bool `json:"online"`
	}
	if err := getJSON(ctx, hc, serverURL, u, http.Header{"Authorization": {"Bearer " + token}}, &out); err != nil {
		return false, err
	}
	return out.Online, nil
}

func getJSON(ctx context.Context, hc *http.Client, server, u string, h http.Header, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("signaling: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v // keep APP_API_KEY as written: the Gitple SDK sends it so
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("signaling: read %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Code != 0 {
			return &e
		}
		return fmt.Errorf("signaling: %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("signaling: decode %s: %w", u, err)
	}
	return nil
}
