// Package call is parley's call engine: it signs in to the signaling server,
// places and answers calls, runs the call state machine on the client side,
// sets up the Pion peer connection and moves audio between the devices and
// the network. It knows nothing of the terminal UI: intents come in as
// method calls, and everything that happens goes out on the Events channel.
package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parley-voice/parley/audio"
	"github.com/parley-voice/parley/signaling"
)

// Devices opens the audio a call needs. The phone closes what it opened when
// the call ends.
type Devices interface {
	OpenSource(frameSamples int) (audio.Source, error)
	OpenSink(frameSamples int) (audio.Sink, error)
}

// Sounds are the cues the phone plays on the speaker. Any may be nil.
type Sounds struct {
	Ringtone []int16 // looped while an incoming call rings
	Ringback []int16 // looped while the other side rings
	Busy     []int16 // once, when the callee is busy or rejects the call
	Hangup   []int16 // once, when an answered call ends
	Joined   []int16 // once, over a room's audio, when someone joins it
	Left     []int16 // once, over a room's audio, when someone leaves it
}

// Config is what a Phone needs.
type Config struct {
	Server string // http://host:port of `parley serve`
	// Servers are more addresses of the same service (other nodes), tried
	// after Server and on a drop (redial).
	Servers    []string
	Token      string                // the user's token, when TokenSource is nil
	HTTPClient *http.Client          // nil: http.DefaultClient
	Devices    Devices               // required
	ICEServers []signaling.ICEServer // besides the server's own, which come with each sign-in (see CheckICEURL)
	RelayOnly  bool                  // media only through a TURN relay: hides this side's address from the other
	Frame      time.Duration         // audio frame: 20 ms (default) or 10 ms
	AutoAnswer bool                  // answer every incoming call at once (the echo service)
	// NoWaiting refuses a call that comes during one as busy, rather than
	// ringing it beside it (parley answer --auto; AutoAnswer does too).
	NoWaiting bool
	// CallWaiting, when set, turns the user's call waiting on or off on
	// the server (for every device, as parley presence --call-waiting
	// does) at sign-in: the config's call_waiting. Set once per phone, at
	// the first connection that takes it (waitingset.go).
	CallWaiting *bool
	Reconnect   bool // redial the server with backoff when the connection drops
	Sounds      Sounds
	Processing  Processing   // what is done to a microphone's audio (dsp.go); zero: nothing
	Logger      *slog.Logger // nil: discard

	// StartOffline: when no server can be reached at all (a
	// *signaling.UnreachableError: nothing answered), Start does not fail
	// but returns a phone that is not connected yet, which reports
	// Connected{Up: false} with that error and redials as Reconnect does.
	// A server that answers and refuses still fails Start.
	StartOffline bool

	// TokenSource, when set, gives a token for every (re)connect and
	// renews the live connection's before it expires (see renew.go). It
	// must return a token with more than half its life left.
	TokenSource func(ctx context.Context) (string, error)

	// KeepAlive is how often the phone pings the server: a ping not
	// answered within as long drops the connection, so that a node that
	// went away silently (its host died) is left in time for another, and
	// a connection that died with the network (a Wi-Fi that dropped, a NAT
	// that forgot it) is made again. Default DefaultKeepAlive with several
	// servers, SingleKeepAlive with one; negative: none.
	KeepAlive time.Duration

	// MediaTimeout is how long an answered call may go without receiving
	// audio before it is reconnecting (default 1 s); Grace is how long it
	// may stay reconnecting before it fails (default 30 s).
	MediaTimeout, Grace time.Duration
	// Net, when set, is the network the media uses instead of the
	// system's: tests pass one that loses and delays packets.
	Net transport.Net
}

// DefaultKeepAlive is Config.KeepAlive's default with several servers: a
// node that died silently is found within two of it, which leaves time to
// be on another node within 5 s. SingleKeepAlive is the default with one
// server, where there is nowhere else to go: a dead connection is found
// within 10 s, well inside a call's grace for signaling to come back.
const (
	DefaultKeepAlive = 1500 * time.Millisecond
	SingleKeepAlive  = 5 * time.Second
)

// addrs are the server's addresses in the order to try them.
func (c *Config) addrs() []string {
	return signaling.Addresses(append([]string{c.Server}, c.Servers...)...)
}

// dialOptions are the options of a (re)connect.
func (c *Config) dialOptions(session string, resume bool) signaling.DialOptions {
	return signaling.DialOptions{HTTPClient: c.HTTPClient, Session: session, Resume: resume,
		KeepAlive: max(c.KeepAlive, 0)}
}

