// Package webhook delivers the status changes of a team's calls, and the
// events of its rooms, to the URLs the team registered, as signed POSTs
// (signaling.WebhookEvent, signaling.RoomWebhookEvent,
// signaling.SignWebhook), through one JetStream stream with work-queue
// retention, so that each event is handled by one node of a service,
// whichever node saw it. The call's owner publishes each change; every
// node takes its share of the fan-out (one delivery per webhook) and of
// the deliveries, retried with a growing delay. Destinations refuses the
// addresses webhooks may not go to: inside the operator's network, or the
// server itself. docs/SERVER.md tells the design.
//
// The webhooks themselves are kept by the server (package store): a
// Dispatcher reads them through Hooks.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-voice/parley/signaling"
	"github.com/parley-voice/parley/signaling/server/netrange"
	"github.com/parley-voice/parley/signaling/server/store"
)

// Stream is the JetStream stream of webhook events and deliveries.
const Stream = "PARLEY_WEBHOOKS"

// Subjects, consumers and headers of the stream.
const (
	subjectEvent    = "parley.webhook.event."    // + store.Token(team)
	subjectDelivery = "parley.webhook.delivery." // + store.Token(team) + "." + store.Token(hook)
	consumerEvents  = "parley_webhook_events"
	consumerSends   = "parley_webhook_deliveries"

	hdrTeam  = "Parley-Team"
	hdrHook  = "Parley-Hook"
	hdrEvent = "Parley-Event" // a delivery's event id (its message id is EVENT.HOOK)

	// streamMaxAge bounds how long an undelivered message may stay.
	streamMaxAge = 24 * time.Hour
)

// Defaults of Options.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultRetryBase = time.Second
	DefaultRetryMax  = 2 * time.Minute
	DefaultAttempts  = 12 // 1+2+4+...+64 s, then 2 min: about 10 minutes in all
	DefaultWorkers   = 8
)

// Options tune webhook deliveries. Every node of a service should use the
// same. Zero fields take the defaults.
type Options struct {
	Timeout   time.Duration // one POST, answer included; default DefaultTimeout
	RetryBase time.Duration // delay before the first retry, doubled after each; default DefaultRetryBase
	RetryMax  time.Duration // the longest delay between two attempts; default DefaultRetryMax
	Attempts  int           // attempts in all before a delivery is dropped; default DefaultAttempts
	Workers   int           // deliveries under way at once on this node; default DefaultWorkers

	// Allow lists ranges that webhooks may go to although they are refused
	// by default (netrange.Kind and the server's own addresses), such as a
	// receiver on the operator's private network. An address inside one is
	// allowed whatever else it is.
	Allow []netip.Prefix
}

