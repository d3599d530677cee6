package server

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
)

// Webhooks.
//
// A team registers URLs (POST /v1/voice/webhooks, kept in the webhooks
// bucket); each receives every status change of the team's calls as a
// signed POST (signaling.WebhookEvent, signaling.SignWebhook). Delivery
// goes through one JetStream stream with work-queue retention, so that
// each event is handled by one node, whichever node saw it:
//
//   - The call's owner publishes each status change (noteStatus) on
//     parley.webhook.event.TEAM, with the event id as the message id, so
//     that a repeated publish is dropped by the stream.
//   - Every node pulls from one shared durable consumer of the events and
//     fans each one out: one message per webhook of the team on
//     parley.webhook.delivery.TEAM.HOOK (message id EVENT.HOOK), then acks
//     the event.
//   - Every node pulls from one shared durable consumer of the deliveries,
//     with WebhookOptions.Workers at a time. A 2xx answer acks the
//     delivery; a failure (another status, a network error, a timeout)
//     naks it with a delay that doubles from RetryBase up to RetryMax,
//     until Attempts attempts were made; then it is dropped and logged.
//
// Webhooks do not go inside the operator's network or to the server itself
// (destinations): a URL whose host is, or resolves only to, such an address
// is refused at registration, and every connection is checked again on the
// address it is made to, since a name's DNS answer may change (and a
// receiver's redirect is not followed).
//
// A delivery acked is gone from the stream; a node that dies while it
// POSTs leaves its delivery to be redelivered by another node after the
// consumer's ack wait, so a receiver may, rarely, see an event twice: the
// event id (header X-Parley-Event) tells.

// Webhook stream, subjects and consumers.
const (
	streamWebhooks      = "PARLEY_WEBHOOKS"
	subjectHookEvent    = "parley.webhook.event."    // + token(team)
	subjectHookDelivery = "parley.webhook.delivery." // + token(team) + "." + token(hook)
	consumerHookEvents  = "parley_webhook_events"
	consumerHookSends   = "parley_webhook_deliveries"
	bucketWebhooks      = "parley_webhooks" // file: token(team).token(id) → webhookRecord

	hdrTeam  = "Parley-Team"
	hdrHook  = "Parley-Hook"
	hdrEvent = "Parley-Event" // a delivery's event id (its message id is EVENT.HOOK)

	// hookStreamMaxAge bounds how long an undelivered message may stay.
	hookStreamMaxAge = 24 * time.Hour
)

// Defaults of WebhookOptions.
const (
	DefaultWebhookTimeout   = 10 * time.Second
	DefaultWebhookRetryBase = time.Second
	DefaultWebhookRetryMax  = 2 * time.Minute
	DefaultWebhookAttempts  = 12 // 1+2+4+...+64 s, then 2 min: about 10 minutes in all
	DefaultWebhookWorkers   = 8
)

// WebhookOptions tunes webhook deliveries. Every node of a service should
// use the same. Zero fields take the defaults.
type WebhookOptions struct {
	Timeout   time.Duration // one POST, answer included; default DefaultWebhookTimeout
	RetryBase time.Duration // delay before the first retry, doubled after each; default DefaultWebhookRetryBase
	RetryMax  time.Duration // the longest delay between two attempts; default DefaultWebhookRetryMax
	Attempts  int           // attempts in all before a delivery is dropped; default DefaultWebhookAttempts
	Workers   int           // deliveries under way at once on this node; default DefaultWebhookWorkers

	// Allow lists ranges that webhooks may go to although they are refused
	// by default (refusedRanges and the server's own addresses), such as a
	// receiver on the operator's private network. An address inside one is
	// allowed whatever else it is.
	Allow []netip.Prefix
}

// validate reports a problem of o, for Config.Validate.
func (o WebhookOptions) validate() error {
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

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultWebhookRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultWebhookRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.Attempts <= 0 {
		o.Attempts = DefaultWebhookAttempts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWebhookWorkers
	}
	return o
}