func (c *Config) defaults() error {
	if c.Devices == nil {
		return errors.New("call: Config.Devices is required")
	}
	switch c.Frame {
	case 0:
		c.Frame = 20 * time.Millisecond
	case 10 * time.Millisecond, 20 * time.Millisecond:
	default:
		return fmt.Errorf("call: frame of %v: use 10ms or 20ms", c.Frame)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = SingleKeepAlive
		if len(c.addrs()) > 1 {
			c.KeepAlive = DefaultKeepAlive
		}
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = time.Second
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	return nil
}

// Phone is a signed-in client that handles one call at a time, and a
// second one beside it with call waiting (waiting.go).
//
// One goroutine (run) owns all of the phone's state. The methods Dial,
// Answer, Reject, Hangup, SetMuted, SetHeld, Swap and Watch only post an intent to it and
// never block; what happens is reported on Events. Pion's callbacks post
// into the same loop.
type Phone struct {
	cfg     Config
	log     *slog.Logger
	api     *webrtc.API
	events  chan Event
	actions chan func()
	quit    chan struct{} // closed when run takes no more actions
	done    chan struct{} // closed when the phone has stopped: every goroutine of its has returned, Events is closed
	cancel  context.CancelFunc
	ctx     context.Context // the phone's life, for its workers' requests: ends as the phone stops

	// The phone's goroutines besides run (token renewal, redials, a call's
	// last sound): run waits for them before it closes Events.
	workers sync.WaitGroup

	// waitingSet: Config.CallWaiting is set on the server (by Start or a
	// redial, which never run at once).
	waitingSet atomic.Bool

	// Owned by run.
	sig        *signaling.Client
	msgs       <-chan signaling.Message
	session    string             // this client's session id, kept across reconnects
	server     string             // the address of the last connection, to fail over from
	iceServers []webrtc.ICEServer // the server's STUN and TURN servers, from the last welcome
	cur        *active
	other      *active // a waiting call beside cur, or the call held to take it (waiting.go)
	borrowed   bool    // onCall lent cur to other for a moment (waiting.go)
	refs       int
	watched    []string
	idle       bool        // SetIdle(true): sent again after a reconnect
	hungUp     []string    // calls hung up while the server was unreachable, to tell it once it is back
	lostCall   string      // the last call another device of the user answered (presence.go: lostTheAnswer)
	room       *room       // the room the phone is in (room.go); with cur only while cur moves into it (grow.go)
	roomAPI    *webrtc.API // Pion for rooms (the audio level extension), made at the first join
}

// active is the call in progress.
type active struct {
	ev          signaling.CallEvent
	ref         string // the dial's ref, until the server names the call
	pc          *webrtc.PeerConnection
	track       *webrtc.TrackLocalStaticSample
	media       *media
	remoteReady bool                      // remote description applied and candidates may be added
	remoteQueue []webrtc.ICECandidateInit // remote candidates held until remoteReady
	localQueue  []signaling.Candidate     // local candidates held until they may be sent
	localReady  bool                      // local candidates may be sent
	answered    bool                      // this device answered (inbound)
	sending     bool                      // the source is read into the track (startSending)
	quality     *quality                  // the call's figures and warnings
	answeredAt  time.Time                 // when the server said answered
	lostAt      time.Time                 // when reconnecting began
	restartAt   time.Time                 // when an ICE restart was last asked for
	cancel      bool                      // hang up as soon as the server names the call
	muted       bool
	remoteMuted bool      // the other side is muted
	held        bool      // this side holds the call (hold.go)
	remoteHeld  bool      // the other side holds it
	unheldAt    time.Time // when media was last let flow again after a hold
	muteUnsent  bool      // muted changed while the server was unreachable: told after the resume
	verified    string    // the verification code, once emitted
	stats       *Stats    // the last second's figures, for Status
	growing     string    // the room the call grows into, while it is being made (grow.go)
	waiting     bool      // it rang beside another call here: a waiting call (waiting.go)
}

// Start signs in to the server and starts the phone. It fails with a
// *signaling.Error when the server refuses the token, and with a
// *signaling.UnreachableError when no server answers (unless
// Config.StartOffline). The phone runs until ctx ends or Close is called,
// whichever comes first: it then hangs up any call, signs out, and closes
// Events once every goroutine it started has returned. A caller that wants to end a call its own way on an interrupt
// (hang up and wait for the server to confirm) gives Start a context the
// interrupt does not end, and calls Close after.
func Start(ctx context.Context, cfg Config) (*Phone, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	api, err := newAPI(cfg.Logger, cfg.Net, cfg.RelayOnly)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.token(ctx)
	var sig *signaling.Client
	if err == nil {
		sig, err = signaling.DialAny(ctx, cfg.addrs(), tok, cfg.dialOptions("", false))
	}
	var down *signaling.UnreachableError
	if err != nil && !(cfg.StartOffline && errors.As(err, &down)) {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Phone{
		cfg:     cfg,
		log:     cfg.Logger,
		api:     api,
		events:  make(chan Event, 256),
		actions: make(chan func(), 64),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		cancel:  cancel,
		ctx:     ctx,
	}
	if sig != nil {
		p.setCallWaiting(ctx, sig.Server) // waitingset.go
		p.connected(sig)
		p.keepFresh(ctx, sig, tok)
	} else {
		p.log.Warn("no server could be reached: starting disconnected", "err", err)
		p.emit(Connected{Up: false, Err: err})
		p.spawn(func() { p.redial(ctx, "", "") })
	}
	go p.run(ctx)
	return p, nil
}

// Events reports everything that happens, in order. It is closed when the
// phone stops. Levels and Stats are dropped when the reader falls behind;
// other events are not.
func (p *Phone) Events() <-chan Event { return p.events }

// User is the signed-in user's id.
func (p *Phone) User() string {
	ch := make(chan string, 1)
	if !p.post(func() {
		if p.sig != nil {
			ch <- p.sig.User
		} else {
			ch <- ""
		}
	}) {
		return ""
	}
	select {
	case u := <-ch:
		return u
	case <-p.done: // stopped before it took f
		return ""
	}
}

// Dial places a call to user.
func (p *Phone) Dial(user string) { p.post(func() { p.dial(user) }) }

// Answer answers the ringing incoming call.
func (p *Phone) Answer() { p.post(p.answer) }

// Reject declines the ringing incoming call.
func (p *Phone) Reject() { p.post(func() { p.reject("") }) }

// RejectLeaveMessage declines the ringing incoming call, asking the caller
// to leave a voice message (signaling.ReasonLeaveMessage).
func (p *Phone) RejectLeaveMessage() { p.post(func() { p.reject(signaling.ReasonLeaveMessage) }) }

// Hangup ends the call, or cancels an outgoing call that is not answered.
func (p *Phone) Hangup() { p.post(p.hangup) }

// SetMuted mutes or unmutes the microphone; the other side is told.
func (p *Phone) SetMuted(muted bool) { p.post(func() { p.setMuted(muted) }) }

// Watch asks for the presence of users; Presence events follow now and on
// every change.
func (p *Phone) Watch(users []string) {
	users = append([]string(nil), users...)
	p.post(func() {
		p.watched = users
		p.send(signaling.Message{Type: signaling.TypeWatch, Users: users})
	})
}

// Close hangs up any call, signs out and waits until the phone has stopped
// (as when Start's context ends).
func (p *Phone) Close() error {
	p.cancel()
	<-p.done
	return nil
}

// post hands f to the loop; false when the phone is stopping. The loop may
// still stop before it takes f.
func (p *Phone) post(f func()) bool {
	select {
	case <-p.quit: // before the queue, which may have room
		return false
	default:
	}
	select {
	case p.actions <- f:
		return true
	case <-p.quit:
		return false
	}
}

// spawn runs f in a goroutine of the phone's, which run waits for before
// it closes Events.
func (p *Phone) spawn(f func()) {
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		f()
	}()
}

// run is the phone's loop: it owns the phone's state until ctx ends, and
// then stops the phone.
func (p *Phone) run(ctx context.Context) {
	p.loop(ctx)
	p.shutdown()
	close(p.quit)
	p.workers.Wait() // they end with ctx, and a call's last sound within its length
	close(p.events)
	close(p.done)
}

func (p *Phone) loop(ctx context.Context) {
	levels := time.NewTicker(100 * time.Millisecond)
	defer levels.Stop()
	tick := 0
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-p.actions:
			f()
		case m, ok := <-p.msgs:
			if !ok {
				p.disconnected(ctx)
				continue
			}
			p.handle(m)
		case <-levels.C:
			if p.room != nil {
				p.roomTick()
			}
			if p.cur == nil || p.cur.media == nil {
				continue
			}
			p.watchMedia()
			if p.cur == nil {
				continue
			}
			p.audioTick() // levels, who speaks, a silent microphone, failed devices (dsp.go)
			if tick++; tick%10 == 0 && (p.cur.ev.Status == signaling.Answered ||
				p.cur.ev.Status == signaling.Reconnecting) {
				m := p.cur.media
				if st, warnings, ok := p.cur.quality.sample(p.cur.ev.ID, p.cur.pc, &m.played); ok {
					st.SendLoss, st.SendBitrate, st.Sent = m.sendLoss.Load(), m.sendBitrate.Load(), m.sent.Load()
					p.cur.stats = &st
					p.emitLossy(st)
					for _, w := range warnings {
						p.emit(w)
					}
				}
			}
		}
	}
}