// Validate reports a problem of o.
func (o Options) Validate() error {
	for _, p := range o.Allow {
		switch {
		case !p.IsValid():
			return fmt.Errorf("Webhooks.Allow holds an invalid range %v: give ranges such as 10.20.0.0/16", p)
		case p.Addr().Is4In6():
			return fmt.Errorf("Webhooks.Allow holds %v: write IPv4 ranges as IPv4, such as 10.20.0.0/16", p)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	return o
}

// backoff is the delay after the failed attempt number n (from 1).
func (o Options) backoff(n int) time.Duration {
	d := o.RetryBase
	for i := 1; i < n && d < o.RetryMax; i++ {
		d *= 2
	}
	return min(d, o.RetryMax)
}

// Hooks reads the webhooks the teams registered, where the server keeps
// them (store.Store).
type Hooks interface {
	ListWebhooks(ctx context.Context, team string) ([]store.Webhook, error) // oldest first
	GetWebhook(ctx context.Context, team, id string) (w store.Webhook, found bool, err error)
}

// Dispatcher publishes the webhook events of this node's calls and takes
// its share of the events and deliveries of every node. Its goroutines
// own nothing but the message each handles; Close stops them.
type Dispatcher struct {
	js      jetstream.JetStream
	hooks   Hooks
	opts    Options
	node    string
	timeout time.Duration
	log     *slog.Logger
	dest    Destinations
	hc      *http.Client

	events, sends jetstream.MessagesContext
	ctx           context.Context // ends at Close: deliveries under way give up
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

// Start makes sure the stream and its two consumers exist, and starts
// this node's share of the work: node names this node in the logs,
// timeout bounds each read of hooks and each publish.
func Start(ctx context.Context, js jetstream.JetStream, hooks Hooks, o Options, node string, timeout time.Duration,
	log *slog.Logger) (*Dispatcher, error) {
	o = o.withDefaults()
	st, err := store.Racing(ctx, func() (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        Stream,
			Description: "parley webhook events and deliveries, each handled once",
			Subjects:    []string{subjectEvent + ">", subjectDelivery + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      streamMaxAge,
			Duplicates:  2 * time.Minute,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: stream %s: %w", Stream, err)
	}
	events, err := store.Racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerEvents,
			Description:   "parley webhook events to fan out, shared by every node",
			FilterSubject: subjectEvent + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: consumer %s: %w", consumerEvents, err)
	}
	sends, err := store.Racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerSends,
			Description:   "parley webhook deliveries, shared by every node",
			FilterSubject: subjectDelivery + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			// A node that died while it POSTed: another retries after this.
			AckWait:    o.Timeout + 20*time.Second,
			MaxDeliver: o.Attempts + 1, // +1: a delivery naked at shutdown is tried again
		})
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: consumer %s: %w", consumerSends, err)
	}
	d := &Dispatcher{
		js: js, hooks: hooks, opts: o, node: node, timeout: timeout,
		log:  log.With("component", "webhooks"),
		dest: Destinations{Allow: o.Allow},
	}
	d.hc = d.dest.Client(o.Timeout)
	if d.events, err = events.Messages(jetstream.PullMaxMessages(16)); err != nil {
		return nil, fmt.Errorf("webhook: pull %s: %w", consumerEvents, err)
	}
	if d.sends, err = sends.Messages(jetstream.PullMaxMessages(o.Workers)); err != nil {
		d.events.Stop()
		return nil, fmt.Errorf("webhook: pull %s: %w", consumerSends, err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1 + o.Workers)
	go d.loop(d.events, d.fanOut)
	for range o.Workers {
		go d.loop(d.sends, d.deliver)
	}
	return d, nil
}

// CheckURL refuses a URL a webhook cannot or may not be sent to
// (Destinations.CheckURL).
func (d *Dispatcher) CheckURL(ctx context.Context, raw string) *signaling.Error {
	return d.dest.CheckURL(ctx, raw)
}

// Close stops the work: deliveries under way give up and are naked, so
// that another node takes them at once, as are the messages pulled but not
// yet handled.
func (d *Dispatcher) Close() {
	if d == nil {
		return
	}
	d.cancel()
	d.events.Drain()
	d.sends.Drain()
	d.wg.Wait()
	d.hc.CloseIdleConnections()
}

// loop hands the messages of it to handle until it is closed.
func (d *Dispatcher) loop(it jetstream.MessagesContext, handle func(jetstream.Msg)) {
	defer d.wg.Done()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			d.log.Debug("pull", "err", err)
			continue
		}
		if d.ctx.Err() != nil {
			_ = m.Nak()
			continue
		}
		handle(m)
	}
}

// Publish queues a call's status change for team's webhooks. It is called
// by the call's owner; a failure is logged, the call goes on.
func (d *Dispatcher) Publish(team string, e *signaling.WebhookEvent) {
	if d == nil || e == nil {
		return
	}
	d.PublishBody(team, e.EventID, e)
}

// PublishBody queues an event of any kind for team's webhooks: body, as
// JSON, is what they receive; eventID names it (the same id is queued
// once). A room's owner publishes its events so. A failure is logged.
func (d *Dispatcher) PublishBody(team, eventID string, body any) {
	if d == nil {
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		d.log.Warn("could not encode a webhook event", "event", eventID, "err", err)
		return
	}
	m := nats.NewMsg(subjectEvent + store.Token(team))
	m.Data = data
	m.Header.Set(hdrTeam, team)
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, m, jetstream.WithMsgID(eventID)); err != nil {
		d.log.Warn("could not queue a webhook event", "event", eventID, "err", err)
	}
}