// backoff is the delay after the failed attempt number n (from 1).
func (o WebhookOptions) backoff(n int) time.Duration {
	d := o.RetryBase
	for i := 1; i < n && d < o.RetryMax; i++ {
		d *= 2
	}
	return min(d, o.RetryMax)
}

// webhookRecord is the value of a key in the webhooks bucket.
type webhookRecord struct {
	ID      string    `json:"id"`
	Team    string    `json:"team"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

func webhookKey(team, id string) string { return token(team) + "." + token(id) }

// hooks publishes the webhook events of this node's calls and takes its
// share of the events and deliveries of every node. Its goroutines own
// nothing but the message each handles; close stops them.
type hooks struct {
	js         jetstream.JetStream
	direct     *directGets
	kv         jetstream.KeyValue
	opts       WebhookOptions
	node       string
	reqTimeout time.Duration
	log        *slog.Logger
	dest       destinations
	hc         *http.Client

	events, sends jetstream.MessagesContext
	ctx           context.Context // ends at close: deliveries under way give up
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

// startHooks makes sure the webhooks bucket, the stream and its two
// consumers exist, and starts this node's share of the work.
func startHooks(ctx context.Context, js jetstream.JetStream, direct *directGets, cfg Config, log *slog.Logger) (*hooks, error) {
	o := cfg.Webhooks.withDefaults()
	kv, err := racing(ctx, func() (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucketWebhooks, Description: "parley webhooks of each team",
			Storage: jetstream.FileStorage,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: bucket %s: %w", bucketWebhooks, err)
	}
	st, err := racing(ctx, func() (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        streamWebhooks,
			Description: "parley webhook events and deliveries, each handled once",
			Subjects:    []string{subjectHookEvent + ">", subjectHookDelivery + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      hookStreamMaxAge,
			Duplicates:  2 * time.Minute,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: stream %s: %w", streamWebhooks, err)
	}
	events, err := racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerHookEvents,
			Description:   "parley webhook events to fan out, shared by every node",
			FilterSubject: subjectHookEvent + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: consumer %s: %w", consumerHookEvents, err)
	}
	sends, err := racing(ctx, func() (jetstream.Consumer, error) {
		return st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       consumerHookSends,
			Description:   "parley webhook deliveries, shared by every node",
			FilterSubject: subjectHookDelivery + ">",
			AckPolicy:     jetstream.AckExplicitPolicy,
			// A node that died while it POSTed: another retries after this.
			AckWait:    o.Timeout + 20*time.Second,
			MaxDeliver: o.Attempts + 1, // +1: a delivery naked at shutdown is tried again
		})
	})
	if err != nil {
		return nil, fmt.Errorf("server: consumer %s: %w", consumerHookSends, err)
	}
	dest := destinations{allow: o.Allow}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would connect for us, to addresses dest cannot check
	tr.DialContext = (&net.Dialer{Timeout: o.Timeout, Control: dest.control}).DialContext
	h := &hooks{
		js: js, direct: direct, kv: kv, opts: o, node: cfg.NodeName, reqTimeout: cfg.RequestTimeout,
		log:  log.With("component", "webhooks"),
		dest: dest,
		hc: &http.Client{
			Transport: tr,
			Timeout:   o.Timeout,
			// A receiver's redirect is not followed: the POST would turn
			// into a GET. It counts as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if h.events, err = events.Messages(jetstream.PullMaxMessages(16)); err != nil {
		return nil, fmt.Errorf("server: pull %s: %w", consumerHookEvents, err)
	}
	if h.sends, err = sends.Messages(jetstream.PullMaxMessages(o.Workers)); err != nil {
		h.events.Stop()
		return nil, fmt.Errorf("server: pull %s: %w", consumerHookSends, err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.wg.Add(1 + o.Workers)
	go h.loop(h.events, h.fanOut)
	for range o.Workers {
		go h.loop(h.sends, h.deliver)
	}
	return h, nil
}

// close stops the work: deliveries under way give up and are naked, so
// that another node takes them at once, as are the messages pulled but not
// yet handled.
func (h *hooks) close() {
	if h == nil {
		return
	}
	h.cancel()
	h.events.Drain()
	h.sends.Drain()
	h.wg.Wait()
	h.hc.CloseIdleConnections()
}

// loop hands the messages of it to handle until it is closed.
func (h *hooks) loop(it jetstream.MessagesContext, handle func(jetstream.Msg)) {
	defer h.wg.Done()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			h.log.Debug("pull", "err", err)
			continue
		}
		if h.ctx.Err() != nil {
			_ = m.Nak()
			continue
		}
		handle(m)
	}
}

// publish queues a call's status change for the team's webhooks. It is
// called by the call's owner; a failure is logged, the call goes on.
func (h *hooks) publish(team string, e *signaling.WebhookEvent) {
	if h == nil || e == nil {
		return
	}
	if team == "" {
		team = DefaultTeam
	}
	body, _ := json.Marshal(e)
	m := nats.NewMsg(subjectHookEvent + token(team))
	m.Data = body
	m.Header.Set(hdrTeam, team)
	ctx, cancel := context.WithTimeout(context.Background(), h.reqTimeout)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, m, jetstream.WithMsgID(e.EventID)); err != nil {
		h.log.Warn("could not queue a webhook event", "event", e.EventID, "call", e.ID, "status", e.Status, "err", err)
	}
}

// fanOut turns an event into one delivery per webhook of its team.
func (h *hooks) fanOut(m jetstream.Msg) {
	team := m.Headers().Get(hdrTeam)
	eventID := m.Headers().Get(jetstream.MsgIDHeader)
	ctx, cancel := context.WithTimeout(h.ctx, h.reqTimeout)
	defer cancel()
	list, err := h.list(ctx, team)
	if err == nil {
		for _, w := range list {
			d := nats.NewMsg(subjectHookDelivery + token(team) + "." + token(w.ID))
			d.Data = m.Data()
			d.Header.Set(hdrTeam, team)
			d.Header.Set(hdrHook, w.ID)
			d.Header.Set(hdrEvent, eventID)
			if _, err = h.js.PublishMsg(ctx, d, jetstream.WithMsgID(eventID+"."+w.ID)); err != nil {
				err = fmt.Errorf("queue the delivery to %s: %w", w.ID, err)
				break
			}
		}
	}
	if err != nil {
		h.log.Warn("could not fan out a webhook event; retrying", "event", eventID, "team", team, "err", err)
		_ = m.NakWithDelay(h.opts.RetryBase)
		return
	}
	if err := m.Ack(); err != nil {
		// Redelivered: the deliveries' message ids make the repeat harmless.
		h.log.Warn("could not ack a webhook event", "event", eventID, "err", err)
	}
}

// deliver makes one attempt of one delivery.
func (h *hooks) deliver(m jetstream.Msg) {
	team, id, eventID := m.Headers().Get(hdrTeam), m.Headers().Get(hdrHook), m.Headers().Get(hdrEvent)
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	log := h.log.With("webhook", id, "team", team, "event", eventID, "attempt", attempt, "node", h.node)
	var w webhookRecord
	ctx, cancel := context.WithTimeout(h.ctx, h.reqTimeout)
	_, found, err := getJSON(ctx, h.kv, webhookKey(team, id), &w)
	cancel()
	switch {
	case err != nil:
		log.Warn("could not read the webhook; retrying", "err", err)
		_ = m.NakWithDelay(h.opts.RetryBase)
		return
	case !found:
		log.Info("webhook removed: delivery dropped")
		_ = m.Term()
		return
	}
	start := time.Now()
	code, err := h.post(w, eventID, attempt, m.Data())
	took := time.Since(start)
	// Logged before the ack, so that the log has it once the stream is
	// empty.
	switch {
	case err == nil:
		log.Info("webhook delivered", "url", w.URL, "status", code, "took", took)
		if err := m.Ack(); err != nil {
			log.Warn("could not ack a delivery: it may be repeated", "err", err)
		}
	case h.ctx.Err() != nil:
		_ = m.Nak() // shutting down: another node tries again now
	case errors.As(err, new(*refusedAddrError)):
		// Dropped at once: every attempt meets the same rules, so a
		// retry would only be refused again, and logged again.
		log.Warn("webhook delivery refused: its address is not allowed", "url", w.URL, "err", err)
		_ = m.Term()
	case attempt >= h.opts.Attempts:
		log.Error("webhook delivery given up", "url", w.URL, "status", code, "err", err)
		_ = m.Term()
	default:
		delay := h.opts.backoff(attempt)
		log.Warn("webhook delivery failed; retrying", "url", w.URL, "status", code, "err", err, "retry_in", delay)
		_ = m.NakWithDelay(delay)
	}
}

// post sends the signed body to w's URL; a 2xx answer is success.
func (h *hooks) post(w webhookRecord, eventID string, attempt int, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("server: webhook request: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-webhooks")
	req.Header.Set(signaling.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signaling.HeaderSignature, signaling.SignWebhook(w.Secret, ts, body))
	req.Header.Set(signaling.HeaderEventID, eventID)
	req.Header.Set(signaling.HeaderAttempt, strconv.Itoa(attempt))
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("server: webhook POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("server: webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// list reads team's webhooks, oldest first.
func (h *hooks) list(ctx context.Context, team string) ([]webhookRecord, error) {
	var out []webhookRecord
	_, err := scan(ctx, h.direct, bucketWebhooks, []string{token(team) + ".*"}, func(_ string, m *jetstream.RawStreamMsg) {
		var w webhookRecord
		if json.Unmarshal(m.Data, &w) == nil {
			out = append(out, w)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("server: list webhooks: %w", err)
	}
	slices.SortFunc(out, func(a, b webhookRecord) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// checkURL refuses a URL a webhook cannot or may not be sent to: one
// whose host is, or resolves only to, addresses d refuses. A name that
// does not resolve now is accepted: each connection is checked anyway.
func (d destinations) checkURL(ctx context.Context, raw string) *signaling.Error {
	bad := func(why string) *signaling.Error {
		return signaling.Errorf(signaling.InvalidParameter,
			"webhook URL %.80q %s: give an absolute http:// or https:// URL such as https://app.example.com/parley/events", raw, why)
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
		return signaling.Errorf(signaling.InvalidParameter, "webhook URL %.80q: its host %.40q is a number but not an address "+
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

// refusedRanges are the ranges webhooks do not go to unless the operator
// allows them (WebhookOptions.Allow), with what each is. Read only.
var refusedRanges = []struct {
	what   string
	prefix netip.Prefix
}{
	{"a loopback address", netip.MustParsePrefix("127.0.0.0/8")},
	{"a loopback address", netip.MustParsePrefix("::1/128")},
	{"an unspecified address", netip.MustParsePrefix("0.0.0.0/8")}, // 0.0.0.0 reaches the server itself
	{"an unspecified address", netip.MustParsePrefix("::/128")},
	{"a private address", netip.MustParsePrefix("10.0.0.0/8")},
	{"a private address", netip.MustParsePrefix("172.16.0.0/12")},
	{"a private address", netip.MustParsePrefix("192.168.0.0/16")},
	{"a private address", netip.MustParsePrefix("fc00::/7")},
	{"a shared address (carrier-grade NAT)", netip.MustParsePrefix("100.64.0.0/10")},
	{"a link-local address (cloud metadata services are there)", netip.MustParsePrefix("169.254.0.0/16")},
	{"a link-local address", netip.MustParsePrefix("fe80::/10")},
	{"a multicast address", netip.MustParsePrefix("224.0.0.0/4")},
	{"a multicast address", netip.MustParsePrefix("ff00::/8")},
	{"a reserved or broadcast address", netip.MustParsePrefix("240.0.0.0/4")},
}

// destinations decides which addresses webhooks may go to: none in
// refusedRanges nor of the server's own, unless inside an allowed range.
type destinations struct{ allow []netip.Prefix }

// refusedAddrError is the refusal of an address.
type refusedAddrError struct {
	addr netip.Addr
	what string
}

func (e *refusedAddrError) Error() string {
	return fmt.Sprintf("%s is %s, which webhooks are not sent to unless the server's operator allows it "+
		"(parley serve --webhook-allow %s, or a range around it)", e.addr, e.what, netip.PrefixFrom(e.addr, e.addr.BitLen()))
}

// check returns a *refusedAddrError when webhooks may not go to a.
func (d destinations) check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if slices.ContainsFunc(d.allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return nil
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(a) {
			return &refusedAddrError{addr: a, what: r.what}
		}
	}
	// The interfaces' addresses are read each time: they may change.
	own, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("server: webhook to %s: list the server's own addresses: %w", a, err)
	}
	for _, o := range own {
		if p, err := netip.ParsePrefix(o.String()); err == nil && p.Addr().Unmap() == a {
			return &refusedAddrError{addr: a, what: "one of the server's own addresses"}
		}
	}
	return nil
}

// control is the webhook dialer's Control: it checks the address each
// connection is about to be made to, after DNS.
func (d destinations) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("server: webhook connection to %s: %w", address, err)
	}
	return d.check(ap.Addr())
}

// handleAddWebhook registers a webhook: POST /v1/voice/webhooks {url} →
// {id, url, secret, created}, with the team's API key (or an admin's
// token).
func (s *Server) handleAddWebhook(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	var req signaling.WebhookRequest
	if e := decodeBody(r, &req); e != nil {
		s.httpError(w, r, "", e)
		return
	}
	h := s.bus.hooks
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout) // its name's lookup
	e := h.dest.checkURL(ctx, req.URL)
	cancel()
	if e != nil {
		s.httpError(w, r, "", e)
		return
	}
	list, err := h.list(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the webhooks: %v", err))
		return
	}
	if len(list) >= signaling.MaxWebhooks {
		s.httpError(w, r, "", signaling.Errorf(signaling.InvalidParameter,
			"team %s has %d webhooks, the most there may be: remove one (`parley admin webhook remove ID`)", a.team, len(list)))
		return
	}
	rec := webhookRecord{ID: newID()[:16], Team: a.team, URL: req.URL, Secret: newID() + newID(), Created: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	ctx, cancel = context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if _, err := h.kv.Create(ctx, webhookKey(a.team, rec.ID), b); err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not save the webhook: %v", err))
		return
	}
	s.log.Info("webhook added", "team", a.team, "webhook", rec.ID, "url", rec.URL, "by", a.by)
	writeJSON(w, http.StatusOK, signaling.Webhook{ID: rec.ID, URL: rec.URL, Secret: rec.Secret, Created: rec.Created})
}

// handleWebhooks lists the team's webhooks without their secrets: GET
// /v1/voice/webhooks.
func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	list, err := s.bus.hooks.list(r.Context(), a.team)
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not read the webhooks: %v", err))
		return
	}
	out := signaling.Webhooks{Webhooks: make([]signaling.Webhook, 0, len(list))}
	for _, h := range list {
		out.Webhooks = append(out.Webhooks, signaling.Webhook{ID: h.ID, URL: h.URL, Created: h.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRemoveWebhook removes a webhook: DELETE /v1/voice/webhooks/{id}.
// Deliveries of it still queued are dropped.
func (s *Server) handleRemoveWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, ok := s.admin(w, r)
	if !ok {
		return
	}
	unknown := signaling.Errorf(signaling.InvalidParameter, "team %s has no webhook %.40q: `parley admin webhook list` shows them", a.team, id)
	if !signaling.ValidID(id) {
		s.httpError(w, r, "", unknown)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	kv, key := s.bus.hooks.kv, webhookKey(a.team, id)
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.httpError(w, r, "", unknown)
		return
	}
	var rec webhookRecord
	if err == nil {
		_ = json.Unmarshal(e.Value(), &rec) // only for the answer
		err = kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	}
	if err != nil {
		s.httpError(w, r, "", signaling.Errorf(signaling.UnknownError, "could not remove webhook %s: %v", id, err))
		return
	}
	s.log.Info("webhook removed", "team", a.team, "webhook", id, "by", a.by)
	writeJSON(w, http.StatusOK, signaling.Webhook{ID: id, URL: rec.URL, Created: rec.Created})
}