// emit reports an event; it waits for the reader, since these matter.
func (p *Phone) emit(ev Event) {
	select {
	case p.events <- ev:
	case <-time.After(5 * time.Second):
		p.log.Warn("event dropped: nobody reads the phone's events", "event", fmt.Sprintf("%T", ev))
	}
}

// emitLossy reports an event unless the reader is behind.
func (p *Phone) emitLossy(ev Event) {
	select {
	case p.events <- ev:
	default:
	}
}

func (p *Phone) fail(callID string, err error) {
	e := signaling.AsError(err)
	p.log.Warn("call refused", "call", callID, "code", e.Code, "err", e.Message)
	p.emit(Failure{CallID: callID, Err: e})
}

func (p *Phone) send(m signaling.Message) {
	if p.sig == nil {
		return
	}
	m.Reason = signaling.FitReason(m.Reason) // else the server refuses the fail, and the call goes on
	if err := p.sig.Send(m); err != nil {
		p.log.Warn("send to server", "type", m.Type, "err", err)
	}
}

// handle applies one message from the server; one about the other call
// (waiting or held) is applied to it as to the current one (onCall).
func (p *Phone) handle(m signaling.Message) {
	id := m.CallID
	if m.Event != nil {
		id = m.Event.ID
	}
	if a := p.callOf(id); a != nil && a == p.other {
		p.onCall(a, func() { p.handleCurrent(m) })
		return
	}
	p.handleCurrent(m)
}