// fanOut turns an event into one delivery per webhook of its team.
func (d *Dispatcher) fanOut(m jetstream.Msg) {
	team := m.Headers().Get(hdrTeam)
	eventID := m.Headers().Get(jetstream.MsgIDHeader)
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	list, err := d.hooks.ListWebhooks(ctx, team)
	if err == nil {
		for _, w := range list {
			dm := nats.NewMsg(subjectDelivery + store.Token(team) + "." + store.Token(w.ID))
			dm.Data = m.Data()
			dm.Header.Set(hdrTeam, team)
			dm.Header.Set(hdrHook, w.ID)
			dm.Header.Set(hdrEvent, eventID)
			if _, err = d.js.PublishMsg(ctx, dm, jetstream.WithMsgID(eventID+"."+w.ID)); err != nil {
				err = fmt.Errorf("queue the delivery to %s: %w", w.ID, err)
				break
			}
		}
	}
	if err != nil {
		d.log.Warn("could not fan out a webhook event; retrying", "event", eventID, "team", team, "err", err)
		_ = m.NakWithDelay(d.opts.RetryBase)
		return
	}
	if err := m.Ack(); err != nil {
		// Redelivered: the deliveries' message ids make the repeat harmless.
		d.log.Warn("could not ack a webhook event", "event", eventID, "err", err)
	}
}

// deliver makes one attempt of one delivery.
func (d *Dispatcher) deliver(m jetstream.Msg) {
	team, id, eventID := m.Headers().Get(hdrTeam), m.Headers().Get(hdrHook), m.Headers().Get(hdrEvent)
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := d.log.With("webhook", id, "team", team, "event", eventID, "attempt", attempt, "node", d.node)
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	w, found, err := d.hooks.GetWebhook(ctx, team, id)
	cancel()
	switch {
	case err != nil:
		log.Warn("could not read the webhook; retrying", "err", err)
		_ = m.NakWithDelay(d.opts.RetryBase)
		return
	case !found:
		log.Info("webhook removed: delivery dropped")
		_ = m.Term()
		return
	}
	start := time.Now()
	code, err := d.post(w, eventID, attempt, m.Data())
	took := time.Since(start)
	// Logged before the ack, so that the log has it once the stream is
	// empty.
	switch {
	case err == nil:
		log.Info("webhook delivered", "url", w.URL, "status", code, "took", took)
		if err := m.Ack(); err != nil {
			log.Warn("could not ack a delivery: it may be repeated", "err", err)
		}
	case d.ctx.Err() != nil:
		_ = m.Nak() // shutting down: another node tries again now
	case errors.As(err, new(*refusedAddrError)):
		// Dropped at once: every attempt meets the same rules, so a
		// retry would only be refused again, and logged again.
		log.Warn("webhook delivery refused: its address is not allowed", "url", w.URL, "err", err)
		_ = m.Term()
	case attempt >= d.opts.Attempts:
		log.Error("webhook delivery given up", "url", w.URL, "status", code, "err", err)
		_ = m.Term()
	default:
		delay := d.opts.backoff(attempt)
		log.Warn("webhook delivery failed; retrying", "url", w.URL, "status", code, "err", err, "retry_in", delay)
		_ = m.NakWithDelay(delay)
	}
}

// post sends the signed body to w's URL; a 2xx answer is success.
func (d *Dispatcher) post(w store.Webhook, eventID string, attempt int, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook: request: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-webhooks")
	req.Header.Set(signaling.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signaling.HeaderSignature, signaling.SignWebhook(w.Secret, ts, body))
	req.Header.Set(signaling.HeaderEventID, eventID)
	req.Header.Set(signaling.HeaderAttempt, strconv.Itoa(attempt))
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook: answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// CheckURL refuses a URL a webhook cannot or may not be sent to: one
// whose host is, or resolves only to, addresses d refuses. A name that
// does not resolve now is accepted: each connection is checked anyway.
func (d Destinations) CheckURL(ctx context.Context, raw string) *signaling.Error {
	bad := func(why string) *signaling.Error {
		return signaling.Errorf(signaling.InvalidParameter,
			"webhook URL %.80q %s: give an absolute http:// or https:// URL "+
				"such as https://app.example.com/parley/events", raw, why)
	}
	if raw == "" {
		return bad("is empty")
	}
	if len(raw) > signaling.MaxWebhookURL {
		return bad(fmt.Sprintf("is over %d bytes", signaling.MaxWebhookURL))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("does not start with http:// or https://")
	case u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("carries a user name or password")
	case u.Fragment != "":
		return bad("has a #fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("has a port out of range")
		}
	}
	host := u.Hostname()
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	var addrs []netip.Addr
	var where string // "" for an address
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if endsInNumber(host) {
		return signaling.Errorf(signaling.InvalidParameter,
			"webhook URL %.80q: its host %.40q is a number but not an address "+
				"as webhooks take them: write an IPv4 address as four decimal numbers, such as 203.0.113.7", raw, host)
	} else {
		where = host + " resolves to no address webhooks may go to: "
		if name == "localhost" || strings.HasSuffix(name, ".localhost") { // RFC 6761, whatever the resolver says
			addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
		} else {
			addrs, _ = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	var refused error
	for _, a := range addrs {
		err := d.check(a)
		if err == nil {
			return nil
		}
		if refused == nil {
			refused = err
		}
	}
	switch {
	case refused == nil:
		return nil
	case !errors.As(refused, new(*refusedAddrError)):
		return signaling.Errorf(signaling.UnknownError, "could not check webhook URL %.80q: %v", raw, refused)
	}
	return signaling.Errorf(signaling.InvalidParameter, "webhook URL %.80q: %s%v", raw, where, refused)
}

// endsInNumber reports whether host's last label is a number, decimal or
// hexadecimal (0x), as no DNS name's is (the URL standard's "ends in a
// number"): host is then an IPv4 address in one of the forms that some
// resolvers read and others do not (2130706433, 0x7f.1, 0177.0.0.1, 127.1).
func endsInNumber(host string) bool {
	h := strings.TrimSuffix(host, ".")
	last := strings.ToLower(h[strings.LastIndexByte(h, '.')+1:])
	if x, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(x, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// Destinations decides which addresses webhooks may go to: none that is
// not the Internet's (netrange.Kind) nor of the server's own, unless
// inside an Allow range.
type Destinations struct{ Allow []netip.Prefix }

// Client is an HTTP client for webhooks: each connection it makes is
// checked on the address it is made to, after DNS; it uses no proxy (a
// proxy would connect for it, to addresses d cannot check) and follows no
// redirect (the POST would turn into a GET: it counts as a failure).
// timeout bounds a request, answer included.
func (d Destinations) Client(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = (&net.Dialer{Timeout: timeout, Control: d.control}).DialContext
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refusedAddrError is the refusal of an address.
type refusedAddrError struct {
	addr netip.Addr
	what string
}

func (e *refusedAddrError) Error() string {
	return fmt.Sprintf("%s is %s, which webhooks are not sent to unless the server's operator allows it "+
		"(parley serve --webhook-allow %s, or a range around it)", e.addr, e.what,
		netip.PrefixFrom(e.addr, e.addr.BitLen()))
}

// check returns a *refusedAddrError when webhooks may not go to a.
func (d Destinations) check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if slices.ContainsFunc(d.Allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return nil
	}
	if what := netrange.Kind(a); what != "" {
		return &refusedAddrError{addr: a, what: what}
	}
	// The server's addresses are read each time: they may change.
	if slices.Contains(netrange.Local(), a) {
		return &refusedAddrError{addr: a, what: "one of the server's own addresses"}
	}
	return nil
}

// control is the webhook dialer's Control: it checks the address each
// connection is about to be made to, after DNS.
func (d Destinations) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: connection to %s: %w", address, err)
	}
	return d.check(ap.Addr())
}