func (p *Phone) handleCurrent(m signaling.Message) {
	switch m.Type {
	case signaling.TypeCall:
		if m.Event == nil {
			return
		}
		if m.Event.Direction == signaling.Outbound {
			p.placed(*m.Event, m.Ref)
		} else {
			p.incoming(*m.Event, m.SDP)
		}
	case signaling.TypeCallStatusChanged:
		if m.Event != nil {
			if p.answeredElsewhere(m) {
				p.cur.answered = false // so statusChanged ends it here
				p.lostCall = m.Event.ID
			}
			p.statusChanged(*m.Event, m.SDP)
		}
	case signaling.TypeCandidate:
		if p.cur != nil && m.CallID == p.cur.ev.ID && m.Candidate != nil {
			p.remoteCandidate(*m.Candidate)
		}
	case signaling.TypeMute:
		if a := p.cur; a != nil && m.CallID == a.ev.ID && m.Muted != nil && *m.Muted != a.remoteMuted {
			a.remoteMuted = *m.Muted // told again after a resume
			p.emit(Muted{CallID: m.CallID, Muted: *m.Muted})
		}
	case signaling.TypeHold:
		p.peerHeld(m) // hold.go
	case signaling.TypeRenegotiate:
		if p.cur != nil && m.CallID == p.cur.ev.ID {
			p.renegotiate(m)
		}
	case signaling.TypeMoved:
		p.peerMoved(m.CallID) // grow.go
	case signaling.TypePresence:
		if m.Online != nil {
			p.emit(presence(m))
		}
	case signaling.TypeRoomEvent:
		if m.RoomEvent != nil {
			p.roomEvent(m)
		}
	case signaling.TypeVoiceMessage:
		if m.VoiceMessage != nil {
			p.emit(VoiceMessage{*m.VoiceMessage})
		}
	case signaling.TypeError:
		p.refused(m)
	case signaling.TypeShutdown:
		p.log.Info("server is shutting down", "reason", m.Reason)
	case signaling.TypeText:
		if m.Text != nil {
			p.emit(TextReceived{Text: *m.Text}) // texts.go
		}
	}
}

func (p *Phone) refused(m signaling.Message) {
	if m.Error == nil || p.refreshRefused(m) || p.lostTheAnswer(m) || p.roomRefused(m) {
		return
	}
	if m.CallID != "" && (p.cur == nil || p.cur.ev.ID != m.CallID) || crosses(m) {
		// About a call that has ended here too, or a message that crossed
		// the end of its call: nothing to tell.
		p.log.Info("refusal about an ended call", "call", m.CallID, "code", m.Error.Code, "err", m.Error.Message)
		return
	}
	if p.cur != nil && p.cur.ev.ID == "" && m.Ref != "" && m.Ref == p.cur.ref {
		// The dial itself was refused: there is no call.
		if m.Error.Code == signaling.AlreadyBusyCall {
			p.teardown(p.cfg.Sounds.Busy)
		} else {
			p.teardown()
		}
	}
	p.fail(m.CallID, m.Error)
}
